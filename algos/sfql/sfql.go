// Package sfql is SFQL, Q-learning with successor features and generalised
// policy improvement (Barreto et al. 2017, "Successor Features for Transfer
// in Reinforcement Learning"), on environments whose reward is linear in
// known features, r = φ(s, a, s')·w: FourRooms-v0. Over a sequence of
// tasks (task vectors w), SFQL learns the successor features
// ψ^π(s, a) = E[Σ γ^t φ_{t+1}] of one policy per task and acts on the
// best of all of them for the current task, max_j ψ_j(s, a)·w (GPI), so
// that what it learned on earlier tasks pays from the first step of a new
// one. Its baseline is Q-learning restarted on every task.
//
// The loop (runner, below) reads top to bottom: on every TaskSteps-th step
// a new task vector, then act, observe the reward and the features, learn
// (agent.go: the least-squares fit of w to the rewards, fit.go, and the SF
// updates). Every hyperparameter is in Config (config.go) with its default
// and source. experiment.go runs the paper's comparison and draws it.
//
// The algorithm is tabular and runs on the host: Train takes an
// engine.Engine only to share the signature of the other algorithms.
//
// Determinism: a run is a pure function of its RunConfig and Config. Two
// PCG generators seeded by RunConfig.Seed draw the task vectors (the same
// sequence for SFQL and Q-learning) and the learner's exploration and
// tie-breaking. Apart from wall_seconds, two runs with the same inputs
// report the same numbers bit for bit.
package sfql

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

// TaskEnv is a tabular environment whose reward is φ·w for features φ of
// each transition and a task vector w it lets the caller set: FourRooms.
// The last feature is the goal's, whose weight is 1 in every task.
type TaskEnv interface {
	env.Tabular
	FeatureDim() int
	SetTask(w []float64)
	Features() []float64
}

// evalMaxSteps caps a greedy evaluation episode on a TaskEnv without a
// time limit; FourRooms ends its episodes after 200 steps.
const evalMaxSteps = 10_000

// The PCG streams of a run, keyed by its seed.
const (
	taskStream  = 0x7a5c
	agentStream = 0xa6e7
	evalStream  = 0xe7a1
)

// DrawTask returns a task vector of d features: the first d−1 (the object
// classes of FourRooms) uniform in [−1, 1] ([SF]), the last (the goal) 1
// ([Gimelfarb] tasks/gridworld.py get_w).
func DrawTask(rng *rand.Rand, d int) []float64 {
	w := make([]float64, d)
	for i := range d - 1 {
		w[i] = 2*rng.Float64() - 1
	}
	w[d-1] = 1
	return w
}

// runner steps one learner through a sequence of tasks on one
// environment: the loop that Train and RunTransfer share.
type runner struct {
	cfg     Config
	env     TaskEnv
	learner learner
	tasks   *rand.Rand
	// The sources of tasks and of the learner's generator, whose states a
	// checkpoint keeps.
	taskSrc, agentSrc *rand.PCG
	w                 []float64 // the current task's true vector
	task              int       // tasks begun so far
	s                 int
	action            []float64

	episodeReturn float64
	cumulative    float64
}

func newRunner(cfg Config, e TaskEnv, seed int64) (*runner, error) {
	space := e.ActionSpace()
	if !space.Discrete || space.N < 1 {
		return nil, fmt.Errorf("action space %v: SFQL needs a Discrete one", space)
	}
	if e.FeatureDim() < 2 {
		return nil, fmt.Errorf("%d features: need at least one besides the goal's", e.FeatureDim())
	}
	agentSrc, taskSrc := rand.NewPCG(uint64(seed), agentStream), rand.NewPCG(uint64(seed), taskStream)
	l, err := newLearner(cfg, space.N, e.FeatureDim(), rand.New(agentSrc))
	if err != nil {
		return nil, err
	}
	return &runner{
		cfg: cfg, env: e, learner: l,
		tasks:   rand.New(taskSrc),
		taskSrc: taskSrc, agentSrc: agentSrc,
		action: []float64{0},
	}, nil
}

// step takes environment step number step (from 1): first, on every
// TaskSteps-th step, a new task and a fresh episode; then act, observe,
// learn. It returns the reward and, when an episode ended, its return.
func (r *runner) step(step int) (reward float64, ended bool, episodeReturn float64) {
	if (step-1)%r.cfg.TaskSteps == 0 {
		r.w = DrawTask(r.tasks, r.env.FeatureDim())
		r.env.SetTask(r.w)
		r.learner.newTask(r.w)
		r.task++
		r.env.Reset(0)
		r.s = r.env.StateID()
		r.episodeReturn = 0
	}
	a := r.learner.act(r.s)
	r.action[0] = float64(a)
	_, reward, terminated, truncated := r.env.Step(r.action)
	next := r.env.StateID()
	r.learner.learn(r.s, a, r.env.Features(), reward, next, terminated)
	r.s = next
	r.episodeReturn += reward
	r.cumulative += reward
	if terminated || truncated {
		ended, episodeReturn = true, r.episodeReturn
		r.episodeReturn = 0
		r.env.Reset(0)
		r.s = r.env.StateID()
	}
	return reward, ended, episodeReturn
}

