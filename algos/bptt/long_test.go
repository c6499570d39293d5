package bptt

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestLong runs the Pendulum-v1 preset when IMAGO_LONG=1 for
// IMAGO_LONG_STEPS steps (default 5000) on seed IMAGO_LONG_SEED (default
// 0), evaluating 5 episodes every 1000 steps, and logs every row. It checks
// nothing. Build with -tags openblas.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurement")
	}
	steps, seed := 5000, int64(0)
	if s, err := strconv.Atoi(os.Getenv("IMAGO_LONG_STEPS")); err == nil {
		steps = s
	}
	if s, err := strconv.ParseInt(os.Getenv("IMAGO_LONG_SEED"), 10, 64); err == nil {
		seed = s
	}
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: steps, Seed: seed, EvalEvery: 1000, EvalEpisodes: 5}
	var rows algos.Rows
	if err := Train(context.Background(), cpu.New(), run, Preset("Pendulum-v1"), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows.Rows {
		t.Logf("step %d: eval_return %.1f ± %.1f, model_return %.2f, wall %.0f s", r.EnvSteps, r.Get("eval_return"), r.Get("eval_return_std"), r.Get("model_return"), r.Get("wall_seconds"))
	}
}
