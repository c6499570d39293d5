package ddpg

import (
	"context"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestResume checks that a TD3 run (delayed actor, target noise: the most
// state) interrupted or killed at a random step and resumed from its
// checkpoint reports what the uninterrupted run does.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 300, Seed: 2, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "td3", run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, small(), rep)
	})
}
