package env

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// transitions collects (obs, act, next, reward, terminated) of episodes of
// e under random actions (a Box's actions range over 1.5 times its bounds,
// to reach the clips), restarting from Reset until n are collected, then
// appends one transition from each of extra, a state and action given by
// SetState (for terminal transitions that random play rarely reaches).
func transitions(t *testing.T, id string, n int, extra []struct{ state, act []float64 }) (obs, act, next, reward []float64, term []bool) {
	t.Helper()
	e := makeStateful(t, id)
	sp := e.ActionSpace()
	r := rand.New(rand.NewPCG(1, 2))
	var o []float64
	done := true
	for seed := int64(0); len(reward) < n; {
		if done {
			o = e.Reset(seed)
			seed++
		}
		var a []float64
		if sp.Discrete {
			a = []float64{float64(r.IntN(sp.N))}
		} else {
			a = []float64{1.5 * sp.High[0] * (2*r.Float64() - 1)}
		}
		no, rew, te, tr := e.Step(a)
		obs, act, next = append(obs, o...), append(act, a...), append(next, no...)
		reward, term = append(reward, rew), append(term, te)
		o, done = no, te || tr
	}
	for _, x := range extra {
		e.Reset(0)
		e.SetState(x.state)
		// The observation before the step is only used by Pendulum, which
		// has no extra transitions.
		o := make([]float64, e.ObservationSpace().Dim())
		no, rew, te, _ := e.Step(x.act)
		obs, act, next = append(obs, o...), append(act, x.act...), append(next, no...)
		reward, term = append(reward, rew), append(term, te)
	}
	return obs, act, next, reward, term
}

// TestModelMatchesStep checks each environment's RewardBatch and
// TerminatedBatch against the rewards and flags Step returned.
func TestModelMatchesStep(t *testing.T) {
	extra := map[string][]struct{ state, act []float64 }{
		"MountainCarContinuous-v0": {
			{[]float64{0.44, 0.03}, []float64{0.5}},   // goal
			{[]float64{0.59, 0.07}, []float64{1.5}},   // goal at the right clip
			{[]float64{0.52, -0.01}, []float64{-2.0}}, // past the flag, moving left
		},
		"CartPole-v1":           {{[]float64{2.39, 1, 0, 0}, []float64{0}}, {[]float64{0, 0, -0.2, -0.5}, []float64{0}}},
		"ContinuousCartPole-v0": {{[]float64{-2.39, -1, 0, 0}, []float64{1}}, {[]float64{0, 0, 0.2, 0.5}, []float64{2}}},
		"Acrobot-v1":            {{[]float64{2.0, 0.5, 1.0, 1.0}, []float64{1}}, {[]float64{math.Pi, 0, 0, 0}, []float64{0}}},
	}
	for _, id := range classicIDs {
		t.Run(id, func(t *testing.T) {
			e, _ := Make(id)
			m, ok := e.(Model)
			if !ok {
				t.Fatalf("%s is not a Model", id)
			}
			obs, act, next, reward, term := transitions(t, id, 600, extra[id])
			n := len(reward)
			gotR := make([]float64, n)
			gotT := make([]bool, n)
			m.RewardBatch(obs, act, next, n, gotR)
			m.TerminatedBatch(next, n, gotT)
			var nTerm int
			for i := range n {
				if term[i] {
					nTerm++
				}
				// Pendulum's reward is recovered from the float32 observation:
				// θ to about 1e-7 and θ̇ to 6e-8 relative, so the cost
				// θ² + 0.1θ̇² (at most π² + 6.4) to about 3e-6.
				tol := 0.0
				if id == "Pendulum-v1" {
					tol = 3e-6
				}
				if math.Abs(gotR[i]-reward[i]) > tol {
					t.Fatalf("transition %d: RewardBatch %v, Step %v", i, gotR[i], reward[i])
				}
				if gotT[i] != term[i] {
					t.Fatalf("transition %d: TerminatedBatch %v, Step %v", i, gotT[i], term[i])
				}
			}
			if id != "Pendulum-v1" && nTerm == 0 {
				t.Errorf("no terminal transition among %d", n)
			}
			// Where the rule is data, it agrees with TerminatedBatch.
			if rule := m.Termination(); rule.IsBox() {
				box := make([]bool, n)
				rule.Eval(next, e.ObservationSpace().Dim(), n, box)
				if !slices.Equal(box, gotT) {
					t.Error("Termination().Eval disagrees with TerminatedBatch")
				}
			}
		})
	}
}

