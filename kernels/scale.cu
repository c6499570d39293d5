// dst = alpha·x + beta: engine.Engine.Scale. CPU reference: engine/cpu's
// Scale, which this matches bit for bit: the product of two floats is
// exact in double, so the double sum is rounded once, fused or not.
#include "common.cuh"

// scale_f32 computes dst[i] = alpha·x[i] + beta for i < n. dst may be x.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void scale_f32(float* dst, const float* x, long long n, float alpha, float beta)
{
    for (long long i = thread_index(); i < n; i += thread_count())
        dst[i] = (float)((double)alpha * x[i] + beta);
}
