package sac

import (
	"fmt"
	"math"
)

// Config holds every hyperparameter of SAC. Defaults returns the documented
// defaults; Preset adjusts them for environments that need it. Sources:
//
//   - [SAC2] Haarnoja et al., "Soft Actor-Critic Algorithms and
//     Applications", 2018 (arXiv:1812.05905), table 1 and section 5;
//   - [CleanRL] vwxyzjn/cleanrl, cleanrl/sac_continuous_action.py;
//   - [SB3] DLR-RM/stable-baselines3, stable_baselines3/sac/sac.py.
type Config struct {
	// Hidden holds the sizes of the hidden layers of the policy and of each
	// Q network, all with ReLU. Default 256, 256 ([SAC2] table 1,
	// [CleanRL], [SB3]).
	Hidden []int `yaml:"hidden"`
	// BatchSize is the number of transitions per gradient step. Default
	// 256 ([SAC2] table 1, [CleanRL], [SB3]).
	BatchSize int `yaml:"batch_size"`
	// BufferSize is the replay capacity in transitions; a run of fewer
	// steps allocates only what it can fill. Default 10⁶ ([SAC2] table 1,
	// [CleanRL], [SB3]).
	BufferSize int `yaml:"buffer_size"`
	// LearningStarts is the number of environment steps taken with
	// uniformly random actions, before the first gradient step and the
	// first action of the policy. Default 5000 ([CleanRL]; [SB3] uses 100).
	LearningStarts int `yaml:"learning_starts"`
	// UpdatesPerStep is the number of gradient steps after each
	// environment step once learning has started. Default 1 ([SAC2]
	// table 1, [CleanRL], [SB3] gradient_steps).
	UpdatesPerStep int `yaml:"updates_per_step"`
	// Gamma is the discount factor. Default 0.99 ([SAC2] table 1,
	// [CleanRL], [SB3]).
	Gamma float64 `yaml:"gamma"`
	// Tau is the Polyak coefficient of the target critics, moved after
	// every gradient step: θ' ← (1−τ)·θ' + τ·θ. Default 0.005 ([SAC2]
	// table 1, [CleanRL], [SB3]).
	Tau float64 `yaml:"tau"`
	// ActorLR, CriticLR and AlphaLR are the Adam learning rates of the
	// policy, the Q networks and log α. Default 3e-4 each ([SAC2] table 1;
	// [SB3] uses one rate for all three; [CleanRL] uses 1e-3 for the
	// critics and α).
	ActorLR  float64 `yaml:"actor_lr"`
	CriticLR float64 `yaml:"critic_lr"`
	AlphaLR  float64 `yaml:"alpha_lr"`
	// Autotune learns the temperature α by gradient descent on log α
	// towards the target entropy ([SAC2] section 5); false keeps α fixed
	// at Alpha. Default true ([CleanRL] autotune, [SB3] ent_coef "auto").
	Autotune bool `yaml:"autotune"`
	// Alpha is the initial temperature, and the fixed one when Autotune is
	// false. Default 1 (log α = 0, as [CleanRL] and [SB3] start it).
	Alpha float64 `yaml:"alpha"`
	// TargetEntropyPerDim is the target entropy per action dimension: the
	// target is TargetEntropyPerDim·|A|, measured on the policy's squashed
	// actions in (−1, 1) before rescaling to the environment's bounds (as
	// [SB3] does; [CleanRL]'s log-probability includes the rescaling, which
	// shifts its entropy by Σ log((high−low)/2)). Default −1, the target
	// −|A| of [SAC2] section 5, [CleanRL] and [SB3].
	TargetEntropyPerDim float64 `yaml:"target_entropy_per_dim"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		Hidden:              []int{256, 256},
		BatchSize:           256,
		BufferSize:          1_000_000,
		LearningStarts:      5000,
		UpdatesPerStep:      1,
		Gamma:               0.99,
		Tau:                 0.005,
		ActorLR:             3e-4,
		CriticLR:            3e-4,
		AlphaLR:             3e-4,
		Autotune:            true,
		Alpha:               1,
		TargetEntropyPerDim: -1,
	}
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	if len(c.Hidden) == 0 {
		return fmt.Errorf("hidden = %v: need at least one hidden layer", c.Hidden)
	}
	for _, h := range c.Hidden {
		if h <= 0 {
			return fmt.Errorf("hidden = %v: every size must be positive", c.Hidden)
		}
	}
	ints := []struct {
		key string
		v   int
		min int
	}{
		{"batch_size", c.BatchSize, 1},
		{"buffer_size", c.BufferSize, 1},
		{"learning_starts", c.LearningStarts, 0},
		{"updates_per_step", c.UpdatesPerStep, 1},
	}
	for _, f := range ints {
		if f.v < f.min {
			return fmt.Errorf("%s = %d: must be at least %d", f.key, f.v, f.min)
		}
	}
	switch {
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1]", c.Gamma)
	case !(c.Tau > 0 && c.Tau <= 1):
		return fmt.Errorf("tau = %g: must be in (0, 1]", c.Tau)
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"actor_lr", c.ActorLR}, {"critic_lr", c.CriticLR}, {"alpha_lr", c.AlphaLR}, {"alpha", c.Alpha}} {
		if !(f.v > 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s = %g: must be positive and finite", f.key, f.v)
		}
	}
	if math.IsNaN(c.TargetEntropyPerDim) || math.IsInf(c.TargetEntropyPerDim, 0) {
		return fmt.Errorf("target_entropy_per_dim = %g: must be finite", c.TargetEntropyPerDim)
	}
	return nil
}
