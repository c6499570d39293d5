package bptt

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/mbpo"
)

// ModelConfig holds the learned model's hyperparameters: those of
// mbpo.Config that mbpo.Dynamics reads, with the same keys and meanings
// (see mbpo.Config for each field's source). algos/mbpg shares it.
type ModelConfig struct {
	Members          int       `yaml:"members"`
	Elites           int       `yaml:"elites"`
	ModelHidden      []int     `yaml:"model_hidden"`
	ModelWeightDecay []float64 `yaml:"model_weight_decay"`
	ModelLR          float64   `yaml:"model_lr"`
	ModelBatchSize   int       `yaml:"model_batch_size"`
	HoldoutRatio     float64   `yaml:"holdout_ratio"`
	MaxHoldout       int       `yaml:"max_holdout"`
	ModelImprovement float64   `yaml:"model_improvement"`
	ModelPatience    int       `yaml:"model_patience"`
	ModelMaxEpochs   int       `yaml:"model_max_epochs"`
}

// DefaultModel returns MBPO's model defaults (mbpo.Defaults) but for the
// hidden layers: three of 200 instead of four, with the first, second and
// last of MBPO's weight decays, and at most 50 epochs per training. The
// rollouts of this package and of algos/mbpg run on the host in float64
// (see MLP64), where four layers of 200 cost a millisecond per rollout step
// and its backward pass; three cost two thirds of that. Pendulum's
// dynamics need no more (PETS' Pendulum-like tasks use three layers of 200).
func DefaultModel() ModelConfig {
	d := mbpo.Defaults()
	return ModelConfig{
		Members:          d.Members,
		Elites:           d.Elites,
		ModelHidden:      []int{200, 200, 200},
		ModelWeightDecay: []float64{2.5e-5, 5e-5, 7.5e-5, 1e-4},
		ModelLR:          d.ModelLR,
		ModelBatchSize:   d.ModelBatchSize,
		HoldoutRatio:     d.HoldoutRatio,
		MaxHoldout:       d.MaxHoldout,
		ModelImprovement: d.ModelImprovement,
		ModelPatience:    d.ModelPatience,
		ModelMaxEpochs:   50,
	}
}

// MBPO returns the mbpo.Config that mbpo.NewDynamics reads: mbpo.Defaults
// with the model fields of c.
func (c ModelConfig) MBPO() mbpo.Config {
	m := mbpo.Defaults()
	m.Members, m.Elites = c.Members, c.Elites
	m.ModelHidden, m.ModelWeightDecay = c.ModelHidden, c.ModelWeightDecay
	m.ModelLR, m.ModelBatchSize = c.ModelLR, c.ModelBatchSize
	m.HoldoutRatio, m.MaxHoldout = c.HoldoutRatio, c.MaxHoldout
	m.ModelImprovement, m.ModelPatience, m.ModelMaxEpochs = c.ModelImprovement, c.ModelPatience, c.ModelMaxEpochs
	return m
}

// Validate reports the first model field out of range (mbpo.Config's
// rules).
func (c ModelConfig) Validate() error { return c.MBPO().Validate() }

