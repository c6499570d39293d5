package ddpg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// line is a tiny environment for the tests of the training loop: a point
// on a line, x' = x + 0.1·a, with the action clipped to its Box [−1, 3]
// (asymmetric, to exercise the rescaling), reward −x², terminated when
// |x| > 2 and truncated after 20 steps.
type line struct {
	env.Episode
	x float64
}

const lineID = "ddpg-test/Line-v0"

func init() {
	env.Register(env.Registration{ID: lineID, Description: "a point on a line (ddpg tests)", New: func() env.Env {
		return &line{Episode: env.Episode{ID: lineID, MaxSteps: 20}}
	}})
}

var lineAct = env.Box([]float64{-1}, []float64{3})

func (l *line) ObservationSpace() env.Space {
	return env.Box([]float64{math.Inf(-1)}, []float64{math.Inf(1)})
}
func (l *line) ActionSpace() env.Space { return lineAct }
func (l *line) Reset(seed int64) []float64 {
	l.x = 2*rand.New(rand.NewPCG(uint64(seed), 0)).Float64() - 1
	l.Begin()
	return []float64{l.x}
}
func (l *line) Step(a []float64) ([]float64, float64, bool, bool) {
	l.Check(lineAct, a)
	l.x += 0.1 * min(max(a[0], -1), 3)
	term := math.Abs(l.x) > 2
	return []float64{l.x}, -l.x * l.x, term, l.End(term)
}

func small() Config {
	c := TD3Defaults()
	c.Hidden = []int{16, 16}
	c.BatchSize = 32
	c.LearningStarts = 50
	return c
}

func steps(rs []algos.Row) []int {
	var s []int
	for _, r := range rs {
		s = append(s, r.EnvSteps)
	}
	return s
}

