package bptt

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine/cpu"
)

// tiny is a configuration small enough for a CI smoke run: a small model
// trained for at most 3 epochs and a handful of short rollouts.
func tiny() Config {
	c := Preset("Pendulum-v1")
	c.InitialSteps = 200
	c.PolicyUpdates = 5
	c.Rollouts = 4
	c.Horizon = 5
	c.PolicyHidden = []int{16}
	c.Model.Members, c.Model.Elites = 2, 1
	c.Model.ModelHidden = []int{16, 16}
	c.Model.ModelWeightDecay = []float64{0, 0, 0}
	c.Model.ModelMaxEpochs = 3
	return c
}

// TestTrainSmoke runs bptt on Pendulum-v1 for 600 steps (three model
// trainings) and checks the rows: one per evaluation, every column present,
// the evaluation return finite and within Pendulum's range [−16.3·200, 0],
// the model columns finite once the model has trained.
func TestTrainSmoke(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 600, Seed: 0, EvalEvery: 300, EvalEpisodes: 2}
	var rows algos.Rows
	if err := Train(context.Background(), cpu.New(), run, tiny(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows.Rows) != 2 || rows.Progressed != 600 {
		t.Fatalf("%d rows and %d progress calls, want 2 and 600", len(rows.Rows), rows.Progressed)
	}
	for _, r := range rows.Rows {
		t.Logf("step %d: %v", r.EnvSteps, r.Values)
		if ret := r.Get("eval_return"); !(ret <= 0 && ret >= -16.3*200) {
			t.Errorf("step %d: eval_return %g outside Pendulum's range", r.EnvSteps, ret)
		}
		for _, c := range []string{"model_mse", "model_return", "grad_norm", "policy_std"} {
			if v := r.Get(c); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("step %d: %s = %g, want finite", r.EnvSteps, c, v)
			}
		}
	}
}

// TestTrainDeterministic checks that two runs of one seed report the same
// numbers but for wall_seconds.
func TestTrainDeterministic(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 300, Seed: 3, EvalEvery: 300, EvalEpisodes: 1}
	var a, b algos.Rows
	for _, r := range []*algos.Rows{&a, &b} {
		if err := Train(context.Background(), cpu.New(), run, tiny(), r); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range Columns {
		if n == "wall_seconds" {
			continue
		}
		x, y := a.Rows[0].Values[i], b.Rows[0].Values[i]
		if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			t.Errorf("%s: %g then %g", n, x, y)
		}
	}
}

// TestConfigValidate checks the defaults and the presets are valid and
// every out-of-range field is an error naming its key.
func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{Defaults(), Preset("Pendulum-v1"), Preset("unknown")} {
		if err := c.Validate(); err != nil {
			t.Errorf("valid config: %v", err)
		}
	}
	for key, mod := range map[string]func(*Config){
		"initial_steps":            func(c *Config) { c.InitialSteps = 1 },
		"train_every":              func(c *Config) { c.TrainEvery = 0 },
		"policy_updates":           func(c *Config) { c.PolicyUpdates = 0 },
		"rollouts":                 func(c *Config) { c.Rollouts = 0 },
		"horizon":                  func(c *Config) { c.Horizon = 0 },
		"buffer_size":              func(c *Config) { c.BufferSize = 1 },
		"gamma":                    func(c *Config) { c.Gamma = 1.1 },
		"policy_hidden":            func(c *Config) { c.PolicyHidden = []int{0} },
		"policy_lr":                func(c *Config) { c.PolicyLR = math.NaN() },
		"init_log_std":             func(c *Config) { c.InitLogStd = 3 },
		"max_grad_norm":            func(c *Config) { c.MaxGradNorm = -1 },
		"model.elites":             func(c *Config) { c.Model.Elites = 9 },
		"model.model_weight_decay": func(c *Config) { c.Model.ModelWeightDecay = []float64{0} },
	} {
		c := Defaults()
		mod(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: no error", key)
			continue
		}
		if !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%s: error %q does not start with the key", key, err)
		}
	}
}

// TestTrainRejectsBadInput checks that a discrete action space and a bad
// run are errors, not panics.
func TestTrainRejectsBadInput(t *testing.T) {
	for _, run := range []algos.RunConfig{
		{Env: "CartPole-v1", Steps: 10, EvalEvery: 10, EvalEpisodes: 1},
		{Env: "Pendulum-v1", Steps: 0, EvalEvery: 10, EvalEpisodes: 1},
		{Env: "NoSuchEnv-v0", Steps: 10, EvalEvery: 10, EvalEpisodes: 1},
	} {
		if err := Train(context.Background(), cpu.New(), run, tiny(), algos.Discard{}); err == nil {
			t.Errorf("%+v: no error", run)
		}
	}
}
