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
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
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
// first error of rep.Record, an error if the dynamics model diverges, an
// algos.DivergedError when a planned action is NaN or infinite, or an
// error for an invalid configuration or an environment MPC cannot run on
// (a discrete or unbounded action space, or no reward and termination
// functions: env.Model).
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints, whether it falls within an episode
// or between two, reports the same rows, the columns measured in seconds
// apart, as the run that was never interrupted.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
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
	planner, err := newPlanner(eng, cfg, prop, model, obsDim, actSpace, uint64(run.Seed)^cemKey)
	if err != nil {
		return err
	}
	defer planner.Free()
	// Evaluation plans with a planner of its own, so that an evaluation in
	// the middle of a training episode leaves that episode's warm start.
	evalPlanner, err := newPlanner(eng, cfg, prop, model, obsDim, actSpace, uint64(run.Seed)^evalKey)
	if err != nil {
		return err
	}
	defer evalPlanner.Free()
	explore := engine.NewRNG(uint64(run.Seed) ^ exploreKey)

	var (
		episodes   = algos.NewEpisodes(trainEnv, run.Seed)
		epSteps    int
		t          replay.Transitions // one transition, reused every step
		act32      = make([]float32, actDim)
		modelStats = mbpo.ModelStats{EliteMSE: math.NaN(), EliteNLL: math.NaN()}
		modelSec   float64
		planSec    float64
	)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the model, the real buffer, the generators (the
	// engine's, the random actions', the particles' members' and both
	// planners' CEM streams; the model's own host stream is the model's),
	// the training planner's warm start, the training episodes (the
	// environment included) with the steps of the one in progress, the
	// latest model training's statistics and the seconds spent so far.
	// The particles' members follow from the model's elites.
	save := func(s *checkpoint.State) error {
		dynamics.Save(s, "model.")
		realBuf.Save(s, "replay")
		s.PutRNG("rng", rng)
		s.PutRNG("explore", explore)
		prop.Save(s, "particles")
		planner.Save(s, "planner")
		evalPlanner.Save(s, "eval_planner")
		modelStats.Save(s, "model_stats")
		s.PutFloats("seconds", []float64{modelSec, planSec})
		if err := s.PutValue("episode_steps", epSteps); err != nil {
			return err
		}
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("mpc: %w", err)
	} else if s != nil {
		if err := errors.Join(dynamics.Load(s, "model."), realBuf.Load(s, "replay"),
			s.RNG("rng", rng), s.RNG("explore", explore), prop.Load(s, "particles"),
			planner.Load(s, "planner"), evalPlanner.Load(s, "eval_planner"),
			modelStats.Load(s, "model_stats"), loadFloats(s, "seconds", &modelSec, &planSec),
			s.Value("episode_steps", &epSteps), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("mpc: resume: %w", err)
		}
		if epSteps < 0 {
			return fmt.Errorf("mpc: resume: checkpoint value \"episode_steps\" is %d, a negative count", epSteps)
		}
		prop.SetMembers(dynamics.Elites)
		from = step
	}

	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}
		// Act: uniformly random actions in the first episodes, then the
		// first action of a plan.
		obs := episodes.Obs
		var a []float64
		if episodes.Ended < int64(cfg.InitialEpisodes) {
			a = randomAction(actSpace, explore)
		} else {
			t0 := time.Now()
			a = planner.Plan(obs)
			planSec += time.Since(t0).Seconds()
		}
		for j, v := range a {
			act32[j] = float32(v)
		}
		if err := algos.CheckAction(step, act32, rep); err != nil {
			return fmt.Errorf("mpc: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(a)
		epReturn := episodes.Return + reward
		epSteps++
		t.Set(obs, act32, reward, next, terminated)
		realBuf.Add(t)
		ended := terminated || truncated
		episodes.Step(next, reward, ended)

		row := nanRow()
		if ended {
			row[0], row[1], row[2] = float64(episodes.Ended), epReturn, float64(epSteps)
			// Model: retrained on every real transition before each MPC
			// episode (mbrl-lib pets.py trains at the start of each trial).
			if episodes.Ended >= int64(cfg.InitialEpisodes) && realBuf.Len() >= 2 {
				t0 := time.Now()
				modelStats, err = dynamics.Train(realBuf, rng)
				if err != nil {
					return fmt.Errorf("mpc: model training after episode %d: %w", episodes.Ended, err)
				}
				prop.SetMembers(dynamics.Elites)
				modelSec += time.Since(t0).Seconds()
			}
			epSteps = 0
			planner.Reset()
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		evaluate := step%run.EvalEvery == 0 || step == run.Steps
		if evaluate {
			mean, std, err := algos.Evaluate(context.WithoutCancel(ctx), algos.OnReset(evalEnv, evalPlanner.Reset), evalPlanner.Plan, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			row[3], row[4] = mean, std
		}
		if ended || evaluate {
			if modelStats.Epochs > 0 {
				row[5], row[6], row[7] = modelStats.EliteMSE, modelStats.EliteNLL, float64(modelStats.Epochs)
				if err := algos.CheckFinite(step, Columns[5:7], row[5:7], rep); err != nil {
					return fmt.Errorf("mpc: %w", err)
				}
			}
			row[8], row[9], row[10] = modelSec, planSec, saver.Elapsed()
			if err := rep.Record(algos.Row{EnvSteps: step, Names: Columns, Values: row}); err != nil {
				return fmt.Errorf("mpc: record at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("mpc: %w", err)
		}
	}
	return nil
}

// newPlanner returns cfg's planner through prop, scoring with model's
// reward and termination within actSpace, its CEM drawing from the host
// Philox stream of seed.
func newPlanner(eng engine.Engine, cfg Config, prop Propagator, model env.Model, obsDim int, actSpace env.Space, seed uint64) (*Planner, error) {
	p, err := NewPlanner(eng, prop, model, obsDim, PlannerConfig{
		Horizon: cfg.Horizon, Population: cfg.Population, Elites: cfg.CEMElites(),
		Iterations: cfg.Iterations, Particles: cfg.Particles, Alpha: cfg.Alpha,
		ActLow: actSpace.Low, ActHigh: actSpace.High, Seed: seed,
	})
	if err != nil {
		return nil, fmt.Errorf("mpc: %w", err)
	}
	return p, nil
}

// nanRow returns a row of Columns' length holding NaN.
func nanRow() []float64 {
	row := make([]float64, len(Columns))
	for i := range row {
		row[i] = math.NaN()
	}
	return row
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
