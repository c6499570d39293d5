package checkpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// PutDevice downloads the Float32 tensor t from eng and stores it, with t's
// shape, as the tensor called name. It panics if t is not Float32.
func (s *State) PutDevice(name string, eng engine.Engine, t *engine.Tensor) {
	if t.DType() != engine.Float32 {
		panic(fmt.Sprintf("checkpoint: PutDevice %q: tensor is %v, want float32", name, t.DType()))
	}
	host := make([]float32, t.Len())
	eng.Download(host, t)
	s.putTensor(name, t.Shape(), host)
}

// Device uploads the tensor called name into the Float32 tensor t on eng.
// The stored tensor must have t's shape; otherwise, or if there is none,
// Device returns an error and leaves t as it was.
func (s *State) Device(name string, eng engine.Engine, t *engine.Tensor) error {
	if t.DType() != engine.Float32 {
		panic(fmt.Sprintf("checkpoint: Device %q: tensor is %v, want float32", name, t.DType()))
	}
	data, err := s.Tensor(name, t.Shape())
	if err != nil {
		return err
	}
	eng.Upload(t, data)
	return nil
}

// paramSpec is one parameter of a Params layout as PutParams stores it.
type paramSpec struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

func layout(p *nn.Params) []paramSpec {
	all := p.All()
	specs := make([]paramSpec, len(all))
	for i, q := range all {
		specs[i] = paramSpec{q.Name, q.Shape}
	}
	return specs
}

// PutParams stores the values of p: its flat buffer p.Data, padding
// included, as the tensor called name, and its layout (each parameter's
// name and shape, in order) as the value name+".layout", which Params
// checks. Gradients are not stored: they are recomputed before every step.
func (s *State) PutParams(name string, p *nn.Params) {
	s.PutDevice(name, p.Engine(), p.Data)
	s.putLayout(name, p)
}

// Params restores the values PutParams stored under name into p, which must
// have the same layout: the same parameter names and shapes in the same
// order. Otherwise, or if either part is missing, it returns an error
// naming the first difference and leaves p as it was.
func (s *State) Params(name string, p *nn.Params) error {
	if err := s.checkLayout(name, p); err != nil {
		return err
	}
	return s.Device(name, p.Engine(), p.Data)
}

// putLayout stores the layout of p as the value name+".layout".
func (s *State) putLayout(name string, p *nn.Params) {
	// A layout of names and ints always marshals.
	_ = s.PutValue(name+".layout", layout(p))
}

// checkLayout checks the layout stored by putLayout under name against p's.
// Flat buffers of different layouts can have the same length, padding
// included, so the length alone does not tell.
func (s *State) checkLayout(name string, p *nn.Params) error {
	var saved []paramSpec
	if err := s.Value(name+".layout", &saved); err != nil {
		return err
	}
	want := layout(p)
	for i := range max(len(saved), len(want)) {
		switch {
		case i >= len(saved):
			return fmt.Errorf("%s: parameters %q have %d tensors, not %d: %s %v is missing", s.where(), name, len(saved), len(want), want[i].Name, want[i].Shape)
		case i >= len(want):
			return fmt.Errorf("%s: parameters %q have %d tensors, not %d: %s %v is extra", s.where(), name, len(saved), len(want), saved[i].Name, saved[i].Shape)
		case saved[i].Name != want[i].Name || !slices.Equal(saved[i].Shape, want[i].Shape):
			return fmt.Errorf("%s: parameters %q: tensor %d is %s %v, want %s %v", s.where(), name, i, saved[i].Name, saved[i].Shape, want[i].Name, want[i].Shape)
		}
	}
	return nil
}

// PutAdam stores the state of the optimizer a: its moments a.M and a.V as
// the tensors name+".m" and name+".v", a.Step as the value name+".step",
// and the layout of the parameters it updates as name+".layout", which Adam
// checks. Its Config is not stored: it is the algorithm's, and comes from
// the run's configuration on resume.
func (s *State) PutAdam(name string, a *nn.Adam) {
	p := a.Params()
	s.PutDevice(name+".m", p.Engine(), a.M)
	s.PutDevice(name+".v", p.Engine(), a.V)
	// An int always marshals.
	_ = s.PutValue(name+".step", a.Step)
	s.putLayout(name, p)
}

