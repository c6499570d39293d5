package mve

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Agent is value expansion on a DDPG/TD3 base learner (ddpg.Agent): its
// updates are the base learner's but for the critics' targets, which come
// from H steps of a learned model (Model) imagined from each real
// transition, with the environment's own reward function and termination
// rule. Everything runs on the engine but the reward (see hostReward).
//
// # The imagined rollout
//
// From a real transition (s, a, r, s′, d) of the minibatch, x₀ = s′ and,
// for k = 0 … H−1,
//
//	u_k = π′(x_k),  x_{k+1} = x_k + Δ̂(x_k, u_k),  r̂_k = r(x_k, u_k, x_{k+1}),  d̂_k = term(x_{k+1}),
//
// with the target actor π′ without noise ([MVE] Algorithm 1 imagines with
// the target actor, the policy whose Q′ the targets bootstrap from), the model's
// mean Δ̂ under one hypothesis per row, the environment's reward function
// r (env.Model, in the environment's action units) and its termination
// rule (a box, on the device). Rows whose rollout terminated keep being
// stepped (the batch keeps its shape) but stop contributing: every later
// term is multiplied by 0.
//
// # MVE (Feinberg et al. 2018)
//
// Each real transition's rollout uses one hypothesis, the model's elite
// Elites[p] with p drawn uniformly per transition and kept for its H
// steps: a rollout is then one consistent model of the dynamics, and only
// that member is evaluated (the elites' mean would cost every elite's work
// per row and average hypotheses that disagree off the data). The targets
// are, backwards from the target critic at the last imagined state,
//
//	G_H = Q′(x_H, a′_H),  G_k = r̂_k + γ·(1 − d̂_k)·G_{k+1},  T = r + γ·(1 − d)·G_0,
//
// where Q′ and a′ are the base learner's (TargetQ: the minimum of the
// twin target critics with TwinCritics; TargetAction: smoothed with
// TargetPolicySmoothing). The TD-k trick ([MVE] section 3.2, Algorithm 1)
// regresses the critics at the real pair and at every imagined pair
// towards its own target,
//
//	L = Σ_e (1/(H+1))·mean_b [(Q_e(s, a) − T)² + Σ_{k<H} alive_k·(Q_e(x_k, u_k) − G_k)²],
//
// alive_k = (1 − d)·Π_{j<k}(1 − d̂_j): a real transition into a terminal
// state is not expanded (its T is r, and none of its imagined pairs
// counts), and an imagined pair counts only while its rollout has not
// terminated. 1/(H+1) is [MVE]'s 1/H, its H counting the real transition.
// Without the TD-k trick (Config.TDK false) the critics are regressed at
// the real pair only, L = Σ_e mean_b (Q_e(s, a) − T)², towards the same
// H-step target T. The actor and the target networks are then updated as
// the base learner does, on the real states only. With H = 0 this is the
// base learner's update exactly, bit for bit (a test checks it).
//
// Why the TD-k trick can stop learning: at one state the trick regresses
// Q at the target actor's action towards targets of 1 … H model steps
// and at the buffer's actions towards H+1-step targets. While the target
// critic is far from its own fixed point, as it is early in training when
// every step's reward is far below (1 − γ)·Q′, each extra step of reward
// moves a target by about the same Bellman residual, so the regression
// gives the target actor's action a spurious advantage of some (H+1)/2
// residuals over every other action, and the actor, which follows ∂Q/∂a,
// is held at the target actor's action. On Pendulum-v1 (residuals of
// about 6 for thousands of steps) the policy stops improving with the
// trick, even with the true dynamics in place of the model, and learns
// faster than the base learner without it (Config.TDK gives the figures).
//
// # STEVE (Buckman et al. 2018)
//
// Each real transition is rolled out under every hypothesis (the S elites)
// and bootstraps with each of the two target critics: L·S = 2·S samples of
// each candidate target
//
//	T^i = r + γ(1 − d)·[Σ_{k<i} γ^k·c_k·r̂_k + γ^i·c_i·Q′_l(x_i, a′_i)],  c_k = Π_{j<k}(1 − d̂_j),
//
// for i = 0 … H (T^0 is the one-step target of the real transition). With
// μ_i and σ²_i the mean and the (population) variance of T^i over its
// samples, the target is Σ_i w_i·μ_i with w_i ∝ 1/(σ²_i + ε), normalised
// to sum to 1 ([STEVE] section 3), and the critics are regressed at the
// real pair only. STEVE's samples of Q are the twin critics each, not
// their minimum, so that T^0 has a variance to weigh.
type Agent struct {
	eng    engine.Engine
	base   *ddpg.Agent
	model  Model
	steve  bool
	tdk    bool // MVE regresses the imagined pairs too (Config.TDK)
	h, b   int  // horizon, batch size
	s, r   int  // hypotheses per real transition (1 for MVE), rows per imagined step r = s·b
	obs    int
	act    int
	gamma  float64
	eps    float32
	term   *terminationBox
	reward *hostReward

	// The rows of the rollout and of the critics' regression: block 0 the
	// real transitions' b rows, then one block of r rows per step.
	obsAll  *engine.Tensor // [b + (H+1)·r, Obs]: s, then x_0 … x_H
	actAll  *engine.Tensor // [b + H·r, Act]: a, then u_0 … u_{H−1}
	tgtAll  *engine.Tensor // [b + H·r, 1]: T, then G_0 … G_{H−1} (MVE)
	maskAll *engine.Tensor // [b + H·r, 1]: 1, then alive_0 … alive_{H−1} (MVE)
	done    *engine.Tensor // [H·r, 1]: d̂_0 … d̂_{H−1}; nil for H = 0
	rhat    *engine.Tensor // [H·r, 1]: r̂_0 … r̂_{H−1}; nil for H = 0
	pick    *engine.Tensor // Int32 [r]: each row's hypothesis
	gH, tmp *engine.Tensor // [r, 1]
	one     *engine.Tensor // [1]

	// STEVE's scratch; nil for MVE.
	cont, prefix *engine.Tensor // [(H+1)·r]: γ^i·c_i, and the discounted reward before step i
	vals         *engine.Tensor // [L, (H+1)·r]: the samples of the bracket of T^i
	sum, sq      *engine.Tensor // [(H+1)·r]
	mu, vr       *engine.Tensor // [H+1, b]: mean and variance of T^i
	w            *engine.Tensor // [H+1, b]: the weights, normalised over i
	ones, wmu    *engine.Tensor // [H+1, b]
	g, wsum, y   *engine.Tensor // [b]
	hs           *engine.Tensor // [b]

	// horizon sums, over the updates since the last TakeMetrics, the mean
	// over the batch of the expansion actually used: for MVE the number of
	// imagined steps in a real transition's target, alive_0 + … +
	// alive_{H−1} (H unless rollouts terminate; with TD-k also the
	// imagined pairs regressed), for STEVE Σ_i i·w_i.
	horizon *engine.Tensor // [1]
	updates int
}

