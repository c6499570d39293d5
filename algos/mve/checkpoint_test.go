package mve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
)

// resumable is small with learning from step 101 and a model training
// every 80 steps, so that a 300-step run trains its model three times and
// a stop falls before, between or after them, and with a smaller batch.
func resumable(c Config) Config {
	c = small(c)
	c.DDPG.Hidden = []int{16, 16}
	c.DDPG.BatchSize = 16
	c.DDPG.LearningStarts = 100
	c.ModelTrainFreq = 80
	c.ModelMaxEpochs = 2
	return c
}

// TestResume checks that MVE and STEVE runs interrupted at a random step,
// or killed, and resumed from their checkpoints report what the
// uninterrupted runs do, but for the columns measured by the clock.
// ContinuousCartPole-v0 ends episodes, real and imagined.
func TestResume(t *testing.T) {
	for _, c := range []struct {
		algo string
		cfg  Config
	}{{"mve", Preset("ContinuousCartPole-v0")}, {"steve", PresetSTEVE("ContinuousCartPole-v0")}} {
		t.Run(c.algo, func(t *testing.T) {
			run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 300, Seed: 3, EvalEvery: 100, EvalEpisodes: 1}
			algostest.Resume(t, c.algo, run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
				return Train(ctx, cpu.New(), run, resumable(c.cfg), rep)
			}, TimeColumns...)
		})
	}
}

// TestCheckpointPolicy checks that the policy of a run's last checkpoint
// returns in one evaluation episode exactly the eval_return of the run's
// last row, and that a configuration of other sizes is refused.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 120, Seed: 1, EvalEvery: 120, EvalEpisodes: 1}
	cfg := resumable(Preset("Pendulum-v1"))
	train := func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, cfg, rep)
	}
	eng := cpu.New()
	s := algostest.Policy(t, "mve", run, train, func(s *checkpoint.State) (algos.Policy, func(), error) {
		return CheckpointPolicy(eng, run, cfg, s)
	})
	other := cfg
	other.DDPG.Hidden = []int{8, 8}
	if _, _, err := CheckpointPolicy(eng, run, other, s); err == nil || !strings.HasPrefix(err.Error(), "mve: ") {
		t.Errorf("a policy of other sizes: error %v, want one from mve", err)
	}
}

// TestDivergence checks that a run whose base learner blows up stops with
// an algos.DivergedError naming the step, rather than with an
// environment's panic at a NaN action.
func TestDivergence(t *testing.T) {
	cfg := resumable(Preset("Pendulum-v1"))
	cfg.DDPG.CriticLR, cfg.DDPG.ActorLR = 1e12, 1e12
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 600, Seed: 1, EvalEvery: 100, EvalEpisodes: 1}
	err := Train(context.Background(), cpu.New(), run, cfg, &algos.Rows{})
	var d *algos.DivergedError
	if !errors.As(err, &d) || d.Step <= cfg.DDPG.LearningStarts {
		t.Fatalf("Train with learning rates of 1e12: %v, want a DivergedError after step %d", err, cfg.DDPG.LearningStarts)
	}
	t.Log(err)
}
