// Package dynaq is tabular Dyna-Q and Dyna-Q+ (Sutton 1990; Sutton and
// Barto, Reinforcement Learning: An Introduction, 2nd ed., sections 8.2 and
// 8.3): one-step Q-learning on every real transition, plus n planning
// updates per real step on transitions replayed from a learned
// deterministic table model of the pairs seen so far; Dyna-Q+ adds the
// exploration bonus κ√τ to planned rewards and lets never-tried actions be
// planned.
//
// Train reads top to bottom as the book's Tabular Dyna-Q box does: act
// ε-greedily, observe, learn (agent.go: the direct update, the model
// update, the planning updates), evaluate. Every hyperparameter is in
// Config (config.go) with its default and source; per-environment
// adjustments are in presets.yaml. experiment.go reproduces the book's
// Figures 8.2, 8.4 and 8.5 and draws them.
//
// The algorithm is tabular and runs on the host: Train takes an
// engine.Engine only to share the signature of the other algorithms, and
// ignores it. It needs an env.Tabular environment with a Discrete action
// space (the mazes of chapter 8, FourRooms).
//
// Determinism: a run is a pure function of its RunConfig and Config. Two
// PCG generators seeded by RunConfig.Seed draw the exploration and
// tie-breaking and the planning samples (NewAgent); the evaluations break
// ties with generators of their own. Apart from wall_seconds, two runs with the same
// inputs report the same numbers bit for bit.
package dynaq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order:
//
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     undiscounted returns of RunConfig.EvalEpisodes episodes of the greedy
//     policy (ties broken at random), each cut after Config.EvalMaxSteps
//     steps;
//   - eval_steps: the mean length of those episodes;
//   - train_return, episode_steps: the mean return and length of the
//     training episodes that ended since the previous evaluation (NaN if
//     none did);
//   - episodes: the training episodes ended so far;
//   - cumulative_reward: the sum of every training reward so far, the
//     vertical axis of the book's Figures 8.4 and 8.5;
//   - wall_seconds: the time since Train started, the only column that
//     differs between two runs of the same seed.
var Columns = []string{
	"eval_return", "eval_return_std", "eval_steps",
	"train_return", "episode_steps", "episodes", "cumulative_reward", "wall_seconds",
}

// Key of the PCG stream that breaks ties in evaluations, distinct from the
// training stream's, so that evaluating does not change training.
const evalStream = 0xe7a1

// Train runs Dyna-Q (Dyna-Q+ with cfg.Plus) on run.Env for run.Steps real
// steps and reports to rep: Progress after every step, and Record with the
// columns of Columns after every run.EvalEvery steps and after the last.
// Training episode k (from 0) is reset with seed run.Seed+k. eng is not
// used: the algorithm is tabular and runs on the host.
//
// The greedy evaluation plays the training environment's current layout:
// where the environment exposes its model (the mazes' Transition, whose
// blocking and shortcut layouts change with the steps taken), episodes are
// walked through that model from the start of a fresh copy, so that they
// see the changed walls without advancing the training environment's
// clock; elsewhere they run on a fresh copy.
//
// It returns ctx.Err() as soon as ctx is cancelled, the first error of
// rep.Record, or an error for an invalid configuration or an environment
// that is not tabular with discrete actions.
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, wall_seconds
// apart, as the run that was never interrupted. The training environment
// must then be an env.Snapshotter, as every environment of package env is.
func Train(ctx context.Context, _ engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("dynaq: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("dynaq: %w", err)
	}
	trainEnv, numActions, err := makeTabular(run.Env)
	if err != nil {
		return err
	}
	evalEnv, _, err := makeTabular(run.Env)
	if err != nil {
		return err
	}
	agent, err := NewAgent(cfg, trainEnv.NumStates(), numActions, uint64(run.Seed))
	if err != nil {
		return fmt.Errorf("dynaq: %w", err)
	}

	var (
		action = []float64{0}
		loop   loopState
	)
	trainEnv.Reset(run.Seed)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the agent, the training environment (its step
	// count decides the changing mazes' layout) and the loop's counters.
	save := func(st *checkpoint.State) error {
		agent.Save(st, "agent.")
		if err := st.PutEnv("env", trainEnv); err != nil {
			return err
		}
		return st.PutValue("loop", loop)
	}
	saver := algos.NewSaver(rep)
	from := 0
	if st, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("dynaq: %w", err)
	} else if st != nil {
		if err := errors.Join(agent.Load(st, "agent."), st.Env("env", trainEnv), st.Value("loop", &loop)); err != nil {
			return fmt.Errorf("dynaq: resume: %w", err)
		}
		from = step
	}
	s := trainEnv.StateID()
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}

		// Act, observe, learn.
		a := agent.Act(s)
		action[0] = float64(a)
		_, r, terminated, truncated := trainEnv.Step(action)
		next := trainEnv.StateID()
		agent.Learn(s, a, r, next, terminated)
		s = next
		loop.EpReturn += r
		loop.EpSteps++
		loop.Cumulative += r
		if terminated || truncated {
			loop.SumReturns += loop.EpReturn
			loop.SumSteps += loop.EpSteps
			loop.Ended++
			loop.Episode++
			loop.EpReturn, loop.EpSteps = 0, 0
			trainEnv.Reset(run.Seed + loop.Episode)
			s = trainEnv.StateID()
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, steps, err := evaluate(context.WithoutCancel(ctx), agent, trainEnv, evalEnv, run, cfg.EvalMaxSteps)
			if err != nil {
				return err
			}
			trainReturn, episodeSteps := math.NaN(), math.NaN()
			if loop.Ended > 0 {
				trainReturn = loop.SumReturns / float64(loop.Ended)
				episodeSteps = float64(loop.SumSteps) / float64(loop.Ended)
			}
			loop.SumReturns, loop.SumSteps, loop.Ended = 0, 0, 0
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, steps,
				trainReturn, episodeSteps, float64(loop.Episode), loop.Cumulative, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("dynaq: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("dynaq: %w", err)
		}
	}
	return nil
}

