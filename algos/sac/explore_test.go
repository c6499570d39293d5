package sac

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine/cpu"
)

func envInt(k string, d int) int {
	if v := os.Getenv(k); v != "" {
		n, _ := strconv.Atoi(v)
		return n
	}
	return d
}

func TestExplore(t *testing.T) {
	if os.Getenv("X_ENV") == "" {
		t.Skip()
	}
	cfg := Preset(os.Getenv("X_ENV"))
	if h := envInt("X_HIDDEN", 0); h > 0 {
		cfg.Hidden = []int{h, h}
	}
	cfg.LearningStarts = envInt("X_LS", cfg.LearningStarts)
	cfg.BatchSize = envInt("X_BATCH", cfg.BatchSize)
	cfg.UpdatesPerStep = envInt("X_UPS", cfg.UpdatesPerStep)
	if v := os.Getenv("X_LR"); v != "" {
		lr, _ := strconv.ParseFloat(v, 64)
		cfg.ActorLR, cfg.CriticLR, cfg.AlphaLR = lr, lr, lr
	}
	run := algos.RunConfig{Env: os.Getenv("X_ENV"), Steps: envInt("X_STEPS", 3000), Seed: int64(envInt("X_SEED", 1)), EvalEvery: envInt("X_EVERY", 500), EvalEpisodes: envInt("X_EPS", 5)}
	r := &rows{}
	start := time.Now()
	if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
		t.Fatal(err)
	}
	for _, row := range r.rows {
		t.Logf("seed %d step %5d: eval %8.1f ± %6.1f  train %8.1f  q_loss %8.3f  actor_loss %8.2f  alpha %.4f  entropy %6.2f  %6.1fs",
			run.Seed, row.EnvSteps, row.Get("eval_return"), row.Get("eval_return_std"), row.Get("train_return"),
			row.Get("q_loss"), row.Get("actor_loss"), row.Get("alpha"), row.Get("entropy"), row.Get("wall_seconds"))
	}
	t.Logf("wall %.1fs", time.Since(start).Seconds())
}

func TestExploreBits(t *testing.T) {
	if os.Getenv("X_BITS") == "" {
		t.Skip()
	}
	cfg := Preset(os.Getenv("X_BITS"))
	cfg.Hidden = []int{64, 64}
	cfg.BatchSize = 64
	cfg.LearningStarts = 100
	run := algos.RunConfig{Env: os.Getenv("X_BITS"), Steps: 600, Seed: 1, EvalEvery: 300, EvalEpisodes: 2}
	r := &rows{}
	if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
		t.Fatal(err)
	}
	for _, row := range r.rows {
		t.Logf("%v", row.Values[:7])
	}
}