// TestTrainDeterministic checks that two runs of the same seed report the
// same rows bit for bit, but for wall_seconds, and that another seed does
// not; and the schedule of the rows and of Progress.
func TestTrainDeterministic(t *testing.T) {
	run := algos.RunConfig{Env: lineID, Steps: 250, Seed: 3, EvalEvery: 100, EvalEpisodes: 3}
	train := func(seed int64) *algos.Rows {
		r := &algos.Rows{}
		run := run
		run.Seed = seed
		if err := Train(context.Background(), cpu.New(), run, small(), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := train(3), train(3), train(4)
	if len(a.Rows) != 3 || a.Rows[0].EnvSteps != 100 || a.Rows[1].EnvSteps != 200 || a.Rows[2].EnvSteps != 250 {
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
	if a.Rows[2].Get("eval_return") == c.Rows[2].Get("eval_return") && a.Rows[2].Get("q_loss") == c.Rows[2].Get("q_loss") {
		t.Errorf("seeds 3 and 4 report the same final row %v", a.Rows[2].Values)
	}
	for _, name := range []string{"q_loss", "actor_loss", "eval_return"} {
		if v := a.Rows[0].Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("first row %s = %v", name, v)
		}
	}
}

// TestNaNBeforeLearning checks that an evaluation before the first gradient
// step reports NaN losses.
func TestNaNBeforeLearning(t *testing.T) {
	r := &algos.Rows{}
	cfg := small()
	cfg.LearningStarts = 100
	run := algos.RunConfig{Env: lineID, Steps: 120, Seed: 1, EvalEvery: 60, EvalEpisodes: 1}
	if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"q_loss", "actor_loss"} {
		if v := r.Rows[0].Get(name); !math.IsNaN(v) {
			t.Errorf("row at step 60, before learning: %s = %v, want NaN", name, v)
		}
		if v := r.Rows[1].Get(name); math.IsNaN(v) {
			t.Errorf("row at step 120, after learning started: %s = NaN", name)
		}
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
	run := algos.RunConfig{Env: lineID, Steps: 1000, Seed: 1, EvalEvery: 50, EvalEpisodes: 1}
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
	run := algos.RunConfig{Env: lineID, Steps: 100, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	err := Train(context.Background(), cpu.New(), run, small(), failing{errFull})
	if !errors.Is(err, errFull) {
		t.Fatalf("Train with a failing Reporter: %v, want %v", err, errFull)
	}
}

// TestExplore checks the exploration action against π(s) + ε clipped to
// [−1, 1], with ε the engine's normal draws, for a noise wide enough to
// reach the clip.
func TestExplore(t *testing.T) {
	eng := cpu.New()
	cfg := small()
	a, err := NewAgent(eng, cfg, 1, 1, engine.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	x := NewActor(eng, a.Policy(), lineAct, 0.8)
	r := ref{obs: 1, act: 1, hidden: cfg.Hidden}
	p := snapshot(a.Policy().Params)
	rng := engine.NewRNG(9)
	clipped := 0
	for i := range 40 {
		obs := []float64{float64(float32(0.1 * float64(i-20)))}
		start := rng.Counter
		got := x.Explore(obs, rng)
		u := r.policy(p, obs, 1)[0] + float64(engine.NormalAt(9, start, 0, 0, 0.8))
		if u < -1 || u > 1 {
			clipped++
		}
		checkClose(t, fmt.Sprintf("explore(%v)", obs), f64(got), []float64{min(max(u, -1), 1)}, forwardTol)
		mode := x.Mode(obs)
		checkClose(t, fmt.Sprintf("mode(%v)", obs), mode, []float64{1 + 2*r.policy(p, obs, 1)[0]}, forwardTol)
	}
	if clipped == 0 {
		t.Errorf("no exploration action reached the clip in 40 draws of σ = 0.8")
	}
}

// TestBadInputs checks that invalid configurations and environments DDPG
// cannot act in are errors naming the problem.
func TestBadInputs(t *testing.T) {
	run := algos.RunConfig{Env: lineID, Steps: 10, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	for _, tc := range []struct {
		edit func(*Config, *algos.RunConfig)
		want string
	}{
		{func(c *Config, _ *algos.RunConfig) { c.BatchSize = 0 }, "batch_size = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.Hidden = nil }, "hidden = []"},
		{func(c *Config, _ *algos.RunConfig) { c.Hidden = []int{64, -1} }, "hidden = [64 -1]"},
		{func(c *Config, _ *algos.RunConfig) { c.Gamma = 1.5 }, "gamma = 1.5"},
		{func(c *Config, _ *algos.RunConfig) { c.Tau = 0 }, "tau = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.CriticLR = -1 }, "critic_lr = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.ActorLR = math.Inf(1) }, "actor_lr = +Inf"},
		{func(c *Config, _ *algos.RunConfig) { c.LearningStarts = -1 }, "learning_starts = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.UpdatesPerStep = 0 }, "updates_per_step = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.PolicyFrequency = 0 }, "policy_frequency = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.ExplorationNoise = -0.1 }, "exploration_noise = -0.1"},
		{func(c *Config, _ *algos.RunConfig) { c.PolicyNoise = math.NaN() }, "policy_noise = NaN"},
		{func(c *Config, _ *algos.RunConfig) { c.NoiseClip = -1 }, "noise_clip = -1"},
		{func(_ *Config, r *algos.RunConfig) { r.Steps = 0 }, "steps = 0"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = "CartPole-v1" }, "discrete action space"},
	} {
		cfg, run := small(), run
		tc.edit(&cfg, &run)
		err := Train(context.Background(), cpu.New(), run, cfg, algos.Discard{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Train: error %v, want one containing %q", err, tc.want)
		}
	}
	for _, c := range []Config{Defaults(), TD3Defaults()} {
		if err := c.Validate(); err != nil {
			t.Errorf("defaults: %v", err)
		}
	}
}

// TestPreset checks that unknown environments get the defaults and that
// every preset is valid.
func TestPreset(t *testing.T) {
	if fmt.Sprint(Preset("no-such-env")) != fmt.Sprint(Defaults()) {
		t.Errorf("Preset of an unknown environment differs from Defaults")
	}
	if fmt.Sprint(PresetTD3("no-such-env")) != fmt.Sprint(TD3Defaults()) {
		t.Errorf("PresetTD3 of an unknown environment differs from TD3Defaults")
	}
	for id := range presets {
		if _, err := env.Make(id); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
		for _, c := range []Config{Preset(id), PresetTD3(id)} {
			if err := c.Validate(); err != nil {
				t.Errorf("preset for %s: %v", id, err)
			}
		}
	}
}

// TestPendulumSmoke runs DDPG and TD3, small, for 400 steps of
// Pendulum-v1 (learning from step 200) and checks that the loop runs and
// writes rows with finite values. It checks no learning: a few hundred
// steps are too few.
func TestPendulumSmoke(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"DDPG", Preset("Pendulum-v1")}, {"TD3", PresetTD3("Pendulum-v1")}} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			cfg := tc.cfg
			cfg.Hidden = []int{32, 32}
			cfg.BatchSize = 32
			cfg.LearningStarts = 200
			r := &algos.Rows{}
			run := algos.RunConfig{Env: "Pendulum-v1", Steps: 400, Seed: 1, EvalEvery: 200, EvalEpisodes: 2}
			if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
				t.Fatal(err)
			}
			if len(r.Rows) != 2 {
				t.Fatalf("rows at steps %v, want 200, 400", steps(r.Rows))
			}
			last := r.Rows[1]
			for _, name := range Columns {
				if v := last.Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("row at step 400: %s = %v", name, v)
				}
			}
			t.Logf("%s: eval return %.1f at step 400 (%.1fs)", tc.name, last.Get("eval_return"), time.Since(start).Seconds())
		})
	}
}

