package nn

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// GradMode says which gradients a backward pass computes.
type GradMode uint8

const (
	// ParamGrad accumulates ∂L/∂θ into the parameters' gradients.
	ParamGrad GradMode = 1 << iota
	// InputGrad computes and returns ∂L/∂x for the input of the forward
	// pass. SAC's actor loss needs it of the critic, without ParamGrad.
	InputGrad
	// OverwriteGrad, with ParamGrad, writes ∂L/∂θ into the gradients of
	// the layers the pass goes through instead of adding it to them: the
	// gradients ZeroGrad and an accumulating pass would leave, without
	// ZeroGrad's launch (PyTorch's zero_grad(set_to_none=True) has the
	// same effect on the next backward). Gradients of parameters outside
	// those layers keep their values.
	OverwriteGrad
)

// DenseSpecs returns the specs of a dense layer of e members mapping in
// features to out: prefix+"weight" [e, in, out] and prefix+"bias"
// [e, 1, out].
func DenseSpecs(prefix string, e, in, out int) []ParamSpec {
	return []ParamSpec{
		{Name: prefix + "weight", Shape: []int{e, in, out}},
		{Name: prefix + "bias", Shape: []int{e, 1, out}},
	}
}

// Dense is a fully connected layer batched over E ensemble members,
// y = f(x·W + b) for every member, with W [E, In, Out] and b [E, 1, Out].
// The input is [E, B, In], or [B, In] (equivalently [1, B, In]) shared by
// every member; the output is [E, B, Out].
type Dense struct {
	E, In, Out int
	Act        engine.Activation

	Weight, Bias         *engine.Tensor // views into Params.Data
	WeightGrad, BiasGrad *engine.Tensor // views into Params.Grad

	eng   engine.Engine
	ws    map[int]*denseWS
	last  *denseWS       // workspace of the last Forward, for Backward
	lastX *engine.Tensor // input of the last Forward
}

// denseWS is a Dense layer's workspace for one batch size. Every tensor is
// allocated the first time it is needed.
type denseWS struct {
	z    *engine.Tensor // [E, B, Out] pre-activation; not kept for Identity and ReLU
	y    *engine.Tensor // [E, B, Out] output of Forward
	iy   *engine.Tensor // [E, B, Out] output of Infer
	dz   *engine.Tensor // [E, B, Out] gradient of z; nil when Act is Identity
	dx   *engine.Tensor // [E, B, In] input gradient
	dxs  *engine.Tensor // [1, B, In] input gradient of a shared input
	ones *engine.Tensor // [1, 1, B] of ones: the bias gradient is ones·dz
}

// NewDense returns a dense layer whose weight and bias are the parameters
// prefix+"weight" [E, In, Out] and prefix+"bias" [E, 1, Out] of p (as made
// by DenseSpecs). It panics if they are missing or their shapes disagree.
func NewDense(p *Params, prefix string, act engine.Activation) *Dense {
	w, b := p.Param(prefix+"weight"), p.Param(prefix+"bias")
	if len(w.Shape) != 3 || len(b.Shape) != 3 || b.Shape[0] != w.Shape[0] || b.Shape[1] != 1 || b.Shape[2] != w.Shape[2] {
		panic(fmt.Sprintf("nn: NewDense %q: weight %v and bias %v, want [E In Out] and [E 1 Out]", prefix, w.Shape, b.Shape))
	}
	if p.Grad == nil {
		panic(fmt.Sprintf("nn: NewDense %q: parameters without gradients", prefix))
	}
	e, in, out := w.Shape[0], w.Shape[1], w.Shape[2]
	eng := p.Engine()
	return &Dense{
		E: e, In: in, Out: out, Act: act,
		Weight: w.Value, Bias: b.Value, WeightGrad: w.Grad, BiasGrad: b.Grad,
		eng: eng,
		ws:  map[int]*denseWS{},
	}
}

// Init initialises the weight and bias with scheme, drawing from rng.
func (d *Dense) Init(scheme Init, rng *engine.RNG) {
	initDense(d.eng, d.Weight, d.Bias, scheme, rng)
}

// batch checks that x is [E, B, In] or [1, B, In] or [B, In] and returns B
// and whether x is shared by every member.
func (d *Dense) batch(op string, x *engine.Tensor) (b int, shared bool) {
	if x.Rank() != 2 && x.Rank() != 3 {
		panic(fmt.Sprintf("nn: Dense.%s: input %v for weight [%d %d %d]: want rank 2 or 3", op, x.Shape(), d.E, d.In, d.Out))
	}
	e, b, in := x.Batch3()
	if in != d.In || (e != 1 && e != d.E) {
		panic(fmt.Sprintf("nn: Dense.%s: input %v for weight [%d %d %d]: want [%d B %d] or [B %d]",
			op, x.Shape(), d.E, d.In, d.Out, d.E, d.In, d.In))
	}
	return b, e == 1
}

func (d *Dense) workspace(b int) *denseWS {
	w := d.ws[b]
	if w == nil {
		w = &denseWS{}
		d.ws[b] = w
	}
	return w
}

func (d *Dense) alloc(t **engine.Tensor, shape ...int) *engine.Tensor {
	if *t == nil {
		*t = d.eng.New(engine.Float32, shape...)
	}
	return *t
}

