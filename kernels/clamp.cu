// dst = min(max(x, lo), hi): engine.Engine.Clamp. CPU reference:
// engine/cpu's Clamp, which this matches exactly (NaN stays NaN).
#include "common.cuh"

// clamp_f32 computes dst[i] = min(max(x[i], lo), hi) for i < n. dst may be x.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void clamp_f32(float* dst, const float* x, long long n, float lo, float hi)
{
    for (long long i = thread_index(); i < n; i += thread_count()) dst[i] = go_min(go_max(x[i], lo), hi);
}
