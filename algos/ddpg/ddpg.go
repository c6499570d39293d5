// Package ddpg is Deep Deterministic Policy Gradient (Lillicrap et al.
// 2015) for environments with a bounded Box action space, with the three
// changes of TD3 (Fujimoto et al. 2018) as switches of its Config: twin
// critics bootstrapping from their minimum, target policy smoothing, and
// delayed actor updates. A deterministic tanh policy explores with Gaussian
// noise; the critics and the actor learn from a replay buffer on the
// engine's device, with Polyak-averaged target networks.
//
// Train reads top to bottom like CleanRL's ddpg_continuous_action.py and
// td3_continuous_action.py: act, store the transition, take the gradient
// steps (update.go), evaluate. Every hyperparameter is in Config
// (config.go) with its default and source, and per-environment adjustments
// are in one table (presets.yaml, embedded). The Agent's parts are exported for
// algos/mve, which changes only the critics' targets.
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build. The engine's Philox stream, seeded by RunConfig.Seed,
// initialises the networks and draws every minibatch and all exploration
// and smoothing noise; the random actions before learning starts come from
// the Philox key algos/sac uses for them (sac.ExploreKey), so that SAC and
// DDPG runs of one seed take the same random steps. Apart from the
// wall_seconds column, two runs with the same inputs report the same
// numbers bit for bit.
package ddpg

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order. q_loss is the critics' mean squared error (averaged over the
// critics) and actor_loss −Q_1(s, π(s)), means over the gradient steps
// since the previous evaluation (NaN before learning starts); train_return
// is the mean return of the training episodes that ended since then (NaN if
// none did); wall_seconds is the time since Train started, the only column
// that differs between two runs of the same seed.
var Columns = []string{
	"eval_return", "eval_return_std", "train_return",
	"q_loss", "actor_loss", "wall_seconds",
}

