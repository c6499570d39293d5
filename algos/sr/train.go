package sr

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
//     undiscounted returns of RunConfig.EvalEpisodes episodes of the
//     uniform random policy, each cut after Config.EvalMaxSteps steps
//     (the policy does not learn: these only describe the task);
//   - v_start: the learned value M·r^π of the start state, discounted;
//   - v_start_exact: the same from iterative policy evaluation on the
//     environment's model, where it exposes one (the mazes), else NaN;
//   - sr_error: the largest |M(s, j) − (I − γP^π)^{-1}(s, j)| over the
//     states s acted from so far and every j, where the model is exposed,
//     else NaN;
//   - states_visited: the states acted from so far;
//   - wall_seconds: the time since Train started.
var Columns = []string{
	"eval_return", "eval_return_std", "v_start", "v_start_exact", "sr_error", "states_visited", "wall_seconds",
}

// Train learns the successor representation of the uniform random policy
// on run.Env, a tabular environment with discrete actions and at most
// MaxStates states, for run.Steps steps of that policy, with the
// expected-TD rule of Learner. It reports Progress after every step and
// Record with Columns after every run.EvalEvery steps and after the last.
// Training episode k (from 0) is reset with seed run.Seed+k; the actions
// come from a PCG generator seeded with run.Seed. eng is not used: the
// algorithm is tabular and runs on the host.
//
// It returns ctx.Err() as soon as ctx is cancelled, the first error of
// rep.Record, or an error for an invalid configuration or environment.
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, wall_seconds
// apart, as the run that was never interrupted.
func Train(ctx context.Context, _ engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("sr: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sr: %w", err)
	}
	trainEnv, numActions, err := makeTabular(run.Env)
	if err != nil {
		return err
	}
	evalEnv, _, err := makeTabular(run.Env)
	if err != nil {
		return err
	}
	numStates := trainEnv.NumStates()
	policy := Uniform(numStates, numActions)
	learner, err := NewLearner(numStates, numActions, policy, cfg.Gamma, cfg.Alpha)
	if err != nil {
		return fmt.Errorf("sr: %s: %w", run.Env, err)
	}
	src := rand.NewPCG(uint64(run.Seed), 0)
	rng := rand.New(src)

	var (
		action = []float64{0}
		loop   = loopState{Visited: make([]bool, numStates)}
	)
	trainEnv.Reset(run.Seed)
	startState := trainEnv.StateID()
	// save puts everything the loop carries from one step to the next
	// into a checkpoint.
	save := func(st *checkpoint.State) error {
		learner.Save(st, "learner.")
		st.PutPCG("rng", src)
		if err := st.PutEnv("env", trainEnv); err != nil {
			return err
		}
		return st.PutValue("loop", loop)
	}
	saver := algos.NewSaver(rep)
	from := 0
	if st, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("sr: %w", err)
	} else if st != nil {
		if err := errors.Join(learner.Load(st, "learner."), st.PCG("rng", src), st.Env("env", trainEnv), st.Value("loop", &loop)); err != nil {
			return fmt.Errorf("sr: resume: %w", err)
		}
		if len(loop.Visited) != numStates {
			return fmt.Errorf("sr: resume: the checkpoint's visited states are %d, want %d", len(loop.Visited), numStates)
		}
		from = step
	}
	nVisits := 0
	for _, v := range loop.Visited {
		if v {
			nVisits++
		}
	}
	s := trainEnv.StateID()
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}
		a := rng.IntN(numActions)
		action[0] = float64(a)
		_, r, terminated, truncated := trainEnv.Step(action)
		next := trainEnv.StateID()
		learner.Update(s, a, r, next, terminated)
		if !loop.Visited[s] {
			loop.Visited[s] = true
			nVisits++
		}
		s = next
		if terminated || truncated {
			loop.Episode++
			trainEnv.Reset(run.Seed + loop.Episode)
			s = trainEnv.StateID()
		}
		rep.Progress(step)

		// An evaluation runs to its end even when ctx is cancelled during
		// it, so that the checkpoint taken then follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, err := evaluate(context.WithoutCancel(ctx), evalEnv, numActions, run, cfg.EvalMaxSteps)
			if err != nil {
				return err
			}
			vStart := learner.Values()[startState]
			vExact, srError := math.NaN(), math.NaN()
			if model, ok := trainEnv.(interface {
				Transition(s, a int) (int, float64, bool)
			}); ok {
				vExact, srError, err = compare(learner, policy, model.Transition, cfg.Gamma, loop.Visited, startState)
				if err != nil {
					return fmt.Errorf("sr: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, vStart, vExact, srError, float64(nVisits), saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("sr: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("sr: %w", err)
		}
	}
	return nil
}

// compare returns the exact value of the start state (iterative policy
// evaluation) and the largest error of the learned SR over the visited
// rows, on the environment's current model.
func compare(l *Learner, policy []float64, model TransitionFunc, gamma float64, visited []bool, startState int) (vStart, maxErr float64, err error) {
	n := len(visited)
	p, r, err := PolicyModel(n, len(policy)/n, policy, model)
	if err != nil {
		return 0, 0, err
	}
	exact, err := Exact(p, gamma)
	if err != nil {
		return 0, 0, err
	}
	v, err := Evaluate(p, r, gamma, 1e-12, 100_000)
	if err != nil {
		return 0, 0, err
	}
	m := l.M()
	for s, seen := range visited {
		if !seen {
			continue
		}
		for j := range n {
			maxErr = math.Max(maxErr, math.Abs(m.At(s, j)-exact.At(s, j)))
		}
	}
	return v[startState], maxErr, nil
}

// makeTabular makes the environment id and checks that it is an
// env.Tabular with a Discrete action space, returning the number of
// actions.
func makeTabular(id string) (env.Tabular, int, error) {
	e, err := env.Make(id)
	if err != nil {
		return nil, 0, fmt.Errorf("sr: %w", err)
	}
	tab, ok := e.(env.Tabular)
	if !ok {
		return nil, 0, fmt.Errorf("sr: %s has no state ids (not an env.Tabular); the tabular SR needs one such as DynaMaze-v0", id)
	}
	space := e.ActionSpace()
	if !space.Discrete || space.N < 1 {
		return nil, 0, fmt.Errorf("sr: %s has action space %v; the SR's policy needs a Discrete one", id, space)
	}
	return tab, space.N, nil
}

// evaluate plays run.EvalEpisodes episodes of the uniform random policy on
// e, episode i reset with and drawing its actions from seed
// run.Seed+EvalSeedOffset+i, each cut after maxSteps steps, and returns the
// mean and population standard deviation of their returns.
func evaluate(ctx context.Context, e env.Env, numActions int, run algos.RunConfig, maxSteps int) (mean, std float64, err error) {
	returns := make([]float64, run.EvalEpisodes)
	action := []float64{0}
	for i := range returns {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		seed := run.Seed + algos.EvalSeedOffset + int64(i)
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		e.Reset(seed)
		for range maxSteps {
			action[0] = float64(rng.IntN(numActions))
			_, r, terminated, truncated := e.Step(action)
			returns[i] += r
			if terminated || truncated {
				break
			}
		}
	}
	mean, std = algos.MeanStd(returns)
	return mean, std, nil
}
