// Matrix products batched over ensemble members: engine.Engine.Gemm, and
// with its epilogue engine.Linearer's fused dense layer y = f(x·w + b).
// CPU reference: engine/cpu's Gemm (a BLAS sgemm per member).
//
// The classic shared-memory tiling (as in CUTLASS's SIMT sgemm and
// llm.c's early matmul kernels): a block of 16×16 threads computes a 64×64
// tile of c, walking K in steps of 16; each step stages a 64×16 tile of
// op(a) and a 16×64 tile of op(b) in shared memory, and each thread
// accumulates a 4×4 grid of c in registers, rows ty + 16·i and columns
// tx + 16·j, so that a warp's shared-memory reads hit distinct banks or
// broadcast and its stores of c are coalesced. Accumulation is in float32
// with fused multiply-adds, as in cuBLAS.
#include "common.cuh"

enum {
    GEMM_TILE = 64,  // rows and columns of c per block
    GEMM_BK = 16,    // depth of one K step
    GEMM_SIDE = 16,  // threads per side of the block
    GEMM_MICRO = 4,  // rows and columns of c per thread: GEMM_TILE / GEMM_SIDE
    GEMM_PAD = 4,    // pads the shared rows against bank conflicts on the transposing stores
};

// gemm_load_a stages op(a)[row0 + i][k0 + p] in as[p][i] for i < 64,
// p < 16, and 0 outside op(a)'s m × k. Adjacent threads read adjacent
// addresses: along k when a is [m, k], along m when it is [k, m].
__device__ inline void gemm_load_a(float (*as)[GEMM_TILE + GEMM_PAD], const float* __restrict__ a, int trans_a, int m,
                                   int k, int row0, int k0, int t)
{
    for (int l = t; l < GEMM_BK * GEMM_TILE; l += GEMM_SIDE * GEMM_SIDE) {
        int i = trans_a ? l % GEMM_TILE : l / GEMM_BK;
        int p = trans_a ? l / GEMM_TILE : l % GEMM_BK;
        int r = row0 + i, q = k0 + p;
        float v = 0;
        if (r < m && q < k) v = trans_a ? a[(long long)q * m + r] : a[(long long)r * k + q];
        as[p][i] = v;
    }
}

// gemm_load_b stages op(b)[k0 + p][col0 + j] in bs[p][j] for p < 16,
// j < 64, and 0 outside op(b)'s k × n: along n when b is [k, n], along k
// when it is [n, k].
__device__ inline void gemm_load_b(float (*bs)[GEMM_TILE + GEMM_PAD], const float* __restrict__ b, int trans_b, int n,
                                   int k, int col0, int k0, int t)
{
    for (int l = t; l < GEMM_BK * GEMM_TILE; l += GEMM_SIDE * GEMM_SIDE) {
        int j = trans_b ? l / GEMM_BK : l % GEMM_TILE;
        int p = trans_b ? l % GEMM_BK : l / GEMM_TILE;
        int c = col0 + j, q = k0 + p;
        float v = 0;
        if (c < n && q < k) v = trans_b ? b[(long long)c * k + q] : b[(long long)q * n + c];
        bs[p][j] = v;
    }
}

// gemm_f32 computes, for each member e = blockIdx.z,
//
//	c_e = f(alpha·op(a_e)·op(b_e) + beta·c_e + bias_e)
//
// with op(a_e) m × k (a_e is [m, k], or [k, m] when trans_a != 0),
// op(b_e) k × n (b_e is [k, n], or [n, k] when trans_b != 0) and c_e
// [m, n], all row-major. Member e's operands start stride_a·e, stride_b·e,
// stride_c·e and stride_bias·e elements past a, b, c and bias: a stride
// of 0 shares an operand ([1, ., .]) among all members. bias is a row of n
// added to every row of c_e, or null (0) for none; act is an activation
// code (engine.Activation), ACT_IDENTITY (0) for none. When beta is 0, c
// is not read, so NaNs in it do not propagate; when alpha is 0, a and b
// are not read. c overlaps none of a, b and bias.
//
// engine.Gemm is gemm_f32 with bias = 0 and act = 0; engine.Linear (x·w + b
// then f) is alpha = 1, beta = 0, bias = b, stride_bias = n.
//
// Launch: block (16, 16), grid (⌈m/64⌉, ⌈n/64⌉, E); no dynamic shared
// memory (8.5 KiB static). m, n, k ≥ 0 are arbitrary; every access is
// bounds-checked.
extern "C" __global__ void gemm_f32(float* __restrict__ c, const float* __restrict__ a, const float* __restrict__ b,
                                    const float* __restrict__ bias, int m, int n, int k, int trans_a, int trans_b,
                                    float alpha, float beta, long long stride_a, long long stride_b,
                                    long long stride_c, long long stride_bias, int act)
{
    __shared__ float as[GEMM_BK][GEMM_TILE + GEMM_PAD];
    __shared__ float bs[GEMM_BK][GEMM_TILE + GEMM_PAD];
    long long e = blockIdx.z;
    a += e * stride_a;
    b += e * stride_b;
    c += e * stride_c;
    if (bias) bias += e * stride_bias;
    int row0 = blockIdx.x * GEMM_TILE, col0 = blockIdx.y * GEMM_TILE;
    int tx = threadIdx.x, ty = threadIdx.y, t = ty * GEMM_SIDE + tx;

    float acc[GEMM_MICRO][GEMM_MICRO];
    for (int i = 0; i < GEMM_MICRO; i++)
        for (int j = 0; j < GEMM_MICRO; j++) acc[i][j] = 0;

    int depth = alpha == 0.0f ? 0 : k;  // BLAS: alpha = 0 reads neither a nor b
    for (int k0 = 0; k0 < depth; k0 += GEMM_BK) {
        gemm_load_a(as, a, trans_a, m, k, row0, k0, t);
        gemm_load_b(bs, b, trans_b, n, k, col0, k0, t);
        __syncthreads();
        for (int p = 0; p < GEMM_BK; p++) {
            float av[GEMM_MICRO], bv[GEMM_MICRO];
            for (int i = 0; i < GEMM_MICRO; i++) av[i] = as[p][ty + GEMM_SIDE * i];
            for (int j = 0; j < GEMM_MICRO; j++) bv[j] = bs[p][tx + GEMM_SIDE * j];
            for (int i = 0; i < GEMM_MICRO; i++)
                for (int j = 0; j < GEMM_MICRO; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }

    for (int i = 0; i < GEMM_MICRO; i++) {
        int r = row0 + ty + GEMM_SIDE * i;
        if (r >= m) continue;
        for (int j = 0; j < GEMM_MICRO; j++) {
            int col = col0 + tx + GEMM_SIDE * j;
            if (col >= n) continue;
            long long at = (long long)r * n + col;
            float v = alpha * acc[i][j];
            if (beta != 0.0f) v = fmaf(beta, c[at], v);
            if (bias) v += bias[col];
            c[at] = activate(act, v);
        }
    }
}
