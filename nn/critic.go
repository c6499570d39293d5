package nn

import (
	"fmt"
	"slices"

	"github.com/imago-rl/imago/engine"
)

// CriticConfig configures SAC's Q networks. The zero value of a field
// selects its default, that of CleanRL's sac_continuous_action.py.
type CriticConfig struct {
	// Obs and Act are the observation and action sizes. Required.
	Obs, Act int
	// Members is the number of Q networks. Default 2 (SAC's clipped double
	// Q, Fujimoto et al. 2018).
	Members int
	// Hidden holds the hidden layer sizes. Default 256, 256.
	Hidden []int
	// Activation is the hidden layers' activation. Default ReLU (the zero
	// value, Identity, selects it).
	Activation engine.Activation
}

func (c CriticConfig) withDefaults() (CriticConfig, error) {
	if c.Obs <= 0 || c.Act <= 0 {
		return c, fmt.Errorf("nn: critic: observation size %d and action size %d must be positive", c.Obs, c.Act)
	}
	if c.Members == 0 {
		c.Members = 2
	}
	if c.Members < 0 {
		return c, fmt.Errorf("nn: critic: %d members", c.Members)
	}
	if c.Hidden == nil {
		c.Hidden = []int{256, 256}
	}
	c.Hidden = slices.Clone(c.Hidden)
	for _, h := range c.Hidden {
		if h <= 0 {
			return c, fmt.Errorf("nn: critic: hidden sizes %v must be positive", c.Hidden)
		}
	}
	if c.Activation == engine.Identity {
		c.Activation = engine.ReLU
	}
	return c, nil
}

// Critic is SAC's set of Q networks, Q_e(s, a) for e < Members, held as one
// ensemble MLP of Members members over the concatenation [s, a]: the twin Q
// of SAC is Members = 2, computed by the same batched Gemms as two separate
// networks would be.
type Critic struct {
	Config CriticConfig
	MLP    *MLP
	Params *Params // "layers.i.weight" [Members, ·, ·], "layers.i.bias"

	eng  engine.Engine
	ws   map[int]*criticWS
	last *criticWS
}

type criticWS struct {
	b          int
	x, ix      *engine.Tensor // [B, Obs+Act] inputs of Forward and Infer
	dact       *engine.Tensor // [B, Act]
	hasForward bool
}

// NewCritic allocates a critic for cfg on eng. Its parameters are zero; call
// Init. A bad config is an error.
func NewCritic(eng engine.Engine, cfg CriticConfig) (*Critic, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sizes := append(append([]int{cfg.Obs + cfg.Act}, cfg.Hidden...), 1)
	p := NewParams(eng, MLPSpecs("", cfg.Members, sizes)...)
	return &Critic{
		Config: cfg,
		MLP:    NewMLP(p, "", cfg.Activation),
		Params: p,
		eng:    eng,
		ws:     map[int]*criticWS{},
	}, nil
}

// Init initialises the layers with scheme from rng. CleanRL's critics use
// PyTorch's default, FanInUniform.
func (c *Critic) Init(scheme Init, rng *engine.RNG) { c.MLP.Init(scheme, rng) }

// Target returns a new critic of the same config whose parameters are a
// copy of c's: a target network, to be moved towards c with UpdateTarget.
func (c *Critic) Target() *Critic {
	t, err := NewCritic(c.eng, c.Config)
	if err != nil {
		panic("nn: Critic.Target: " + err.Error()) // c's config was valid
	}
	t.Params.CopyFrom(c.Params)
	return t
}

// UpdateTarget moves the target critic t towards c:
// θ_t ← (1−tau)·θ_t + tau·θ_c, one engine Polyak call over the flat buffer.
func (c *Critic) UpdateTarget(t *Critic, tau float32) { t.Params.Polyak(c.Params, tau) }

func (c *Critic) input(op string, obs, act *engine.Tensor, infer bool) (*criticWS, *engine.Tensor) {
	if obs.Rank() != 2 || obs.Dim(1) != c.Config.Obs || act.Rank() != 2 || act.Dim(1) != c.Config.Act || act.Dim(0) != obs.Dim(0) {
		panic(fmt.Sprintf("nn: Critic.%s: observations %v and actions %v, want [B %d] and [B %d]",
			op, obs.Shape(), act.Shape(), c.Config.Obs, c.Config.Act))
	}
	b := obs.Dim(0)
	w := c.ws[b]
	if w == nil {
		w = &criticWS{b: b}
		c.ws[b] = w
	}
	buf := &w.x
	if infer {
		buf = &w.ix
	}
	if *buf == nil {
		*buf = c.eng.New(engine.Float32, b, c.Config.Obs+c.Config.Act)
	}
	x := *buf
	c.eng.CopyCols(x, 0, obs, 0, c.Config.Obs)
	c.eng.CopyCols(x, c.Config.Obs, act, 0, c.Config.Act)
	return w, x
}

// Forward returns Q_e(obs, act) for every member, [Members, B, 1], for
// observations [B, Obs] and actions [B, Act], and keeps what Backward needs.
// The result belongs to the workspace for batch size B.
func (c *Critic) Forward(obs, act *engine.Tensor) *engine.Tensor {
	w, x := c.input("Forward", obs, act, false)
	q := c.MLP.Forward(x)
	w.hasForward = true
	c.last = w
	return q
}

// Infer is Forward without keeping anything for Backward (for target
// values); it does not disturb a pending Backward.
func (c *Critic) Infer(obs, act *engine.Tensor) *engine.Tensor {
	_, x := c.input("Infer", obs, act, true)
	return c.MLP.Infer(x)
}

// Backward takes dq = ∂L/∂Q [Members, B, 1] for the last Forward and, as
// mode asks, accumulates ∂L/∂θ into Params.Grad (writes it, with
// OverwriteGrad: every parameter of the critic is a layer's) and returns
// ∂L/∂act [B, Act] summed over members (else nil). The actor's loss wants
// InputGrad alone. dq is not modified.
func (c *Critic) Backward(dq *engine.Tensor, mode GradMode) *engine.Tensor {
	w := c.last
	if w == nil || !w.hasForward {
		panic("nn: Critic.Backward without Forward")
	}
	dx := c.MLP.Backward(dq, mode)
	if mode&InputGrad == 0 {
		return nil
	}
	if w.dact == nil {
		w.dact = c.eng.New(engine.Float32, w.b, c.Config.Act)
	}
	c.eng.CopyCols(w.dact, 0, dx, c.Config.Obs, c.Config.Act)
	return w.dact
}

// ReleaseWorkspaces frees the workspaces of every batch size.
func (c *Critic) ReleaseWorkspaces() {
	for _, w := range c.ws {
		for _, t := range []*engine.Tensor{w.x, w.ix, w.dact} {
			if t != nil {
				c.eng.Free(t)
			}
		}
	}
	c.ws = map[int]*criticWS{}
	c.last = nil
	c.MLP.ReleaseWorkspaces()
}
