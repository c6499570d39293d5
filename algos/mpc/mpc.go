// Package mpc is model-predictive control through a learned probabilistic
// ensemble, PETS (Chua et al. 2018, "Deep Reinforcement Learning in a
// Handful of Trials using Probabilistic Dynamics Models") with its TS∞
// particles: at every environment step the cross-entropy method searches
// action sequences, each scored by particles propagated through ensemble
// members fixed for the horizon and by the environment's own reward, and
// the first action of the best is taken. There is no policy network; the
// model is the only thing learned.
//
// Train reads top to bottom as mbrl-lib's PETS loop does
// (mbrl/algorithms/pets.py): random episodes; after each episode train the
// dynamics model on every real transition (algos/mbpo's Dynamics: the
// ensemble, its bootstraps, holdout and early stopping); play the next
// episode replanning at every step (planner.go: Planner, TSInf; cem.go:
// CEM); evaluate. Every hyperparameter is in Config (config.go) with its
// default and source.
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build. The engine's Philox stream, seeded by
// RunConfig.Seed, initialises the model and draws its bootstraps and every
// particle's noise; the random actions, the CEM's samples, the particles'
// members and the model's holdout splits come from host-side Philox
// streams with keys derived from the seed.
package mpc

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order. Train records a Row at the end of every training episode and at
// every evaluation (one Row where both fall on a step); the columns of the
// one that did not happen are NaN.
//
//   - episode, episode_return, episode_steps: the number of training
//     episodes ended so far, and the return and length of the one that just
//     ended (the first InitialEpisodes are random, the rest MPC);
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     returns of RunConfig.EvalEpisodes MPC episodes with the current model
//     (each as costly as a training episode);
//   - model_holdout_mse, model_nll, model_epochs: of the latest model
//     training (see mbpo.ModelStats), NaN before the first;
//   - model_seconds, plan_seconds, wall_seconds: seconds spent since Train
//     started in model training, in planning the training episodes'
//     actions, and in all. Only these differ between two runs of one seed.
var Columns = []string{
	"episode", "episode_return", "episode_steps",
	"eval_return", "eval_return_std",
	"model_holdout_mse", "model_nll", "model_epochs",
	"model_seconds", "plan_seconds", "wall_seconds",
}

// Keys that separate the host-side Philox streams from the engine's.
const (
	exploreKey = 0x6d70_635f_0000_0001 // random actions
	cemKey     = 0x6d70_635f_0000_0002 // the training planner's CEM
	assignKey  = 0x6d70_635f_0000_0003 // particles' members
	evalKey    = 0x6d70_635f_0000_0004 // the evaluation planner's CEM
)

