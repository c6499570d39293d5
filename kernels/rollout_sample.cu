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
#include "common.cuh"

namespace rollout {

// go_log, go_sin_poly, go_cos_poly and go_trig are rand_normal.cu's, which
// repeat Go's math.Log, math.Sin and math.Cos operation for operation so
// that the draws equal engine.NormalAt's bit for bit (see there). They are
// copied, not included: a kernel is defined in exactly one module, and
// including rand_normal.cu would define rand_normal_f32 in this one too.
__device__ inline double go_log(double x)
{
    const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
    const double L1 = 6.666666666666735130e-01, L2 = 3.999999999940941908e-01, L3 = 2.857142874366239149e-01,
                 L4 = 2.222219843214978396e-01, L5 = 1.818357216161805012e-01, L6 = 1.531383769920937332e-01,
                 L7 = 1.479819860511658591e-01;
    int ki;
    double f1 = frexp(x, &ki);
    if (f1 < 7.07106781186547524401e-01) {  // √2/2
        f1 *= 2;
        ki--;
    }
    double f = f1 - 1, k = ki;
    double s = f / (2 + f);
    double s2 = mul_rn(s, s), s4 = mul_rn(s2, s2);
    double t1 = mul_rn(s2, L1 + mul_rn(s4, L3 + mul_rn(s4, L5 + mul_rn(s4, L7))));
    double t2 = mul_rn(s4, L2 + mul_rn(s4, L4 + mul_rn(s4, L6)));
    double R = t1 + t2;
    double hfsq = mul_rn(mul_rn(0.5, f), f);
    return mul_rn(k, Ln2Hi) - ((hfsq - (mul_rn(s, hfsq + R) + mul_rn(k, Ln2Lo))) - f);
}

__device__ inline double go_sin_poly(double z, double zz)
{
    double p = 1.58962301576546568060e-10;
    p = mul_rn(p, zz) + -2.50507477628578072866e-8;
    p = mul_rn(p, zz) + 2.75573136213857245213e-6;
    p = mul_rn(p, zz) + -1.98412698295895385996e-4;
    p = mul_rn(p, zz) + 8.33333333332211858878e-3;
    p = mul_rn(p, zz) + -1.66666666666666307295e-1;
    return z + mul_rn(mul_rn(z, zz), p);
}

__device__ inline double go_cos_poly(double zz)
{
    double p = -1.13585365213876817300e-11;
    p = mul_rn(p, zz) + 2.08757008419747316778e-9;
    p = mul_rn(p, zz) + -2.75573141792967388112e-7;
    p = mul_rn(p, zz) + 2.48015872888517045348e-5;
    p = mul_rn(p, zz) + -1.38888888888730564116e-3;
    p = mul_rn(p, zz) + 4.16666666666665929218e-2;
    return (1.0 - mul_rn(0.5, zz)) + mul_rn(mul_rn(zz, zz), p);
}

__device__ inline double go_trig(double x, bool cosine)
{
    const double PI4A = 7.85398125648498535156e-1, PI4B = 3.77489470793079817668e-8,
                 PI4C = 2.69515142907905952645e-15;
    if (!cosine && x == 0) return x;

    unsigned long long j = (unsigned long long)mul_rn(x, 1.27323954473516268615);  // 4/π
    double y = (double)j;
    if (j & 1) {
        j++;
        y++;
    }
    j &= 7;
    double z = ((x - mul_rn(y, PI4A)) - mul_rn(y, PI4B)) - mul_rn(y, PI4C);
    bool negate = false;
    if (j > 3) {
        j -= 4;
        negate = true;
    }
    if (cosine && j > 1) negate = !negate;
    double zz = mul_rn(z, z);
    double r = (j == 1 || j == 2) != cosine ? go_cos_poly(zz) : go_sin_poly(z, zz);
    return negate ? -r : r;
}

// normal_pair sets z[0] and z[1] to the two draws of RandNormal(0, 1) that
// the words w0, w1 of a Philox block give, as rand_normal_f32 computes them
// with mean 0 and std 1.
__device__ inline void normal_pair(unsigned w0, unsigned w1, float z[2])
{
    const double two_pow_m32 = 2.3283064365386962890625e-10;  // 2⁻³², exactly
    const double two_pi = 6.28318530717958647693;             // 2π, as Go's 2*math.Pi rounds
    const float mean = 0.0f, std = 1.0f;
    double u1 = ((double)w0 + 1) * two_pow_m32;
    double u2 = w1 * two_pow_m32;
    double r = sqrt(mul_rn(-2.0, go_log(u1)));
    double theta = mul_rn(two_pi, u2);
    z[0] = (float)(mean + mul_rn(std, mul_rn(r, go_trig(theta, true))));
    z[1] = (float)(mean + mul_rn(std, mul_rn(r, go_trig(theta, false))));
}

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
            rollout::normal_pair(w[k], w[k + 1], z);
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
            rollout::normal_pair(w[k], w[k + 1], z);
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
