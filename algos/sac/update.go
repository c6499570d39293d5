package sac

import (
	"math"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Agent holds SAC's networks, their optimizers and the device scratch of one
// gradient step. Everything of an update runs on the engine; the scalar
// metrics are summed on the device into metrics and downloaded only when
// reported.
type Agent struct {
	eng           engine.Engine
	cfg           Config
	targetEntropy float32 // TargetEntropyPerDim·|A|

	actor          *nn.Policy
	critic, target *nn.Critic
	logAlpha       *nn.Params     // "log_alpha" [1], the learned log-temperature
	alpha          *engine.Tensor // [1], exp(log α), the temperature of the next update: scalars[0]
	actorOpt       *nn.Adam
	criticOpt      *nn.Adam
	alphaOpt       *nn.Adam

	// Scratch of one update, for batch size B.
	y, tmp *engine.Tensor // [B, 1]: the critic's target, a temporary
	dq     *engine.Tensor // [2, B, 1]: ∂L/∂Q
	dLogp  *engine.Tensor // [B, 1]: ∂L_actor/∂log π
	invB   *engine.Tensor // [B, 1]: the constant 1/B
	meanLp *engine.Tensor // [1]: mean log π of the policy step's actions, scalars[1]
	// scalars holds α and the mean log π side by side, in the order of
	// their metrics, so that one Add logs both.
	scalars *engine.Tensor // [2]

	// metrics holds, summed over the updates since the last reset, the mean
	// of the two critics' MSE, the actor loss, α and the mean log π of the
	// policy's actions (the entropy's negative), in that order.
	metrics *engine.Tensor // [numMetrics]
	updates int            // updates summed in metrics
}

// The slots of agent.metrics. metricAlpha and metricLogProb are adjacent,
// in the order of agent.scalars.
const (
	metricQLoss = iota
	metricActorLoss
	metricAlpha
	metricLogProb
	numMetrics
)

// NewAgent allocates SAC's networks for observations of obsDim and actions
// of actDim elements and initialises them from rng: the policy, then the
// critics, with PyTorch's default (FanInUniform, as [CleanRL]); the target
// critics start as copies.
func NewAgent(eng engine.Engine, cfg Config, obsDim, actDim int, rng *engine.RNG) (*Agent, error) {
	actor, err := nn.NewPolicy(eng, nn.PolicyConfig{Obs: obsDim, Act: actDim, Hidden: cfg.Hidden, Activation: engine.ReLU})
	if err != nil {
		return nil, err
	}
	critic, err := nn.NewCritic(eng, nn.CriticConfig{Obs: obsDim, Act: actDim, Members: 2, Hidden: cfg.Hidden, Activation: engine.ReLU})
	if err != nil {
		return nil, err
	}
	actor.Init(nn.FanInUniform, rng)
	critic.Init(nn.FanInUniform, rng)
	logAlpha := nn.NewParams(eng, nn.ParamSpec{Name: "log_alpha", Shape: []int{1}})
	logAlpha.Set("log_alpha", []float32{float32(math.Log(cfg.Alpha))})
	b := cfg.BatchSize
	scalars := eng.New(engine.Float32, 2)
	a := &Agent{
		eng:           eng,
		cfg:           cfg,
		targetEntropy: float32(cfg.TargetEntropyPerDim * float64(actDim)),
		actor:         actor,
		critic:        critic,
		target:        critic.Target(),
		logAlpha:      logAlpha,
		alpha:         scalars.View(0, 1),
		actorOpt:      nn.NewAdam(actor.Params, engine.AdamConfig{LR: float32(cfg.ActorLR)}),
		criticOpt:     nn.NewAdam(critic.Params, engine.AdamConfig{LR: float32(cfg.CriticLR)}),
		alphaOpt:      nn.NewAdam(logAlpha, engine.AdamConfig{LR: float32(cfg.AlphaLR)}),
		y:             eng.New(engine.Float32, b, 1),
		tmp:           eng.New(engine.Float32, b, 1),
		dq:            eng.New(engine.Float32, 2, b, 1),
		dLogp:         eng.New(engine.Float32, b, 1),
		invB:          eng.New(engine.Float32, b, 1),
		meanLp:        scalars.View(1, 1),
		scalars:       scalars,
		metrics:       eng.New(engine.Float32, numMetrics),
	}
	eng.Fill(a.invB, 1/float32(b))
	eng.Unary(engine.Exp, a.alpha, logAlpha.Param("log_alpha").Value)
	return a, nil
}

// Update takes one gradient step of the critics, the policy and the
// temperature on the minibatch d, then moves the target critics, in the
// order of [CleanRL] (with the policy updated on every step, as in [SAC2]
// and [SB3]). All three losses use the temperature α from before this
// step's temperature update. The policy's noise comes from rng.
//
// On a GPU every engine call is a kernel launch of a few microseconds of
// host and driver time, about what the GPU takes for the largest product
// of an update at SAC's sizes (an estimate, not yet measured), so the
// steps below are written in few engine calls: gradients are written by
// the backward passes (nn.OverwriteGrad) instead of zeroed first, the
// target broadcasts over the two Q members instead of being copied for
// each, and the logged losses are dot products accumulated straight into
// the metrics. cuda/launch_test.go counts the launches.
func (a *Agent) Update(d *replay.Batch, rng *engine.RNG) {
	eng, b := a.eng, a.cfg.BatchSize
	member := func(t *engine.Tensor, e int) *engine.Tensor { return t.View(e*b, b, 1) }
	metric := func(slot int) *engine.Tensor { return a.metrics.View(slot, 1, 1) }
	// Both Q members' values as one row, for dot products over them.
	row := func(t *engine.Tensor) *engine.Tensor { return t.Reshape(1, 2*b) }

	// Critic target, without gradients ([SAC2] section 4.2, the soft
	// Bellman backup with the soft state value of the target critics):
	// y = r + γ·(1 − terminated)·(min_e Q'_e(s', a') − α·log π(a'|s')),
	// a' ~ π(·|s'). Truncated transitions are stored as not terminated and
	// so bootstrap.
	nextAct, nextLogp := a.actor.Sample(d.NextObs, rng)
	qNext := a.target.Infer(d.NextObs, nextAct)
	eng.Binary(engine.Min, a.y, member(qNext, 0), member(qNext, 1))
	eng.Binary(engine.Mul, a.tmp, nextLogp, a.alpha)
	eng.Binary(engine.Sub, a.y, a.y, a.tmp)
	eng.Scale(a.tmp, d.Terminated, -float32(a.cfg.Gamma), float32(a.cfg.Gamma)) // γ·(1 − terminated)
	eng.Binary(engine.Mul, a.y, a.y, a.tmp)
	eng.Binary(engine.Add, a.y, a.y, d.Reward)

	// Critic loss: L_Q = Σ_e mean_b (Q_e(s, a) − y)², the sum of the two
	// critics' MSE as in [CleanRL] (qf1_loss + qf2_loss), so
	// ∂L_Q/∂Q_e = 2(Q_e − y)/B. The MSE over both members, L_Q/2, is what
	// is logged (CleanRL logs qf_loss/2): Σ (Q − y)²/(2B), a dot product
	// of Q − y with itself.
	q := a.critic.Forward(d.Obs, d.Act)
	eng.Binary(engine.Sub, a.dq.Reshape(2, b), q.Reshape(2, b), a.y.Reshape(b)) // y broadcast over both members
	eng.Gemm(false, true, 1/float32(2*b), row(a.dq), row(a.dq), 1, metric(metricQLoss))
	eng.Scale(a.dq, a.dq, 2/float32(b), 0)
	a.critic.Backward(a.dq, nn.ParamGrad|nn.OverwriteGrad)
	a.criticOpt.Update()

	// Policy loss ([SAC2] section 4.2, reparameterised):
	// L_π = mean_b [α·log π(ã|s) − min_e Q_e(s, ã)], ã = tanh(μ + σ·ε),
	// through the critics just updated, α held fixed. ∂L/∂log π = α/B;
	// ∂L/∂Q_e = −1/B for the member that is the minimum (the first on a
	// tie), 0 for the other.
	act, logp := a.actor.Sample(d.Obs, rng)
	q = a.critic.Forward(d.Obs, act)
	q0, q1 := member(q, 0), member(q, 1)
	eng.Binary(engine.GE, member(a.dq, 0), q1, q0) // 1 where Q_0 is the minimum
	eng.Scale(member(a.dq, 1), member(a.dq, 0), 1/float32(b), -1/float32(b))
	eng.Scale(member(a.dq, 0), member(a.dq, 0), -1/float32(b), 0)
	dAct := a.critic.Backward(a.dq, nn.InputGrad)
	eng.Binary(engine.Mul, a.dLogp, a.invB, a.alpha)
	a.actor.Backward(dAct, a.dLogp, nn.ParamGrad|nn.OverwriteGrad)
	a.actorOpt.Update()
	// Logged: L_π = α·mean log π − mean min_e Q_e, where
	// −mean min_e Q_e = Σ_e Σ_b ∂L/∂Q_e·Q_e, a dot product; α·mean log π
	// is a 1×1 product of device scalars.
	eng.ReduceCols(engine.Mean, a.meanLp, logp)
	eng.Gemm(false, true, 1, row(a.dq), row(q), 1, metric(metricActorLoss))
	eng.Gemm(false, false, 1, a.alpha.Reshape(1, 1), a.meanLp.Reshape(1, 1), 1, metric(metricActorLoss))
	logged := a.metrics.View(metricAlpha, 2) // α, then mean log π
	eng.Binary(engine.Add, logged, logged, a.scalars)

	// Temperature loss ([SAC2] section 5) in log α, as softlearning and
	// [SB3] write it: L_α = −log α·mean_b (log π(ã|s) + H̄), with the
	// log-probabilities of the policy step's actions (as [SB3]), so
	// ∂L/∂log α = −(mean log π + H̄): α grows when the entropy −mean log π
	// is below the target H̄ and shrinks when above.
	if a.cfg.Autotune {
		p := a.logAlpha.Param("log_alpha")
		eng.Scale(p.Grad, a.meanLp, -1, -a.targetEntropy)
		a.alphaOpt.Update()
		eng.Unary(engine.Exp, a.alpha, p.Value)
	}

	a.critic.UpdateTarget(a.target, float32(a.cfg.Tau))
	a.updates++
}

// Policy returns the agent's policy network, for algorithms that run it on
// the device themselves (MBPO's model rollouts).
func (a *Agent) Policy() *nn.Policy { return a.actor }

// TakeMetrics returns the means over the updates since the last call of the
// critic loss, the actor loss, α and the policy's entropy estimate −log π,
// all NaN when there were none, and resets the sums. It downloads
// numMetrics values.
func (a *Agent) TakeMetrics() (qLoss, actorLoss, alpha, entropy float64) {
	if a.updates == 0 {
		nan := nan()
		return nan, nan, nan, nan
	}
	var m [numMetrics]float32
	a.eng.Download(m[:], a.metrics)
	a.eng.Fill(a.metrics, 0)
	n := float64(a.updates)
	a.updates = 0
	return float64(m[metricQLoss]) / n, float64(m[metricActorLoss]) / n,
		float64(m[metricAlpha]) / n, -float64(m[metricLogProb]) / n
}

// Free releases the agent's device memory.
func (a *Agent) Free() {
	a.actor.Free()
	a.critic.ReleaseWorkspaces()
	a.target.ReleaseWorkspaces()
	for _, o := range []*nn.Adam{a.actorOpt, a.criticOpt, a.alphaOpt} {
		o.Free()
	}
	for _, p := range []*nn.Params{a.critic.Params, a.target.Params, a.logAlpha} {
		p.Free()
	}
	for _, t := range []*engine.Tensor{a.scalars, a.y, a.tmp, a.dq, a.dLogp, a.invB, a.metrics} {
		a.eng.Free(t)
	}
}