// NewAgent returns value expansion by cfg's method and horizon on the base
// learner base, with the learned model model (nil only for horizon 0) and
// the environment's reward function, termination rule and action space
// (for the rescaling of actions to the environment's units, as
// sac.CheckActionSpace accepts it). Workspaces are allocated for
// minibatches of cfg.DDPG.BatchSize transitions. A configuration or an
// environment value expansion cannot use is an error.
func NewAgent(eng engine.Engine, cfg Config, base *ddpg.Agent, model Model, envModel env.Model, actSpace env.Space) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mve: %w", err)
	}
	if err := sac.CheckActionSpace("value expansion's environment", actSpace); err != nil {
		return nil, fmt.Errorf("mve: %w", err)
	}
	bc := base.Config()
	if bc.BatchSize != cfg.DDPG.BatchSize || bc.TwinCritics != cfg.DDPG.TwinCritics || bc.Gamma != cfg.DDPG.Gamma {
		return nil, fmt.Errorf("mve: base learner's configuration (batch %d, twin critics %v, γ %g) is not cfg.DDPG's (batch %d, twin critics %v, γ %g)",
			bc.BatchSize, bc.TwinCritics, bc.Gamma, cfg.DDPG.BatchSize, cfg.DDPG.TwinCritics, cfg.DDPG.Gamma)
	}
	h, b := cfg.Horizon, cfg.DDPG.BatchSize
	if h > 0 && (model == nil || model.Samples() < 1) {
		return nil, fmt.Errorf("mve: horizon = %d needs a model with at least one hypothesis", h)
	}
	pol := base.Policy()
	if actSpace.Dim() != pol.Act {
		return nil, fmt.Errorf("mve: action space %v for a policy of %d actions", actSpace, pol.Act)
	}
	a := &Agent{
		eng: eng, base: base, model: model, steve: cfg.Method == MethodSTEVE, tdk: cfg.TDK,
		h: h, b: b, s: 1, obs: pol.Obs, act: pol.Act,
		gamma: cfg.DDPG.Gamma, eps: float32(cfg.STEVEEpsilon),
	}
	if a.steve && h > 0 {
		a.s = model.Samples()
	}
	a.r = a.s * b
	if h > 0 {
		term, err := newTerminationBox(eng, envModel.Termination(), pol.Obs, a.r)
		if err != nil {
			return nil, fmt.Errorf("mve: %w", err)
		}
		a.term = term
		a.reward = newHostReward(envModel, pol.Obs, pol.Act, actSpace.Low, actSpace.High)
	}

	f32 := func(shape ...int) *engine.Tensor { return eng.New(engine.Float32, shape...) }
	r := a.r
	a.obsAll = f32(b+(h+1)*r, pol.Obs)
	a.actAll = f32(b+h*r, pol.Act)
	a.tgtAll = f32(b+h*r, 1)
	a.maskAll = f32(b+h*r, 1)
	eng.Fill(a.maskAll.View(0, b, 1), 1)
	if h > 0 {
		a.done, a.rhat = f32(h*r, 1), f32(h*r, 1)
	}
	a.pick = eng.New(engine.Int32, r)
	a.gH, a.tmp = f32(r, 1), f32(r, 1)
	a.one, a.horizon = f32(1), f32(1)
	if a.steve {
		// Row block k·b … (k+1)·b of every step is hypothesis k, for good.
		p := make([]int32, r)
		for i := range p {
			p[i] = int32(i / b)
		}
		eng.UploadInt32(a.pick, p)
		n, l := (h+1)*r, bc.Critics()
		a.cont, a.prefix, a.sum, a.sq = f32(n), f32(n), f32(n), f32(n)
		a.vals = f32(l, n)
		a.mu, a.vr, a.w, a.ones, a.wmu = f32(h+1, b), f32(h+1, b), f32(h+1, b), f32(h+1, b), f32(h+1, b)
		eng.Fill(a.ones, 1)
		a.g, a.wsum, a.y, a.hs = f32(b), f32(b), f32(b), f32(b)
	}
	return a, nil
}

