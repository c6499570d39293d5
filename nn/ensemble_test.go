package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// ensembleRef is the float64 reference of Ensemble: the standardisers'
// statistics as fitted on the device, and the config.
type ensembleRef struct {
	cfg            EnsembleConfig
	mx, sx, my, sy []float64
}

func (r ensembleRef) sizes() []int {
	return append(append([]int{r.cfg.In}, r.cfg.Hidden...), 2*r.cfg.Out)
}

// forward returns the mean and bounded log-variance [E, B, D] in
// standardised target units for x [ex, B, In].
func (r ensembleRef) forward(h hostParams, x []float64, ex, batch int) (mean, lv []float64) {
	e, in, d := r.cfg.Members, r.cfg.In, r.cfg.Out
	xn := make([]float64, len(x))
	for i := range x {
		xn[i] = (x[i] - r.mx[i%in]) / r.sx[i%in]
	}
	out := refMLP(h, "", e, r.sizes(), r.cfg.Activation, xn, ex, batch)
	mean = make([]float64, e*batch*d)
	lv = make([]float64, e*batch*d)
	hi, lo := h["max_logvar"], h["min_logvar"]
	for row := 0; row < e*batch; row++ {
		for j := 0; j < d; j++ {
			mean[row*d+j] = out[row*2*d+j]
			v := hi[j] - softplus64(hi[j]-out[row*2*d+d+j])
			lv[row*d+j] = lo[j] + softplus64(v-lo[j])
		}
	}
	return mean, lv
}

// loss is the training loss for targets y [ey, B, D] (ey = 1: shared).
func (r ensembleRef) loss(h hostParams, x []float64, ex int, y []float64, ey, batch int) float64 {
	e, d := r.cfg.Members, r.cfg.Out
	mean, lv := r.forward(h, x, ex, batch)
	var l float64
	for m := 0; m < e; m++ {
		for b := 0; b < batch; b++ {
			for j := 0; j < d; j++ {
				i := (m*batch+b)*d + j
				yi := y[b*d+j]
				if ey > 1 {
					yi = y[i]
				}
				yn := (yi - r.my[j]) / r.sy[j]
				l += ((mean[i]-yn)*(mean[i]-yn)*math.Exp(-lv[i]) + lv[i]) / float64(batch*d)
			}
		}
	}
	for j := 0; j < d; j++ {
		l += float64(r.cfg.BoundPenalty) * (h["max_logvar"][j] - h["min_logvar"][j])
	}
	for i, c := range r.cfg.WeightDecay {
		l += float64(c) * dot(h[fmt.Sprintf("layers.%d.weight", i)], h[fmt.Sprintf("layers.%d.weight", i)]) / 2
	}
	return l
}

// newTestEnsemble builds a small ensemble with random parameters, soft
// bounds that bind, and standardisers fitted to data of non-trivial mean
// and scale.
func newTestEnsemble(t *testing.T, eng engine.Engine, rng *rand.Rand) (*Ensemble, ensembleRef, hostParams) {
	t.Helper()
	m, err := NewEnsemble(eng, EnsembleConfig{
		In: 3, Out: 2, Members: 2, Hidden: []int{5, 4},
		// Large coefficients, so that a mistake in the decay terms shows
		// in the gradients.
		WeightDecay: []float32{0.1, 0.2, 0.3},
	})
	if err != nil {
		t.Fatal(err)
	}
	hp := randomize(m.Params, rng, 0.8)
	// Bounds near the raw outputs (|raw| ≲ 2), so both softplus terms
	// matter.
	for name, v := range map[string][]float32{"max_logvar": {0.3, 0.8}, "min_logvar": {-1, -0.5}} {
		m.Params.Set(name, v)
		hp[name] = f64(v)
	}
	const n = 50
	xs, _ := upload(eng, rng, 2, n, 3)
	ys, _ := upload(eng, rng, 3, n, 2)
	eng.Scale(xs, xs, 1, 1.5)
	eng.Scale(ys, ys, 1, -0.5)
	m.Fit(xs, ys)
	ref := ensembleRef{cfg: m.Config}
	ref.mx, ref.sx = download(eng, m.InputNorm.Mean), download(eng, m.InputNorm.Std)
	ref.my, ref.sy = download(eng, m.TargetNorm.Mean), download(eng, m.TargetNorm.Std)
	// The fit itself is checked in TestStandardizerFit; here, only that it
	// moved away from the identity.
	if ref.sx[0] == 1 || ref.my[0] == 0 {
		t.Fatalf("standardisers not fitted: σx %v, μy %v", ref.sx, ref.my)
	}
	return m, ref, hp
}

