package clearning

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

func envBox2() env.Space { return env.Box([]float64{-1, -1}, []float64{1, 1}) }

// small is a configuration small enough for tests that train.
func small() Config {
	c := Preset("PointMaze-Open-v0")
	c.Hidden = []int{16, 16}
	c.BatchSize = 16
	c.LearningStarts = 100
	return c
}

func steps(rs []algos.Row) []int {
	var s []int
	for _, r := range rs {
		s = append(s, r.EnvSteps)
	}
	return s
}

// TestTrainLearns trains a small C-learning agent on PointMaze-Open-v0 for
// 3000 steps and checks that its deterministic policy reaches the goals.
// Its configuration trades the preset's network and batch sizes for CI
// time: 64 units, batches of 64, learning from step 500. Seeds 0–5 of it
// ended with success 1.00 and final distances 0.10 to 0.50 (pure-Go
// build, 4 to 9 s each); a policy that stays put gets success 0.53 and
// final distance 2.02 on the same starts and goals (200 episodes), so the
// thresholds, success ≥ 0.9 and final distance < 1, leave a margin either
// side.
func TestTrainLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about 5 seconds")
	}
	cfg := Preset("PointMaze-Open-v0")
	cfg.Hidden = []int{64, 64}
	cfg.BatchSize = 64
	cfg.LearningStarts = 500
	start := time.Now()
	r := &algos.Rows{}
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 3000, Seed: 1, EvalEvery: 3000, EvalEpisodes: 20}
	if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
		t.Fatal(err)
	}
	last := r.Rows[len(r.Rows)-1]
	success, dist := last.Get("eval_success"), last.Get("eval_final_distance")
	t.Logf("after %d steps: success %.2f, final distance %.3f, min distance %.3f (%.1fs)",
		run.Steps, success, dist, last.Get("eval_min_distance"), time.Since(start).Seconds())
	if !(success >= 0.9) || !(dist < 1) {
		t.Errorf("after %d steps: success %.2f and final distance %.3f, want ≥ 0.9 and < 1", run.Steps, success, dist)
	}
}

// TestTrainDeterministic checks that two runs of the same seed report the
// same rows bit for bit, but for wall_seconds, and that another seed does
// not; the schedule of the rows and of Progress; and finite metrics once
// learning has started. Future goals are on, so that the host-side
// relabelling stream is exercised.
func TestTrainDeterministic(t *testing.T) {
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 250, Seed: 3, EvalEvery: 100, EvalEpisodes: 2}
	cfg := small()
	cfg.FutureShare = 0.25
	train := func(seed int64) *algos.Rows {
		r := &algos.Rows{}
		run := run
		run.Seed = seed
		if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := train(3), train(3), train(4)
	if fmt.Sprint(steps(a.Rows)) != "[100 200 250]" {
		t.Fatalf("rows at steps %v, want 100, 200, 250", steps(a.Rows))
	}
	if a.Progressed != run.Steps || a.Last != run.Steps {
		t.Errorf("Progress called %d times, last with %d; want %d, %d", a.Progressed, a.Last, run.Steps, run.Steps)
	}
	for i := range a.Rows {
		if fmt.Sprint(a.Rows[i].Names) != fmt.Sprint(Columns) {
			t.Fatalf("row %d names %v, want %v", i, a.Rows[i].Names, Columns)
		}
		for j, name := range Columns {
			if name == "wall_seconds" {
				continue
			}
			x, y := a.Rows[i].Values[j], b.Rows[i].Values[j]
			if math.Float64bits(x) != math.Float64bits(y) {
				t.Errorf("row %d %s: %v and %v in two runs of one seed", i, name, x, y)
			}
		}
	}
	if a.Rows[2].Get("critic_loss") == c.Rows[2].Get("critic_loss") {
		t.Errorf("seeds 3 and 4 report the same final row %v", a.Rows[2].Values)
	}
	// Learning starts after 100 steps: the first row has no losses, the
	// later ones have all of them.
	for _, name := range []string{"critic_loss", "actor_loss", "c_positive", "c_random", "w"} {
		if v := a.Rows[0].Get(name); !math.IsNaN(v) {
			t.Errorf("row at step 100, before learning: %s = %v, want NaN", name, v)
		}
		if v := a.Rows[1].Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("row at step 200: %s = %v", name, v)
		}
	}
	// Episodes of 50 steps: two ended between steps 100 and 200.
	if v := a.Rows[1].Get("train_success"); math.IsNaN(v) || v < 0 || v > 1 {
		t.Errorf("row at step 200: train_success = %v, want a share of two episodes", v)
	}
}

