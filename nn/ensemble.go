package nn

import (
	"fmt"
	"slices"

	"github.com/imago-rl/imago/engine"
)

// EnsembleConfig configures the probabilistic ensemble dynamics model. The
// zero value of a field selects its default, which is that of MBPO
// (jannerm/mbpo, mbpo/models/constructor.py) and mbrl-lib's
// GaussianMLP.
type EnsembleConfig struct {
	// In is the input size (observation and action features) and Out the
	// number of target dimensions (next-observation delta and reward).
	// Both are required.
	In, Out int
	// Members is the number of ensemble members E. Default 7
	// (MBPO num_networks).
	Members int
	// Hidden holds the sizes of the hidden layers. Default four of 200.
	Hidden []int
	// Activation is the hidden layers' activation. Default SiLU (swish);
	// the zero value, Identity, selects it, since an MLP of linear hidden
	// layers is never what is wanted.
	Activation engine.Activation
	// WeightDecay holds, per layer (len(Hidden)+1 of them), the coefficient
	// c of the loss term c·Σw²/2 (tf.nn.l2_loss) on that layer's weights;
	// biases are not decayed. Default, for five layers, MBPO's
	// 2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4; other depths must give it (zeros
	// for none).
	WeightDecay []float32
	// BoundPenalty is the coefficient c of the loss term
	// c·(Σ max_logvar − Σ min_logvar), which keeps the learned bounds
	// tight. Default 0.01 (PETS dmbrl BNN.finalize, MBPO, mbrl-lib).
	BoundPenalty float32
}

// Initial values of the learned log-variance bounds, as in jannerm/mbpo
// (BNN: max_logvar 0.5, min_logvar −10) and mbrl-lib's GaussianMLP.
const (
	MaxLogVarInit = 0.5
	MinLogVarInit = -10
)

// mbpoWeightDecay is MBPO's per-layer L2 coefficient for its five layers
// (mbpo/models/constructor.py).
var mbpoWeightDecay = []float32{2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4}

func (c EnsembleConfig) withDefaults() (EnsembleConfig, error) {
	if c.In <= 0 || c.Out <= 0 {
		return c, fmt.Errorf("nn: ensemble: input size %d and output size %d must be positive", c.In, c.Out)
	}
	if c.Members == 0 {
		c.Members = 7
	}
	if c.Members < 0 {
		return c, fmt.Errorf("nn: ensemble: %d members", c.Members)
	}
	if c.Hidden == nil {
		c.Hidden = []int{200, 200, 200, 200}
	}
	c.Hidden = slices.Clone(c.Hidden)
	for _, h := range c.Hidden {
		if h <= 0 {
			return c, fmt.Errorf("nn: ensemble: hidden sizes %v must be positive", c.Hidden)
		}
	}
	if c.Activation == engine.Identity {
		c.Activation = engine.SiLU
	}
	layers := len(c.Hidden) + 1
	if c.WeightDecay == nil {
		if layers != len(mbpoWeightDecay) {
			return c, fmt.Errorf("nn: ensemble: %d layers need an explicit WeightDecay (the default is MBPO's, for 5 layers)", layers)
		}
		c.WeightDecay = mbpoWeightDecay
	}
	c.WeightDecay = slices.Clone(c.WeightDecay)
	if len(c.WeightDecay) != layers {
		return c, fmt.Errorf("nn: ensemble: WeightDecay has %d values for %d layers", len(c.WeightDecay), layers)
	}
	if c.BoundPenalty == 0 {
		c.BoundPenalty = 0.01
	}
	return c, nil
}