// Columns are the names of the values of every Row that Train records, in
// order:
//
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     returns of RunConfig.EvalEpisodes greedy episodes (GPI for SFQL,
//     argmax Q for Q-learning, ties broken at random) on the current task;
//   - task: the tasks begun so far (the current one's number, from 1);
//   - train_return: the mean return of the training episodes that ended
//     since the previous evaluation (NaN if none did);
//   - cumulative_reward: the sum of every training reward so far, over
//     all tasks: [SF] Figure 2's vertical axis;
//   - w_error: |w̃ − w|, the distance of the task vector SFQL acts on from
//     the true one (NaN for Q-learning);
//   - gpi_transfer: the fraction of the current task's steps whose greedy
//     action came from an earlier task's policy (NaN for Q-learning);
//   - wall_seconds: the time since Train started.
var Columns = []string{
	"eval_return", "eval_return_std", "task", "train_return",
	"cumulative_reward", "w_error", "gpi_transfer", "wall_seconds",
}

// Train runs cfg.Method on run.Env, which must be a TaskEnv (FourRooms-v0),
// for run.Steps environment steps, a new task vector (DrawTask) every
// cfg.TaskSteps steps, and reports to rep: Progress after every step and
// Record with Columns after every run.EvalEvery steps and after the last.
// A new task starts a new episode. eng is not used: the algorithm is
// tabular and runs on the host.
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
		return fmt.Errorf("sfql: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sfql: %w", err)
	}
	trainEnv, err := makeTaskEnv(run.Env)
	if err != nil {
		return err
	}
	evalEnv, err := makeTaskEnv(run.Env)
	if err != nil {
		return err
	}
	r, err := newRunner(cfg, trainEnv, run.Seed)
	if err != nil {
		return fmt.Errorf("sfql: %s: %w", run.Env, err)
	}

	var loop loopState // the training episodes ended since the last evaluation
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the runner (the learner, the task, the training
	// environment, the generators) and the loop's sums.
	save := func(s *checkpoint.State) error {
		if err := r.save(s, "runner."); err != nil {
			return err
		}
		return s.PutValue("loop", loop)
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("sfql: %w", err)
	} else if s != nil {
		if err := errors.Join(r.load(s, "runner."), s.Value("loop", &loop)); err != nil {
			return fmt.Errorf("sfql: resume: %w", err)
		}
		from = step
	}
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}
		if _, done, ret := r.step(step); done {
			loop.SumReturns += ret
			loop.Ended++
		}
		rep.Progress(step)

		// An evaluation runs to its end even when ctx is cancelled during
		// it, so that the checkpoint taken then follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			evalEnv.SetTask(r.w)
			mean, std, err := evaluate(context.WithoutCancel(ctx), r.learner, evalEnv, run)
			if err != nil {
				return err
			}
			trainReturn := math.NaN()
			if loop.Ended > 0 {
				trainReturn = loop.SumReturns / float64(loop.Ended)
			}
			loop = loopState{}
			wErr, transfer := math.NaN(), math.NaN()
			if cfg.Method == MethodSFQL {
				wErr = distance(r.learner.task(), r.w)
				if g, tr := r.learner.transfers(); g > 0 {
					transfer = float64(tr) / float64(g)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, float64(r.task), trainReturn,
				r.cumulative, wErr, transfer, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("sfql: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("sfql: %w", err)
		}
	}
	return nil
}

// loopState is what Train sums besides the runner, saved in its
// checkpoints.
type loopState struct {
	SumReturns float64 `json:"sum_returns"` // of the training episodes ended since the last evaluation
	Ended      int     `json:"ended"`       // the training episodes ended since the last evaluation
}

// makeTaskEnv makes the environment id and checks that it is a TaskEnv.
func makeTaskEnv(id string) (TaskEnv, error) {
	e, err := env.Make(id)
	if err != nil {
		return nil, fmt.Errorf("sfql: %w", err)
	}
	te, ok := e.(TaskEnv)
	if !ok {
		return nil, fmt.Errorf("sfql: %s has no task features (state ids, FeatureDim, SetTask, Features); SFQL needs one such as FourRooms-v0", id)
	}
	return te, nil
}

// evaluate plays run.EvalEpisodes greedy episodes of l on e, episode i
// breaking ties with a generator of seed run.Seed+EvalSeedOffset+i, and
// returns the mean and population standard deviation of their returns.
// The episodes end by the environment's time limit (FourRooms: 200 steps)
// or after evalMaxSteps steps.
func evaluate(ctx context.Context, l learner, e TaskEnv, run algos.RunConfig) (mean, std float64, err error) {
	returns := make([]float64, run.EvalEpisodes)
	action := []float64{0}
	for i := range returns {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		seed := run.Seed + algos.EvalSeedOffset + int64(i)
		ties := rand.New(rand.NewPCG(uint64(seed), evalStream))
		e.Reset(seed)
		for range evalMaxSteps {
			action[0] = float64(l.greedy(e.StateID(), ties))
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

func distance(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}
