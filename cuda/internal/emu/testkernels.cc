//go:build cudaemu

// testkernels.cc: kernels for the emulator's own tests (emu_test.go), one
// per feature of cuda_emu.h. They live here rather than in a _test file
// because cgo is not allowed in tests; their names start with emutest_ and
// emu.Kernels leaves them out.
#include "runtime.h"

// emutest_block_sum writes the sum of each block's blockDim.x elements of x
// (0 past n) to out[blockIdx.x], by the up-sweep of a Blelloch scan in
// static shared memory: at step s, thread t with t+1 a multiple of 2s adds
// the partial sum s places to its left. blockDim.x is a power of two.
extern "C" __global__ void emutest_block_sum(float* out, const float* x, int n) {
  __shared__ float buf[1024];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  buf[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int s = 1; s < (int)blockDim.x; s *= 2) {
    if ((t + 1) % (2 * s) == 0) buf[t] += buf[t - s];
    __syncthreads();
  }
  if (t == (int)blockDim.x - 1) out[blockIdx.x] = buf[t];
}

// emutest_block_sum_racy is emutest_block_sum without the barrier in the
// loop: a thread may read buf[t - s] before its owner has added to it. In
// forward order each owner has finished by then, so the sum comes out right;
// in any other order it does not. A GPU gives either, depending on timing.
extern "C" __global__ void emutest_block_sum_racy(float* out, const float* x, int n) {
  __shared__ float buf[1024];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  buf[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int s = 1; s < (int)blockDim.x; s *= 2)
    if ((t + 1) % (2 * s) == 0) buf[t] += buf[t - s];
  if (t == (int)blockDim.x - 1) out[blockIdx.x] = buf[t];
}

// emutest_warp_sum writes each block's sum of x to out[blockIdx.x]: a
// __shfl_down_sync tree in each warp, the warp sums through dynamic shared
// memory (one float per warp), then a __shfl_xor_sync butterfly in warp 0.
// blockDim.x is a multiple of 32.
extern "C" __global__ void emutest_warp_sum(float* out, const float* x, int n) {
  extern __shared__ float smem[];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t, warps = blockDim.x / 32;
  float v = i < n ? x[i] : 0.0f;
  for (int d = 16; d > 0; d /= 2) v += __shfl_down_sync(0xffffffffu, v, d);
  if (t % 32 == 0) smem[t / 32] = v;
  __syncthreads();
  if (t < 32) {
    v = t < warps ? smem[t] : 0.0f;
    for (int d = 16; d > 0; d /= 2) v += __shfl_xor_sync(0xffffffffu, v, d);
    if (t == 0) out[blockIdx.x] = v;
  }
}

// emutest_shuffles writes, for each thread of one block, out[6t..6t+5]:
// __shfl_sync from lane 3 of its 8-lane segment, __shfl_up_sync by 1 and
// __shfl_down_sync by 2 within 16-lane segments, __shfl_xor_sync with 5,
// __reduce_add_sync and __reduce_max_sync over the warp, each of the value
// 100*t (an int).
extern "C" __global__ void emutest_shuffles(int* out) {
  int t = threadIdx.x, v = 100 * t;
  int* o = out + 6 * t;
  o[0] = __shfl_sync(0xffffffffu, v, 3, 8);
  o[1] = __shfl_up_sync(0xffffffffu, v, 1, 16);
  o[2] = __shfl_down_sync(0xffffffffu, v, 2, 16);
  o[3] = __shfl_xor_sync(0xffffffffu, v, 5);
  o[4] = __reduce_add_sync(0xffffffffu, v);
  o[5] = __reduce_max_sync(0xffffffffu, v);
}

// emutest_ballot writes, for each warp w of the grid (numbered block by
// block, ⌈blockDim.x/32⌉ per block), out[3w..3w+2] = __ballot_sync,
// __any_sync and __all_sync of x[i] > 0, with x one float per thread of the
// grid. blockDim.x need not be a multiple of 32.
extern "C" __global__ void emutest_ballot(unsigned* out, const float* x) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int w = blockIdx.x * ((blockDim.x + 31) / 32) + threadIdx.x / 32;
  int p = x[i] > 0.0f;
  unsigned b = __ballot_sync(0xffffffffu, p);
  int any = __any_sync(0xffffffffu, p), all = __all_sync(0xffffffffu, p);
  if (threadIdx.x % 32 == 0) {
    out[3 * w] = b;
    out[3 * w + 1] = any;
    out[3 * w + 2] = all;
  }
}

// emutest_atomics accumulates over all i < n across the grid: sum += x[i]
// (float); in ints: [0] += 1, [1] = max of (int)x[i], [2] counts the
// threads whose atomicCAS(&ints[3], 0, i+1) found 0 (one: the first to run),
// [4] is atomicExch'd to i (ends at the last to run); umin = min of i.
extern "C" __global__ void emutest_atomics(float* sum, int* ints, unsigned* umin, const float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(sum, x[i]);
  atomicAdd(&ints[0], 1);
  atomicMax(&ints[1], (int)x[i]);
  if (atomicCAS(&ints[3], 0, i + 1) == 0) atomicAdd(&ints[2], 1);
  atomicExch(&ints[4], i);
  atomicMin(umin, (unsigned)i);
}

