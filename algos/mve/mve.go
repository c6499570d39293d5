// Package mve is model-based value expansion on a DDPG/TD3 base learner
// (algos/ddpg): MVE (Feinberg et al. 2018), whose critics regress towards
// targets of H imagined steps of a learned model at every imagined state
// (the TD-k trick; Config.TDK, off in the Pendulum-v1 preset, regresses at
// the real transition only), and STEVE (Buckman et al. 2018), which weighs the
// candidate targets of every horizon 0 … H by the inverse of their variance
// over samples of the dynamics and of Q. The learned model is algos/mbpo's
// ensemble (mbpo.Dynamics), trained on the real buffer on a schedule like
// MBPO's; the reward and the termination of imagined transitions are the
// environment's own (env.Model).
//
// Train reads top to bottom like the other loops: train the model when due,
// act, store the transition, take the gradient steps (agent.go), evaluate.
// Every hyperparameter is in Config (config.go) with its default and
// source, and per-environment adjustments are in one table (presets.yaml, embedded).
// Preset is MVE's and PresetSTEVE STEVE's, so that `imago train --algo
// mve` and `--algo steve` are one table entry each.
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build. The engine's Philox stream, seeded by RunConfig.Seed,
// initialises the base learner's networks, then the model, and draws every
// minibatch, the model's bootstraps, MVE's hypotheses and all noise; the
// random actions of the first steps come from algos/sac's key
// (sac.ExploreKey) and the model's holdout splits and reshuffles from
// algos/mbpo's host-side stream. Apart from the columns measured in
// seconds, two runs with the same inputs report the same numbers bit for
// bit. With horizon 0 no model is made or trained and a run reports
// algos/ddpg's numbers for cfg.DDPG bit for bit.
package mve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order:
//
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     returns of RunConfig.EvalEpisodes episodes of the deterministic policy;
//   - train_return: the mean return of the training episodes that ended
//     since the previous evaluation (NaN if none did);
//   - q_loss, actor_loss: as algos/ddpg reports them (q_loss is the TD-k
//     loss for MVE), means over the updates since the previous evaluation
//     (NaN if none);
//   - expansion: the mean expansion the targets used since the previous
//     evaluation: for MVE the imagined steps in a real transition's target
//     (the horizon, less where rollouts terminated; with td_k, also the
//     imagined pairs regressed per real transition), for STEVE the
//     weighted mean horizon Σ_i i·w_i (NaN with horizon 0 or no updates);
//   - model_holdout_mse, model_nll, model_epochs: of the latest model
//     training, as algos/mbpo reports them (NaN before the first);
//   - model_seconds, update_seconds, wall_seconds: seconds spent since
//     Train started in model training, in gradient steps, and in all. Only
//     these three differ between two runs of one seed.
var Columns = []string{
	"eval_return", "eval_return_std", "train_return",
	"q_loss", "actor_loss", "expansion",
	"model_holdout_mse", "model_nll", "model_epochs",
	"model_seconds", "update_seconds", "wall_seconds",
}

// TimeColumns are the columns of Columns measured by the clock.
var TimeColumns = []string{"model_seconds", "update_seconds", "wall_seconds"}

// Train runs MVE or STEVE (cfg.Method) on run.Env for run.Steps environment
// steps with cfg, computing on eng, and reports to rep: Progress after
// every environment step, and Record with the columns of Columns after
// every run.EvalEvery steps and after the last step. The model is trained
// on all real transitions just before the first gradient step (after
// cfg.DDPG.LearningStarts random steps) and every cfg.ModelTrainFreq steps
// after it. Train returns ctx.Err() as soon as ctx is cancelled, the first
// error of rep.Record, an error if the model diverges, an
// algos.DivergedError when the critics' loss or the policy's action turns
// NaN or infinite, or an error for an invalid configuration or an
// environment value expansion cannot run on (a discrete or unbounded action
// space, or no reward function and termination box as data: env.Model).
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, the columns
// measured in seconds (TimeColumns) apart, as the run that was never
// interrupted.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	return train(ctx, eng, run, cfg, rep, nil)
}

// modelFunc makes a Model for observations of obs and actions of act
// elements and batches of up to rows rows.
type modelFunc func(eng engine.Engine, obs, act, rows int) Model

