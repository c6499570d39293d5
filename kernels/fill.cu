// fill_f32 sets a buffer to one value: engine.Engine.Fill, and the zeroing
// of fresh allocations (New), which serves Int32 tensors too since 0.0f is
// all zero bits. CPU reference: engine/cpu's Fill.
#include "common.cuh"

// fill_f32 sets dst[i] = v for i < n.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void fill_f32(float* dst, long long n, float v)
{
    for (long long i = thread_index(); i < n; i += thread_count()) dst[i] = v;
}
