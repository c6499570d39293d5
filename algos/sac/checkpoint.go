package sac

import (
	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Save puts the agent's whole state into s under prefix: the policy, the
// critics and their targets, log α, the three optimizers, α and the sums
// of the metrics since the last evaluation.
func (a *Agent) Save(s *checkpoint.State, prefix string) {
	s.PutParams(prefix+"actor", a.actor.Params)
	s.PutParams(prefix+"critic", a.critic.Params)
	s.PutParams(prefix+"target", a.target.Params)
	s.PutParams(prefix+"log_alpha", a.logAlpha)
	s.PutAdam(prefix+"actor_opt", a.actorOpt)
	s.PutAdam(prefix+"critic_opt", a.criticOpt)
	s.PutAdam(prefix+"alpha_opt", a.alphaOpt)
	s.PutDevice(prefix+"scalars", a.eng, a.scalars)
	s.PutDevice(prefix+"metrics", a.eng, a.metrics)
	// An int always marshals.
	_ = s.PutValue(prefix+"updates", a.updates)
}

// Load restores what Save put into s under prefix. The agent must have
// been made by NewAgent with the same Config and sizes.
func (a *Agent) Load(s *checkpoint.State, prefix string) error {
	for _, p := range []struct {
		name string
		err  error
	}{
		{"actor", s.Params(prefix+"actor", a.actor.Params)},
		{"critic", s.Params(prefix+"critic", a.critic.Params)},
		{"target", s.Params(prefix+"target", a.target.Params)},
		{"log_alpha", s.Params(prefix+"log_alpha", a.logAlpha)},
		{"actor_opt", s.Adam(prefix+"actor_opt", a.actorOpt)},
		{"critic_opt", s.Adam(prefix+"critic_opt", a.criticOpt)},
		{"alpha_opt", s.Adam(prefix+"alpha_opt", a.alphaOpt)},
		{"scalars", s.Device(prefix+"scalars", a.eng, a.scalars)},
		{"metrics", s.Device(prefix+"metrics", a.eng, a.metrics)},
		{"updates", s.Value(prefix+"updates", &a.updates)},
	} {
		if p.err != nil {
			return p.err
		}
	}
	return nil
}

// CheckpointPolicy returns the deterministic policy tanh(μ), rescaled to
// the action bounds of run.Env, of the agent saved in s by Train with cfg,
// for evaluation; free releases its device memory.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	e, err := env.Make(run.Env)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckActionSpace(run.Env, e.ActionSpace()); err != nil {
		return nil, nil, err
	}
	obsDim := e.ObservationSpace().Dim()
	agent, err := NewAgent(eng, cfg, obsDim, e.ActionSpace().Dim(), engine.NewRNG(uint64(run.Seed)))
	if err != nil {
		return nil, nil, err
	}
	if err := agent.Load(s, "agent."); err != nil {
		agent.Free()
		return nil, nil, err
	}
	actor := NewActor(eng, agent, e.ActionSpace(), obsDim)
	return actor.Mode, func() { actor.Free(); agent.Free() }, nil
}
