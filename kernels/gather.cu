// Row copies through an index: engine.Engine.Gather and Scatter, the
// minibatch sampling of replay buffers and its inverse. They move 32-bit
// words without arithmetic, so they copy Int32 data exactly too. CPU
// reference: engine/cpu's Gather and Scatter.
#include "common.cuh"

// gather_f32 sets dst[i·len + j] = src[idx[i]·len + j] for i < count,
// j < len: src is read as rows of len elements. A row whose index lies
// outside [0, rows) is left unwritten (the engine's "undefined"), rather
// than read out of bounds.
// Launch: any 1-D grid and block (grid-stride over count·len), no dynamic
// shared memory.
extern "C" __global__ void gather_f32(float* dst, const float* src, const int* idx, long long count, long long rows,
                                      long long len)
{
    for (long long t = thread_index(); t < count * len; t += thread_count()) {
        long long i = t / len, j = t % len, r = idx[i];
        if (r >= 0 && r < rows) dst[t] = src[r * len + j];
    }
}

// scatter_f32 sets dst[idx[i]·len + j] = src[i·len + j] for i < count,
// j < len: dst is read as rows of len elements. With duplicate indices,
// which write lands is unspecified; indices outside [0, rows) are skipped.
// Launch: any 1-D grid and block (grid-stride over count·len), no dynamic
// shared memory.
extern "C" __global__ void scatter_f32(float* dst, const float* src, const int* idx, long long count, long long rows,
                                       long long len)
{
    for (long long t = thread_index(); t < count * len; t += thread_count()) {
        long long i = t / len, j = t % len, r = idx[i];
        if (r >= 0 && r < rows) dst[r * len + j] = src[t];
    }
}
