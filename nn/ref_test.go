package nn

// Float64 host references of the computations in package nn, and the
// finite-difference machinery the gradient tests share.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// Tolerances of the gradient tests. The engine computes in float32 (about
// 6e-8 relative rounding per operation) and the reference in float64; the
// networks here are a few layers of under ten units, so the analytic
// float32 gradients agree with the float64 central differences (truncation
// error O(h²) ≈ 1e-10 at gonum's default step) to about 1e-6 of the largest
// gradient entry: the worst seen is 3e-6, for min_logvar, whose gradient
// sums terms that nearly cancel. gradTol leaves a margin of 30; a wrong
// coefficient of 1% in any backward term fails it (checked by mutating the
// code), a wrong term gives errors of order 1.
const (
	gradTol    = 1e-4 // max |analytic − fd| / max |fd| per parameter tensor
	forwardTol = 1e-4 // max |nn − reference| / max |reference| per output
)

// openTestEngine opens the engine the tests run on: the CPU engine, or,
// with a CUDA build tag, the CUDA engine (engine_cuda_test.go), so that
// every test here also checks the CUDA kernels and the fused ops the CPU
// engine does not have (engine.Linear).
var openTestEngine = func(testing.TB) engine.Engine { return cpu.New() }

func newEngine(t testing.TB) engine.Engine {
	e := openTestEngine(t)
	t.Cleanup(func() { e.Close() })
	return e
}

// hostParams holds float64 copies of a Params' values by name.
type hostParams map[string][]float64

// randomize sets every parameter of p to values drawn from U[−scale, scale)
// (rounded to float32) and returns their float64 copies.
func randomize(p *Params, rng *rand.Rand, scale float64) hostParams {
	hp := hostParams{}
	for _, q := range p.All() {
		v := make([]float32, q.Len())
		h := make([]float64, q.Len())
		for i := range v {
			v[i] = float32(scale * (2*rng.Float64() - 1))
			h[i] = float64(v[i])
		}
		p.Set(q.Name, v)
		hp[q.Name] = h
	}
	return hp
}

// upload makes a device tensor of shape holding random values in
// [−scale, scale) and returns it with its float64 copy.
func upload(eng engine.Engine, rng *rand.Rand, scale float64, shape ...int) (*engine.Tensor, []float64) {
	t := eng.New(engine.Float32, shape...)
	v := make([]float32, t.Len())
	h := make([]float64, t.Len())
	for i := range v {
		v[i] = float32(scale * (2*rng.Float64() - 1))
		h[i] = float64(v[i])
	}
	eng.Upload(t, v)
	return t, h
}

func download(eng engine.Engine, t *engine.Tensor) []float64 {
	v := make([]float32, t.Len())
	eng.Download(v, t)
	return f64(v)
}

func f64(v []float32) []float64 {
	h := make([]float64, len(v))
	for i, x := range v {
		h[i] = float64(x)
	}
	return h
}

// fdGradient differentiates f with central differences at x.
func fdGradient(f func([]float64) float64, x []float64) []float64 {
	return fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central})
}

// checkParamGrads compares the gradients accumulated in p.Grad with the
// central differences of loss, a float64 function of p's values, at hp.
func checkParamGrads(t *testing.T, p *Params, hp hostParams, loss func(hostParams) float64) {
	t.Helper()
	names := p.Names()
	var x []float64
	for _, n := range names {
		x = append(x, hp[n]...)
	}
	unflatten := func(x []float64) hostParams {
		h := hostParams{}
		off := 0
		for _, n := range names {
			h[n] = x[off : off+len(hp[n])]
			off += len(hp[n])
		}
		return h
	}
	want := fdGradient(func(x []float64) float64 { return loss(unflatten(x)) }, x)
	wh := unflatten(want)
	for _, n := range names {
		checkClose(t, "gradient of "+n, f64(p.Gradient(n)), wh[n], gradTol)
	}
}

// checkClose fails unless max|got − want| ≤ tol·max|want| (or tol when
// want is all zero).
func checkClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var maxErr, maxRef float64
	worst := 0
	for i := range got {
		if e := math.Abs(got[i] - want[i]); e > maxErr || math.IsNaN(e) {
			maxErr, worst = e, i
		}
		maxRef = math.Max(maxRef, math.Abs(want[i]))
	}
	rel := maxErr / math.Max(maxRef, 1e-300)
	if maxRef == 0 {
		rel = maxErr
	}
	t.Logf("%s: relative error %.2g", what, rel)
	if !(rel <= tol) {
		t.Errorf("%s: max error %.3g relative to max |want| %.3g = %.3g > %.0e (worst at %d: got %.8g, want %.8g)",
			what, maxErr, maxRef, rel, tol, worst, got[worst], want[worst])
	}
}

func act64(f engine.Activation, x float64) float64 {
	switch f {
	case engine.Identity:
		return x
	case engine.ReLU:
		return math.Max(x, 0)
	case engine.SiLU:
		return x / (1 + math.Exp(-x))
	case engine.Tanh:
		return math.Tanh(x)
	case engine.Sigmoid:
		return 1 / (1 + math.Exp(-x))
	case engine.Softplus:
		return softplus64(x)
	}
	panic(fmt.Sprint("no reference for ", f))
}

func softplus64(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// refDense computes y = f(x·W + b) for every member: x is [ex, B, in] with
// ex = 1 (shared) or e, w [e, in, out], b [e, out]; y is [e, B, out].
func refDense(x []float64, ex, batch int, w, b []float64, e, in, out int, f engine.Activation) []float64 {
	y := make([]float64, e*batch*out)
	for m := 0; m < e; m++ {
		xm := x
		if ex > 1 {
			xm = x[m*batch*in:]
		}
		for r := 0; r < batch; r++ {
			for j := 0; j < out; j++ {
				s := b[m*out+j]
				for k := 0; k < in; k++ {
					s += xm[r*in+k] * w[(m*in+k)*out+j]
				}
				y[(m*batch+r)*out+j] = act64(f, s)
			}
		}
	}
	return y
}

// refMLP runs the MLP of parameters hp (names prefix+"layers.i.") with
// layer sizes sizes and e members on x [ex, B, sizes[0]].
func refMLP(hp hostParams, prefix string, e int, sizes []int, f engine.Activation, x []float64, ex, batch int) []float64 {
	for i := 0; i+1 < len(sizes); i++ {
		a := f
		if i+2 == len(sizes) {
			a = engine.Identity
		}
		w, b := hp[fmt.Sprintf("%slayers.%d.weight", prefix, i)], hp[fmt.Sprintf("%slayers.%d.bias", prefix, i)]
		x = refDense(x, ex, batch, w, b, e, sizes[i], sizes[i+1], a)
		ex = e
	}
	return x
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
