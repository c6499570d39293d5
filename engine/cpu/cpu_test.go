package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/enginetest"
)

// tensor returns a Float32 tensor of shape holding vals.
func tensor(e *Engine, vals []float32, shape ...int) *engine.Tensor {
	t := e.New(engine.Float32, shape...)
	e.Upload(t, vals)
	return t
}

func download(e *Engine, t *engine.Tensor) []float32 {
	out := make([]float32, t.Len())
	e.Download(out, t)
	return out
}

// close32 reports whether got is within rel relative error (or rel absolute
// error, near zero) of want; NaNs match NaNs and infinities match exactly.
func close32(got float32, want float64, rel float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.IsInf(want, 0):
		return g == want
	}
	return math.Abs(g-want) <= rel*max(math.Abs(want), 1e-30) || math.Abs(g-want) <= 1e-38
}

// relTol is the conformance suite's bound on relative error against a
// float64 reference; the CPU engine's single roundings should meet it with
// two orders of magnitude to spare.
const relTol = 1e-5

func checkValues(t *testing.T, what string, got []float32, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !close32(got[i], want[i], rel) {
			t.Errorf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestRegistered(t *testing.T) {
	eng, err := engine.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if eng.Name() != "cpu" {
		t.Errorf("Name() = %q, want cpu", eng.Name())
	}
	for _, b := range engine.Backends() {
		if b.Name == "cpu" && !strings.Contains(b.Description, blasName) {
			t.Errorf("description %q does not name the BLAS %q", b.Description, blasName)
		}
	}
}

func TestGemmHand(t *testing.T) {
	e := New()
	// a = [1 2 3; 4 5 6], b = [1 0; 0 1; 1 1]: a·b = [4 5; 10 11].
	a := tensor(e, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := tensor(e, []float32{1, 0, 0, 1, 1, 1}, 3, 2)
	c := tensor(e, []float32{float32(math.NaN()), 1, 2, 3}, 2, 2)
	e.Gemm(false, false, 1, a, b, 0, c)
	checkValues(t, "a·b, beta 0 over NaN", download(e, c), []float64{4, 5, 10, 11}, 0)

	// Both transposed: at holds aᵀ and bt holds bᵀ, so op(at)·op(bt) = a·b.
	at := tensor(e, []float32{1, 4, 2, 5, 3, 6}, 3, 2)
	bt := tensor(e, []float32{1, 0, 1, 0, 1, 1}, 2, 3)
	e.Gemm(true, true, 2, at, bt, 1, c) // c = 2·a·b + c = 3·a·b
	checkValues(t, "2·a·b + c, transposed", download(e, c), []float64{12, 15, 30, 33}, 0)

	// Ensemble of 2 with shared a: member 1's b is 2·b.
	b2 := tensor(e, []float32{1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2}, 2, 3, 2)
	c2 := e.New(engine.Float32, 2, 2, 2)
	e.Gemm(false, false, 1, a, b2, 0, c2)
	checkValues(t, "shared a", download(e, c2), []float64{4, 5, 10, 11, 8, 10, 20, 22}, 0)

	// Ensemble of 2 with shared b: member 1's a is −a.
	a2 := tensor(e, []float32{1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6}, 2, 2, 3)
	e.Gemm(false, false, 1, a2, b, 0, c2)
	checkValues(t, "shared b", download(e, c2), []float64{4, 5, 10, 11, -4, -5, -10, -11}, 0)

	// K = 0: c ← beta·c.
	e.Gemm(false, false, 1, e.New(engine.Float32, 2, 0), e.New(engine.Float32, 0, 2), 0.5, c)
	checkValues(t, "K = 0", download(e, c), []float64{6, 7.5, 15, 16.5}, 0)
}

// naiveGemm is the float64 reference for Gemm on host slices laid out as the
// engine lays them out.
func naiveGemm(transA, transB bool, e, m, n, k int, alpha float64, a []float32, aShared bool, b []float32, bShared bool, beta float64, c []float32) []float64 {
	out := make([]float64, e*m*n)
	for g := 0; g < e; g++ {
		ao, bo := g*m*k, g*k*n
		if aShared {
			ao = 0
		}
		if bShared {
			bo = 0
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for l := 0; l < k; l++ {
					av := a[ao+i*k+l]
					if transA {
						av = a[ao+l*m+i]
					}
					bv := b[bo+l*n+j]
					if transB {
						bv = b[bo+j*k+l]
					}
					s += float64(av) * float64(bv)
				}
				v := alpha * s
				if beta != 0 {
					v += beta * float64(c[g*m*n+i*n+j])
				}
				out[g*m*n+i*n+j] = v
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestGemmAgainstNaive(t *testing.T) {
	e := New()
	r := rand.New(rand.NewPCG(1, 2))
	// Sizes straddle gonum's 64-wide blocks and its concurrency threshold
	// ({60, 70, 50} with E = 3 runs members concurrently); shared operands
	// exercise the stacked and the per-member paths.
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {60, 70, 50}, {65, 17, 130}, {200, 64, 129}} {
		m, k, n := sz[0], sz[1], sz[2]
		for _, ens := range []int{1, 3} {
			for mode := 0; mode < 4; mode++ {
				aShared, bShared := mode&1 != 0, mode&2 != 0
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1 != 0, tr&2 != 0
					ea, eb := ens, ens
					if aShared {
						ea = 1
					}
					if bShared {
						eb = 1
					}
					ah, bh, ch := randSlice(r, ea*m*k), randSlice(r, eb*k*n), randSlice(r, ens*m*n)
					aShape, bShape := []int{ea, m, k}, []int{eb, k, n}
					if transA {
						aShape = []int{ea, k, m}
					}
					if transB {
						bShape = []int{eb, n, k}
					}
					a, b, c := tensor(e, ah, aShape...), tensor(e, bh, bShape...), tensor(e, ch, ens, m, n)
					alpha, beta := float32(0.5), float32(-1.5)
					want := naiveGemm(transA, transB, ens, m, n, k, float64(alpha), ah, aShared, bh, bShared, float64(beta), ch)
					e.Gemm(transA, transB, alpha, a, b, beta, c)
					got := download(e, c)
					// float32 accumulation of k products of N(0,1) values:
					// the error grows like √k·ε relative to the sum's
					// typical size √k, so compare against that scale.
					scale := math.Sqrt(float64(k)) + 1
					for i := range got {
						if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*scale {
							t.Fatalf("m=%d k=%d n=%d E=%d shared=%t,%t trans=%t,%t: element %d = %v, want %v",
								m, k, n, ens, aShared, bShared, transA, transB, i, got[i], want[i])
						}
					}
					for _, x := range []*engine.Tensor{a, b, c} {
						e.Free(x)
					}
				}
			}
		}
	}
}

func TestActivate(t *testing.T) {
	e := New()
	xs := []float32{-100, -20, -3, -0.5, 0, 1e-3, 0.5, 3, 20, 100}
	x := tensor(e, xs, len(xs))
	y := e.New(engine.Float32, len(xs))
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for _, tc := range []struct {
		f   engine.Activation
		ref func(float64) float64
	}{
		{engine.Identity, func(v float64) float64 { return v }},
		{engine.ReLU, func(v float64) float64 { return math.Max(v, 0) }},
		{engine.SiLU, func(v float64) float64 { return v * sig(v) }},
		{engine.Tanh, math.Tanh},
		{engine.Sigmoid, sig},
		// log(1+e^v) in float64 overflows at v = 710, not at 100.
		{engine.Softplus, func(v float64) float64 { return math.Log1p(math.Exp(v)) }},
	} {
		want := make([]float64, len(xs))
		for i, v := range xs {
			want[i] = tc.ref(float64(v))
		}
		e.Activate(tc.f, y, x)
		checkValues(t, tc.f.String(), download(e, y), want, relTol/100)
	}
}

func TestActivateGrad(t *testing.T) {
	e := New()
	xs := []float32{-100, -20, -3, -0.5, 0, 1e-3, 0.5, 3, 15, 100}
	dys := []float32{1, 2, -1, 0.5, 3, 1, -2, 1, 1, 1}
	x, dy := tensor(e, xs, len(xs)), tensor(e, dys, len(xs))
	y, dx := e.New(engine.Float32, len(xs)), e.New(engine.Float32, len(xs))
	// Derivatives in closed forms that keep their accuracy in the tails.
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for _, tc := range []struct {
		f     engine.Activation
		deriv func(float64) float64
	}{
		{engine.Identity, func(float64) float64 { return 1 }},
		{engine.ReLU, func(v float64) float64 {
			if v > 0 {
				return 1
			}
			return 0
		}},
		{engine.SiLU, func(v float64) float64 { return sig(v) + v*sig(v)*sig(-v) }},
		{engine.Tanh, func(v float64) float64 { c := math.Cosh(v); return 1 / (c * c) }},
		{engine.Sigmoid, func(v float64) float64 { return sig(v) * sig(-v) }},
		{engine.Softplus, sig},
	} {
		want := make([]float64, len(xs))
		for i, v := range xs {
			want[i] = float64(dys[i]) * tc.deriv(float64(v))
		}
		e.Activate(tc.f, y, x)
		e.ActivateGrad(tc.f, dx, dy, x, y)
		checkValues(t, tc.f.String()+" grad", download(e, dx), want, relTol/100)
	}
}

func TestElementwise(t *testing.T) {
	e := New()
	a := tensor(e, []float32{1, -2, 3, 4, 5, 6}, 2, 3)
	b := tensor(e, []float32{2, 2, 2, 4, -5, 7}, 2, 3)
	d := e.New(engine.Float32, 2, 3)
	for _, tc := range []struct {
		op   engine.BinaryOp
		want []float64
	}{
		{engine.Add, []float64{3, 0, 5, 8, 0, 13}},
		{engine.Sub, []float64{-1, -4, 1, 0, 10, -1}},
		{engine.Mul, []float64{2, -4, 6, 16, -25, 42}},
		{engine.Div, []float64{0.5, -1, 1.5, 1, -1, 6.0 / 7}},
		{engine.Min, []float64{1, -2, 2, 4, -5, 6}},
		{engine.Max, []float64{2, 2, 3, 4, 5, 7}},
		{engine.GE, []float64{0, 0, 1, 1, 1, 0}},
	} {
		e.Binary(tc.op, d, a, b)
		checkValues(t, fmt.Sprintf("Binary %d", tc.op), download(e, d), tc.want, 1e-7)
	}
	// Broadcasts: a [2 groups, 1 row, 3] + one row per group, and a row.
	e.Binary(engine.Add, d, a, tensor(e, []float32{10, 20, 30}, 3))
	checkValues(t, "row bias", download(e, d), []float64{11, 18, 33, 14, 25, 36}, 0)
	a3 := tensor(e, []float32{1, -2, 3, 4, 5, 6}, 2, 1, 3)
	e.Binary(engine.Sub, d, a3, tensor(e, []float32{1, 1, 1, 2, 2, 2}, 2, 3))
	checkValues(t, "elementwise over [2 1 3]", download(e, d), []float64{0, -3, 2, 2, 3, 4}, 0)
	a4 := tensor(e, []float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2)
	d4 := e.New(engine.Float32, 2, 2, 2)
	e.Binary(engine.Mul, d4, a4, tensor(e, []float32{1, 10, 100, 1000}, 2, 1, 2))
	checkValues(t, "group bias", download(e, d4), []float64{1, 20, 3, 40, 500, 6000, 700, 8000}, 0)

	// In place.
	e.Scale(a, a, 2, 1)
	checkValues(t, "Scale", download(e, a), []float64{3, -3, 7, 9, 11, 13}, 0)
	e.Clamp(a, a, -1, 8)
	checkValues(t, "Clamp", download(e, a), []float64{3, -1, 7, 8, 8, 8}, 0)
	e.Axpby(a, 0.5, b, 2)
	checkValues(t, "Axpby", download(e, a), []float64{7, -1, 15, 18, 13.5, 19.5}, 0)
	e.Polyak(a, b, 0.25)
	checkValues(t, "Polyak", download(e, a), []float64{5.75, -0.25, 11.75, 14.5, 8.875, 16.375}, 0)
	nan := tensor(e, []float32{float32(math.NaN())}, 1)
	e.Axpby(nan, 2, tensor(e, []float32{3}, 1), 0)
	checkValues(t, "Axpby with beta 0 over NaN", download(e, nan), []float64{6}, 0)

	u := tensor(e, []float32{0, 1, 4, -2}, 4)
	v := e.New(engine.Float32, 4)
	for _, tc := range []struct {
		op   engine.UnaryOp
		want []float64
	}{
		{engine.Exp, []float64{1, math.E, math.Exp(4), math.Exp(-2)}},
		{engine.Log, []float64{math.Inf(-1), 0, math.Log(4), math.NaN()}},
		{engine.Sqrt, []float64{0, 1, 2, math.NaN()}},
		{engine.Square, []float64{0, 1, 16, 4}},
		{engine.Abs, []float64{0, 1, 4, 2}},
	} {
		e.Unary(tc.op, v, u)
		checkValues(t, fmt.Sprintf("Unary %d", tc.op), download(e, v), tc.want, relTol/100)
	}
}

func TestReduce(t *testing.T) {
	e := New()
	// x is [2, 2, 3]: groups [[1 2 3] [4 5 6]] and [[-1 0 7] [2 2 -8]].
	x := tensor(e, []float32{1, 2, 3, 4, 5, 6, -1, 0, 7, 2, 2, -8}, 2, 2, 3)
	rowsOut, colsOut := e.New(engine.Float32, 4), e.New(engine.Float32, 2, 1, 3)
	for _, tc := range []struct {
		op         engine.ReduceOp
		rows, cols []float64
	}{
		{engine.Sum, []float64{6, 15, 6, -4}, []float64{5, 7, 9, 1, 2, -1}},
		{engine.Mean, []float64{2, 5, 2, -4.0 / 3}, []float64{2.5, 3.5, 4.5, 0.5, 1, -0.5}},
		{engine.MaxOf, []float64{3, 6, 7, 2}, []float64{4, 5, 6, 2, 2, 7}},
	} {
		e.ReduceRows(tc.op, rowsOut, x)
		checkValues(t, fmt.Sprintf("ReduceRows %d", tc.op), download(e, rowsOut), tc.rows, 1e-7)
		e.ReduceCols(tc.op, colsOut, x)
		checkValues(t, fmt.Sprintf("ReduceCols %d", tc.op), download(e, colsOut), tc.cols, 1e-7)
	}

	// A wide, long reduction takes the concurrent paths; a float32 running
	// sum of 10⁶ values near 1 would be off by far more than relTol.
	const m, n = 1000, 700
	big := make([]float32, m*n)
	for i := range big {
		big[i] = 1 + float32(i%7)*1e-3
	}
	bx := tensor(e, big, m, n)
	cs, rs := e.New(engine.Float32, n), e.New(engine.Float32, m)
	e.ReduceCols(engine.Sum, cs, bx)
	e.ReduceRows(engine.Sum, rs, bx)
	wantCols, wantRows := make([]float64, n), make([]float64, m)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			wantCols[j] += float64(big[i*n+j])
			wantRows[i] += float64(big[i*n+j])
		}
	}
	checkValues(t, "ReduceCols large", download(e, cs), wantCols, 1e-7)
	checkValues(t, "ReduceRows large", download(e, rs), wantRows, 1e-7)
}

func TestGatherScatterCopyCols(t *testing.T) {
	e := New()
	src := tensor(e, []float32{0, 1, 10, 11, 20, 21, 30, 31}, 4, 2)
	idx := e.New(engine.Int32, 3)
	e.UploadInt32(idx, []int32{3, 0, 3})
	dst := e.New(engine.Float32, 3, 2)
	e.Gather(dst, src, idx)
	checkValues(t, "Gather", download(e, dst), []float64{30, 31, 0, 1, 30, 31}, 0)

	e.UploadInt32(idx, []int32{2, 0, 1})
	e.Scatter(src, tensor(e, []float32{-1, -2, -3, -4, -5, -6}, 3, 2), idx)
	checkValues(t, "Scatter", download(e, src), []float64{-3, -4, -5, -6, -1, -2, 30, 31}, 0)

	wide := e.New(engine.Float32, 2, 2, 4)
	e.CopyCols(wide, 1, src, 0, 2)
	checkValues(t, "CopyCols", download(e, wide), []float64{0, -3, -4, 0, 0, -5, -6, 0, 0, -1, -2, 0, 0, 30, 31, 0}, 0)
}

func TestAdam(t *testing.T) {
	e := New()
	p := tensor(e, []float32{1, -2}, 2)
	g := tensor(e, []float32{0.5, 0.1}, 2)
	m, v := e.New(engine.Float32, 2), e.New(engine.Float32, 2)
	cfg := engine.AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	e.Adam(p, g, m, v, cfg, 1)
	// Step 1 from zero moments: m̂ = g and v̂ = g², so p moves by LR·sign(g)
	// (less Eps).
	b1, b2 := float64(cfg.Beta1), float64(cfg.Beta2)
	checkValues(t, "m", download(e, m), []float64{(1 - b1) * 0.5, (1 - b1) * float64(float32(0.1))}, 1e-7)
	checkValues(t, "v", download(e, v), []float64{(1 - b2) * 0.25, (1 - b2) * math.Pow(float64(float32(0.1)), 2)}, 1e-6)
	checkValues(t, "p", download(e, p), []float64{1 - 0.1*0.5/(0.5+1e-8), -2 - 0.1}, 1e-7)

	// AdamW decays p by LR·WeightDecay·p before the step; g is untouched.
	p2 := tensor(e, []float32{1}, 1)
	g2 := tensor(e, []float32{0.5}, 1)
	m2, v2 := e.New(engine.Float32, 1), e.New(engine.Float32, 1)
	cfg.WeightDecay, cfg.Decoupled = 0.5, true
	e.Adam(p2, g2, m2, v2, cfg, 1)
	checkValues(t, "AdamW p", download(e, p2), []float64{1*(1-0.1*0.5) - 0.1*0.5/(0.5+1e-8)}, 1e-6)
	checkValues(t, "AdamW g", download(e, g2), []float64{0.5}, 0)
}

func TestRandMatchesReference(t *testing.T) {
	e := New()
	// Lengths around block boundaries, and one large enough to split across
	// goroutines.
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 9, 100003} {
		rng := &engine.RNG{Seed: 0x1234_5678_9abc_def0, Counter: 1<<32 - 2} // crosses the counter's word boundary
		f, ix := e.New(engine.Float32, max(n, 1)), e.New(engine.Int32, max(n, 1))
		f, ix = f.View(0, n), ix.View(0, n)
		hf, hi := make([]float32, n), make([]int32, n)

		start := rng.Counter
		e.RandUniform(f, rng, -2, 3)
		e.Download(hf, f)
		for i := range hf {
			if w := engine.UniformAt(rng.Seed, start, i, -2, 3); math.Float32bits(hf[i]) != math.Float32bits(w) {
				t.Fatalf("RandUniform n=%d: element %d = %v, want %v", n, i, hf[i], w)
			}
		}
		if want := start + uint64(n+3)/4; rng.Counter != want {
			t.Errorf("RandUniform n=%d: counter %d, want %d", n, rng.Counter, want)
		}

		start = rng.Counter
		e.RandNormal(f, rng, 0.5, 2)
		e.Download(hf, f)
		for i := range hf {
			if w := engine.NormalAt(rng.Seed, start, i, 0.5, 2); math.Float32bits(hf[i]) != math.Float32bits(w) {
				t.Fatalf("RandNormal n=%d: element %d = %v, want %v", n, i, hf[i], w)
			}
		}

		for _, k := range []int{1, 7, 1 << 31} {
			start = rng.Counter
			e.RandInt(ix, rng, k)
			e.DownloadInt32(hi, ix)
			for i := range hi {
				if w := engine.IntAt(rng.Seed, start, i, k); hi[i] != w {
					t.Fatalf("RandInt(%d) n=%d: element %d = %d, want %d", k, n, i, hi[i], w)
				}
			}
		}
	}
}

func TestPanics(t *testing.T) {
	e := New()
	other := New()
	a := e.New(engine.Float32, 3, 4)
	freed := e.New(engine.Float32, 4)
	e.Free(freed)
	idx := e.New(engine.Int32, 2)
	e.UploadInt32(idx, []int32{1, 4})
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"shape", func() { e.Gemm(false, false, 1, a, e.New(engine.Float32, 5, 6), 0, e.New(engine.Float32, 3, 6)) },
			"engine: Gemm: a [3 4] and b [5 6]: inner dimensions 4 and 5 differ"},
		{"freed", func() { e.Fill(freed, 1) }, "engine/cpu: Fill: Tensor(float32[4]) views freed memory"},
		{"double free", func() { e.Free(freed) }, "engine/cpu: Free: memory of Tensor(float32[4]) freed twice"},
		{"other engine", func() { e.Scale(a, other.New(engine.Float32, 3, 4), 1, 0) },
			"engine/cpu: Scale: Tensor(float32[3 4]) belongs to another CPU engine"},
		{"gather index", func() { e.Gather(e.New(engine.Float32, 2, 4), a, idx) },
			"engine/cpu: Gather: index 4 at position 1 out of range [0, 3) for Tensor(float32[3 4])"},
	} {
		if got := panicMessage(tc.f); got != tc.want {
			t.Errorf("%s: panic %q, want %q", tc.name, got, tc.want)
		}
	}
	e.Close()
	if got, want := panicMessage(func() { e.Fill(a, 0) }), "engine/cpu: Fill: engine is closed"; got != want {
		t.Errorf("after Close: panic %q, want %q", got, want)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// TestActivationAccuracy sweeps the activations and their derivatives over
// float32 inputs from subnormal to saturated and requires each result within
// one float32 ulp (relative 2⁻²³) of a float64 reference from package math:
// the kernels' closed forms should round to the nearest float32 or, within
// 1e-12 of a rounding boundary, its neighbour.
func TestActivationAccuracy(t *testing.T) {
	const ulp = 0x1p-23
	var xs []float32
	for i := -20000; i <= 20000; i++ {
		xs = append(xs, float32(i)*0.005) // [−100, 100]
	}
	for e := -44.0; e <= 2; e += 0.01 {
		v := float32(math.Pow(10, e))
		xs = append(xs, v, -v)
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)), 0)
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for _, tc := range []struct {
		f          engine.Activation
		ref, deriv func(float64) float64
	}{
		{engine.SiLU, func(v float64) float64 { return v * sig(v) }, func(v float64) float64 { return sig(v) + v*sig(v)*sig(-v) }},
		{engine.Tanh, math.Tanh, func(v float64) float64 { c := math.Cosh(v); return 1 / (c * c) }},
		{engine.Sigmoid, sig, func(v float64) float64 { return sig(v) * sig(-v) }},
		{engine.Softplus, func(v float64) float64 {
			if v > 30 {
				return v + math.Exp(-v) // e^v would overflow at 710
			}
			return math.Log1p(math.Exp(v))
		}, sig},
	} {
		e := New()
		x := tensor(e, xs, len(xs))
		ones := make([]float32, len(xs))
		for i := range ones {
			ones[i] = 1
		}
		y, dx := e.New(engine.Float32, len(xs)), e.New(engine.Float32, len(xs))
		e.Activate(tc.f, y, x)
		e.ActivateGrad(tc.f, dx, tensor(e, ones, len(xs)), x, y)
		for _, part := range []struct {
			name string
			got  []float32
			ref  func(float64) float64
		}{{"", download(e, y), tc.ref}, {" grad", download(e, dx), tc.deriv}} {
			for i, v := range xs {
				want := part.ref(float64(v))
				if math.IsInf(float64(v), 0) && math.IsNaN(want) {
					continue // SiLU(−∞) = −∞·0 and its kind: no sensible reference
				}
				if !close32(part.got[i], want, ulp) && !close32(part.got[i], float64(float32(want)), 0) {
					t.Errorf("%v%s(%v) = %v, want %v", tc.f, part.name, v, part.got[i], want)
				}
			}
		}
	}
}

func TestConformance(t *testing.T) {
	e := New()
	defer e.Close()
	enginetest.Run(t, e)
}