// emutest_dynamic_shared writes, for each thread t of block b, out[2(b·T+t)]
// = the bits of smem[t] before anyone wrote it (the runtime's poison) and
// out[2(b·T+t)+1] = the value thread T-1-t stored after a barrier.
extern "C" __global__ void emutest_dynamic_shared(unsigned* out) {
  extern __shared__ float smem[];
  unsigned t = threadIdx.x, T = blockDim.x, g = blockIdx.x * T + t;
  out[2 * g] = __float_as_uint(smem[t]);
  __syncthreads();
  smem[t] = (float)(1000 * blockIdx.x + t);
  __syncthreads();
  out[2 * g + 1] = (unsigned)smem[T - 1 - t];
}

// emutest_coords writes, for every thread of a 3-D launch, 12 ints at its
// global linear index: threadIdx, blockIdx, blockDim, gridDim.
extern "C" __global__ void emutest_coords(int* out) {
  long long block = ((long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  long long thread = ((long long)threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  int* o = out + 12 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
  const unsigned v[12] = {threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z,
                          blockDim.x,  blockDim.y,  blockDim.z,  gridDim.x,  gridDim.y,  gridDim.z};
  for (int k = 0; k < 12; k++) o[k] = (int)v[k];
}

// emutest_params writes every parameter back as 64 bits, so that a test can
// check the unpacking of each ABI type.
extern "C" __global__ void emutest_params(unsigned long long* out, float f, int i, unsigned u, long long l,
                                          unsigned long long ul, const float* p, int* q) {
  if (threadIdx.x != 0) return;
  out[0] = __float_as_uint(f);
  out[1] = (unsigned long long)(long long)i;
  out[2] = u;
  out[3] = (unsigned long long)l;
  out[4] = ul;
  out[5] = (unsigned long long)(uintptr_t)p;
  out[6] = (unsigned long long)(uintptr_t)q;
  out[7] = (unsigned long long)(long long)q[0];
  out[8] = __float_as_uint(p[0]);
}

// emutest_syncthreads_count writes __syncthreads_count, _and and _or of
// t % 3 == 0 for thread 0, with threads t >= exit_at exited first.
extern "C" __global__ void emutest_syncthreads_count(int* out, int exit_at) {
  int t = threadIdx.x;
  if (t >= exit_at) return;
  int c = __syncthreads_count(t % 3 == 0);
  int a = __syncthreads_and(t % 3 == 0);
  int o = __syncthreads_or(t % 3 == 0);
  int all = __syncthreads_and(1);
  if (t == 0) out[0] = c, out[1] = a, out[2] = o, out[3] = all;
}

// emutest_diverged deadlocks a warp: lanes 0..15 wait at __syncthreads
// while lanes 16..31 wait at a full-warp shuffle for them.
extern "C" __global__ void emutest_diverged(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  else out[threadIdx.x] = __shfl_sync(0xffffffffu, (int)threadIdx.x, 0);
}

// emutest_mismatched has the lanes of a warp meet at different warp ops.
extern "C" __global__ void emutest_mismatched(unsigned* out) {
  if (threadIdx.x % 2) out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
  else out[threadIdx.x] = __shfl_sync(0xffffffffu, 7u, 0);
}

// emutest_trap traps in thread 5 of block 1.
extern "C" __global__ void emutest_trap(int* out) {
  if (blockIdx.x == 1 && threadIdx.x == 5) __trap();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

// emutest_deep_stack writes bytes bytes of stack (alloca) in every thread:
// a kernel that comes near the end of its emulated stack.
extern "C" __global__ void emutest_deep_stack(int* out, int bytes) {
  volatile char* b = static_cast<volatile char*>(__builtin_alloca(bytes));
  for (int i = 0; i < bytes; i++) b[i] = (char)i;
  out[threadIdx.x] = b[bytes / 2];
}

const emu::KernelEntry imago_emu_test_kernels[] = {
    EMU_KERNEL(emutest_block_sum)
    EMU_KERNEL(emutest_block_sum_racy)
    EMU_KERNEL(emutest_warp_sum)
    EMU_KERNEL(emutest_shuffles)
    EMU_KERNEL(emutest_ballot)
    EMU_KERNEL(emutest_atomics)
    EMU_KERNEL(emutest_dynamic_shared)
    EMU_KERNEL(emutest_coords)
    EMU_KERNEL(emutest_params)
    EMU_KERNEL(emutest_syncthreads_count)
    EMU_KERNEL(emutest_diverged)
    EMU_KERNEL(emutest_mismatched)
    EMU_KERNEL(emutest_trap)
    EMU_KERNEL(emutest_deep_stack)
    {nullptr, nullptr, nullptr},
};
