// Termination and compaction of a model-rollout step:
// engine.TerminateCompact, for the live rows of a cursor on the device
// (engine/rollout.go). CPU reference: engine/cpu's TerminateCompact.
//
// Two launches over the same grid of tiles of blockDim.x rows: the first
// sets the terminal flags and counts each tile's rows that go on, the
// second sums the counts of the tiles before its own (a prefix sum over
// tiles, recomputed by each block from at most ⌈rows/256⌉ counts), ranks
// its own rows with a ballot per warp, and copies them to their place.
// Neither waits on another block, so every block order gives the same
// result.
#include "common.cuh"

// compact_rows returns the cursor's live row count clamped into [0, rows]
// (a cursor out of range is the caller's error, which must not make a
// kernel write out of bounds).
__device__ inline long long compact_rows(const int* cur, long long rows)
{
    long long n = cur[0];
    return n < 0 ? 0 : (n > rows ? rows : n);
}

// rollout_flags_f32 sets term[i] for each live row i < n of the cursor cur
// to 1 where next[i] (of [rows, o]) terminates under the box and 0 where it
// does not, and counts[blockIdx.x] to the number of its tile's rows that do
// not. Element dims[j] of a row is within when low[j] ≤ x ≤ high[j] (NaN
// never is; a dim outside [0, o) counts as outside); the row is inside
// when all k are, and it terminates when inside is 1 and it is inside, or
// inside is 0 and it is not. k = 0 is the empty box, inside every row.
// Launch: grid ⌈rows/blockDim.x⌉ blocks (at least 1), blocks of a multiple
// of 32 threads up to 1024, one thread per row; no dynamic shared memory.
extern "C" __global__ void rollout_flags_f32(float* term, int* counts, const float* next, const int* dims,
                                             const float* low, const float* high, int k, int inside,
                                             const int* cur, long long rows, int o)
{
    long long n = compact_rows(cur, rows);
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    int goes_on = 0;
    if (i < n) {
        bool in = true;
        for (int j = 0; j < k && in; j++) {
            int d = dims[j];
            in = d >= 0 && d < o && next[i * o + d] >= low[j] && next[i * o + d] <= high[j];
        }
        bool ends = in == (inside != 0);
        term[i] = ends ? 1.0f : 0.0f;
        goes_on = !ends;
    }
    int count = __syncthreads_count(goes_on);
    if (threadIdx.x == 0) counts[blockIdx.x] = count;
}

// rollout_compact_f32 copies the live rows i < n of next that did not
// terminate (term[i] = 0, as rollout_flags_f32 left it) to the front of
// live, in order: the block of tile t puts its rows after the sum of
// counts[0..t), ranked within the tile by a ballot per warp. The last
// block writes the cursor's second pair, (rows that go on, c).
// Launch: the grid and blocks of rollout_flags_f32, after it; no dynamic
// shared memory.
extern "C" __global__ void rollout_compact_f32(float* live, const float* next, const float* term, const int* counts,
                                               int* cur, long long rows, int o)
{
    __shared__ int tile_rows[1024];  // the tile's rows that go on, in order
    __shared__ int warp_counts[32], warp_starts[32];
    __shared__ long long before;     // rows that go on in the tiles before this one

    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, warps = blockDim.x / 32;
    long long n = compact_rows(cur, rows);

    // The counts of the earlier tiles: a strided sum per thread, then per
    // warp, then over the warps.
    int partial = 0;
    for (int t = tid; t < (int)blockIdx.x; t += blockDim.x) partial += counts[t];
    partial = __reduce_add_sync(0xffffffffu, partial);
    if (lane == 0) warp_counts[warp] = partial;
    __syncthreads();
    if (tid == 0) {
        long long sum = 0;
        for (int w = 0; w < warps; w++) sum += warp_counts[w];
        before = sum;
    }
    __syncthreads();

    // Rank the tile's rows that go on: within the warp by the ballot of
    // the lanes below, across warps by the counts of the warps before.
    long long i = (long long)blockIdx.x * blockDim.x + tid;
    bool goes_on = i < n && term[i] == 0.0f;
    unsigned ballot = __ballot_sync(0xffffffffu, goes_on);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    if (tid == 0) {
        int sum = 0;
        for (int w = 0; w < warps; w++) {
            warp_starts[w] = sum;
            sum += warp_counts[w];
        }
        warp_counts[0] = sum;  // the tile's total, now that the starts are known
    }
    __syncthreads();
    if (goes_on) tile_rows[warp_starts[warp] + __popc(ballot & ((1u << lane) - 1))] = (int)(i - (long long)blockIdx.x * blockDim.x);
    __syncthreads();
    int kept = warp_counts[0];

    // Copy the rows, the block's threads along their elements.
    long long first = (long long)blockIdx.x * blockDim.x;
    for (long long e = tid; e < (long long)kept * o; e += blockDim.x) {
        long long r = e / o;
        int j = (int)(e % o);
        live[(before + r) * o + j] = next[(first + tile_rows[r]) * o + j];
    }
    if (blockIdx.x == gridDim.x - 1 && tid == 0) {
        cur[2] = (int)(before + kept);
        cur[3] = cur[1];
    }
}
