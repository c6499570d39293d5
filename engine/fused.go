package engine

// Fused ops. An engine may implement any of the optional interfaces below to
// run a hot path in fewer launches; the package-level function of the same
// name uses the engine's fused op when it has one and otherwise composes the
// primitives. Both must give the same result within float32 rounding, which
// enginetest checks.

// Linearer is implemented by engines with a fused dense-layer forward.
type Linearer interface {
	// Linear has the contract of the function Linear.
	Linear(f Activation, y, x, w, b *Tensor)
}

// Linear computes the forward pass of a dense layer batched over ensemble
// members, y = f(x·w + b): x is [E, B, In] (E may be 1, shared by every
// member), w is [E, In, Out], b is [E, 1, Out] and y is [E, B, Out]. y must
// not overlap x, w or b.
func Linear(e Engine, f Activation, y, x, w, b *Tensor) {
	if l, ok := e.(Linearer); ok {
		l.Linear(f, y, x, w, b)
		return
	}
	e.Gemm(false, false, 1, x, w, 0, y)
	e.Binary(Add, y, y, b)
	if f != Identity {
		e.Activate(f, y, y)
	}
}