// Train runs DDPG (TD3 with its switches on) on run.Env for run.Steps
// environment steps with cfg, computing on eng, and reports to rep:
// Progress after every environment step, and Record with the columns of
// Columns after every run.EvalEvery steps and after the last step, each
// evaluation being run.EvalEpisodes episodes of the deterministic policy
// on a separate environment. It returns ctx.Err() as soon as ctx is
// cancelled, the first error of rep.Record, an algos.DivergedError when the
// critic loss turns NaN or infinite, or an error for an invalid
// configuration or an environment DDPG cannot act in. Checkpoints and
// resume work as in sac.Train, when rep is an algos.Checkpointer.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	evalEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	obsDim := trainEnv.ObservationSpace().Dim()
	actSpace := trainEnv.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, actSpace); err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	actDim := actSpace.Dim()

	// The networks, the replay buffer and the scratch of acting. One
	// Philox stream initialises the networks and then draws minibatches
	// and noise.
	rng := engine.NewRNG(uint64(run.Seed))
	agent, err := NewAgent(eng, cfg, obsDim, actDim, rng)
	if err != nil {
		return fmt.Errorf("ddpg: %w", err)
	}
	defer agent.Free()
	buffer := replay.New(eng, min(cfg.BufferSize, run.Steps), obsDim, actDim)
	defer buffer.Free()
	batch := replay.NewBatch(eng, cfg.BatchSize, obsDim, actDim)
	defer batch.Free(eng)
	explore := engine.NewRNG(uint64(run.Seed) ^ sac.ExploreKey)
	actor := NewActor(eng, agent.Policy(), actSpace, cfg.ExplorationNoise)
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
		return fmt.Errorf("ddpg: %w", err)
	} else if s != nil {
		if err := errors.Join(agent.Load(s, "agent."), buffer.Load(s, "replay"),
			s.RNG("rng", rng), s.RNG("explore", explore), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("ddpg: resume: %w", err)
		}
		from = step
	}

	var tr replay.Transitions // one transition, reused every step
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}

		// Act: uniformly random actions until learning starts, then the
		// policy's action with exploration noise. a is in [−1, 1]; the
		// environment gets it rescaled to its bounds.
		var a []float32
		if step <= cfg.LearningStarts {
			a = actor.Random(explore)
		} else {
			a = actor.Explore(episodes.Obs, rng)
		}
		if err := algos.CheckAction(step, a, rep); err != nil {
			return fmt.Errorf("ddpg: %w", err)
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

		// Evaluate and report; an evaluation runs to its end even when
		// ctx is cancelled during it.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, err := algos.Evaluate(context.WithoutCancel(ctx), evalEnv, actor.Mode, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			qLoss, actorLoss := agent.TakeMetrics()
			if step > cfg.LearningStarts {
				if err := algos.CheckFinite(step, []string{"q_loss"}, []float64{qLoss}, rep); err != nil {
					return fmt.Errorf("ddpg: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, episodes.TakeMeanReturn(), qLoss, actorLoss, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("ddpg: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("ddpg: %w", err)
		}
	}
	return nil
}

// Actor is how a training loop acts in an environment with a deterministic
// Policy: the observation goes up to the device and the action comes back,
// one upload and one download per step. The uniformly random actions and
// the rescaling to the environment's Box are algos/sac's (sac.Actor's
// Random and Rescale), so that both algorithms take the same random steps.
type Actor struct {
	eng      engine.Engine
	policy   *Policy
	box      *sac.Actor // Random and Rescale only: it has no SAC agent
	noiseStd float32
	obs      *engine.Tensor // [1, Obs]
	noise    *engine.Tensor // [1, Act]
	obsHost  []float32
	a        []float32
}

// NewActor returns an Actor for policy in an environment of action space
// space (a Box that sac.CheckActionSpace accepts), exploring with Gaussian
// noise of standard deviation noiseStd.
func NewActor(eng engine.Engine, policy *Policy, space env.Space, noiseStd float64) *Actor {
	return &Actor{
		eng:      eng,
		policy:   policy,
		box:      sac.NewActor(eng, nil, space, policy.Obs),
		noiseStd: float32(noiseStd),
		obs:      eng.New(engine.Float32, 1, policy.Obs),
		noise:    eng.New(engine.Float32, 1, policy.Act),
		obsHost:  make([]float32, policy.Obs),
		a:        make([]float32, policy.Act),
	}
}

// Free releases the actor's device memory (not the policy's).
func (x *Actor) Free() {
	x.box.Free()
	x.eng.Free(x.obs)
	x.eng.Free(x.noise)
}

// Random returns an action uniform in [−1, 1)^|A| from the host-side
// Philox stream explore, which it advances (sac.Actor.Random).
func (x *Actor) Random(explore *engine.RNG) []float32 { return x.box.Random(explore) }

// Explore returns clip(π(obs) + ε, −1, 1) with ε ~ N(0, noiseStd²) drawn
// by one RandNormal of |A| values from rng ([CleanRL]: actor(obs) +
// normal(0, action_scale·exploration_noise), clipped to the bounds).
func (x *Actor) Explore(obs []float64, rng *engine.RNG) []float32 {
	x.upload(obs)
	a := x.policy.Infer(x.obs)
	x.eng.RandNormal(x.noise, rng, 0, x.noiseStd)
	x.eng.Binary(engine.Add, a, a, x.noise)
	x.eng.Clamp(a, a, -1, 1)
	x.eng.Download(x.a, a)
	return x.a
}

// Mode is the deterministic evaluation policy π(obs), rescaled to the
// environment's bounds.
func (x *Actor) Mode(obs []float64) []float64 {
	x.upload(obs)
	x.eng.Download(x.a, x.policy.Infer(x.obs))
	return x.Rescale(x.a)
}

// Rescale maps a ∈ [−1, 1]^|A| affinely onto the Box [low, high]
// (sac.Actor.Rescale).
func (x *Actor) Rescale(a []float32) []float64 { return x.box.Rescale(a) }

func (x *Actor) upload(obs []float64) {
	for i, v := range obs {
		x.obsHost[i] = float32(v)
	}
	x.eng.Upload(x.obs, x.obsHost)
}

func nan() float64 { return math.NaN() }
