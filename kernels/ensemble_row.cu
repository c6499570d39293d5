// Ensemble MLP forward with one member chosen per row: the CUDA engine's
// engine.EnsembleRowForwarder. CPU reference: engine/cpu's
// EnsembleRowForward (a counting sort of the rows by member, then one sgemm
// per member and layer); the float64 reference is enginetest's
// rowForwardRef.
//
// A call runs without the host:
//
//  1. the rows are sorted by member into perm, stably, by a counting sort
//     over chunks of rows: ensemble_row_count_i32 counts each chunk's rows
//     of each member, and ensemble_row_sort_i32 places each chunk's rows
//     after those of all lower members and of its member in earlier chunks.
//     A single chunk needs no count: its block counts for itself.
//  2. ensemble_row_mlp_f32 takes the sorted rows 32 at a time, gathers
//     them from x into shared memory, pushes them through every layer
//     there with the weights of their member streamed in from global
//     memory, and scatters the last layer's outputs to their rows of y.
//
// Networks too wide (a layer over 256) or too deep (over 8 layers) for the
// fused kernel take ensemble_row_layer_f32 instead, one launch per layer,
// with the hidden activations in the workspace in sorted order.
//
// The grids are sized on the host from the row count alone: a block takes
// 32 (or 64) consecutive sorted rows, whatever their members, and finds
// their members from pick itself. The rows being sorted, they form runs of
// one member each; a block evaluates each run with its member's weights in
// turn. A block holds more than one run only where one member's rows end
// and the next one's begin, which happens in at most ens of a launch's
// tiles of rows, so the repeated passes cost next to nothing; in exchange
// the layers need no per-member offsets, and the sort's only scratch is its
// chunks' counts.
//
// Every output is the same chain of float32 operations wherever its row
// lands: acc = fmaf(h_k, w_kj, acc) for k = 0, 1, … from acc = 0, as
// gemm_f32 accumulates, then f(acc + b_j). So y is bitwise the same for
// any order of the rows, any block and thread order, and either kernel.

#include "common.cuh"

enum {
    // The sort's dynamic shared memory holds at most this many ints,
    // 48 KiB, the most a launch gets without the opt-in.
    ENSROW_SORT_SHARED_INTS = 12288,

    // ensemble_row_mlp_f32: a block of 4 warps takes 32 sorted rows, warp
    // w rows 8w…8w+7, lane l columns l + 32j for j < 8, so each thread
    // accumulates an 8×8 grid of outputs.
    ENSROW_MLP_ROWS = 32,
    ENSROW_MLP_THREADS = 128,
    ENSROW_MLP_MICRO = 8,
    ENSROW_MLP_MAX_WIDTH = 256,  // 32 rows × 256 floats: 32 KiB of activations
    ENSROW_MLP_MAX_LAYERS = 8,
    ENSROW_MLP_BK = 8,  // rows of a weight matrix staged per step: 8 KiB at width 256

    // ensemble_row_layer_f32: gemm_f32's tiling (see gemm.cu).
    ENSROW_TILE = 64,
    ENSROW_BK = 16,
    ENSROW_SIDE = 16,
    ENSROW_MICRO = 4,
    ENSROW_PAD = 4,
};

// ensemble_row_member returns the member of row i: members[pick[i]], or
// pick[i] itself when members is null. A pick outside [0, picks) or a
// member outside [0, ens) gives ens, a bucket of its own that sorts last
// and that no kernel evaluates: such rows of y are left unwritten, which is
// the "undefined" that engine.EnsembleRowForward allows.
__device__ inline int ensemble_row_member(const int* __restrict__ pick, const int* __restrict__ members, int picks,
                                          int ens, long long i)
{
    int m = pick[i];
    if (members) {
        if (m < 0 || m >= picks) return ens;
        m = members[m];
    }
    return m < 0 || m >= ens ? ens : m;
}

