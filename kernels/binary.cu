// Elementwise functions of two tensors with b broadcast over a:
// engine.Engine.Binary. CPU reference: engine/cpu's Binary.
#include "common.cuh"

__device__ inline float binary(int op, float a, float b)
{
    switch (op) {
    case BINARY_ADD: return a + b;
    case BINARY_SUB: return a - b;
    case BINARY_MUL: return a * b;
    case BINARY_DIV: return a / b;  // IEEE division (-prec-div=true)
    case BINARY_MIN: return go_min(a, b);
    case BINARY_MAX: return go_max(a, b);
    case BINARY_GE: return a >= b ? 1.0f : 0.0f;
    }
    return a;
}

// binary_f32 computes dst[i] = op(a[i], b[bi]) for i < n, op of code op
// (engine.BinaryOp: add, sub, mul, div, min, max, ge). With a folded to
// [G, M, N] (rows = M, cols = N; n = G·M·N), bi follows the broadcast mode
// (engine.Broadcast):
//   BROADCAST_NONE (0):      bi = i; b has n elements, rows and cols unused;
//   BROADCAST_GROUP_ROW (1): bi = g·N + j for element (g, m, j); b is [G, 1, N];
//   BROADCAST_ROW (2):       bi = j; b is one row of N.
// dst may be a or b.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void binary_f32(float* dst, const float* a, const float* b, long long n, int op,
                                      int mode, int rows, int cols)
{
    for (long long i = thread_index(); i < n; i += thread_count()) {
        long long bi = i;
        if (mode == BROADCAST_GROUP_ROW) bi = i / ((long long)rows * cols) * cols + i % cols;
        else if (mode == BROADCAST_ROW) bi = i % cols;
        dst[i] = binary(op, a[i], b[bi]);
    }
}
