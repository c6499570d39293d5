// Elementwise functions of one tensor: engine.Engine.Unary. CPU reference:
// engine/cpu's unary.
#include "common.cuh"

__device__ inline float unary(int op, float x)
{
    switch (op) {
    case UNARY_EXP: return expf(x);
    case UNARY_LOG: return logf(x);    // −Inf at 0, NaN below
    case UNARY_SQRT: return sqrtf(x);  // correctly rounded (-prec-sqrt=true); NaN below 0
    case UNARY_SQUARE: return x * x;
    case UNARY_ABS: return fabsf(x);
    }
    return x;
}

// unary_f32 computes dst[i] = op(x[i]) for i < n, op of code op
// (engine.UnaryOp: exp, log, sqrt, square, abs). dst may be x.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void unary_f32(float* dst, const float* x, long long n, int op)
{
    for (long long i = thread_index(); i < n; i += thread_count()) dst[i] = unary(op, x[i]);
}
