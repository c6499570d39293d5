package clearning_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/clearning"
	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu" // registers the "cpu" engine
	"github.com/imago-rl/imago/env"
)

// reach is a user's own goal-reaching environment: a point on the line
// segment [−1, 1] and a goal on it. The observation is the point x
// followed by the goal g, the action a ∈ [−1, 1] moves the point to
// x + a/4 (clipped to the segment), and the goal is reached within 0.1 of
// it. An episode starts with x and g uniform in [−1, 1] and lasts 20
// steps. C-learning needs no reward: it relabels transitions with goals of
// its own and learns from them alone.
type reach struct {
	env.Episode // the step counter, the time limit and the action checks
	x, g        float64
}

const radius = 0.1

func (r *reach) ObservationSpace() env.Space { return env.Box([]float64{-1, -1}, []float64{1, 1}) }
func (r *reach) ActionSpace() env.Space      { return env.Box([]float64{-1}, []float64{1}) }

func (r *reach) Reset(seed int64) []float64 {
	r.Begin()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	r.x, r.g = 2*rng.Float64()-1, 2*rng.Float64()-1
	return []float64{r.x, r.g}
}

func (r *reach) Step(a []float64) (obs []float64, reward float64, terminated, truncated bool) {
	r.Check(r.ActionSpace(), a)
	r.x = max(-1, min(1, r.x+max(-1, min(1, a[0]))/4))
	return []float64{r.x, r.g}, r.GoalReward([]float64{r.x}, []float64{r.g}), false, r.End(false)
}

// The methods of env.GoalEnv: where the achieved state and the goal lie in
// an observation, so that C-learning can relabel it, and how to judge
// success.

func (r *reach) GoalSpace() env.Space            { return env.Box([]float64{-1}, []float64{1}) }
func (r *reach) Goal() []float64                 { return []float64{r.g} }
func (r *reach) SetGoal(g []float64) []float64   { r.g = g[0]; return []float64{r.x, r.g} }
func (r *reach) AchievedSlice() (start, end int) { return 0, 1 }
func (r *reach) GoalSlice() (start, end int)     { return 1, 2 }
func (r *reach) Success() bool                   { return r.Distance() < radius }
func (r *reach) Distance() float64               { return math.Abs(r.x - r.g) }
func (r *reach) GoalReward(achieved, goal []float64) float64 {
	if math.Abs(achieved[0]-goal[0]) < radius {
		return 1
	}
	return 0
}

func init() {
	env.Register(env.Registration{
		ID:          "Reach1D-v0",
		Description: "a point on [-1, 1] that must reach a goal",
		New:         func() env.Env { return &reach{Episode: env.Episode{ID: "Reach1D-v0", MaxSteps: 20}} },
	})
}

// Train C-learning on a goal-reaching environment of one's own: register
// it, take C-learning's defaults, shrink them to about a second of CPU,
// train, and read the share of evaluation episodes that end at their goal.
func Example() {
	eng, err := engine.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	run := algos.RunConfig{Env: "Reach1D-v0", Steps: 1500, Seed: 1, EvalEvery: 500, EvalEpisodes: 20}
	cfg := clearning.Preset(run.Env) // the documented defaults: no preset for this environment
	cfg.Hidden = []int{32, 32}
	cfg.BatchSize = 64
	cfg.LearningStarts = 200
	cfg.ActorLR, cfg.CriticLR = 1e-3, 1e-3

	var rows algos.Rows // keeps every evaluation in memory
	dir, _ := os.MkdirTemp("", "clearning-example")
	defer os.RemoveAll(dir)
	// Checkpoints saves the agent into dir after the last step (and every
	// Every steps, and on an interrupt); checkpoint.Load reads it back.
	saved := &algos.Checkpoints{Reporter: &rows, Dir: dir, Algo: "clearning", Env: run.Env}
	if err := clearning.Train(context.Background(), eng, run, cfg, saved); err != nil {
		log.Fatal(err)
	}
	last := rows.Rows[len(rows.Rows)-1]
	fmt.Printf("%d evaluations, the last after %d steps\n", len(rows.Rows), last.EnvSteps)
	// Standing still ends within 0.1 of a uniform goal in about one
	// episode in ten.
	fmt.Println("most episodes end at their goal:", last.Get("eval_success") > 0.5)
	steps, _ := checkpoint.List(dir)
	fmt.Println("saved after steps", steps)

	// Output:
	// 3 evaluations, the last after 1500 steps
	// most episodes end at their goal: true
	// saved after steps [1500]
}