// cancelAt is a Reporter that cancels a context at a given step.
type cancelAt struct {
	algos.Rows
	step   int
	cancel context.CancelFunc
}

func (c *cancelAt) Progress(n int) {
	if n == c.step {
		c.cancel()
	}
}

// TestCancel checks that Train stops with the context's error.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := &cancelAt{step: 70, cancel: cancel}
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 1000, Seed: 1, EvalEvery: 50, EvalEpisodes: 1}
	err := Train(ctx, cpu.New(), run, small(), rep)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Train after cancellation: %v, want %v", err, context.Canceled)
	}
	if len(rep.Rows.Rows) != 1 {
		t.Errorf("%d rows recorded before cancelling at step 70, want 1", len(rep.Rows.Rows))
	}
}

type failing struct{ err error }

func (failing) Progress(int)             {}
func (f failing) Record(algos.Row) error { return f.err }

// TestRecordError checks that a Reporter's error stops training and is
// returned.
func TestRecordError(t *testing.T) {
	errFull := errors.New("disk full")
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 100, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	if err := Train(context.Background(), cpu.New(), run, small(), failing{errFull}); !errors.Is(err, errFull) {
		t.Fatalf("Train with a failing Reporter: %v, want %v", err, errFull)
	}
}

// TestBadInputs checks that invalid configurations and environments that
// are not goal-conditioned are one-line errors naming the problem.
func TestBadInputs(t *testing.T) {
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 10, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	for _, tc := range []struct {
		edit func(*Config, *algos.RunConfig)
		want string
	}{
		{func(c *Config, _ *algos.RunConfig) { c.BatchSize = 0 }, "batch_size = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.BatchSize = 255 }, "batch_size = 255: must be even"},
		{func(c *Config, _ *algos.RunConfig) { c.Hidden = nil }, "hidden = []"},
		{func(c *Config, _ *algos.RunConfig) { c.Hidden = []int{64, -1} }, "hidden = [64 -1]"},
		{func(c *Config, _ *algos.RunConfig) { c.Gamma = 1 }, "gamma = 1"},
		{func(c *Config, _ *algos.RunConfig) { c.Gamma = math.NaN() }, "gamma = NaN"},
		{func(c *Config, _ *algos.RunConfig) { c.Tau = 0 }, "tau = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.CriticLR = -1 }, "critic_lr = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.ActorLR = math.Inf(1) }, "actor_lr = +Inf"},
		{func(c *Config, _ *algos.RunConfig) { c.FutureShare = 0.6 }, "future_share = 0.6"},
		{func(c *Config, _ *algos.RunConfig) { c.BufferSize = 0 }, "buffer_size = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.LearningStarts = -1 }, "learning_starts = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.UpdatesPerStep = 0 }, "updates_per_step = 0"},
		{func(_ *Config, r *algos.RunConfig) { r.Steps = 0 }, "steps = 0"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = "Pendulum-v1" }, "Pendulum-v1 is not a goal-conditioned environment"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = "NoSuchEnv-v0" }, "unknown environment"},
	} {
		cfg, run := small(), run
		tc.edit(&cfg, &run)
		err := Train(context.Background(), cpu.New(), run, cfg, algos.Discard{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Train: error %v, want one line containing %q", err, tc.want)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults: %v", err)
	}
}

// TestPreset checks that unknown environments get Defaults and that every
// preset is of a registered environment and valid.
func TestPreset(t *testing.T) {
	if fmt.Sprint(Preset("no-such-env")) != fmt.Sprint(Defaults()) {
		t.Errorf("Preset of an unknown environment differs from Defaults")
	}
	for _, id := range []string{"PointMaze-Open-v0", "PointMaze-FourRooms-v0", "PointMaze-U-v0"} {
		if _, ok := presets[id]; !ok {
			t.Errorf("no preset for %s", id)
		}
	}
	for id := range presets {
		if _, err := env.Make(id); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
		if err := Preset(id).Validate(); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
	}
}

// slices is a point maze whose achieved and goal slices are replaced.
type slicedMaze struct {
	*env.PointMaze
	a0, a1, g0, g1 int
}

func (s slicedMaze) AchievedSlice() (int, int) { return s.a0, s.a1 }
func (s slicedMaze) GoalSlice() (int, int)     { return s.g0, s.g1 }

