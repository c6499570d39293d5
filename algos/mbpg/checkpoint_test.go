package mbpg

import (
	"context"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
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
	train := func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	}
	s := algostest.Policy(t, "mbpg", run, train, func(s *checkpoint.State) (algos.Policy, func(), error) {
		return CheckpointPolicy(nil, run, resumable(), s)
	})
	other := resumable()
	other.PolicyHidden = []int{8}
	if _, _, err := CheckpointPolicy(nil, run, other, s); err == nil || !strings.Contains(err.Error(), "other sizes") {
		t.Errorf("a policy of other sizes: error %v", err)
	}
}
