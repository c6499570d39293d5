package ddpg

import (
	"errors"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// agentCounts is the host part of an Agent's checkpoint.
type agentCounts struct {
	CriticSteps int `json:"critic_steps"`
	ActorSteps  int `json:"actor_steps"`
	Updates     int `json:"updates"`
}

// Save puts the agent's whole state into s under prefix: the policy, the
// critics, their targets, both optimizers, the sums of the metrics since
// the last evaluation and the update count that the actor's delay follows.
func (a *Agent) Save(s *checkpoint.State, prefix string) {
	s.PutParams(prefix+"actor", a.actor.Params)
	s.PutParams(prefix+"target_actor", a.targetActor.Params)
	s.PutParams(prefix+"critic", a.critic.Params)
	s.PutParams(prefix+"target_critic", a.targetCritic.Params)
	s.PutAdam(prefix+"actor_opt", a.actorOpt)
	s.PutAdam(prefix+"critic_opt", a.criticOpt)
	s.PutDevice(prefix+"metrics", a.eng, a.metrics)
	// agentCounts always marshals.
	_ = s.PutValue(prefix+"counts", agentCounts{a.criticSteps, a.actorSteps, a.updates})
}

// Load restores what Save put into s under prefix. The agent must have
// been made by NewAgent with the same Config and sizes.
func (a *Agent) Load(s *checkpoint.State, prefix string) error {
	var c agentCounts
	err := errors.Join(
		s.Params(prefix+"actor", a.actor.Params),
		s.Params(prefix+"target_actor", a.targetActor.Params),
		s.Params(prefix+"critic", a.critic.Params),
		s.Params(prefix+"target_critic", a.targetCritic.Params),
		s.Adam(prefix+"actor_opt", a.actorOpt),
		s.Adam(prefix+"critic_opt", a.criticOpt),
		s.Device(prefix+"metrics", a.eng, a.metrics),
		s.Value(prefix+"counts", &c),
	)
	if err != nil {
		return err
	}
	a.criticSteps, a.actorSteps, a.updates = c.CriticSteps, c.ActorSteps, c.Updates
	return nil
}

// CheckpointPolicy returns the deterministic policy, rescaled to the action
// bounds of run.Env, of the agent saved in s by Train with cfg, for
// evaluation; free releases its device memory. MVE and STEVE save their
// agent the same way.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	e, err := env.Make(run.Env)
	if err != nil {
		return nil, nil, err
	}
	if err := sac.CheckActionSpace(run.Env, e.ActionSpace()); err != nil {
		return nil, nil, err
	}
	agent, err := NewAgent(eng, cfg, e.ObservationSpace().Dim(), e.ActionSpace().Dim(), engine.NewRNG(uint64(run.Seed)))
	if err != nil {
		return nil, nil, err
	}
	if err := agent.Load(s, "agent."); err != nil {
		agent.Free()
		return nil, nil, err
	}
	actor := NewActor(eng, agent.Policy(), e.ActionSpace(), cfg.ExplorationNoise)
	return actor.Mode, func() { actor.Free(); agent.Free() }, nil
}
