package bptt

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Save puts the policy's parameters (the mean network's and log σ) into s
// as the value called name, exactly.
func (p *GaussianPolicy) Save(s *checkpoint.State, name string) { s.PutFloats(name, p.Params) }

// Load restores the parameters Save put into s under name. The policy must
// have the saved sizes; otherwise Load returns an error and leaves the
// policy as it was.
func (p *GaussianPolicy) Load(s *checkpoint.State, name string) error {
	return loadInto(s, name, p.Params)
}

// Save puts the network's parameters into s as the value called name,
// exactly.
func (m *MLP64) Save(s *checkpoint.State, name string) { s.PutFloats(name, m.Params) }

// Load restores the parameters Save put into s under name. The network
// must have the saved sizes; otherwise Load returns an error and leaves
// the network as it was.
func (m *MLP64) Load(s *checkpoint.State, name string) error { return loadInto(s, name, m.Params) }

// loadInto copies the float64s stored under name into dst, which views
// a network's parameters and so is copied into rather than replaced.
func loadInto(s *checkpoint.State, name string, dst []float64) error {
	v, err := s.Floats(name)
	if err != nil {
		return err
	}
	if len(v) != len(dst) {
		return fmt.Errorf("checkpoint value %q holds %d parameters, want %d: a network of other sizes", name, len(v), len(dst))
	}
	copy(dst, v)
	return nil
}

// adamState is the step count of an Adam64's checkpoint; the moments are
// stored apart, exactly.
type adamState struct {
	Step int `json:"step"`
}

// Save puts the optimizer's moments and step count into s under name. The
// learning rate is not stored: it is the caller's configuration.
func (a *Adam64) Save(s *checkpoint.State, name string) {
	s.PutFloats(name+".m", a.m)
	s.PutFloats(name+".v", a.v)
	// An int always marshals.
	_ = s.PutValue(name, adamState{Step: a.t})
}

// Load restores what Save put into s under name into an optimizer of as
// many parameters; otherwise it returns an error and leaves a as it was.
func (a *Adam64) Load(s *checkpoint.State, name string) error {
	var st adamState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	if st.Step < 0 {
		return fmt.Errorf("checkpoint value %q: step %d, want ≥ 0", name, st.Step)
	}
	m, err := s.Floats(name + ".m")
	if err != nil {
		return err
	}
	v, err := s.Floats(name + ".v")
	if err != nil {
		return err
	}
	if len(m) != len(a.m) || len(v) != len(a.v) {
		return fmt.Errorf("checkpoint value %q: moments of %d and %d parameters, want %d", name, len(m), len(v), len(a.m))
	}
	a.m, a.v, a.t = m, v, st.Step
	return nil
}

// startsState is the ring of a StartStates' checkpoint; the observations
// are stored apart, exactly, one after the other.
type startsState struct {
	Capacity int `json:"capacity"`
	Len      int `json:"len"`
	Dim      int `json:"dim"`
	Next     int `json:"next"`
}

// Save puts the stored observations, in their ring's order, and the ring's
// position into s under name.
func (s *StartStates) Save(st *checkpoint.State, name string) {
	dim := 0
	if len(s.obs) > 0 {
		dim = len(s.obs[0])
	}
	flat := make([]float64, 0, len(s.obs)*dim)
	for _, o := range s.obs {
		flat = append(flat, o...)
	}
	st.PutFloats(name+".obs", flat)
	// Ints always marshal.
	_ = st.PutValue(name, startsState{Capacity: cap(s.obs), Len: len(s.obs), Dim: dim, Next: s.next})
}

// Load restores what Save put into st under name into s, which must have
// the saved capacity and observations of obsDim elements; otherwise it
// returns an error naming the difference and leaves s as it was.
func (s *StartStates) Load(st *checkpoint.State, name string, obsDim int) error {
	var r startsState
	if err := st.Value(name, &r); err != nil {
		return err
	}
	switch {
	case r.Capacity != cap(s.obs):
		return fmt.Errorf("checkpoint value %q: a store of %d observations, not %d", name, r.Capacity, cap(s.obs))
	case r.Len < 0 || r.Len > r.Capacity:
		return fmt.Errorf("checkpoint value %q: %d observations in a store of %d", name, r.Len, r.Capacity)
	case r.Len > 0 && r.Dim != obsDim:
		return fmt.Errorf("checkpoint value %q: observations of %d elements, want %d", name, r.Dim, obsDim)
	case r.Next < 0 || (r.Len < r.Capacity && r.Next != 0) || (r.Len == r.Capacity && r.Next >= max(r.Len, 1)):
		// Add moves next only once the store is full.
		return fmt.Errorf("checkpoint value %q: ring position %d of %d observations in a store of %d", name, r.Next, r.Len, r.Capacity)
	}
	flat, err := st.Floats(name + ".obs")
	if err != nil {
		return err
	}
	if len(flat) != r.Len*obsDim {
		return fmt.Errorf("checkpoint value %q: %d values for %d observations of %d elements", name+".obs", len(flat), r.Len, obsDim)
	}
	obs := make([][]float64, r.Len, r.Capacity)
	for i := range obs {
		obs[i] = flat[i*obsDim : (i+1)*obsDim : (i+1)*obsDim]
	}
	s.obs, s.next = obs, r.Next
	return nil
}

// loopSums names the float64s that Train sums between evaluations, as its
// checkpoints store them; any may be NaN.
var loopSums = []string{"model_mse", "sum_model_return", "sum_grad_norm"}

// loopState is the count of Train's loop besides its sums.
type loopState struct {
	Updates int `json:"updates"` // policy steps since the last evaluation
}

// CheckpointPolicy returns the deterministic policy of the agent saved in s
// by Train with cfg on run.Env, the one Train evaluates: the squashed mean
// of the Gaussian (GaussianPolicy.Mode). free does nothing: the policy
// lives on the host, and eng is not used.
func CheckpointPolicy(_ engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	e, err := env.Make(run.Env)
	if err != nil {
		return nil, nil, fmt.Errorf("bptt: %w", err)
	}
	space := e.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, space); err != nil {
		return nil, nil, fmt.Errorf("bptt: %w", err)
	}
	p, err := NewGaussianPolicy(e.ObservationSpace().Dim(), space.Dim(), cfg.PolicyHidden, cfg.InitLogStd, space.Low, space.High)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Load(s, "policy"); err != nil {
		return nil, nil, fmt.Errorf("bptt: %w", err)
	}
	return p.Mode, func() {}, nil
}
