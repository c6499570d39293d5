package mpc

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// resumable is tiny with a smaller planner and model training, for a
// resume test of five runs in about a second.
func resumable() Config {
	c := tiny()
	c.Horizon, c.Population, c.Particles, c.Iterations = 4, 10, 2, 2
	c.Members, c.ModelElites = 3, 2
	c.ModelMaxEpochs = 2
	return c
}

// timeColumns are the columns of Columns measured by the clock.
var timeColumns = []string{"model_seconds", "plan_seconds", "wall_seconds"}

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does,
// but for the columns measured by the clock: the stop falls within a
// training episode or between two, before or after the model's first
// training.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 200, Seed: 2, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "mpc", run, 40, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	}, timeColumns...)
}

// TestCheckpointPolicy checks that the planner of a checkpoint plays, in
// one evaluation episode, exactly the episode of the run's next
// evaluation: in a run whose steps between two evaluations are all
// random, nothing but that evaluation draws from the planner's streams.
// It also checks that a model of other sizes is refused.
func TestCheckpointPolicy(t *testing.T) {
	cfg := resumable()
	cfg.InitialEpisodes = 100
	run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 60, Seed: 1, EvalEvery: 30, EvalEpisodes: 2}
	dir := t.TempDir()
	rows := &algos.Rows{}
	ck := &algos.Checkpoints{Reporter: rows, Dir: dir, Every: 30, Keep: 2, Algo: "mpc", Env: run.Env}
	if err := Train(context.Background(), cpu.New(), run, cfg, ck); err != nil {
		t.Fatal(err)
	}
	_, s, err := checkpoint.Load(dir, 30, checkpoint.Meta{Algo: "mpc", Env: run.Env})
	if err != nil {
		t.Fatal(err)
	}
	eng := cpu.New()
	policy, reset, free, err := CheckpointPolicy(eng, run, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	e, _ := env.Make(run.Env)
	got, _, err := algos.Evaluate(context.Background(), algos.OnReset(e, reset), policy, 2, run.Seed+algos.EvalSeedOffset)
	if err != nil {
		t.Fatal(err)
	}
	last := rows.Rows[len(rows.Rows)-1]
	if want := last.Get("eval_return"); last.EnvSteps != 60 || math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("the checkpoint's planner returns %v, the run's evaluation at step %d %v", got, last.EnvSteps, want)
	}
	other := cfg
	other.ModelHidden = []int{8, 8}
	if _, _, _, err := CheckpointPolicy(eng, run, other, s); err == nil || !strings.HasPrefix(err.Error(), "mpc: ") {
		t.Errorf("a model of other sizes: error %v, want one from mpc", err)
	}
}
