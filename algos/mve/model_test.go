package mve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// TestEnsembleModel checks EnsembleModel.Next against the ensemble's own
// Predict: row i's next observation is obs plus the predicted mean Δobs of
// member Elites[pick[i]], in the targets' units, after a short training
// that fits the standardisers; and that a change of the elites is seen.
func TestEnsembleModel(t *testing.T) {
	const obsDim, actDim, n = 3, 2, 40
	eng := cpu.New()
	cfg := Defaults()
	cfg.Members, cfg.Elites = 4, 3
	cfg.ModelHidden = []int{8, 8}
	cfg.ModelWeightDecay = []float64{0, 0, 0}
	cfg.ModelBatchSize = 16
	cfg.ModelMaxEpochs = 2
	rng := engine.NewRNG(1)
	dyn, err := mbpo.NewDynamics(eng, cfg.dynamics(), obsDim, actDim, 100, rng, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 3))
	buf := replay.New(eng, 100, obsDim, actDim)
	for range 100 {
		o := randoms(r, obsDim, -2, 2)
		next := make([]float64, obsDim)
		for j := range next {
			next[j] = 0.9*o[j] + 0.1*r.NormFloat64() + 3
		}
		buf.Add(replay.Transitions{Obs: f32(o), Act: f32(randoms(r, actDim, -1, 1)), Reward: []float32{float32(r.NormFloat64())},
			NextObs: f32(next), Terminated: []float32{0}})
	}
	if _, err := dyn.Train(buf, rng); err != nil {
		t.Fatal(err)
	}
	m := NewEnsembleModel(eng, dyn, obsDim, actDim, n)
	obs, act := randoms(r, n*obsDim, -2, 2), randoms(r, n*actDim, -1, 1)
	obsT, actT := upload(eng, obs, n, obsDim), upload(eng, act, n, actDim)
	picks := make([]int32, n)
	for i := range picks {
		picks[i] = int32(r.IntN(m.Samples()))
	}
	pick := eng.New(engine.Int32, n)
	eng.UploadInt32(pick, picks)
	next := eng.New(engine.Float32, n, obsDim)

	x := make([]float64, 0, n*(obsDim+actDim))
	for i := range n {
		x = append(append(x, obs[i*obsDim:(i+1)*obsDim]...), act[i*actDim:(i+1)*actDim]...)
	}
	mean, _ := dyn.Model.Predict(upload(eng, x, n, obsDim+actDim))
	means := download(eng, mean) // [E, n, Obs+1]
	for _, elites := range [][]int{{2, 0, 3}, {1, 3, 0}} {
		dyn.Elites = elites
		m.Next(next, obsT, actT, pick)
		want := make([]float64, n*obsDim)
		for i := range n {
			e := elites[picks[i]]
			for j := range obsDim {
				want[i*obsDim+j] = obs[i*obsDim+j] + means[(e*n+i)*(obsDim+1)+j]
			}
		}
		checkClose(t, fmt.Sprintf("next with elites %v", elites), download(eng, next), want, forwardTol)
	}
}

// TestTerminationBox checks the device evaluation of termination boxes
// against Termination.Eval on rows at, just inside and just outside the
// bounds (bounds that float32 does not hold exactly included), NaN, and
// the rules that bound nothing.
func TestTerminationBox(t *testing.T) {
	eng := cpu.New()
	const obsDim = 3
	for _, rule := range []env.Termination{
		{Kind: env.TerminatesOutside, Dims: []int{0, 2}, Low: []float64{-2.4, math.Inf(-1)}, High: []float64{2.4, 0.2095}},
		{Kind: env.TerminatesInside, Dims: []int{1, 2}, Low: []float64{0.45, 0}, High: []float64{math.Inf(1), math.Inf(1)}},
		{Kind: env.NeverTerminates},
		{Kind: env.TerminatesInside},
	} {
		var rows []float64
		edge := func(v float64) []float64 {
			f := float32(v)
			return []float64{float64(f), float64(math.Nextafter32(f, float32(math.Inf(1)))), float64(math.Nextafter32(f, float32(math.Inf(-1))))}
		}
		for _, a := range append(edge(-2.4), edge(2.4)...) {
			for _, b := range append(edge(0.45), edge(0)...) {
				for _, c := range append(edge(0.2095), edge(0)...) {
					rows = append(rows, a, b, c)
				}
			}
		}
		rows = append(rows, math.NaN(), 1, 1, 0, math.NaN(), 0.1)
		n := len(rows) / obsDim
		box, err := newTerminationBox(eng, rule, obsDim, n)
		if err != nil {
			t.Fatal(err)
		}
		term := eng.New(engine.Float32, n, 1)
		box.eval(term, upload(eng, rows, n, obsDim))
		got := download(eng, term)
		want := make([]bool, n)
		rule.Eval(rows, obsDim, n, want)
		ones := 0
		for i := range n {
			w := 0.0
			if want[i] {
				w = 1
				ones++
			}
			if got[i] != w {
				t.Errorf("%v rule, row %v: terminal %v, want %v", rule.Kind, rows[i*obsDim:(i+1)*obsDim], got[i], w)
			}
		}
		if rule.Dims != nil && (ones == 0 || ones == n) {
			t.Errorf("%v rule: %d of %d rows terminal; the case should have both", rule.Kind, ones, n)
		}
	}
	if _, err := newTerminationBox(eng, env.Termination{Kind: env.TerminatesByRule}, obsDim, 1); err == nil {
		t.Errorf("a rule that is not a box: no error")
	}
	if _, err := newTerminationBox(eng, env.Termination{Kind: env.TerminatesOutside, Dims: []int{3}, Low: []float64{0}, High: []float64{1}}, obsDim, 1); err == nil {
		t.Errorf("a box on element 3 of 3: no error")
	}
}

// TestHostReward checks the host round trip of the reward against
// Pendulum-v1's RewardBatch on the same transitions, with the policy's
// actions rescaled to [−2, 2].
func TestHostReward(t *testing.T) {
	eng := cpu.New()
	p := env.NewPendulum()
	const steps, rows = 3, 5
	r := rand.New(rand.NewPCG(4, 5))
	states := make([]float64, 0, (steps+1)*rows*3)
	for range (steps + 1) * rows {
		th := r.Float64()*8 - 4
		states = append(states, float64(float32(math.Cos(th))), float64(float32(math.Sin(th))), float64(float32(r.Float64()*16-8)))
	}
	acts := randoms(r, steps*rows, -1, 1)
	h := newHostReward(p, 3, 1, p.ActionSpace().Low, p.ActionSpace().High)
	got := eng.New(engine.Float32, steps*rows, 1)
	h.compute(eng, got, upload(eng, states, (steps+1)*rows, 3), upload(eng, acts, steps*rows, 1), steps, rows)
	envActs := make([]float64, len(acts))
	for i, a := range acts {
		envActs[i] = 2 * a
	}
	want := make([]float64, steps*rows)
	p.RewardBatch(states[:steps*rows*3], envActs, states[rows*3:], steps*rows, want)
	checkClose(t, "rewards", download(eng, got), roundAll(want), 0)
}
