package mbpo

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/sac"
)

// Config holds every hyperparameter of MBPO. Defaults returns the documented
// defaults; Preset adjusts them per environment (presets.yaml, embedded). Sources:
//
//   - [MBPO] Janner et al., "When to Trust Your Model: Model-Based Policy
//     Optimization", NeurIPS 2019 (arXiv:1906.08253), appendix C;
//   - [jannerm] jannerm/mbpo, the official code: mbpo/algorithms/mbpo.py
//     (the loop and its constructor defaults), mbpo/models/bnn.py (model
//     training), mbpo/models/constructor.py (the model),
//     examples/config/<env>/0.py (per-environment parameters), and
//     softlearning/algorithms/rl_algorithm.py (the step loop it extends);
//   - [mbrl-lib] facebookresearch/mbrl-lib, mbrl/algorithms/mbpo.py,
//     mbrl/models/model_trainer.py and mbrl/examples/conf, where it differs
//     from [jannerm] (noted per field; [jannerm] is followed).
//
// A CPU budget bounds two of the defaults' costs more than the others:
// UpdatesPerStep SAC updates per environment step and a RolloutBatchSize
// model rollout every ModelTrainFreq steps; presets lower them where the
// documented results do not need the official values.
type Config struct {
	// InitialSteps is the number of environment steps taken with uniformly
	// random actions before the first model training, rollout and policy
	// update. Default 5000 ([jannerm] examples/development/base.py
	// n_initial_exploration_steps; [mbrl-lib] initial_exploration_steps).
	InitialSteps int `yaml:"initial_steps"`
	// EpochLength is the number of environment steps of an MBPO epoch, the
	// unit of the rollout schedule and of the model buffer's retention.
	// Default 1000 ([jannerm] epoch_length).
	EpochLength int `yaml:"epoch_length"`
	// ModelTrainFreq is the number of environment steps between model
	// trainings, each followed by a batch of model rollouts. Default 250
	// ([jannerm] model_train_freq, [MBPO] appendix C).
	ModelTrainFreq int `yaml:"model_train_freq"`
	// UpdatesPerStep is G, the number of SAC updates after every
	// environment step. Default 20 ([jannerm] n_train_repeat for Hopper,
	// Walker2d, Ant, Humanoid; 40 for HalfCheetah, 10 for
	// InvertedPendulum).
	UpdatesPerStep int `yaml:"updates_per_step"`
	// RealRatio is the fraction of every SAC minibatch drawn from the real
	// replay buffer, the rest coming from the model buffer; the real part
	// is int(RealRatio·batch_size) rows. Default 0.05 ([jannerm] real_ratio
	// in every examples/config; its constructor default is 0.1).
	RealRatio float64 `yaml:"real_ratio"`

	// RolloutBatchSize is the number of model rollouts started, from states
	// drawn uniformly from the real buffer, after every model training.
	// Default 100,000 ([jannerm] rollout_batch_size).
	RolloutBatchSize int `yaml:"rollout_batch_size"`
	// RolloutSchedule is [min_epoch, max_epoch, min_length, max_length]:
	// the rollout length grows linearly from min_length to max_length
	// between those epochs, floored (see Schedule). Default [20, 100, 1, 1]
	// ([jannerm] mbpo.py constructor; its configs use [20, 150, 1, 15] for
	// Hopper and [1, 15, 1, 1] for InvertedPendulum).
	RolloutSchedule []int `yaml:"rollout_schedule"`
	// RolloutActions is where the model rollouts' actions come from: the
	// "choose a" of the general Dyna recipe (Levine, CS 285, lecture
	// "Model-Based Policy Learning": collect (s, a, s', r), learn the
	// model, then repeatedly sample s from the buffer, choose a from the
	// buffer, from π or at random, simulate s' and r with the model, train
	// on (s, a, s', r) model-free, and optionally take more model-based
	// steps; see docs/dyna.md). The start states are always drawn from the
	// real buffer.
	//
	//   - "policy": every imagined step samples the current policy π(·|s),
	//     SAC's stochastic policy with its own exploration: MBPO's branched
	//     rollouts ([MBPO] Algorithm 2; [jannerm] mbpo.py _rollout_model,
	//     self._policy.actions_np) and the imagination rollouts of MBA (Gu
	//     et al. 2016, "Continuous Deep Q-Learning with Model-based
	//     Acceleration": synthetic on-policy experience, with exploration,
	//     from states the real agent visited);
	//   - "buffer": the first imagined step takes the action stored with
	//     its start state in the real buffer, later steps π's: the
	//     lecture's "a from the buffer", which at rollout length 1
	//     re-simulates the real transitions with the model;
	//   - "random": every imagined step takes an action uniform in
	//     (−1, 1)^|A|, drawn from the engine's Philox stream: random
	//     shooting for exploration, data that π would not choose (MOPO's
	//     rollout_random, tianheyu927/mopo, mopo/algorithms/mopo.py
	//     _rollout_model).
	//
	// The empty string is "policy". Default "policy" ([jannerm]).
	RolloutActions ActionSource `yaml:"rollout_actions"`
	// RetainEpochs is how many epochs of rollouts the model buffer keeps:
	// its capacity is RolloutBatchSize·length·(EpochLength/ModelTrainFreq)·
	// RetainEpochs transitions, a ring (see ModelBufferCapacity). Default 1
	// ([jannerm] model_retain_epochs in every examples/config; the
	// constructor default is 20).
	RetainEpochs int `yaml:"retain_epochs"`

	// Members and Elites are the ensemble's size and the number of
	// members, those of lowest holdout MSE, that rollouts use. Default 7
	// and 5 ([jannerm] num_networks, num_elites; [MBPO] appendix C).
	Members int `yaml:"members"`
	Elites  int `yaml:"elites"`
	// ModelHidden holds the ensemble's hidden layer sizes, all with SiLU
	// (swish). Default four of 200 ([jannerm] constructor.py hidden_dim,
	// four swish layers).
	ModelHidden []int `yaml:"model_hidden"`
	// ModelWeightDecay is the L2 coefficient c of each layer's c·Σw²/2
	// (len(ModelHidden)+1 of them). Default 2.5e-5, 5e-5, 7.5e-5, 7.5e-5,
	// 1e-4 ([jannerm] constructor.py; [mbrl-lib] uses one 5e-5 as AdamW
	// decay).
	ModelWeightDecay []float64 `yaml:"model_weight_decay"`
	// ModelLR is the ensemble's Adam learning rate. Default 1e-3 ([jannerm]
	// constructor.py, [mbrl-lib] model_lr).
	ModelLR float64 `yaml:"model_lr"`
	// ModelBatchSize is the number of transitions per member per gradient
	// step of model training. Default 256 ([jannerm] mbpo.py _train_model).
	ModelBatchSize int `yaml:"model_batch_size"`
	// HoldoutRatio and MaxHoldout size the holdout set, redrawn from the
	// real buffer at every training: min(int(HoldoutRatio·N), MaxHoldout)
	// of the N transitions, at least 1. Default 0.2 and 5000 ([jannerm]
	// bnn.py train: holdout_ratio, max_logging).
	HoldoutRatio float64 `yaml:"holdout_ratio"`
	MaxHoldout   int     `yaml:"max_holdout"`
	// ModelImprovement is the relative decrease of a member's holdout MSE,
	// (best − current)/best, above which its parameters are snapshotted.
	// Default 0.01 ([jannerm] bnn.py _save_best; [mbrl-lib]
	// improvement_threshold).
	ModelImprovement float64 `yaml:"model_improvement"`
	// ModelPatience is max_epochs_since_update: a training stops at the
	// first epoch after which more than ModelPatience consecutive epochs
	// improved no member. Default 5 ([jannerm] bnn.py train).
	ModelPatience int `yaml:"model_patience"`
	// ModelMaxEpochs caps the epochs of one training; 0 is no cap, as
	// [jannerm] max_epochs=None. Default 0.
	ModelMaxEpochs int `yaml:"model_max_epochs"`
	// ModelMaxSeconds caps the wall-clock seconds of one training, checked
	// after each epoch as [jannerm] max_model_t; 0 is no cap (its
	// configs' None). A cap makes a run depend on the machine's speed, so
	// that two runs of one seed may differ; ModelMaxEpochs does not.
	// Default 0.
	ModelMaxSeconds float64 `yaml:"model_max_seconds"`

	// SAC holds the policy optimiser's hyperparameters (see sac.Config).
	// MBPO uses its networks, optimisers, batch size, discount, τ and
	// temperature, and the real buffer holds min(sac.buffer_size, steps)
	// transitions; sac.learning_starts and sac.updates_per_step are not
	// read (InitialSteps and UpdatesPerStep replace them). Default
	// sac.Defaults(), which agree with [jannerm] (learning rate 3e-4,
	// batch 256, two 256-unit layers, γ 0.99, τ 5e-3, target entropy −|A|).
	SAC sac.Config `yaml:"sac"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		InitialSteps:     5000,
		EpochLength:      1000,
		ModelTrainFreq:   250,
		UpdatesPerStep:   20,
		RealRatio:        0.05,
		RolloutBatchSize: 100_000,
		RolloutSchedule:  []int{20, 100, 1, 1},
		RolloutActions:   ActionsFromPolicy,
		RetainEpochs:     1,
		Members:          7,
		Elites:           5,
		ModelHidden:      []int{200, 200, 200, 200},
		ModelWeightDecay: []float64{2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4},
		ModelLR:          1e-3,
		ModelBatchSize:   256,
		HoldoutRatio:     0.2,
		MaxHoldout:       5000,
		ModelImprovement: 0.01,
		ModelPatience:    5,
		SAC:              sac.Defaults(),
	}
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	ints := []struct {
		key string
		v   int
		min int
	}{
		{"initial_steps", c.InitialSteps, 1},
		{"epoch_length", c.EpochLength, 1},
		{"model_train_freq", c.ModelTrainFreq, 1},
		{"updates_per_step", c.UpdatesPerStep, 0},
		{"rollout_batch_size", c.RolloutBatchSize, 1},
		{"retain_epochs", c.RetainEpochs, 1},
		{"members", c.Members, 1},
		{"elites", c.Elites, 1},
		{"model_batch_size", c.ModelBatchSize, 1},
		{"max_holdout", c.MaxHoldout, 1},
		{"model_patience", c.ModelPatience, 0},
		{"model_max_epochs", c.ModelMaxEpochs, 0},
	}
	for _, f := range ints {
		if f.v < f.min {
			return fmt.Errorf("%s = %d: must be at least %d", f.key, f.v, f.min)
		}
	}
	switch {
	case c.Elites > c.Members:
		return fmt.Errorf("elites = %d: must be at most members = %d", c.Elites, c.Members)
	case c.EpochLength%c.ModelTrainFreq != 0:
		// The official loop trains when the step within the epoch is a
		// multiple of model_train_freq; with a remainder the capacity
		// formula would not count the rollouts an epoch makes.
		return fmt.Errorf("epoch_length = %d: must be a multiple of model_train_freq = %d", c.EpochLength, c.ModelTrainFreq)
	case !(c.RealRatio >= 0 && c.RealRatio <= 1):
		return fmt.Errorf("real_ratio = %g: must be in [0, 1]", c.RealRatio)
	case !(c.HoldoutRatio > 0 && c.HoldoutRatio < 1):
		return fmt.Errorf("holdout_ratio = %g: must be in (0, 1)", c.HoldoutRatio)
	case !(c.ModelImprovement >= 0) || math.IsInf(c.ModelImprovement, 1):
		return fmt.Errorf("model_improvement = %g: must be non-negative and finite", c.ModelImprovement)
	case !(c.ModelLR > 0) || math.IsInf(c.ModelLR, 1):
		return fmt.Errorf("model_lr = %g: must be positive and finite", c.ModelLR)
	case !(c.ModelMaxSeconds >= 0):
		return fmt.Errorf("model_max_seconds = %g: must be non-negative (0 for no cap)", c.ModelMaxSeconds)
	}
	if err := c.RolloutActions.validate(); err != nil {
		return err
	}
	if _, err := ParseSchedule(c.RolloutSchedule); err != nil {
		return err
	}
	if len(c.ModelHidden) == 0 {
		return fmt.Errorf("model_hidden = %v: need at least one hidden layer", c.ModelHidden)
	}
	for _, h := range c.ModelHidden {
		if h <= 0 {
			return fmt.Errorf("model_hidden = %v: every size must be positive", c.ModelHidden)
		}
	}
	if len(c.ModelWeightDecay) != len(c.ModelHidden)+1 {
		return fmt.Errorf("model_weight_decay = %v: want %d values, one per layer of model_hidden = %v and the output layer",
			c.ModelWeightDecay, len(c.ModelHidden)+1, c.ModelHidden)
	}
	for _, w := range c.ModelWeightDecay {
		if !(w >= 0) || math.IsInf(w, 1) {
			return fmt.Errorf("model_weight_decay = %v: every value must be non-negative and finite", c.ModelWeightDecay)
		}
	}
	if err := c.SAC.Validate(); err != nil {
		return fmt.Errorf("sac.%w", err)
	}
	return nil
}
