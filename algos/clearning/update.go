package clearning

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// criticLossWeight is [Official]'s critic_loss_weight: the critic loss is
// half the sum of the two classifiers' weighted cross-entropies.
const criticLossWeight = 0.5

// Classifier is C-learning's goal-conditioned classifier C(s, a, g) =
// σ(f(s, a, g)): two classifiers and their Polyak-averaged targets, held as
// one nn.Critic of two members over [obs, act] (the observation carrying
// the goal), whose outputs are the logits f. It learns, for the policy that
// supplies the next actions, the discounted future-state density through
// C/(1−C) = p^π(s_{t+} = g | s, a) / p(g), where p(g) is the distribution
// of random goals (package documentation). Everything of an update runs on
// the engine; the scalar metrics are summed on the device and downloaded
// only when reported.
type Classifier struct {
	eng    engine.Engine
	split  Split
	gamma  float32
	lambda float32 // λ of the bootstrapped term (Config.LambdaFix)
	wMax   float32 // 1/(1−γ), the clip of w
	tau    float32

	critic, target *nn.Critic
	opt            *nn.Adam

	// Scratch of one update, for a batch of B = split.Len() rows and
	// R = split.Random random rows.
	y, c       *engine.Tensor // [B, 1]: labels and weights of the rows
	y2, c2     *engine.Tensor // [2, B, 1]: the same for both members
	w, m, t    *engine.Tensor // [R, 1]: w, the target logits' minimum, λγw
	p, dz, tmp *engine.Tensor // [2, B, 1]: C, ∂L/∂f, a temporary
	scalar     *engine.Tensor // [1]

	// metrics holds, summed over the updates since the last reset, the
	// critic loss, the mean C at the positive goals and at the random
	// goals, and the mean clipped w, in that order.
	metrics *engine.Tensor // [numMetrics]
	updates int
}

// The slots of Classifier.metrics.
const (
	metricCriticLoss = iota
	metricCPositive
	metricCRandom
	metricW
	numMetrics
)

// NewClassifier allocates the two classifiers for observations (goal
// included) of obsDim and actions of actDim elements with cfg's hidden
// sizes, initialises them from rng with PyTorch's default (FanInUniform;
// [Official] uses Glorot-uniform kernels), makes the targets as copies, and
// the scratch of updates on batches made up as split.
func NewClassifier(eng engine.Engine, cfg Config, split Split, obsDim, actDim int, rng *engine.RNG) (*Classifier, error) {
	if split.Random <= 0 || split.Positive() != split.Random {
		return nil, fmt.Errorf("clearning: batch split %+v: want as many random goals as positive ones, at least one", split)
	}
	critic, err := nn.NewCritic(eng, nn.CriticConfig{Obs: obsDim, Act: actDim, Members: 2, Hidden: cfg.Hidden, Activation: engine.ReLU})
	if err != nil {
		return nil, err
	}
	critic.Init(nn.FanInUniform, rng)
	b, r := split.Len(), split.Random
	c := &Classifier{
		eng:     eng,
		split:   split,
		gamma:   float32(cfg.Gamma),
		lambda:  float32(split.Lambda(cfg.LambdaFix)),
		wMax:    float32(1 / (1 - cfg.Gamma)),
		tau:     float32(cfg.Tau),
		critic:  critic,
		target:  critic.Target(),
		opt:     nn.NewAdam(critic.Params, engine.AdamConfig{LR: float32(cfg.CriticLR)}),
		y:       eng.New(engine.Float32, b, 1),
		c:       eng.New(engine.Float32, b, 1),
		y2:      eng.New(engine.Float32, 2, b, 1),
		c2:      eng.New(engine.Float32, 2, b, 1),
		w:       eng.New(engine.Float32, r, 1),
		m:       eng.New(engine.Float32, r, 1),
		t:       eng.New(engine.Float32, r, 1),
		p:       eng.New(engine.Float32, 2, b, 1),
		dz:      eng.New(engine.Float32, 2, b, 1),
		tmp:     eng.New(engine.Float32, 2, b, 1),
		scalar:  eng.New(engine.Float32, 1),
		metrics: eng.New(engine.Float32, numMetrics),
	}
	// The positive rows' labels and weights never change: label 1, weight
	// 1−γ for a next-state goal and 1 for a future one ([Official]
	// critic_loss).
	if split.Next > 0 {
		eng.Fill(c.c.View(0, split.Next, 1), float32(1-cfg.Gamma))
	}
	if split.Future > 0 {
		eng.Fill(c.c.View(split.Next, split.Future, 1), 1)
	}
	eng.Fill(c.y.View(0, split.Positive(), 1), 1)
	return c, nil
}

