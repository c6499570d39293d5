// Normal draws from the Philox stream: engine.Engine.RandNormal,
// reproducing engine.NormalAt bit for bit. CPU reference: engine/cpu's
// RandNormal. The device math, Go's math.Log, math.Cos and math.Sin
// repeated operation for operation, and why, is in normal.cuh.
#include "normal.cuh"

// rand_normal_f32 sets dst[i] for i < n to element i of a fill from
// counter start under seed. Each Philox block (w0, w1, w2, w3) at counter
// start + b gives elements 4b..4b+3: with u1 = (w0+1)·2⁻³² ∈ (0, 1],
// u2 = w1·2⁻³² and r = √(−2 ln u1), element 4b is mean + std·r·cos(2πu2)
// and 4b+1 is mean + std·r·sin(2πu2), in double, rounded to float; (w2, w3)
// give 4b+2 and 4b+3 alike. The engine passes rng.Take(n) as start.
// Launch: one thread per block of four outputs: any 1-D grid and block
// (grid-stride over ⌈n/4⌉ blocks), no dynamic shared memory.
extern "C" __global__ void rand_normal_f32(float* dst, long long n, unsigned long long seed, unsigned long long start,
                                           float mean, float std)
{
    for (long long b = thread_index(); b < (n + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < n; k += 2) {
            float z[2];
            normal_pair(w[k], w[k + 1], mean, std, z);
            dst[4 * b + k] = z[0];
            if (4 * b + k + 1 < n) dst[4 * b + k + 1] = z[1];
        }
    }
}
