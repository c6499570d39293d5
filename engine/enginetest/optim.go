package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// adamConfigs make every term of AdamConfig's update visible: a large LR so
// that the step stands well above the rounding of p, an Eps large enough in
// two of them that adding it in the wrong place (before the bias correction
// of √v) changes the result, and weight decay of both kinds.
var adamConfigs = []struct {
	name string
	cfg  engine.AdamConfig
}{
	{"adam", engine.AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}},
	{"adam-l2", engine.AdamConfig{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3, WeightDecay: 0.1}},
	{"adamw", engine.AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 0.1, WeightDecay: 0.5, Decoupled: true}},
}

// adamRef is the float64 reference of one Adam update: the new p, m and v,
// and the magnitudes of their terms (see tol).
type adamRef struct {
	p, m, v          []float64
	pMag, mMag, vMag []float64
}

// adam64 computes adamRef following AdamConfig's formula term by term. The
// magnitudes are carried through it to first order: an error of u·mag in
// an input of a step reaches its output scaled by the step's derivative.
func adam64(p, g, m, v []float32, cfg engine.AdamConfig, step int) adamRef {
	lr, b1, b2 := float64(cfg.LR), float64(cfg.Beta1), float64(cfg.Beta2)
	eps, wd := float64(cfg.Eps), float64(cfg.WeightDecay)
	c1 := 1 - math.Pow(b1, float64(step))
	c2 := 1 - math.Pow(b2, float64(step))
	n := len(p)
	r := adamRef{
		p: make([]float64, n), m: make([]float64, n), v: make([]float64, n),
		pMag: make([]float64, n), mMag: make([]float64, n), vMag: make([]float64, n),
	}
	for i := range p {
		pi, gi := float64(p[i]), float64(g[i])
		gMag := math.Abs(gi)
		if !cfg.Decoupled {
			gi += wd * pi
			gMag += math.Abs(wd * pi)
		}
		mi := b1*float64(m[i]) + (1-b1)*gi
		vi := b2*float64(v[i]) + (1-b2)*gi*gi
		r.mMag[i] = b1*math.Abs(float64(m[i])) + (1-b1)*gMag
		r.vMag[i] = b2*float64(v[i]) + (1-b2)*math.Abs(gi)*gMag
		var dp, dpMag float64
		if cfg.Decoupled {
			dp = -lr * wd * pi
			dpMag = math.Abs(dp)
		}
		sq := math.Sqrt(vi / c2)
		den := sq + eps
		denMag := den
		if vi > 0 {
			denMag += r.vMag[i] / (2 * math.Sqrt(vi*c2)) // d√(v/c2)/dv
		}
		dp -= lr / c1 * mi / den
		dpMag += lr / c1 * (r.mMag[i]/den + math.Abs(mi)*denMag/(den*den))
		r.p[i], r.m[i], r.v[i], r.pMag[i] = pi+dp, mi, vi, dpMag
	}
	return r
}

func (s *suite) testAdam(t *testing.T) {
	i := 0
	for _, c := range adamConfigs {
		// From fresh moments at step 1, where bias correction is largest,
		// and from a state deep into training.
		for _, start := range []int{1, 1000} {
			for _, n := range []int{1, 17, 257, 1<<16 + 3} {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("%s/step=%d/n=%d/%v", c.name, start, n, l), func(t *testing.T) {
					r := s.rand(t)
					p := s.alloc(t, r, l, engine.Float32, n)
					g := s.alloc(t, r, l, engine.Float32, n)
					m := s.alloc(t, r, l, engine.Float32, n)
					v := s.alloc(t, r, l, engine.Float32, n)
					p.rand(r, -1, 1)
					if start > 1 {
						m.rand(r, -0.1, 0.1)
						v.rand(r, 0, 0.01)
					}
					s.adamSteps(t, r, p, g, m, v, c.cfg, start, 4)
				})
			}
		}
		// The four buffers as disjoint views of one allocation.
		t.Run(c.name+"/one-allocation", func(t *testing.T) {
			r := s.rand(t)
			const n = 257
			all := s.alloc(t, r, offset, engine.Float32, 4*n)
			p, g, m, v := all.view(0, n), all.view(n, n), all.view(2*n, n), all.view(3*n, n)
			p.rand(r, -1, 1)
			s.adamSteps(t, r, p, g, m, v, c.cfg, 1, 3)
		})
	}
}