func TestTerminationKinds(t *testing.T) {
	want := map[string]TerminationKind{
		"Pendulum-v1":              NeverTerminates,
		"MountainCarContinuous-v0": TerminatesInside,
		"CartPole-v1":              TerminatesOutside,
		"Acrobot-v1":               TerminatesByRule,
		"ContinuousCartPole-v0":    TerminatesOutside,
	}
	for id, k := range want {
		e, _ := Make(id)
		if got := e.(Model).Termination().Kind; got != k {
			t.Errorf("%s: termination %v, want %v", id, got, k)
		}
	}
	// The cart-pole box bounds x and θ, elements 0 and 2.
	if tm := NewCartPole().Termination(); !slices.Equal(tm.Dims, []int{0, 2}) || tm.High[0] != 2.4 || tm.High[1] != 12*2*npPi/360 {
		t.Errorf("CartPole-v1 termination %+v", tm)
	}
}

// TestTerminationEval checks the box semantics on hand-made rows: bounds
// are inclusive, NaN is outside every box.
func TestTerminationEval(t *testing.T) {
	nan := math.NaN()
	rows := []float64{
		0, 0, // inside
		1, -1, // on the corner: inside
		1.5, 0, // outside
		0, nan, // NaN: outside
	}
	box := func(k TerminationKind) Termination {
		return boxTermination(k, []int{0, 1}, []float64{-1, -1}, []float64{1, 1})
	}
	for _, c := range []struct {
		kind TerminationKind
		want []bool
	}{
		{NeverTerminates, []bool{false, false, false, false}},
		{TerminatesOutside, []bool{false, false, true, true}},
		{TerminatesInside, []bool{true, true, false, false}},
	} {
		out := make([]bool, 4)
		box(c.kind).Eval(rows, 2, 4, out)
		if !slices.Equal(out, c.want) {
			t.Errorf("%v: %v, want %v", c.kind, out, c.want)
		}
	}
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", what)
			}
		}()
		f()
	}
	mustPanic("Eval of a rule", func() { Termination{Kind: TerminatesByRule}.Eval(rows, 2, 4, make([]bool, 4)) })
	mustPanic("Eval of a short batch", func() { box(TerminatesOutside).Eval(rows, 2, 5, make([]bool, 5)) })
	mustPanic("Eval into a short out", func() { box(TerminatesOutside).Eval(rows, 2, 4, make([]bool, 3)) })
	mustPanic("RewardBatch of a short act", func() {
		NewPendulum().RewardBatch(make([]float64, 6), make([]float64, 1), make([]float64, 6), 2, make([]float64, 2))
	})
}

// TestPendulumRewardFromObservation checks the atan2 recovery of θ against
// angle_normalize across the wrap at ±π and beyond one turn.
func TestPendulumRewardFromObservation(t *testing.T) {
	p := NewPendulum()
	for _, th := range []float64{0, 0.5, -0.5, 3.1, -3.1, math.Pi, -math.Pi, 7, -7, 100} {
		obs := []float64{asFloat32(math.Cos(th)), asFloat32(math.Sin(th)), 0}
		out := make([]float64, 1)
		p.RewardBatch(obs, []float64{0}, obs, 1, out)
		want := -squared(angleNormalize(th))
		// θ from float32 sine and cosine: within 1e-7 rad, so θ² within
		// 2π·1e-7; the squares of π and -π agree.
		if math.Abs(out[0]-want) > 1e-6 {
			t.Errorf("θ = %v: reward %v, want %v", th, out[0], want)
		}
	}
}
