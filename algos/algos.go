// Package algos holds what every training loop of imago shares: the
// Reporter a loop reports its evaluations and progress to, and the
// deterministic evaluation of a policy. Each algorithm lives in a package of
// its own below (algos/sac, algos/mbpo, ...), with a Config of documented
// defaults and a training loop that reads top to bottom.
package algos

import (
	"context"
	"fmt"
	"math"

	"github.com/imago-rl/imago/env"
)

// Row is one line of a run's metrics.csv: the environment steps taken so
// far and named values. Every Row of a run has the same names in the same
// order.
type Row struct {
	EnvSteps int
	Names    []string
	Values   []float64
}

// Get returns the value named name, or NaN.
func (r Row) Get(name string) float64 {
	for i, n := range r.Names {
		if n == name {
			return r.Values[i]
		}
	}
	return math.NaN()
}

// Reporter receives what a training loop reports. cmd/imago's train
// command implements it with metrics.csv and the progress bar; tests use
// their own.
type Reporter interface {
	// Progress is called often (at least every few hundred environment
	// steps) with the steps taken so far; it must be cheap.
	Progress(envSteps int)
	// Record is called after each evaluation. An error stops training and
	// is returned by the loop.
	Record(row Row) error
}

// Discard is a Reporter that keeps nothing.
type Discard struct{}

func (Discard) Progress(int)     {}
func (Discard) Record(Row) error { return nil }

// EvalSeedOffset separates evaluation episodes from training episodes: a
// training loop resets training episode k (from 0) with seed+k and
// evaluation episode i, in every evaluation, with seed+EvalSeedOffset+i, so
// that the two never meet (a run would need 2⁴⁰ episodes) and every
// evaluation of a run plays the same starts.
const EvalSeedOffset = 1 << 40

// Rows is a Reporter that keeps every Row in memory and counts the
// Progress calls: for tests, and for callers that want a run's rows as
// values.
type Rows struct {
	Rows       []Row
	Progressed int // the number of Progress calls
	Last       int // the steps of the last Progress call
}

func (r *Rows) Progress(n int) { r.Progressed++; r.Last = n }

func (r *Rows) Record(row Row) error {
	r.Rows = append(r.Rows, row)
	return nil
}

// Policy maps an observation to an action for evaluation.
type Policy func(obs []float64) []float64

// Evaluate runs episodes episodes of e with policy, seeding episode i's
// Reset with seed+i, and returns the mean and the population standard
// deviation of the undiscounted returns. It stops early, returning ctx's
// error, when ctx is cancelled, and returns an error for an action that is
// not finite.
func Evaluate(ctx context.Context, e env.Env, policy Policy, episodes int, seed int64) (mean, std float64, err error) {
	if episodes <= 0 {
		return 0, 0, fmt.Errorf("evaluate: %d episodes; need at least 1", episodes)
	}
	returns := make([]float64, episodes)
	for i := range returns {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		obs := e.Reset(seed + int64(i))
		for {
			a := policy(obs)
			if err := FiniteAction(a); err != nil {
				return 0, 0, err
			}
			next, r, term, trunc := e.Step(a)
			returns[i] += r
			if term || trunc {
				break
			}
			obs = next
		}
	}
	mean, std = MeanStd(returns)
	return mean, std, nil
}

// FiniteAction returns an error if the action a policy chose holds a NaN
// or an infinity (its parameters have diverged), which an environment
// would refuse.
func FiniteAction(a []float64) error {
	for _, x := range a {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("evaluate: the policy's action holds %v: its parameters have diverged", x)
		}
	}
	return nil
}

// MeanStd returns the mean and the population standard deviation of xs.
func MeanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

// RunConfig is what every run has whatever its algorithm: the environment,
// the budget, the seed and the evaluation schedule. It is written into the
// run's config.yaml beside the algorithm's own Config.
type RunConfig struct {
	Env          string `yaml:"env"`           // environment id (env.Make)
	Steps        int    `yaml:"steps"`         // environment steps of training
	Seed         int64  `yaml:"seed"`          // seeds the engine's generator and the environments
	EvalEvery    int    `yaml:"eval_every"`    // environment steps between evaluations (default 1000)
	EvalEpisodes int    `yaml:"eval_episodes"` // deterministic episodes per evaluation (default 10)
	// CheckpointEvery is the number of environment steps between the
	// checkpoints of a run that takes them (see Checkpoints), which also
	// saves one after the last step and on an interrupt; 0 for only those.
	// Training loops do not read it: their Reporter does.
	CheckpointEvery int `yaml:"checkpoint_every"`
}

// Validate reports the first field out of range, naming it and what is
// allowed.
func (c RunConfig) Validate() error {
	if _, err := env.Make(c.Env); err != nil {
		return err
	}
	switch {
	case c.Steps <= 0:
		return fmt.Errorf("steps = %d: must be positive", c.Steps)
	case c.EvalEvery <= 0:
		return fmt.Errorf("eval_every = %d: must be positive", c.EvalEvery)
	case c.EvalEpisodes <= 0:
		return fmt.Errorf("eval_episodes = %d: must be positive", c.EvalEpisodes)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("checkpoint_every = %d: must be 0 (only at the end and on an interrupt) or positive", c.CheckpointEvery)
	}
	return nil
}

// OnReset returns e with reset run before each of its Resets: the
// evaluation environment of a policy that keeps state through an episode
// (a planner's warm start), which must start each episode afresh.
func OnReset(e env.Env, reset func()) env.Env { return onReset{e, reset} }

type onReset struct {
	env.Env
	reset func()
}

func (r onReset) Reset(seed int64) []float64 {
	r.reset()
	return r.Env.Reset(seed)
}