// ensemble_row_count_i32 sets counts[c·(ens+1) + m], for each chunk c of
// rows [c·chunk, (c+1)·chunk) ∩ [0, rows) and each m ≤ ens, to the number
// of the chunk's rows whose member (ensemble_row_member) is m; m = ens
// counts the rows out of range.
//
// Launch: grid (⌈rows/chunk⌉, 1, 1), any 1-D block, and ens + 1 ints of
// dynamic shared memory.
extern "C" __global__ void ensemble_row_count_i32(int* __restrict__ counts, const int* __restrict__ pick,
                                                  const int* __restrict__ members, int rows, int ens, int picks,
                                                  int chunk)
{
    extern __shared__ float smem[];
    int* hist = reinterpret_cast<int*>(smem);
    int buckets = ens + 1;
    for (int b = threadIdx.x; b < buckets; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    long long lo = (long long)blockIdx.x * chunk, hi = lo + chunk < rows ? lo + chunk : rows;
    for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x)
        atomicAdd(&hist[ensemble_row_member(pick, members, picks, ens, i)], 1);
    __syncthreads();
    for (int b = threadIdx.x; b < buckets; b += blockDim.x) counts[(long long)blockIdx.x * buckets + b] = hist[b];
}

// ensemble_row_sort_i32 sets perm[0:rows) to the rows 0…rows−1 ordered by
// member (ensemble_row_member), stably: a row comes before every later row
// of its member. Rows whose pick or member is out of range come last.
//
// Block c places the rows of chunk c (as in ensemble_row_count_i32). counts
// holds every chunk's counts as ensemble_row_count_i32 leaves them, from
// which the block finds where its rows of member m begin: after every row
// of the members below m and after member m's rows in earlier chunks. When
// one block takes all the rows, counts is null and the block counts them
// itself.
//
// Within the block, warp w owns the w-th of W contiguous segments of the
// chunk and walks it 32 rows at a time, twice: first counting its rows of
// each member, then, once the block has turned the counts into offsets,
// placing them. Offsets run member-major and warp-minor, and within a group
// of 32 rows the lanes of one member rank themselves by a ballot, so the
// order is the rows' own. Nothing depends on the order in which threads or
// blocks run.
//
// The sort's time on a GPU (an estimate) is the length of each warp's chain
// of loads, ballots and shuffles, not bandwidth: the engine gives each warp
// 4 groups of 32 rows (chunks of 4096 rows for 32 warps, 25 blocks for
// 10⁵ rows), a few microseconds, where one block for all 10⁵ rows would
// chain 98 groups a warp, tens of microseconds.
//
// Launch: grid (⌈rows/chunk⌉, 1, 1) (1 when counts is null), block
// (32·W, 1, 1) with 1 ≤ W ≤ 32, and (W + 2)·(ens + 1) ints of dynamic
// shared memory, at most ENSROW_SORT_SHARED_INTS.
extern "C" __global__ void ensemble_row_sort_i32(int* __restrict__ perm, const int* __restrict__ counts,
                                                 const int* __restrict__ pick, const int* __restrict__ members,
                                                 int rows, int ens, int picks, int chunk)
{
    extern __shared__ float smem[];
    const unsigned all = 0xffffffffu;
    int buckets = ens + 1;  // the members, then the out-of-range rows
    int warps = blockDim.x / 32;
    int* count = reinterpret_cast<int*>(smem);  // [W][buckets]: the warp's rows of each member
    int* start = count + warps * buckets;       // [buckets]: where the block's rows of each member begin
    int* total = start + buckets;               // [buckets]: the rows of each member in all chunks
    int t = threadIdx.x, w = t / 32, lane = t % 32;
    for (int q = t; q < (warps + 2) * buckets; q += blockDim.x) count[q] = 0;
    __syncthreads();

    // The chunk, and the warp's segment of it, a whole number of 32-row
    // groups long.
    long long lo = (long long)blockIdx.x * chunk, hi = lo + chunk < rows ? lo + chunk : rows;
    long long seg = (hi - lo + warps - 1) / warps;
    seg = (seg + 31) / 32 * 32;
    lo += w * seg;
    hi = lo + seg < hi ? lo + seg : hi;
    int* mine = count + w * buckets;
    for (long long i = lo + lane; i - lane < hi; i += 32)
        if (i < hi) atomicAdd(&mine[ensemble_row_member(pick, members, picks, ens, i)], 1);
    // The other chunks: start[m] gathers member m's rows in earlier ones.
    if (counts)
        for (int q = t; q < (int)gridDim.x * buckets; q += blockDim.x) {
            int c = q / buckets, b = q % buckets, v = counts[q];
            atomicAdd(&total[b], v);
            if (c < (int)blockIdx.x) atomicAdd(&start[b], v);
        }
    __syncthreads();

    // Exclusive prefix sums, over the warps for each member and then over
    // the members' totals: the block's rows of member m from warp w go to
    // start[m] + count[w][m] onwards.
    for (int b = t; b < buckets; b += blockDim.x) {
        int run = 0;
        for (int v = 0; v < warps; v++) {
            int c = count[v * buckets + b];
            count[v * buckets + b] = run;
            run += c;
        }
        if (!counts) total[b] = run;
    }
    __syncthreads();
    if (t == 0) {
        int run = 0;
        for (int b = 0; b < buckets; b++) {
            start[b] += run;
            run += total[b];
        }
    }
    __syncthreads();

    // Each round takes the member of the lowest lane not yet placed: its
    // lanes rank themselves by lane, and the leader moves the member's
    // offset past them. The loops are uniform over the warp, as the ballots
    // and shuffles require.
    for (long long i = lo + lane; i - lane < hi; i += 32) {
        int b = i < hi ? ensemble_row_member(pick, members, picks, ens, i) : -1;
        unsigned todo = __ballot_sync(all, b >= 0);
        while (todo) {
            int leader = __ffs(todo) - 1;
            int bl = __shfl_sync(all, b, leader);
            unsigned same = __ballot_sync(all, b == bl);
            int base = 0;
            if (lane == leader) {
                base = start[bl] + mine[bl];
                mine[bl] += __popc(same);
            }
            // Shuffles and ballots order no memory: the barrier makes the
            // update visible to a later round's leader, another lane.
            __syncwarp();
            base = __shfl_sync(all, base, leader);
            if (b == bl) perm[base + __popc(same & ((1u << lane) - 1))] = (int)i;
            todo &= ~same;
        }
    }
}