// TestEnsembleLossGradients checks the ensemble's forward pass, loss (the
// Gaussian NLL with soft log-variance bounds, the 0.01 bound penalty and
// per-layer weight decay) and its gradient with respect to every parameter
// against a float64 reference and central differences.
func TestEnsembleLossGradients(t *testing.T) {
	const batch = 4
	for _, tc := range []struct{ sharedX, sharedY bool }{
		{false, false}, {true, true}, {true, false},
	} {
		t.Run(fmt.Sprintf("sharedX=%v/sharedY=%v", tc.sharedX, tc.sharedY), func(t *testing.T) {
			eng := newEngine(t)
			rng := rand.New(rand.NewPCG(4, 0))
			m, ref, hp := newTestEnsemble(t, eng, rng)
			e := m.Config.Members
			ex, xShape := e, []int{e, batch, 3}
			if tc.sharedX {
				ex, xShape = 1, []int{batch, 3}
			}
			ey, yShape := e, []int{e, batch, 2}
			if tc.sharedY {
				ey, yShape = 1, []int{batch, 2}
			}
			x, hx := upload(eng, rng, 3, xShape...)
			y, hy := upload(eng, rng, 3, yShape...)

			mean, lv := m.Forward(x)
			wantMean, wantLV := ref.forward(hp, hx, ex, batch)
			checkClose(t, "mean", download(eng, mean), wantMean, forwardTol)
			checkClose(t, "log-variance", download(eng, lv), wantLV, forwardTol)
			loss := m.Loss(y)
			checkClose(t, "loss", download(eng, loss), []float64{ref.loss(hp, hx, ex, hy, ey, batch)}, forwardTol)

			m.Params.ZeroGrad()
			m.Backward()
			checkParamGrads(t, m.Params, hp, func(h hostParams) float64 { return ref.loss(h, hx, ex, hy, ey, batch) })

			// Predict: the same distribution in the targets' own units.
			pm, plv := m.Predict(x)
			for i := range wantMean {
				j := i % 2
				wantMean[i] = wantMean[i]*ref.sy[j] + ref.my[j]
				wantLV[i] += 2 * math.Log(ref.sy[j])
			}
			checkClose(t, "predicted mean", download(eng, pm), wantMean, forwardTol)
			checkClose(t, "predicted log-variance", download(eng, plv), wantLV, forwardTol)
		})
	}
}

// TestEnsembleConfig checks the defaults and that bad configs are errors.
func TestEnsembleConfig(t *testing.T) {
	eng := newEngine(t)
	m, err := NewEnsemble(eng, EnsembleConfig{In: 4, Out: 3})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.Members != 7 || len(c.Hidden) != 4 || c.Hidden[0] != 200 || c.Activation != engine.SiLU ||
		c.BoundPenalty != 0.01 || c.WeightDecay[0] != 2.5e-5 || c.WeightDecay[4] != 1e-4 {
		t.Errorf("defaults: %+v", c)
	}
	if got := m.Params.Value("max_logvar"); got[0] != MaxLogVarInit {
		t.Errorf("max_logvar starts at %v, want %v", got, MaxLogVarInit)
	}
	if got := m.Params.Value("min_logvar"); got[2] != MinLogVarInit {
		t.Errorf("min_logvar starts at %v, want %v", got, MinLogVarInit)
	}
	for _, bad := range []EnsembleConfig{
		{In: 0, Out: 3},
		{In: 4, Out: 3, Hidden: []int{10}}, // decay needed
		{In: 4, Out: 3, Hidden: []int{10}, WeightDecay: []float32{1e-4}}, // wrong count
		{In: 4, Out: 3, Hidden: []int{10, -1}, WeightDecay: []float32{0, 0, 0}},
	} {
		if _, err := NewEnsemble(eng, bad); err == nil {
			t.Errorf("NewEnsemble(%+v): no error", bad)
		}
	}
}

// TestStandardizerFit checks Fit against float64 statistics, over more rows
// than one chunk, with a constant column whose σ becomes 1.
func TestStandardizerFit(t *testing.T) {
	eng := newEngine(t)
	rng := rand.New(rand.NewPCG(5, 0))
	const n, d = fitChunk + 904, 3
	host := make([]float32, n*d)
	for i := 0; i < n; i++ {
		host[i*d] = float32(10 + 3*rng.NormFloat64())
		host[i*d+1] = 7 // constant: σ = 0
		host[i*d+2] = float32(-2 + 0.01*rng.NormFloat64())
	}
	x := eng.New(engine.Float32, n, d)
	eng.Upload(x, host)
	b := NewBuffers(eng, StandardizerSpecs("s.", d)...)
	s := NewStandardizer(b, "s.")
	s.Fit(x)
	mean, std := make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		for i := 0; i < n; i++ {
			mean[j] += float64(host[i*d+j]) / n
		}
		for i := 0; i < n; i++ {
			std[j] += (float64(host[i*d+j]) - mean[j]) * (float64(host[i*d+j]) - mean[j]) / n
		}
		std[j] = math.Sqrt(std[j])
	}
	std[1] = 1
	// float32 sums of 5000 values: relative error ~ 1e-6 (pairwise or
	// chunked summation) to 1e-4 (naive); 1e-4 bounds both.
	checkClose(t, "mean", download(eng, s.Mean), mean, 1e-4)
	for j := range std {
		if got := download(eng, s.Std)[j]; math.Abs(got-std[j]) > 1e-4*std[j] {
			t.Errorf("σ[%d] = %.7g, want %.7g", j, got, std[j])
		}
	}
	// Apply then Invert is the identity, and Apply standardises.
	z := eng.New(engine.Float32, n, d)
	s.Apply(z, x)
	zh := download(eng, z)
	if math.Abs(zh[0]-(float64(host[0])-mean[0])/std[0]) > 1e-4 || zh[1] != 0 {
		t.Errorf("Apply: row 0 = %v", zh[:d])
	}
	s.Invert(z, z)
	checkClose(t, "Invert(Apply(x))", download(eng, z), f64(host), 1e-5)
	// Refitting allocates nothing (the scratch is kept).
	ce := &countingEngine{Engine: eng}
	s.eng = ce
	s.Fit(x)
	if ce.news != 0 {
		t.Errorf("second Fit allocated %d tensors", ce.news)
	}
}

// countingEngine counts allocations.
type countingEngine struct {
	engine.Engine
	news int
}

func (c *countingEngine) New(d engine.DType, shape ...int) *engine.Tensor {
	c.news++
	return c.Engine.New(d, shape...)
}
