package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/imago-rl/imago/engine"
)

// PolicyConfig configures SAC's tanh-squashed Gaussian policy. The zero
// value of a field selects its default, that of CleanRL's
// sac_continuous_action.py.
type PolicyConfig struct {
	// Obs and Act are the observation and action sizes. Required.
	Obs, Act int
	// Hidden holds the hidden layer sizes. Default 256, 256.
	Hidden []int
	// Activation is the hidden layers' activation. Default ReLU (the zero
	// value, Identity, selects it).
	Activation engine.Activation
	// LogStdMin and LogStdMax bound the log standard deviation, which is
	// tanh of the network's output rescaled into [LogStdMin, LogStdMax].
	// Default −5 and 2 (CleanRL LOG_STD_MIN, LOG_STD_MAX); both zero selects
	// the defaults.
	LogStdMin, LogStdMax float32
}

func (c PolicyConfig) withDefaults() (PolicyConfig, error) {
	if c.Obs <= 0 || c.Act <= 0 {
		return c, fmt.Errorf("nn: policy: observation size %d and action size %d must be positive", c.Obs, c.Act)
	}
	if c.Hidden == nil {
		c.Hidden = []int{256, 256}
	}
	c.Hidden = slices.Clone(c.Hidden)
	for _, h := range c.Hidden {
		if h <= 0 {
			return c, fmt.Errorf("nn: policy: hidden sizes %v must be positive", c.Hidden)
		}
	}
	if c.Activation == engine.Identity {
		c.Activation = engine.ReLU
	}
	if c.LogStdMin == 0 && c.LogStdMax == 0 {
		c.LogStdMin, c.LogStdMax = -5, 2
	}
	if !(c.LogStdMin < c.LogStdMax) {
		return c, fmt.Errorf("nn: policy: log-std bounds [%g, %g] are empty", c.LogStdMin, c.LogStdMax)
	}
	return c, nil
}

// Policy is SAC's tanh-squashed Gaussian policy (Haarnoja et al. 2018,
// appendix C): an MLP maps an observation to the mean μ and a raw log
// standard deviation r of a diagonal Gaussian over pre-squash actions
// (output columns [0, Act) and [Act, 2·Act)); the log standard deviation is
// log σ = lo + (hi − lo)·(tanh r + 1)/2 as in CleanRL; an action is
// a = tanh(u) with u = μ + σ·ε, ε ~ N(0, I) (the reparameterisation trick).
// Actions lie in (−1, 1); rescaling to an environment's bounds is the
// caller's.
//
// The log-probability of a is exact, with the change-of-variables term of
// the squash computed stably as log(1 − tanh²u) = 2(log 2 − u −
// softplus(−2u)):
//
//	log π(a|s) = Σ_i [−ε_i²/2 − log σ_i − log(2π)/2 − 2(log 2 − u_i − softplus(−2u_i))]
type Policy struct {
	Config PolicyConfig
	MLP    *MLP
	Params *Params // "layers.i.weight", "layers.i.bias"

	eng  engine.Engine
	ones *engine.Tensor // [1, Act] of ones, to broadcast a column over a row
	ws   map[int]*policyWS
	last *policyWS
}

type policyWS struct {
	b                     int
	mu, r, t, logStd      *engine.Tensor // [B, Act]
	std, eps, se, u, a, k *engine.Tensor // [B, Act]; se = σ·ε
	logp                  *engine.Tensor // [B, 1]; k itself when Act is 1
	du, dls, gl, dout     *engine.Tensor
	mode                  *engine.Tensor // Mode's action
	sampled               bool
}

// NewPolicy allocates a policy for cfg on eng. Its parameters are zero; call
// Init. A bad config is an error.
func NewPolicy(eng engine.Engine, cfg PolicyConfig) (*Policy, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sizes := append(append([]int{cfg.Obs}, cfg.Hidden...), 2*cfg.Act)
	p := NewParams(eng, MLPSpecs("", 1, sizes)...)
	pol := &Policy{
		Config: cfg,
		MLP:    NewMLP(p, "", cfg.Activation),
		Params: p,
		eng:    eng,
		ones:   eng.New(engine.Float32, 1, cfg.Act),
		ws:     map[int]*policyWS{},
	}
	eng.Fill(pol.ones, 1)
	return pol, nil
}