// adamSteps runs steps updates from step start, each with a fresh gradient,
// and checks each against the reference applied to the engine's state
// before it, so that rounding does not accumulate between engine and
// reference.
func (s *suite) adamSteps(t *testing.T, r *rand.Rand, p, g, m, v *buf, cfg engine.AdamConfig, start, steps int) {
	t.Helper()
	for step := start; step < start+steps; step++ {
		gv := g.rand(r, -1, 1)
		p0, m0, v0 := p.read(t), m.read(t), v.read(t)
		ref := adam64(p0, gv, m0, v0, cfg, step)
		s.e.Adam(p.t, g.t, m.t, v.t, cfg, step)
		p1 := p.read(t)
		// Compare the update p1 − p0 rather than p1: the update is a few
		// percent of p, and an error in it would hide in p's norm. The
		// rounding of p1 itself, up to u·|p| with u = 2⁻²⁴, is added to the
		// magnitude as the term of that size: u·|p|/tol.
		got, want, mag := make([]float32, len(p1)), make([]float64, len(p1)), make([]float64, len(p1))
		for i := range p1 {
			got[i] = float32(float64(p1[i]) - float64(p0[i]))
			want[i] = ref.p[i] - float64(p0[i])
			mag[i] = ref.pMag[i] + math.Abs(float64(p0[i]))*0x1p-24/tol
		}
		near(t, fmt.Sprintf("step %d: p − p₀", step), got, want, mag)
		near(t, fmt.Sprintf("step %d: m", step), m.read(t), ref.m, ref.mMag)
		near(t, fmt.Sprintf("step %d: v", step), v.read(t), ref.v, ref.vMag)
		g.unchanged(t, fmt.Sprintf("step %d: g", step))
		copy(p.host(), p1) // the new state is the next step's input
		copy(m.host(), m.read(t))
		copy(v.host(), v.read(t))
	}
}

func (s *suite) testPolyak(t *testing.T) {
	i := 0
	for _, tau := range []float32{0.005, 0.5, 1} {
		for _, n := range []int{1, 17, 257, 1<<16 + 3} {
			l := layouts[i%2]
			i++
			t.Run(fmt.Sprintf("tau=%g/n=%d/%v", tau, n, l), func(t *testing.T) {
				r := s.rand(t)
				dst := s.alloc(t, r, l, engine.Float32, n)
				src := s.alloc(t, r, l, engine.Float32, n)
				s.polyakCase(t, r, dst, src, tau)
			})
		}
	}
	t.Run("one-allocation", func(t *testing.T) {
		r := s.rand(t)
		all := s.alloc(t, r, offset, engine.Float32, 2*257)
		s.polyakCase(t, r, all.view(257, 257), all.view(0, 257), 0.01)
	})
}

func (s *suite) polyakCase(t *testing.T, r *rand.Rand, dst, src *buf, tau float32) {
	t.Helper()
	dv := dst.rand(r, -1, 1)
	sv := src.rand(r, -1, 1)
	want, mag := make([]float64, len(dv)), make([]float64, len(dv))
	for i := range dv {
		d, s := (1-float64(tau))*float64(dv[i]), float64(tau)*float64(sv[i])
		want[i], mag[i] = d+s, math.Abs(d)+math.Abs(s)
	}
	s.e.Polyak(dst.t, src.t, tau)
	near(t, "dst", dst.read(t), want, mag)
	src.unchanged(t, "src")
}
