package sr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does,
// on the blocking maze, whose layout (and so the exact SR that sr_error
// compares with) changes after 1000 steps.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "BlockingMaze-v0", Steps: 3000, Seed: 2, EvalEvery: 500, EvalEpisodes: 2}
	cfg := Defaults()
	cfg.EvalMaxSteps = 200
	algostest.Resume(t, "sr", run, 600, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, nil, run, cfg, rep)
	})
}

// TestCheckpointPolicy checks that CheckpointPolicy says that evaluating a
// checkpoint does not apply to the SR of a fixed policy.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 10, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	policy, free, err := CheckpointPolicy(nil, run, Defaults(), checkpoint.NewState())
	if !errors.Is(err, ErrNoPolicy) || !strings.Contains(err.Error(), "does not apply") || policy != nil || free != nil {
		t.Errorf("CheckpointPolicy returned a policy %v and error %v; want none and ErrNoPolicy", policy != nil, err)
	}
}

// TestLearnerLoadRefuses checks that a learner refuses the checkpoint of a
// learner of another size or policy and keeps its own state.
func TestLearnerLoadRefuses(t *testing.T) {
	l, err := NewLearner(3, 2, Uniform(3, 2), 0.9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	l.Update(0, 1, 2, 1, false)
	s := checkpoint.NewState()
	l.Save(s, "learner.")

	other, err := NewLearner(3, 2, []float64{1, 0, 0.5, 0.5, 0.5, 0.5}, 0.9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Load(s, "learner."); err == nil || !strings.Contains(err.Error(), "another policy") {
		t.Errorf("another policy: error %v", err)
	}
	if other.H(0, 1, 0) != 0 {
		t.Error("a refused Load changed H")
	}
	bigger, err := NewLearner(4, 2, Uniform(4, 2), 0.9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if err := bigger.Load(s, "learner."); err == nil || !strings.Contains(err.Error(), "want 4 states") {
		t.Errorf("another size: error %v", err)
	}
	same, err := NewLearner(3, 2, Uniform(3, 2), 0.9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if err := same.Load(s, "learner."); err != nil {
		t.Fatal(err)
	}
	if same.H(0, 1, 0) != l.H(0, 1, 0) || same.Rewards()[0] != l.Rewards()[0] {
		t.Error("a loaded learner differs from the saved one")
	}
}