// Adam restores the state PutAdam stored under name into a, whose
// parameters must have the stored layout. On an error a is left as it was.
func (s *State) Adam(name string, a *nn.Adam) error {
	p := a.Params()
	if err := s.checkLayout(name, p); err != nil {
		return err
	}
	var step int
	if err := s.Value(name+".step", &step); err != nil {
		return err
	}
	if step < 0 {
		return fmt.Errorf("%s: value %q is %d, a negative step count", s.where(), name+".step", step)
	}
	// Check both shapes before uploading either.
	if _, err := s.Tensor(name+".m", a.M.Shape()); err != nil {
		return err
	}
	if _, err := s.Tensor(name+".v", a.V.Shape()); err != nil {
		return err
	}
	if err := s.Device(name+".m", p.Engine(), a.M); err != nil {
		return err
	}
	if err := s.Device(name+".v", p.Engine(), a.V); err != nil {
		return err
	}
	a.Step = step
	return nil
}

// rngState is an engine.RNG as a value. JSON numbers are float64 to most
// readers, exact only to 2⁵³, so the uint64s are decimal strings.
type rngState struct {
	Seed    uint64 `json:"seed,string"`
	Counter uint64 `json:"counter,string"`
}

// PutRNG stores the state of r, its seed and counter exactly, as the value
// called name.
func (s *State) PutRNG(name string, r *engine.RNG) {
	// Two uint64s always marshal.
	_ = s.PutValue(name, rngState{r.Seed, r.Counter})
}

// RNG restores the state PutRNG stored under name into r. On an error r is
// left as it was.
func (s *State) RNG(name string, r *engine.RNG) error {
	var st rngState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	r.Seed, r.Counter = st.Seed, st.Counter
	return nil
}

// snapshotter is env.Snapshotter's method set, which every environment of
// package env implements.
type snapshotter interface {
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// envState is an environment's snapshot as a value: the Go type that took
// it, which Env checks, and its bytes, which encoding/json writes in
// base64.
type envState struct {
	Type string `json:"type"`
	Data []byte `json:"data"`
	// None is set for an environment that cannot take a snapshot.
	None bool `json:"none,omitempty"`
}

// PutEnv stores the snapshot of e (env.Snapshotter's Snapshot), with e's Go
// type, as the value called name. An environment that cannot take a
// snapshot (one of a library user's own, say) is recorded as such: the
// checkpoint still holds everything else, for evaluation and deployment,
// and Env refuses to resume from it.
func (s *State) PutEnv(name string, e env.Env) error {
	sn, ok := e.(snapshotter)
	if !ok {
		return s.PutValue(name, envState{Type: fmt.Sprintf("%T", e), None: true})
	}
	data, err := sn.Snapshot()
	if err != nil {
		return fmt.Errorf("checkpoint value %q: snapshot of environment %T: %w", name, e, err)
	}
	return s.PutValue(name, envState{Type: fmt.Sprintf("%T", e), Data: data})
}

// Env restores the snapshot PutEnv stored under name into e, which must be
// of the same Go type as the environment it was taken from and accept the
// snapshot (env.Snapshotter's Restore).
func (s *State) Env(name string, e env.Env) error {
	var st envState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	if typ := fmt.Sprintf("%T", e); st.Type != typ {
		return fmt.Errorf("%s: value %q is a snapshot of environment %s, not %s", s.where(), name, show(st.Type), typ)
	}
	if st.None {
		return fmt.Errorf("%s: value %q: environment %s has no Snapshot and Restore methods (env.Snapshotter), so this checkpoint holds no state of it: it can be evaluated but not resumed", s.where(), name, show(st.Type))
	}
	sn, ok := e.(snapshotter)
	if !ok {
		return fmt.Errorf("%s: value %q: environment %T cannot be restored: it has no Snapshot and Restore methods (env.Snapshotter)", s.where(), name, e)
	}
	if err := sn.Restore(st.Data); err != nil {
		return fmt.Errorf("%s: value %q: restore environment %T: %w", s.where(), name, e, err)
	}
	return nil
}

// PutPCG stores the state of the math/rand/v2 source src (a host-side
// generator of a training loop) as the value name.
func (s *State) PutPCG(name string, src *rand.PCG) {
	// A PCG always marshals, and bytes always encode.
	b, _ := src.MarshalBinary()
	_ = s.PutValue(name, b)
}

// PCG restores into src the state PutPCG stored under name. On an error src
// is left as it was.
func (s *State) PCG(name string, src *rand.PCG) error {
	var b []byte
	if err := s.Value(name, &b); err != nil {
		return err
	}
	var next rand.PCG
	if err := next.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s: value %q: %w", s.where(), name, err)
	}
	*src = next
	return nil
}