// TestLong runs the long measurements when IMAGO_LONG=1: DDPG and TD3 with
// the Pendulum-v1 presets for IMAGO_LONG_STEPS steps (default 5000) on
// seeds 0, 1 and 2 (IMAGO_LONG_ALGO = ddpg or td3 and IMAGO_LONG_SEED pick
// one), evaluating 10 episodes every 1000 steps. It logs every row and a
// RESULT line per run; it checks nothing. Build with -tags openblas for
// speed.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	steps := 5000
	if s := os.Getenv("IMAGO_LONG_STEPS"); s != "" {
		if _, err := fmt.Sscan(s, &steps); err != nil {
			t.Fatalf("IMAGO_LONG_STEPS = %q: %v", s, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"ddpg", Preset("Pendulum-v1")}, {"td3", PresetTD3("Pendulum-v1")}} {
		if a := os.Getenv("IMAGO_LONG_ALGO"); a != "" && a != tc.name {
			continue
		}
		for _, seed := range []int64{0, 1, 2} {
			if s := os.Getenv("IMAGO_LONG_SEED"); s != "" && s != fmt.Sprint(seed) {
				continue
			}
			run := algos.RunConfig{Env: "Pendulum-v1", Steps: steps, Seed: seed, EvalEvery: 1000, EvalEpisodes: 10}
			r := &algos.Rows{}
			if err := Train(context.Background(), cpu.New(), run, tc.cfg, r); err != nil {
				t.Fatal(err)
			}
			for _, row := range r.Rows {
				t.Logf("%s seed %d step %5d: eval %8.1f ± %6.1f  train %8.1f  q_loss %8.3f  actor_loss %8.2f  %6.1fs",
					tc.name, seed, row.EnvSteps, row.Get("eval_return"), row.Get("eval_return_std"), row.Get("train_return"),
					row.Get("q_loss"), row.Get("actor_loss"), row.Get("wall_seconds"))
			}
			last := r.Rows[len(r.Rows)-1]
			t.Logf("RESULT %s Pendulum-v1 seed %d: final eval return %.1f ± %.1f after %d steps, %.0f s",
				tc.name, seed, last.Get("eval_return"), last.Get("eval_return_std"), steps, last.Get("wall_seconds"))
		}
	}
}
