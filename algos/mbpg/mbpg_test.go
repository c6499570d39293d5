package mbpg

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/bptt"
	"github.com/imago-rl/imago/engine/cpu"
)

// bandit is a one-state model: the state stays [1], the reward of action a
// is −(a − 1)².
type bandit struct{}

func (bandit) ObsDim() int { return 1 }
func (bandit) ActDim() int { return 1 }
func (bandit) Step(s, a, eps []float64, grad bool) ([]float64, float64, func([]float64, float64) ([]float64, []float64)) {
	return []float64{1}, -(a[0] - 1) * (a[0] - 1), nil
}

// TestPolicyGradientBandit checks PolicyGradient on a one-step bandit with
// a linear unsquashed policy a = w·1 + c + σξ, whose expected reward
// −((w + c − 1)² + σ²) has gradient −2(w + c − 1) in w and c and −2σ² in
// log σ. With a zero value function the baseline is the batch mean (the
// normalisation's shift), and the estimate from 20,000 rollouts must point
// along the exact gradient: cosine above 0.99 (the estimate's relative
// standard error is about 1%).
func TestPolicyGradientBandit(t *testing.T) {
	p, err := bptt.NewGaussianPolicy(1, 1, nil, math.Log(0.5), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Params, []float64{0.2, -0.4, math.Log(0.5)}) // w, c, log σ
	value := bptt.NewMLP64([]int{1, 1}, bptt.Tanh, make([]float64, 2))
	starts := make([][]float64, 20000)
	for i := range starts {
		starts[i] = []float64{1}
	}
	trs, err := bptt.Rollouts(bptt.Problem{Policy: p, Models: func(int) bptt.Model { return bandit{} }, Starts: starts, Horizon: 1, Gamma: 1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b := PolicyGradient(p, value, trs, 1, 1)
	m := 0.2 - 0.4 - 1
	exact := []float64{-2 * m, -2 * m, -2 * 0.25}
	dot := 0.0
	for i := range exact {
		dot += exact[i] * b.Grad[i]
	}
	if c := dot / (bptt.Norm(exact) * bptt.Norm(b.Grad)); c < 0.99 {
		t.Errorf("estimate %v against exact %v: cosine %.4f, want ≥ 0.99", b.Grad, exact, c)
	}
	if want := -(m*m + 0.25); math.Abs(b.MeanReturn-want) > 0.05 {
		t.Errorf("mean return %.4f, exact %.4f", b.MeanReturn, want)
	}
}

// TestPolicyGradientTargets checks the bootstrapped returns to go and the
// normalised advantages on a hand-computed rollout: rewards 1, 2 with
// γ = 0.5 and a value function constant at tanh(0)·0 + 3 = 3 give
// R_1 = 2 + 0.5·3 = 3.5 and R_0 = 1 + 0.5·3.5 = 2.75, advantages −0.25 and
// 0.5, normalised to −1 and 1; the value loss is (0.25² + 0.5²)/2.
func TestPolicyGradientTargets(t *testing.T) {
	p, _ := bptt.NewGaussianPolicy(1, 1, nil, 0, nil, nil)
	value := bptt.NewMLP64([]int{1, 1}, bptt.Tanh, []float64{0, 3})
	tr := bptt.Trajectory{States: [][]float64{{0}, {1}, {2}}, Xi: [][]float64{{0.1}, {-0.3}}, Rewards: []float64{1, 2}}
	b := PolicyGradient(p, value, []bptt.Trajectory{tr}, 2, 0.5)
	const tol = 1e-12
	for i, want := range []float64{2.75, 3.5} {
		if math.Abs(b.Targets[i]-want) > tol {
			t.Errorf("R_%d = %g, want %g", i, b.Targets[i], want)
		}
	}
	for i, want := range []float64{-1, 1} {
		if math.Abs(b.Advantages[i]-want) > tol {
			t.Errorf("Â_%d = %g, want %g", i, b.Advantages[i], want)
		}
	}
	if want := (0.0625 + 0.25) / 2; math.Abs(b.ValueLoss-want) > tol {
		t.Errorf("value loss %g, want %g", b.ValueLoss, want)
	}
	if math.Abs(b.MeanReturn-2) > tol { // 1 + 0.5·2
		t.Errorf("mean return %g, want 2", b.MeanReturn)
	}
}

func tiny() Config {
	c := Preset("Pendulum-v1")
	c.InitialSteps = 200
	c.PolicyUpdates = 5
	c.Rollouts = 8
	c.Horizon = 5
	c.PolicyHidden, c.ValueHidden = []int{16}, []int{16}
	c.Model.Members, c.Model.Elites = 2, 1
	c.Model.ModelHidden = []int{16, 16}
	c.Model.ModelWeightDecay = []float64{0, 0, 0}
	c.Model.ModelMaxEpochs = 3
	return c
}

// TestTrainSmoke runs mbpg on Pendulum-v1 for 600 steps and checks the
// rows: one per evaluation, eval_return within Pendulum's range, the model
// and policy columns finite once the model has trained.
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
		for _, c := range []string{"model_mse", "model_return", "value_loss", "policy_std"} {
			if v := r.Get(c); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("step %d: %s = %g, want finite", r.EnvSteps, c, v)
			}
		}
	}
}

// TestConfigValidate checks the defaults and presets are valid and every
// out-of-range field is an error naming its key.
func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{Defaults(), Preset("Pendulum-v1"), Preset("unknown")} {
		if err := c.Validate(); err != nil {
			t.Errorf("valid config: %v", err)
		}
	}
	for key, mod := range map[string]func(*Config){
		"initial_steps": func(c *Config) { c.InitialSteps = 0 },
		"rollouts":      func(c *Config) { c.Rollouts = 1 },
		"horizon":       func(c *Config) { c.Horizon = 0 },
		"value_steps":   func(c *Config) { c.ValueSteps = 0 },
		"gamma":         func(c *Config) { c.Gamma = -0.1 },
		"policy_lr":     func(c *Config) { c.PolicyLR = 0 },
		"value_lr":      func(c *Config) { c.ValueLR = math.Inf(1) },
		"value_hidden":  func(c *Config) { c.ValueHidden = []int{-1} },
		"model.members": func(c *Config) { c.Model.Members = 0 },
	} {
		c := Defaults()
		mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%s: error %v, want one starting with the key", key, err)
		}
	}
	run := algos.RunConfig{Env: "CartPole-v1", Steps: 10, EvalEvery: 10, EvalEpisodes: 1}
	if err := Train(context.Background(), cpu.New(), run, tiny(), algos.Discard{}); err == nil {
		t.Error("a discrete action space: no error")
	}
}
