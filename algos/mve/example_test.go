package mve_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/mve"
	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu" // registers the "cpu" engine
	"github.com/imago-rl/imago/env"
)

// point is a user's own environment: a point on a line that must move to
// 0. The observation is its position x, the action a ∈ [−1, 1] moves it to
// x + a/4, and the reward is −|x| after the move. An episode starts at x
// uniform in [−1, 1] and lasts 20 steps.
type point struct {
	env.Episode // the step counter, the time limit and the action checks
	x           float64
}

func (p *point) ObservationSpace() env.Space { return env.Box([]float64{-6}, []float64{6}) }
func (p *point) ActionSpace() env.Space      { return env.Box([]float64{-1}, []float64{1}) }

func (p *point) Reset(seed int64) []float64 {
	p.Begin()
	p.x = 2*rand.New(rand.NewPCG(uint64(seed), 0)).Float64() - 1
	return []float64{p.x}
}

func (p *point) Step(a []float64) (obs []float64, reward float64, terminated, truncated bool) {
	p.Check(p.ActionSpace(), a)
	p.x += max(-1, min(1, a[0])) / 4
	return []float64{p.x}, -math.Abs(p.x), false, p.End(false)
}

// MVE learns the dynamics, but scores its imagined steps with the
// environment's own reward function and ends them with its termination
// rule: the environment implements env.Model. This one never terminates.

func (p *point) Termination() env.Termination { return env.Termination{Kind: env.NeverTerminates} }

func (p *point) TerminatedBatch(next []float64, n int, out []bool) { clear(out[:n]) }

func (p *point) RewardBatch(obs, act, next []float64, n int, out []float64) {
	for i := range n {
		out[i] = -math.Abs(next[i])
	}
}

func init() {
	env.Register(env.Registration{
		ID:          "Point1D-v0",
		Description: "a point on a line that must move to 0",
		New:         func() env.Env { return &point{Episode: env.Episode{ID: "Point1D-v0", MaxSteps: 20}} },
	})
}

// Train MVE on an environment of one's own: register it, take MVE's
// defaults, shrink them to about a second of CPU (smaller networks and
// ensemble, two imagined steps, fewer and shorter model trainings), train,
// and compare the learned policy with one that stands still.
func Example() {
	eng, err := engine.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	run := algos.RunConfig{Env: "Point1D-v0", Steps: 1000, Seed: 1, EvalEvery: 500, EvalEpisodes: 10}
	cfg := mve.Preset(run.Env) // the documented defaults: no preset for this environment
	// Two imagined steps, the critics regressed at the real transition
	// only, as the Pendulum-v1 preset does (see Config.TDK).
	cfg.Horizon, cfg.TDK = 2, false
	cfg.ModelTrainFreq = 400
	cfg.Members, cfg.Elites, cfg.ModelHidden = 3, 2, []int{32, 32}
	cfg.ModelWeightDecay = []float64{2.5e-5, 5e-5, 1e-4} // one per layer
	cfg.ModelBatchSize, cfg.ModelMaxEpochs = 32, 20
	cfg.DDPG.Hidden, cfg.DDPG.BatchSize, cfg.DDPG.LearningStarts = []int{32, 32}, 64, 200
	cfg.DDPG.ActorLR, cfg.DDPG.CriticLR = 1e-3, 1e-3

	var rows algos.Rows // keeps every evaluation in memory
	dir, _ := os.MkdirTemp("", "mve-example")
	defer os.RemoveAll(dir)
	// Checkpoints saves the agent into dir after the last step (and every
	// Every steps, and on an interrupt); checkpoint.Load reads it back.
	saved := &algos.Checkpoints{Reporter: &rows, Dir: dir, Algo: "mve", Env: run.Env}
	if err := mve.Train(context.Background(), eng, run, cfg, saved); err != nil {
		log.Fatal(err)
	}
	last := rows.Rows[len(rows.Rows)-1]
	fmt.Printf("%d evaluations, the last after %d steps, %v imagined steps per target\n", len(rows.Rows), last.EnvSteps, last.Get("expansion"))

	e, _ := env.Make(run.Env)
	still, _, _ := algos.Evaluate(context.Background(), e, func([]float64) []float64 { return []float64{0} }, 10, run.Seed+algos.EvalSeedOffset)
	fmt.Println("costs less than half as much as standing still:", last.Get("eval_return") > still/2)
	steps, _ := checkpoint.List(dir)
	fmt.Println("saved after steps", steps)

	// Output:
	// 2 evaluations, the last after 1000 steps, 2 imagined steps per target
	// costs less than half as much as standing still: true
	// saved after steps [1000]
}
