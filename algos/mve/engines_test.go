package mve

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// TestUpdateAgreesAcrossEngines runs three MVE and three STEVE updates on
// Pendulum-v1-shaped data, with an (untrained) ensemble model, on every
// other engine compiled into the test (the CUDA engine or its emulator,
// with -tags cuda or cudaemu) and on the CPU engine: the engines draw the
// same numbers, so the last update's targets and the critics' parameters
// agree within float32 rounding, accumulated over the updates (tolerance
// 1e-4 relative). Pendulum-v1 never terminates, so that no rounding can
// decide a termination differently.
func TestUpdateAgreesAcrossEngines(t *testing.T) {
	type result struct{ targets, critic []float64 }
	run := func(eng engine.Engine, method string) result {
		cfg := Preset("Pendulum-v1")
		if method == MethodSTEVE {
			cfg = PresetSTEVE("Pendulum-v1")
		}
		cfg.Horizon = 3
		cfg.DDPG.Hidden = []int{16, 16}
		cfg.DDPG.BatchSize = 16
		cfg.DDPG.TargetPolicySmoothing = true
		cfg.Members, cfg.Elites = 3, 2
		cfg.ModelHidden = []int{16, 16}
		cfg.ModelWeightDecay = []float64{0, 0, 0}
		rng := engine.NewRNG(1)
		base, err := ddpg.NewAgent(eng, cfg.DDPG, 3, 1, rng)
		if err != nil {
			t.Fatal(err)
		}
		defer base.Free()
		dyn, err := mbpo.NewDynamics(eng, cfg.dynamics(), 3, 1, 100, rng, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer dyn.Free()
		model := NewEnsembleModel(eng, dyn, 3, 1, cfg.DDPG.BatchSize*cfg.Elites)
		defer model.Free()
		p := env.NewPendulum()
		a, err := NewAgent(eng, cfg, base, model, p, p.ActionSpace())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Free()
		r := rand.New(rand.NewPCG(3, 4))
		buf := replay.New(eng, 64, 3, 1)
		defer buf.Free()
		for range 64 {
			th := r.Float64()*6 - 3
			obs := []float32{float32(math.Cos(th)), float32(math.Sin(th)), float32(r.Float64()*4 - 2)}
			buf.Add(replay.Transitions{Obs: obs, Act: f32(randoms(r, 1, -1, 1)), Reward: f32(randoms(r, 1, -10, 0)),
				NextObs: obs, Terminated: []float32{0}})
		}
		d := replay.NewBatch(eng, cfg.DDPG.BatchSize, 3, 1)
		defer d.Free(eng)
		for range 3 {
			buf.Sample(d, rng)
			a.Update(d, rng)
		}
		targets := a.tgtAll
		if a.steve {
			targets = a.y
		}
		return result{download(eng, targets), download(eng, base.Critic().Params.Data)}
	}
	others := 0
	for _, be := range engine.Backends() {
		if be.Name == "cpu" || be.Available() != nil {
			continue
		}
		others++
		for _, method := range []string{MethodMVE, MethodSTEVE} {
			t.Run(be.Name+"/"+method, func(t *testing.T) {
				eng, err := be.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer eng.Close()
				want, got := run(cpu.New(), method), run(eng, method)
				checkClose(t, "targets", got.targets, want.targets, 1e-4)
				checkClose(t, "critic parameters", got.critic, want.critic, 1e-4)
			})
		}
	}
	if others == 0 {
		t.Skip("no engine but cpu compiled in (build with -tags cudaemu to compare the CUDA engine's emulator)")
	}
}
