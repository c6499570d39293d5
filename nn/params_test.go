package nn

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// TestParamsLayout checks that parameters are aligned views of one flat
// buffer and that Set, Value and Gradient address them by name.
func TestParamsLayout(t *testing.T) {
	eng := newEngine(t)
	p := NewParams(eng, MLPSpecs("", 2, []int{3, 5, 1})...)
	wantNames := []string{"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
	if !slices.Equal(p.Names(), wantNames) {
		t.Fatalf("names %v, want %v", p.Names(), wantNames)
	}
	if p.Count() != 2*(3*5+5+5+1) {
		t.Errorf("Count %d", p.Count())
	}
	for _, q := range p.All() {
		if q.Offset%paramAlign != 0 || q.Value.Mem() != p.Data.Mem() || q.Grad.Mem() != p.Grad.Mem() || q.Value.Offset() != q.Offset {
			t.Errorf("%s: offset %d, not an aligned view of the flat buffers", q.Name, q.Offset)
		}
	}
	if got := p.Param("layers.1.weight").Shape; !slices.Equal(got, []int{2, 5, 1}) {
		t.Errorf("layers.1.weight shape %v", got)
	}
	v := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	p.Set("layers.1.weight", v)
	if got := p.Value("layers.1.weight"); !slices.Equal(got, v) {
		t.Errorf("Value after Set: %v", got)
	}
	flat := make([]float32, p.Len())
	eng.Download(flat, p.Data)
	off := p.Param("layers.1.weight").Offset
	if !slices.Equal(flat[off:off+10], v) {
		t.Errorf("flat buffer at %d: %v", off, flat[off:off+10])
	}
	if p.Lookup("nope") != nil {
		t.Error("Lookup of a missing name")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "layers.0.weight") {
				t.Errorf("Param of a missing name: panic %v, want one naming the parameters", r)
			}
		}()
		p.Param("nope")
	}()
}

