// Reduction along the last dimension: engine.Engine.ReduceRows, x folded
// to [G, M, N] read as G·M rows of N. CPU reference: engine/cpu's
// ReduceRows.
#include "common.cuh"

// reduce_rows_f32 sets dst[r] = op over j < cols of x[r·cols + j] for
// r < rows, op of code op (engine.ReduceOp: sum, mean, max), accumulating
// in double. The maximum propagates NaN; over no columns the sum is 0, the
// mean NaN and the maximum −Inf.
//
// Launch: block (bx, by) with bx a multiple of 32 and bx·by ≤ 1024: the bx
// threads of one y share a row, so a block reduces by rows; grid
// (⌈rows/by⌉). No dynamic shared memory. The engine picks bx = 32·⌈N/32⌉
// capped at 1024 and by = max(1, 256/bx), so that short rows do not leave
// most threads idle. The result for a given block shape is deterministic.
extern "C" __global__ void reduce_rows_f32(float* dst, const float* x, long long rows, int cols, int op)
{
    __shared__ double warp_acc[32];  // one per warp of the block
    long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    double acc = reduce_identity(op);
    if (row < rows) {
        const float* xr = x + row * cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) acc = reduce_combine(op, acc, xr[j]);
    }
    acc = warp_reduce(op, acc);

    // Combine the warps that share a row. Every thread reaches the
    // barrier, including those past the last row.
    int warps = blockDim.x / 32;
    if (warps > 1) {
        int lane = threadIdx.x % 32, first = threadIdx.y * warps;
        if (lane == 0) warp_acc[first + threadIdx.x / 32] = acc;
        __syncthreads();
        acc = lane < warps ? warp_acc[first + lane] : reduce_identity(op);
        acc = warp_reduce(op, acc);
    }
    if (row < rows && threadIdx.x == 0) dst[row] = reduce_result(op, acc, cols);
}
