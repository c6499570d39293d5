package mve

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// pendulumModel is the true dynamics of Pendulum-v1 as a Model: each row's
// next observation is env.Pendulum's Step from the state (θ, θ̇) =
// (atan2(sin θ, cos θ), θ̇) of its observation under its action rescaled
// from (−1, 1) to the torque [−2, 2], computed on the host. Every
// hypothesis is the same. With it, value expansion's targets have no model
// error, which separates the model's error from the targets' own.
type pendulumModel struct {
	eng      engine.Engine
	samples  int
	p        *env.Pendulum
	obs, act []float32
	next     []float32
}

func newPendulumModel(eng engine.Engine, samples int) *pendulumModel {
	p := env.NewPendulum()
	p.Reset(0)
	return &pendulumModel{eng: eng, samples: samples, p: p}
}

// pendulumModels is a modelFunc of pendulumModel with two hypotheses.
func pendulumModels(eng engine.Engine, obs, act, rows int) Model { return newPendulumModel(eng, 2) }

func (m *pendulumModel) Samples() int { return m.samples }

func (m *pendulumModel) Next(next, obs, act, pick *engine.Tensor) {
	n := obs.Dim(0)
	m.obs, m.act, m.next = grow(m.obs, 3*n), grow(m.act, n), grow(m.next, 3*n)
	m.eng.Download(m.obs, obs)
	m.eng.Download(m.act, act)
	for i := range n {
		copy(m.next[3*i:3*i+3], m.step(m.obs[3*i:3*i+3], m.act[i]))
	}
	m.eng.Upload(next, m.next)
}

// step returns the next observation of Pendulum-v1 from observation o under
// the action a in the policy's units.
func (m *pendulumModel) step(o []float32, a float32) []float32 {
	m.p.Begin()
	m.p.SetState([]float64{math.Atan2(float64(o[1]), float64(o[0])), float64(o[2])})
	x, _, _, _ := m.p.Step([]float64{2 * min(max(float64(a), -1), 1)})
	return []float32{float32(x[0]), float32(x[1]), float32(x[2])}
}

// TestModelRolloutError measures, when IMAGO_LONG=1, how far the learned
// model of the Pendulum-v1 preset drifts from the true dynamics over the
// horizon: trained as Train trains it (warm-started, every 250 steps from
// step 1000 to 3000) on 3000 transitions of uniformly random actions, it
// is rolled out 5 steps open loop from 512 states of another random run
// under random actions, beside pendulumModel. It logs the RMS errors of
// θ, θ̇ and the reward per step and of the discounted reward sum, and
// fails if the last exceeds 0.5, under 2% of that sum's typical size
// under random actions (5 steps of a mean cost of about 6).
func TestModelRolloutError(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	const n, steps, h, tol = 512, 3000, 5, 0.5
	eng := cpu.New()
	// collect steps Pendulum-v1 count times with uniformly random actions
	// (in the policy's units) from seed, adding the transitions to buf
	// when it is not nil, and returns the observations it acted from.
	collect := func(seed uint64, count int, buf *replay.Buffer) []float64 {
		p := env.NewPendulum()
		r := rand.New(rand.NewPCG(seed, 1))
		obs := p.Reset(int64(seed))
		var from []float64
		var tr replay.Transitions
		for i := range count {
			a := []float32{float32(2*r.Float64() - 1)}
			next, rew, term, trunc := p.Step([]float64{2 * float64(a[0])})
			if buf != nil {
				tr.Set(obs, a, rew, next, term)
				buf.Add(tr)
			}
			from = append(from, obs...)
			obs = next
			if term || trunc {
				obs = p.Reset(int64(seed) + int64(i) + 1)
			}
		}
		return from
	}
	cfg := Preset("Pendulum-v1")
	rng := engine.NewRNG(1)
	dyn, err := mbpo.NewDynamics(eng, cfg.dynamics(), 3, 1, steps, rng, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dyn.Free()
	buf := replay.New(eng, steps, 3, 1)
	defer buf.Free()
	collect(7, cfg.DDPG.LearningStarts, buf)
	start := time.Now()
	var st mbpo.ModelStats
	for k := cfg.DDPG.LearningStarts; k <= steps; k += cfg.ModelTrainFreq {
		if k > cfg.DDPG.LearningStarts {
			collect(uint64(k), cfg.ModelTrainFreq, buf)
		}
		if st, err = dyn.Train(buf, rng); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("model trained in %.1fs; last training %d epochs, holdout MSE %.3g (standardised)", time.Since(start).Seconds(), st.Epochs, st.EliteMSE)

	learned, truth := NewEnsembleModel(eng, dyn, 3, 1, n), newPendulumModel(eng, 1)
	defer learned.Free()
	x := collect(99, n, nil)
	xl, xt := upload(eng, x, n, 3), upload(eng, x, n, 3)
	nl, nt := eng.New(engine.Float32, n, 3), eng.New(engine.Float32, n, 3)
	pick := eng.New(engine.Int32, n)
	eng.RandInt(pick, engine.NewRNG(3), learned.Samples())
	p := env.NewPendulum()
	r := rand.New(rand.NewPCG(5, 5))
	rl, rt, env2 := make([]float64, n), make([]float64, n), make([]float64, n)
	sumErr := make([]float64, n) // Σ_k γ^k (r̂_k − r_k) per row
	var rmsSum float64
	for k := range h {
		a := randoms(r, n, -1, 1)
		for i := range a {
			env2[i] = 2 * a[i]
		}
		ol, ot := download(eng, xl), download(eng, xt)
		p.RewardBatch(ol, env2, ol, n, rl)
		p.RewardBatch(ot, env2, ot, n, rt)
		at := upload(eng, a, n, 1)
		learned.Next(nl, xl, at, pick)
		truth.Next(nt, xt, at, pick)
		eng.Copy(xl, nl)
		eng.Copy(xt, nt)
		ol, ot = download(eng, xl), download(eng, xt)
		var eth, ew, er, es float64
		for i := range n {
			d := math.Remainder(math.Atan2(ol[3*i+1], ol[3*i])-math.Atan2(ot[3*i+1], ot[3*i]), 2*math.Pi)
			eth += d * d
			ew += (ol[3*i+2] - ot[3*i+2]) * (ol[3*i+2] - ot[3*i+2])
			er += (rl[i] - rt[i]) * (rl[i] - rt[i])
			sumErr[i] += math.Pow(cfg.DDPG.Gamma, float64(k)) * (rl[i] - rt[i])
			es += sumErr[i] * sumErr[i]
		}
		rmsSum = math.Sqrt(es / n)
		t.Logf("step %d: RMS error of θ %.3g rad, of θ̇ %.3g; of the reward of step %d %.3g, of the discounted sum to it %.3g",
			k+1, math.Sqrt(eth/n), math.Sqrt(ew/n), k, math.Sqrt(er/n), rmsSum)
	}
	if rmsSum > tol {
		t.Errorf("RMS error of the %d-step discounted reward sum %.3g, want at most %g", h, rmsSum, tol)
	}
}
