package ddpg

import (
	"fmt"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Agent holds DDPG's (or TD3's) networks, their optimizers and the device
// scratch of its gradient steps. Everything of an update runs on the
// engine; the scalar metrics are summed on the device and downloaded only
// when reported.
//
// Update is the whole DDPG/TD3 gradient step. Its parts are exported for
// algorithms that change only the critic's targets (algos/mve's value
// expansion): TargetAction and TargetQ evaluate the target networks,
// Backup forms one-step targets, CriticStep regresses the critics onto
// given targets and PolicyStep takes the (delayed) actor step and moves the
// targets. Update is exactly
//
//	a' = TargetAction(s'), y = Backup(r, d, TargetQ(s', a')),
//	CriticStep(s, a, y, no weights), PolicyStep(s).
type Agent struct {
	eng engine.Engine
	cfg Config

	actor, targetActor   *Policy
	critic, targetCritic *nn.Critic
	actorOpt, criticOpt  *nn.Adam

	scratch map[int]*scratch // by row count
	loss    *engine.Tensor   // [1]

	// metrics holds, summed over the steps since the last reset, the
	// critics' mean loss and the actor loss, in that order.
	metrics     *engine.Tensor // [numMetrics]
	criticSteps int            // critic steps summed in metrics
	actorSteps  int            // actor steps summed in metrics
	updates     int            // PolicyStep calls, for the actor's delay
}

// The slots of agent.metrics.
const (
	metricQLoss = iota
	metricActorLoss
	numMetrics
)

// scratch is the device scratch of the steps on n rows.
type scratch struct {
	y, tmp  *engine.Tensor // [n, 1]
	yE, dq  *engine.Tensor // [E, n, 1]: the target per critic, then ∂L/∂Q
	noise   *engine.Tensor // [n, Act]: the target policy smoothing noise
	dqActor *engine.Tensor // [E, n, 1]: ∂L_actor/∂Q, −1/n for the first critic, 0 for the other
}

// NewAgent allocates the networks of cfg for observations of obsDim and
// actions of actDim elements and initialises them from rng: the actor,
// then the critics, with PyTorch's default (FanInUniform, as [CleanRL]);
// the target networks start as copies. cfg must be valid (Validate).
func NewAgent(eng engine.Engine, cfg Config, obsDim, actDim int, rng *engine.RNG) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ddpg: %w", err)
	}
	actor, err := NewPolicy(eng, obsDim, actDim, cfg.Hidden)
	if err != nil {
		return nil, err
	}
	critic, err := nn.NewCritic(eng, nn.CriticConfig{Obs: obsDim, Act: actDim, Members: cfg.Critics(), Hidden: cfg.Hidden, Activation: engine.ReLU})
	if err != nil {
		actor.Free()
		return nil, err
	}
	actor.Init(rng)
	critic.Init(nn.FanInUniform, rng)
	return &Agent{
		eng:          eng,
		cfg:          cfg,
		actor:        actor,
		targetActor:  actor.Target(),
		critic:       critic,
		targetCritic: critic.Target(),
		actorOpt:     nn.NewAdam(actor.Params, engine.AdamConfig{LR: float32(cfg.ActorLR)}),
		criticOpt:    nn.NewAdam(critic.Params, engine.AdamConfig{LR: float32(cfg.CriticLR)}),
		scratch:      map[int]*scratch{},
		loss:         eng.New(engine.Float32, 1),
		metrics:      eng.New(engine.Float32, numMetrics),
	}, nil
}

// Config returns the agent's configuration.
func (a *Agent) Config() Config { return a.cfg }

// Policy returns the actor, TargetPolicy the target actor.
func (a *Agent) Policy() *Policy       { return a.actor }
func (a *Agent) TargetPolicy() *Policy { return a.targetActor }

// Critic returns the critics (one ensemble of Config.Critics() members),
// TargetCritic their targets.
func (a *Agent) Critic() *nn.Critic       { return a.critic }
func (a *Agent) TargetCritic() *nn.Critic { return a.targetCritic }

// scratchFor returns the scratch of steps on n rows, allocating it the
// first time n is seen.
func (a *Agent) scratchFor(n int) *scratch {
	if s := a.scratch[n]; s != nil {
		return s
	}
	e, act := a.cfg.Critics(), a.actor.Act
	f32 := func(shape ...int) *engine.Tensor { return a.eng.New(engine.Float32, shape...) }
	s := &scratch{
		y: f32(n, 1), tmp: f32(n, 1),
		yE: f32(e, n, 1), dq: f32(e, n, 1),
		noise: f32(n, act), dqActor: f32(e, n, 1),
	}
	a.eng.Fill(s.dqActor.View(0, n, 1), -1/float32(n))
	a.scratch[n] = s
	return s
}

