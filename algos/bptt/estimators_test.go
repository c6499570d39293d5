package bptt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/nn"
)

// linearGaussian is s' = A s + B a + σ_w ε with reward
// r = −(sᵀ diag(q) s + ρ‖a‖²): a linear-Gaussian system with a quadratic
// reward, for which the expected return of a linear-Gaussian policy has a
// closed form (expectedReturn).
type linearGaussian struct {
	A      [][]float64 // [obs][obs]
	B      [][]float64 // [obs][act]
	sigmaW float64
	q      []float64
	rho    float64
}

func (m *linearGaussian) ObsDim() int { return len(m.A) }
func (m *linearGaussian) ActDim() int { return len(m.B[0]) }

func (m *linearGaussian) Step(s, a, eps []float64, grad bool) ([]float64, float64, func([]float64, float64) ([]float64, []float64)) {
	n, k := m.ObsDim(), m.ActDim()
	next := make([]float64, n)
	r := 0.0
	for i := range n {
		next[i] = m.sigmaW * eps[i]
		for j := range n {
			next[i] += m.A[i][j] * s[j]
		}
		for j := range k {
			next[i] += m.B[i][j] * a[j]
		}
		r -= m.q[i] * s[i] * s[i]
	}
	for j := range k {
		r -= m.rho * a[j] * a[j]
	}
	back := func(dNext []float64, dr float64) ([]float64, []float64) {
		ds, da := make([]float64, n), make([]float64, k)
		for i := range n {
			ds[i] = -2 * m.q[i] * s[i] * dr
			for j := range n {
				ds[i] += m.A[j][i] * dNext[j]
			}
		}
		for j := range k {
			da[j] = -2 * m.rho * a[j] * dr
			for i := range n {
				da[j] += m.B[i][j] * dNext[i]
			}
		}
		return ds, da
	}
	return next, r, back
}

// expectedReturn is the exact E[Σ_{t<H} γᵗ r_t] from s0 of the linear
// policy a = K s + c + σ ξ of p (no hidden layer, no squashing), by
// propagating the state's mean m and covariance P:
//
//	m' = A m + B(K m + c),  P' = (A + BK) P (A + BK)ᵀ + B diag(σ²) Bᵀ + σ_w² I,
//	E r = −[Σ q_i (P_ii + m_i²) + ρ (tr(K P Kᵀ) + ‖K m + c‖² + Σ σ²)].
func expectedReturn(m *linearGaussian, p *GaussianPolicy, s0 []float64, h int, gamma float64) float64 {
	n, k := m.ObsDim(), m.ActDim()
	w, c := p.Mean.w[0], p.Mean.b[0] // w[i*k+j] = K[j][i]
	K := func(j, i int) float64 { return w[i*k+j] }
	mean := append([]float64(nil), s0...)
	P := make([][]float64, n)
	for i := range P {
		P[i] = make([]float64, n)
	}
	ret, disc := 0.0, 1.0
	for range h {
		// The action's mean and the closed-loop matrix F = A + BK.
		am := make([]float64, k)
		for j := range k {
			am[j] = c[j]
			for i := range n {
				am[j] += K(j, i) * mean[i]
			}
		}
		r := 0.0
		for i := range n {
			r -= m.q[i] * (P[i][i] + mean[i]*mean[i])
		}
		for j := range k {
			kpk := 0.0
			for a := range n {
				for b := range n {
					kpk += K(j, a) * P[a][b] * K(j, b)
				}
			}
			sd := math.Exp(p.LogStd[j])
			r -= m.rho * (kpk + am[j]*am[j] + sd*sd)
		}
		ret += disc * r
		disc *= gamma
		F := make([][]float64, n)
		nm := make([]float64, n)
		for i := range n {
			F[i] = make([]float64, n)
			for j := range n {
				F[i][j] = m.A[i][j]
				for l := range k {
					F[i][j] += m.B[i][l] * K(l, j)
				}
			}
			for j := range n {
				nm[i] += m.A[i][j] * mean[j]
			}
			for l := range k {
				nm[i] += m.B[i][l] * am[l]
			}
		}
		nP := make([][]float64, n)
		for i := range n {
			nP[i] = make([]float64, n)
			for j := range n {
				v := 0.0
				for a := range n {
					for b := range n {
						v += F[i][a] * P[a][b] * F[j][b]
					}
				}
				for l := range k {
					sd := math.Exp(p.LogStd[l])
					v += m.B[i][l] * sd * sd * m.B[j][l]
				}
				if i == j {
					v += m.sigmaW * m.sigmaW
				}
				nP[i][j] = v
			}
		}
		mean, P = nm, nP
	}
	return ret
}

