package mve

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/engine"
)

// Save puts the agent's whole state into s under prefix: the base
// learner's (ddpg.Agent.Save, under prefix itself, so that
// ddpg.CheckpointPolicy reads its policy) and the sum of the expansions
// since the last TakeMetrics with its count of updates. The rest of the
// agent is scratch that every update overwrites; the model is saved apart.
func (a *Agent) Save(s *checkpoint.State, prefix string) {
	a.base.Save(s, prefix)
	s.PutDevice(prefix+"expansion", a.eng, a.horizon)
	// An int always marshals.
	_ = s.PutValue(prefix+"expansion_updates", a.updates)
}

// Load restores what Save put into s under prefix. The agent must have
// been made by NewAgent with the same Config and sizes.
func (a *Agent) Load(s *checkpoint.State, prefix string) error {
	var updates int
	if err := s.Value(prefix+"expansion_updates", &updates); err != nil {
		return err
	}
	if updates < 0 {
		return fmt.Errorf("checkpoint value %q is %d, a negative count of updates", prefix+"expansion_updates", updates)
	}
	if err := a.base.Load(s, prefix); err != nil {
		return err
	}
	if err := s.Device(prefix+"expansion", a.eng, a.horizon); err != nil {
		return err
	}
	a.updates = updates
	return nil
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

// CheckpointPolicy returns the deterministic policy, rescaled to the
// action bounds of run.Env, of the base learner saved in s by Train with
// cfg (MVE's or STEVE's): the policy Train evaluates, for `imago eval`.
// free releases its device memory.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("mve: %w", err)
	}
	policy, free, err = ddpg.CheckpointPolicy(eng, run, cfg.DDPG, s)
	if err != nil {
		return nil, nil, fmt.Errorf("mve: %w", err)
	}
	return policy, free, nil
}