// Update takes one DDPG (or TD3) gradient step on the minibatch d, in the
// order of [CleanRL]: the critics towards
// y = r + γ·(1 − terminated)·Q'(s', a'), then every PolicyFrequency-th
// call the actor and the Polyak move of the target networks. Q' is the
// target critic, or with TwinCritics the minimum of the two; a' is the
// target actor's action, with TargetPolicySmoothing's noise drawn from rng.
// Truncated transitions are stored as not terminated and so bootstrap.
func (a *Agent) Update(d *replay.Batch, rng *engine.RNG) {
	s := a.scratchFor(d.Len())
	next := a.TargetAction(d.NextObs, rng)
	a.TargetQ(s.y, d.NextObs, next)
	Backup(a.eng, s.y, s.tmp, d.Reward, d.Terminated, s.y, a.cfg.Gamma)
	a.CriticStep(d.Obs, d.Act, s.y, nil)
	a.PolicyStep(d.Obs)
}

// TargetAction returns the target actor's actions [N, Act] for
// observations obs [N, Obs]: π'(s), and with TargetPolicySmoothing
// clip(π'(s) + clip(ε, −c, c), −1, 1) with ε ~ N(0, PolicyNoise²) from one
// RandNormal of N·Act values from rng ([TD3] eq. 14; [CleanRL]). Without
// smoothing rng is not used. The result belongs to the target actor's
// Infer workspace for N rows: it is valid until its next Infer of N rows.
func (a *Agent) TargetAction(obs *engine.Tensor, rng *engine.RNG) *engine.Tensor {
	act := a.targetActor.Infer(obs)
	if a.cfg.TargetPolicySmoothing {
		noise := a.scratchFor(obs.Dim(0)).noise
		c := float32(a.cfg.NoiseClip)
		a.eng.RandNormal(noise, rng, 0, float32(a.cfg.PolicyNoise))
		a.eng.Clamp(noise, noise, -c, c)
		a.eng.Binary(engine.Add, act, act, noise)
		a.eng.Clamp(act, act, -1, 1)
	}
	return act
}

// TargetQ sets dst [N, 1] to the target critic's value Q'(obs, act) of
// observations [N, Obs] and actions [N, Act], the minimum over the two
// with TwinCritics. dst must not overlap the inputs.
func (a *Agent) TargetQ(dst, obs, act *engine.Tensor) {
	n := obs.Dim(0)
	q := a.targetCritic.Infer(obs, act)
	if a.cfg.TwinCritics {
		a.eng.Binary(engine.Min, dst, q.View(0, n, 1), q.View(n, n, 1))
	} else {
		a.eng.Copy(dst, q.View(0, n, 1))
	}
}

// Backup computes the one-step target dst = reward + γ·(1 − terminated)·
// next, all of N elements, with tmp as scratch of N elements. dst may be
// next; it must not be reward or terminated, and tmp must be none of the
// others.
func Backup(eng engine.Engine, dst, tmp, reward, terminated, next *engine.Tensor, gamma float64) {
	eng.Scale(tmp, terminated, -float32(gamma), float32(gamma)) // γ·(1 − terminated)
	eng.Binary(engine.Mul, dst, next, tmp)
	eng.Binary(engine.Add, dst, dst, reward)
}