// exactGradient differentiates expectedReturn by central differences in
// float64: J is a smooth closed form, so a step of 1e-5 leaves an error of
// order 1e-10·J”' — far below the tolerances of the tests that use it.
func exactGradient(m *linearGaussian, p *GaussianPolicy, s0 []float64, h int, gamma float64) []float64 {
	g := make([]float64, len(p.Params))
	const d = 1e-5
	for i := range p.Params {
		v := p.Params[i]
		p.Params[i] = v + d
		plus := expectedReturn(m, p, s0, h, gamma)
		p.Params[i] = v - d
		minus := expectedReturn(m, p, s0, h, gamma)
		p.Params[i] = v
		g[i] = (plus - minus) / (2 * d)
	}
	return g
}

func testSystem(t *testing.T) (*linearGaussian, *GaussianPolicy, []float64) {
	t.Helper()
	m := &linearGaussian{
		A:      [][]float64{{1, 0.1}, {-0.1, 0.98}},
		B:      [][]float64{{0}, {0.1}},
		sigmaW: 0.1,
		q:      []float64{1, 0.1},
		rho:    0.01,
	}
	p, err := NewGaussianPolicy(2, 1, nil, math.Log(0.5), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Params, []float64{-0.2, 0, 1}) // K = [−0.2 0], c = 1: far from the optimum
	return m, p, []float64{1, -0.5}
}

// TestEstimatorsMatchExactGradient checks that the mean of many
// independent estimates of each estimator converges to the closed-form
// gradient on the linear-Gaussian system: every coordinate within 5
// standard errors of the mean (a false alarm has probability about 6e-7 per
// coordinate), with sample sizes large enough that the standard errors'
// norm is below 5% of the exact gradient's norm, so that a biased estimator
// fails (here the pathwise estimator's is about 1% of it, the
// likelihood-ratio's about 4%).
func TestEstimatorsMatchExactGradient(t *testing.T) {
	m, p, s0 := testSystem(t)
	const h, gamma = 10, 0.95
	exact := exactGradient(m, p, s0, h, gamma)
	t.Logf("exact gradient %.5f (J = %.5f)", exact, expectedReturn(m, p, s0, h, gamma))
	for _, tc := range []struct {
		name      string
		estimate  func(Problem, *rand.Rand) ([]float64, float64, error)
		estimates int
	}{{"pathwise", Pathwise, 200}, {"likelihood-ratio", LikelihoodRatio, 6000}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			starts := make([][]float64, 16)
			for i := range starts {
				starts[i] = s0
			}
			prob := Problem{Policy: p, Models: func(int) Model { return m }, Starts: starts, Horizon: h, Gamma: gamma}
			n := len(p.Params)
			sum, sq := make([]float64, n), make([]float64, n)
			meanJ := 0.0
			for range tc.estimates {
				g, j, err := tc.estimate(prob, rng)
				if err != nil {
					t.Fatal(err)
				}
				meanJ += j / float64(tc.estimates)
				for i, v := range g {
					sum[i] += v
					sq[i] += v * v
				}
			}
			k := float64(tc.estimates)
			diff, ses := make([]float64, n), make([]float64, n)
			for i := range n {
				mean := sum[i] / k
				se := math.Sqrt((sq[i]/k - mean*mean) / (k - 1))
				diff[i], ses[i] = mean-exact[i], se
				if math.Abs(diff[i]) > 5*se {
					t.Errorf("coordinate %d: mean estimate %.5f, exact %.5f: %.2g standard errors (se %.2g)", i, mean, exact[i], math.Abs(diff[i])/se, se)
				}
			}
			t.Logf("relative error of the mean estimate %.4f, standard errors' norm %.4f of the gradient's", Norm(diff)/Norm(exact), Norm(ses)/Norm(exact))
			if rel := Norm(ses) / Norm(exact); rel > 0.05 {
				t.Errorf("standard errors' norm %.3f of the gradient's: too few estimates for the test to tell", rel)
			}
			if want := expectedReturn(m, p, s0, h, gamma); math.Abs(meanJ-want) > 0.02*math.Abs(want) {
				t.Errorf("mean return %.5f, exact %.5f", meanJ, want)
			}
		})
	}
}

