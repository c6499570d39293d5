package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// bitsOf returns n float32s of arbitrary bit patterns, NaNs with payloads,
// infinities, subnormals and -0 among them, from a Philox stream.
func bitsOf(n int, seed uint64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(engine.Word(seed, 0, i))
	}
	v[0] = float32(math.Copysign(0, -1))
	if n > 1 {
		v[1] = math.Float32frombits(0x7fc00123) // a NaN with a payload
	}
	return v
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %#08x, want %#08x", what, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

func download(eng engine.Engine, t *engine.Tensor) []float32 {
	v := make([]float32, t.Len())
	eng.Download(v, t)
	return v
}

// roundTrip saves s to a fresh folder and loads it back.
func roundTrip(t *testing.T, s *State) *State {
	t.Helper()
	dir := t.TempDir()
	if _, err := Save(dir, Meta{Algo: "sac", Env: "Pendulum-v1", Step: 10}, s, 1); err != nil {
		t.Fatal(err)
	}
	_, loaded, err := Load(dir, -1, Meta{Algo: "sac", Env: "Pendulum-v1"})
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

func testParams(eng engine.Engine, hidden int) *nn.Params {
	return nn.NewParams(eng,
		nn.ParamSpec{Name: "layers.0.weight", Shape: []int{hidden, 3}},
		nn.ParamSpec{Name: "layers.0.bias", Shape: []int{hidden}},
		nn.ParamSpec{Name: "log_std", Shape: []int{1}})
}

func TestParamsDeviceRNGRoundTrip(t *testing.T) {
	eng := cpu.New()
	p := testParams(eng, 5)
	want := bitsOf(p.Len(), 1)
	eng.Upload(p.Data, want)
	scalars := eng.New(engine.Float32, 2, 3)
	wantScalars := bitsOf(6, 2)
	eng.Upload(scalars, wantScalars)
	rng := &engine.RNG{Seed: math.MaxUint64, Counter: 1<<53 + 1} // not exact as a float64

	s := NewState()
	s.PutParams("actor", p)
	s.PutDevice("scalars", eng, scalars)
	s.PutRNG("rng", rng)
	loaded := roundTrip(t, s)

	q := testParams(eng, 5)
	if err := loaded.Params("actor", q); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "actor", download(eng, q.Data), want)
	scalars2 := eng.New(engine.Float32, 2, 3)
	if err := loaded.Device("scalars", eng, scalars2); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "scalars", download(eng, scalars2), wantScalars)
	var r engine.RNG
	if err := loaded.RNG("rng", &r); err != nil || r != *rng {
		t.Errorf("RNG = %+v, %v; want %+v", r, err, *rng)
	}

	// Another layout is refused, naming the difference, and left alone.
	other := testParams(eng, 4)
	err := loaded.Params("actor", other)
	if err == nil || !strings.Contains(err.Error(), `parameters "actor": tensor 0 is layers.0.weight [5 3], want layers.0.weight [4 3]`) {
		t.Errorf("Params into another layout: %v", err)
	}
	fewer := nn.NewParams(eng, nn.ParamSpec{Name: "layers.0.weight", Shape: []int{5, 3}})
	err = loaded.Params("actor", fewer)
	if err == nil || !strings.Contains(err.Error(), `have 3 tensors, not 1: layers.0.bias [5] is extra`) {
		t.Errorf("Params into fewer parameters: %v", err)
	}
	wrong := eng.New(engine.Float32, 3, 2)
	err = loaded.Device("scalars", eng, wrong)
	if err == nil || !strings.Contains(err.Error(), `tensor "scalars" has shape [2 3], want [3 2]`) {
		t.Errorf("Device into another shape: %v", err)
	}
}