// ensemble_row_runs loads the members of a block's `count` sorted rows
// perm[j0 : j0+count) into mem[0:count) and their row indices into src,
// and marks the rest of the block's `size` slots with member −1.
__device__ inline void ensemble_row_runs(int* mem, int* src, int size, const int* __restrict__ perm,
                                         const int* __restrict__ pick, const int* __restrict__ members, int picks,
                                         int ens, long long j0, int count)
{
    for (int r = threadIdx.x + threadIdx.y * blockDim.x; r < size; r += blockDim.x * blockDim.y) {
        if (r < count) {
            int row = perm[j0 + r];
            src[r] = row;
            mem[r] = ensemble_row_member(pick, members, picks, ens, row);
        } else {
            src[r] = 0;
            mem[r] = -1;
        }
    }
}

// ensemble_row_run_end returns the end of the run of equal members that
// starts at r0 < count.
__device__ inline int ensemble_row_run_end(const int* mem, int r0, int count)
{
    int r1 = r0 + 1;
    while (r1 < count && mem[r1] == mem[r0]) r1++;
    return r1;
}

// ensemble_row_mlp_f32 evaluates the network of `layers` ≤ 8 layers for
// the rows that perm lists sorted by member (ensemble_row_sort_i32):
// for sorted row j with row r = perm[j] and member m,
//
//	h = x[r],  h = act_l(h·w_l[m] + b_l[m]) for l < layers,  y[r] = h,
//
// where layer l's weights w_l are [ens, in_l, out_l] and its bias b_l
// [ens, out_l], in_0 = in and in_{l+1} = out_l. Rows of member ens (out of
// range) are skipped. ld ≥ the widest in_l and out_l, at most 256; layers
// after the last are ignored (pass null and 0).
//
// A block takes the sorted rows 32·blockIdx.x … +31 and keeps their
// activations in shared memory from the gather of x to the scatter to y;
// each layer is computed in place, every thread accumulating its 8×8
// outputs over the whole of in_l before any of them is written. The weights
// pass through shared memory 8 rows (k) at a time, read as they lie in w_l.
//
// What to expect of a GPU (not measured: none was available when this was
// written). ptxas (CUDA 11.8) gives 109 registers a thread on sm_80, 110
// on sm_90, no spills, and a 448-byte stack for the layer table and for acc
// around the epilogue; with 40 KiB of shared memory at width 256, 4 blocks
// (16 warps) fit an SM. Per k a warp issues 64 FMAs against 8 broadcast and
// 8 conflict-free shared loads, as many cycles of the SM's shared-memory
// bandwidth as of its FP32 pipes, so both bound it; loading h as float4
// along k would halve the shared traffic. The weights, all of a member's
// per 32 rows (MBPO's 7 members are 3.6 MB), come from L2, 8 rows at a time
// with no prefetch, the other blocks on the SM hiding the latency. Columns
// run in groups of 32, so a width of 200 keeps 200/224 of the lanes busy.
//
// Launch: grid (⌈rows/32⌉, 1, 1), block (128, 1, 1), (32 + 8)·ld floats of
// dynamic shared memory.
extern "C" __global__ void ensemble_row_mlp_f32(
    float* __restrict__ y, const float* __restrict__ x, const int* __restrict__ perm, const int* __restrict__ pick,
    const int* __restrict__ members, int rows, int ens, int picks, int in, int ld, int layers,
    const float* w0, const float* b0, int out0, int act0, const float* w1, const float* b1, int out1, int act1,
    const float* w2, const float* b2, int out2, int act2, const float* w3, const float* b3, int out3, int act3,
    const float* w4, const float* b4, int out4, int act4, const float* w5, const float* b5, int out5, int act5,
    const float* w6, const float* b6, int out6, int act6, const float* w7, const float* b7, int out7, int act7)
{
    const float* ws[ENSROW_MLP_MAX_LAYERS] = {w0, w1, w2, w3, w4, w5, w6, w7};
    const float* bs[ENSROW_MLP_MAX_LAYERS] = {b0, b1, b2, b3, b4, b5, b6, b7};
    const int outs[ENSROW_MLP_MAX_LAYERS] = {out0, out1, out2, out3, out4, out5, out6, out7};
    const int acts[ENSROW_MLP_MAX_LAYERS] = {act0, act1, act2, act3, act4, act5, act6, act7};

    extern __shared__ float smem[];
    __shared__ int src[ENSROW_MLP_ROWS];  // the block's rows of x and y
    __shared__ int mem[ENSROW_MLP_ROWS];  // their members; −1 past the last row
    float* h = smem;                      // [32][ld]: the rows' activations
    float* wst = smem + ENSROW_MLP_ROWS * ld;  // [8][out]: a step of a layer's weights
    int t = threadIdx.x, warp = t / 32, lane = t % 32;
    int row0 = warp * ENSROW_MLP_MICRO;  // the thread's rows are row0 + i, its columns lane + 32j
    long long j0 = (long long)blockIdx.x * ENSROW_MLP_ROWS;
    int count = rows - j0 < ENSROW_MLP_ROWS ? (int)(rows - j0) : ENSROW_MLP_ROWS;

    ensemble_row_runs(mem, src, ENSROW_MLP_ROWS, perm, pick, members, picks, ens, j0, count);
    __syncthreads();
    for (int r = warp; r < ENSROW_MLP_ROWS; r += ENSROW_MLP_THREADS / 32)
        for (int k = lane; k < in; k += 32) h[r * ld + k] = r < count ? x[(long long)src[r] * in + k] : 0.0f;
    __syncthreads();

    int width = in;
    for (int l = 0; l < layers; l++) {
        int out = outs[l], act = acts[l];
        int groups = (out + 31) / 32;  // column groups j that hold a column
        bool last = l == layers - 1;
        for (int r0 = 0; r0 < count;) {
            int m = mem[r0], r1 = ensemble_row_run_end(mem, r0, count);
            if (m == ens) break;  // the out-of-range rows, which sort last
            const float* w = ws[l] + (long long)m * width * out;
            const float* b = bs[l] + (long long)m * out;

            float acc[ENSROW_MLP_MICRO][ENSROW_MLP_MICRO];
            for (int i = 0; i < ENSROW_MLP_MICRO; i++)
                for (int j = 0; j < ENSROW_MLP_MICRO; j++) acc[i][j] = 0;
            for (int k0 = 0; k0 < width; k0 += ENSROW_MLP_BK) {
                int kb = width - k0 < ENSROW_MLP_BK ? width - k0 : ENSROW_MLP_BK;
                for (int q = t; q < kb * out; q += ENSROW_MLP_THREADS) wst[q] = w[(long long)k0 * out + q];
                __syncthreads();
                for (int p = 0; p < kb; p++) {
                    float av[ENSROW_MLP_MICRO], bv[ENSROW_MLP_MICRO];
                    for (int i = 0; i < ENSROW_MLP_MICRO; i++) av[i] = h[(row0 + i) * ld + k0 + p];
                    for (int j = 0; j < ENSROW_MLP_MICRO; j++) {
                        int c = lane + 32 * j;
                        bv[j] = j < groups && c < out ? wst[p * out + c] : 0.0f;
                    }
                    for (int j = 0; j < ENSROW_MLP_MICRO; j++) {
                        if (j >= groups) break;
                        for (int i = 0; i < ENSROW_MLP_MICRO; i++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
                    }
                }
                __syncthreads();  // every read of h and wst is done: they may be overwritten
            }

            for (int i = 0; i < ENSROW_MLP_MICRO; i++) {
                int r = row0 + i;
                if (r < r0 || r >= r1) continue;
                for (int j = 0; j < ENSROW_MLP_MICRO; j++) {  // a constant bound keeps acc in registers
                    int c = lane + 32 * j;
                    if (j >= groups || c >= out) continue;
                    float v = activate(act, acc[i][j] + b[c]);
                    if (last)
                        y[(long long)src[r] * out + c] = v;
                    else
                        h[r * ld + c] = v;
                }
            }
            // No barrier: the next reads of h follow the first barrier of
            // the next run's or layer's k loop.
            r0 = r1;
        }
        width = out;
    }
}

// ensemble_row_layer_f32 computes one layer for the rows that perm lists
// sorted by member: for sorted row j < rows with row r = perm[j] and
// member m,
//
//	c[jc] = act(a[ja]·w[m] + bias[m]),  ja = gather ? r : j,  jc = scatter ? r : j,
//
// where a is read as rows of in and c as rows of out, w is [ens, in, out]
// and bias [ens, out]. So the first layer gathers x (gather = 1), hidden
// layers read and write the workspace in sorted order, and the last one
// scatters into y (scatter = 1). Rows of member ens (out of range) are
// skipped. c overlaps none of a, w and bias.
//
// gemm_f32's tiling: a block of 16×16 threads computes the 64×64 tile of
// c at sorted rows 64·blockIdx.x and columns 64·blockIdx.y, walking in in
// steps of 16 through shared memory, once for each run of one member among
// its rows.
//
// Launch: block (16, 16, 1), grid (⌈rows/64⌉, ⌈out/64⌉, 1); no dynamic
// shared memory (9 KiB static).
extern "C" __global__ void ensemble_row_layer_f32(float* __restrict__ c, const float* __restrict__ a,
                                                  const float* __restrict__ w, const float* __restrict__ bias,
                                                  const int* __restrict__ perm, const int* __restrict__ pick,
                                                  const int* __restrict__ members, int rows, int ens, int picks,
                                                  int in, int out, int act, int gather, int scatter)
{
    __shared__ float as[ENSROW_BK][ENSROW_TILE + ENSROW_PAD];  // as[p][i]: a's row i, column k0 + p
    __shared__ float bs[ENSROW_BK][ENSROW_TILE + ENSROW_PAD];  // bs[p][j]: w's row k0 + p, column col0 + j
    __shared__ int src[ENSROW_TILE];                           // the tile's rows of x and y
    __shared__ int mem[ENSROW_TILE];                           // their members; −1 past the last row
    long long j0 = (long long)blockIdx.x * ENSROW_TILE;
    int col0 = blockIdx.y * ENSROW_TILE;
    int tx = threadIdx.x, ty = threadIdx.y, t = ty * ENSROW_SIDE + tx;
    int count = rows - j0 < ENSROW_TILE ? (int)(rows - j0) : ENSROW_TILE;

    ensemble_row_runs(mem, src, ENSROW_TILE, perm, pick, members, picks, ens, j0, count);
    __syncthreads();

    for (int r0 = 0; r0 < count;) {
        int m = mem[r0], r1 = ensemble_row_run_end(mem, r0, count);
        if (m == ens) break;  // the out-of-range rows, which sort last
        const float* wm = w + (long long)m * in * out;
        const float* bm = bias + (long long)m * out;

        float acc[ENSROW_MICRO][ENSROW_MICRO];
        for (int i = 0; i < ENSROW_MICRO; i++)
            for (int j = 0; j < ENSROW_MICRO; j++) acc[i][j] = 0;
        for (int k0 = 0; k0 < in; k0 += ENSROW_BK) {
            // Adjacent threads read along k in a's rows and along the
            // columns in w's.
            for (int l = t; l < ENSROW_BK * ENSROW_TILE; l += ENSROW_SIDE * ENSROW_SIDE) {
                int i = l / ENSROW_BK, p = l % ENSROW_BK, k = k0 + p;
                long long ra = gather ? src[i] : j0 + i;
                as[p][i] = i < count && k < in ? a[ra * in + k] : 0.0f;
            }
            for (int l = t; l < ENSROW_BK * ENSROW_TILE; l += ENSROW_SIDE * ENSROW_SIDE) {
                int p = l / ENSROW_TILE, j = l % ENSROW_TILE, k = k0 + p, col = col0 + j;
                bs[p][j] = col < out && k < in ? wm[(long long)k * out + col] : 0.0f;
            }
            __syncthreads();
            for (int p = 0; p < ENSROW_BK; p++) {
                float av[ENSROW_MICRO], bv[ENSROW_MICRO];
                for (int i = 0; i < ENSROW_MICRO; i++) av[i] = as[p][ty + ENSROW_SIDE * i];
                for (int j = 0; j < ENSROW_MICRO; j++) bv[j] = bs[p][tx + ENSROW_SIDE * j];
                for (int i = 0; i < ENSROW_MICRO; i++)
                    for (int j = 0; j < ENSROW_MICRO; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
            }
            __syncthreads();
        }

        for (int i = 0; i < ENSROW_MICRO; i++) {
            int r = ty + ENSROW_SIDE * i;
            if (r < r0 || r >= r1) continue;
            long long rc = scatter ? src[r] : j0 + r;
            for (int j = 0; j < ENSROW_MICRO; j++) {
                int col = col0 + tx + ENSROW_SIDE * j;
                if (col < out) c[rc * out + col] = activate(act, acc[i][j] + bm[col]);
            }
        }
        r0 = r1;
    }
}
