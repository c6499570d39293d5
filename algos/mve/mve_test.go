package mve

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// line is a point on a line with a Box action and no env.Model: value
// expansion cannot run on it.
type line struct {
	env.Episode
	x float64
}

// byRule is line with a reward function and a termination rule that is
// not a box.
type byRule struct{ line }

const (
	lineID   = "mve-test/Line-v0"
	byRuleID = "mve-test/ByRule-v0"
)

func init() {
	env.Register(env.Registration{ID: lineID, Description: "a point on a line (mve tests)", New: func() env.Env {
		return &line{Episode: env.Episode{ID: lineID, MaxSteps: 20}}
	}})
	env.Register(env.Registration{ID: byRuleID, Description: "a point on a line, terminating by rule (mve tests)", New: func() env.Env {
		return &byRule{line{Episode: env.Episode{ID: byRuleID, MaxSteps: 20}}}
	}})
}

var lineAct = env.Box([]float64{-1}, []float64{1})

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
	l.x += 0.1 * a[0]
	return []float64{l.x}, -l.x * l.x, false, l.End(false)
}

func (b *byRule) Termination() env.Termination { return env.Termination{Kind: env.TerminatesByRule} }
func (b *byRule) TerminatedBatch(next []float64, n int, out []bool) {
	for i := range n {
		out[i] = next[i]*next[i] > 4
	}
}
func (b *byRule) RewardBatch(obs, act, next []float64, n int, out []float64) {
	for i := range n {
		out[i] = -next[i] * next[i]
	}
}

// small makes a configuration small enough for tests in a few seconds.
func small(c Config) Config {
	c.DDPG.Hidden = []int{32, 32}
	c.DDPG.BatchSize = 32
	c.DDPG.LearningStarts = 200
	c.Members, c.Elites = 3, 2
	c.ModelHidden = []int{16, 16}
	c.ModelWeightDecay = []float64{2.5e-5, 5e-5, 1e-4}
	c.ModelBatchSize = 64
	c.ModelMaxEpochs = 3
	c.ModelTrainFreq = 100
	return c
}

func steps(rs []algos.Row) []int {
	var s []int
	for _, r := range rs {
		s = append(s, r.EnvSteps)
	}
	return s
}

// TestTrainHorizonZeroIsDDPG checks that a run of MVE with horizon 0
// reports algos/ddpg's numbers for the same base configuration and seed,
// bit for bit: no model is made, and every update is the base learner's.
func TestTrainHorizonZeroIsDDPG(t *testing.T) {
	cfg := small(Preset("Pendulum-v1"))
	cfg.Horizon = 0
	cfg.DDPG.TwinCritics, cfg.DDPG.TargetPolicySmoothing = true, true
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 300, Seed: 2, EvalEvery: 150, EvalEpisodes: 2}
	got, want := &algos.Rows{}, &algos.Rows{}
	if err := Train(context.Background(), cpu.New(), run, cfg, got); err != nil {
		t.Fatal(err)
	}
	if err := ddpg.Train(context.Background(), cpu.New(), run, cfg.DDPG, want); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || len(want.Rows) != 2 {
		t.Fatalf("rows at %v and %v, want 150, 300", steps(got.Rows), steps(want.Rows))
	}
	for i := range got.Rows {
		for _, name := range []string{"eval_return", "eval_return_std", "train_return", "q_loss", "actor_loss"} {
			g, w := got.Rows[i].Get(name), want.Rows[i].Get(name)
			if math.Float64bits(g) != math.Float64bits(w) {
				t.Errorf("step %d %s: %v with horizon 0, %v for ddpg", got.Rows[i].EnvSteps, name, g, w)
			}
		}
		for _, name := range []string{"expansion", "model_holdout_mse", "model_epochs"} {
			if v := got.Rows[i].Get(name); !math.IsNaN(v) {
				t.Errorf("step %d %s = %v with horizon 0, want NaN", got.Rows[i].EnvSteps, name, v)
			}
		}
	}
}

