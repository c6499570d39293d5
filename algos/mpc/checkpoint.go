package mpc

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Save puts the host stream of the particles' members into s as the value
// name. The engine stream of the model noise is the caller's, and the
// members are set from the model's elites (SetMembers).
func (p *TSInf) Save(s *checkpoint.State, name string) { s.PutRNG(name, p.host) }

// Load restores the stream Save put into s under name.
func (p *TSInf) Load(s *checkpoint.State, name string) error { return s.RNG(name, p.host) }

// Save puts the planner's state into s under name: its warm start (the
// last plan shifted by one step, which the next Plan starts from) and its
// CEM's Philox stream. The propagator is saved apart.
func (p *Planner) Save(s *checkpoint.State, name string) {
	s.PutFloats(name+".warm_start", p.mu)
	s.PutRNG(name+".cem", p.cem.rng)
}

// Load restores what Save put into s under name into a planner of the same
// horizon and action size; otherwise it returns an error and leaves p as
// it was.
func (p *Planner) Load(s *checkpoint.State, name string) error {
	mu, err := s.Floats(name + ".warm_start")
	if err != nil {
		return err
	}
	if len(mu) != len(p.mu) {
		return fmt.Errorf("checkpoint value %q holds %d values, want %d (horizon %d × %d actions)", name+".warm_start", len(mu), len(p.mu), p.horizon, p.actDim)
	}
	if err := s.RNG(name+".cem", p.cem.rng); err != nil {
		return err
	}
	copy(p.mu, mu)
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

// CheckpointPolicy returns, for `imago eval`, the evaluation policy of the
// run saved in s by Train with cfg on run.Env: not a network but the
// planner Train evaluates with, CEM through the saved model with TS∞
// particles, so that every action costs what a training action costs (a
// full CEM search: Iterations × Population × Particles × Horizon rows
// through the ensemble). It continues the random streams of the
// evaluations where the checkpoint left them, so that its first episode
// is the one the run's next evaluation would have played. The planner
// keeps a warm start from one step to the next; reset drops it, and must
// run before each episode, as Train's evaluations do (an environment whose
// Reset calls it serves). free releases its device memory.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, reset, free func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("mpc: %w", err)
	}
	e, err := env.Make(run.Env)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mpc: %w", err)
	}
	model, ok := e.(env.Model)
	if !ok {
		return nil, nil, nil, fmt.Errorf("mpc: %s does not give its reward and termination as functions (env.Model); the planner scores with them", run.Env)
	}
	actSpace := e.ActionSpace()
	if err := checkActionSpace(run.Env, actSpace); err != nil {
		return nil, nil, nil, err
	}
	obsDim := e.ObservationSpace().Dim()
	// The model is not trained here: scratch for the smallest data set.
	rng := engine.NewRNG(uint64(run.Seed))
	dynamics, err := mbpo.NewDynamics(eng, cfg.modelConfig(), obsDim, actSpace.Dim(), 2, rng, uint64(run.Seed))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mpc: %w", err)
	}
	prop := NewTSInf(eng, dynamics.Model, obsDim, cfg.Population*cfg.Particles, rng, uint64(run.Seed)^assignKey)
	planner, err := newPlanner(eng, cfg, prop, model, obsDim, actSpace, uint64(run.Seed)^evalKey)
	if err != nil {
		prop.Free()
		dynamics.Free()
		return nil, nil, nil, err
	}
	free = func() {
		planner.Free()
		prop.Free()
		dynamics.Free()
	}
	if err := dynamics.Load(s, "model."); err != nil {
		free()
		return nil, nil, nil, fmt.Errorf("mpc: %w", err)
	}
	for _, err := range []error{s.RNG("rng", rng), prop.Load(s, "particles"), planner.Load(s, "eval_planner")} {
		if err != nil {
			free()
			return nil, nil, nil, fmt.Errorf("mpc: %w", err)
		}
	}
	prop.SetMembers(dynamics.Elites)
	planner.Reset()
	return planner.Plan, planner.Reset, free, nil
}