// Ensemble is the probabilistic ensemble dynamics model of PETS (Chua et al.
// 2018) and MBPO (Janner et al. 2019): E Gaussian MLPs, each mapping an
// input (observation and action) to the mean and log-variance of every
// target dimension.
//
// Inputs are standardised with InputNorm and targets with TargetNorm, both
// fitted by Fit (identity until then). Forward and Loss work in standardised
// target units; Predict returns the mean and log-variance in the targets'
// own units.
//
// The log-variance is softly bounded by learned [1, Out] bounds shared by
// the members (jannerm/mbpo bnn.py, mbrl-lib GaussianMLP):
//
//	lv = max − softplus(max − raw)
//	lv = min + softplus(lv − min)
//
// The training loss (Loss) is the Gaussian negative log-likelihood without
// its constant, averaged over batch and target dimensions and summed over
// members, plus the bound penalty and the weight decay:
//
//	Σ_e mean_{b,d} [(μ − y)²·e^(−lv) + lv] + 0.01·(Σ max − Σ min) + Σ_l c_l·Σ W_l²/2
type Ensemble struct {
	Config EnsembleConfig
	MLP    *MLP
	// Params holds the trained parameters: the MLP's "layers.i.weight" and
	// "layers.i.bias", "max_logvar" and "min_logvar" [1, Out].
	Params *Params
	// Norm holds the standardisers' statistics: "input_norm.mean",
	// "input_norm.std" [1, In], "target_norm.mean", "target_norm.std"
	// [1, Out]. Save and load it together with Params.
	Norm                  *Params
	InputNorm, TargetNorm *Standardizer

	MaxLogVar, MinLogVar         *engine.Tensor // [1, Out] views into Params
	MaxLogVarGrad, MinLogVarGrad *engine.Tensor

	eng       engine.Engine
	ws        map[int]*ensembleWS
	last      *ensembleWS
	tmpD      *engine.Tensor // [1, Out] scratch for bound gradients
	onesD     *engine.Tensor // [1, Out] of ones, for Σ over a row as a Gemm
	twoLogStd *engine.Tensor // [1, Out] for Predict
}

// NewEnsemble allocates an ensemble for cfg on eng. Its parameters are zero
// but for the log-variance bounds; call Init. A bad config is an error.
func NewEnsemble(eng engine.Engine, cfg EnsembleConfig) (*Ensemble, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sizes := append(append([]int{cfg.In}, cfg.Hidden...), 2*cfg.Out)
	specs := append(MLPSpecs("", cfg.Members, sizes),
		ParamSpec{Name: "max_logvar", Shape: []int{1, cfg.Out}},
		ParamSpec{Name: "min_logvar", Shape: []int{1, cfg.Out}})
	p := NewParams(eng, specs...)
	norm := NewBuffers(eng, append(StandardizerSpecs("input_norm.", cfg.In), StandardizerSpecs("target_norm.", cfg.Out)...)...)
	m := &Ensemble{
		Config:        cfg,
		MLP:           NewMLP(p, "", cfg.Activation),
		Params:        p,
		Norm:          norm,
		InputNorm:     NewStandardizer(norm, "input_norm."),
		TargetNorm:    NewStandardizer(norm, "target_norm."),
		MaxLogVar:     p.Param("max_logvar").Value,
		MinLogVar:     p.Param("min_logvar").Value,
		MaxLogVarGrad: p.Param("max_logvar").Grad,
		MinLogVarGrad: p.Param("min_logvar").Grad,
		eng:           eng,
		ws:            map[int]*ensembleWS{},
		tmpD:          eng.New(engine.Float32, 1, cfg.Out),
		onesD:         eng.New(engine.Float32, 1, cfg.Out),
		twoLogStd:     eng.New(engine.Float32, 1, cfg.Out),
	}
	eng.Fill(m.onesD, 1)
	m.resetBounds()
	return m, nil
}

func (m *Ensemble) resetBounds() {
	m.eng.Fill(m.MaxLogVar, MaxLogVarInit)
	m.eng.Fill(m.MinLogVar, MinLogVarInit)
}

// Init initialises the layers with TruncNormal from rng (layer by layer,
// weights then biases) and resets the log-variance bounds to
// MaxLogVarInit and MinLogVarInit.
func (m *Ensemble) Init(rng *engine.RNG) {
	m.MLP.Init(TruncNormal, rng)
	m.resetBounds()
}

// Fit fits the input standardiser to inputs [N, In] and the target
// standardiser to targets [N, Out] (see Standardizer.Fit: it downloads the
// In+Out standard deviations to the host once to apply the σ < 1e-12 rule).
func (m *Ensemble) Fit(inputs, targets *engine.Tensor) {
	m.InputNorm.Fit(inputs)
	m.TargetNorm.Fit(targets)
}