// Forward computes y = f(x·W + b) and keeps x and what the activation's
// derivative needs for Backward. x must stay unchanged until then. The
// result is [E, B, Out] and belongs to the layer's workspace for batch size
// B.
//
// The product and the bias go through engine.Linear, one launch on engines
// with a fused dense layer. Identity and ReLU layers apply f there too and
// keep only y: ReLU's derivative at z is its derivative at y = max(z, 0)
// (1 where z > 0, which is where y > 0), so Backward differentiates at y.
// Other activations need z, and take a second pass.
func (d *Dense) Forward(x *engine.Tensor) *engine.Tensor {
	b, _ := d.batch("Forward", x)
	w := d.workspace(b)
	y := d.alloc(&w.y, d.E, b, d.Out)
	if d.keepsOutputOnly() {
		engine.Linear(d.eng, d.Act, y, x, d.Weight, d.Bias)
	} else {
		z := d.alloc(&w.z, d.E, b, d.Out)
		engine.Linear(d.eng, engine.Identity, z, x, d.Weight, d.Bias)
		d.eng.Activate(d.Act, y, z)
	}
	d.last, d.lastX = w, x
	return y
}

// keepsOutputOnly reports whether the layer's activation can be
// differentiated from its output alone, so that Forward keeps no separate
// pre-activation.
func (d *Dense) keepsOutputOnly() bool { return d.Act == engine.Identity || d.Act == engine.ReLU }

// Infer computes y = f(x·W + b) like Forward but keeps nothing for Backward,
// using the engine's fused Linear where it has one. Its result is a
// different workspace tensor from Forward's, so Infer does not disturb a
// pending Backward.
func (d *Dense) Infer(x *engine.Tensor) *engine.Tensor {
	b, _ := d.batch("Infer", x)
	w := d.workspace(b)
	y := d.alloc(&w.iy, d.E, b, d.Out)
	engine.Linear(d.eng, d.Act, y, x, d.Weight, d.Bias)
	return y
}

// Backward takes dy = ∂L/∂y [E, B, Out] for the last Forward and, as mode
// asks, accumulates ∂L/∂W and ∂L/∂b into WeightGrad and BiasGrad (writes
// them, with OverwriteGrad) and returns ∂L/∂x (else nil). ∂L/∂x has the
// shape of the forward input read as rank 3: [E, B, In], or [1, B, In] for
// a shared input, whose gradient is the sum over members. It belongs to the
// layer's workspace. dy is not modified.
//
// Each parameter gradient is one Gemm that adds into the gradient: x^T·dz
// for the weight and ones·dz, the column sums of dz, for the bias, which
// sums in float32 where ReduceCols would sum in float64 and then need a
// second launch to add.
func (d *Dense) Backward(dy *engine.Tensor, mode GradMode) *engine.Tensor {
	w, x := d.last, d.lastX
	if w == nil {
		panic("nn: Dense.Backward without Forward")
	}
	b, shared := d.batch("Backward", x)
	if e, r, c := dy.Batch3(); e != d.E || r != b || c != d.Out {
		panic(fmt.Sprintf("nn: Dense.Backward: dy %v for output [%d %d %d]", dy.Shape(), d.E, b, d.Out))
	}
	dz := dy
	if d.Act != engine.Identity {
		dz = d.alloc(&w.dz, d.E, b, d.Out)
		z := w.z
		if d.keepsOutputOnly() {
			z = w.y // see Forward
		}
		d.eng.ActivateGrad(d.Act, dz, dy, z, w.y)
	}
	if mode&ParamGrad != 0 {
		beta := float32(1)
		if mode&OverwriteGrad != 0 {
			beta = 0
		}
		if w.ones == nil {
			w.ones = d.eng.New(engine.Float32, 1, 1, b)
			d.eng.Fill(w.ones, 1)
		}
		d.eng.Gemm(true, false, 1, x, dz, beta, d.WeightGrad)
		d.eng.Gemm(false, false, 1, w.ones, dz, beta, d.BiasGrad)
	}
	if mode&InputGrad == 0 {
		return nil
	}
	if !shared || d.E == 1 {
		dx := d.alloc(&w.dx, d.E, b, d.In)
		if shared {
			dx = d.alloc(&w.dxs, 1, b, d.In)
		}
		d.eng.Gemm(false, true, 1, dz, d.Weight, 0, dx)
		return dx
	}
	// A shared input feeds every member: its gradient is the sum over
	// members of each member's gradient, a column sum of [E, B·In].
	dx := d.alloc(&w.dx, d.E, b, d.In)
	d.eng.Gemm(false, true, 1, dz, d.Weight, 0, dx)
	dxs := d.alloc(&w.dxs, 1, b, d.In)
	d.eng.ReduceCols(engine.Sum, dxs, dx.Reshape(1, d.E, b*d.In))
	return dxs
}

// ReleaseWorkspaces frees the layer's workspaces. The next call with any
// batch size allocates afresh.
func (d *Dense) ReleaseWorkspaces() {
	for _, w := range d.ws {
		for _, t := range []*engine.Tensor{w.z, w.y, w.iy, w.dz, w.dx, w.dxs, w.ones} {
			if t != nil {
				d.eng.Free(t)
			}
		}
	}
	d.ws = map[int]*denseWS{}
	d.last, d.lastX = nil, nil
}
