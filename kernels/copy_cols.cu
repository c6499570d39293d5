// Copies of a block of columns: engine.Engine.CopyCols, which concatenates
// and splits feature blocks. It moves 32-bit words without arithmetic, so
// it copies Int32 data exactly too. CPU reference: engine/cpu's CopyCols.
#include "common.cuh"

// copy_cols_f32 sets dst[r·dst_width + dst_col + j] =
// src[r·src_width + src_col + j] for r < rows, j < cols. dst and src do not
// overlap.
// Launch: any 1-D grid and block (grid-stride over rows·cols), no dynamic
// shared memory.
extern "C" __global__ void copy_cols_f32(float* dst, const float* src, long long rows, int cols, int dst_width,
                                         int dst_col, int src_width, int src_col)
{
    for (long long t = thread_index(); t < rows * cols; t += thread_count()) {
        long long r = t / cols, j = t % cols;
        dst[r * dst_width + dst_col + j] = src[r * src_width + src_col + j];
    }
}