// ensembleWS is the ensemble's workspace for one batch size.
type ensembleWS struct {
	b int
	// forward
	xn           *engine.Tensor // standardised input, [B, In] or [E, B, In]
	xnShared     *engine.Tensor
	mean, raw    *engine.Tensor // [E, B, Out]
	u, s1, v, s2 *engine.Tensor // soft-bound intermediates
	lv           *engine.Tensor // [E, B, Out]
	// loss
	yn, yns  *engine.Tensor // standardised targets [E, B, Out], [B, Out]
	diff     *engine.Tensor // μ − y
	ivar     *engine.Tensor // e^(−lv)
	sqiv     *engine.Tensor // (μ − y)²·e^(−lv)
	loss     *engine.Tensor // [1]
	sum      *engine.Tensor // [1]
	dout     *engine.Tensor // [E, B, 2·Out]
	haveLoss bool
	// predict
	pxn, pxnShared   *engine.Tensor
	pmean, plv, ptmp *engine.Tensor
}

func (m *Ensemble) workspace(b int) *ensembleWS {
	w := m.ws[b]
	if w == nil {
		w = &ensembleWS{b: b}
		m.ws[b] = w
	}
	return w
}

func (m *Ensemble) alloc(t **engine.Tensor, shape ...int) *engine.Tensor {
	if *t == nil {
		*t = m.eng.New(engine.Float32, shape...)
	}
	return *t
}

// checkInput checks x is [B, In] or [E, B, In] and returns B and whether it
// is shared by every member.
func (m *Ensemble) checkInput(op string, x *engine.Tensor) (b int, shared bool) {
	if x.Rank() == 2 && x.Dim(1) == m.Config.In {
		return x.Dim(0), true
	}
	if x.Rank() == 3 && x.Dim(0) == m.Config.Members && x.Dim(2) == m.Config.In {
		return x.Dim(1), false
	}
	panic(fmt.Sprintf("nn: Ensemble.%s: input %v, want [B %d] or [%d B %d]", op, x.Shape(), m.Config.In, m.Config.Members, m.Config.In))
}

// Forward runs every member on x, [B, In] shared by the members or
// [E, B, In] (one batch per member, as in bootstrapped training), and
// returns the mean and the bounded log-variance [E, B, Out] in standardised
// target units. It keeps what Loss and Backward need. The results belong to
// the workspace for batch size B.
func (m *Ensemble) Forward(x *engine.Tensor) (mean, logVar *engine.Tensor) {
	b, shared := m.checkInput("Forward", x)
	w := m.workspace(b)
	e, d := m.Config.Members, m.Config.Out
	var xn *engine.Tensor
	if shared {
		xn = m.alloc(&w.xnShared, b, m.Config.In)
	} else {
		xn = m.alloc(&w.xn, e, b, m.Config.In)
	}
	m.InputNorm.Apply(xn, x)
	out := m.MLP.Forward(xn)
	mean = m.alloc(&w.mean, e, b, d)
	raw := m.alloc(&w.raw, e, b, d)
	m.eng.CopyCols(mean, 0, out, 0, d)
	m.eng.CopyCols(raw, 0, out, d, d)
	m.softBounds(w, raw)
	w.haveLoss = false
	m.last = w
	return mean, w.lv
}

// softBounds computes w.lv from raw, keeping the intermediates:
// u = max − raw, s1 = softplus(u), v = (max − s1) − min, s2 = softplus(v),
// lv = s2 + min.
func (m *Ensemble) softBounds(w *ensembleWS, raw *engine.Tensor) {
	e, b, d := m.Config.Members, w.b, m.Config.Out
	u := m.alloc(&w.u, e, b, d)
	s1 := m.alloc(&w.s1, e, b, d)
	v := m.alloc(&w.v, e, b, d)
	s2 := m.alloc(&w.s2, e, b, d)
	lv := m.alloc(&w.lv, e, b, d)
	m.boundsInto(lv, raw, u, s1, v, s2)
}

func (m *Ensemble) boundsInto(lv, raw, u, s1, v, s2 *engine.Tensor) {
	m.eng.Binary(engine.Sub, u, raw, m.MaxLogVar)
	m.eng.Scale(u, u, -1, 0)
	m.eng.Activate(engine.Softplus, s1, u)
	m.eng.Binary(engine.Sub, v, s1, m.MaxLogVar) // s1 − max = −(max − s1)
	m.eng.Scale(v, v, -1, 0)
	m.eng.Binary(engine.Sub, v, v, m.MinLogVar)
	m.eng.Activate(engine.Softplus, s2, v)
	m.eng.Binary(engine.Add, lv, s2, m.MinLogVar)
}