// TestTrainDeterministic checks that two MVE runs (and two STEVE runs) of
// one seed on ContinuousCartPole-v0, whose imagined rollouts terminate,
// report the same rows bit for bit but for the time columns, and the
// schedule of the rows and of Progress.
func TestTrainDeterministic(t *testing.T) {
	for _, preset := range []func(string) Config{Preset, PresetSTEVE} {
		cfg := small(preset("ContinuousCartPole-v0"))
		cfg.Horizon = 2
		t.Run(cfg.Method, func(t *testing.T) {
			run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 300, Seed: 3, EvalEvery: 150, EvalEpisodes: 2}
			a, b := &algos.Rows{}, &algos.Rows{}
			for _, r := range []*algos.Rows{a, b} {
				if err := Train(context.Background(), cpu.New(), run, cfg, r); err != nil {
					t.Fatal(err)
				}
			}
			if len(a.Rows) != 2 || a.Rows[0].EnvSteps != 150 || a.Rows[1].EnvSteps != 300 {
				t.Fatalf("rows at steps %v, want 150, 300", steps(a.Rows))
			}
			if a.Progressed != run.Steps || a.Last != run.Steps {
				t.Errorf("Progress called %d times, last with %d; want %d, %d", a.Progressed, a.Last, run.Steps, run.Steps)
			}
			for i := range a.Rows {
				if fmt.Sprint(a.Rows[i].Names) != fmt.Sprint(Columns) {
					t.Fatalf("row %d names %v, want %v", i, a.Rows[i].Names, Columns)
				}
				for j, name := range Columns {
					if slices.Contains(TimeColumns, name) {
						continue
					}
					x, y := a.Rows[i].Values[j], b.Rows[i].Values[j]
					if math.Float64bits(x) != math.Float64bits(y) {
						t.Errorf("row %d %s: %v and %v in two runs of one seed", i, name, x, y)
					}
				}
			}
			last := a.Rows[1]
			for _, name := range Columns {
				if v := last.Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("row at step 300: %s = %v", name, v)
				}
			}
			if e := last.Get("expansion"); !(e >= 0 && e <= float64(cfg.Horizon)) {
				t.Errorf("expansion %v outside [0, %d]", e, cfg.Horizon)
			}
		})
	}
}

// TestBadInputs checks that invalid configurations and environments value
// expansion cannot run on are errors naming the problem.
func TestBadInputs(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 10, Seed: 1, EvalEvery: 10, EvalEpisodes: 1}
	for _, tc := range []struct {
		edit func(*Config, *algos.RunConfig)
		want string
	}{
		{func(c *Config, _ *algos.RunConfig) { c.Method = "mbve" }, `method = "mbve"`},
		{func(c *Config, _ *algos.RunConfig) { c.Horizon = -1 }, "horizon = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.ModelTrainFreq = 0 }, "model_train_freq = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.STEVEEpsilon = 0 }, "steve_epsilon = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.Method, c.DDPG.TwinCritics = MethodSTEVE, false }, "ddpg.twin_critics = false"},
		{func(c *Config, _ *algos.RunConfig) { c.DDPG.LearningStarts = 1 }, "ddpg.learning_starts = 1"},
		{func(c *Config, _ *algos.RunConfig) { c.DDPG.BatchSize = 0 }, "ddpg.batch_size = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.DDPG.Gamma = -1 }, "ddpg.gamma = -1"},
		{func(c *Config, _ *algos.RunConfig) { c.Members = 0 }, "members = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.Elites = 5 }, "elites = 5: must be at most members = 3"},
		{func(c *Config, _ *algos.RunConfig) { c.ModelHidden = nil }, "model_hidden = []"},
		{func(c *Config, _ *algos.RunConfig) { c.ModelWeightDecay = []float64{0} }, "model_weight_decay = [0]"},
		{func(c *Config, _ *algos.RunConfig) { c.ModelLR = 0 }, "model_lr = 0"},
		{func(c *Config, _ *algos.RunConfig) { c.HoldoutRatio = 1 }, "holdout_ratio = 1"},
		{func(_ *Config, r *algos.RunConfig) { r.Steps = 0 }, "steps = 0"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = "CartPole-v1" }, "discrete action space"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = lineID }, "env.Model"},
		{func(_ *Config, r *algos.RunConfig) { r.Env = byRuleID }, "not a box"},
	} {
		cfg, run := small(Preset("Pendulum-v1")), run
		tc.edit(&cfg, &run)
		err := Train(context.Background(), cpu.New(), run, cfg, algos.Discard{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Train: error %v, want one containing %q", err, tc.want)
		}
	}
	for _, c := range []Config{Defaults(), DefaultsSTEVE()} {
		if err := c.Validate(); err != nil {
			t.Errorf("defaults of %s: %v", c.Method, err)
		}
	}
}

// TestPreset checks that unknown environments get the defaults, that every
// preset is valid and keeps its method's defaults, and that the base
// learner is ddpg's preset.
func TestPreset(t *testing.T) {
	if !Defaults().TDK {
		t.Errorf("Defaults has td_k false; [MVE]'s TD-k trick is the default")
	}
	if fmt.Sprint(Preset("no-such-env")) != fmt.Sprint(Defaults()) {
		t.Errorf("Preset of an unknown environment differs from Defaults")
	}
	if fmt.Sprint(PresetSTEVE("no-such-env")) != fmt.Sprint(DefaultsSTEVE()) {
		t.Errorf("PresetSTEVE of an unknown environment differs from DefaultsSTEVE")
	}
	for id := range presets {
		if _, err := env.Make(id); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
		for _, c := range []Config{Preset(id), PresetSTEVE(id)} {
			if err := c.Validate(); err != nil {
				t.Errorf("%s preset for %s: %v", c.Method, id, err)
			}
		}
		if m, s := Preset(id), PresetSTEVE(id); m.Method != MethodMVE || m.Horizon != 5 || s.Method != MethodSTEVE || s.Horizon != 3 || !s.DDPG.TwinCritics {
			t.Errorf("presets for %s: MVE %s H=%d, STEVE %s H=%d twin %v", id, m.Method, m.Horizon, s.Method, s.Horizon, s.DDPG.TwinCritics)
		}
		if id == "Pendulum-v1" && Preset(id).TDK {
			t.Errorf("MVE's Pendulum-v1 preset has td_k true; the trick stops learning there (see Agent)")
		}
		if fmt.Sprint(Preset(id).DDPG) != fmt.Sprint(ddpg.Preset(id)) {
			t.Errorf("MVE's base learner for %s is not ddpg.Preset", id)
		}
	}
}