// tinyEnsemble returns a randomly initialised ensemble of 3 members,
// [3 obs, 1 action] → [3 Δobs, reward], with standardisers fitted to random
// data so that every part of Member.Step is exercised.
func tinyEnsemble(t *testing.T, eng engine.Engine) *nn.Ensemble {
	t.Helper()
	m, err := nn.NewEnsemble(eng, nn.EnsembleConfig{In: 4, Out: 4, Members: 3, Hidden: []int{8, 8}, WeightDecay: []float32{0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	rng := engine.NewRNG(7)
	m.Init(rng)
	x := eng.New(engine.Float32, 64, 4)
	y := eng.New(engine.Float32, 64, 4)
	eng.RandNormal(x, rng, 0.5, 2)
	eng.RandNormal(y, rng, -0.3, 0.4)
	m.Fit(x, y)
	// Bring the log-variance bounds where the soft bounds bend.
	eng.Fill(m.MaxLogVar, -1)
	eng.Fill(m.MinLogVar, -3)
	return m
}

// TestMemberMatchesEnsemble checks the host copy of each member against
// the ensemble's own float32 Predict on fresh random inputs: the next
// state's mean s + μ_Δ (ε = 0), its noise scale exp(lv/2) (from ε = 1
// minus ε = 0) and the reward, within 1e-4 relative to the value's size
// (float32 rounding of a few hundred products).
func TestMemberMatchesEnsemble(t *testing.T) {
	eng := cpu.New()
	ens := tinyEnsemble(t, eng)
	members, err := MembersFrom(eng, ens, 3, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const b = 5
	xs := make([]float32, b*4)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	x := eng.New(engine.Float32, b, 4)
	eng.Upload(x, xs)
	mean, lv := ens.Predict(x)
	hm, hl := make([]float32, mean.Len()), make([]float32, lv.Len())
	eng.Download(hm, mean)
	eng.Download(hl, lv)
	close := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-4*max(1, math.Abs(want)) {
			t.Errorf("%s: host %.7g, ensemble %.7g", what, got, want)
		}
	}
	for e, mem := range members {
		for i := range b {
			s := []float64{float64(xs[i*4]), float64(xs[i*4+1]), float64(xs[i*4+2])}
			a := []float64{float64(xs[i*4+3])}
			next0, r, _ := mem.Step(s, a, []float64{0, 0, 0}, false)
			next1, _, _ := mem.Step(s, a, []float64{1, 1, 1}, false)
			row := (e*b + i) * 4
			for j := range 3 {
				close("mean", next0[j], s[j]+float64(hm[row+j]))
				close("scale", next1[j]-next0[j], math.Exp(float64(hl[row+j])/2))
			}
			close("reward", r, float64(hm[row+3]))
		}
	}
}

// TestPathwiseFiniteDifference checks the pathwise gradient through a tiny
// learned model (three members, one per rollout) against central
// differences of the same rollouts' return, every noise fixed by reseeding,
// in float64: within 1e-5 relative to the gradient's norm, far above the
// finite difference's error (about 1e-9 for a step of 1e-5) and far below
// that of any missing or wrong Jacobian term.
func TestPathwiseFiniteDifference(t *testing.T) {
	eng := cpu.New()
	members, err := MembersFrom(eng, tinyEnsemble(t, eng), 3, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := NewGaussianPolicy(3, 1, []int{6}, -0.7, []float64{-2}, []float64{2})
	if err != nil {
		t.Fatal(err)
	}
	pol.Mean.Init(rand.New(rand.NewPCG(5, 6)), 1)
	prob := Problem{
		Policy:  pol,
		Models:  func(i int) Model { return members[i%3] },
		Starts:  [][]float64{{0.3, -0.2, 1}, {-1, 0.5, 0}, {0.2, 0.9, -0.4}},
		Horizon: 6,
		Gamma:   0.9,
	}
	ret := func() float64 {
		_, j, err := Pathwise(prob, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	grad, _, err := Pathwise(prob, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	fd := make([]float64, len(grad))
	const d = 1e-5
	for i := range pol.Params {
		v := pol.Params[i]
		pol.Params[i] = v + d
		plus := ret()
		pol.Params[i] = v - d
		minus := ret()
		pol.Params[i] = v
		fd[i] = (plus - minus) / (2 * d)
	}
	diff := make([]float64, len(grad))
	for i := range diff {
		diff[i] = grad[i] - fd[i]
	}
	if Norm(grad) == 0 {
		t.Fatal("zero gradient: the check would be vacuous")
	}
	if rel := Norm(diff) / Norm(grad); rel > 1e-5 {
		t.Errorf("pathwise gradient differs from finite differences by %.3g relative (norm %.4g)", rel, Norm(grad))
	}
}

// TestProblemErrors checks that bad problems are errors, not panics.
func TestProblemErrors(t *testing.T) {
	m, p, s0 := testSystem(t)
	good := Problem{Policy: p, Models: func(int) Model { return m }, Starts: [][]float64{s0}, Horizon: 3, Gamma: 0.9}
	for name, mod := range map[string]func(*Problem){
		"no starts": func(q *Problem) { q.Starts = nil },
		"horizon 0": func(q *Problem) { q.Horizon = 0 },
		"gamma 1.5": func(q *Problem) { q.Gamma = 1.5 },
		"no policy": func(q *Problem) { q.Policy = nil },
		"gamma NaN": func(q *Problem) { q.Gamma = math.NaN() },
	} {
		q := good
		mod(&q)
		if _, _, err := Pathwise(q, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%s: Pathwise gave no error", name)
		}
		if _, _, err := LikelihoodRatio(q, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%s: LikelihoodRatio gave no error", name)
		}
	}
}
