// Integer draws from the Philox stream: engine.Engine.RandInt, reproducing
// engine.IntAt bit for bit. CPU reference: engine/cpu's RandInt.
#include "common.cuh"

// rand_int_i32 sets dst[i] for i < n to ⌊w·range/2³²⌋ (Lemire's
// multiply-shift), w word i%4 of the Philox block at counter start + i/4
// under seed: an integer in [0, range), 0 < range ≤ 2³¹. The engine passes
// rng.Take(n) as start.
// Launch: one thread per block of four outputs: any 1-D grid and block
// (grid-stride over ⌈n/4⌉ blocks), no dynamic shared memory.
extern "C" __global__ void rand_int_i32(int* dst, long long n, unsigned long long seed, unsigned long long start,
                                        unsigned range)
{
    for (long long b = thread_index(); b < (n + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < n; k++)
            dst[4 * b + k] = (int)(((unsigned long long)w[k] * range) >> 32);
    }
}
