package mve

import (
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// BenchmarkUpdate times one gradient step of the Pendulum-v1 presets on
// the CPU engine (batch 256, 256-unit networks, MBPO's 7 × 4×200 model,
// untrained): the base learner alone (H = 0), MVE (H = 5) and STEVE
// (H = 3, 5 elites). With -cpuprofile it shows where an update's time goes:
//
//	go test -tags openblas -run '^$' -bench Update -benchtime 20x -cpuprofile cpu.prof ./algos/mve
func BenchmarkUpdate(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"base", func() Config { c := Preset("Pendulum-v1"); c.Horizon = 0; return c }()},
		{"mve-H5", Preset("Pendulum-v1")},
		{"steve-H3", PresetSTEVE("Pendulum-v1")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			eng := cpu.New()
			cfg := bc.cfg
			p := env.NewPendulum()
			rng := engine.NewRNG(1)
			base, err := ddpg.NewAgent(eng, cfg.DDPG, 3, 1, rng)
			if err != nil {
				b.Fatal(err)
			}
			var model Model
			if cfg.Horizon > 0 {
				dyn, err := mbpo.NewDynamics(eng, cfg.dynamics(), 3, 1, 1000, rng, 1)
				if err != nil {
					b.Fatal(err)
				}
				rows := cfg.DDPG.BatchSize
				if cfg.Method == MethodSTEVE {
					rows *= cfg.Elites
				}
				model = NewEnsembleModel(eng, dyn, 3, 1, rows)
			}
			a, err := NewAgent(eng, cfg, base, model, p, p.ActionSpace())
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			buf := replay.New(eng, 1000, 3, 1)
			for range 1000 {
				buf.Add(replay.Transitions{Obs: f32(randoms(r, 3, -1, 1)), Act: f32(randoms(r, 1, -1, 1)),
					Reward: f32(randoms(r, 1, -10, 0)), NextObs: f32(randoms(r, 3, -1, 1)), Terminated: []float32{0}})
			}
			d := replay.NewBatch(eng, cfg.DDPG.BatchSize, 3, 1)
			buf.Sample(d, rng)
			a.Update(d, rng)
			b.ResetTimer()
			for range b.N {
				buf.Sample(d, rng)
				a.Update(d, rng)
			}
			eng.Sync()
		})
	}
}