func TestAdamRoundTrip(t *testing.T) {
	eng := cpu.New()
	p := testParams(eng, 5)
	a := nn.NewAdam(p, engine.AdamConfig{})
	wantM, wantV := bitsOf(p.Len(), 3), bitsOf(p.Len(), 4)
	eng.Upload(a.M, wantM)
	eng.Upload(a.V, wantV)
	a.Step = 1234

	s := NewState()
	s.PutAdam("actor_opt", a)
	loaded := roundTrip(t, s)

	b := nn.NewAdam(testParams(eng, 5), engine.AdamConfig{})
	if err := loaded.Adam("actor_opt", b); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "m", download(eng, b.M), wantM)
	sameBits(t, "v", download(eng, b.V), wantV)
	if b.Step != 1234 {
		t.Errorf("Step = %d, want 1234", b.Step)
	}

	// Hidden sizes 4 and 5 pad to flat buffers of the same length: only
	// the layout tells them apart.
	c := nn.NewAdam(testParams(eng, 4), engine.AdamConfig{})
	err := loaded.Adam("actor_opt", c)
	if err == nil || !strings.Contains(err.Error(), `parameters "actor_opt": tensor 0 is layers.0.weight [5 3], want layers.0.weight [4 3]`) || c.Step != 0 {
		t.Errorf("Adam into another layout: error %v, step %d; want a layout error and no change", err, c.Step)
	}
}

// fakeEnv is a one-dimensional random walk whose whole state is a position
// and a step count, and which takes snapshots of it.
type fakeEnv struct {
	x     float64
	steps int
}

func (e *fakeEnv) ObservationSpace() env.Space { return env.Box([]float64{-10}, []float64{10}) }
func (e *fakeEnv) ActionSpace() env.Space      { return env.Box([]float64{-1}, []float64{1}) }
func (e *fakeEnv) Reset(seed int64) []float64 {
	e.x, e.steps = float64(seed%3), 0
	return []float64{e.x}
}
func (e *fakeEnv) Step(a []float64) ([]float64, float64, bool, bool) {
	e.x += a[0]
	e.steps++
	return []float64{e.x}, -e.x * e.x, false, e.steps >= 10
}

func (e *fakeEnv) Snapshot() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, math.Float64bits(e.x))
	return binary.LittleEndian.AppendUint64(b, uint64(e.steps)), nil
}

func (e *fakeEnv) Restore(data []byte) error {
	if len(data) != 16 {
		return fmt.Errorf("fake env: snapshot of %d bytes, want 16", len(data))
	}
	e.x = math.Float64frombits(binary.LittleEndian.Uint64(data))
	e.steps = int(binary.LittleEndian.Uint64(data[8:]))
	return nil
}

// plainEnv cannot take snapshots.
type plainEnv struct{ fakeEnv }

func (plainEnv) Snapshot() {}

// otherEnv takes snapshots but is another type than fakeEnv.
type otherEnv struct{ fakeEnv }

func TestEnvRoundTrip(t *testing.T) {
	e := &fakeEnv{}
	e.Reset(2)
	e.Step([]float64{0.25})
	s := NewState()
	if err := s.PutEnv("env", e); err != nil {
		t.Fatal(err)
	}
	loaded := roundTrip(t, s)
	var f fakeEnv
	if err := loaded.Env("env", &f); err != nil {
		t.Fatal(err)
	}
	if f != *e {
		t.Errorf("restored %+v, want %+v", f, *e)
	}

	// An environment without snapshots is recorded as such, and refused
	// on resume.
	plain := NewState()
	if err := plain.PutEnv("env", &plainEnv{}); err != nil {
		t.Fatal(err)
	}
	err := roundTrip(t, plain).Env("env", &plainEnv{})
	if err == nil || !strings.HasSuffix(err.Error(), `: value "env": environment *checkpoint.plainEnv has no Snapshot and Restore methods (env.Snapshotter), so this checkpoint holds no state of it: it can be evaluated but not resumed`) {
		t.Errorf("Env of an environment without snapshots: %v", err)
	}
	err = loaded.Env("env", &otherEnv{})
	if err == nil || !strings.HasSuffix(err.Error(), `value "env" is a snapshot of environment *checkpoint.fakeEnv, not *checkpoint.otherEnv`) {
		t.Errorf("Env into another type: %v", err)
	}
	// Restore's own refusal is passed on.
	if err := s.PutValue("env", envState{Type: "*checkpoint.fakeEnv", Data: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	err = s.Env("env", &f)
	wantErr(t, err, `checkpoint state: value "env": restore environment *checkpoint.fakeEnv: fake env: snapshot of 2 bytes, want 16`)
	if errors.Unwrap(err) == nil {
		t.Error("Env does not wrap Restore's error")
	}
}