// loopState is what Train counts besides the agent, saved in its
// checkpoints.
type loopState struct {
	Episode    int64   `json:"episode"`     // training episodes ended so far
	EpReturn   float64 `json:"ep_return"`   // of the episode in progress
	EpSteps    int     `json:"ep_steps"`    // of the episode in progress
	SumReturns float64 `json:"sum_returns"` // of the episodes ended since the last evaluation
	SumSteps   int     `json:"sum_steps"`   // of the episodes ended since the last evaluation
	Ended      int     `json:"ended"`       // episodes ended since the last evaluation
	Cumulative float64 `json:"cumulative"`  // every training reward so far
}

// makeTabular makes the environment id and checks that it is an
// env.Tabular with a Discrete action space, returning the number of
// actions.
func makeTabular(id string) (env.Tabular, int, error) {
	e, err := env.Make(id)
	if err != nil {
		return nil, 0, fmt.Errorf("dynaq: %w", err)
	}
	tab, ok := e.(env.Tabular)
	if !ok {
		return nil, 0, fmt.Errorf("dynaq: %s has no state ids (not an env.Tabular); Dyna-Q needs a tabular environment such as DynaMaze-v0", id)
	}
	space := e.ActionSpace()
	if !space.Discrete || space.N < 1 {
		return nil, 0, fmt.Errorf("dynaq: %s has action space %v; Dyna-Q needs a Discrete one", id, space)
	}
	return tab, space.N, nil
}

// transitionModel is implemented by environments that expose their exact
// model, the mazes among them: the next state, reward and termination of
// (s, a) under the current layout, without changing anything.
type transitionModel interface {
	Transition(s, a int) (next int, reward float64, terminated bool)
}

// evaluate plays run.EvalEpisodes greedy episodes, episode i breaking its
// ties with a generator of seed run.Seed+EvalSeedOffset+i and starting from
// evalEnv reset with that seed, each cut after maxSteps steps. Where
// trainEnv exposes its model the episode walks through it (see Train);
// otherwise it steps evalEnv. It returns the mean and population standard
// deviation of the returns and the mean episode length.
func evaluate(ctx context.Context, agent *Agent, trainEnv, evalEnv env.Tabular, run algos.RunConfig, maxSteps int) (mean, std, meanSteps float64, err error) {
	model, haveModel := trainEnv.(transitionModel)
	returns := make([]float64, run.EvalEpisodes)
	action := []float64{0}
	for i := range returns {
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, err
		}
		seed := run.Seed + algos.EvalSeedOffset + int64(i)
		ties := rand.New(rand.NewPCG(uint64(seed), evalStream))
		evalEnv.Reset(seed)
		s := evalEnv.StateID()
		for t := 0; t < maxSteps; t++ {
			a := agent.Greedy(s, ties)
			var (
				r         float64
				done      bool
				truncated bool
			)
			if haveModel {
				s, r, done = model.Transition(s, a)
			} else {
				action[0] = float64(a)
				_, r, done, truncated = evalEnv.Step(action)
				s = evalEnv.StateID()
			}
			returns[i] += r
			meanSteps++
			if done || truncated {
				break
			}
		}
	}
	for _, r := range returns {
		mean += r
	}
	n := float64(len(returns))
	mean /= n
	for _, r := range returns {
		std += (r - mean) * (r - mean)
	}
	return mean, math.Sqrt(std / n), meanSteps / n, nil
}
