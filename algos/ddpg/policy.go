package ddpg

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Policy is DDPG's deterministic actor, a = tanh(f(s)) for an MLP f with
// ReLU hidden layers and a linear output layer ([CleanRL] Actor: fc_mu
// followed by tanh). Its actions are in (−1, 1) per element; the caller
// rescales them to the environment's Box.
//
// Like the networks of nn, it keeps workspaces per batch size: the tensors
// it returns stay valid until its next call of the same method with the
// same batch size.
type Policy struct {
	Obs, Act int
	MLP      *nn.MLP
	Params   *nn.Params // "layers.i.weight" [1, ·, ·], "layers.i.bias" [1, 1, ·]

	eng  engine.Engine
	ws   map[int]*policyWS
	last *policyWS
}

type policyWS struct {
	b      int
	h      *engine.Tensor // the MLP's output of the last Forward, [1, B, Act]; a workspace of the MLP
	a      *engine.Tensor // [B, Act]: tanh(h) of Forward
	ia     *engine.Tensor // [B, Act]: the result of Infer
	dh     *engine.Tensor // [1, B, Act]
	hasFwd bool
}

// NewPolicy allocates a policy for observations of obs and actions of act
// elements with the given hidden layer sizes on eng. Its parameters are
// zero; call Init. Non-positive sizes are an error.
func NewPolicy(eng engine.Engine, obs, act int, hidden []int) (*Policy, error) {
	if obs <= 0 || act <= 0 {
		return nil, fmt.Errorf("ddpg: policy: observation size %d and action size %d must be positive", obs, act)
	}
	if len(hidden) == 0 {
		return nil, fmt.Errorf("ddpg: policy: hidden = %v: need at least one hidden layer", hidden)
	}
	for _, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("ddpg: policy: hidden = %v: every size must be positive", hidden)
		}
	}
	sizes := append(append([]int{obs}, hidden...), act)
	p := nn.NewParams(eng, nn.MLPSpecs("", 1, sizes)...)
	return &Policy{Obs: obs, Act: act, MLP: nn.NewMLP(p, "", engine.ReLU), Params: p, eng: eng, ws: map[int]*policyWS{}}, nil
}

// Init initialises the layers with PyTorch's default, FanInUniform, from
// rng, as [CleanRL]'s nn.Linear layers are.
func (p *Policy) Init(rng *engine.RNG) { p.MLP.Init(nn.FanInUniform, rng) }

// Target returns a new policy whose parameters are a copy of p's: a target
// actor, to be moved towards p with Params.Polyak.
func (p *Policy) Target() *Policy {
	hidden := make([]int, 0, len(p.MLP.Layers)-1)
	for _, l := range p.MLP.Layers[:len(p.MLP.Layers)-1] {
		hidden = append(hidden, l.Out)
	}
	t, err := NewPolicy(p.eng, p.Obs, p.Act, hidden)
	if err != nil {
		panic("ddpg: Policy.Target: " + err.Error()) // p's sizes were valid
	}
	t.Params.CopyFrom(p.Params)
	return t
}

func (p *Policy) workspace(op string, obs *engine.Tensor) *policyWS {
	if obs.Rank() != 2 || obs.Dim(1) != p.Obs {
		panic(fmt.Sprintf("ddpg: Policy.%s: observations %v, want [B %d]", op, obs.Shape(), p.Obs))
	}
	b := obs.Dim(0)
	w := p.ws[b]
	if w == nil {
		w = &policyWS{b: b}
		p.ws[b] = w
	}
	return w
}

func (p *Policy) alloc(t **engine.Tensor, shape ...int) *engine.Tensor {
	if *t == nil {
		*t = p.eng.New(engine.Float32, shape...)
	}
	return *t
}

// Forward returns the actions tanh(f(obs)) [B, Act] for observations obs
// [B, Obs] and keeps what Backward needs; obs must stay unchanged until
// then.
func (p *Policy) Forward(obs *engine.Tensor) *engine.Tensor {
	w := p.workspace("Forward", obs)
	w.h = p.MLP.Forward(obs)
	a := p.alloc(&w.a, w.b, p.Act)
	p.eng.Activate(engine.Tanh, a, w.h)
	w.hasFwd = true
	p.last = w
	return a
}

// Infer returns the actions for obs like Forward, keeping nothing for
// Backward and not disturbing a pending one.
func (p *Policy) Infer(obs *engine.Tensor) *engine.Tensor {
	w := p.workspace("Infer", obs)
	h := p.MLP.Infer(obs)
	a := p.alloc(&w.ia, w.b, p.Act)
	p.eng.Activate(engine.Tanh, a, h)
	return a
}

// Backward takes dAct = ∂L/∂a [B, Act] for the last Forward and accumulates
// ∂L/∂θ into Params.Grad, through ∂a/∂f = 1 − a². dAct is not modified.
func (p *Policy) Backward(dAct *engine.Tensor) {
	w := p.last
	if w == nil || !w.hasFwd {
		panic("ddpg: Policy.Backward without Forward")
	}
	if dAct.Len() != w.b*p.Act {
		panic(fmt.Sprintf("ddpg: Policy.Backward: dAct %v for actions [%d %d]", dAct.Shape(), w.b, p.Act))
	}
	dh := p.alloc(&w.dh, 1, w.b, p.Act)
	p.eng.ActivateGrad(engine.Tanh, dh, dAct.Reshape(1, w.b, p.Act), w.h, w.a.Reshape(1, w.b, p.Act))
	p.MLP.Backward(dh, nn.ParamGrad)
}

// ReleaseWorkspaces frees the workspaces of every batch size.
func (p *Policy) ReleaseWorkspaces() {
	for _, w := range p.ws {
		for _, t := range []*engine.Tensor{w.a, w.ia, w.dh} {
			if t != nil {
				p.eng.Free(t)
			}
		}
	}
	p.ws = map[int]*policyWS{}
	p.last = nil
	p.MLP.ReleaseWorkspaces()
}

// Free releases the policy's workspaces and parameters; it is unusable
// afterwards.
func (p *Policy) Free() {
	p.ReleaseWorkspaces()
	p.Params.Free()
}