// Config holds every hyperparameter of bptt. Defaults returns the documented
// defaults; Preset adjusts them per environment. Sources:
//
//   - [CS285] S. Levine, CS 285 lecture 12, "Model-Based Policy Learning":
//     "version 2.0", backpropagating the return into the policy through
//     the learned model, collecting data and refitting the model in turn;
//   - [PILCO] Deisenroth & Rasmussen 2011 and [Parmas] Parmas et al. 2018,
//     "PIPPS: Flexible Model-Based Policy Search Robust to the Curse of
//     Chaos", for the horizon and why it must stay short;
//   - [MBPO] for the model (ModelConfig) and the data collection.
type Config struct {
	// InitialSteps is the number of environment steps taken with uniformly
	// random actions before the first model training. Default 1000 (five
	// Pendulum episodes; algos/sac's and algos/mbpo's Pendulum-v1 value).
	InitialSteps int `yaml:"initial_steps"`
	// TrainEvery is the number of environment steps between model
	// trainings, each followed by PolicyUpdates policy steps. Default 250
	// ([MBPO] model_train_freq).
	TrainEvery int `yaml:"train_every"`
	// PolicyUpdates is the number of policy gradient steps after each
	// model training. Default 100.
	PolicyUpdates int `yaml:"policy_updates"`
	// Rollouts is the number of model rollouts per policy step, started
	// from states drawn uniformly from the real data, each through one
	// elite member drawn uniformly. Default 32.
	Rollouts int `yaml:"rollouts"`
	// Horizon is the length H of every model rollout; the objective is the
	// H-step discounted return, with no terminal value. Default 20: the
	// pathwise gradient's variance grows quickly with H on chaotic
	// dynamics ([Parmas]; this package's study), and 20 steps (one second
	// of Pendulum) is enough to learn to push towards the top.
	Horizon int `yaml:"horizon"`
	// Gamma is the discount factor within a rollout. Default 0.99.
	Gamma float64 `yaml:"gamma"`
	// PolicyHidden holds the policy network's hidden layer sizes (tanh).
	// Default 64, 64 (the PPO and TRPO policies of OpenAI Baselines).
	PolicyHidden []int `yaml:"policy_hidden"`
	// PolicyLR is the policy's Adam learning rate. Default 1e-3.
	PolicyLR float64 `yaml:"policy_lr"`
	// InitLogStd is the initial log σ of the policy's Gaussian, before the
	// tanh. Default −0.5 (σ ≈ 0.6).
	InitLogStd float64 `yaml:"init_log_std"`
	// MaxGradNorm clips every policy gradient to this Euclidean norm; 0
	// does not clip. Default 1: pathwise gradients through a learned model
	// occasionally explode (see the study) and one such step can undo the
	// policy.
	MaxGradNorm float64 `yaml:"max_grad_norm"`
	// BufferSize is the real data's capacity in transitions; a run of
	// fewer steps allocates only what it can fill. Default 10⁶.
	BufferSize int `yaml:"buffer_size"`
	// Model holds the learned model's hyperparameters. Default
	// DefaultModel().
	Model ModelConfig `yaml:"model"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		InitialSteps:  1000,
		TrainEvery:    250,
		PolicyUpdates: 100,
		Rollouts:      32,
		Horizon:       20,
		Gamma:         0.99,
		PolicyHidden:  []int{64, 64},
		PolicyLR:      1e-3,
		InitLogStd:    -0.5,
		MaxGradNorm:   1,
		BufferSize:    1_000_000,
		Model:         DefaultModel(),
	}
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	for _, f := range []struct {
		key    string
		v, min int
	}{
		{"initial_steps", c.InitialSteps, 2},
		{"train_every", c.TrainEvery, 1},
		{"policy_updates", c.PolicyUpdates, 1},
		{"rollouts", c.Rollouts, 1},
		{"horizon", c.Horizon, 1},
		{"buffer_size", c.BufferSize, 2},
	} {
		if f.v < f.min {
			return fmt.Errorf("%s = %d: must be at least %d", f.key, f.v, f.min)
		}
	}
	if err := CheckCommon(c.Gamma, c.PolicyHidden, c.PolicyLR, c.InitLogStd, c.MaxGradNorm); err != nil {
		return err
	}
	if err := c.Model.Validate(); err != nil {
		return fmt.Errorf("model.%w", err)
	}
	return nil
}

// CheckCommon validates the fields that bptt's and algos/mbpg's Configs
// share, by their keys.
func CheckCommon(gamma float64, hidden []int, lr, logStd, maxGrad float64) error {
	for _, h := range hidden {
		if h <= 0 {
			return fmt.Errorf("policy_hidden = %v: every size must be positive", hidden)
		}
	}
	switch {
	case !(gamma >= 0 && gamma <= 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1]", gamma)
	case !(lr > 0) || math.IsInf(lr, 1):
		return fmt.Errorf("policy_lr = %g: must be positive and finite", lr)
	case !(logStd >= LogStdMin && logStd <= LogStdMax):
		return fmt.Errorf("init_log_std = %g: must be in [%g, %g]", logStd, LogStdMin, LogStdMax)
	case !(maxGrad >= 0) || math.IsInf(maxGrad, 1):
		return fmt.Errorf("max_grad_norm = %g: must be non-negative and finite (0 for no clipping)", maxGrad)
	}
	return nil
}

// LogStdMin and LogStdMax bound the policy's log σ (GaussianPolicy
// ClampLogStd after every step), as SAC's and CleanRL's policies bound
// theirs to [−5, 2].
const (
	LogStdMin = -5.0
	LogStdMax = 2.0
)
