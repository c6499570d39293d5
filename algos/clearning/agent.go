package clearning

import (
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Agent is C-learning's learner: the Classifier and a goal-conditioned
// policy π(a | s, g) trained to maximise it. The policy is [Official]'s: a
// tanh-squashed Gaussian whose mean and standard deviation are outputs of
// the network (tf_agents' TanhNormalProjectionNetwork), sampled to act and
// in the losses, its mode tanh(μ) evaluated, with no entropy term. It is
// nn.Policy, whose log standard deviation is bounded to [−5, 2] as in
// CleanRL's SAC ([Official] leaves it unbounded).
type Agent struct {
	eng   engine.Engine
	split Split
	clf   *Classifier
	actor *nn.Policy
	opt   *nn.Adam

	// Scratch of the policy's step, for a batch of B rows.
	p, g   *engine.Tensor // [2, B, 1]: C of the policy's actions, ∂L/∂f
	minC   *engine.Tensor // [B, 1]
	scalar *engine.Tensor // [1]
	loss   *engine.Tensor // [1]: the actor loss summed since the last TakeMetrics
}

// NewAgent allocates C-learning's networks for observations (goal
// included) of obsDim and actions of actDim elements and initialises them
// from rng: the policy, then the classifiers, with PyTorch's default
// (FanInUniform).
func NewAgent(eng engine.Engine, cfg Config, split Split, obsDim, actDim int, rng *engine.RNG) (*Agent, error) {
	actor, err := nn.NewPolicy(eng, nn.PolicyConfig{Obs: obsDim, Act: actDim, Hidden: cfg.Hidden, Activation: engine.ReLU})
	if err != nil {
		return nil, err
	}
	actor.Init(nn.FanInUniform, rng)
	clf, err := NewClassifier(eng, cfg, split, obsDim, actDim, rng)
	if err != nil {
		actor.Free()
		return nil, err
	}
	b := split.Len()
	return &Agent{
		eng:    eng,
		split:  split,
		clf:    clf,
		actor:  actor,
		opt:    nn.NewAdam(actor.Params, engine.AdamConfig{LR: float32(cfg.ActorLR)}),
		p:      eng.New(engine.Float32, 2, b, 1),
		g:      eng.New(engine.Float32, 2, b, 1),
		minC:   eng.New(engine.Float32, b, 1),
		scalar: eng.New(engine.Float32, 1),
		loss:   eng.New(engine.Float32, 1),
	}, nil
}

// Update takes one gradient step of the classifiers, then of the policy,
// on the relabelled batch d, in [Official]'s order (CLearningAgent._train:
// critic step, actor step through the updated classifiers, target move).
// The next actions of the classifiers' targets and the policy's actions
// are samples of the policy with noise from rng.
//
// The policy's loss ([Official] actor_loss) is
//
//	L_π = −(1/B) Σ_b min_e C_e(s, ã, g),  ã = tanh(μ + σ·ε),
//
// reparameterised, on the batch's observations and relabelled goals, with
// ∂L/∂f_e = −σ'(f_e)/B for the member of the smaller C (the first on a
// tie) and 0 for the other.
func (a *Agent) Update(d *Batch, rng *engine.RNG) {
	eng, s := a.eng, a.split
	b, pos, r := s.Len(), s.Positive(), s.Random
	member := func(t *engine.Tensor, e int) *engine.Tensor { return t.View(e*b, b, 1) }
	obsDim := d.NextObs.Len() / b

	nextAct, _ := a.actor.Sample(d.NextObs.View(pos*obsDim, r, obsDim), rng)
	a.clf.Update(d, nextAct)

	act, _ := a.actor.Sample(d.Obs, rng)
	f := a.clf.critic.Forward(d.Obs, act)
	eng.Activate(engine.Sigmoid, a.p, f)
	g0, g1 := member(a.g, 0), member(a.g, 1)
	eng.Binary(engine.GE, g0, member(f, 1), member(f, 0)) // 1 where member 0 has the smaller logit
	eng.Scale(g1, g0, 1/float32(b), -1/float32(b))
	eng.Scale(g0, g0, -1/float32(b), 0)
	eng.ActivateGrad(engine.Sigmoid, a.g, a.g, f, a.p)
	dAct := a.clf.critic.Backward(a.g, nn.InputGrad)
	a.actor.Backward(dAct, nil, nn.ParamGrad|nn.OverwriteGrad)
	a.opt.Update()

	eng.Binary(engine.Min, a.minC, member(a.p, 0), member(a.p, 1))
	eng.ReduceCols(engine.Mean, a.scalar, a.minC)
	eng.Axpby(a.loss, -1, a.scalar, 1)
}

// Policy returns the agent's policy network.
func (a *Agent) Policy() *nn.Policy { return a.actor }

// Classifier returns the agent's classifier.
func (a *Agent) Classifier() *Classifier { return a.clf }

// AgentMetrics are the classifier's metrics and the mean actor loss over
// the updates since the last TakeMetrics, NaN when there were none.
type AgentMetrics struct {
	ClassifierMetrics
	ActorLoss float64
}

// TakeMetrics returns the metrics and resets their sums.
func (a *Agent) TakeMetrics() AgentMetrics {
	n := a.clf.updates
	m := AgentMetrics{ClassifierMetrics: a.clf.TakeMetrics(), ActorLoss: nan()}
	if n > 0 {
		var l [1]float32
		a.eng.Download(l[:], a.loss)
		a.eng.Fill(a.loss, 0)
		m.ActorLoss = float64(l[0]) / float64(n)
	}
	return m
}

// Free releases the agent's device memory.
func (a *Agent) Free() {
	a.actor.Free()
	a.opt.Free()
	a.clf.Free()
	for _, t := range []*engine.Tensor{a.p, a.g, a.minC, a.scalar, a.loss} {
		a.eng.Free(t)
	}
}
