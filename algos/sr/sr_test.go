package sr

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/env"
	"gonum.org/v1/gonum/mat"
)

// TestLearnerUpdateByHand checks three expected-TD updates, M, r^π and V on
// numbers worked out by hand (γ = 0.9, α = 0.5; π(·|0) = (0.5, 0.5),
// π(·|1) = (0.25, 0.75)).
func TestLearnerUpdateByHand(t *testing.T) {
	policy := []float64{0.5, 0.5, 0.25, 0.75, 0.5, 0.5}
	l, err := NewLearner(3, 2, policy, 0.9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// (1, 0) terminates: H(1,0) = 0.5·e₁ = (0, 0.5, 0).
	l.Update(1, 0, 0, 2, true)
	// (1, 1) loops to 1: target e₁ + 0.9·(0.25·H(1,0) + 0.75·H(1,1)=0)
	// = (0, 1.1125, 0), H(1,1) = (0, 0.55625, 0).
	l.Update(1, 1, 0, 1, false)
	// (0, 1) → 1 with reward 2: target e₀ + 0.9·(0.25·0.5 + 0.75·0.55625)·e₁
	// = (1, 0.48796875, 0), H(0,1) = (0.5, 0.243984375, 0).
	l.Update(0, 1, 2, 1, false)
	for _, c := range []struct {
		s, a, j int
		want    float64
	}{{1, 0, 1, 0.5}, {1, 1, 1, 0.55625}, {0, 1, 0, 0.5}, {0, 1, 1, 0.243984375}, {0, 1, 2, 0}, {0, 0, 0, 0}} {
		if got := l.H(c.s, c.a, c.j); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("H(%d, %d, %d) = %.17g, want %.17g", c.s, c.a, c.j, got, c.want)
		}
	}
	// M(0, ·) = 0.5·H(0,0) + 0.5·H(0,1) = (0.25, 0.1219921875, 0); M(1, ·)
	// = 0.25·H(1,0) + 0.75·H(1,1) = (0, 0.5421875, 0).
	m := l.M()
	for _, c := range []struct {
		s, j int
		want float64
	}{{0, 0, 0.25}, {0, 1, 0.1219921875}, {1, 1, 0.5421875}, {1, 0, 0}, {2, 2, 0}} {
		if got := m.At(c.s, c.j); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("M(%d, %d) = %.17g, want %.17g", c.s, c.j, got, c.want)
		}
	}
	// r^π(0) = 0.5·R(0,1) = 1, the others 0; V(0) = M(0,0)·1 = 0.25.
	if r := l.Rewards(); r[0] != 1 || r[1] != 0 || r[2] != 0 {
		t.Errorf("r^π = %v, want [1 0 0]", r)
	}
	if v := l.Values(); math.Abs(v[0]-0.25) > 1e-15 || v[1] != 0 {
		t.Errorf("V = %v, want [0.25 0 0]", v)
	}
}

// mazeSetup returns the Dyna maze, its start state and the set of
// non-terminal states reachable from the start.
func mazeSetup() (*env.Maze, int, []int) {
	m := env.NewDynaMaze()
	m.Reset(0)
	start := m.StateID()
	seen := map[int]bool{start: true}
	queue, reach := []int{start}, []int{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for a := range 4 {
			next, _, term := m.Transition(s, a)
			if !term && !seen[next] {
				seen[next] = true
				queue = append(queue, next)
				reach = append(reach, next)
			}
		}
	}
	return m, start, reach
}

// randomPolicy draws a fixed stochastic policy: each row uniform draws
// normalised, so no action is impossible.
func randomPolicy(rng *rand.Rand, numStates, numActions int) []float64 {
	p := make([]float64, numStates*numActions)
	for s := range numStates {
		sum := 0.0
		for a := range numActions {
			p[s*numActions+a] = 0.05 + rng.Float64()
			sum += p[s*numActions+a]
		}
		for a := range numActions {
			p[s*numActions+a] /= sum
		}
	}
	return p
}

