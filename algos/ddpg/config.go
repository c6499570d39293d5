package ddpg

import (
	"fmt"
	"math"
)

// Config holds every hyperparameter of DDPG and of TD3's three changes to
// it, which are switches here. Defaults returns DDPG's defaults, TD3Defaults
// TD3's; Preset and PresetTD3 adjust them for environments that need it.
// Sources:
//
//   - [DDPG] Lillicrap et al., "Continuous control with deep reinforcement
//     learning", ICLR 2016 (arXiv:1509.02971);
//   - [TD3] Fujimoto, van Hoof, Meger, "Addressing Function Approximation
//     Error in Actor-Critic Methods", ICML 2018 (arXiv:1802.09477),
//     section 5 and appendix C;
//   - [CleanRL] vwxyzjn/cleanrl, cleanrl/ddpg_continuous_action.py and
//     cleanrl/td3_continuous_action.py, whose defaults these are unless a
//     field says otherwise.
//
// Actions are in the policy's units, (−1, 1) per element, and rescaled to
// the environment's Box only when the environment gets them (as algos/sac
// does), so that the noise scales below are fractions of the half-width of
// the action range, exactly as [CleanRL] multiplies them by action_scale.
type Config struct {
	// Hidden holds the sizes of the hidden layers of the actor and of each
	// critic, all with ReLU. Default 256, 256 ([CleanRL]; [TD3] uses
	// 400, 300, [DDPG] 400, 300).
	Hidden []int `yaml:"hidden"`
	// BatchSize is the number of transitions per gradient step. Default
	// 256 ([CleanRL]; [TD3] 100, [DDPG] 64).
	BatchSize int `yaml:"batch_size"`
	// BufferSize is the replay capacity in transitions; a run of fewer
	// steps allocates only what it can fill. Default 10⁶ ([CleanRL], [TD3],
	// [DDPG]).
	BufferSize int `yaml:"buffer_size"`
	// LearningStarts is the number of environment steps taken with
	// uniformly random actions, before the first gradient step and the
	// first action of the policy. Default 25,000 ([CleanRL]; [TD3] uses
	// 10,000 for most tasks).
	LearningStarts int `yaml:"learning_starts"`
	// UpdatesPerStep is the number of gradient steps after each
	// environment step once learning has started. Default 1 ([CleanRL],
	// [TD3]).
	UpdatesPerStep int `yaml:"updates_per_step"`
	// Gamma is the discount factor. Default 0.99 ([CleanRL], [TD3],
	// [DDPG]).
	Gamma float64 `yaml:"gamma"`
	// Tau is the Polyak coefficient of the target networks, moved after
	// every actor update: θ' ← (1−τ)·θ' + τ·θ. Default 0.005 ([CleanRL],
	// [TD3]; [DDPG] 0.001).
	Tau float64 `yaml:"tau"`
	// ActorLR and CriticLR are the Adam learning rates of the actor and of
	// the critics. Default 3e-4 each ([CleanRL]; [TD3] 1e-3, [DDPG] 1e-4
	// and 1e-3).
	ActorLR  float64 `yaml:"actor_lr"`
	CriticLR float64 `yaml:"critic_lr"`
	// ExplorationNoise is the standard deviation of the Gaussian noise
	// added to the policy's action while collecting data, the result being
	// clipped to [−1, 1]. Default 0.1 ([CleanRL], [TD3]; [DDPG] used an
	// Ornstein–Uhlenbeck process, which [TD3] and [CleanRL] replace with
	// this).
	ExplorationNoise float64 `yaml:"exploration_noise"`
	// PolicyFrequency is the number of critic updates per actor update:
	// the actor and the target networks are updated after every
	// PolicyFrequency-th critic update (the 2nd, 4th, … for 2). 1 is
	// [DDPG]'s every step; 2 is [TD3]'s delayed policy update. Default 2,
	// as [CleanRL] uses it for DDPG too.
	PolicyFrequency int `yaml:"policy_frequency"`
	// TwinCritics learns two critics and bootstraps from the minimum of
	// their targets ([TD3]'s clipped double Q-learning); the actor follows
	// the first critic. Default false (DDPG's one critic).
	TwinCritics bool `yaml:"twin_critics"`
	// TargetPolicySmoothing adds clipped Gaussian noise to the target
	// actor's action at the next state: a' = clip(π'(s') + clip(ε, −c, c),
	// −1, 1), ε ~ N(0, PolicyNoise²), c = NoiseClip ([TD3] section 5.3).
	// Default false.
	TargetPolicySmoothing bool `yaml:"target_policy_smoothing"`
	// PolicyNoise and NoiseClip are the standard deviation and the clip of
	// the target policy smoothing noise; read only with
	// TargetPolicySmoothing. Default 0.2 and 0.5 ([TD3], [CleanRL]).
	PolicyNoise float64 `yaml:"policy_noise"`
	NoiseClip   float64 `yaml:"noise_clip"`
}

// Defaults returns DDPG's documented defaults: one critic, no target
// smoothing, the actor updated every second step.
func Defaults() Config {
	return Config{
		Hidden:           []int{256, 256},
		BatchSize:        256,
		BufferSize:       1_000_000,
		LearningStarts:   25_000,
		UpdatesPerStep:   1,
		Gamma:            0.99,
		Tau:              0.005,
		ActorLR:          3e-4,
		CriticLR:         3e-4,
		ExplorationNoise: 0.1,
		PolicyFrequency:  2,
		PolicyNoise:      0.2,
		NoiseClip:        0.5,
	}
}

// TD3Defaults returns Defaults with TD3's twin critics and target policy
// smoothing switched on ([CleanRL] td3_continuous_action.py; its delayed
// policy update is Defaults' PolicyFrequency 2 already).
func TD3Defaults() Config {
	c := Defaults()
	c.TwinCritics = true
	c.TargetPolicySmoothing = true
	return c
}

// Critics returns the number of critics: 2 with TwinCritics, else 1.
func (c Config) Critics() int {
	if c.TwinCritics {
		return 2
	}
	return 1
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
		{"policy_frequency", c.PolicyFrequency, 1},
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
	}{{"actor_lr", c.ActorLR}, {"critic_lr", c.CriticLR}} {
		if !(f.v > 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s = %g: must be positive and finite", f.key, f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"exploration_noise", c.ExplorationNoise}, {"policy_noise", c.PolicyNoise}, {"noise_clip", c.NoiseClip}} {
		if !(f.v >= 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s = %g: must be non-negative and finite", f.key, f.v)
		}
	}
	return nil
}
