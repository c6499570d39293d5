// Package sac is Soft Actor-Critic (Haarnoja et al. 2018, "Soft
// Actor-Critic Algorithms and Applications") for environments with a
// bounded Box action space: twin Q networks with Polyak-averaged targets, a
// tanh-squashed Gaussian policy and an automatically tuned entropy
// temperature, trained from a replay buffer on the engine's device.
//
// Train reads top to bottom like CleanRL's sac_continuous_action.py: act,
// store the transition, take the gradient steps (update.go), evaluate. Every
// hyperparameter is in Config (config.go) with its default and source, and
// per-environment adjustments are in one table (presets.yaml, embedded).
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build. The engine's Philox stream, seeded by RunConfig.Seed,
// initialises the networks and draws every minibatch and all policy noise;
// the random actions before learning starts come from a second Philox key
// computed on the host. Apart from the wall_seconds column, two runs with the
// same inputs report the same numbers bit for bit.
package sac

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order. The losses, α and the entropy are means over the gradient steps
// since the previous evaluation (NaN before learning starts); train_return
// is the mean return of the training episodes that ended since then (NaN if
// none did); wall_seconds is the time since Train started, the only column
// that differs between two runs of the same seed.
var Columns = []string{
	"eval_return", "eval_return_std", "train_return",
	"q_loss", "actor_loss", "alpha", "entropy", "wall_seconds",
}

// ExploreKey separates the Philox key of the random actions taken before
// learning starts (seed XOR ExploreKey) from the engine's stream, whose key
// is the seed itself. Algorithms built on SAC use it too, so that their runs
// of one seed take the same random steps.
const ExploreKey = 0x5ac0_e4b1_0e00_0001

