// Package mbpo is Model-Based Policy Optimization (Janner et al. 2019,
// "When to Trust Your Model: Model-Based Policy Optimization"): SAC trained
// mostly on short rollouts of a learned probabilistic ensemble dynamics
// model that branch from real states, following the official code
// jannerm/mbpo wherever it and mbrl-lib differ.
//
// Train reads top to bottom as the official loop does (mbpo/algorithms/
// mbpo.py _train): random steps; then, every ModelTrainFreq steps, train the
// model on the real buffer (model.go) and roll it out from real states into
// the model buffer (rollout.go); take an environment step with the policy;
// take UpdatesPerStep SAC updates on minibatches mixing the two buffers at
// RealRatio; evaluate. Every hyperparameter is in Config (config.go) with its
// default and source, and per-environment adjustments are in one table
// (presets.yaml, embedded). The rollouts' actions come from the policy, as MBPO's do,
// or, as the general Dyna recipe allows, from the real buffer or at random
// (Config.RolloutActions; docs/dyna.md maps every setting to the recipe).
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build, unless Config.ModelMaxSeconds caps model training by
// the clock. The engine's Philox stream, seeded by RunConfig.Seed,
// initialises the networks and draws the model's bootstraps, every
// minibatch, the rollouts' start states, all policy and model noise and
// the rollouts' random actions (Config.RolloutActions "random"); the
// random actions of the initial steps and the model's holdout splits and
// reshuffles come from host-side Philox streams with keys derived from the
// seed. Apart from the columns measured in seconds, two runs with the same
// inputs report the same numbers bit for bit.
package mbpo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order:
//
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     returns of RunConfig.EvalEpisodes episodes of the deterministic policy
//     tanh(μ);
//   - train_return: the mean return of the training episodes that ended
//     since the previous evaluation (NaN if none did);
//   - q_loss, actor_loss, alpha, entropy: as algos/sac reports them, means
//     over the SAC updates since the previous evaluation (NaN if none);
//   - model_holdout_mse, model_nll, model_epochs: of the latest model
//     training, the elites' mean holdout MSE and Gaussian NLL per target
//     dimension in standardised units (see ModelStats) and its epochs (NaN
//     before the first);
//   - rollout_length, model_buffer_size: the latest rollout length and the
//     transitions in the model buffer;
//   - model_seconds, rollout_seconds, sac_seconds, wall_seconds: seconds
//     spent since Train started in model training, in rollouts, in SAC
//     updates, and in all. Only these four differ between two runs of one
//     seed.
var Columns = []string{
	"eval_return", "eval_return_std", "train_return",
	"q_loss", "actor_loss", "alpha", "entropy",
	"model_holdout_mse", "model_nll", "model_epochs",
	"rollout_length", "model_buffer_size",
	"model_seconds", "rollout_seconds", "sac_seconds", "wall_seconds",
}

// TimeColumns are the columns of Columns measured by the clock.
var TimeColumns = []string{"model_seconds", "rollout_seconds", "sac_seconds", "wall_seconds"}

