package mpc

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// newEnsemble returns an initialised ensemble of e members for obs
// observations and act actions, two hidden layers of 8.
func newEnsemble(t *testing.T, eng engine.Engine, e, obs, act int, rng *engine.RNG) *nn.Ensemble {
	t.Helper()
	m, err := nn.NewEnsemble(eng, nn.EnsembleConfig{
		In: obs + act, Out: obs + 1, Members: e, Hidden: []int{8, 8}, WeightDecay: []float32{0, 0, 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Init(rng)
	return m
}

// constantMembers makes member m of the ensemble predict Δobs = m+1 in
// every element, whatever the input, with a log-variance at its lower
// bound: zero weights everywhere and the output bias alone set.
func constantMembers(t *testing.T, eng engine.Engine, m *nn.Ensemble) {
	t.Helper()
	e, d := m.Config.Members, m.Config.Out
	for _, q := range m.Params.All() {
		if q.Name == "max_logvar" || q.Name == "min_logvar" {
			continue
		}
		m.Params.Set(q.Name, make([]float32, q.Len()))
	}
	last := m.MLP.Layers[len(m.MLP.Layers)-1]
	bias := make([]float32, e*2*d)
	for k := range e {
		for j := range d {
			bias[k*2*d+j] = float32(k + 1) // the mean of Δobs (and reward)
			bias[k*2*d+d+j] = -100         // raw log-variance: lv ≈ min_logvar = −10
		}
	}
	eng.Upload(last.Bias, bias)
}

// nullModel is an env.Model of zero reward that never terminates.
type nullModel struct{}

func (nullModel) Termination() env.Termination                      { return env.Termination{} }
func (nullModel) TerminatedBatch(next []float64, n int, out []bool) { clear(out[:n]) }
func (nullModel) RewardBatch(obs, act, next []float64, n int, out []float64) {
	clear(out[:n])
}

// TestTSInfAssignment checks TS∞: each particle keeps one member for the
// whole horizon, the members are spread evenly over each candidate's
// particles, only the members set are used, and the assignment is redrawn
// for every scored population.
func TestTSInfAssignment(t *testing.T) {
	eng := cpu.New()
	rng := engine.NewRNG(3)
	const e, obs, act, h, pop, particles = 5, 2, 1, 6, 7, 12
	model := newEnsemble(t, eng, e, obs, act, rng)
	constantMembers(t, eng, model)
	prop := NewTSInf(eng, model, obs, pop*particles, rng, 11)
	defer prop.Free()
	members := []int{4, 1, 2}
	prop.SetMembers(members)
	p, err := NewPlanner(eng, prop, nullModel{}, obs, PlannerConfig{
		Horizon: h, Population: pop, Elites: 2, Iterations: 2, Particles: particles, Alpha: 0.1,
		ActLow: []float64{-1}, ActHigh: []float64{1}, Seed: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Free()

	var previous []int32
	changed := false
	for iter := range 3 {
		values := make([]float64, pop)
		pl := make([]float64, pop*h*act)
		p.score(pl, values)
		assign := prop.Assignment()
		n := pop * particles
		if len(assign) != n {
			t.Fatalf("assignment of %d rows, want %d", len(assign), n)
		}
		for r := range n {
			m := int(assign[r])
			if m != 4 && m != 1 && m != 2 {
				t.Fatalf("row %d got member %d, not one of %v", r, m, members)
			}
			// Every step's Δobs identifies the member that made it: m+1,
			// up to noise of σ ≈ e^(−5) ≈ 0.007 (tolerance 0.1).
			for s := range h {
				for j := range obs {
					delta := float64(p.statesHost[((s+1)*n+r)*obs+j] - p.statesHost[(s*n+r)*obs+j])
					if math.Abs(delta-float64(m+1)) > 0.1 {
						t.Fatalf("iteration %d row %d step %d: Δobs %.4f, want %d from member %d fixed for the horizon", iter, r, s, delta, m+1, m)
					}
				}
			}
		}
		// Spread: 12 particles over 3 members, 4 each, in every candidate.
		for c := range pop {
			count := map[int32]int{}
			for _, m := range assign[c*particles : (c+1)*particles] {
				count[m]++
			}
			for _, m := range members {
				if count[int32(m)] != particles/len(members) {
					t.Fatalf("iteration %d candidate %d: member counts %v, want %d each", iter, c, count, particles/len(members))
				}
			}
		}
		if previous != nil {
			for r := range assign {
				if assign[r] != previous[r] {
					changed = true
				}
			}
		}
		previous = append(previous[:0], assign...)
	}
	if !changed {
		t.Error("the assignment was the same for three populations; want it redrawn at every Begin")
	}
}

// TestTSInfStepMatchesPredict checks one TS∞ step against nn.Ensemble's
// Predict on fresh random inputs, with fitted (non-identity)
// standardisers: next = obs + μ_m + exp(lv_m/2)·ε for row's member m, ε
// the engine stream's normals as engine.NormalAt gives them, computed in
// float64 from Predict's float32 outputs.
func TestTSInfStepMatchesPredict(t *testing.T) {
	eng := cpu.New()
	rng := engine.NewRNG(9)
	const e, obs, act, rows = 4, 3, 2, 4 * 9
	model := newEnsemble(t, eng, e, obs, act, rng)
	r := rand.New(rand.NewPCG(4, 5))
	randT := func(scale float64, shape ...int) (*engine.Tensor, []float32) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(scale * r.NormFloat64())
		}
		x := eng.New(engine.Float32, shape...)
		eng.Upload(x, v)
		return x, v
	}
	fx, _ := randT(2, 50, obs+act)
	fy, _ := randT(3, 50, obs+1)
	model.Fit(fx, fy)

	prop := NewTSInf(eng, model, obs, rows, rng, 21)
	defer prop.Free()
	prop.Begin(rows/9, 9)
	assign := append([]int32(nil), prop.Assignment()...)
	o, ov := randT(1, rows, obs)
	a, av := randT(1, rows, act)
	next := eng.New(engine.Float32, rows, obs)
	noise := *rng // the stream where Step's RandNormal starts
	prop.Step(next, o, a)
	got := make([]float32, rows*obs)
	eng.Download(got, next)

	x := eng.New(engine.Float32, rows, obs+act)
	xv := make([]float32, 0, rows*(obs+act))
	for i := range rows {
		xv = append(xv, ov[i*obs:(i+1)*obs]...)
		xv = append(xv, av[i*act:(i+1)*act]...)
	}
	eng.Upload(x, xv)
	mean, lv := model.Predict(x)
	d := obs + 1
	mv, lvv := make([]float32, e*rows*d), make([]float32, e*rows*d)
	eng.Download(mv, mean)
	eng.Download(lvv, lv)
	start := noise.Counter
	// float32 through a small MLP and exp: 1e-4 relative to the scale of
	// the targets (σ_y = 3) is well above the rounding, far below the noise.
	const tol = 1e-4
	for i := range rows {
		m := int(assign[i])
		for j := range obs {
			k := (m*rows+i)*d + j
			eps := float64(engine.NormalAt(noise.Seed, start, i*d+j, 0, 1))
			want := float64(ov[i*obs+j]) + float64(mv[k]) + math.Exp(float64(lvv[k])/2)*eps
			if diff := math.Abs(float64(got[i*obs+j]) - want); diff > tol*(1+math.Abs(want)) {
				t.Errorf("row %d (member %d) element %d: %.6f, want %.6f", i, m, j, got[i*obs+j], want)
			}
		}
	}
	if rng.Counter != start+uint64(engine.Counters(rows*d)) {
		t.Errorf("the step drew %d counters, want %d (one RandNormal of rows·(Obs+1))", rng.Counter-start, engine.Counters(rows*d))
	}
}

// linear is the true dynamics of a discrete double integrator as a
// Propagator: next = A·obs + B·act, on the device (two Gemms).
type linear struct {
	eng    engine.Engine
	at, bt *engine.Tensor // Aᵀ [2, 2], Bᵀ [1, 2]
}

func (l *linear) Begin(int, int) {}
func (l *linear) Step(next, obs, act *engine.Tensor) {
	l.eng.Gemm(false, false, 1, obs, l.at, 0, next)
	l.eng.Gemm(false, false, 1, act, l.bt, 1, next)
}

// quadratic is the reward −(x'ᵀQx' + R·u²) of the double integrator's
// transition into x', never terminating.
type quadratic struct {
	q  [2]float64
	rr float64
}

func (quadratic) Termination() env.Termination                      { return env.Termination{} }
func (quadratic) TerminatedBatch(next []float64, n int, out []bool) { clear(out[:n]) }
func (c quadratic) RewardBatch(obs, act, next []float64, n int, out []float64) {
	for i := range n {
		p, v := next[2*i], next[2*i+1]
		out[i] = -(c.q[0]*p*p + c.q[1]*v*v + c.rr*act[i]*act[i])
	}
}

// TestPlannerTrueDynamics plans with the true dynamics of a double
// integrator and a quadratic reward, and checks the first action against
// the finite-horizon LQR optimum computed by the Riccati recursion in
// float64.
func TestPlannerTrueDynamics(t *testing.T) {
	eng := cpu.New()
	const dt, h = 0.1, 10
	A := [2][2]float64{{1, dt}, {0, 1}}
	B := [2]float64{0, dt}
	cost := quadratic{q: [2]float64{1, 0.1}, rr: 0.01}
	at := eng.New(engine.Float32, 2, 2)
	eng.Upload(at, []float32{1, 0, dt, 1}) // Aᵀ
	bt := eng.New(engine.Float32, 1, 2)
	eng.Upload(bt, []float32{0, dt})
	prop := &linear{eng: eng, at: at, bt: bt}
	p, err := NewPlanner(eng, prop, cost, 2, PlannerConfig{
		Horizon: h, Population: 400, Elites: 40, Iterations: 10, Particles: 1, Alpha: 0.1,
		ActLow: []float64{-10}, ActHigh: []float64{10}, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Free()

	r := rand.New(rand.NewPCG(6, 7))
	for trial := range 3 {
		x0 := []float64{0.8*r.Float64() - 0.4, 0.8*r.Float64() - 0.4}
		want := lqrFirstAction(A, B, cost, h, x0)
		if math.Abs(want) > 8 {
			t.Fatalf("LQR action %g near the box; pick another start", want)
		}
		p.Reset()
		got := p.Plan(x0)[0]
		// CEM over 10 dimensions with 40 elites of 400 in 10 iterations
		// lands within about 0.02 of the optimum here; 0.1 is 0.5% of the
		// box and a tenth of the smallest optimum's distance from 0.
		t.Logf("trial %d: got %.4f want %.4f", trial, got, want)
		if math.Abs(got-want) > 0.1 {
			t.Errorf("trial %d from %v: first action %.4f, LQR optimum %.4f", trial, x0, got, want)
		}
	}
}

// lqrFirstAction returns the first action of the sequence of h actions
// that maximises Σ_t −(x_{t+1}ᵀQx_{t+1} + R·u_t²) from x0, by the Riccati
// recursion: with P_h = 0 and S = Q + P_{t+1}, u_t = −(BᵀSB + R)⁻¹BᵀSA·x_t
// and P_t = AᵀSA − AᵀSB(BᵀSB + R)⁻¹BᵀSA.
func lqrFirstAction(A [2][2]float64, B [2]float64, c quadratic, h int, x0 []float64) float64 {
	var P [2][2]float64
	var K [2]float64
	for range h {
		var S [2][2]float64
		S[0][0], S[1][1] = c.q[0]+P[0][0], c.q[1]+P[1][1]
		S[0][1], S[1][0] = P[0][1], P[1][0]
		var SA [2][2]float64 // S·A
		for i := range 2 {
			for j := range 2 {
				SA[i][j] = S[i][0]*A[0][j] + S[i][1]*A[1][j]
			}
		}
		SB := [2]float64{S[0][0]*B[0] + S[0][1]*B[1], S[1][0]*B[0] + S[1][1]*B[1]}
		g := B[0]*SB[0] + B[1]*SB[1] + c.rr
		bsa := [2]float64{B[0]*SA[0][0] + B[1]*SA[1][0], B[0]*SA[0][1] + B[1]*SA[1][1]}
		K = [2]float64{-bsa[0] / g, -bsa[1] / g}
		var next [2][2]float64
		for i := range 2 {
			for j := range 2 {
				asa := A[0][i]*SA[0][j] + A[1][i]*SA[1][j]
				asb := A[0][i]*SB[0] + A[1][i]*SB[1]
				next[i][j] = asa - asb*bsa[j]/g
			}
		}
		P = next
	}
	return K[0]*x0[0] + K[1]*x0[1]
}