// Update takes one gradient step of the two classifiers on the relabelled
// batch d and moves the targets. nextAct [Random, Act] holds actions
// a' ~ π(s') for the next observations of the random rows,
// d.NextObs[Positive:], with their goals (the policy's in Train, the fixed
// policy's in DensityCheck).
//
// The loss ([CL] section 5 and [Official] critic_loss) is a weighted
// binary cross-entropy of the logits f_e of each classifier e,
//
//	L = ½ · (1/B) Σ_b c_b Σ_e [softplus(f_e) − y_b·f_e],
//
// with, for a positive row, label y = 1 and weight c = 1−γ (next-state
// goal) or 1 (future goal), and for a random row y = λγw/(1+λγw) and
// c = 1+λγw, where w = C̄/(1−C̄) = exp(min_e f̄_e(s', a', g)) from the
// target classifiers, clipped to [0, 1/(1−γ)] and not differentiated.
// ∂L/∂f_e = c·(σ(f_e) − y)/(2B). [Official] evaluates the cross-entropy
// of the sigmoid's output (Keras, clipped at 1e-7); from the logits it is
// the same function without the clip.
func (c *Classifier) Update(d *Batch, nextAct *engine.Tensor) {
	eng, s := c.eng, c.split
	b, pos, r := s.Len(), s.Positive(), s.Random
	if d.Split != s {
		panic(fmt.Sprintf("clearning: Classifier.Update: batch split %+v, classifier's %+v", d.Split, s))
	}
	member := func(t *engine.Tensor, e int) *engine.Tensor { return t.View(e*b, b, 1) }
	rows := func(t *engine.Tensor, from, n int) *engine.Tensor {
		w := t.Len() / b
		return t.View(from*w, n, w)
	}
	acc := func(slot int, alpha float32, v *engine.Tensor) {
		eng.Axpby(c.metrics.View(slot, 1), alpha, v, 1)
	}

	// The random rows' labels and weights from the target classifiers,
	// without gradients: w = exp(min_e f̄_e) = C̄/(1−C̄) with C̄ the smaller
	// of the two targets' outputs, clipped to [0, 1/(1−γ)] (exp is never
	// negative: the lower clip is [Official]'s, and cannot bind).
	ft := c.target.Infer(rows(d.NextObs, pos, r), nextAct)
	eng.Binary(engine.Min, c.m, ft.View(0, r, 1), ft.View(r, r, 1))
	eng.Unary(engine.Exp, c.w, c.m)
	eng.Clamp(c.w, c.w, 0, c.wMax)
	eng.Scale(c.t, c.w, c.lambda*c.gamma, 0)
	cr, yr := c.c.View(pos, r, 1), c.y.View(pos, r, 1)
	eng.Scale(cr, c.t, 1, 1)
	eng.Binary(engine.Div, yr, c.t, cr)
	for e := range 2 {
		eng.Copy(member(c.y2, e), c.y)
		eng.Copy(member(c.c2, e), c.c)
	}

	// The classifiers' step.
	f := c.critic.Forward(d.Obs, d.Act)
	eng.Activate(engine.Sigmoid, c.p, f)
	eng.Binary(engine.Sub, c.dz, c.p, c.y2)
	eng.Binary(engine.Mul, c.dz, c.dz, c.c2)
	eng.Scale(c.dz, c.dz, criticLossWeight/float32(b), 0)
	c.critic.Backward(c.dz, nn.ParamGrad|nn.OverwriteGrad)
	c.opt.Update()

	// Metrics, from this step's forward pass: the loss (the mean over both
	// members and all rows of c·(softplus(f) − y·f) is L), the mean C at
	// positive and at random goals over both members, and the mean w.
	eng.Activate(engine.Softplus, c.tmp, f)
	eng.Binary(engine.Mul, c.dz, c.y2, f)
	eng.Binary(engine.Sub, c.tmp, c.tmp, c.dz)
	eng.Binary(engine.Mul, c.tmp, c.tmp, c.c2)
	eng.ReduceCols(engine.Mean, c.scalar, c.tmp.Reshape(2*b, 1))
	acc(metricCriticLoss, 1, c.scalar)
	for e := range 2 {
		eng.ReduceCols(engine.Mean, c.scalar, c.p.View(e*b, pos, 1))
		acc(metricCPositive, 0.5, c.scalar)
		eng.ReduceCols(engine.Mean, c.scalar, c.p.View(e*b+pos, r, 1))
		acc(metricCRandom, 0.5, c.scalar)
	}
	eng.ReduceCols(engine.Mean, c.scalar, c.w)
	acc(metricW, 1, c.scalar)

	c.critic.UpdateTarget(c.target, c.tau)
	c.updates++
}

// Logits returns f_e(obs, act) of both classifiers, [2, N, 1], for
// observations (goals included) [N, Obs] and actions [N, Act], without
// keeping anything for a backward pass. The result belongs to the
// classifier's workspace for N rows.
func (c *Classifier) Logits(obs, act *engine.Tensor) *engine.Tensor {
	return c.critic.Infer(obs, act)
}

// ClassifierMetrics are the means over the updates since the last call to
// TakeMetrics: the critic loss, C at positive and at random goals, and the
// clipped weight w; all NaN when there were none.
type ClassifierMetrics struct {
	Loss, CPositive, CRandom, W float64
}

// TakeMetrics returns the metrics and resets their sums. It downloads
// numMetrics values.
func (c *Classifier) TakeMetrics() ClassifierMetrics {
	if c.updates == 0 {
		return ClassifierMetrics{nan(), nan(), nan(), nan()}
	}
	var m [numMetrics]float32
	c.eng.Download(m[:], c.metrics)
	c.eng.Fill(c.metrics, 0)
	n := float64(c.updates)
	c.updates = 0
	return ClassifierMetrics{
		Loss:      float64(m[metricCriticLoss]) / n,
		CPositive: float64(m[metricCPositive]) / n,
		CRandom:   float64(m[metricCRandom]) / n,
		W:         float64(m[metricW]) / n,
	}
}

// Free releases the classifier's device memory.
func (c *Classifier) Free() {
	c.critic.ReleaseWorkspaces()
	c.target.ReleaseWorkspaces()
	c.opt.Free()
	c.critic.Params.Free()
	c.target.Params.Free()
	for _, t := range []*engine.Tensor{c.y, c.c, c.y2, c.c2, c.w, c.m, c.t, c.p, c.dz, c.tmp, c.scalar, c.metrics} {
		c.eng.Free(t)
	}
}