// TestExact checks Exact and Evaluate against independent computations on
// the Dyna maze under a random fixed policy: (I − γP)·M = I within 1e-12,
// M against the truncated series Σ_{t<1500} γ^t P^t (the tail is below
// γ^1500/(1−γ) ≈ 1e-32) within 1e-9, and iterative policy evaluation
// against M·r within 1e-9.
func TestExact(t *testing.T) {
	m, _, _ := mazeSetup()
	n := m.NumStates()
	policy := randomPolicy(rand.New(rand.NewPCG(5, 6)), n, 4)
	p, r, err := PolicyModel(n, 4, policy, m.Transition)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := Exact(p, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	var check mat.Dense
	a := mat.NewDense(n, n, nil)
	a.Scale(-0.95, p)
	for i := range n {
		a.Set(i, i, a.At(i, i)+1)
	}
	check.Mul(a, exact)
	for i := range n {
		for j := range n {
			want := 0.0
			if i == j {
				want = 1
			}
			if d := math.Abs(check.At(i, j) - want); d > 1e-12 {
				t.Fatalf("((I − γP)·M)[%d][%d] = %g, want %g", i, j, check.At(i, j), want)
			}
		}
	}
	series := mat.NewDense(n, n, nil)
	term := mat.NewDense(n, n, nil)
	for i := range n {
		term.Set(i, i, 1)
	}
	for range 1500 {
		series.Add(series, term)
		var next mat.Dense
		next.Mul(term, p)
		next.Scale(0.95, &next)
		term = &next
	}
	if d := maxDiff(series, exact, nil); d > 1e-9 {
		t.Errorf("Exact differs from the series by %g", d)
	}
	v, err := Evaluate(p, r, 0.95, 1e-13, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var mr mat.VecDense
	mr.MulVec(exact, mat.NewVecDense(n, r))
	for s := range n {
		if d := math.Abs(v[s] - mr.AtVec(s)); d > 1e-9 {
			t.Errorf("V(%d) = %.12f by policy evaluation, %.12f as M·r", s, v[s], mr.AtVec(s))
		}
	}
}

// maxDiff returns the largest |a(i, j) − b(i, j)| over rows in rows (all
// when nil) and every column.
func maxDiff(a, b mat.Matrix, rows []int) float64 {
	n, c := a.Dims()
	if rows == nil {
		for i := range n {
			rows = append(rows, i)
		}
	}
	d := 0.0
	for _, i := range rows {
		for j := range c {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

// TestLearnerConverges is item 7's result: on the Dyna maze (γ = 0.95),
// TD learning of the SR of a fixed policy from the transitions of a
// uniform random walk reaches (I − γP^π)^{-1} within 1e-3 on every
// reachable state, and V = M·r^π agrees with iterative policy evaluation
// within 1e-3, for the uniform policy and for a random stochastic one
// (off-policy in the action: the walk's actions are uniform either way).
// 150,000 steps: the uniform policy's error falls below 1e-3 near 60,000
// and below 1e-10 near 200,000.
func TestLearnerConverges(t *testing.T) {
	m, start, reach := mazeSetup()
	n := m.NumStates()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name   string
		policy []float64
	}{{"uniform", Uniform(n, 4)}, {"random", randomPolicy(rng, n, 4)}} {
		l, err := NewLearner(n, 4, tc.policy, 0.95, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		m.Reset(0)
		s := start
		for range 150_000 {
			a := rng.IntN(4)
			_, r, term, _ := m.Step([]float64{float64(a)})
			next := m.StateID()
			l.Update(s, a, r, next, term)
			s = next
			if term {
				m.Reset(0)
				s = m.StateID()
			}
		}
		p, r, err := PolicyModel(n, 4, tc.policy, m.Transition)
		if err != nil {
			t.Fatal(err)
		}
		exact, err := Exact(p, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(l.M(), exact, reach); d > 1e-3 {
			t.Errorf("%s policy: learned SR differs from (I − γP^π)^{-1} by %g, want ≤ 1e-3", tc.name, d)
		} else {
			t.Logf("%s policy: max |M − (I − γP^π)^{-1}| = %.2g over %d states", tc.name, d, len(reach))
		}
		want, err := Evaluate(p, r, 0.95, 1e-12, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		got := l.Values()
		for _, s := range reach {
			if d := math.Abs(got[s] - want[s]); d > 1e-3 {
				t.Errorf("%s policy: V(%d) = %.6f as M·r, %.6f by policy evaluation", tc.name, s, got[s], want[s])
			}
		}
	}
}

// TestStateSRByHand checks Dayan's rule: one update by hand, then on a
// deterministic chain 0 → 1 → 2 → end, where the target is exact and M
// must reach M(i, j) = γ^(j−i) for j ≥ i, 0 otherwise.
func TestStateSRByHand(t *testing.T) {
	sr, err := NewStateSR(3, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	sr.Update(2, 0, true, 0.5)  // M(2,·) = 0.5·e₂
	sr.Update(1, 2, false, 0.5) // M(1,·) = 0.5·(e₁ + 0.9·M(2,·)) = (0, 0.5, 0.225)
	if got := [3]float64{sr.At(1, 0), sr.At(1, 1), sr.At(1, 2)}; got != [3]float64{0, 0.5, 0.225} {
		t.Errorf("M(1, ·) = %v, want [0 0.5 0.225]", got)
	}
	for range 200 {
		sr.Update(0, 1, false, 0.5)
		sr.Update(1, 2, false, 0.5)
		sr.Update(2, 0, true, 0.5)
	}
	for i := range 3 {
		for j := range 3 {
			want := 0.0
			if j >= i {
				want = math.Pow(0.9, float64(j-i))
			}
			if d := math.Abs(sr.At(i, j) - want); d > 1e-9 {
				t.Errorf("chain M(%d, %d) = %.12f, want 0.9^%d = %.12f", i, j, sr.At(i, j), j-i, want)
			}
		}
	}
}

// TestStateSRRandomWalk checks Dayan's rule under the uniform random
// policy on the Dyna maze, where its target is as random as the next state:
// with a constant step of 0.003 it hovers around the exact SR, measured
// within 0.12 to 0.14 (largest element error; diagonal elements are above
// 1) after 1 to 2 million steps. The bound 0.3 fails for a wrong rule (a
// missing γ or self-visit is off by more than 1).
func TestStateSRRandomWalk(t *testing.T) {
	m, start, reach := mazeSetup()
	n := m.NumStates()
	sr, err := NewStateSR(n, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	s := start
	for range 1_000_000 {
		_, _, term, _ := m.Step([]float64{float64(rng.IntN(4))})
		next := m.StateID()
		sr.Update(s, next, term, 0.003)
		s = next
		if term {
			m.Reset(0)
			s = m.StateID()
		}
	}
	p, _, err := PolicyModel(n, 4, Uniform(n, 4), m.Transition)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := Exact(p, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	d := 0.0
	for _, i := range reach {
		for j := range n {
			d = math.Max(d, math.Abs(sr.At(i, j)-exact.At(i, j)))
		}
	}
	t.Logf("Dayan's rule, α = 0.003, 10⁶ steps: max error %.3f", d)
	if d > 0.3 {
		t.Errorf("max error %.3f, want ≤ 0.3", d)
	}
}

func TestBadInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"gamma", second(NewLearner(2, 2, Uniform(2, 2), 1, 0.5)), "gamma = 1"},
		{"alpha", second(NewLearner(2, 2, Uniform(2, 2), 0.9, 0)), "alpha = 0"},
		{"sum", second(NewLearner(2, 2, []float64{0.5, 0.6, 0.5, 0.5}, 0.9, 0.5)), "sums to 1.1"},
		{"negative", second(NewLearner(1, 2, []float64{-0.5, 1.5}, 0.9, 0.5)), "must be in [0, 1]"},
		{"length", second(NewLearner(2, 2, Uniform(2, 1), 0.9, 0.5)), "want 2 states × 2 actions"},
		{"too many", second(NewLearner(MaxStates+1, 1, Uniform(MaxStates+1, 1), 0.9, 0.5)), "at most 4096"},
		{"state sr", second(NewStateSR(0, 0.9)), "need 1 to 4096"},
		{"square", second(Exact(mat.NewDense(2, 3, nil), 0.9)), "must be square"},
		{"singular", second(Exact(mat.NewDense(1, 1, []float64{1}), 1)), "singular"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, tc.want)
		}
	}
	// A loop that never converges in 3 sweeps.
	if _, err := Evaluate(mat.NewDense(1, 1, []float64{1}), []float64{1}, 0.99, 1e-12, 3); err == nil {
		t.Error("Evaluate: no error after too few sweeps")
	}
}

func second[T any](_ T, err error) error { return err }

// TestTrain runs Train on the Dyna maze: after 120,000 steps the SR error
// it reports is below 1e-3 and v_start agrees with policy evaluation; two
// runs of a seed agree; FourRooms (692,224 states) is refused.
func TestTrain(t *testing.T) {
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 120_000, Seed: 1, EvalEvery: 40_000, EvalEpisodes: 3}
	a, b := &algos.Rows{}, &algos.Rows{}
	for _, r := range []*algos.Rows{a, b} {
		if err := Train(context.Background(), nil, run, Defaults(), r); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.Rows) != 3 || a.Progressed != run.Steps {
		t.Fatalf("%d rows, %d Progress calls; want 3 and %d", len(a.Rows), a.Progressed, run.Steps)
	}
	last := a.Rows[2]
	if e := last.Get("sr_error"); !(e < 1e-3) {
		t.Errorf("sr_error %g after %d steps, want < 1e-3", e, run.Steps)
	}
	if v, w := last.Get("v_start"), last.Get("v_start_exact"); !(math.Abs(v-w) < 1e-3) {
		t.Errorf("v_start %g, exact %g", v, w)
	}
	if n := last.Get("states_visited"); n != 46 {
		t.Errorf("%g states visited, want the 46 non-terminal free cells", n)
	}
	for i := range a.Rows {
		for j, name := range Columns {
			if name != "wall_seconds" && a.Rows[i].Values[j] != b.Rows[i].Values[j] {
				t.Errorf("row %d %s: %g and %g in two runs of one seed", i, name, a.Rows[i].Values[j], b.Rows[i].Values[j])
			}
		}
	}

	err := Train(context.Background(), nil, algos.RunConfig{Env: "FourRooms-v0", Steps: 10, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), algos.Discard{})
	if err == nil || !strings.Contains(err.Error(), "at most 4096") {
		t.Errorf("FourRooms: error %v, want the state limit", err)
	}
	err = Train(context.Background(), nil, algos.RunConfig{Env: "Pendulum-v1", Steps: 10, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), algos.Discard{})
	if err == nil || !strings.Contains(err.Error(), "env.Tabular") {
		t.Errorf("Pendulum-v1: error %v, want not tabular", err)
	}
	bad := Defaults()
	bad.Gamma = 1
	if err := Train(context.Background(), nil, run, bad, algos.Discard{}); err == nil || !strings.Contains(err.Error(), "gamma = 1") {
		t.Errorf("gamma = 1: error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Train(ctx, nil, run, Defaults(), algos.Discard{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := Preset("DynaMaze-v0").Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Gamma = -1 }, "gamma = -1"},
		{func(c *Config) { c.Alpha = 2 }, "alpha = 2"},
		{func(c *Config) { c.EvalMaxSteps = 0 }, "eval_max_steps = 0"},
	} {
		c := Defaults()
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}
