package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"syscall"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// The train command's tests run a fake algorithm on a fake environment, so
// that they check the command (flags, files, progress, signals) in
// milliseconds and without depending on any real learner's numbers.

const fakeEnvID = "ImagoTestLine-v0"

// lineEnv is a point on a line pushed by the action; the reward is minus
// its squared distance from 0.
type lineEnv struct {
	env.Episode
	x float64
}

func (e *lineEnv) ObservationSpace() env.Space {
	return env.Box([]float64{math.Inf(-1)}, []float64{math.Inf(1)})
}
func (e *lineEnv) ActionSpace() env.Space { return env.Box([]float64{-1}, []float64{1}) }
func (e *lineEnv) Reset(seed int64) []float64 {
	e.Begin()
	e.x = float64(seed%7) - 3
	return []float64{e.x}
}
func (e *lineEnv) Step(a []float64) ([]float64, float64, bool, bool) {
	e.Check(e.ActionSpace(), a)
	e.x += max(-1, min(1, a[0]))
	return []float64{e.x}, -e.x * e.x, false, e.End(false)
}

// fakeConfig has a field of every kind --set handles.
type fakeConfig struct {
	Hidden   []int      `yaml:"hidden"`
	LR       float64    `yaml:"lr"`
	Gain     float32    `yaml:"gain"`
	Batch    int        `yaml:"batch_size"`
	Noisy    bool       `yaml:"noisy"`
	Name     string     `yaml:"name"`
	Critic   fakeCritic `yaml:"critic"`
	internal int        // unexported: --set must not reach it

	// Test hooks: after recording InterruptAfter rows (when positive) the
	// fake sends this process SIGINT and waits for the context; Fail makes
	// it return an error of its own after the first row.
	InterruptAfter int  `yaml:"interrupt_after"`
	Fail           bool `yaml:"fail"`
	// EpisodeRows makes it also record a row without an evaluation
	// (eval_return NaN) at every step 50 past an evaluation, as mpc
	// records its training episodes.
	EpisodeRows bool `yaml:"episode_rows"`
}

type fakeCritic struct {
	Tau float64 `yaml:"tau"`
}

func fakePreset(envID string) fakeConfig {
	c := fakeConfig{Hidden: []int{8, 8}, LR: 3e-4, Gain: 0.5, Batch: 4, Name: "fake", Critic: fakeCritic{Tau: 0.005}}
	if envID == fakeEnvID {
		c.Batch = 2
	}
	return c
}

func (c fakeConfig) Validate() error {
	if c.LR <= 0 {
		return fmt.Errorf("lr = %v: must be positive", c.LR)
	}
	return nil
}

// fakeTrain "learns" a gain from the engine's generator and evaluates the
// policy a = -gain·x every EvalEvery steps, reporting a loss named like
// SAC's.
func fakeTrain(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg fakeConfig, rep algos.Reporter) error {
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return err
	}
	rng := engine.NewRNG(uint64(run.Seed))
	noise := eng.New(engine.Float32, 1)
	defer eng.Free(noise)
	host := make([]float32, 1)
	gain := float64(cfg.Gain)
	rows := 0
	for step := 1; step <= run.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		eng.RandNormal(noise, rng, 0, 1)
		eng.Download(host, noise)
		gain += cfg.LR * float64(host[0])
		if step%10 == 0 {
			rep.Progress(step)
		}
		if cfg.EpisodeRows && step%run.EvalEvery == 50 {
			nan := math.NaN()
			if err := rep.Record(algos.Row{EnvSteps: step,
				Names:  []string{"eval_return", "eval_return_std", "q_loss", "alpha"},
				Values: []float64{nan, nan, 1 / (gain + 1), float64(host[0])},
			}); err != nil {
				return err
			}
		}
		if step%run.EvalEvery != 0 && step != run.Steps {
			continue
		}
		g := gain
		mean, std, err := algos.Evaluate(ctx, evalEnv, func(obs []float64) []float64 { return []float64{-g * obs[0]} }, run.EvalEpisodes, run.Seed+1000)
		if err != nil {
			return err
		}
		if err := rep.Record(algos.Row{EnvSteps: step,
			Names:  []string{"eval_return", "eval_return_std", "q_loss", "alpha"},
			Values: []float64{mean, std, 1 / (gain + 1), float64(host[0])},
		}); err != nil {
			return err
		}
		rows++
		if cfg.Fail {
			return fmt.Errorf("fake failure")
		}
		if rows == cfg.InterruptAfter {
			if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return nil
}

func init() {
	env.Register(env.Registration{ID: fakeEnvID, Description: "test: a point on a line",
		New: func() env.Env { return &lineEnv{Episode: env.Episode{ID: fakeEnvID, MaxSteps: 20}} }})
	algorithms = append(algorithms, defineAlgorithm("fake", "a test algorithm", fakePreset, fakeConfig.Validate, fakeTrain))
}
