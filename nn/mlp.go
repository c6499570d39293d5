package nn

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// MLPSpecs returns the specs of a multilayer perceptron of e members with
// layer sizes sizes = [in, hidden..., out]: for layer i,
// prefix+"layers.i.weight" [e, sizes[i], sizes[i+1]] and
// prefix+"layers.i.bias" [e, 1, sizes[i+1]]. It panics if sizes has fewer
// than two entries.
func MLPSpecs(prefix string, e int, sizes []int) []ParamSpec {
	if len(sizes) < 2 {
		panic(fmt.Sprintf("nn: MLPSpecs: sizes %v: want at least input and output", sizes))
	}
	var specs []ParamSpec
	for i := 0; i+1 < len(sizes); i++ {
		specs = append(specs, DenseSpecs(fmt.Sprintf("%slayers.%d.", prefix, i), e, sizes[i], sizes[i+1])...)
	}
	return specs
}

// MLP is a stack of Dense layers batched over ensemble members: every hidden
// layer applies the activation, the output layer is linear.
type MLP struct {
	Layers []*Dense
	Params *Params // the parameters the layers view (possibly shared with other parts of a network)
}

// NewMLP returns the MLP whose layers are the parameters prefix+"layers.0.",
// prefix+"layers.1.", … of p (as made by MLPSpecs), with activation act
// after every layer but the last. It panics if p has no such layers or their
// shapes do not chain.
func NewMLP(p *Params, prefix string, act engine.Activation) *MLP {
	m := &MLP{Params: p}
	for i := 0; p.Lookup(fmt.Sprintf("%slayers.%d.weight", prefix, i)) != nil; i++ {
		m.Layers = append(m.Layers, NewDense(p, fmt.Sprintf("%slayers.%d.", prefix, i), act))
	}
	if len(m.Layers) == 0 {
		panic(fmt.Sprintf("nn: NewMLP: no parameter %slayers.0.weight", prefix))
	}
	for i, l := range m.Layers {
		if i > 0 {
			if prev := m.Layers[i-1]; l.E != prev.E || l.In != prev.Out {
				panic(fmt.Sprintf("nn: NewMLP: layer %d [%d %d %d] does not follow layer %d [%d %d %d]",
					i, l.E, l.In, l.Out, i-1, prev.E, prev.In, prev.Out))
			}
		}
	}
	m.Layers[len(m.Layers)-1].Act = engine.Identity
	return m
}

// NewMLPParams is the one-call form for a standalone MLP: it allocates
// parameters for MLPSpecs("", e, sizes) on eng and returns NewMLP over them.
// The parameters are zero; call Init.
func NewMLPParams(eng engine.Engine, e int, sizes []int, act engine.Activation) *MLP {
	return NewMLP(NewParams(eng, MLPSpecs("", e, sizes)...), "", act)
}

// E returns the number of ensemble members.
func (m *MLP) E() int { return m.Layers[0].E }

// In returns the input size.
func (m *MLP) In() int { return m.Layers[0].In }

// Out returns the output size.
func (m *MLP) Out() int { return m.Layers[len(m.Layers)-1].Out }

// Init initialises every layer with scheme, in order, drawing from rng.
func (m *MLP) Init(scheme Init, rng *engine.RNG) {
	for _, l := range m.Layers {
		l.Init(scheme, rng)
	}
}

// Forward runs the network on x ([E, B, In], or [B, In] shared by every
// member) and keeps what Backward needs; x must stay unchanged until then.
// The result is [E, B, Out] and belongs to the workspace for batch size B.
func (m *MLP) Forward(x *engine.Tensor) *engine.Tensor {
	for _, l := range m.Layers {
		x = l.Forward(x)
	}
	return x
}

// Infer runs the network like Forward, keeping nothing for Backward and
// using the engine's fused Linear where it has one. It does not disturb a
// pending Backward.
func (m *MLP) Infer(x *engine.Tensor) *engine.Tensor {
	for _, l := range m.Layers {
		x = l.Infer(x)
	}
	return x
}

// Backward takes dy = ∂L/∂y [E, B, Out] for the last Forward and, as mode
// asks, accumulates the parameter gradients (writes them, with
// OverwriteGrad) and returns ∂L/∂x (shaped as in Dense.Backward; nil
// without InputGrad). dy is not modified.
func (m *MLP) Backward(dy *engine.Tensor, mode GradMode) *engine.Tensor {
	for i := len(m.Layers) - 1; i >= 0; i-- {
		lm := mode
		if i > 0 {
			lm |= InputGrad
		}
		dy = m.Layers[i].Backward(dy, lm)
	}
	return dy
}

// ReleaseWorkspaces frees every layer's workspaces.
func (m *MLP) ReleaseWorkspaces() {
	for _, l := range m.Layers {
		l.ReleaseWorkspaces()
	}
}