// train is Train with, when newModel is not nil, the model it makes in
// place of the learned one (which is then neither made nor trained, and
// the model columns are NaN): the tests give it the true dynamics, to
// separate the model's error from the targets'.
func train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter, newModel modelFunc) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	obsDim := trainEnv.ObservationSpace().Dim()
	actSpace := trainEnv.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, actSpace); err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	actDim := actSpace.Dim()
	envModel, ok := trainEnv.(env.Model)
	if !ok {
		return fmt.Errorf("mve: %s does not give its reward function and termination rule as data (env.Model); value expansion needs them", run.Env)
	}
	if t := envModel.Termination(); !t.IsBox() {
		return fmt.Errorf("mve: %s's termination rule is %v, not a box on the observation; value expansion evaluates only boxes", run.Env, t.Kind)
	}

	// The networks, the model, the buffer and the scratch of acting. One
	// Philox stream initialises the base learner's networks, then the
	// model, and then draws everything else on the device.
	rng := engine.NewRNG(uint64(run.Seed))
	base, err := ddpg.NewAgent(eng, cfg.DDPG, obsDim, actDim, rng)
	if err != nil {
		return fmt.Errorf("mve: %w", err)
	}
	defer base.Free()
	realCap := min(cfg.DDPG.BufferSize, run.Steps)
	var (
		dynamics *mbpo.Dynamics
		model    Model
	)
	rows := cfg.DDPG.BatchSize
	if cfg.Method == MethodSTEVE {
		rows *= cfg.Elites
	}
	switch {
	case cfg.Horizon > 0 && newModel != nil:
		model = newModel(eng, obsDim, actDim, rows)
	case cfg.Horizon > 0:
		dynamics, err = mbpo.NewDynamics(eng, cfg.dynamics(), obsDim, actDim, realCap, rng, uint64(run.Seed))
		if err != nil {
			return fmt.Errorf("mve: %w", err)
		}
		defer dynamics.Free()
		m := NewEnsembleModel(eng, dynamics, obsDim, actDim, rows)
		defer m.Free()
		model = m
	}
	agent, err := NewAgent(eng, cfg, base, model, envModel, actSpace)
	if err != nil {
		return err
	}
	defer agent.Free()
	buffer := replay.New(eng, realCap, obsDim, actDim)
	defer buffer.Free()
	batch := replay.NewBatch(eng, cfg.DDPG.BatchSize, obsDim, actDim)
	defer batch.Free(eng)
	explore := engine.NewRNG(uint64(run.Seed) ^ sac.ExploreKey)
	actor := ddpg.NewActor(eng, base.Policy(), actSpace, cfg.DDPG.ExplorationNoise)
	defer actor.Free()

	var (
		episodes   = algos.NewEpisodes(trainEnv, run.Seed)
		tr         replay.Transitions // one transition, reused every step
		modelStats = mbpo.ModelStats{EliteMSE: math.NaN(), EliteNLL: math.NaN()}
		modelSec   float64
		updateSec  float64
	)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the agent (the base learner's networks under
	// "agent.", as algos/ddpg saves them), the learned model, the real
	// buffer, both generators (the model's own host stream is the
	// model's), the training episodes (the environment included), the
	// latest model training's statistics and the seconds spent so far.
	save := func(s *checkpoint.State) error {
		agent.Save(s, "agent.")
		if dynamics != nil {
			dynamics.Save(s, "model.")
		}
		buffer.Save(s, "replay")
		s.PutRNG("rng", rng)
		s.PutRNG("explore", explore)
		modelStats.Save(s, "model_stats")
		s.PutFloats("seconds", []float64{modelSec, updateSec})
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("mve: %w", err)
	} else if s != nil {
		var model error
		if dynamics != nil {
			model = dynamics.Load(s, "model.")
		}
		if err := errors.Join(agent.Load(s, "agent."), model, buffer.Load(s, "replay"),
			s.RNG("rng", rng), s.RNG("explore", explore), modelStats.Load(s, "model_stats"),
			loadFloats(s, "seconds", &modelSec, &updateSec), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("mve: resume: %w", err)
		}
		from = step
	}

	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}
		learning := step > cfg.DDPG.LearningStarts

		// Model: before the first gradient step and every ModelTrainFreq
		// steps after it, train on all real transitions.
		if learning && dynamics != nil && (step-1-cfg.DDPG.LearningStarts)%cfg.ModelTrainFreq == 0 {
			t0 := time.Now()
			modelStats, err = dynamics.Train(buffer, rng)
			if err != nil {
				return fmt.Errorf("mve: model training at step %d: %w", step, err)
			}
			modelSec += time.Since(t0).Seconds()
		}

		// Act: uniformly random actions until learning starts, then the
		// policy's action with exploration noise, in [−1, 1]; the
		// environment gets it rescaled to its bounds.
		var a []float32
		if !learning {
			a = actor.Random(explore)
		} else {
			a = actor.Explore(episodes.Obs, rng)
		}
		if err := algos.CheckAction(step, a, rep); err != nil {
			return fmt.Errorf("mve: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(actor.Rescale(a))

		// Store the transition; a truncated episode's last transition is
		// stored as not terminated, so that it bootstraps.
		tr.Set(episodes.Obs, a, reward, next, terminated)
		buffer.Add(tr)
		episodes.Step(next, reward, terminated || truncated)

		// Learn: UpdatesPerStep value-expansion updates on uniform
		// minibatches of real transitions.
		if learning {
			t0 := time.Now()
			for range cfg.DDPG.UpdatesPerStep {
				buffer.Sample(batch, rng)
				agent.Update(batch, rng)
			}
			eng.Sync()
			updateSec += time.Since(t0).Seconds()
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, err := algos.Evaluate(context.WithoutCancel(ctx), evalEnv, actor.Mode, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			qLoss, actorLoss, expansion := agent.TakeMetrics()
			if learning {
				// The actor's loss may be NaN by definition (no actor
				// step yet, TD3's delay), and so may the expansion
				// (horizon 0): only the critics' loss is checked, as
				// algos/ddpg checks it.
				if err := algos.CheckFinite(step, Columns[3:4], []float64{qLoss}, rep); err != nil {
					return fmt.Errorf("mve: %w", err)
				}
			}
			epochs := math.NaN()
			if modelStats.Epochs > 0 {
				epochs = float64(modelStats.Epochs)
				if err := algos.CheckFinite(step, Columns[6:8], []float64{modelStats.EliteMSE, modelStats.EliteNLL}, rep); err != nil {
					return fmt.Errorf("mve: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, episodes.TakeMeanReturn(),
				qLoss, actorLoss, expansion,
				modelStats.EliteMSE, modelStats.EliteNLL, epochs,
				modelSec, updateSec, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("mve: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("mve: %w", err)
		}
	}
	return nil
}
