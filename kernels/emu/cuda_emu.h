//go:build cudaemu

// cuda_emu.h: what imago's kernels use of CUDA C, for compiling the same
// kernel sources as C++ for the CPU (build tag cudaemu). The runtime that
// launches them is cuda/internal/emu; this header only declares what the
// kernel text needs and leaves scheduling to it.
//
// The model: each block runs on one OS thread, and each of its threads is a
// fiber with its own small stack. A fiber runs without interruption until it
// reaches __syncthreads, a warp-synchronous op (__shfl_*_sync, __ballot_sync,
// __syncwarp, ...) or its end; then the runtime runs the others, in the order
// chosen for the launch (forward, reverse or random). Two consequences shape
// this file:
//   - shared memory is thread_local storage: one block at a time per OS
//     thread, so a block's fibers share it and other launches do not;
//   - between two barriers a thread runs alone, so atomics are plain
//     read-modify-writes.
//
// Dynamic shared memory must be declared as CUDA code usually spells it,
//     extern __shared__ float smem[];
// with exactly that name and element type: on the host an extern array is
// bound by its name, and this header defines the one named smem. A kernel
// that wants another element type casts (reinterpret_cast<int*>(smem)), as
// it would when it keeps two arrays in dynamic shared memory on a GPU.
#ifndef IMAGO_CUDA_EMU_H
#define IMAGO_CUDA_EMU_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
#include <type_traits>

// No contraction of a*b + c into a fused multiply-add (g++ contracts by
// default where the target has FMA, as on arm64): the kernels call fmaf
// where they want one, and some (the random fills, polyak) must repeat Go's
// unfused float64 arithmetic bit for bit. cgo does not accept
// -ffp-contract=off as a flag, hence the pragmas.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Kernels may test for the emulator; __CUDA_ARCH__ stays undefined so that
// no inline PTX is compiled here.
#define IMAGO_CUDA_EMU 1

// ---- Qualifiers ------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
// A block-scope thread_local is static: one copy per OS thread, which is one
// copy per running block. `extern __shared__` becomes an extern thread_local
// and names the smem defined below.
#define __shared__ thread_local

// ---- Vector types and launch geometry ---------------------------------------

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// The alignments are CUDA's (vector_types.h), so that layouts agree.
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(8) uint2 { unsigned x, y; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

constexpr int warpSize = 32;

namespace emu {

// Limits of compute capability 8.0 that the runtime enforces at launch.
constexpr int kMaxThreadsPerBlock = 1024;
// 48 KiB is what a kernel gets without cudaFuncSetAttribute's opt-in, which
// the engine does not use; the emulator refuses more, as the driver would.
constexpr int kMaxDynamicShared = 48 << 10;

// The per-thread state the built-ins read. The runtime's fiber embeds it and
// points `self` at the fiber it is about to run.
struct ThreadRegs {
  uint3 idx;      // threadIdx
  unsigned lane;  // linear thread index % 32
  // Results of the last collective op, filled in by the runtime when it
  // releases the barrier.
  uint64_t value;     // __shfl_*: the source lane's value; __reduce_*: the result
  unsigned ballot;    // lanes in the mask whose predicate was true
  unsigned members;   // lanes in the mask that took part
  int count;          // __syncthreads_count: threads whose predicate was true
  int block_threads;  // threads in the block that took part
};

inline thread_local ThreadRegs* self;
inline thread_local uint3 block_idx;
inline thread_local dim3 block_dim, grid_dim;

// Collective ops, implemented by the runtime: each suspends the calling fiber
// until the threads it waits for have arrived, then returns with the results
// in *self.
enum Collective {
  kSyncWarp,
  kShfl,
  kBallot,
  kReduceAdd,
  kReduceMin,
  kReduceMax,
  kReduceUMin,
  kReduceUMax,
  kReduceAnd,
  kReduceOr,
  kReduceXor,
};
void syncthreads(int pred);
// src is the lane whose value a shuffle reads (the caller's own lane where
// CUDA returns the caller's value).
void warp_collective(Collective op, unsigned mask, uint64_t value, int src, int pred);
[[noreturn]] void trap();
// The lanes of the caller's warp that have not exited.
unsigned live_lanes();

template <typename T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                "warp ops move values of at most 8 bytes");
  uint64_t b = 0;
  memcpy(&b, &v, sizeof v);
  return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
  T v;
  memcpy(&v, &b, sizeof v);
  return v;
}

}  // namespace emu

