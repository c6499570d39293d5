package mbpg

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

// resumable is tiny with a model training every 150 steps from step 200,
// so that a 600-step run trains three times and a stop falls before,
// between or after them.
func resumable() Config {
	c := tiny()
	c.TrainEvery = 150
	return c
}

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 600, Seed: 4, EvalEvery: 200, EvalEpisodes: 1}
	algostest.Resume(t, "mbpg", run, 150, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	})
}

// TestCheckpointPolicy checks that the policy of a run's last checkpoint
// returns in one evaluation episode exactly the eval_return of the run's
// last row.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 400, Seed: 1, EvalEvery: 400, EvalEpisodes: 1}
	dir := t.TempDir()
	rows := &algos.Rows{}
	ck := &algos.Checkpoints{Reporter: rows, Dir: dir, Algo: "mbpg", Env: run.Env}
	if err := Train(context.Background(), cpu.New(), run, resumable(), ck); err != nil {
		t.Fatal(err)
	}
	_, s, err := checkpoint.Load(dir, -1, checkpoint.Meta{Algo: "mbpg", Env: run.Env})
	if err != nil {
		t.Fatal(err)
	}
	policy, free, err := CheckpointPolicy(nil, run, resumable(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	e, _ := env.Make(run.Env)
	got, _, err := algos.Evaluate(context.Background(), e, policy, 1, run.Seed+algos.EvalSeedOffset)
	if err != nil {
		t.Fatal(err)
	}
	if want := rows.Rows[0].Get("eval_return"); math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("the checkpoint's policy returns %v, the run's evaluation %v", got, want)
	}
	other := resumable()
	other.PolicyHidden = []int{8}
	if _, _, err := CheckpointPolicy(nil, run, other, s); err == nil || !strings.Contains(err.Error(), "other sizes") {
		t.Errorf("a policy of other sizes: error %v", err)
	}
}
