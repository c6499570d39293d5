package mpc

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/mbpo"
)

// Config holds every hyperparameter of MPC. Defaults returns the documented
// defaults; Preset adjusts them per environment. Sources:
//
//   - [PETS] Chua et al., "Deep Reinforcement Learning in a Handful of
//     Trials using Probabilistic Dynamics Models", NeurIPS 2018
//     (arXiv:1805.12114), section 5 and appendix;
//   - [mbrl-lib] facebookresearch/mbrl-lib: mbrl/planning/trajectory_opt.py
//     (CEMOptimizer, TrajectoryOptimizerAgent) and
//     mbrl/examples/conf/overrides/pets_cartpole.yaml, whose cart-pole
//     values ethanluoyc/magi's examples/pets/configs mirror (planning
//     horizon 15, population 500, elite ratio 0.1, α 0.1, 5 iterations,
//     20 particles, 5 members of three 200-unit SiLU layers, learning rate
//     1e-3, weight decay 5e-5, 50 epochs).
//
// The defaults are those of [mbrl-lib]'s cart-pole; on the CPU engine one
// planning step of them costs 500·20·15·5 = 750,000 rows through the
// ensemble, seconds per environment step, so the presets shrink the
// planner (see presets.yaml).
type Config struct {
	// InitialEpisodes is the number of episodes of uniformly random
	// actions that start a run, before the first model training. Default
	// 1 ([PETS] ninit_rollouts; [mbrl-lib] initial exploration of one
	// trial).
	InitialEpisodes int `yaml:"initial_episodes"`

	// Horizon is the number of steps of every planned action sequence.
	// Default 15 ([mbrl-lib] planning_horizon).
	Horizon int `yaml:"horizon"`
	// Population is the number of action sequences CEM samples per
	// iteration. Default 500 ([mbrl-lib] population_size for cart-pole).
	Population int `yaml:"population"`
	// EliteFraction is the fraction of the population, the best by
	// predicted return, that refits CEM's Gaussian; the elites are
	// ⌈EliteFraction·Population⌉ sequences. Default 0.1 ([mbrl-lib]
	// elite_ratio; [PETS] 40 of 400).
	EliteFraction float64 `yaml:"elite_fraction"`
	// Iterations is the number of CEM iterations per plan. Default 5
	// ([PETS] max_iters, [mbrl-lib] num_iterations).
	Iterations int `yaml:"iterations"`
	// Alpha is the smoothing of CEM's mean and variance: after each
	// iteration μ ← α·μ + (1−α)·μ_elites, and the variance likewise.
	// Default 0.1 ([PETS], [mbrl-lib] alpha).
	Alpha float64 `yaml:"alpha"`
	// Particles is the number of sampled trajectories per action
	// sequence, each through one ensemble member fixed for the whole
	// horizon (TS∞), the members spread evenly over a sequence's
	// particles. A sequence's value is the mean of its particles' returns.
	// Default 20 ([PETS], [mbrl-lib] num_particles).
	Particles int `yaml:"particles"`

	// Members and ModelElites are the ensemble's size and the number of
	// its members, those of lowest holdout MSE, that particles go
	// through. Default 5 and 5 ([PETS] and [mbrl-lib] ensemble_size 5;
	// PETS has no elites, so all five are used).
	Members     int `yaml:"members"`
	ModelElites int `yaml:"model_elites"`
	// ModelHidden holds the ensemble's hidden layer sizes, SiLU each.
	// Default three of 200 ([mbrl-lib] pets_cartpole).
	ModelHidden []int `yaml:"model_hidden"`
	// ModelWeightDecay is the L2 coefficient c of each layer's c·Σw²/2
	// (len(ModelHidden)+1 of them). Default 5e-5 for every layer
	// ([mbrl-lib] model_wd, which it applies as AdamW decay instead).
	ModelWeightDecay []float64 `yaml:"model_weight_decay"`
	// ModelLR is the ensemble's Adam learning rate. Default 1e-3.
	ModelLR float64 `yaml:"model_lr"`
	// ModelBatchSize is the number of transitions per member per gradient
	// step. Default 32 ([mbrl-lib] model_batch_size for PETS; its small
	// data sets, a few thousand transitions, give few steps per epoch at
	// MBPO's 256).
	ModelBatchSize int `yaml:"model_batch_size"`
	// ModelMaxEpochs caps the epochs of one model training, which also
	// stops early as algos/mbpo's does (ModelPatience). Default 50
	// ([mbrl-lib] num_epochs).
	ModelMaxEpochs int `yaml:"model_max_epochs"`
	// ModelPatience is the number of epochs in a row without a member
	// improving its holdout MSE by 1% after which training stops. Default
	// 5 (algos/mbpo, from jannerm/mbpo).
	ModelPatience int `yaml:"model_patience"`
	// HoldoutRatio is the fraction of the real transitions held out to
	// pick each member's snapshot and the elites. Default 0.2.
	HoldoutRatio float64 `yaml:"holdout_ratio"`
	// BufferSize is the most real transitions kept (a ring); PETS keeps
	// them all, so the default is large. The real buffer holds
	// min(BufferSize, steps). Default 100,000.
	BufferSize int `yaml:"buffer_size"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		InitialEpisodes:  1,
		Horizon:          15,
		Population:       500,
		EliteFraction:    0.1,
		Iterations:       5,
		Alpha:            0.1,
		Particles:        20,
		Members:          5,
		ModelElites:      5,
		ModelHidden:      []int{200, 200, 200},
		ModelWeightDecay: []float64{5e-5, 5e-5, 5e-5, 5e-5},
		ModelLR:          1e-3,
		ModelBatchSize:   32,
		ModelMaxEpochs:   50,
		ModelPatience:    5,
		HoldoutRatio:     0.2,
		BufferSize:       100_000,
	}
}

// CEMElites returns the number of elite sequences of a CEM iteration,
// ⌈EliteFraction·Population⌉.
func (c Config) CEMElites() int {
	return int(math.Ceil(c.EliteFraction * float64(c.Population)))
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	ints := []struct {
		key string
		v   int
		min int
	}{
		{"initial_episodes", c.InitialEpisodes, 1},
		{"horizon", c.Horizon, 1},
		{"population", c.Population, 2},
		{"iterations", c.Iterations, 1},
		{"particles", c.Particles, 1},
		{"members", c.Members, 1},
		{"model_elites", c.ModelElites, 1},
		{"model_batch_size", c.ModelBatchSize, 1},
		{"model_max_epochs", c.ModelMaxEpochs, 1},
		{"model_patience", c.ModelPatience, 0},
		{"buffer_size", c.BufferSize, 2},
	}
	for _, f := range ints {
		if f.v < f.min {
			return fmt.Errorf("%s = %d: must be at least %d", f.key, f.v, f.min)
		}
	}
	switch {
	case c.ModelElites > c.Members:
		return fmt.Errorf("model_elites = %d: must be at most members = %d", c.ModelElites, c.Members)
	case !(c.EliteFraction > 0 && c.EliteFraction <= 1):
		return fmt.Errorf("elite_fraction = %g: must be in (0, 1]", c.EliteFraction)
	case !(c.Alpha >= 0 && c.Alpha < 1):
		return fmt.Errorf("alpha = %g: must be in [0, 1) (1 would never move the mean)", c.Alpha)
	case !(c.ModelLR > 0) || math.IsInf(c.ModelLR, 1):
		return fmt.Errorf("model_lr = %g: must be positive and finite", c.ModelLR)
	case !(c.HoldoutRatio > 0 && c.HoldoutRatio < 1):
		return fmt.Errorf("holdout_ratio = %g: must be in (0, 1)", c.HoldoutRatio)
	case c.Population*c.Particles > math.MaxInt32/c.Horizon:
		return fmt.Errorf("population·particles·horizon = %d·%d·%d: must be below 2³¹", c.Population, c.Particles, c.Horizon)
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
	return nil
}

// modelConfig returns the mbpo.Config whose model fields NewDynamics reads:
// the ensemble and its training as set here, jannerm's early stopping and
// holdout cap otherwise.
func (c Config) modelConfig() mbpo.Config {
	m := mbpo.Defaults()
	m.Members = c.Members
	m.Elites = c.ModelElites
	m.ModelHidden = c.ModelHidden
	m.ModelWeightDecay = c.ModelWeightDecay
	m.ModelLR = c.ModelLR
	m.ModelBatchSize = c.ModelBatchSize
	m.ModelMaxEpochs = c.ModelMaxEpochs
	m.ModelPatience = c.ModelPatience
	m.HoldoutRatio = c.HoldoutRatio
	return m
}
