package oracle

import (
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MLP holds the parameters of a dense network with a Gaussian head, in host
// memory and float64: the model that package nn trains as one ensemble
// member of the dynamics model. Every hidden layer applies SiLU; the last
// layer is linear and its 2·D outputs are the mean (first D) and the raw
// log-variance (last D).
type MLP struct {
	// Sizes are the layer widths, the input first and 2·D last.
	Sizes []int
	// W[l] is the weight of layer l, [Sizes[l], Sizes[l+1]] row-major, so
	// that a layer computes x·W[l] + B[l] on rows x.
	W [][]float64
	// B[l] is the bias of layer l, Sizes[l+1] values.
	B [][]float64
	// MaxLogVar and MinLogVar are the learnable soft bounds of the
	// log-variance, D values each.
	MaxLogVar, MinLogVar []float64
}

// D returns the output dimension, half the width of the last layer.
func (m *MLP) D() int { return m.Sizes[len(m.Sizes)-1] / 2 }

// ZeroLike returns an MLP of m's sizes with every parameter zero.
func (m *MLP) ZeroLike() MLP {
	z := MLP{Sizes: slices.Clone(m.Sizes)}
	for l := range m.W {
		z.W = append(z.W, make([]float64, len(m.W[l])))
		z.B = append(z.B, make([]float64, len(m.B[l])))
	}
	z.MaxLogVar = make([]float64, len(m.MaxLogVar))
	z.MinLogVar = make([]float64, len(m.MinLogVar))
	return z
}

// Tensors lists the parameter tensors of m under stable names (w0, b0, …,
// max_logvar, min_logvar). The slices alias m.
func (m *MLP) Tensors() []NamedTensor {
	var ts []NamedTensor
	for l := range m.W {
		ts = append(ts,
			NamedTensor{fmt.Sprintf("w%d", l), m.W[l]},
			NamedTensor{fmt.Sprintf("b%d", l), m.B[l]})
	}
	return append(ts, NamedTensor{"max_logvar", m.MaxLogVar}, NamedTensor{"min_logvar", m.MinLogVar})
}

// NamedTensor is a parameter tensor and its name.
type NamedTensor struct {
	Name   string
	Values []float64
}

// check panics unless every tensor of m has the length its sizes imply.
func (m *MLP) check() {
	if len(m.Sizes) < 2 || m.Sizes[len(m.Sizes)-1]%2 != 0 {
		panic(fmt.Sprintf("oracle: MLP sizes %v: want at least two layers and an even output width", m.Sizes))
	}
	nl := len(m.Sizes) - 1
	if len(m.W) != nl || len(m.B) != nl {
		panic(fmt.Sprintf("oracle: MLP sizes %v give %d layers, have %d weights and %d biases", m.Sizes, nl, len(m.W), len(m.B)))
	}
	for l := range nl {
		if len(m.W[l]) != m.Sizes[l]*m.Sizes[l+1] || len(m.B[l]) != m.Sizes[l+1] {
			panic(fmt.Sprintf("oracle: layer %d of %v: weight has %d values, bias %d", l, m.Sizes, len(m.W[l]), len(m.B[l])))
		}
	}
	if d := m.D(); len(m.MaxLogVar) != d || len(m.MinLogVar) != d {
		panic(fmt.Sprintf("oracle: D = %d but max/min log-variance have %d and %d values", d, len(m.MaxLogVar), len(m.MinLogVar)))
	}
}

// GaussianNLL computes, with gorgonia in float64, the loss that package nn
// trains the dynamics model on, and its gradient with respect to every
// parameter of m. x holds N rows of m.Sizes[0] inputs and y N rows of D
// targets, row-major. With out = MLP(x) split into the mean μ and the raw
// log-variance r,
//
//	lv   = max − softplus(max − r)
//	lv   = min + softplus(lv − min)
//	loss = mean over rows and dims of (μ − y)²·e^(−lv) + lv
//	       + boundCoef·(Σ max − Σ min)
//
// as in the official PETS code (dmbrl/modeling/models/BNN.py: the bounds in
// _compile_outputs, the loss in _compile_losses, the 0.01 bound penalty in
// finalize), which MBPO reuses. m, x and y are not modified.
func GaussianNLL(m *MLP, x, y []float64, boundCoef float64) (loss float64, grad MLP, err error) {
	m.check()
	in, d := m.Sizes[0], m.D()
	if len(x)%in != 0 || len(y) != len(x)/in*d {
		panic(fmt.Sprintf("oracle: x has %d values and y %d for %d inputs and %d outputs per row", len(x), len(y), in, d))
	}
	n := len(x) / in

	g := gorgonia.NewGraph()
	// matrix makes a node of shape [r, c] holding a copy of v, so that
	// gorgonia never writes to the caller's memory.
	matrix := func(name string, r, c int, v []float64) *gorgonia.Node {
		t := tensor.New(tensor.WithShape(r, c), tensor.WithBacking(slices.Clone(v)))
		return gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(r, c), gorgonia.WithName(name), gorgonia.WithValue(t))
	}
	// bcast0 is the broadcast pattern of a [1, C] operand repeated over rows.
	bcast0 := []byte{0}

	var params []*gorgonia.Node
	h := matrix("x", n, in, x)
	for l := range m.W {
		w := matrix(fmt.Sprintf("w%d", l), m.Sizes[l], m.Sizes[l+1], m.W[l])
		b := matrix(fmt.Sprintf("b%d", l), 1, m.Sizes[l+1], m.B[l])
		params = append(params, w, b)
		if h, err = gorgonia.Mul(h, w); err != nil {
			return 0, MLP{}, fmt.Errorf("layer %d: x·w: %w", l, err)
		}
		if h, err = gorgonia.BroadcastAdd(h, b, nil, bcast0); err != nil {
			return 0, MLP{}, fmt.Errorf("layer %d: + b: %w", l, err)
		}
		if l < len(m.W)-1 {
			// SiLU(h) = h·σ(h); gorgonia has no fused op for it.
			s, err := gorgonia.Sigmoid(h)
			if err != nil {
				return 0, MLP{}, fmt.Errorf("layer %d: σ: %w", l, err)
			}
			if h, err = gorgonia.HadamardProd(h, s); err != nil {
				return 0, MLP{}, fmt.Errorf("layer %d: h·σ(h): %w", l, err)
			}
		}
	}
	maxLV := matrix("max_logvar", 1, d, m.MaxLogVar)
	minLV := matrix("min_logvar", 1, d, m.MinLogVar)
	params = append(params, maxLV, minLV)
	target := matrix("y", n, d, y)

	// The loss is written one gorgonia op per line; ops collects the first
	// error so that the formula reads top to bottom.
	var opErr error
	op := func(v *gorgonia.Node, err error) *gorgonia.Node {
		if err != nil && opErr == nil {
			opErr = err
		}
		return v
	}
	mu := op(gorgonia.Slice(h, nil, gorgonia.S(0, d)))
	raw := op(gorgonia.Slice(h, nil, gorgonia.S(d, 2*d)))
	lv := op(gorgonia.BroadcastSub(maxLV, op(gorgonia.Softplus(op(gorgonia.BroadcastSub(maxLV, raw, bcast0, nil)))), bcast0, nil))
	lv = op(gorgonia.BroadcastAdd(minLV, op(gorgonia.Softplus(op(gorgonia.BroadcastSub(lv, minLV, nil, bcast0)))), bcast0, nil))
	sq := op(gorgonia.Square(op(gorgonia.Sub(mu, target))))
	invVar := op(gorgonia.Exp(op(gorgonia.Neg(lv))))
	nll := op(gorgonia.Mean(op(gorgonia.Add(op(gorgonia.HadamardProd(sq, invVar)), lv))))
	bound := op(gorgonia.Sub(op(gorgonia.Sum(maxLV)), op(gorgonia.Sum(minLV))))
	cost := op(gorgonia.Add(nll, op(gorgonia.Mul(gorgonia.NewConstant(boundCoef), bound))))
	if opErr != nil {
		return 0, MLP{}, fmt.Errorf("build loss: %w", opErr)
	}

	grads, err := gorgonia.Grad(cost, params...)
	if err != nil {
		return 0, MLP{}, fmt.Errorf("differentiate loss: %w", err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return 0, MLP{}, fmt.Errorf("run graph: %w", err)
	}

	loss, ok := cost.Value().Data().(float64)
	if !ok {
		return 0, MLP{}, fmt.Errorf("loss value is %T, want float64", cost.Value().Data())
	}
	grad = m.ZeroLike()
	for i, t := range grad.Tensors() {
		v, ok := grads[i].Value().Data().([]float64)
		if !ok || len(v) != len(t.Values) {
			return 0, MLP{}, fmt.Errorf("gradient of %s: got %T of length %d, want %d float64s", t.Name, grads[i].Value().Data(), len(v), len(t.Values))
		}
		copy(t.Values, v)
	}
	return loss, grad, nil
}