// Init initialises the layers with scheme from rng. CleanRL's policy uses
// PyTorch's default, FanInUniform.
func (p *Policy) Init(scheme Init, rng *engine.RNG) { p.MLP.Init(scheme, rng) }

func (p *Policy) workspace(op string, obs *engine.Tensor) *policyWS {
	if obs.Rank() != 2 || obs.Dim(1) != p.Config.Obs {
		panic(fmt.Sprintf("nn: Policy.%s: observations %v, want [B %d]", op, obs.Shape(), p.Config.Obs))
	}
	b := obs.Dim(0)
	w := p.ws[b]
	if w == nil {
		w = &policyWS{b: b}
		p.ws[b] = w
	}
	return w
}

func (p *Policy) alloc(t **engine.Tensor, shape ...int) *engine.Tensor {
	if *t == nil {
		*t = p.eng.New(engine.Float32, shape...)
	}
	return *t
}

// Sample draws actions a [B, Act] for observations obs [B, Obs] with noise
// from rng (one RandNormal of B·Act values) and returns them with their
// log-probabilities logp [B, 1]. It keeps what Backward needs; obs must stay
// unchanged until then. The results belong to the workspace for batch size
// B.
func (p *Policy) Sample(obs *engine.Tensor, rng *engine.RNG) (act, logp *engine.Tensor) {
	w := p.workspace("Sample", obs)
	b, na := w.b, p.Config.Act
	out := p.MLP.Forward(obs).Reshape(b, 2*na)
	mu := p.alloc(&w.mu, b, na)
	r := p.alloc(&w.r, b, na)
	t := p.alloc(&w.t, b, na)
	ls := p.alloc(&w.logStd, b, na)
	std := p.alloc(&w.std, b, na)
	eps := p.alloc(&w.eps, b, na)
	se := p.alloc(&w.se, b, na)
	u := p.alloc(&w.u, b, na)
	a := p.alloc(&w.a, b, na)
	k := p.alloc(&w.k, b, na)
	p.eng.CopyCols(mu, 0, out, 0, na)
	p.eng.CopyCols(r, 0, out, na, na)
	lo, hi := p.Config.LogStdMin, p.Config.LogStdMax
	p.eng.Activate(engine.Tanh, t, r)
	p.eng.Scale(ls, t, (hi-lo)/2, lo+(hi-lo)/2)
	p.eng.Unary(engine.Exp, std, ls)
	p.eng.RandNormal(eps, rng, 0, 1)
	// σ·ε is kept for Backward, whose ∂L/∂log σ is ∂L/∂u·σ·ε.
	p.eng.Binary(engine.Mul, se, std, eps)
	p.eng.Binary(engine.Add, u, se, mu)
	p.eng.Activate(engine.Tanh, a, u)
	// k = −ε²/2 − log σ − log(2π)/2 − 2 log 2 + 2u + 2·softplus(−2u).
	p.eng.Unary(engine.Square, k, eps)
	p.eng.Scale(k, k, -0.5, float32(-0.5*math.Log(2*math.Pi)-2*math.Ln2))
	p.eng.Binary(engine.Sub, k, k, ls)
	p.eng.Axpby(k, 2, u, 1)
	// softplus(−2u) goes through mu's buffer: Backward does not read μ
	// (∂u/∂μ = 1).
	p.eng.Scale(mu, u, -2, 0)
	p.eng.Activate(engine.Softplus, mu, mu)
	p.eng.Axpby(k, 2, mu, 1)
	// log π sums k over the action's elements: with one element, k is it.
	lp := k
	if na > 1 {
		lp = p.alloc(&w.logp, b, 1)
		p.eng.ReduceRows(engine.Sum, lp, k)
	}
	w.sampled = true
	p.last = w
	return a, lp
}

// Mode returns the deterministic action tanh(μ) [B, Act] for observations
// obs [B, Obs], for evaluation. It keeps nothing for Backward and does not
// disturb a pending one; the result belongs to the workspace for batch size
// B.
func (p *Policy) Mode(obs *engine.Tensor) *engine.Tensor {
	w := p.workspace("Mode", obs)
	b, na := w.b, p.Config.Act
	out := p.MLP.Infer(obs).Reshape(b, 2*na)
	a := p.alloc(&w.mode, b, na)
	p.eng.CopyCols(a, 0, out, 0, na)
	p.eng.Activate(engine.Tanh, a, a)
	return a
}