// Train runs MPC on run.Env for run.Steps environment steps with cfg,
// computing on eng, and reports to rep: Progress after every environment
// step, and Record with the columns of Columns after every training
// episode and every evaluation (after every run.EvalEvery steps and after
// the last step). It returns ctx.Err() as soon as ctx is cancelled, the
// first error of rep.Record, an error if the dynamics model diverges, or
// an error for an invalid configuration or an environment MPC cannot run
// on (a discrete or unbounded action space, or no reward and termination
// functions: env.Model).
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	start := time.Now()
	if err := run.Validate(); err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	model, ok := trainEnv.(env.Model)
	if !ok {
		return fmt.Errorf("mpc: %s does not give its reward and termination as functions (env.Model); the planner scores with them", run.Env)
	}
	actSpace := trainEnv.ActionSpace()
	if err := checkActionSpace(run.Env, actSpace); err != nil {
		return err
	}
	obsDim, actDim := trainEnv.ObservationSpace().Dim(), actSpace.Dim()

	// The model, the buffer and the planners. The engine's stream
	// initialises the model and then draws its bootstraps and the
	// particles' noise.
	rng := engine.NewRNG(uint64(run.Seed))
	realCap := min(cfg.BufferSize, run.Steps)
	dynamics, err := mbpo.NewDynamics(eng, cfg.modelConfig(), obsDim, actDim, realCap, rng, uint64(run.Seed))
	if err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	defer dynamics.Free()
	realBuf := replay.New(eng, realCap, obsDim, actDim)
	defer realBuf.Free()
	prop := NewTSInf(eng, dynamics.Model, obsDim, cfg.Population*cfg.Particles, rng, uint64(run.Seed)^assignKey)
	defer prop.Free()
	prop.SetMembers(dynamics.Elites)
	pcfg := PlannerConfig{
		Horizon: cfg.Horizon, Population: cfg.Population, Elites: cfg.CEMElites(),
		Iterations: cfg.Iterations, Particles: cfg.Particles, Alpha: cfg.Alpha,
		ActLow: actSpace.Low, ActHigh: actSpace.High, Seed: uint64(run.Seed) ^ cemKey,
	}
	planner, err := NewPlanner(eng, prop, model, obsDim, pcfg)
	if err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	defer planner.Free()
	// Evaluation plans with a planner of its own, so that an evaluation in
	// the middle of a training episode leaves that episode's warm start.
	pcfg.Seed = uint64(run.Seed) ^ evalKey
	evalPlanner, err := NewPlanner(eng, prop, model, obsDim, pcfg)
	if err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	defer evalPlanner.Free()
	explore := engine.NewRNG(uint64(run.Seed) ^ exploreKey)

	var (
		episode    int64
		obs        = trainEnv.Reset(run.Seed)
		epReturn   float64
		epSteps    int
		t          replay.Transitions // one transition, reused every step
		act32      = make([]float32, actDim)
		modelStats = mbpo.ModelStats{EliteMSE: math.NaN(), EliteNLL: math.NaN()}
		modelSec   float64
		planSec    float64
	)
	for step := 1; step <= run.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Act: uniformly random actions in the first episodes, then the
		// first action of a plan.
		var a []float64
		if episode < int64(cfg.InitialEpisodes) {
			a = randomAction(actSpace, explore)
		} else {
			t0 := time.Now()
			a = planner.Plan(obs)
			planSec += time.Since(t0).Seconds()
		}
		next, reward, terminated, truncated := trainEnv.Step(a)
		epReturn += reward
		epSteps++
		for j, v := range a {
			act32[j] = float32(v)
		}
		t.Set(obs, act32, reward, next, terminated)
		realBuf.Add(t)
		obs = next

		row := nanRow()
		ended := terminated || truncated
		if ended {
			episode++
			row[0], row[1], row[2] = float64(episode), epReturn, float64(epSteps)
			// Model: retrained on every real transition before each MPC
			// episode (mbrl-lib pets.py trains at the start of each trial).
			if episode >= int64(cfg.InitialEpisodes) && realBuf.Len() >= 2 {
				t0 := time.Now()
				modelStats, err = dynamics.Train(realBuf, rng)
				if err != nil {
					return fmt.Errorf("mpc: model training after episode %d: %w", episode, err)
				}
				prop.SetMembers(dynamics.Elites)
				modelSec += time.Since(t0).Seconds()
			}
			epReturn, epSteps = 0, 0
			planner.Reset()
			obs = trainEnv.Reset(run.Seed + episode)
		}
		rep.Progress(step)

		evaluate := step%run.EvalEvery == 0 || step == run.Steps
		if evaluate {
			mean, std, err := algos.Evaluate(ctx, resetting{evalEnv, evalPlanner}, evalPlanner.Plan, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			row[3], row[4] = mean, std
		}
		if ended || evaluate {
			if modelStats.Epochs > 0 {
				row[5], row[6], row[7] = modelStats.EliteMSE, modelStats.EliteNLL, float64(modelStats.Epochs)
			}
			row[8], row[9], row[10] = modelSec, planSec, time.Since(start).Seconds()
			if err := rep.Record(algos.Row{EnvSteps: step, Names: Columns, Values: row}); err != nil {
				return fmt.Errorf("mpc: record at step %d: %w", step, err)
			}
		}
	}
	return nil
}

// nanRow returns a row of Columns' length holding NaN.
func nanRow() []float64 {
	row := make([]float64, len(Columns))
	for i := range row {
		row[i] = math.NaN()
	}
	return row
}

// resetting is an environment whose Reset also resets a planner's warm
// start, so that every evaluation episode plans from scratch.
type resetting struct {
	env.Env
	planner *Planner
}

func (r resetting) Reset(seed int64) []float64 {
	r.planner.Reset()
	return r.Env.Reset(seed)
}

// randomAction returns an action drawn uniformly from the box space, from
// the host stream rng.
func randomAction(space env.Space, rng *engine.RNG) []float64 {
	a := make([]float64, space.Dim())
	start := rng.Take(len(a))
	for j := range a {
		a[j] = float64(engine.UniformAt(rng.Seed, start, j, float32(space.Low[j]), float32(space.High[j])))
	}
	return a
}

// checkActionSpace returns an error unless space is a Box with finite
// bounds, low < high: CEM searches within it.
func checkActionSpace(id string, space env.Space) error {
	if space.Discrete {
		return fmt.Errorf("mpc: %s has a discrete action space %v; CEM needs a Box", id, space)
	}
	for i := range space.Low {
		lo, hi := space.Low[i], space.High[i]
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			return fmt.Errorf("mpc: %s: action bounds [%g, %g] of element %d must be finite with low < high for CEM's search box", id, lo, hi, i)
		}
	}
	return nil
}