// CriticStep takes one Adam step of the critics on observations obs
// [N, Obs], actions act [N, Act] and targets y [N, 1] (held fixed):
//
//	L = Σ_e (1/N)·Σ_n w_n·(Q_e(s_n, a_n) − y_n)²,
//
// the sum over critics of each one's mean squared error as [CleanRL]
// (qf1_loss + qf2_loss), with per-row weights w [N, 1], or w_n = 1 when
// weight is nil. The normaliser is N whatever the weights: a row of weight
// 0 counts in N (algos/mve's TD-k loss divides by its number of terms, as
// Feinberg et al. do). What is logged as q_loss is L divided by the number
// of critics. None of the inputs is modified.
func (a *Agent) CriticStep(obs, act, y, weight *engine.Tensor) {
	eng, e, n := a.eng, a.cfg.Critics(), obs.Dim(0)
	if y.Len() != n || (weight != nil && weight.Len() != n) {
		panic(fmt.Sprintf("ddpg: CriticStep: %d rows with targets %v and weights %v", n, y.Shape(), weight))
	}
	s := a.scratchFor(n)
	member := func(t *engine.Tensor, m int) *engine.Tensor { return t.View(m*n, n, 1) }
	for m := range e {
		eng.Copy(member(s.yE, m), y)
	}
	q := a.critic.Forward(obs, act)
	eng.Binary(engine.Sub, s.dq, q, s.yE) // Q − y
	wd := s.dq                            // w·(Q − y)
	if weight != nil {
		for m := range e {
			eng.Binary(engine.Mul, member(s.yE, m), member(s.dq, m), weight)
		}
		wd = s.yE
	}
	eng.Gemm(false, true, 1/float32(e*n), s.dq.Reshape(1, e*n), wd.Reshape(1, e*n), 0, a.loss.Reshape(1, 1))
	eng.Scale(s.dq, wd, 2/float32(n), 0) // ∂L/∂Q_e = 2·w·(Q_e − y)/N
	a.critic.Params.ZeroGrad()
	a.critic.Backward(s.dq, nn.ParamGrad)
	a.criticOpt.Update()
	a.accumulate(metricQLoss, a.loss, 1)
	a.criticSteps++
}

// PolicyStep counts one update and, every PolicyFrequency-th one, takes one
// Adam step of the actor on observations obs [B, Obs] and then moves the
// target networks ([CleanRL]: both inside `if global_step %
// policy_frequency == 0`). The actor's loss is −mean_b Q_1(s_b, π(s_b)),
// through the first critic as just updated ([TD3], [CleanRL]).
func (a *Agent) PolicyStep(obs *engine.Tensor) {
	a.updates++
	if a.updates%a.cfg.PolicyFrequency != 0 {
		return
	}
	eng, b := a.eng, obs.Dim(0)
	s := a.scratchFor(b)
	act := a.actor.Forward(obs)
	q := a.critic.Forward(obs, act)
	dAct := a.critic.Backward(s.dqActor, nn.InputGrad)
	a.actor.Params.ZeroGrad()
	a.actor.Backward(dAct)
	a.actorOpt.Update()
	eng.ReduceCols(engine.Mean, a.loss, q.View(0, b, 1))
	a.accumulate(metricActorLoss, a.loss, -1)
	a.actorSteps++

	tau := float32(a.cfg.Tau)
	a.critic.UpdateTarget(a.targetCritic, tau)
	a.targetActor.Params.Polyak(a.actor.Params, tau)
}

// accumulate adds sign·v to metrics slot.
func (a *Agent) accumulate(slot int, v *engine.Tensor, sign float32) {
	a.eng.Axpby(a.metrics.View(slot, 1), sign, v, 1)
}

// TakeMetrics returns the mean critic loss over the critic steps since the
// last call and the mean actor loss over the actor steps since then, each
// NaN when there were none, and resets the sums. It downloads numMetrics
// values.
func (a *Agent) TakeMetrics() (qLoss, actorLoss float64) {
	qLoss, actorLoss = nan(), nan()
	if a.criticSteps == 0 && a.actorSteps == 0 {
		return qLoss, actorLoss
	}
	var m [numMetrics]float32
	a.eng.Download(m[:], a.metrics)
	a.eng.Fill(a.metrics, 0)
	if a.criticSteps > 0 {
		qLoss = float64(m[metricQLoss]) / float64(a.criticSteps)
	}
	if a.actorSteps > 0 {
		actorLoss = float64(m[metricActorLoss]) / float64(a.actorSteps)
	}
	a.criticSteps, a.actorSteps = 0, 0
	return qLoss, actorLoss
}

// Free releases the agent's device memory.
func (a *Agent) Free() {
	a.actor.Free()
	a.targetActor.Free()
	for _, c := range []*nn.Critic{a.critic, a.targetCritic} {
		c.ReleaseWorkspaces()
		c.Params.Free()
	}
	a.actorOpt.Free()
	a.criticOpt.Free()
	for _, s := range a.scratch {
		for _, t := range []*engine.Tensor{s.y, s.tmp, s.yE, s.dq, s.noise, s.dqActor} {
			a.eng.Free(t)
		}
	}
	a.scratch = nil
	a.eng.Free(a.loss)
	a.eng.Free(a.metrics)
}
