package bptt

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Activation is the hidden-layer nonlinearity of an MLP64.
type Activation uint8

const (
	Tanh Activation = iota // the policy's and the value function's
	SiLU                   // x·σ(x), the learned model's (nn.Ensemble)
)

// MLP64 is a multilayer perceptron in float64 on the host: the hidden layers
// apply Act, the output layer is linear. Layer i's weight is
// Sizes[i]×Sizes[i+1], row-major [in][out] as in nn.Dense, followed by its
// bias; all of them are views into one flat parameter vector, so that an
// optimiser sees a single slice. Everything in this package computes in
// float64 on the host: the pathwise gradient multiplies up to a hundred
// Jacobians, and the study compares gradients whose differences float32
// would blur.
type MLP64 struct {
	Sizes  []int
	Act    Activation
	Params []float64
	w, b   [][]float64
}

// MLP64Len returns the number of parameters of an MLP64 of sizes.
func MLP64Len(sizes []int) int {
	n := 0
	for i := 0; i+1 < len(sizes); i++ {
		n += sizes[i]*sizes[i+1] + sizes[i+1]
	}
	return n
}

// NewMLP64 returns the MLP64 of sizes = [in, hidden..., out] whose
// parameters are params, of MLP64Len(sizes) elements (the network views
// them; it does not copy). It panics on fewer than two sizes or a wrong
// length: both are programmer errors.
func NewMLP64(sizes []int, act Activation, params []float64) *MLP64 {
	if len(sizes) < 2 {
		panic(fmt.Sprintf("bptt: NewMLP64: sizes %v: want at least input and output", sizes))
	}
	if len(params) != MLP64Len(sizes) {
		panic(fmt.Sprintf("bptt: NewMLP64: %d parameters for sizes %v, want %d", len(params), sizes, MLP64Len(sizes)))
	}
	m := &MLP64{Sizes: append([]int(nil), sizes...), Act: act, Params: params}
	off := 0
	for i := 0; i+1 < len(sizes); i++ {
		in, out := sizes[i], sizes[i+1]
		m.w = append(m.w, params[off:off+in*out])
		off += in * out
		m.b = append(m.b, params[off:off+out])
		off += out
	}
	return m
}

// Init draws every weight from N(0, 1/in) (LeCun normal, which keeps tanh
// units out of saturation) and sets the biases to zero; the last layer's
// weights are scaled by lastScale (0.01 makes a policy start near a zero
// mean, as OpenAI Baselines' policy heads do).
func (m *MLP64) Init(rng *rand.Rand, lastScale float64) {
	for i := range m.w {
		std := 1 / math.Sqrt(float64(m.Sizes[i]))
		if i == len(m.w)-1 {
			std *= lastScale
		}
		for j := range m.w[i] {
			m.w[i][j] = std * rng.NormFloat64()
		}
		clear(m.b[i])
	}
}

// MLPTape is what MLP64.Backward needs of one Forward: every layer's input
// and, for the hidden layers, the pre-activation.
type MLPTape struct {
	inputs [][]float64
	pre    [][]float64
}

// Forward returns the output for input x and, when tape is true, the tape
// of the computation for Backward (nil otherwise).
func (m *MLP64) Forward(x []float64, tape bool) ([]float64, *MLPTape) {
	var t *MLPTape
	if tape {
		t = &MLPTape{}
	}
	for i := range m.w {
		in, out := m.Sizes[i], m.Sizes[i+1]
		y := make([]float64, out)
		copy(y, m.b[i])
		w := m.w[i]
		for k, xk := range x[:in] {
			if xk == 0 {
				continue
			}
			row := w[k*out : (k+1)*out]
			for j, wkj := range row {
				y[j] += xk * wkj
			}
		}
		if t != nil {
			t.inputs = append(t.inputs, x)
		}
		if i < len(m.w)-1 {
			if t != nil {
				t.pre = append(t.pre, append([]float64(nil), y...))
			}
			for j, v := range y {
				y[j] = activate(m.Act, v)
			}
		}
		x = y
	}
	return x, t
}

// Backward takes dy = ∂L/∂y for the Forward that made t, adds ∂L/∂θ into
// grad (laid out as Params; nil skips the parameter gradients) and returns
// ∂L/∂x. dy is not modified.
func (m *MLP64) Backward(t *MLPTape, dy []float64, grad []float64) []float64 {
	var gw, gb [][]float64
	if grad != nil {
		g := NewMLP64(m.Sizes, m.Act, grad)
		gw, gb = g.w, g.b
	}
	d := append([]float64(nil), dy...)
	for i := len(m.w) - 1; i >= 0; i-- {
		in, out := m.Sizes[i], m.Sizes[i+1]
		if i < len(m.w)-1 {
			for j, p := range t.pre[i] {
				d[j] *= activateGrad(m.Act, p)
			}
		}
		x, w := t.inputs[i], m.w[i]
		if gw != nil {
			for k, xk := range x[:in] {
				row := gw[i][k*out : (k+1)*out]
				for j, dj := range d {
					row[j] += xk * dj
				}
			}
			for j, dj := range d {
				gb[i][j] += dj
			}
		}
		dx := make([]float64, in)
		for k := range dx {
			row := w[k*out : (k+1)*out]
			s := 0.0
			for j, dj := range d {
				s += row[j] * dj
			}
			dx[k] = s
		}
		d = dx
	}
	return d
}

func activate(a Activation, x float64) float64 {
	if a == SiLU {
		return x * sigmoid(x)
	}
	return math.Tanh(x)
}

// activateGrad is the derivative of the activation at pre-activation x.
func activateGrad(a Activation, x float64) float64 {
	if a == SiLU {
		s := sigmoid(x)
		return s * (1 + x*(1-s))
	}
	y := math.Tanh(x)
	return 1 - y*y
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softplus is log(1 + eˣ), computed without overflow.
func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// Adam64 is Adam (Kingma & Ba 2015) on a flat float64 parameter vector,
// with PyTorch's defaults β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
type Adam64 struct {
	LR   float64
	m, v []float64
	t    int
}

// NewAdam64 returns Adam for n parameters with learning rate lr.
func NewAdam64(n int, lr float64) *Adam64 {
	return &Adam64{LR: lr, m: make([]float64, n), v: make([]float64, n)}
}

// Step moves params against grad (a descent step on the loss whose
// gradient grad is).
func (a *Adam64) Step(params, grad []float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	for i, g := range grad {
		a.m[i] = b1*a.m[i] + (1-b1)*g
		a.v[i] = b2*a.v[i] + (1-b2)*g*g
		params[i] -= a.LR * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps)
	}
}

// ClipNorm scales g in place to Euclidean norm at most max (max ≤ 0: no
// clipping) and returns its norm before clipping.
func ClipNorm(g []float64, max float64) float64 {
	n := Norm(g)
	if max > 0 && n > max {
		for i := range g {
			g[i] *= max / n
		}
	}
	return n
}

// Norm returns the Euclidean norm of v.
func Norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
