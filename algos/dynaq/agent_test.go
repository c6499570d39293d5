package dynaq

import (
	"math"
	"testing"
)

// TestLearnByHand checks the direct Q-learning update and the planning
// updates on transitions whose targets are worked out by hand.
func TestLearnByHand(t *testing.T) {
	cfg := Defaults() // γ = 0.95, α = 0.1
	cfg.PlanningSteps = 0
	ag, err := NewAgent(cfg, 3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 1 --a0, r=1, terminal--> : Q(1,0) = 0.1·1 = 0.1.
	ag.Learn(1, 0, 1, 2, true)
	// 0 --a1, r=0.5--> 1: Q(0,1) = 0.1·(0.5 + 0.95·max(0.1, 0)) = 0.0595.
	ag.Learn(0, 1, 0.5, 1, false)
	// Again: 0.0595 + 0.1·(0.5 + 0.095 − 0.0595) = 0.11305.
	ag.Learn(0, 1, 0.5, 1, false)
	for _, c := range []struct {
		s, a int
		want float64
	}{{1, 0, 0.1}, {0, 1, 0.11305}, {0, 0, 0}, {1, 1, 0}, {2, 0, 0}} {
		if got := ag.Q(c.s, c.a); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("Q(%d, %d) = %.17g, want %.17g", c.s, c.a, got, c.want)
		}
	}

	// With n planning steps and a single pair in the model, every planning
	// update replays it: one terminal transition of reward 1 learned once
	// is n+1 updates towards 1, Q = 1 − (1−α)^(n+1).
	for _, n := range []int{1, 5, 50} {
		cfg.PlanningSteps = n
		ag, err := NewAgent(cfg, 2, 3, 7)
		if err != nil {
			t.Fatal(err)
		}
		ag.Learn(0, 2, 1, 1, true)
		want := 1 - math.Pow(0.9, float64(n+1))
		if got := ag.Q(0, 2); math.Abs(got-want) > 1e-12 {
			t.Errorf("n = %d: Q(0, 2) = %.15g, want 1 − 0.9^%d = %.15g", n, got, n+1, want)
		}
		next, r, term, ok := ag.ModelTransition(0, 2)
		if next != 1 || r != 1 || !term || !ok {
			t.Errorf("n = %d: model of (0, 2) is (%d, %g, %v, %v), want (1, 1, true, true)", n, next, r, term, ok)
		}
	}
}

