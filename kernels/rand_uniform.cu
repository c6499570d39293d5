// Uniform draws from the Philox stream: engine.Engine.RandUniform,
// reproducing engine.UniformAt bit for bit. CPU reference: engine/cpu's
// RandUniform.
#include "common.cuh"

// rand_uniform_f32 sets dst[i] for i < n to element i of a fill from
// counter start under seed: with w word i%4 of the Philox block at counter
// start + i/4, u = ⌊w/2⁸⌋·2⁻²⁴ and dst[i] = lo + (hi−lo)·u in double,
// rounded to float, and replaced by the largest float below hi where the
// rounding reaches hi (engine.UniformWord). The engine passes rng.Take(n) as
// start.
// Launch: one thread per block of four outputs: any 1-D grid and block
// (grid-stride over ⌈n/4⌉ blocks), no dynamic shared memory.
extern "C" __global__ void rand_uniform_f32(float* dst, long long n, unsigned long long seed, unsigned long long start,
                                            float lo, float hi)
{
    double width = (double)hi - lo;
    for (long long b = thread_index(); b < (n + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < n; k++) {
            double u = (w[k] >> 8) * 5.9604644775390625e-08;  // 2⁻²⁴, exactly
            float v = (float)(lo + mul_rn(width, u));
            if (v >= hi && lo < hi) v = nextafterf(hi, lo);
            dst[4 * b + k] = v;
        }
    }
}
