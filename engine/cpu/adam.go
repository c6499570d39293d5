package cpu

import (
	"math"

	"github.com/imago-rl/imago/engine"
)

// Adam applies one Adam or AdamW update to p, m and v in place, following
// engine.AdamConfig's formula term by term. Each element's update runs in
// float64 from the float32 values in memory; m and v are rounded when stored
// and the parameter step uses the stored values, as a float32 implementation
// reading them back would.
func (e *Engine) Adam(p, g, m, v *engine.Tensor, cfg engine.AdamConfig, step int) {
	const op = "Adam"
	n := engine.CheckAdam(p, g, m, v, step)
	ps, gs, ms, vs := e.floats(op, p), e.floats(op, g), e.floats(op, m), e.floats(op, v)
	b1, b2 := float64(cfg.Beta1), float64(cfg.Beta2)
	lr, eps, wd := float64(cfg.LR), float64(cfg.Eps), float64(cfg.WeightDecay)
	stepSize := lr / (1 - math.Pow(b1, float64(step)))
	sqrtBC2 := math.Sqrt(1 - math.Pow(b2, float64(step)))
	l2, decay := wd, 0.0
	if cfg.Decoupled {
		l2, decay = 0, lr*wd
	}
	parallelFor(n, 4*n, func(lo, hi int) {
		ps, gs, ms, vs := ps[lo:hi], gs[lo:hi], ms[lo:hi], vs[lo:hi]
		for i := range ps {
			pi := float64(ps[i])
			gi := float64(gs[i]) + l2*pi
			mi := float32(b1*float64(ms[i]) + (1-b1)*gi)
			vi := float32(b2*float64(vs[i]) + (1-b2)*gi*gi)
			ms[i], vs[i] = mi, vi
			pi -= decay * pi
			pi -= stepSize * float64(mi) / (math.Sqrt(float64(vi))/sqrtBC2 + eps)
			ps[i] = float32(pi)
		}
	})
}