// Read-only, as in CUDA.
#define threadIdx (static_cast<const uint3&>(::emu::self->idx))
#define blockIdx (static_cast<const uint3&>(::emu::block_idx))
#define blockDim (static_cast<const dim3&>(::emu::block_dim))
#define gridDim (static_cast<const dim3&>(::emu::grid_dim))

// The dynamic shared memory of the running block, sized for the largest
// launch the runtime accepts. The runtime fills the launch's sharedBytes of it
// with 0xFF bytes before each block (NaN as float, -1 as int), since a GPU
// leaves it uninitialized.
alignas(16) inline thread_local float smem[emu::kMaxDynamicShared / sizeof(float)];

// ---- Barriers and warp-synchronous ops --------------------------------------

inline void __syncthreads() { emu::syncthreads(0); }
inline int __syncthreads_count(int pred) {
  emu::syncthreads(pred != 0);
  return emu::self->count;
}
inline int __syncthreads_and(int pred) {
  emu::syncthreads(pred != 0);
  return emu::self->count == emu::self->block_threads;
}
inline int __syncthreads_or(int pred) {
  emu::syncthreads(pred != 0);
  return emu::self->count != 0;
}

// Memory fences order nothing between fibers that never run concurrently;
// a compiler barrier keeps their meaning for the surrounding code.
inline void __threadfence() { __asm__ __volatile__("" ::: "memory"); }
inline void __threadfence_block() { __asm__ __volatile__("" ::: "memory"); }
inline void __threadfence_system() { __asm__ __volatile__("" ::: "memory"); }

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::warp_collective(emu::kSyncWarp, mask, 0, emu::self->lane, 0);
}

// The shuffles follow the CUDA C Programming Guide, "Warp Shuffle Functions":
// width splits the warp into segments; a source outside the caller's segment
// (or a lane that does not take part) yields the caller's own value.
template <typename T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize) {
  int lane = emu::self->lane;
  int src = (lane & ~(width - 1)) + (srcLane & (width - 1));
  emu::warp_collective(emu::kShfl, mask, emu::to_bits(var), src, 0);
  return emu::from_bits<T>(emu::self->value);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  int lane = emu::self->lane;
  int src = (unsigned)(lane & (width - 1)) >= delta ? lane - (int)delta : lane;
  emu::warp_collective(emu::kShfl, mask, emu::to_bits(var), src, 0);
  return emu::from_bits<T>(emu::self->value);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  int lane = emu::self->lane;
  int src = (lane & (width - 1)) + delta < (unsigned)width ? lane + (int)delta : lane;
  emu::warp_collective(emu::kShfl, mask, emu::to_bits(var), src, 0);
  return emu::from_bits<T>(emu::self->value);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize) {
  int lane = emu::self->lane;
  int src = lane ^ laneMask;
  if (src >= (lane & ~(width - 1)) + width || src >= warpSize) src = lane;
  emu::warp_collective(emu::kShfl, mask, emu::to_bits(var), src, 0);
  return emu::from_bits<T>(emu::self->value);
}

inline unsigned __ballot_sync(unsigned mask, int pred) {
  emu::warp_collective(emu::kBallot, mask, 0, emu::self->lane, pred != 0);
  return emu::self->ballot;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
  unsigned b = __ballot_sync(mask, pred);
  return b == emu::self->members;
}
// Without hardware convergence there is no "currently active" set; the lanes
// of the warp that have not exited is the closest meaning.
inline unsigned __activemask() { return emu::live_lanes(); }

// __reduce_*_sync (compute capability 8.0).
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceAdd, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}
inline int __reduce_add_sync(unsigned mask, int v) {
  return (int)__reduce_add_sync(mask, (unsigned)v);
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceUMin, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}
inline int __reduce_min_sync(unsigned mask, int v) {
  emu::warp_collective(emu::kReduceMin, mask, (uint64_t)(int64_t)v, emu::self->lane, 0);
  return (int)emu::self->value;
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceUMax, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}
inline int __reduce_max_sync(unsigned mask, int v) {
  emu::warp_collective(emu::kReduceMax, mask, (uint64_t)(int64_t)v, emu::self->lane, 0);
  return (int)emu::self->value;
}
inline unsigned __reduce_and_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceAnd, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceOr, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v) {
  emu::warp_collective(emu::kReduceXor, mask, v, emu::self->lane, 0);
  return (unsigned)emu::self->value;
}

