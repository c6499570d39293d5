package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// TestDenseGradients checks Dense's forward pass against the float64
// reference and its weight, bias and input gradients against central
// differences of L = Σ c⊙y for a random c, for a per-member input
// [E, B, In], a shared input [B, In], and E = 1.
func TestDenseGradients(t *testing.T) {
	const batch, in, out = 4, 5, 3
	for _, tc := range []struct {
		e      int
		shared bool
		act    engine.Activation
	}{
		{3, false, engine.SiLU},
		{3, true, engine.Tanh},
		{1, true, engine.Softplus},
		{2, false, engine.Identity},
		{2, true, engine.Sigmoid},
		{2, true, engine.ReLU}, // differentiated at the output (see Forward)
		{1, false, engine.ReLU},
	} {
		t.Run(fmt.Sprintf("E=%d/shared=%v/%v", tc.e, tc.shared, tc.act), func(t *testing.T) {
			eng := newEngine(t)
			rng := rand.New(rand.NewPCG(1, uint64(tc.e)))
			p := NewParams(eng, DenseSpecs("", tc.e, in, out)...)
			d := NewDense(p, "", tc.act)
			hp := randomize(p, rng, 1)
			ex := tc.e
			shape := []int{tc.e, batch, in}
			if tc.shared {
				ex, shape = 1, []int{batch, in}
			}
			x, hx := upload(eng, rng, 1, shape...)
			c, hc := upload(eng, rng, 1, tc.e, batch, out)

			y := d.Forward(x)
			ref := func(hp hostParams, hx []float64) []float64 {
				return refDense(hx, ex, batch, hp["weight"], hp["bias"], tc.e, in, out, tc.act)
			}
			checkClose(t, "forward", download(eng, y), ref(hp, hx), forwardTol)
			if got := download(eng, d.Infer(x)); true {
				checkClose(t, "infer", got, ref(hp, hx), forwardTol)
			}

			p.ZeroGrad()
			dx := d.Backward(c, ParamGrad|InputGrad)
			if dx.Len() != x.Len() {
				t.Fatalf("dx %v for x %v", dx.Shape(), x.Shape())
			}
			checkParamGrads(t, p, hp, func(h hostParams) float64 { return dot(hc, ref(h, hx)) })
			wantDx := fdGradient(func(v []float64) float64 { return dot(hc, ref(hp, v)) }, hx)
			checkClose(t, "input gradient", download(eng, dx), wantDx, gradTol)

			// Gradients accumulate: a second Backward doubles them.
			g1 := map[string][]float64{"weight": f64(p.Gradient("weight")), "bias": f64(p.Gradient("bias"))}
			d.Backward(c, ParamGrad)
			for name, g := range g1 {
				want := make([]float64, len(g))
				for i := range g {
					want[i] = 2 * g[i]
				}
				checkClose(t, "accumulated gradient of "+name, f64(p.Gradient(name)), want, 1e-6)
			}
			// OverwriteGrad writes them instead, not reading what was
			// there (NaN here).
			eng.Fill(p.Grad, float32(math.NaN()))
			d.Backward(c, ParamGrad|OverwriteGrad)
			for name, g := range g1 {
				checkClose(t, "overwritten gradient of "+name, f64(p.Gradient(name)), g, 1e-6)
			}
		})
	}
}

// TestMLPGradients checks a three-layer ensemble MLP (hidden SiLU, linear
// output) against the float64 reference and central differences of
// L = Σ c⊙y, with per-member and shared inputs.
func TestMLPGradients(t *testing.T) {
	sizes := []int{4, 6, 5, 3}
	const e, batch = 2, 3
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			eng := newEngine(t)
			rng := rand.New(rand.NewPCG(2, 0))
			m := NewMLPParams(eng, e, sizes, engine.SiLU)
			hp := randomize(m.Params, rng, 0.8)
			ex, shape := e, []int{e, batch, sizes[0]}
			if shared {
				ex, shape = 1, []int{batch, sizes[0]}
			}
			x, hx := upload(eng, rng, 1, shape...)
			c, hc := upload(eng, rng, 1, e, batch, sizes[len(sizes)-1])
			ref := func(h hostParams, hx []float64) []float64 {
				return refMLP(h, "", e, sizes, engine.SiLU, hx, ex, batch)
			}
			checkClose(t, "forward", download(eng, m.Forward(x)), ref(hp, hx), forwardTol)
			checkClose(t, "infer", download(eng, m.Infer(x)), ref(hp, hx), forwardTol)
			m.Params.ZeroGrad()
			dx := m.Backward(c, ParamGrad|InputGrad)
			checkParamGrads(t, m.Params, hp, func(h hostParams) float64 { return dot(hc, ref(h, hx)) })
			wantDx := fdGradient(func(v []float64) float64 { return dot(hc, ref(hp, v)) }, hx)
			checkClose(t, "input gradient", download(eng, dx), wantDx, gradTol)

			// InputGrad alone leaves the parameter gradients alone.
			m.Params.ZeroGrad()
			m.Backward(c, InputGrad)
			for _, n := range m.Params.Names() {
				for _, g := range m.Params.Gradient(n) {
					if g != 0 {
						t.Fatalf("InputGrad-only backward wrote gradient of %s", n)
					}
				}
			}
		})
	}
}

// TestMSE checks the MSE loss and its gradient against float64.
func TestMSE(t *testing.T) {
	eng := newEngine(t)
	rng := rand.New(rand.NewPCG(3, 0))
	pred, hp := upload(eng, rng, 2, 5, 3)
	target, ht := upload(eng, rng, 2, 5, 3)
	loss := eng.New(engine.Float32, 1)
	dpred := eng.New(engine.Float32, 5, 3)
	MSE(eng, loss, dpred, pred, target)
	f := func(p []float64) float64 {
		var s float64
		for i := range p {
			s += (p[i] - ht[i]) * (p[i] - ht[i])
		}
		return s / float64(len(p))
	}
	checkClose(t, "loss", download(eng, loss), []float64{f(hp)}, forwardTol)
	checkClose(t, "gradient", download(eng, dpred), fdGradient(f, hp), gradTol)
}