// Loss computes the training loss (see Ensemble) of the last Forward against
// targets y, [E, B, Out] (one batch per member) or [B, Out] (shared), in the
// targets' own units (Loss standardises them). It returns a one-element
// device tensor of the workspace, and keeps what Backward needs.
func (m *Ensemble) Loss(y *engine.Tensor) *engine.Tensor {
	w := m.last
	if w == nil {
		panic("nn: Ensemble.Loss without Forward")
	}
	e, b, d := m.Config.Members, w.b, m.Config.Out
	yn := m.alloc(&w.yn, e, b, d)
	switch {
	case y.Rank() == 3 && y.Dim(0) == e && y.Dim(1) == b && y.Dim(2) == d:
		m.TargetNorm.Apply(yn, y)
	case y.Rank() == 2 && y.Dim(0) == b && y.Dim(1) == d:
		yns := m.alloc(&w.yns, b, d)
		m.TargetNorm.Apply(yns, y)
		for i := 0; i < e; i++ {
			m.eng.Copy(yn.View(i*b*d, b, d), yns)
		}
	default:
		panic(fmt.Sprintf("nn: Ensemble.Loss: targets %v for predictions [%d %d %d]", y.Shape(), e, b, d))
	}
	diff := m.alloc(&w.diff, e, b, d)
	ivar := m.alloc(&w.ivar, e, b, d)
	sqiv := m.alloc(&w.sqiv, e, b, d)
	loss := m.alloc(&w.loss, 1)
	sum := m.alloc(&w.sum, 1)
	n := e * b * d
	m.eng.Binary(engine.Sub, diff, w.mean, yn)
	m.eng.Scale(ivar, w.lv, -1, 0)
	m.eng.Unary(engine.Exp, ivar, ivar)
	m.eng.Unary(engine.Square, sqiv, diff)
	m.eng.Binary(engine.Mul, sqiv, sqiv, ivar)
	// Σ_e mean_{b,d} = (Σ over all)/(B·D).
	inv := 1 / float32(b*d)
	m.eng.ReduceRows(engine.Sum, loss, sqiv.Reshape(1, n))
	m.eng.ReduceRows(engine.Sum, sum, w.lv.Reshape(1, n))
	m.eng.Axpby(loss, inv, sum, inv)
	// Bound penalty and weight decay as dot products (Gemm of a row with
	// itself or with ones), accumulated into the loss.
	l11 := loss.Reshape(1, 1)
	pen := m.Config.BoundPenalty
	m.eng.Gemm(false, true, pen, m.onesD, m.MaxLogVar, 1, l11)
	m.eng.Gemm(false, true, -pen, m.onesD, m.MinLogVar, 1, l11)
	for i, l := range m.MLP.Layers {
		if c := m.Config.WeightDecay[i]; c != 0 {
			wr := l.Weight.Reshape(1, l.Weight.Len())
			m.eng.Gemm(false, true, c/2, wr, wr, 1, l11)
		}
	}
	w.haveLoss = true
	return loss
}

