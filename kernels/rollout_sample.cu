// The random draws of a model-rollout step: engine.SampleAction,
// engine.PickMembers and engine.SampleTransition, for the live rows of a
// cursor on the device (engine/rollout.go). CPU reference: engine/cpu's
// rollout.go, which repeats the primitives of the ops' generic paths.
//
// Each kernel reads the cursor's first pair, (n live rows, stream offset
// c), draws its fill from counter base + c as the engine's RandNormal and
// RandInt draw from that counter, and has thread 0 of block 0 write the
// second pair; no thread writes what another reads. The float32 arithmetic
// follows the generic path's primitives op by op (tanhf, expf and
// softplus as activate and unary compute them, Scale in double), with the
// products rounded on their own (__fmul_rn) so that nvcc does not fuse
// them into the following add where the primitives round twice.
#include "normal.cuh"

namespace rollout {

// live_rows returns the cursor's live row count clamped into [0, rows], and
// stream_offset its offset clamped to 0 or more: a cursor out of range is
// the caller's error, which must not make a kernel write out of bounds.
__device__ inline long long live_rows(const int* cur, long long rows)
{
    long long n = cur[0];
    return n < 0 ? 0 : (n > rows ? rows : n);
}

__device__ inline unsigned long long stream_offset(const int* cur) { return cur[1] < 0 ? 0 : (unsigned)cur[1]; }

// scale is Scale of one element: alpha·x + beta in double, rounded once.
__device__ inline float scale(float x, float alpha, float beta) { return (float)((double)alpha * x + beta); }

// advance has thread 0 of the grid write the cursor's second pair: n live
// rows after a fill that took ⌈taken/4⌉ counters.
__device__ inline void advance(int* cur, long long n, long long taken)
{
    if (thread_index() == 0) {
        cur[2] = (int)n;
        cur[3] = (int)(stream_offset(cur) + (taken + 3) / 4);
    }
}

}  // namespace rollout

// rollout_action_f32 samples the policy's action for the n live rows of
// the cursor cur (engine.SampleAction): with ε element i·a + j of
// RandNormal(0, 1) from counter base + c,
//   act[i, j] = tanh(μ + exp(alpha·tanh r + beta)·ε)·scale[j] + shift[j]
// for μ = head[i, j] and r = head[i, a + j] (head [rows, 2a]), alpha and
// beta the log-std map's (hi − lo)/2 and lo + (hi − lo)/2. scale and shift
// are null for no rescaling. Rows from n on are not written; cur becomes
// (n, c; n, c + ⌈n·a/4⌉). The engine passes rng.Counter as base.
// Launch: one thread per Philox block of four draws, any 1-D grid and block
// (grid-stride over ⌈rows·a/4⌉ blocks, at least one thread, which writes
// the cursor), no dynamic shared memory.
extern "C" __global__ void rollout_action_f32(float* act, const float* head, const float* scale, const float* shift,
                                              int* cur, long long rows, int a, float alpha, float beta,
                                              unsigned long long seed, unsigned long long base)
{
    long long n = rollout::live_rows(cur, rows), total = n * a;
    unsigned long long start = base + rollout::stream_offset(cur);
    for (long long b = thread_index(); b < (total + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < total; k += 2) {
            float z[2];
            normal_pair(w[k], w[k + 1], 0.0f, 1.0f, z);
            for (int q = 0; q < 2 && 4 * b + k + q < total; q++) {
                long long idx = 4 * b + k + q, i = idx / a;
                int j = (int)(idx % a);
                float mu = head[i * 2 * a + j], r = head[i * 2 * a + a + j];
                float sigma = expf(rollout::scale(tanhf(r), alpha, beta));
                float v = tanhf(__fmul_rn(sigma, z[q]) + mu);
                if (scale) v = __fmul_rn(v, scale[j]) + shift[j];
                act[idx] = v;
            }
        }
    }
    rollout::advance(cur, n, total);
}

// rollout_pick_i32 draws every row's member pick (engine.PickMembers):
// pick[i] = ⌊w·range/2³²⌋ for the word w of element i of a fill from
// counter base + c, for all i < rows, so that the rows past the live ones
// hold picks in range too; cur becomes (n, c; n, c + ⌈n/4⌉).
// Launch: one thread per Philox block of four picks, any 1-D grid and
// block (grid-stride over ⌈rows/4⌉ blocks, at least one thread), no
// dynamic shared memory.
extern "C" __global__ void rollout_pick_i32(int* pick, int* cur, long long rows, unsigned range,
                                            unsigned long long seed, unsigned long long base)
{
    long long n = rollout::live_rows(cur, rows);
    unsigned long long start = base + rollout::stream_offset(cur);
    for (long long b = thread_index(); b < (rows + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < rows; k++) pick[4 * b + k] = (int)(((unsigned long long)w[k] * range) >> 32);
    }
    rollout::advance(cur, n, n);
}

// rollout_transition_f32 samples the model's Gaussian for the n live rows
// of the cursor cur (engine.SampleTransition): for row i and target
// j < d = o + 1, with μ = out[i, j], raw = out[i, d + j] (out [rows, 2d])
// and ε element i·d + j of RandNormal(0, 1) from counter base + c,
//   lv = min + softplus(max − softplus(max − raw) − min)
//   y  = std_y·(μ + exp(lv/2)·ε) + mean_y
// and next[i, j] = obs[i, j] + y for j < o, reward[i] = y for j = o. Rows
// from n on are not written; cur becomes (n, c; n, c + ⌈n·d/4⌉).
// Launch: one thread per Philox block of four draws, any 1-D grid and block
// (grid-stride over ⌈rows·d/4⌉ blocks, at least one thread), no dynamic
// shared memory.
extern "C" __global__ void rollout_transition_f32(float* next, float* reward, const float* out, const float* obs,
                                                  const float* max_logvar, const float* min_logvar,
                                                  const float* target_mean, const float* target_std, int* cur,
                                                  long long rows, int o, unsigned long long seed,
                                                  unsigned long long base)
{
    const int d = o + 1;
    long long n = rollout::live_rows(cur, rows), total = n * d;
    unsigned long long start = base + rollout::stream_offset(cur);
    for (long long b = thread_index(); b < (total + 3) / 4; b += thread_count()) {
        unsigned w[4];
        philox4x32_10(start + b, seed, w);
        for (int k = 0; k < 4 && 4 * b + k < total; k += 2) {
            float z[2];
            normal_pair(w[k], w[k + 1], 0.0f, 1.0f, z);
            for (int q = 0; q < 2 && 4 * b + k + q < total; q++) {
                long long idx = 4 * b + k + q, i = idx / d;
                int j = (int)(idx % d);
                float mean = out[i * 2 * d + j], raw = out[i * 2 * d + d + j];
                float mx = max_logvar[j], mn = min_logvar[j];
                float t = activate(ACT_SOFTPLUS, rollout::scale(raw - mx, -1.0f, 0.0f));
                t = activate(ACT_SOFTPLUS, rollout::scale(t - mx, -1.0f, 0.0f) - mn);
                float sd = expf(rollout::scale(t + mn, 0.5f, 0.0f));
                float y = mean + __fmul_rn(z[q], sd);
                y = __fmul_rn(y, target_std[j]) + target_mean[j];
                if (j < o) next[i * o + j] = y + obs[i * o + j];
                else reward[i] = y;
            }
        }
    }
    rollout::advance(cur, n, total);
}