// Ends the launch with an error naming the thread; the runtime abandons the
// block's fibers.
inline void __trap() { emu::trap(); }

// ---- Atomics ----------------------------------------------------------------
// Plain read-modify-writes: a fiber is never interrupted between barriers and
// the blocks of a launch run one after another on one OS thread, so nothing
// can interleave. Each returns the old value, as CUDA's do.

#define IMAGO_EMU_RMW(T, name, expr) \
  inline T name(T* address, T val) { \
    T old = *address;                \
    *address = (expr);               \
    return old;                      \
  }
IMAGO_EMU_RMW(int, atomicAdd, old + val)
IMAGO_EMU_RMW(unsigned, atomicAdd, old + val)
IMAGO_EMU_RMW(unsigned long long, atomicAdd, old + val)
IMAGO_EMU_RMW(float, atomicAdd, old + val)
IMAGO_EMU_RMW(double, atomicAdd, old + val)
IMAGO_EMU_RMW(int, atomicSub, old - val)
IMAGO_EMU_RMW(unsigned, atomicSub, old - val)
IMAGO_EMU_RMW(int, atomicExch, val)
IMAGO_EMU_RMW(unsigned, atomicExch, val)
IMAGO_EMU_RMW(unsigned long long, atomicExch, val)
IMAGO_EMU_RMW(float, atomicExch, val)
IMAGO_EMU_RMW(int, atomicMin, val < old ? val : old)
IMAGO_EMU_RMW(unsigned, atomicMin, val < old ? val : old)
IMAGO_EMU_RMW(long long, atomicMin, val < old ? val : old)
IMAGO_EMU_RMW(unsigned long long, atomicMin, val < old ? val : old)
IMAGO_EMU_RMW(int, atomicMax, val > old ? val : old)
IMAGO_EMU_RMW(unsigned, atomicMax, val > old ? val : old)
IMAGO_EMU_RMW(long long, atomicMax, val > old ? val : old)
IMAGO_EMU_RMW(unsigned long long, atomicMax, val > old ? val : old)
IMAGO_EMU_RMW(int, atomicAnd, old & val)
IMAGO_EMU_RMW(unsigned, atomicAnd, old & val)
IMAGO_EMU_RMW(unsigned long long, atomicAnd, old & val)
IMAGO_EMU_RMW(int, atomicOr, old | val)
IMAGO_EMU_RMW(unsigned, atomicOr, old | val)
IMAGO_EMU_RMW(unsigned long long, atomicOr, old | val)
IMAGO_EMU_RMW(int, atomicXor, old ^ val)
IMAGO_EMU_RMW(unsigned, atomicXor, old ^ val)
IMAGO_EMU_RMW(unsigned long long, atomicXor, old ^ val)
IMAGO_EMU_RMW(unsigned, atomicInc, old >= val ? 0 : old + 1)
IMAGO_EMU_RMW(unsigned, atomicDec, (old == 0 || old > val) ? val : old - 1)
#undef IMAGO_EMU_RMW

template <typename T>
inline T atomicCAS(T* address, T compare, T val) {
  static_assert(std::is_integral<T>::value, "atomicCAS is for integers");
  T old = *address;
  if (old == compare) *address = val;
  return old;
}

// ---- Loads and stores with cache hints: plain accesses here ------------------

template <typename T>
inline T __ldg(const T* p) { return *p; }
template <typename T>
inline T __ldcg(const T* p) { return *p; }
template <typename T>
inline T __ldcs(const T* p) { return *p; }
template <typename T>
inline void __stcg(T* p, T v) { *p = v; }
template <typename T>
inline void __stcs(T* p, T v) { *p = v; }

// ---- Math: what CUDA's device library adds to <cmath> -----------------------
// Intrinsics (__expf, ...) are the accurate functions here: the emulator
// checks what a kernel computes, not the GPU's approximation error, and the
// tests that compare against the GPU state their tolerances.