// Backward accumulates the gradient of the last Loss with respect to every
// parameter into Params.Grad.
func (m *Ensemble) Backward() {
	w := m.last
	if w == nil || !w.haveLoss {
		panic("nn: Ensemble.Backward without Forward and Loss")
	}
	e, b, d := m.Config.Members, w.b, m.Config.Out
	inv := 1 / float32(b*d)
	// ∂/∂μ = 2(μ − y)·e^(−lv)/(B·D), in place in diff.
	dmean := w.diff
	m.eng.Binary(engine.Mul, dmean, dmean, w.ivar)
	m.eng.Scale(dmean, dmean, 2*inv, 0)
	// ∂/∂lv = (1 − (μ − y)²·e^(−lv))/(B·D), in place in sqiv.
	g := w.sqiv
	m.eng.Scale(g, g, -inv, inv)
	// Back through the soft bounds (see softBounds), in place in g:
	// ∂min += Σ g − Σ dv, ∂max += Σ dv − Σ draw,
	// dv = g·σ(v), draw = dv·σ(u).
	rows := func(t *engine.Tensor) *engine.Tensor { return t.Reshape(1, e*b, d) }
	m.eng.ReduceCols(engine.Sum, m.tmpD, rows(g))
	m.eng.Axpby(m.MinLogVarGrad, 1, m.tmpD, 1)
	m.eng.ActivateGrad(engine.Softplus, g, g, w.v, w.s2)
	m.eng.ReduceCols(engine.Sum, m.tmpD, rows(g))
	m.eng.Axpby(m.MinLogVarGrad, -1, m.tmpD, 1)
	m.eng.Axpby(m.MaxLogVarGrad, 1, m.tmpD, 1)
	m.eng.ActivateGrad(engine.Softplus, g, g, w.u, w.s1)
	m.eng.ReduceCols(engine.Sum, m.tmpD, rows(g))
	m.eng.Axpby(m.MaxLogVarGrad, -1, m.tmpD, 1)
	// Bound penalty.
	pen := m.Config.BoundPenalty
	m.eng.Scale(m.MaxLogVarGrad, m.MaxLogVarGrad, 1, pen)
	m.eng.Scale(m.MinLogVarGrad, m.MinLogVarGrad, 1, -pen)
	// Into the network.
	dout := m.alloc(&w.dout, e, b, 2*d)
	m.eng.CopyCols(dout, 0, dmean, 0, d)
	m.eng.CopyCols(dout, d, g, 0, d)
	m.MLP.Backward(dout, ParamGrad)
	for i, l := range m.MLP.Layers {
		if c := m.Config.WeightDecay[i]; c != 0 {
			m.eng.Axpby(l.WeightGrad, c, l.Weight, 1)
		}
	}
	w.haveLoss = false // diff and sqiv now hold gradients
}

// Predict runs every member on x ([B, In] shared, or [E, B, In]) without
// keeping anything for Backward and returns the mean and log-variance
// [E, B, Out] in the targets' own units: μ·σ + m and lv + 2·log σ for the
// target standardiser's m and σ. The results belong to the workspace for
// batch size B and are distinct from Forward's.
func (m *Ensemble) Predict(x *engine.Tensor) (mean, logVar *engine.Tensor) {
	b, shared := m.checkInput("Predict", x)
	w := m.workspace(b)
	e, d := m.Config.Members, m.Config.Out
	var xn *engine.Tensor
	if shared {
		xn = m.alloc(&w.pxnShared, b, m.Config.In)
	} else {
		xn = m.alloc(&w.pxn, e, b, m.Config.In)
	}
	m.InputNorm.Apply(xn, x)
	out := m.MLP.Infer(xn)
	mean = m.alloc(&w.pmean, e, b, d)
	lv := m.alloc(&w.plv, e, b, d)
	tmp := m.alloc(&w.ptmp, e, b, d)
	m.eng.CopyCols(mean, 0, out, 0, d)
	m.eng.CopyCols(lv, 0, out, d, d)
	m.eng.Binary(engine.Sub, tmp, lv, m.MaxLogVar)
	m.eng.Scale(tmp, tmp, -1, 0)
	m.eng.Activate(engine.Softplus, tmp, tmp)
	m.eng.Binary(engine.Sub, tmp, tmp, m.MaxLogVar)
	m.eng.Scale(tmp, tmp, -1, 0)
	m.eng.Binary(engine.Sub, tmp, tmp, m.MinLogVar)
	m.eng.Activate(engine.Softplus, tmp, tmp)
	m.eng.Binary(engine.Add, lv, tmp, m.MinLogVar)
	m.TargetNorm.Invert(mean, mean)
	m.eng.Unary(engine.Log, m.twoLogStd, m.TargetNorm.Std)
	m.eng.Scale(m.twoLogStd, m.twoLogStd, 2, 0)
	m.eng.Binary(engine.Add, lv, lv, m.twoLogStd)
	return mean, lv
}

// ReleaseWorkspaces frees the workspaces of every batch size.
func (m *Ensemble) ReleaseWorkspaces() {
	for _, w := range m.ws {
		for _, t := range []*engine.Tensor{w.xn, w.xnShared, w.mean, w.raw, w.u, w.s1, w.v, w.s2, w.lv,
			w.yn, w.yns, w.diff, w.ivar, w.sqiv, w.loss, w.sum, w.dout, w.pxn, w.pxnShared, w.pmean, w.plv, w.ptmp} {
			if t != nil {
				m.eng.Free(t)
			}
		}
	}
	m.ws = map[int]*ensembleWS{}
	m.last = nil
	m.MLP.ReleaseWorkspaces()
}