// TestLayoutOf checks the point maze's layout and the errors for slices
// that cannot be relabelled.
func TestLayoutOf(t *testing.T) {
	m, err := env.NewPointMaze("Open")
	if err != nil {
		t.Fatal(err)
	}
	l, err := LayoutOf(m.ID, m)
	if err != nil || l != pointLayout {
		t.Errorf("LayoutOf(point maze) = %+v, %v; want %+v", l, err, pointLayout)
	}
	for _, tc := range []struct {
		s    slicedMaze
		want string
	}{
		{slicedMaze{m, 0, 2, 2, 3}, "of one length"},
		{slicedMaze{m, 0, 0, 2, 2}, "non-empty"},
		{slicedMaze{m, 0, 2, 3, 5}, "must lie in the observation's 4 elements"},
		{slicedMaze{m, 0, 2, 1, 3}, "overlap"},
	} {
		if _, err := LayoutOf("x", tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LayoutOf with slices [%d, %d) and [%d, %d): %v, want an error containing %q", tc.s.a0, tc.s.a1, tc.s.g0, tc.s.g1, err, tc.want)
		}
	}
}

// TestEvaluate checks the measures of Evaluate with a policy that heads
// straight for the goal in the open room, which reaches every goal within
// one step of the action noise, and one that stays put, whose final and
// smallest distances are its initial distance, up to the noise.
func TestEvaluate(t *testing.T) {
	m, _ := env.NewPointMaze("Open")
	seek := func(o []float64) []float64 {
		return []float64{max(-1, min(1, o[2]-o[0])), max(-1, min(1, o[3]-o[1]))}
	}
	ev, err := Evaluate(context.Background(), m, seek, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Success != 1 || !(ev.FinalDistance < 0.05) || !(ev.MinDistance <= ev.FinalDistance) || !(ev.Return > 40) {
		t.Errorf("goal-seeking policy: %+v, want success 1, final distance < 0.05, min ≤ final, return > 40 of 50 steps", ev)
	}
	var initial float64
	for i := range 20 {
		o := m.Reset(7 + int64(i))
		initial += math.Hypot(o[0]-o[2], o[1]-o[3]) / 20
	}
	stay := func([]float64) []float64 { return []float64{0, 0} }
	ev, err = Evaluate(context.Background(), m, stay, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	// 50 steps of noise 0.01 move the point by about 0.07.
	if math.Abs(ev.FinalDistance-initial) > 0.1 || math.Abs(ev.MinDistance-initial) > 0.1 {
		t.Errorf("staying put: final %.3f and min %.3f distance, want the initial %.3f ± 0.1", ev.FinalDistance, ev.MinDistance, initial)
	}
	if _, err := Evaluate(context.Background(), m, stay, 0, 7); err == nil {
		t.Errorf("Evaluate of 0 episodes: no error")
	}
}

// TestLong runs the long measurement when IMAGO_LONG=1: C-learning with
// the preset on IMAGO_LONG_ENV (default PointMaze-Open-v0) for
// IMAGO_LONG_STEPS steps (default 20,000) with seed IMAGO_LONG_SEED
// (default 0), evaluating 20 episodes every 1000 steps. It logs every row
// and a RESULT line; it checks nothing. Build with -tags openblas for
// speed.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	id := envOr("IMAGO_LONG_ENV", "PointMaze-Open-v0")
	var stepCount int
	var seed int64
	fmt.Sscan(envOr("IMAGO_LONG_STEPS", "20000"), &stepCount)
	fmt.Sscan(envOr("IMAGO_LONG_SEED", "0"), &seed)
	start := time.Now()
	run := algos.RunConfig{Env: id, Steps: stepCount, Seed: seed, EvalEvery: 1000, EvalEpisodes: 20}
	r := &algos.Rows{}
	if err := Train(context.Background(), cpu.New(), run, Preset(id), r); err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		t.Logf("%s seed %d step %6d: success %.2f  final %.3f  min %.3f  return %5.1f  train_success %.2f  critic %.4f  actor %.4f  C+ %.3f  C- %.3f  w %.3f  %6.1fs",
			id, seed, row.EnvSteps, row.Get("eval_success"), row.Get("eval_final_distance"), row.Get("eval_min_distance"),
			row.Get("eval_return"), row.Get("train_success"), row.Get("critic_loss"), row.Get("actor_loss"),
			row.Get("c_positive"), row.Get("c_random"), row.Get("w"), row.Get("wall_seconds"))
	}
	last := r.Rows[len(r.Rows)-1]
	wall := time.Since(start).Seconds()
	t.Logf("RESULT %s seed %d: success %.2f, final distance %.3f after %d steps, %.0f s, %.1f steps/s",
		id, seed, last.Get("eval_success"), last.Get("eval_final_distance"), stepCount, wall, float64(stepCount)/wall)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