// Train runs SAC on run.Env for run.Steps environment steps with cfg,
// computing on eng, and reports to rep: Progress after every environment
// step, and Record with the columns of Columns after every run.EvalEvery
// steps and after the last step, each evaluation being run.EvalEpisodes
// episodes of the deterministic policy tanh(μ) on a separate environment.
// It returns ctx.Err() as soon as ctx is cancelled, the first error of
// rep.Record, an algos.DivergedError when a loss turns NaN or infinite, or
// an error for an invalid configuration or an environment SAC cannot act
// in.
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, wall_seconds
// apart, as the run that was never interrupted.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	obsDim := trainEnv.ObservationSpace().Dim()
	actSpace := trainEnv.ActionSpace()
	if err := CheckActionSpace(run.Env, actSpace); err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	actDim := actSpace.Dim()

	// The networks, the replay buffer and the scratch of acting. One
	// Philox stream initialises the networks and then draws minibatches
	// and policy noise.
	rng := engine.NewRNG(uint64(run.Seed))
	agent, err := NewAgent(eng, cfg, obsDim, actDim, rng)
	if err != nil {
		return fmt.Errorf("sac: %w", err)
	}
	defer agent.Free()
	buffer := replay.New(eng, min(cfg.BufferSize, run.Steps), obsDim, actDim)
	defer buffer.Free()
	batch := replay.NewBatch(eng, cfg.BatchSize, obsDim, actDim)
	defer batch.Free(eng)
	explore := engine.NewRNG(uint64(run.Seed) ^ ExploreKey)
	actor := NewActor(eng, agent, actSpace, obsDim)
	defer actor.Free()

	episodes := algos.NewEpisodes(trainEnv, run.Seed)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint; resuming loads it back.
	save := func(s *checkpoint.State) error {
		agent.Save(s, "agent.")
		buffer.Save(s, "replay")
		s.PutRNG("rng", rng)
		s.PutRNG("explore", explore)
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("sac: %w", err)
	} else if s != nil {
		if err := errors.Join(agent.Load(s, "agent."), buffer.Load(s, "replay"),
			s.RNG("rng", rng), s.RNG("explore", explore), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("sac: resume: %w", err)
		}
		from = step
	}

	var tr replay.Transitions // one transition, reused every step
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}

		// Act: uniformly random actions until learning starts, then a
		// sample of the policy. a is in (−1, 1); the environment gets it
		// rescaled to its bounds.
		var a []float32
		if step <= cfg.LearningStarts {
			a = actor.Random(explore)
		} else {
			a = actor.Sample(episodes.Obs, rng)
		}
		if err := algos.CheckAction(step, a, rep); err != nil {
			return fmt.Errorf("sac: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(actor.Rescale(a))

		// Store the transition. A truncated episode's last transition is
		// stored as not terminated: its next state has a value to
		// bootstrap from.
		tr.Set(episodes.Obs, a, reward, next, terminated)
		buffer.Add(tr)
		episodes.Step(next, reward, terminated || truncated)

		// Learn: UpdatesPerStep gradient steps on uniform minibatches,
		// once LearningStarts random transitions are stored.
		if step > cfg.LearningStarts {
			for range cfg.UpdatesPerStep {
				buffer.Sample(batch, rng)
				agent.Update(batch, rng)
			}
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
			qLoss, actorLoss, alpha, entropy := agent.TakeMetrics()
			if step > cfg.LearningStarts {
				if err := algos.CheckFinite(step, Columns[3:7], []float64{qLoss, actorLoss, alpha, entropy}, rep); err != nil {
					return fmt.Errorf("sac: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, episodes.TakeMeanReturn(),
				qLoss, actorLoss, alpha, entropy, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("sac: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("sac: %w", err)
		}
	}
	return nil
}

// CheckActionSpace returns an error unless space is a Box with finite
// bounds, low < high, into which the policy's (−1, 1) can be rescaled.
// Every algorithm with a tanh policy calls it; the error names no
// algorithm, so each caller prefixes its own.
func CheckActionSpace(id string, space env.Space) error {
	if space.Discrete {
		return fmt.Errorf("%s has a discrete action space %v; a tanh policy needs a Box", id, space)
	}
	for i := range space.Low {
		lo, hi := space.Low[i], space.High[i]
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			return fmt.Errorf("%s: action bounds [%g, %g] of element %d must be finite with low < high to rescale the policy's (−1, 1)", id, lo, hi, i)
		}
	}
	return nil
}

// Actor is how a training loop acts in an environment with an Agent's
// policy: the observation goes up to the device and the action comes back,
// one upload and one download per step.
type Actor struct {
	eng       engine.Engine
	agent     *Agent
	obs       *engine.Tensor // [1, Obs]
	obsHost   []float32
	a         []float32
	scale     []float64 // (high − low)/2
	bias      []float64 // (high + low)/2
	envAction []float64
}

func NewActor(eng engine.Engine, a *Agent, space env.Space, obsDim int) *Actor {
	n := space.Dim()
	x := &Actor{
		eng:       eng,
		agent:     a,
		obs:       eng.New(engine.Float32, 1, obsDim),
		obsHost:   make([]float32, obsDim),
		a:         make([]float32, n),
		scale:     make([]float64, n),
		bias:      make([]float64, n),
		envAction: make([]float64, n),
	}
	for i := range n {
		x.scale[i] = (space.High[i] - space.Low[i]) / 2
		x.bias[i] = (space.High[i] + space.Low[i]) / 2
	}
	return x
}

func (x *Actor) Free() { x.eng.Free(x.obs) }

// Random returns an action uniform in [−1, 1)^|A| from the host-side
// Philox stream explore, which it advances.
func (x *Actor) Random(explore *engine.RNG) []float32 {
	start := explore.Take(len(x.a))
	for i := range x.a {
		x.a[i] = engine.UniformAt(explore.Seed, start, i, -1, 1)
	}
	return x.a
}

// Sample returns a = tanh(μ + σ·ε) for obs, with ε from rng.
func (x *Actor) Sample(obs []float64, rng *engine.RNG) []float32 {
	x.upload(obs)
	a, _ := x.agent.actor.Sample(x.obs, rng)
	x.eng.Download(x.a, a)
	return x.a
}

// Mode is the deterministic evaluation policy: tanh(μ), rescaled to the
// environment's bounds.
func (x *Actor) Mode(obs []float64) []float64 {
	x.upload(obs)
	x.eng.Download(x.a, x.agent.actor.Mode(x.obs))
	return x.Rescale(x.a)
}

func (x *Actor) upload(obs []float64) {
	for i, v := range obs {
		x.obsHost[i] = float32(v)
	}
	x.eng.Upload(x.obs, x.obsHost)
}

// Rescale maps a ∈ (−1, 1)^|A| affinely onto the Box [low, high]: the
// action the environment gets is bias + scale·a. The policy's
// log-probabilities and its entropy stay those of a in (−1, 1); in the
// environment's units they would differ by the constant Σ log scale (see
// Config.TargetEntropyPerDim).
func (x *Actor) Rescale(a []float32) []float64 {
	for i, v := range a {
		x.envAction[i] = x.bias[i] + x.scale[i]*float64(v)
	}
	return x.envAction
}

func nan() float64 { return math.NaN() }
