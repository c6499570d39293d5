package mpc

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
)

func TestConfigValidate(t *testing.T) {
	for _, id := range []string{"", "ContinuousCartPole-v0", "Pendulum-v1"} {
		if err := Preset(id).Validate(); err != nil {
			t.Errorf("Preset(%q): %v", id, err)
		}
	}
	for _, c := range []struct {
		key string
		set func(c *Config)
	}{
		{"initial_episodes", func(c *Config) { c.InitialEpisodes = 0 }},
		{"horizon", func(c *Config) { c.Horizon = 0 }},
		{"population", func(c *Config) { c.Population = 1 }},
		{"iterations", func(c *Config) { c.Iterations = 0 }},
		{"particles", func(c *Config) { c.Particles = 0 }},
		{"members", func(c *Config) { c.Members = 0 }},
		{"model_elites", func(c *Config) { c.ModelElites = 6 }},
		{"elite_fraction", func(c *Config) { c.EliteFraction = 0 }},
		{"elite_fraction", func(c *Config) { c.EliteFraction = math.NaN() }},
		{"alpha", func(c *Config) { c.Alpha = 1 }},
		{"model_lr", func(c *Config) { c.ModelLR = -1 }},
		{"holdout_ratio", func(c *Config) { c.HoldoutRatio = 1 }},
		{"model_hidden", func(c *Config) { c.ModelHidden = nil }},
		{"model_hidden", func(c *Config) { c.ModelHidden = []int{200, 0, 200} }},
		{"model_weight_decay", func(c *Config) { c.ModelWeightDecay = []float64{1} }},
		{"model_weight_decay", func(c *Config) { c.ModelWeightDecay = []float64{0, 0, 0, math.Inf(1)} }},
		{"model_max_epochs", func(c *Config) { c.ModelMaxEpochs = 0 }},
		{"buffer_size", func(c *Config) { c.BufferSize = 1 }},
		{"population·particles·horizon", func(c *Config) { c.Population, c.Particles, c.Horizon = 1<<20, 1<<10, 4 }},
	} {
		cfg := Defaults()
		c.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.key) {
			t.Errorf("%s: got %v, want an error naming %s", c.key, err, c.key)
		}
	}
	if got := Defaults().CEMElites(); got != 50 {
		t.Errorf("CEMElites of the defaults = %d, want ⌈0.1·500⌉ = 50", got)
	}
}

// tiny is a configuration small enough for a smoke run in CI.
func tiny() Config {
	c := Defaults()
	c.Horizon, c.Population, c.Particles, c.Iterations = 5, 20, 5, 2
	c.ModelHidden, c.ModelWeightDecay = []int{16, 16}, []float64{0, 0, 0}
	c.ModelMaxEpochs = 5
	return c
}

// TestTrainSmoke runs Train on ContinuousCartPole-v0 for 300 steps with a
// tiny planner and checks the rows: one per episode with its return, an
// evaluation at the end, model statistics after the first training, and
// the same numbers from a second run of the seed.
func TestTrainSmoke(t *testing.T) {
	run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 300, Seed: 1, EvalEvery: 300, EvalEpisodes: 1}
	var runs [2]*algos.Rows
	for i := range runs {
		runs[i] = &algos.Rows{}
		if err := Train(context.Background(), cpu.New(), run, tiny(), runs[i]); err != nil {
			t.Fatal(err)
		}
	}
	r := runs[0]
	if r.Progressed != 300 || r.Last != 300 {
		t.Errorf("Progress called %d times, last with %d; want 300 and 300", r.Progressed, r.Last)
	}
	episodes, steps := 0, 0
	for _, row := range r.Rows {
		if ep := row.Get("episode"); !math.IsNaN(ep) {
			episodes++
			if int(ep) != episodes {
				t.Errorf("row at step %d: episode %v, want %d", row.EnvSteps, ep, episodes)
			}
			ret, n := row.Get("episode_return"), row.Get("episode_steps")
			// ContinuousCartPole-v0 pays 1 per step.
			if ret != n || n < 1 || n > 200 {
				t.Errorf("episode %d: return %v over %v steps; want the step count, 1 to 200", episodes, ret, n)
			}
			steps += int(n)
			if episodes >= 1 && math.IsNaN(row.Get("model_holdout_mse")) {
				t.Errorf("episode %d: no model statistics after the model's training", episodes)
			}
		}
	}
	if episodes < 2 || steps > 300 {
		t.Errorf("%d episodes of %d steps in all; want at least 2 within 300 steps", episodes, steps)
	}
	last := r.Rows[len(r.Rows)-1]
	if last.EnvSteps != 300 || math.IsNaN(last.Get("eval_return")) || last.Get("eval_return") < 1 || math.IsNaN(last.Get("eval_return_std")) {
		t.Errorf("last row at step %d: eval %v ± %v, want an evaluation at step 300", last.EnvSteps, last.Get("eval_return"), last.Get("eval_return_std"))
	}
	if len(runs[1].Rows) != len(r.Rows) {
		t.Fatalf("two runs of one seed recorded %d and %d rows", len(r.Rows), len(runs[1].Rows))
	}
	for i, row := range r.Rows {
		for j, name := range Columns {
			if strings.HasSuffix(name, "_seconds") {
				continue
			}
			a, b := row.Values[j], runs[1].Rows[i].Values[j]
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Errorf("row %d %s: %v and %v from two runs of one seed", i, name, a, b)
			}
		}
	}
}