// state returns the rows of x_k, action those of u_k, step those of
// step k's r̂_k or d̂_k in t.
func (a *Agent) state(k int) *engine.Tensor {
	return a.obsAll.View((a.b+k*a.r)*a.obs, a.r, a.obs)
}
func (a *Agent) action(k int) *engine.Tensor { return a.actAll.View((a.b+k*a.r)*a.act, a.r, a.act) }
func (a *Agent) step(t *engine.Tensor, k int) *engine.Tensor {
	return t.View(k*a.r, a.r, 1)
}

// Base returns the base learner.
func (a *Agent) Base() *ddpg.Agent { return a.base }

// Update takes one gradient step on the minibatch d of real transitions
// (of cfg.DDPG.BatchSize rows): the imagined rollout, the targets of the
// method, the critics' step and the base learner's (delayed) actor step
// and target move. rng draws, in order: MVE's hypotheses (one RandInt of b
// values, when H > 0) and the target policy smoothing noise of the
// bootstrap actions (TargetAction: b·Act values for MVE, (H+1)·r·Act for
// STEVE).
func (a *Agent) Update(d *replay.Batch, rng *engine.RNG) {
	eng, b := a.eng, a.b
	if d.Len() != b {
		panic(fmt.Sprintf("mve: Agent.Update: minibatch of %d transitions, want %d", d.Len(), b))
	}
	eng.Copy(a.obsAll.View(0, b, a.obs), d.Obs)
	eng.Copy(a.actAll.View(0, b, a.act), d.Act)
	x0 := a.state(0)
	for s := range a.s {
		eng.Copy(x0.View(s*b*a.obs, b, a.obs), d.NextObs)
	}
	if a.h > 0 {
		a.imagine(rng)
	}
	if a.steve {
		a.steveStep(d, rng)
	} else {
		a.mveStep(d, rng)
	}
	a.base.PolicyStep(d.Obs)
	a.updates++
}