// C23 brings some of CUDA's names to libm (glibc 2.41: sinpi, cospi; 2.42:
// rsqrt); where libm has them they are used as they are.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 41)
#define IMAGO_EMU_LIBM_SINPI 1
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 42)
#define IMAGO_EMU_LIBM_RSQRT 1
#endif

#ifndef IMAGO_EMU_LIBM_RSQRT
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
#endif
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline double __dadd_rn(double x, double y) { return x + y; }
inline double __dmul_rn(double x, double y) { return x * y; }
inline double __fma_rn(double x, double y, double z) { return fma(x, y, z); }

#ifndef IMAGO_EMU_LIBM_SINPI
// sinpi(x) = sin(pi x), exact at integers as CUDA's is (it reduces the
// argument before multiplying by pi).
inline double sinpi(double x) {
  double r = remainder(x, 2.0);  // in [-1, 1]
  if (r == 0.0 || fabs(r) == 1.0) return copysign(0.0, x);
  return sin(M_PI * r);
}
inline double cospi(double x) {
  double r = fabs(remainder(x, 2.0));  // in [0, 1]
  if (r == 0.5) return 0.0;
  return cos(M_PI * r);
}
inline float sinpif(float x) { return (float)sinpi(x); }
inline float cospif(float x) { return (float)cospi(x); }
#endif
inline void sincospi(double x, double* s, double* c) { *s = sinpi(x), *c = cospi(x); }
inline void sincospif(float x, float* s, float* c) { *s = sinpif(x), *c = cospif(x); }
inline double normcdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }
inline float normcdff(float x) { return (float)normcdf(x); }

// erfinv: Giles' single-precision approximation ("Approximating the erfinv
// function", GPU Computing Gems Jade, 2011), polished by two Newton steps in
// double so that the float result is correctly rounded in practice.
inline double erfinv(double x) {
  if (x <= -1.0) return x == -1.0 ? -HUGE_VAL : NAN;
  if (x >= 1.0) return x == 1.0 ? HUGE_VAL : NAN;
  double w = -log((1.0 - x) * (1.0 + x)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double y = p * x;
  for (int i = 0; i < 2; i++) y -= (erf(y) - x) / (M_2_SQRTPI * exp(-y * y));
  return y;
}
inline float erfinvf(float x) { return (float)erfinv(x); }
inline double erfcinv(double x) { return erfinv(1.0 - x); }
inline float erfcinvf(float x) { return (float)erfinv(1.0 - (double)x); }
inline double normcdfinv(double p) { return -M_SQRT2 * erfcinv(2.0 * p); }
inline float normcdfinvf(float p) { return (float)normcdfinv(p); }

// ---- Conversions and bit tricks ----------------------------------------------

inline int __float_as_int(float x) { return emu::from_bits<int>(emu::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return emu::from_bits<unsigned>(emu::to_bits(x)); }
inline float __int_as_float(int x) { return emu::from_bits<float>(emu::to_bits(x)); }
inline float __uint_as_float(unsigned x) { return emu::from_bits<float>(emu::to_bits(x)); }
inline long long __double_as_longlong(double x) { return emu::from_bits<long long>(emu::to_bits(x)); }
inline double __longlong_as_double(long long x) { return emu::from_bits<double>(emu::to_bits(x)); }
// _rn rounds to nearest even (the default rounding mode), _rz truncates.
inline int __float2int_rn(float x) { return (int)lrintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)llrintf(x); }
inline unsigned __float2uint_rz(float x) { return (unsigned)x; }
inline long long __float2ll_rn(float x) { return llrintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __ll2float_rn(long long x) { return (float)x; }
inline float __double2float_rn(double x) { return (float)x; }

inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline int __mul24(int a, int b) { return (int)((int64_t)((a << 8) >> 8) * ((b << 8) >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) {
  return ((unsigned long long)__brev((unsigned)x) << 32) | __brev((unsigned)(x >> 32));
}

// min and max as CUDA overloads them (math_functions.h), including the mixed
// signed/unsigned forms, which compare as unsigned.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

#endif  // IMAGO_CUDA_EMU_H
