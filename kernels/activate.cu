// Activations and their backward: engine.Engine.Activate and ActivateGrad.
// The functions themselves are in common.cuh, shared with gemm_f32's
// epilogue. CPU reference: engine/cpu's activate and activateGrad.
#include "common.cuh"

// activate_f32 computes dst[i] = f(x[i]) for i < n, f the activation of
// code act (engine.Activation: identity, relu, silu, tanh, sigmoid,
// softplus). dst may be x.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void activate_f32(float* dst, const float* x, long long n, int act)
{
    for (long long i = thread_index(); i < n; i += thread_count()) dst[i] = activate(act, x[i]);
}

// activate_grad_f32 computes dx[i] = dy[i]·f'(x[i]) for i < n from the
// forward input x (the forward output y is not needed). dx may be dy.
// Launch: any 1-D grid and block (grid-stride), no dynamic shared memory.
extern "C" __global__ void activate_grad_f32(float* dx, const float* dy, const float* x, long long n, int act)
{
    for (long long i = thread_index(); i < n; i += thread_count()) dx[i] = dy[i] * activate_deriv(act, x[i]);
}
