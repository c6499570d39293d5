package nn

import "github.com/imago-rl/imago/engine"

// Adam is the Adam (or AdamW) optimizer over the flat buffers of a Params:
// it holds the moment estimates M and V, of the flat layout, and the number
// of updates taken.
type Adam struct {
	// Config is the update's hyperparameters; NewAdam fills its defaults.
	Config engine.AdamConfig
	// M and V are the first and second moment estimates, flat like
	// Params.Data.
	M, V *engine.Tensor
	// Step is the number of updates taken; the next Update is step Step+1.
	Step int

	p *Params
}

// NewAdam returns an optimizer for p with zeroed moments. Zero fields of cfg
// take PyTorch's torch.optim.Adam defaults: LR 1e-3, Beta1 0.9, Beta2 0.999,
// Eps 1e-8 (WeightDecay and Decoupled stay as given).
func NewAdam(p *Params, cfg engine.AdamConfig) *Adam {
	if p.Grad == nil {
		panic("nn: NewAdam: parameters without gradients")
	}
	if cfg.LR == 0 {
		cfg.LR = 1e-3
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	eng := p.Engine()
	return &Adam{
		Config: cfg,
		M:      eng.New(engine.Float32, p.Len()),
		V:      eng.New(engine.Float32, p.Len()),
		p:      p,
	}
}

// Update takes one step on every parameter from the gradients in
// Params.Grad (one engine Adam call). It does not zero the gradients.
func (a *Adam) Update() {
	a.Step++
	a.p.eng.Adam(a.p.Data, a.p.Grad, a.M, a.V, a.Config, a.Step)
}

// Reset zeroes the moments and the step count.
func (a *Adam) Reset() {
	a.p.eng.Fill(a.M, 0)
	a.p.eng.Fill(a.V, 0)
	a.Step = 0
}

// Free releases the moment buffers.
func (a *Adam) Free() {
	a.p.eng.Free(a.M)
	a.p.eng.Free(a.V)
	a.M, a.V = nil, nil
}

// Params returns the parameters a updates.
func (a *Adam) Params() *Params { return a.p }