// TestPlusBonusByHand checks Dyna-Q+'s planned update of a tried pair and
// of an untried one (the footnote's self-loop of reward 0) with the bonus
// κ√τ worked out by hand.
func TestPlusBonusByHand(t *testing.T) {
	cfg := Defaults()
	cfg.PlanningSteps, cfg.Plus, cfg.Kappa, cfg.Alpha = 0, true, 0.01, 1
	ag, err := NewAgent(cfg, 3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ag.Learn(0, 0, 0, 1, false) // step 1: Q(0,0) = 0
	ag.Learn(1, 0, 1, 2, true)  // step 2: Q(1,0) = 1
	ag.Learn(1, 0, 1, 2, true)  // step 3
	ag.Learn(1, 0, 1, 2, true)  // step 4
	row0, row1 := int(ag.modelIndex[0]), int(ag.modelIndex[1])

	// (0, 0), tried at step 1: τ = 3, target 0 + 0.01·√3 + 0.95·Q(1,0).
	ag.planUpdate(row0, 0)
	want := 0.01*math.Sqrt(3) + 0.95*1
	if got := ag.Q(0, 0); math.Abs(got-want) > 1e-15 {
		t.Errorf("planned Q(0, 0) = %.17g, want 0.01√3 + 0.95 = %.17g", got, want)
	}
	// (0, 1), never tried: modelled as staying in 0 with reward 0, τ = 4
	// (steps since the run began): target 0.01·√4 + 0.95·max Q(0, ·).
	ag.planUpdate(row0, 1)
	want1 := 0.01*2 + 0.95*want
	if got := ag.Q(0, 1); math.Abs(got-want1) > 1e-15 {
		t.Errorf("planned Q(0, 1) = %.17g, want 0.02 + 0.95·Q(0, 0) = %.17g", got, want1)
	}
	if next, r, term, ok := ag.ModelTransition(0, 1); next != 0 || r != 0 || term || ok {
		t.Errorf("model of untried (0, 1) is (%d, %g, %v, %v), want (0, 0, false, false)", next, r, term, ok)
	}
	// (1, 0), tried at step 4 = now: τ = 0, no bonus, terminal target 1.
	ag.planUpdate(row1, 0)
	if got := ag.Q(1, 0); got != 1 {
		t.Errorf("planned Q(1, 0) = %.17g, want 1", got)
	}
	// Plain Dyna-Q plans without the bonus.
	cfg.Plus = false
	plain, _ := NewAgent(cfg, 3, 2, 1)
	plain.Learn(0, 0, 0, 1, false)
	plain.Learn(1, 0, 1, 2, true)
	plain.Learn(1, 0, 1, 2, true)
	plain.planUpdate(int(plain.modelIndex[0]), 0)
	if got := plain.Q(0, 0); got != 0.95 {
		t.Errorf("Dyna-Q planned Q(0, 0) = %.17g, want 0.95", got)
	}
}

// TestPlanningSample checks the distribution of planned pairs: a state
// uniformly among those acted from, then an action uniformly among those
// tried there (Dyna-Q) or among all (Dyna-Q+). Tolerance: 5 standard
// errors of a frequency from 80,000 draws (≤ 0.009).
func TestPlanningSample(t *testing.T) {
	const draws = 80000
	for _, plus := range []bool{false, true} {
		cfg := Defaults()
		cfg.PlanningSteps, cfg.Plus = 0, plus
		ag, err := NewAgent(cfg, 4, 3, 11)
		if err != nil {
			t.Fatal(err)
		}
		// State 0: actions 0 and 2 tried; state 2: action 1 tried; states
		// 1 and 3 are never acted from.
		ag.Learn(0, 0, 0, 1, false)
		ag.Learn(0, 2, 0, 3, false)
		ag.Learn(2, 1, 0, 0, false)
		ag.Learn(0, 0, 0, 1, false)
		want := map[[2]int]float64{{0, 0}: 0.25, {0, 2}: 0.25, {2, 1}: 0.5}
		if plus {
			want = map[[2]int]float64{}
			for _, s := range []int{0, 2} {
				for a := range 3 {
					want[[2]int{s, a}] = 1.0 / 6
				}
			}
		}
		count := map[[2]int]int{}
		for range draws {
			row, a := ag.sample()
			count[[2]int{ag.modelState[row], a}]++
		}
		for pair, n := range count {
			if _, ok := want[pair]; !ok {
				t.Errorf("plus %v: drew (%d, %d) %d times, which is not in the model", plus, pair[0], pair[1], n)
			}
		}
		for pair, p := range want {
			got := float64(count[pair]) / draws
			if tol := 5 * math.Sqrt(p*(1-p)/draws); math.Abs(got-p) > tol {
				t.Errorf("plus %v: (%d, %d) drawn with frequency %.4f, want %.4f ± %.4f", plus, pair[0], pair[1], got, p, tol)
			}
		}
	}
}

// TestActDistribution checks ε-greedy with random tie-breaking: the greedy
// action with probability 1 − ε + ε/4, each other with ε/4; among tied
// maxima, each equally. Tolerance: 5 standard errors of 40,000 draws.
func TestActDistribution(t *testing.T) {
	const draws = 40000
	cfg := Defaults() // ε = 0.1
	cfg.PlanningSteps, cfg.Alpha = 0, 1
	ag, err := NewAgent(cfg, 2, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	ag.Learn(0, 2, 1, 1, true) // Q(0, 2) = 1, the others 0
	check := func(s int, want []float64) {
		t.Helper()
		count := make([]int, 4)
		for range draws {
			count[ag.Act(s)]++
		}
		for a, p := range want {
			got := float64(count[a]) / draws
			if tol := 5 * math.Sqrt(p*(1-p)/draws); math.Abs(got-p) > tol {
				t.Errorf("state %d: action %d taken with frequency %.4f, want %.4f ± %.4f", s, a, got, p, tol)
			}
		}
	}
	check(0, []float64{0.025, 0.025, 0.925, 0.025})
	check(1, []float64{0.25, 0.25, 0.25, 0.25}) // all Q(1, ·) = 0: a four-way tie
}

func TestNewAgentErrors(t *testing.T) {
	bad := Defaults()
	bad.Alpha = 0
	if _, err := NewAgent(bad, 3, 2, 0); err == nil {
		t.Error("alpha = 0 accepted")
	}
	if _, err := NewAgent(Defaults(), 0, 2, 0); err == nil {
		t.Error("0 states accepted")
	}
	if _, err := NewAgent(Defaults(), 3, 0, 0); err == nil {
		t.Error("0 actions accepted")
	}
}
