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
	alpha          *engine.Tensor // [1], exp(log α), the temperature of the next update
	actorOpt       *nn.Adam
	criticOpt      *nn.Adam
	alphaOpt       *nn.Adam

	// Scratch of one update, for batch size B.
	y, minQ, tmp *engine.Tensor // [B, 1]: the critic's target, min over Q members, a temporary
	y2, dq       *engine.Tensor // [2, B, 1]: the target for both Q members, ∂L/∂Q
	dLogp        *engine.Tensor // [B, 1]: ∂L_actor/∂log π
	loss, meanLp *engine.Tensor // [1]

	// metrics holds, summed over the updates since the last reset, the mean
	// of the two critics' MSE, the actor loss, α and the mean log π of the
	// policy's actions (the entropy's negative), in that order.
	metrics *engine.Tensor // [numMetrics]
	updates int            // updates summed in metrics
}

// The slots of agent.metrics.
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
	a := &Agent{
		eng:           eng,
		cfg:           cfg,
		targetEntropy: float32(cfg.TargetEntropyPerDim * float64(actDim)),
		actor:         actor,
		critic:        critic,
		target:        critic.Target(),
		logAlpha:      logAlpha,
		alpha:         eng.New(engine.Float32, 1),
		actorOpt:      nn.NewAdam(actor.Params, engine.AdamConfig{LR: float32(cfg.ActorLR)}),
		criticOpt:     nn.NewAdam(critic.Params, engine.AdamConfig{LR: float32(cfg.CriticLR)}),
		alphaOpt:      nn.NewAdam(logAlpha, engine.AdamConfig{LR: float32(cfg.AlphaLR)}),
		y:             eng.New(engine.Float32, b, 1),
		minQ:          eng.New(engine.Float32, b, 1),
		tmp:           eng.New(engine.Float32, b, 1),
		y2:            eng.New(engine.Float32, 2, b, 1),
		dq:            eng.New(engine.Float32, 2, b, 1),
		dLogp:         eng.New(engine.Float32, b, 1),
		loss:          eng.New(engine.Float32, 1),
		meanLp:        eng.New(engine.Float32, 1),
		metrics:       eng.New(engine.Float32, numMetrics),
	}
	eng.Unary(engine.Exp, a.alpha, logAlpha.Param("log_alpha").Value)
	return a, nil
}

// Update takes one gradient step of the critics, the policy and the
// temperature on the minibatch d, then moves the target critics, in the
// order of [CleanRL] (with the policy updated on every step, as in [SAC2]
// and [SB3]). All three losses use the temperature α from before this
// step's temperature update. The policy's noise comes from rng.
func (a *Agent) Update(d *replay.Batch, rng *engine.RNG) {
	eng, b := a.eng, a.cfg.BatchSize
	member := func(t *engine.Tensor, e int) *engine.Tensor { return t.View(e*b, b, 1) }
	acc := func(slot int, v *engine.Tensor) {
		m := a.metrics.View(slot, 1)
		eng.Binary(engine.Add, m, m, v)
	}

	// Critic target, without gradients ([SAC2] section 4.2, the soft
	// Bellman backup with the soft state value of the target critics):
	// y = r + γ·(1 − terminated)·(min_e Q'_e(s', a') − α·log π(a'|s')),
	// a' ~ π(·|s'). Truncated transitions are stored as not terminated and
	// so bootstrap.
	nextAct, nextLogp := a.actor.Sample(d.NextObs, rng)
	qNext := a.target.Infer(d.NextObs, nextAct)
	eng.Binary(engine.Min, a.minQ, member(qNext, 0), member(qNext, 1))
	eng.Binary(engine.Mul, a.tmp, nextLogp, a.alpha)
	eng.Binary(engine.Sub, a.minQ, a.minQ, a.tmp)
	eng.Scale(a.tmp, d.Terminated, -float32(a.cfg.Gamma), float32(a.cfg.Gamma)) // γ·(1 − terminated)
	eng.Binary(engine.Mul, a.y, a.minQ, a.tmp)
	eng.Binary(engine.Add, a.y, a.y, d.Reward)

	// Critic loss: L_Q = Σ_e mean_b (Q_e(s, a) − y)², the sum of the two
	// critics' MSE as in [CleanRL] (qf1_loss + qf2_loss). MSE over both
	// members is L_Q/2, which is what is logged (CleanRL logs qf_loss/2);
	// its gradient is scaled by 2 to that of L_Q.
	eng.Copy(member(a.y2, 0), a.y)
	eng.Copy(member(a.y2, 1), a.y)
	q := a.critic.Forward(d.Obs, d.Act)
	nn.MSE(eng, a.loss, a.dq, q, a.y2)
	eng.Scale(a.dq, a.dq, 2, 0)
	a.critic.Params.ZeroGrad()
	a.critic.Backward(a.dq, nn.ParamGrad)
	a.criticOpt.Update()
	acc(metricQLoss, a.loss)

	// Policy loss ([SAC2] section 4.2, reparameterised):
	// L_π = mean_b [α·log π(ã|s) − min_e Q_e(s, ã)], ã = tanh(μ + σ·ε),
	// through the critics just updated, α held fixed. ∂L/∂log π = α/B;
	// ∂L/∂Q_e = −1/B for the member that is the minimum (the first on a
	// tie), 0 for the other.
	act, logp := a.actor.Sample(d.Obs, rng)
	q = a.critic.Forward(d.Obs, act)
	q0, q1 := member(q, 0), member(q, 1)
	eng.Binary(engine.Min, a.minQ, q0, q1)
	eng.Binary(engine.GE, member(a.dq, 0), q1, q0) // 1 where Q_0 is the minimum
	eng.Scale(member(a.dq, 1), member(a.dq, 0), 1/float32(b), -1/float32(b))
	eng.Scale(member(a.dq, 0), member(a.dq, 0), -1/float32(b), 0)
	dAct := a.critic.Backward(a.dq, nn.InputGrad)
	eng.Fill(a.dLogp, 1/float32(b))
	eng.Binary(engine.Mul, a.dLogp, a.dLogp, a.alpha)
	a.actor.Params.ZeroGrad()
	a.actor.Backward(dAct, a.dLogp)
	a.actorOpt.Update()
	eng.Binary(engine.Mul, a.tmp, logp, a.alpha)
	eng.Binary(engine.Sub, a.tmp, a.tmp, a.minQ)
	eng.ReduceCols(engine.Mean, a.loss, a.tmp)
	acc(metricActorLoss, a.loss)
	acc(metricAlpha, a.alpha)
	eng.ReduceCols(engine.Mean, a.meanLp, logp)
	acc(metricLogProb, a.meanLp)

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
	for _, t := range []*engine.Tensor{a.alpha, a.y, a.minQ, a.tmp, a.y2, a.dq, a.dLogp, a.loss, a.meanLp, a.metrics} {
		a.eng.Free(t)
	}
}