// Backward takes dAct = ∂L/∂a [B, Act] and dLogp = ∂L/∂logp (B elements)
// for the last Sample, either of which may be nil for zero, and accumulates
// ∂L/∂θ into Params.Grad, differentiating through the reparameterised
// sample (ε held fixed). mode is ParamGrad, or ParamGrad|OverwriteGrad to
// write the gradients instead (every parameter of the policy is a
// layer's); the policy gives no gradient of its input. Neither argument is
// modified.
//
// With u = μ + σ·ε, a = tanh u and the log-probability above:
//
//	∂L/∂u = dAct·(1 − a²) + dLogp·2a
//	∂L/∂μ = ∂L/∂u
//	∂L/∂log σ = ∂L/∂u·ε·σ − dLogp
//	∂L/∂r = ∂L/∂log σ·(hi − lo)/2·(1 − tanh² r)
func (p *Policy) Backward(dAct, dLogp *engine.Tensor, mode GradMode) {
	w := p.last
	if w == nil || !w.sampled {
		panic("nn: Policy.Backward without Sample")
	}
	if mode&ParamGrad == 0 || mode&InputGrad != 0 {
		panic(fmt.Sprintf("nn: Policy.Backward: mode %#b: want ParamGrad, with or without OverwriteGrad, and no InputGrad", mode))
	}
	b, na := w.b, p.Config.Act
	if dAct != nil && dAct.Len() != b*na {
		panic(fmt.Sprintf("nn: Policy.Backward: dAct %v for actions [%d %d]", dAct.Shape(), b, na))
	}
	if dLogp != nil && dLogp.Len() != b {
		panic(fmt.Sprintf("nn: Policy.Backward: dLogp %v for %d log-probabilities", dLogp.Shape(), b))
	}
	du := p.alloc(&w.du, b, na)
	dls := p.alloc(&w.dls, b, na)
	if dAct != nil {
		p.eng.ActivateGrad(engine.Tanh, du, dAct.Reshape(b, na), w.u, w.a)
	} else {
		p.eng.Fill(du, 0)
	}
	// ∂L/∂r is linear in ∂L/∂log σ, so the factor (hi − lo)/2 is applied
	// to ∂L/∂log σ, where it joins an Axpby that is needed anyway.
	lo, hi := p.Config.LogStdMin, p.Config.LogStdMax
	c := (hi - lo) / 2
	if dLogp != nil {
		// dLogp broadcast over the action columns: an outer product with a
		// row of ones, [B, 1]·[1, Act] (the engine broadcasts rows, not
		// columns); for one column it is dLogp itself.
		gl := dLogp.Reshape(b, 1)
		if na > 1 {
			gl = p.alloc(&w.gl, b, na)
			p.eng.Gemm(false, false, 1, dLogp.Reshape(b, 1), p.ones, 0, gl)
		}
		p.eng.Binary(engine.Mul, dls, gl, w.a)
		p.eng.Axpby(du, 2, dls, 1)
		// c·∂L/∂log σ = c·(du·σ·ε − gl)
		p.eng.Binary(engine.Mul, dls, du, w.se)
		p.eng.Axpby(dls, -c, gl, c)
	} else {
		p.eng.Binary(engine.Mul, dls, du, w.se)
		p.eng.Scale(dls, dls, c, 0)
	}
	p.eng.ActivateGrad(engine.Tanh, dls, dls, w.r, w.t)
	dout := p.alloc(&w.dout, 1, b, 2*na)
	p.eng.CopyCols(dout, 0, du, 0, na)
	p.eng.CopyCols(dout, na, dls, 0, na)
	p.MLP.Backward(dout, mode)
}

// ReleaseWorkspaces frees the workspaces of every batch size.
func (p *Policy) ReleaseWorkspaces() {
	for _, w := range p.ws {
		for _, t := range []*engine.Tensor{w.mu, w.r, w.t, w.logStd, w.std, w.eps, w.se, w.u, w.a, w.k, w.logp, w.du, w.dls, w.gl, w.dout, w.mode} {
			if t != nil {
				p.eng.Free(t)
			}
		}
	}
	p.ws = map[int]*policyWS{}
	p.last = nil
	p.MLP.ReleaseWorkspaces()
}

// Free releases everything the policy holds on the device: its workspaces,
// its parameters and gradients, and its constants. The policy is unusable
// afterwards.
func (p *Policy) Free() {
	p.ReleaseWorkspaces()
	p.Params.Free()
	p.eng.Free(p.ones)
}
