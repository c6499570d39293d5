// Device helpers shared by imago's kernels: op codes, index math, Go's
// float semantics, the activations and the Philox generator.
//
// The same text compiles with nvcc for the GPU and as C++ for the CPU under
// the cudaemu build tag (emu/cuda_emu.h), so it sticks to plain C++ and the
// CUDA built-ins the README lists.
//
// Conventions of every kernel:
//   - Element counts are long long and index math that multiplies is done
//     in 64 bits, so tensors may exceed 2³¹ elements; matrix dimensions and
//     row lengths are int.
//   - The engine never launches an empty grid: when a tensor has no
//     elements it skips the launch, so kernels need not guard against it.
//   - Elementwise kernels run grid-stride loops: any grid and block shape
//     is correct; 256 threads and ⌈n/256⌉ blocks (capped, e.g. at 65535)
//     are what the engine uses.
#pragma once

// Op codes, in the iota order of the engine package's enums. Kernels take
// them as int parameters.
enum Activation { ACT_IDENTITY, ACT_RELU, ACT_SILU, ACT_TANH, ACT_SIGMOID, ACT_SOFTPLUS };
enum UnaryOp { UNARY_EXP, UNARY_LOG, UNARY_SQRT, UNARY_SQUARE, UNARY_ABS };
enum BinaryOp { BINARY_ADD, BINARY_SUB, BINARY_MUL, BINARY_DIV, BINARY_MIN, BINARY_MAX, BINARY_GE };
enum ReduceOp { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX };
// Broadcast is engine.Broadcast: how binary_f32's b lines up with a.
enum Broadcast { BROADCAST_NONE, BROADCAST_GROUP_ROW, BROADCAST_ROW };

// thread_index and thread_count drive grid-stride loops over a 1-D grid.
__device__ inline long long thread_index() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ inline long long thread_count() { return (long long)gridDim.x * blockDim.x; }

// go_max and go_min are Go's builtin max and min, which the CPU engine
// uses: NaN if either operand is NaN (fmaxf would return the other), and
// +0 over −0 for max, −0 over +0 for min.
__device__ inline float go_max(float a, float b)
{
    if (a != a || b != b) return a + b;  // NaN
    if (a == 0 && b == 0) return a + b;  // +0 unless both are −0
    return a > b ? a : b;
}

__device__ inline float go_min(float a, float b)
{
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return -(-a - b);  // −0 unless both are +0
    return a < b ? a : b;
}

__device__ inline double go_max(double a, double b)
{
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return a + b;
    return a > b ? a : b;
}

// mul_rn multiplies with one rounding and is never fused into an FMA with
// a following add, which nvcc otherwise does. The random fills use it to
// repeat the float64 arithmetic of engine.UniformAt and NormalAt operation
// by operation, as Go compiles it for amd64 (without FMA).
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// Activations, accurate to a few float32 ulps (CUDA's non-fast expf,
// tanhf and log1pf), never evaluating e^t for t > 0 so that nothing
// overflows; the CPU engine computes the same formulas in float64.

// sigmoid_pair sets *p = σ(x) and *q = σ(−x) = 1 − σ(x), each to full
// relative accuracy.
__device__ inline void sigmoid_pair(float x, float* p, float* q)
{
    float z = expf(-fabsf(x));
    float a = 1.0f / (1.0f + z), b = z / (1.0f + z);
    if (x >= 0) {
        *p = a;
        *q = b;
    } else {
        *p = b;
        *q = a;
    }
}

__device__ inline float sigmoid(float x)
{
    float p, q;
    sigmoid_pair(x, &p, &q);
    return p;
}

// activate returns f(x) for the activation code act.
__device__ inline float activate(int act, float x)
{
    switch (act) {
    case ACT_RELU: return go_max(x, 0.0f);
    case ACT_SILU: return x * sigmoid(x);
    case ACT_TANH: return tanhf(x);
    case ACT_SIGMOID: return sigmoid(x);
    case ACT_SOFTPLUS: return go_max(x, 0.0f) + log1pf(expf(-fabsf(x)));
    }
    return x;
}

// activate_deriv returns f'(x), from x rather than from y = f(x): the
// formulas in y (1 − y² for tanh) lose their relative accuracy where f
// saturates.
__device__ inline float activate_deriv(int act, float x)
{
    float p, q, z;
    switch (act) {
    case ACT_RELU: return x > 0 ? 1.0f : 0.0f;  // f'(0) = 0
    case ACT_SILU:  // σ(x)·(1 + x·(1 − σ(x)))
        sigmoid_pair(x, &p, &q);
        return p * (1.0f + x * q);
    case ACT_TANH:  // sech²(x) = 4z/(1+z)² with z = e^−2|x|
        z = expf(-2.0f * fabsf(x));
        return 4.0f * z / ((1.0f + z) * (1.0f + z));
    case ACT_SIGMOID:  // σ(x)·σ(−x)
        sigmoid_pair(x, &p, &q);
        return p * q;
    case ACT_SOFTPLUS: return sigmoid(x);
    }
    return 1.0f;
}

// Reductions accumulate in double (sums of float32 terms keep the accuracy
// of one rounding, as in the CPU engine); a maximum of floats is exact in
// double, so every op shares one accumulator type.

__device__ inline double reduce_identity(int op) { return op == REDUCE_MAX ? -INFINITY : 0.0; }

__device__ inline double reduce_combine(int op, double acc, double x)
{
    return op == REDUCE_MAX ? go_max(acc, x) : acc + x;
}

// reduce_result turns an accumulator over count elements into the output:
// the mean of no elements is NaN (0/0) and their maximum −Inf.
__device__ inline float reduce_result(int op, double acc, long long count)
{
    return (float)(op == REDUCE_MEAN ? acc / (double)count : acc);
}

// warp_reduce combines acc over the 32 lanes of a warp into lane 0. Every
// lane of the warp must call it.
__device__ inline double warp_reduce(int op, double acc)
{
    for (int offset = 16; offset > 0; offset /= 2)
        acc = reduce_combine(op, acc, __shfl_down_sync(0xffffffffu, acc, offset));
    return acc;
}

// philox4x32_10 computes the Philox4x32-10 block (Salmon et al., SC 2011)
// that engine.Philox4x32 gives for the counter {low, high word of counter,
// 0, 0} and the key {low, high word of seed}: the block the random fills
// of the engine package draw from.
__device__ inline void philox4x32_10(unsigned long long counter, unsigned long long seed, unsigned out[4])
{
    unsigned c0 = (unsigned)counter, c1 = (unsigned)(counter >> 32), c2 = 0, c3 = 0;
    unsigned k0 = (unsigned)seed, k1 = (unsigned)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;  // golden ratio
            k1 += 0xBB67AE85u;  // √3 − 1
        }
        unsigned long long p0 = 0xD2511F53ull * c0;
        unsigned long long p1 = 0xCD9E8D57ull * c2;
        unsigned n0 = (unsigned)(p1 >> 32) ^ c1 ^ k0;
        unsigned n2 = (unsigned)(p0 >> 32) ^ c3 ^ k1;
        c1 = (unsigned)p1;
        c3 = (unsigned)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}