// imagine rolls the model out H steps from x_0 with the target actor,
// evaluates termination on the device and then the rewards on the host.
func (a *Agent) imagine(rng *engine.RNG) {
	eng := a.eng
	if !a.steve {
		eng.RandInt(a.pick, rng, a.model.Samples())
	}
	policy := a.base.TargetPolicy()
	for k := range a.h {
		x, u := a.state(k), a.action(k)
		eng.Copy(u, policy.Infer(x))
		a.model.Next(a.state(k+1), x, u, a.pick)
		a.term.eval(a.step(a.done, k), a.state(k+1))
	}
	states := a.obsAll.View(a.b*a.obs, (a.h+1)*a.r, a.obs)
	acts := a.actAll.View(a.b*a.act, a.h*a.r, a.act)
	a.reward.compute(eng, a.rhat, states, acts, a.h, a.r)
}

// mveStep computes MVE's targets and masks and takes the critics' TD-k
// step (see Agent).
func (a *Agent) mveStep(d *replay.Batch, rng *engine.RNG) {
	eng, b, h := a.eng, a.b, a.h
	xH := a.state(h)
	a.base.TargetQ(a.gH, xH, a.base.TargetAction(xH, rng))
	next := a.gH
	for k := h - 1; k >= 0; k-- {
		g := a.step(a.tgtAll.View(b, h*a.r, 1), k)
		ddpg.Backup(eng, g, a.tmp, a.step(a.rhat, k), a.step(a.done, k), next, a.gamma)
		next = g
	}
	ddpg.Backup(eng, a.tgtAll.View(0, b, 1), a.tmp, d.Reward, d.Terminated, next, a.gamma)

	if h > 0 {
		masks := a.maskAll.View(b, h*a.r, 1)
		eng.Scale(a.step(masks, 0), d.Terminated, -1, 1)
		for k := 1; k < h; k++ {
			eng.Scale(a.tmp, a.step(a.done, k-1), -1, 1)
			eng.Binary(engine.Mul, a.step(masks, k), a.step(masks, k-1), a.tmp)
		}
		eng.ReduceRows(engine.Sum, a.one, masks.Reshape(1, h*a.r))
		eng.Axpby(a.horizon, 1/float32(b), a.one, 1)
	}
	n := b
	if a.tdk {
		n = b + h*a.r
	}
	a.base.CriticStep(a.obsAll.View(0, n, a.obs), a.actAll.View(0, n, a.act), a.tgtAll.View(0, n, 1), a.maskAll.View(0, n, 1))
}