// TestInit checks the truncated-normal initialisation: every weight within
// two standard deviations of zero, the sample standard deviation that of a
// normal of σ = 1/(2√fan_in) truncated at ±2σ, zero biases, and the same
// values for the same seed.
func TestInit(t *testing.T) {
	eng := newEngine(t)
	const e, in, out = 7, 200, 200 // an MBPO hidden layer: 280 000 weights
	p := NewParams(eng, DenseSpecs("", e, in, out)...)
	d := NewDense(p, "", engine.SiLU)
	eng.Fill(p.Data, 1)
	d.Init(TruncNormal, engine.NewRNG(11))
	w := f64(p.Value("weight"))
	sigma := 1 / (2 * math.Sqrt(in))
	var mean, sq float64
	for _, v := range w {
		if math.Abs(v) > 2*sigma {
			t.Fatalf("weight %v beyond 2σ = %v", v, 2*sigma)
		}
		mean += v / float64(len(w))
	}
	for _, v := range w {
		sq += (v - mean) * (v - mean) / float64(len(w))
	}
	// The standard deviation of N(0, σ²) truncated to [−2σ, 2σ] is
	// σ·√(1 − 4φ(2)/(Φ(2) − Φ(−2))) ≈ 0.8796σ.
	phi2 := math.Exp(-2) / math.Sqrt(2*math.Pi)
	wantStd := sigma * math.Sqrt(1-4*phi2/math.Erf(2/math.Sqrt2))
	// The sample standard deviation of n = 280 000 draws has a relative
	// standard error of about 1/√(2n) ≈ 0.13%; 1% is over 7 of them.
	if std := math.Sqrt(sq); math.Abs(std-wantStd) > 0.01*wantStd {
		t.Errorf("weight std %.6g, want %.6g (truncated normal of σ = %.6g)", std, wantStd, sigma)
	}
	if math.Abs(mean) > 5*wantStd/math.Sqrt(float64(len(w))) {
		t.Errorf("weight mean %.3g", mean)
	}
	for _, v := range p.Value("bias") {
		if v != 0 {
			t.Fatalf("bias %v, want 0", v)
		}
	}
	// The draws are the engine's Philox stream: the first weight is the
	// first normal of the stream, unless it fell outside 2σ.
	if w0 := engine.NormalAt(11, 0, 0, 0, float32(sigma)); math.Abs(float64(w0)) <= 2*sigma && float64(w0) != w[0] {
		t.Errorf("first weight %v, want NormalAt's %v", w[0], w0)
	}
	d.Init(TruncNormal, engine.NewRNG(11))
	if !slices.Equal(f64(p.Value("weight")), w) {
		t.Error("same seed, different weights")
	}

	// FanInUniform: weights and biases in [−1/√fan_in, 1/√fan_in).
	d.Init(FanInUniform, engine.NewRNG(12))
	k := 1 / math.Sqrt(in)
	for _, name := range []string{"weight", "bias"} {
		var maxAbs float64
		for _, v := range p.Value(name) {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		if maxAbs > k || maxAbs < 0.9*k {
			t.Errorf("%s: max |value| %v, want just under %v", name, maxAbs, k)
		}
	}
}

// TestSaveLoad checks that Save then Load restores parameters bit for bit
// with the metadata, and that files whose names or shapes do not match are
// errors that leave the parameters unchanged.
func TestSaveLoad(t *testing.T) {
	eng := newEngine(t)
	rng := rand.New(rand.NewPCG(9, 0))
	cfg := EnsembleConfig{In: 3, Out: 2, Members: 2, Hidden: []int{4}, WeightDecay: []float32{0, 0}}
	m, err := NewEnsemble(eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(engine.NewRNG(1))
	randomize(m.Norm, rng, 5)
	// Values whose bits a float32 round trip through text would change.
	m.Params.Set("max_logvar", []float32{float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32})
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	meta := map[string]string{"algo": "mbpo", "step": "1000"}
	if err := Save(path, meta, m.Params, m.Norm); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after Save, want the file alone", len(entries))
	}

	m2, _ := NewEnsemble(eng, cfg)
	gotMeta, err := Load(path, m2.Params, m2.Norm)
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta["algo"] != "mbpo" || gotMeta["step"] != "1000" {
		t.Errorf("metadata %v", gotMeta)
	}
	for _, pair := range [][2]*Params{{m.Params, m2.Params}, {m.Norm, m2.Norm}} {
		for _, n := range pair[0].Names() {
			a, b := pair[0].Value(n), pair[1].Value(n)
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("%s[%d]: saved %v (%#x), loaded %v (%#x)", n, i, a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
				}
			}
		}
	}

	// Mismatches are errors naming the problem; the target is untouched.
	other, _ := NewEnsemble(eng, EnsembleConfig{In: 3, Out: 3, Members: 2, Hidden: []int{4}, WeightDecay: []float32{0, 0}})
	before := other.Params.Value("layers.0.weight")
	for _, tc := range []struct {
		name string
		ps   []*Params
		want string
	}{
		{"shapes", []*Params{other.Params, other.Norm}, "has shape"},
		{"unexpected", []*Params{m2.Params}, "unexpected input_norm.mean"},
		{"missing", []*Params{m2.Params, m2.Norm, NewBuffers(eng, ParamSpec{"extra", []int{2}})}, "missing extra"},
	} {
		_, err := Load(path, tc.ps...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if !slices.Equal(before, other.Params.Value("layers.0.weight")) {
		t.Error("failed Load changed the parameters")
	}
	// A corrupt or missing file is an error, not a panic.
	if err := os.WriteFile(path, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, m2.Params, m2.Norm); err == nil {
		t.Error("Load of a corrupt file: no error")
	}
	if _, err := Load(filepath.Join(dir, "absent"), m2.Params); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

// TestAdam checks one Adam step over a Params against PyTorch's formula in
// float64, the defaults, and the step count.
func TestAdam(t *testing.T) {
	eng := newEngine(t)
	rng := rand.New(rand.NewPCG(10, 0))
	p := NewParams(eng, ParamSpec{"a", []int{3}}, ParamSpec{"b", []int{2, 2}})
	hp := randomize(p, rng, 1)
	opt := NewAdam(p, engine.AdamConfig{LR: 0.1})
	if c := opt.Config; c.Beta1 != 0.9 || c.Beta2 != 0.999 || c.Eps != 1e-8 {
		t.Errorf("defaults %+v", c)
	}
	g := map[string][]float64{}
	for _, q := range p.All() {
		v := make([]float32, q.Len())
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		eng.Upload(q.Grad, v)
		g[q.Name] = f64(v)
	}
	for step := 1; step <= 2; step++ {
		opt.Update()
		if opt.Step != step {
			t.Fatalf("Step %d after %d updates", opt.Step, step)
		}
	}
	for _, n := range p.Names() {
		want := make([]float64, len(hp[n]))
		for i, p0 := range hp[n] {
			m, v, p := 0.0, 0.0, p0
			for step := 1; step <= 2; step++ {
				m = 0.9*m + 0.1*g[n][i]
				v = 0.999*v + 0.001*g[n][i]*g[n][i]
				mh := m / (1 - math.Pow(0.9, float64(step)))
				vh := v / (1 - math.Pow(0.999, float64(step)))
				p -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
			}
			want[i] = p
		}
		checkClose(t, "Adam "+n, f64(p.Value(n)), want, 1e-5)
	}
}
