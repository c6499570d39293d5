package bptt

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GaussianPolicy is a Gaussian policy on the host: u = μ_θ(s) + σ·ξ with ξ
// standard normal, μ_θ an MLP64 of tanh hidden layers and log σ a learned
// vector independent of the state (as in TRPO and PPO's continuous
// policies), and the action a = Bias + Scale·tanh(u) when Squash is set
// (bounded actions), a = u otherwise.
//
// Params holds the network's parameters followed by the |A| values of
// log σ; an optimiser steps it as one vector.
type GaussianPolicy struct {
	Mean        *MLP64
	LogStd      []float64 // view of the last |A| elements of Params
	Params      []float64
	Squash      bool
	Scale, Bias []float64 // of the squashed action; unused without Squash
}

// NewGaussianPolicy returns a policy for observations of obsDim elements and
// actions of actDim elements with hidden layers hidden (none: a linear
// policy), log σ initialised to logStd and zero parameters elsewhere; call
// Init. With low and high given (both nil for an unbounded policy) the
// action is squashed into [low, high].
func NewGaussianPolicy(obsDim, actDim int, hidden []int, logStd float64, low, high []float64) (*GaussianPolicy, error) {
	if obsDim <= 0 || actDim <= 0 {
		return nil, fmt.Errorf("bptt: policy of %d observations and %d actions: both must be positive", obsDim, actDim)
	}
	for _, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("bptt: policy hidden = %v: every size must be positive", hidden)
		}
	}
	sizes := append(append([]int{obsDim}, hidden...), actDim)
	n := MLP64Len(sizes)
	params := make([]float64, n+actDim)
	p := &GaussianPolicy{Mean: NewMLP64(sizes, Tanh, params[:n]), LogStd: params[n:], Params: params}
	for i := range p.LogStd {
		p.LogStd[i] = logStd
	}
	if low != nil || high != nil {
		if len(low) != actDim || len(high) != actDim {
			return nil, fmt.Errorf("bptt: action bounds of %d and %d elements for %d actions", len(low), len(high), actDim)
		}
		p.Squash = true
		for i := range low {
			if math.IsInf(low[i], 0) || math.IsInf(high[i], 0) || !(low[i] < high[i]) {
				return nil, fmt.Errorf("bptt: action bounds [%g, %g] of element %d must be finite with low < high", low[i], high[i], i)
			}
			p.Scale = append(p.Scale, (high[i]-low[i])/2)
			p.Bias = append(p.Bias, (high[i]+low[i])/2)
		}
	}
	return p, nil
}

// Init initialises the mean network from rng (see MLP64.Init; the output
// layer scaled by 0.01); log σ keeps its value.
func (p *GaussianPolicy) Init(rng *rand.Rand) { p.Mean.Init(rng, 0.01) }

// ActDim returns the number of action elements.
func (p *GaussianPolicy) ActDim() int { return len(p.LogStd) }

// Act returns the action for s with noise xi and, when grad is true, its
// vector–Jacobian product: back(∂L/∂a, grad) adds ∂L/∂θ into grad (laid
// out as Params) and returns ∂L/∂s.
func (p *GaussianPolicy) Act(s, xi []float64, gradient bool) ([]float64, func(da, grad []float64) []float64) {
	mu, tape := p.Mean.Forward(s, gradient)
	n := len(mu)
	u := make([]float64, n)
	a := make([]float64, n)
	for i := range n {
		u[i] = mu[i] + math.Exp(p.LogStd[i])*xi[i]
		a[i] = u[i]
		if p.Squash {
			a[i] = p.Bias[i] + p.Scale[i]*math.Tanh(u[i])
		}
	}
	if !gradient {
		return a, nil
	}
	back := func(da, grad []float64) []float64 {
		du := make([]float64, n)
		for i := range n {
			du[i] = da[i]
			if p.Squash {
				t := math.Tanh(u[i])
				du[i] *= p.Scale[i] * (1 - t*t)
			}
			grad[len(grad)-n+i] += du[i] * math.Exp(p.LogStd[i]) * xi[i]
		}
		return p.Mean.Backward(tape, du, grad[:len(grad)-n])
	}
	return a, back
}

// ScoreAdd adds w·∇_θ log π(a|s) into grad for the action a that Act(s, xi)
// gives. The tanh squashing's Jacobian does not depend on θ once a is
// fixed, so the score is that of u: ∂/∂μ = ξ/σ and ∂/∂log σ = ξ² − 1.
func (p *GaussianPolicy) ScoreAdd(s, xi []float64, w float64, grad []float64) {
	_, tape := p.Mean.Forward(s, true)
	n := len(p.LogStd)
	dmu := make([]float64, n)
	for i := range n {
		dmu[i] = w * xi[i] / math.Exp(p.LogStd[i])
		grad[len(grad)-n+i] += w * (xi[i]*xi[i] - 1)
	}
	p.Mean.Backward(tape, dmu, grad[:len(grad)-n])
}

// Mode returns the deterministic action for s: the mean, squashed.
func (p *GaussianPolicy) Mode(s []float64) []float64 {
	mu, _ := p.Mean.Forward(s, false)
	for i := range mu {
		if p.Squash {
			mu[i] = p.Bias[i] + p.Scale[i]*math.Tanh(mu[i])
		}
	}
	return mu
}

// ClampLogStd keeps log σ in [lo, hi] after an optimiser step: a policy
// gradient can otherwise drive σ to zero or make it explode.
func (p *GaussianPolicy) ClampLogStd(lo, hi float64) {
	for i, v := range p.LogStd {
		p.LogStd[i] = min(max(v, lo), hi)
	}
}