// steveStep computes STEVE's target and takes the critics' step on the
// real pairs (see Agent).
func (a *Agent) steveStep(d *replay.Batch, rng *engine.RNG) {
	eng, b, h, r, s := a.eng, a.b, a.h, a.r, a.s
	n := (h + 1) * r
	xs := a.obsAll.View(b*a.obs, n, a.obs)
	q := a.base.TargetCritic().Infer(xs, a.base.TargetAction(xs, rng)) // [L, n, 1]
	l := q.Dim(0)
	at := func(t *engine.Tensor, i int) *engine.Tensor { return t.View(i*r, r) }

	// c_{i+1} = c_i·(1 − d̂_i) and prefix_{i+1} = prefix_i + γ^i·c_i·r̂_i;
	// then cont becomes γ^i·c_i.
	eng.Fill(at(a.cont, 0), 1)
	eng.Fill(at(a.prefix, 0), 0)
	tmp := a.tmp.Reshape(r)
	for i := range h {
		eng.Binary(engine.Mul, tmp, at(a.cont, i), at(a.rhat.Reshape(h*r), i))
		eng.Copy(at(a.prefix, i+1), at(a.prefix, i))
		eng.Axpby(at(a.prefix, i+1), float32(math.Pow(a.gamma, float64(i))), tmp, 1)
		eng.Scale(tmp, at(a.done.Reshape(h*r), i), -1, 1)
		eng.Binary(engine.Mul, at(a.cont, i+1), at(a.cont, i), tmp)
	}
	for i := 1; i <= h; i++ {
		eng.Scale(at(a.cont, i), at(a.cont, i), float32(math.Pow(a.gamma, float64(i))), 0)
	}

	// The samples V_l = prefix + γ^i·c_i·Q′_l of the bracket of every T^i,
	// and their mean and variance over the l·s samples of each (i, b).
	for m := range l {
		v := a.vals.View(m*n, n)
		eng.Binary(engine.Mul, v, q.View(m*n, n), a.cont)
		eng.Binary(engine.Add, v, v, a.prefix)
	}
	inv := 1 / float32(l*s)
	eng.Copy(a.sum, a.vals.View(0, n))
	for m := 1; m < l; m++ {
		eng.Binary(engine.Add, a.sum, a.sum, a.vals.View(m*n, n))
	}
	eng.ReduceCols(engine.Sum, a.mu, a.sum.Reshape(h+1, s, b))
	eng.Scale(a.mu, a.mu, inv, 0)
	for m := range l {
		eng.Binary(engine.Sub, a.sq.Reshape(h+1, s, b), a.vals.View(m*n, h+1, s, b), a.mu)
		eng.Unary(engine.Square, a.sq, a.sq)
		if m == 0 {
			eng.Copy(a.sum, a.sq)
		} else {
			eng.Binary(engine.Add, a.sum, a.sum, a.sq)
		}
	}
	eng.ReduceCols(engine.Sum, a.vr, a.sum.Reshape(h+1, s, b))
	eng.Scale(a.vr, a.vr, inv, 0)

	// In T's units: μ_i ← r + g·μ_i, σ²_i ← g²·σ²_i with g = γ(1 − d);
	// then w_i = 1/(σ²_i + ε) and the target Σ_i w_i·μ_i / Σ_i w_i.
	eng.Scale(a.g, d.Terminated, -float32(a.gamma), float32(a.gamma))
	eng.Binary(engine.Mul, a.mu, a.mu, a.g)
	eng.Binary(engine.Add, a.mu, a.mu, d.Reward)
	eng.Binary(engine.Mul, a.vr, a.vr, a.g)
	eng.Binary(engine.Mul, a.vr, a.vr, a.g)
	eng.Scale(a.w, a.vr, 1, a.eps)
	eng.Binary(engine.Div, a.w, a.ones, a.w)
	eng.ReduceCols(engine.Sum, a.wsum, a.w)
	eng.Binary(engine.Div, a.w, a.w, a.wsum)
	eng.Binary(engine.Mul, a.wmu, a.w, a.mu)
	eng.ReduceCols(engine.Sum, a.y, a.wmu)

	// The expansion used, Σ_i i·w_i, averaged over the batch.
	eng.Fill(a.hs, 0)
	for i := 1; i <= h; i++ {
		eng.Axpby(a.hs, float32(i), a.w.View(i*b, b), 1)
	}
	eng.ReduceCols(engine.Mean, a.one, a.hs.Reshape(b, 1))
	eng.Axpby(a.horizon, 1, a.one, 1)

	a.base.CriticStep(a.obsAll.View(0, b, a.obs), a.actAll.View(0, b, a.act), a.y.Reshape(b, 1), nil)
}

// TakeMetrics returns the base learner's mean critic and actor losses
// (ddpg.Agent.TakeMetrics) and the mean expansion horizon used over the
// updates since the last call (see Agent.horizon; NaN when there were none
// or H = 0), and resets the sums.
func (a *Agent) TakeMetrics() (qLoss, actorLoss, horizon float64) {
	qLoss, actorLoss = a.base.TakeMetrics()
	horizon = math.NaN()
	if a.updates > 0 && a.h > 0 {
		var v [1]float32
		a.eng.Download(v[:], a.horizon)
		horizon = float64(v[0]) / float64(a.updates)
	}
	a.eng.Fill(a.horizon, 0)
	a.updates = 0
	return qLoss, actorLoss, horizon
}

// Free releases the agent's scratch (not the base learner's or the
// model's).
func (a *Agent) Free() {
	if a.term != nil {
		a.term.free()
	}
	for _, t := range []*engine.Tensor{a.obsAll, a.actAll, a.tgtAll, a.maskAll, a.done, a.rhat, a.pick, a.gH, a.tmp, a.one,
		a.cont, a.prefix, a.vals, a.sum, a.sq, a.mu, a.vr, a.w, a.ones, a.wmu, a.g, a.wsum, a.y, a.hs, a.horizon} {
		if t != nil {
			a.eng.Free(t)
		}
	}
}
