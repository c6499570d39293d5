package clearning

import (
	"fmt"
	"math"
)

// Config holds every hyperparameter of C-learning. Defaults returns the
// documented defaults; Preset adjusts them for environments that need it.
// Sources:
//
//   - [CL] Eysenbach, Salakhutdinov, Levine, "C-Learning: Learning to
//     Achieve Goals via Recursive Classification", ICLR 2021
//     (arXiv:2011.08909), section 5 and appendix E;
//   - [Official] google-research/google-research, c_learning/train_eval.py
//     (train_eval's defaults), c_learning_agent.py (critic_loss,
//     actor_loss) and c_learning_utils.py (goal_fn).
type Config struct {
	// Hidden holds the sizes of the hidden layers of the policy and of each
	// classifier, all with ReLU. Default 256, 256 ([Official]
	// actor_fc_layers, critic_joint_fc_layers).
	Hidden []int `yaml:"hidden"`
	// BatchSize is the number of transitions per gradient step; it must be
	// even, since half of the batch holds positive goals and half random
	// ones. Default 256 ([Official] batch_size).
	BatchSize int `yaml:"batch_size"`
	// BufferSize is the replay capacity in transitions; a run of fewer
	// steps allocates only what it can fill. Default 10⁶ ([Official]
	// replay_buffer_capacity).
	BufferSize int `yaml:"buffer_size"`
	// LearningStarts is the number of environment steps taken with
	// uniformly random actions, before the first gradient step and the
	// first action of the policy. Default 10,000 ([Official]
	// initial_collect_steps).
	LearningStarts int `yaml:"learning_starts"`
	// UpdatesPerStep is the number of gradient steps after each
	// environment step once learning has started. Default 1 ([Official]
	// train_steps_per_iteration).
	UpdatesPerStep int `yaml:"updates_per_step"`
	// Gamma is the discount of the future-state distribution the
	// classifier learns, in [0, 1): the importance weight w is clipped at
	// 1/(1−γ). Default 0.99 ([Official] gamma).
	Gamma float64 `yaml:"gamma"`
	// Tau is the Polyak coefficient of the target classifiers, moved after
	// every gradient step: θ' ← (1−τ)·θ' + τ·θ. Default 0.005 ([Official]
	// target_update_tau, target_update_period 1).
	Tau float64 `yaml:"tau"`
	// ActorLR and CriticLR are the Adam learning rates of the policy and
	// of the classifiers. Default 3e-4 each ([Official]).
	ActorLR  float64 `yaml:"actor_lr"`
	CriticLR float64 `yaml:"critic_lr"`
	// FutureShare is the share of the batch whose goal is a future state
	// of the transition's own episode, s_{t+Δ} with Δ ~ Geom(1−γ) on
	// {1, 2, …} truncated at the episode's end: the hybrid Monte-Carlo and
	// TD C-learning of [CL] appendix E. The positive half of the batch is
	// split between these and next-state goals, so FutureShare is in
	// [0, 0.5] and the next-state share is 0.5 − FutureShare ([Official]
	// asserts relabel_next_prob + relabel_future_prob = 0.5). Default 0,
	// TD C-learning ([Official] README, sawyer_reach).
	FutureShare float64 `yaml:"future_share"`
	// LambdaFix scales the bootstrapped term of the random goals by
	// λ = (next-state rows)/(positive rows), label λγw/(1+λγw) and weight
	// 1+λγw, which keeps the classifier's fixed point at the discounted
	// future-state density when future goals are mixed in (package
	// documentation). With FutureShare 0, λ = 1 and it changes nothing.
	// Default true; [Official] has the same option, lambda_fix, off by
	// default ("Empirically this has little effect").
	LambdaFix bool `yaml:"lambda_fix"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		Hidden:         []int{256, 256},
		BatchSize:      256,
		BufferSize:     1_000_000,
		LearningStarts: 10_000,
		UpdatesPerStep: 1,
		Gamma:          0.99,
		Tau:            0.005,
		ActorLR:        3e-4,
		CriticLR:       3e-4,
		FutureShare:    0,
		LambdaFix:      true,
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
	if c.BatchSize < 2 || c.BatchSize%2 != 0 {
		return fmt.Errorf("batch_size = %d: must be even and at least 2 (half the batch has positive goals, half random ones)", c.BatchSize)
	}
	ints := []struct {
		key string
		v   int
		min int
	}{
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
	case !(c.Gamma >= 0 && c.Gamma < 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1) (the weight w is clipped at 1/(1−γ))", c.Gamma)
	case !(c.Tau > 0 && c.Tau <= 1):
		return fmt.Errorf("tau = %g: must be in (0, 1]", c.Tau)
	case !(c.FutureShare >= 0 && c.FutureShare <= 0.5):
		return fmt.Errorf("future_share = %g: must be in [0, 0.5] (future and next-state goals share the positive half of the batch)", c.FutureShare)
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"actor_lr", c.ActorLR}, {"critic_lr", c.CriticLR}} {
		if !(f.v > 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s = %g: must be positive and finite", f.key, f.v)
		}
	}
	return nil
}

// Split is how a batch of C-learning is made up, in row order: Next rows
// whose goal is the next state, Future rows whose goal is a later state of
// the same episode, and Random rows whose goal is a state drawn from the
// whole buffer. Next + Future = Random = half the batch.
type Split struct {
	Next, Future, Random int
}

// SplitOf returns the split of a batch of batchSize rows (even) with a
// share futureShare ∈ [0, 0.5] of future goals: Random = batchSize/2,
// Future = ⌊futureShare·batchSize⌋ (rounded down, as [Official] goal_fn
// counts its rows) and Next the rest of the positive half.
func SplitOf(batchSize int, futureShare float64) Split {
	half := batchSize / 2
	future := min(int(futureShare*float64(batchSize)), half)
	return Split{Next: half - future, Future: future, Random: batchSize - half}
}

// Len returns the number of rows of the batch.
func (s Split) Len() int { return s.Next + s.Future + s.Random }

// Positive returns the number of rows with a positive goal, Next + Future.
func (s Split) Positive() int { return s.Next + s.Future }

// Lambda returns the factor λ of the bootstrapped term: Next/Positive with
// the fix (1 for a batch with no future goals), else 1.
func (s Split) Lambda(fix bool) float64 {
	if !fix || s.Positive() == 0 {
		return 1
	}
	return float64(s.Next) / float64(s.Positive())
}
