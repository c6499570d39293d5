package mbpo

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
)

// Save puts into s under prefix everything the dynamics' trainings carry
// from one to the next: the ensemble's parameters (the members' layers and
// the shared log-variance bounds), its standardisers' statistics (which
// the model's predictions between two trainings read), the Adam moments
// and step count, the elites, and the host-side Philox stream of the
// holdout splits and reshuffles. Nothing else carries: every training
// reloads its data from the real buffer, redraws the holdout and the
// bootstraps, and starts its early stopping and its members' snapshots
// afresh (see Dynamics).
func (d *Dynamics) Save(s *checkpoint.State, prefix string) {
	s.PutParams(prefix+"params", d.Model.Params)
	s.PutParams(prefix+"norm", d.Model.Norm)
	s.PutAdam(prefix+"opt", d.opt)
	s.PutRNG(prefix+"shuffle", d.shuffle)
	// A slice of ints always marshals.
	_ = s.PutValue(prefix+"elites", d.Elites)
}

// Load restores what Save put into s under prefix. The dynamics must have
// been made by NewDynamics with the same model configuration and sizes;
// otherwise, or if the saved elites are not Elites distinct members, Load
// returns an error naming what differs.
func (d *Dynamics) Load(s *checkpoint.State, prefix string) error {
	var elites []int
	if err := s.Value(prefix+"elites", &elites); err != nil {
		return err
	}
	if err := checkElites(elites, d.cfg.Elites, d.cfg.Members); err != nil {
		return fmt.Errorf("checkpoint value %q: %w", prefix+"elites", err)
	}
	for _, err := range []error{
		s.Params(prefix+"params", d.Model.Params),
		s.Params(prefix+"norm", d.Model.Norm),
		s.Adam(prefix+"opt", d.opt),
		s.RNG(prefix+"shuffle", d.shuffle),
	} {
		if err != nil {
			return err
		}
	}
	d.Elites = elites
	return nil
}

// checkElites returns an error unless elites holds n distinct members of
// an ensemble of members.
func checkElites(elites []int, n, members int) error {
	if len(elites) != n {
		return fmt.Errorf("%d elites %v, want %d", len(elites), elites, n)
	}
	seen := make([]bool, members)
	for _, m := range elites {
		if m < 0 || m >= members || seen[m] {
			return fmt.Errorf("elites %v: want %d distinct members of [0, %d)", elites, n, members)
		}
		seen[m] = true
	}
	return nil
}

// modelStatsCounts is the integer part of a ModelStats' checkpoint.
type modelStatsCounts struct {
	Train   int `json:"train"`
	Holdout int `json:"holdout"`
	Epochs  int `json:"epochs"`
}

// Save puts the statistics into s under name, exactly (NaN included):
// the training loops keep the latest training's for their rows.
func (st *ModelStats) Save(s *checkpoint.State, name string) {
	// Three ints always marshal.
	_ = s.PutValue(name, modelStatsCounts{st.Train, st.Holdout, st.Epochs})
	s.PutFloats(name+".elites", []float64{st.EliteMSE, st.EliteNLL})
	s.PutFloats(name+".holdout_mse", st.HoldoutMSE)
	s.PutFloats(name+".holdout_nll", st.HoldoutNLL)
}

// Load restores the statistics Save put into s under name. On an error st
// is left as it was.
func (st *ModelStats) Load(s *checkpoint.State, name string) error {
	var c modelStatsCounts
	if err := s.Value(name, &c); err != nil {
		return err
	}
	if c.Train < 0 || c.Holdout < 0 || c.Epochs < 0 {
		return fmt.Errorf("checkpoint value %q: negative counts %+v", name, c)
	}
	elites, err := s.Floats(name + ".elites")
	if err != nil {
		return err
	}
	if len(elites) != 2 {
		return fmt.Errorf("checkpoint value %q holds %d values, want 2 (the elites' MSE and NLL)", name+".elites", len(elites))
	}
	mse, err := s.Floats(name + ".holdout_mse")
	if err != nil {
		return err
	}
	nll, err := s.Floats(name + ".holdout_nll")
	if err != nil {
		return err
	}
	*st = ModelStats{
		Train: c.Train, Holdout: c.Holdout, Epochs: c.Epochs,
		HoldoutMSE: mse, HoldoutNLL: nll,
		EliteMSE: elites[0], EliteNLL: elites[1],
	}
	return nil
}

// modelBufferState is the host part of a ModelBuffer's checkpoint.
type modelBufferState struct {
	Capacity int `json:"capacity"` // 0 before the first Resize
	Added    int `json:"added"`
}

// Save puts the model buffer's transitions, its ring position and its
// count of transitions added (which a later Resize reads) into s under
// name.
func (m *ModelBuffer) Save(s *checkpoint.State, name string) {
	st := modelBufferState{Added: m.added}
	if m.Buffer != nil {
		st.Capacity = m.Buffer.Cap()
		m.Buffer.Save(s, name+".ring")
	}
	// Two ints always marshal.
	_ = s.PutValue(name, st)
}

// Load restores what Save put into s under name, allocating the buffer
// with capacity transitions (none for 0), which must be the saved
// capacity: the training loop knows it from the rollout length in force
// (ModelBufferCapacity). On an error m is left as it was.
func (m *ModelBuffer) Load(s *checkpoint.State, name string, capacity int) error {
	var st modelBufferState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	switch {
	case st.Capacity != capacity:
		return fmt.Errorf("checkpoint value %q: a model buffer of %d transitions, want %d", name, st.Capacity, capacity)
	case st.Added < 0 || (capacity == 0 && st.Added != 0):
		return fmt.Errorf("checkpoint value %q: %d transitions added to a model buffer of %d", name, st.Added, capacity)
	}
	if capacity == 0 {
		m.Free()
		m.added = 0
		return nil
	}
	buf := m.Buffer
	if buf == nil || buf.Cap() != capacity {
		buf = replay.New(m.eng, capacity, m.obsDim, m.actDim)
	}
	if err := buf.Load(s, name+".ring"); err != nil {
		if buf != m.Buffer {
			buf.Free()
		}
		return err
	}
	if buf != m.Buffer {
		m.Free()
	}
	m.Buffer, m.added = buf, st.Added
	return nil
}

// CheckpointPolicy returns the deterministic policy tanh(μ), rescaled to
// the action bounds of run.Env, of the SAC agent saved in s by Train with
// cfg: the policy Train evaluates, for `imago eval`. free releases its
// device memory.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	// Train saves its agent as sac.Train does, under "agent.".
	policy, free, err = sac.CheckpointPolicy(eng, run, cfg.SAC, s)
	if err != nil {
		return nil, nil, fmt.Errorf("mbpo: %w", err)
	}
	return policy, free, nil
}

// loadFloats sets *dst[i] to element i of the float64s stored by
// PutFloats under name, which must hold len(dst) of them; on an error it
// sets none.
func loadFloats(s *checkpoint.State, name string, dst ...*float64) error {
	v, err := s.Floats(name)
	if err != nil {
		return err
	}
	if len(v) != len(dst) {
		return fmt.Errorf("checkpoint value %q holds %d values, want %d", name, len(v), len(dst))
	}
	for i, p := range dst {
		*p = v[i]
	}
	return nil
}
