// Reduction along the second-to-last dimension: engine.Engine.ReduceCols,
// x folded to [G, M, N] reduced over M into [G, 1, N]. The bias gradient of
// a layer is ReduceCols(Sum, dbias, dy). CPU reference: engine/cpu's
// ReduceCols.
#include "common.cuh"

// reduce_cols_f32 sets dst[g·cols + j] = op over m < rows of
// x[(g·rows + m)·cols + j], op of code op (engine.ReduceOp: sum, mean,
// max), accumulating in double; the empty cases are as in reduce_rows_f32.
//
// Each block reduces `width` adjacent columns of one group: its threads
// form a (blockDim.x/width) × width tile that walks down the rows, the
// threads of a tile row reading adjacent columns (coalesced), and the
// partial results meet in a shared-memory tree.
//
// Launch: block (bx) with bx a power of two, 32 ≤ bx ≤ 1024 (the engine
// uses 256); width a power of two ≤ 32 and ≤ bx: the engine passes the
// smallest power of two ≥ cols, capped at 32, so that narrow tensors keep
// every thread busy; grid (G·⌈cols/width⌉), block b reducing group
// b / ⌈cols/width⌉. No dynamic shared memory. The result for a given
// launch shape is deterministic.
//
// One block per column block of a group limits the parallelism of a tall,
// narrow x (M ≫ N): a split over M with a second pass would fix it if a
// profile ever shows it.
extern "C" __global__ void reduce_cols_f32(float* dst, const float* x, int rows, int cols, int width, int op)
{
    __shared__ double partial[1024];
    int col_blocks = (cols + width - 1) / width;
    long long g = blockIdx.x / col_blocks;
    int tx = threadIdx.x % width, ty = threadIdx.x / width, height = blockDim.x / width;
    int col = blockIdx.x % col_blocks * width + tx;

    double acc = reduce_identity(op);
    if (col < cols) {
        const float* xg = x + g * rows * cols + col;
        for (int m = ty; m < rows; m += height) acc = reduce_combine(op, acc, xg[(long long)m * cols]);
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = height / 2; half > 0; half /= 2) {
        if (ty < half) partial[threadIdx.x] = reduce_combine(op, partial[threadIdx.x], partial[threadIdx.x + half * width]);
        __syncthreads();
    }
    if (ty == 0 && col < cols) dst[g * cols + col] = reduce_result(op, partial[tx], rows);
}