// TestPendulumSmoke runs MVE (H = 5) and STEVE (H = 3), small, for 400
// steps of Pendulum-v1 (learning from step 200, the model trained at steps
// 201 and 301) and checks that the loop runs and writes rows with finite
// values. It checks no learning: a few hundred steps are too few.
func TestPendulumSmoke(t *testing.T) {
	for _, preset := range []func(string) Config{Preset, PresetSTEVE} {
		cfg := small(preset("Pendulum-v1"))
		t.Run(cfg.Method, func(t *testing.T) {
			start := time.Now()
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
			if e := last.Get("expansion"); !(e > 0 && e <= float64(cfg.Horizon)) {
				t.Errorf("expansion %v outside (0, %d]", e, cfg.Horizon)
			}
			t.Logf("%s: eval return %.1f, expansion %.2f, model MSE %.3g at step 400 (%.1fs)", cfg.Method,
				last.Get("eval_return"), last.Get("expansion"), last.Get("model_holdout_mse"), time.Since(start).Seconds())
		})
	}
}

// TestLong runs the long measurement when IMAGO_LONG=1: MVE with the
// Pendulum-v1 preset (H = 5) against its base learner (the same with H = 0)
// for 5000 steps, evaluating 10 episodes every 1000 steps, on seeds 0, 1
// and 2. IMAGO_LONG_SEED, IMAGO_LONG_H (a horizon), IMAGO_LONG_METHOD (mve
// or steve, whose preset horizon is 3) and IMAGO_LONG_STEPS pick one run;
// IMAGO_LONG_TDK (true or false) overrides the preset's td_k, and
// IMAGO_LONG_MODEL=true replaces the learned model with Pendulum-v1's true
// dynamics (pendulumModel), which separates the model's error from the
// targets'. It logs every row and a RESULT line per run; it checks
// nothing. Build with -tags openblas for speed.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	n := 5000
	if s := os.Getenv("IMAGO_LONG_STEPS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("IMAGO_LONG_STEPS = %q: %v", s, err)
		}
	}
	cfg := Preset("Pendulum-v1")
	if os.Getenv("IMAGO_LONG_METHOD") == MethodSTEVE {
		cfg = PresetSTEVE("Pendulum-v1")
	}
	switch s := os.Getenv("IMAGO_LONG_TDK"); s {
	case "true", "false":
		cfg.TDK = s == "true"
	case "":
	default:
		t.Fatalf("IMAGO_LONG_TDK = %q: want true or false", s)
	}
	horizons := []int{cfg.Horizon, 0}
	if s := os.Getenv("IMAGO_LONG_H"); s != "" {
		var h int
		if _, err := fmt.Sscan(s, &h); err != nil {
			t.Fatalf("IMAGO_LONG_H = %q: %v", s, err)
		}
		horizons = []int{h}
	}
	for _, seed := range []int64{0, 1, 2} {
		if s := os.Getenv("IMAGO_LONG_SEED"); s != "" && s != fmt.Sprint(seed) {
			continue
		}
		for _, h := range horizons {
			c := cfg
			c.Horizon = h
			run := algos.RunConfig{Env: "Pendulum-v1", Steps: n, Seed: seed, EvalEvery: 1000, EvalEpisodes: 10}
			r := &algos.Rows{}
			var models modelFunc
			if os.Getenv("IMAGO_LONG_MODEL") == "true" {
				models = pendulumModels
			}
			if err := train(context.Background(), cpu.New(), run, c, r, models); err != nil {
				t.Fatal(err)
			}
			for _, row := range r.Rows {
				t.Logf("%s H=%d seed %d step %5d: eval %8.1f ± %6.1f  train %8.1f  q_loss %8.3f  actor_loss %8.2f  expansion %4.2f  model_mse %8.2g  epochs %3.0f  model %6.1fs  updates %6.1fs  %6.1fs",
					c.Method, h, seed, row.EnvSteps, row.Get("eval_return"), row.Get("eval_return_std"), row.Get("train_return"),
					row.Get("q_loss"), row.Get("actor_loss"), row.Get("expansion"), row.Get("model_holdout_mse"), row.Get("model_epochs"),
					row.Get("model_seconds"), row.Get("update_seconds"), row.Get("wall_seconds"))
			}
			last := r.Rows[len(r.Rows)-1]
			t.Logf("RESULT %s H=%d td_k=%v Pendulum-v1 seed %d: final eval return %.1f ± %.1f after %d steps, %.0f s",
				c.Method, h, c.TDK, seed, last.Get("eval_return"), last.Get("eval_return_std"), n, last.Get("wall_seconds"))
		}
	}
}