func TestTrainErrors(t *testing.T) {
	ok := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 10, Seed: 0, EvalEvery: 10, EvalEpisodes: 1}
	bad := tiny()
	bad.Horizon = 0
	for _, c := range []struct {
		name string
		run  algos.RunConfig
		cfg  Config
		want string
	}{
		{"config", ok, bad, "horizon"},
		{"discrete", algos.RunConfig{Env: "CartPole-v1", Steps: 10, EvalEvery: 10, EvalEpisodes: 1}, tiny(), "discrete"},
		{"run", algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 0, EvalEvery: 10, EvalEpisodes: 1}, tiny(), "steps"},
	} {
		err := Train(context.Background(), cpu.New(), c.run, c.cfg, algos.Discard{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Train(ctx, cpu.New(), ok, tiny(), algos.Discard{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// errEnough stops a long run after its tenth episode.
var errEnough = errors.New("ten episodes")

// firstEpisodes is a Reporter that keeps the returns of the first n
// training episodes and then stops the run.
type firstEpisodes struct {
	n       int
	returns []float64
	rows    []algos.Row
}

func (f *firstEpisodes) Progress(int) {}
func (f *firstEpisodes) Record(row algos.Row) error {
	f.rows = append(f.rows, row)
	if math.IsNaN(row.Get("episode")) {
		return nil
	}
	f.returns = append(f.returns, row.Get("episode_return"))
	if len(f.returns) == f.n {
		return errEnough
	}
	return nil
}

// TestLong runs the measurement when IMAGO_LONG=1: the return of
// each of the first 10 episodes (the first random, the rest MPC) of the
// presets of ContinuousCartPole-v0 and Pendulum-v1 on seeds 0, 1 and 2
// (IMAGO_LONG_ENV and IMAGO_LONG_SEED pick one environment and one seed).
// It logs one RESULT line per run; it checks nothing. Build with -tags
// openblas for speed.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	for _, id := range []string{"ContinuousCartPole-v0", "Pendulum-v1"} {
		if e := os.Getenv("IMAGO_LONG_ENV"); e != "" && e != id {
			continue
		}
		for _, seed := range []int64{0, 1, 2} {
			if s := os.Getenv("IMAGO_LONG_SEED"); s != "" && s != fmt.Sprint(seed) {
				continue
			}
			start := time.Now()
			// 2000 steps hold 10 episodes of at most 200 steps; the
			// reporter stops the run after the tenth.
			run := algos.RunConfig{Env: id, Steps: 2000, Seed: seed, EvalEvery: 2000, EvalEpisodes: 1}
			f := &firstEpisodes{n: 10}
			err := Train(context.Background(), cpu.New(), run, Preset(id), f)
			if err != nil && !errors.Is(err, errEnough) {
				t.Fatal(err)
			}
			last := f.rows[len(f.rows)-1]
			t.Logf("RESULT %s seed %d: episode returns %.1f (model %.0f s, planning %.0f s, %.0f s in all)",
				id, seed, f.returns, last.Get("model_seconds"), last.Get("plan_seconds"), time.Since(start).Seconds())
		}
	}
}
