package bptt

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Model is a differentiable stochastic model of an environment's step, in
// float64 on the host, with its noise reparameterised: the next state is a
// deterministic function of the state, the action and a standard normal ε
// of ObsDim elements, so that a rollout with its ε fixed can be
// differentiated.
type Model interface {
	ObsDim() int
	ActDim() int
	// Step returns the next state s' and the reward r of taking a in s with
	// noise eps, and, when grad is true, the vector–Jacobian product of
	// the step: back(∂L/∂s', ∂L/∂r) returns (∂L/∂s, ∂L/∂a). back is nil
	// when grad is false.
	Step(s, a, eps []float64, grad bool) (next []float64, r float64, back func(dNext []float64, dr float64) (ds, da []float64))
}

// Member is one member of a trained nn.Ensemble copied to the host: with
// x = [s, a] standardised by the input statistics, the member's network
// gives the mean and the bounded log-variance of [Δs, r] in standardised
// target units, and
//
//	s' = s + μ_Δ + exp(lv_Δ/2)·ε,   r = μ_r
//
// in the targets' own units, as MBPO's rollouts take them
// (jannerm/mbpo, mbpo/models/fake_env.py) but for the reward, which is the
// predicted mean: its noise would add variance to both estimators and
// carries no gradient.
type Member struct {
	Net                  *MLP64
	obsDim, actDim       int
	inMean, inStd        []float64
	outMean, outStd      []float64
	maxLogVar, minLogVar []float64
}

var _ Model = (*Member)(nil)

// MembersFrom copies the members of m whose indices are in members to the
// host, for observations of obsDim elements (m's input is [obs, action] and
// its output [Δobs, reward], as mbpo.Dynamics builds it). It downloads the
// parameters and the standardisers' statistics once.
func MembersFrom(eng engine.Engine, m *nn.Ensemble, obsDim int, members []int) ([]*Member, error) {
	cfg := m.Config
	if cfg.Out != obsDim+1 || cfg.In <= obsDim {
		return nil, fmt.Errorf("bptt: ensemble maps %d inputs to %d outputs; want [obs, action] with obs of %d elements to [Δobs, reward]", cfg.In, cfg.Out, obsDim)
	}
	sizes := append(append([]int{cfg.In}, cfg.Hidden...), 2*cfg.Out)
	down := func(t *engine.Tensor) []float64 {
		h := make([]float32, t.Len())
		eng.Download(h, t)
		return widen(h)
	}
	inMean, inStd := down(m.InputNorm.Mean), down(m.InputNorm.Std)
	outMean, outStd := down(m.TargetNorm.Mean), down(m.TargetNorm.Std)
	maxLV, minLV := down(m.MaxLogVar), down(m.MinLogVar)
	var weights, biases [][]float32
	for i := 0; i+1 < len(sizes); i++ {
		weights = append(weights, m.Params.Value(fmt.Sprintf("layers.%d.weight", i)))
		biases = append(biases, m.Params.Value(fmt.Sprintf("layers.%d.bias", i)))
	}
	var out []*Member
	for _, e := range members {
		if e < 0 || e >= cfg.Members {
			return nil, fmt.Errorf("bptt: member %d of an ensemble of %d", e, cfg.Members)
		}
		params := make([]float64, MLP64Len(sizes))
		net := NewMLP64(sizes, SiLU, params)
		for i := range net.w {
			nw, nb := len(net.w[i]), len(net.b[i])
			for j := range nw {
				net.w[i][j] = float64(weights[i][e*nw+j])
			}
			for j := range nb {
				net.b[i][j] = float64(biases[i][e*nb+j])
			}
		}
		out = append(out, &Member{
			Net: net, obsDim: obsDim, actDim: cfg.In - obsDim,
			inMean: inMean, inStd: inStd, outMean: outMean, outStd: outStd,
			maxLogVar: maxLV, minLogVar: minLV,
		})
	}
	return out, nil
}

func widen(h []float32) []float64 {
	v := make([]float64, len(h))
	for i, x := range h {
		v[i] = float64(x)
	}
	return v
}

func (m *Member) ObsDim() int { return m.obsDim }
func (m *Member) ActDim() int { return m.actDim }

// Step implements Model. The log-variance bounds are those of
// nn.Ensemble: lv = min + softplus(max − softplus(max − raw) − min), whose
// derivative is σ(v)·σ(u) with u = max − raw and v the inner argument.
func (m *Member) Step(s, a, eps []float64, grad bool) ([]float64, float64, func([]float64, float64) ([]float64, []float64)) {
	o, d := m.obsDim, m.obsDim+1
	x := make([]float64, o+m.actDim)
	for i := range x {
		v := a[max(0, i-o)]
		if i < o {
			v = s[i]
		}
		x[i] = (v - m.inMean[i]) / m.inStd[i]
	}
	y, tape := m.Net.Forward(x, grad)
	next := make([]float64, o)
	sd := make([]float64, o)  // the noise's scale in target units
	dlv := make([]float64, o) // ∂lv/∂raw
	for i := range o {
		raw := y[d+i]
		u := m.maxLogVar[i] - raw
		v := m.maxLogVar[i] - softplus(u) - m.minLogVar[i]
		lv := m.minLogVar[i] + softplus(v)
		dlv[i] = sigmoid(v) * sigmoid(u)
		sd[i] = math.Exp(lv/2) * m.outStd[i] // exp((lv + 2 log σ_y)/2)
		next[i] = s[i] + y[i]*m.outStd[i] + m.outMean[i] + sd[i]*eps[i]
	}
	r := y[o]*m.outStd[o] + m.outMean[o]
	if !grad {
		return next, r, nil
	}
	back := func(dNext []float64, dr float64) ([]float64, []float64) {
		dy := make([]float64, 2*d)
		for i := range o {
			dy[i] = dNext[i] * m.outStd[i]
			// ∂s'/∂lv = sd·ε/2.
			dy[d+i] = dNext[i] * sd[i] * eps[i] / 2 * dlv[i]
		}
		dy[o] = dr * m.outStd[o]
		dx := m.Net.Backward(tape, dy, nil)
		ds := make([]float64, o)
		da := make([]float64, m.actDim)
		for i := range o {
			ds[i] = dNext[i] + dx[i]/m.inStd[i]
		}
		for i := range da {
			da[i] = dx[o+i] / m.inStd[o+i]
		}
		return ds, da
	}
	return next, r, back
}