// Train runs MBPO on run.Env for run.Steps environment steps with cfg,
// computing on eng, and reports to rep: Progress after every environment
// step, and Record with the columns of Columns after every run.EvalEvery
// steps and after the last step. It returns ctx.Err() as soon as ctx is
// cancelled, the first error of rep.Record, an error if the dynamics model
// diverges, an algos.DivergedError when a loss turns NaN or infinite or the
// policy's action does, or an error for an invalid configuration or an
// environment MBPO cannot run on (a discrete or unbounded action space, or
// no termination rule as a box on the observation: env.Model).
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, the columns
// measured in seconds (TimeColumns) apart, as the run that was never
// interrupted.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	schedule, _ := ParseSchedule(cfg.RolloutSchedule)
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	obsDim := trainEnv.ObservationSpace().Dim()
	actSpace := trainEnv.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, actSpace); err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	actDim := actSpace.Dim()
	termination, err := terminationOf(run.Env, trainEnv)
	if err != nil {
		return err
	}

	// The networks, the buffers and the scratch of acting. One Philox
	// stream initialises SAC's networks, then the model, and then draws
	// everything else on the device.
	rng := engine.NewRNG(uint64(run.Seed))
	agent, err := sac.NewAgent(eng, cfg.SAC, obsDim, actDim, rng)
	if err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	defer agent.Free()
	realCap := min(cfg.SAC.BufferSize, run.Steps)
	dynamics, err := NewDynamics(eng, cfg, obsDim, actDim, realCap, rng, uint64(run.Seed))
	if err != nil {
		return fmt.Errorf("mbpo: %w", err)
	}
	defer dynamics.Free()
	realBuf := replay.New(eng, realCap, obsDim, actDim)
	defer realBuf.Free()
	modelBuf := NewModelBuffer(eng, obsDim, actDim)
	defer modelBuf.Free()
	rollout := NewRollout(eng, dynamics.Model, agent.Policy(), RolloutSpec{
		Obs: obsDim, Act: actDim, Termination: termination, MaxBatch: cfg.RolloutBatchSize,
		Actions: cfg.RolloutActions,
	})
	defer rollout.Free()
	starts := newStarts(eng, cfg.RolloutBatchSize, obsDim, actDim, cfg.RolloutActions == ActionsFromBuffer)
	defer starts.free(eng)
	batch := replay.NewBatch(eng, cfg.SAC.BatchSize, obsDim, actDim)
	defer batch.Free(eng)
	explore := engine.NewRNG(uint64(run.Seed) ^ sac.ExploreKey)
	act := sac.NewActor(eng, agent, actSpace, obsDim)
	defer act.Free()

	var (
		episodes   = algos.NewEpisodes(trainEnv, run.Seed)
		t          replay.Transitions // one transition, reused every step
		modelStats = ModelStats{EliteMSE: math.NaN(), EliteNLL: math.NaN()}
		rolloutLen int
		modelSec   float64
		rolloutSec float64
		sacSec     float64
		useModel   = cfg.RealRatio < 1 // as jannerm: real_ratio 1 is SAC
	)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the agent, the model, both buffers, the three
	// generators (the model's own host stream is the model's), the
	// training episodes (the environment included), the latest model
	// training's statistics and the seconds spent so far. The rollout
	// length and the model buffer's capacity follow from the step.
	save := func(s *checkpoint.State) error {
		agent.Save(s, "agent.")
		dynamics.Save(s, "model.")
		realBuf.Save(s, "replay")
		modelBuf.Save(s, "model_replay")
		s.PutRNG("rng", rng)
		s.PutRNG("explore", explore)
		modelStats.Save(s, "model_stats")
		s.PutFloats("seconds", []float64{modelSec, rolloutSec, sacSec})
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("mbpo: %w", err)
	} else if s != nil {
		// The rollout length in force after step is that of its last
		// model training, which sized the model buffer.
		capacity := 0
		if last := step - 1 - cfg.InitialSteps; useModel && last >= 0 {
			rolloutLen = schedule.Length(last / cfg.ModelTrainFreq * cfg.ModelTrainFreq / cfg.EpochLength)
			capacity = ModelBufferCapacity(cfg.RolloutBatchSize, rolloutLen, cfg.EpochLength, cfg.ModelTrainFreq, cfg.RetainEpochs)
		}
		if err := errors.Join(agent.Load(s, "agent."), dynamics.Load(s, "model."),
			realBuf.Load(s, "replay"), modelBuf.Load(s, "model_replay", capacity),
			s.RNG("rng", rng), s.RNG("explore", explore), modelStats.Load(s, "model_stats"),
			loadFloats(s, "seconds", &modelSec, &rolloutSec, &sacSec), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("mbpo: resume: %w", err)
		}
		from = step
	}

	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}
		// Steps after the initial ones count from 0: the official
		// _timestep within an epoch, and _epoch.
		learning := step > cfg.InitialSteps
		timestep := step - 1 - cfg.InitialSteps

		// Model: every ModelTrainFreq steps, before the environment step,
		// train the model on all real data, set the rollout length for
		// this epoch, resize the model buffer to hold RetainEpochs epochs
		// of rollouts of that length, and roll out from real states.
		if learning && useModel && timestep%cfg.ModelTrainFreq == 0 {
			t0 := time.Now()
			modelStats, err = dynamics.Train(realBuf, rng)
			if err != nil {
				return fmt.Errorf("mbpo: model training at step %d: %w", step, err)
			}
			modelSec += time.Since(t0).Seconds()

			t0 = time.Now()
			rolloutLen = schedule.Length(timestep / cfg.EpochLength)
			modelBuf.Resize(ModelBufferCapacity(cfg.RolloutBatchSize, rolloutLen, cfg.EpochLength, cfg.ModelTrainFreq, cfg.RetainEpochs))
			modelBuf.Added(starts.rollout(eng, rollout, realBuf, rolloutLen, dynamics.Elites, rng, modelBuf.Buffer))
			eng.Sync()
			rolloutSec += time.Since(t0).Seconds()
		}

		// Act: uniformly random actions during the initial steps, then a
		// sample of the policy. a is in (−1, 1); the environment gets it
		// rescaled to its bounds, and the buffers and the model keep a.
		var a []float32
		if !learning {
			a = act.Random(explore)
		} else {
			a = act.Sample(episodes.Obs, rng)
		}
		if err := algos.CheckAction(step, a, rep); err != nil {
			return fmt.Errorf("mbpo: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(act.Rescale(a))

		// Store the transition; a truncated episode's last transition is
		// stored as not terminated, so that it bootstraps.
		t.Set(episodes.Obs, a, reward, next, terminated)
		realBuf.Add(t)
		episodes.Step(next, reward, terminated || truncated)

		// Learn: UpdatesPerStep SAC updates on minibatches of which
		// int(RealRatio·batch) rows are real and the rest imagined.
		if learning && cfg.UpdatesPerStep > 0 {
			t0 := time.Now()
			mix := replay.Mixture{Real: realBuf, Model: modelBuf.Buffer, RealRatio: cfg.RealRatio}
			for range cfg.UpdatesPerStep {
				if useModel {
					mix.Sample(batch, rng)
				} else {
					realBuf.Sample(batch, rng)
				}
				agent.Update(batch, rng)
			}
			eng.Sync()
			sacSec += time.Since(t0).Seconds()
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, err := algos.Evaluate(context.WithoutCancel(ctx), evalEnv, act.Mode, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			qLoss, actorLoss, alpha, entropy := agent.TakeMetrics()
			if learning && cfg.UpdatesPerStep > 0 {
				// Every step since learning started took SAC updates.
				if err := algos.CheckFinite(step, Columns[3:7], []float64{qLoss, actorLoss, alpha, entropy}, rep); err != nil {
					return fmt.Errorf("mbpo: %w", err)
				}
			}
			epochs := math.NaN()
			if modelStats.Epochs > 0 {
				epochs = float64(modelStats.Epochs)
				if err := algos.CheckFinite(step, Columns[7:9], []float64{modelStats.EliteMSE, modelStats.EliteNLL}, rep); err != nil {
					return fmt.Errorf("mbpo: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, episodes.TakeMeanReturn(),
				qLoss, actorLoss, alpha, entropy,
				modelStats.EliteMSE, modelStats.EliteNLL, epochs,
				float64(rolloutLen), float64(modelBuf.Len()),
				modelSec, rolloutSec, sacSec, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("mbpo: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("mbpo: %w", err)
		}
	}
	return nil
}

// terminationOf returns e's termination rule as a box on the observation,
// which model rollouts evaluate on the device, or an error if e has none.
func terminationOf(id string, e env.Env) (env.Termination, error) {
	m, ok := e.(env.Model)
	if !ok {
		return env.Termination{}, fmt.Errorf("mbpo: %s does not give its termination rule as data (env.Model); model rollouts need it", id)
	}
	t := m.Termination()
	if !t.IsBox() {
		return t, fmt.Errorf("mbpo: %s's termination rule is %v, not a box on the observation; model rollouts evaluate only boxes", id, t.Kind)
	}
	return t, nil
}

// starts holds the start states of a batch of rollouts, drawn uniformly
// with replacement from the real buffer (jannerm: sampler.random_batch),
// and, for rollouts whose first actions come from the buffer, the actions
// stored with them.
type starts struct {
	idx *engine.Tensor // Int32 [B]
	obs *engine.Tensor // [B, Obs]
	act *engine.Tensor // [B, Act], or nil where the actions are not the buffer's
}

// newStarts allocates the start rows of rollouts of n start states, with
// their actions when withActions.
func newStarts(eng engine.Engine, n, obsDim, actDim int, withActions bool) *starts {
	s := &starts{idx: eng.New(engine.Int32, n), obs: eng.New(engine.Float32, n, obsDim)}
	if withActions {
		s.act = eng.New(engine.Float32, n, actDim)
	}
	return s
}

// rollout draws the start rows from real with one RandInt and a Gather of
// the states (and of the actions stored with them, with the same indices),
// and rolls the model out from them for horizon steps into into, returning
// the transitions added (Rollout.Run).
func (s *starts) rollout(eng engine.Engine, r *Rollout, real *replay.Buffer, horizon int, elites []int, rng *engine.RNG, into *replay.Buffer) int {
	eng.RandInt(s.idx, rng, real.Len())
	eng.Gather(s.obs, real.Obs, s.idx)
	if s.act == nil {
		return r.Run(s.obs, horizon, elites, rng, into)
	}
	eng.Gather(s.act, real.Act, s.idx)
	return r.RunWithActions(s.obs, s.act, horizon, elites, rng, into)
}

func (s *starts) free(eng engine.Engine) {
	eng.Free(s.idx)
	eng.Free(s.obs)
	if s.act != nil {
		eng.Free(s.act)
	}
}

// ModelBuffer is MBPO's model replay buffer: a replay.Buffer ring whose
// capacity follows the rollout length (jannerm, mbpo.py
// _reallocate_model_pool). It is allocated by the first Resize.
type ModelBuffer struct {
	*replay.Buffer
	eng            engine.Engine
	obsDim, actDim int
	added          int // transitions added to Buffer since it was allocated
}

// NewModelBuffer returns an empty model buffer for observations of obsDim
// and actions of actDim elements; Resize allocates it.
func NewModelBuffer(eng engine.Engine, obsDim, actDim int) *ModelBuffer {
	return &ModelBuffer{eng: eng, obsDim: obsDim, actDim: actDim}
}

// Len returns the number of transitions held (0 before the first Resize).
func (m *ModelBuffer) Len() int {
	if m.Buffer == nil {
		return 0
	}
	return m.Buffer.Len()
}

// Resize makes the capacity capacity, keeping the newest transitions, as
// many as fit, in their order (the official pool keeps its samples across
// a reallocation). It does nothing when the capacity is already that.
func (m *ModelBuffer) Resize(capacity int) {
	old, oldAdded := m.Buffer, m.added
	if old != nil && old.Cap() == capacity {
		return
	}
	m.Buffer, m.added = replay.New(m.eng, capacity, m.obsDim, m.actDim), 0
	if old == nil {
		return
	}
	// Oldest first: where the ring is full its oldest row is the next one
	// to be written, at the count of rows added modulo the capacity.
	n, first := old.Len(), 0
	if n == old.Cap() {
		first = oldAdded % n
	}
	m.copyRows(old, first, n-first)
	m.copyRows(old, 0, first)
	old.Free()
}

// Added records that n transitions were added to Buffer directly (by
// Rollout.Run), so that Resize knows where the ring's oldest row is.
func (m *ModelBuffer) Added(n int) { m.added += n }

// copyRows appends rows [from, from+n) of src to the buffer.
func (m *ModelBuffer) copyRows(src *replay.Buffer, from, n int) {
	if n == 0 {
		return
	}
	view := func(t *engine.Tensor) *engine.Tensor { w := t.Dim(1); return t.View(from*w, n, w) }
	m.Buffer.AddDevice(&replay.Batch{
		Obs: view(src.Obs), Act: view(src.Act), Reward: view(src.Reward),
		NextObs: view(src.NextObs), Terminated: view(src.Terminated),
	})
	m.added += n
}

// Free releases the buffer's device memory.
func (m *ModelBuffer) Free() {
	if m.Buffer != nil {
		m.Buffer.Free()
		m.Buffer = nil
	}
}
