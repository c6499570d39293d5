package sac

import (
	"context"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 300, Seed: 5, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "sac", run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, small(), rep)
	})
}
