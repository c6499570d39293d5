// The soft update of a target network, dst = (1−tau)·dst + tau·src:
// engine.Engine.Polyak. CPU reference: engine/cpu's Polyak, which this
// matches bit for bit: the same double expression, each product rounded on
// its own (mul_rn) as Go rounds it.
#include "common.cuh"

// polyak_f32 computes dst[i] = (1−tau)·dst[i] + tau·src[i] for i < n, in
// double. dst and src do not overlap.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void polyak_f32(float* dst, const float* src, long long n, float tau)
{
    double t = tau, keep = 1.0 - t;
    for (long long i = thread_index(); i < n; i += thread_count())
        dst[i] = (float)(mul_rn(keep, dst[i]) + mul_rn(t, src[i]));
}
