// One Adam or AdamW step over a flat parameter buffer: engine.Engine.Adam,
// following engine.AdamConfig's formula (PyTorch's torch.optim.Adam and
// AdamW) term by term. CPU reference: engine/cpu's Adam.
#include "common.cuh"

// adam_f32 updates p, m and v in place for i < n given the gradient g
// (unchanged); the four buffers are pairwise disjoint:
//
//	g' = g + l2·p
//	m  = beta1·m + (1−beta1)·g'
//	v  = beta2·v + (1−beta2)·g'²
//	p  = p − decay·p − step_size·m / (√v / sqrt_bc2 + eps)
//
// The host computes the step's constants in double and passes them rounded
// to float: for step t (1-based) and AdamConfig{LR, Beta1, Beta2, Eps,
// WeightDecay, Decoupled},
//
//	l2        = WeightDecay when !Decoupled, else 0   (L2 penalty, Adam)
//	decay     = LR·WeightDecay when Decoupled, else 0 (AdamW)
//	step_size = LR / (1 − Beta1^t)
//	sqrt_bc2  = √(1 − Beta2^t)
//
// m, v and the step run in float32, as PyTorch's CUDA Adam does; the new p
// is formed in double and rounded once.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void adam_f32(float* p, const float* g, float* m, float* v, long long n, float beta1, float beta2,
                                    float eps, float l2, float decay, float step_size, float sqrt_bc2)
{
    for (long long i = thread_index(); i < n; i += thread_count()) {
        float pi = p[i];
        float gi = fmaf(l2, pi, g[i]);
        float mi = fmaf(beta1, m[i], (1.0f - beta1) * gi);
        float vi = fmaf(beta2, v[i], (1.0f - beta2) * gi * gi);
        m[i] = mi;
        v[i] = vi;
        float step = step_size * mi / (sqrtf(vi) / sqrt_bc2 + eps);
        p[i] = (float)((double)pi - (double)decay * pi - step);
    }
}
