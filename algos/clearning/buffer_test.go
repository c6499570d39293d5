package clearning

import (
	"math"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// geometricPMF returns P(Δ = k) for k = 1…limit of Geom(1−γ) truncated at
// limit: (1−γ)γ^(k−1)/(1−γ^limit).
func geometricPMF(gamma float64, limit int) []float64 {
	p := make([]float64, limit+1)
	for k := 1; k <= limit; k++ {
		p[k] = (1 - gamma) * math.Pow(gamma, float64(k-1)) / (1 - math.Pow(gamma, float64(limit)))
	}
	return p
}

// TestGeometricOffset checks the inversion: on a regular grid of n values
// of u the share of each offset is its probability to within 1/n, which
// only an exact inverse CDF achieves; γ = 0 and a limit of 1 give 1.
func TestGeometricOffset(t *testing.T) {
	const n = 100_000
	for _, tc := range []struct {
		gamma float64
		limit int
	}{{0.9, 7}, {0.5, 3}, {0.99, 300}, {0.8, 1}} {
		want := geometricPMF(tc.gamma, tc.limit)
		got := make([]float64, tc.limit+1)
		for i := range n {
			k := GeometricOffset((float64(i)+0.5)/n, tc.gamma, tc.limit)
			if k < 1 || k > tc.limit {
				t.Fatalf("γ %g, limit %d: offset %d out of [1, %d]", tc.gamma, tc.limit, k, tc.limit)
			}
			got[k] += 1.0 / n
		}
		for k := 1; k <= tc.limit; k++ {
			if math.Abs(got[k]-want[k]) > 1.0/n {
				t.Errorf("γ %g, limit %d: P(Δ = %d) = %.6f on the grid, want %.6f", tc.gamma, tc.limit, k, got[k], want[k])
			}
		}
	}
	for _, u := range []float64{0, 0.3, 0.999999} {
		if k := GeometricOffset(u, 0, 10); k != 1 {
			t.Errorf("γ = 0, u = %g: offset %d, want 1", u, k)
		}
	}
}

// TestSplitOf checks the goal shares of a batch: half random, the positive
// half split into future (rounded down) and next-state rows, and λ.
func TestSplitOf(t *testing.T) {
	for _, tc := range []struct {
		batch  int
		future float64
		want   Split
		lambda float64 // with the fix
	}{
		{256, 0, Split{128, 0, 128}, 1},
		{256, 0.2, Split{77, 51, 128}, 77.0 / 128},
		{256, 0.5, Split{0, 128, 128}, 0},
		{8, 0.25, Split{2, 2, 4}, 0.5},
		{2, 0.4, Split{1, 0, 1}, 1},
	} {
		s := SplitOf(tc.batch, tc.future)
		if s != tc.want || s.Len() != tc.batch {
			t.Errorf("SplitOf(%d, %g) = %+v, want %+v", tc.batch, tc.future, s, tc.want)
		}
		if l := s.Lambda(true); l != tc.lambda {
			t.Errorf("%+v: λ = %g with the fix, want %g", s, l, tc.lambda)
		}
		if l := s.Lambda(false); l != 1 {
			t.Errorf("%+v: λ = %g without the fix, want 1", s, l)
		}
	}
}

// TestSampleGoals fills a ring of 20 with episodes of 7, 5, 9 and 6
// transitions (27 in all, so the ring wraps and the first episode is
// partly overwritten; the last episode has not ended), where each
// observation's achieved state and each action is (episode, t), and draws
// 3000 batches of 3 next-state, 3 future and 4 random rows. Every row must
// be a transition still held, with its goal written into both
// observations: the next state for the next-state rows, a state Δ ≥ 1
// steps later in the same episode and no later than its last held state
// for the future rows, with Δ distributed as the truncated geometric
// (the mean of Δ − E[Δ] within 4 standard errors of 0), and for the random
// rows a held state, every held state being drawn.
func TestSampleGoals(t *testing.T) {
	eng := cpu.New()
	const capacity, gamma = 20, 0.8
	lengths := []int{7, 5, 9, 6}
	buf := NewBuffer(eng, capacity, pointLayout)
	var all [][2]int // (episode, t) of every transition added
	for ep, n := range lengths {
		for k := range n {
			obs := []float64{float64(ep), float64(k), -1, -1}
			next := []float64{float64(ep), float64(k + 1), -1, -1}
			buf.Add(obs, []float32{float32(ep), float32(k)}, next, k == n-1 && ep < len(lengths)-1)
			all = append(all, [2]int{ep, k})
		}
	}
	held := map[[2]int]bool{}
	for _, tr := range all[len(all)-capacity:] {
		held[tr] = true
	}
	if buf.Len() != capacity {
		t.Fatalf("Len = %d after %d transitions into a ring of %d", buf.Len(), len(all), capacity)
	}
	// remaining(ep, t): the transitions from t to the episode's last held
	// one; the last episode is still going on, and all 6 are held.
	remaining := func(ep, k int) int { return lengths[ep] - k }

	split := Split{Next: 3, Future: 3, Random: 4}
	d := NewBatch(eng, split, pointLayout)
	rng, relabel := engine.NewRNG(5), engine.NewRNG(6)
	randomSeen := map[[2]int]int{}
	var resid, resid2 float64
	var futures int
	for range 3000 {
		buf.Sample(d, rng, relabel, gamma)
		obs, act, next := download(eng, d.Obs), download(eng, d.Act), download(eng, d.NextObs)
		for i := range split.Len() {
			o, nx := obs[4*i:4*i+4], next[4*i:4*i+4]
			ep, k := int(act[2*i]), int(act[2*i+1])
			if !held[[2]int{ep, k}] || o[0] != float64(ep) || o[1] != float64(k) || nx[0] != float64(ep) || nx[1] != float64(k+1) {
				t.Fatalf("row %d: obs %v, action %v, next %v: not one transition still held", i, o, act[2*i:2*i+2], nx)
			}
			g := [2]float64{o[2], o[3]}
			if nx[2] != g[0] || nx[3] != g[1] {
				t.Fatalf("row %d: goal %v in obs but %v in next obs", i, g, nx[2:])
			}
			switch {
			case i < split.Next:
				if g != [2]float64{float64(ep), float64(k + 1)} {
					t.Fatalf("next-state row %d of transition (%d, %d): goal %v, want (%d, %d)", i, ep, k, g, ep, k+1)
				}
			case i < split.Positive():
				delta := int(g[1]) - k
				limit := remaining(ep, k)
				if int(g[0]) != ep || delta < 1 || delta > limit {
					t.Fatalf("future row %d of transition (%d, %d): goal %v, want (%d, t+Δ) with 1 ≤ Δ ≤ %d", i, ep, k, g, ep, limit)
				}
				var mean, sq float64
				for j, p := range geometricPMF(gamma, limit) {
					mean += float64(j) * p
					sq += float64(j*j) * p
				}
				resid += float64(delta) - mean
				resid2 += sq - mean*mean
				futures++
			default:
				s := [2]int{int(g[0]), int(g[1])}
				if !held[s] {
					t.Fatalf("random row %d: goal %v is not a held state", i, g)
				}
				randomSeen[s]++
			}
		}
	}
	if z := resid / math.Sqrt(resid2); math.Abs(z) > 4 {
		t.Errorf("future offsets: Σ(Δ − E[Δ]) is %.1f standard errors from 0 over %d draws", z, futures)
	}
	if len(randomSeen) != capacity {
		t.Errorf("random goals drew %d of the %d held states", len(randomSeen), capacity)
	}
}

// TestSampleNoFuture checks that a batch without future rows leaves the
// relabelling's host stream untouched: no host draws, nothing uploaded.
func TestSampleNoFuture(t *testing.T) {
	eng := cpu.New()
	buf := NewBuffer(eng, 8, pointLayout)
	for k := range 8 {
		buf.Add([]float64{0, float64(k), 0, 0}, []float32{0, 0}, []float64{0, float64(k + 1), 0, 0}, false)
	}
	d := NewBatch(eng, SplitOf(16, 0), pointLayout)
	relabel := engine.NewRNG(3)
	buf.Sample(d, engine.NewRNG(2), relabel, 0.99)
	if relabel.Counter != 0 {
		t.Errorf("relabel stream advanced to %d by a batch without future goals", relabel.Counter)
	}
}
