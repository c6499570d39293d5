// dst = alpha·x + beta·dst: engine.Engine.Axpby, for gradient accumulation
// and weight decay. CPU reference: engine/cpu's Axpby, which this matches
// bit for bit (both products are exact in double, the sum rounded once).
#include "common.cuh"

// axpby_f32 computes dst[i] = alpha·x[i] + beta·dst[i] for i < n. As in
// BLAS, dst is not read when beta is 0, so NaNs in it do not propagate.
// dst and x do not overlap.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void axpby_f32(float* dst, const float* x, long long n, float alpha, float beta)
{
    for (long long i = thread_index(); i < n; i += thread_count()) {
        double v = (double)alpha * x[i];
        if (beta != 0.0f) v += (double)beta * dst[i];
        dst[i] = (float)v;
    }
}
