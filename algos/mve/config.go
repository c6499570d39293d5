package mve

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/mbpo"
)

// The methods of Config.Method.
const (
	MethodMVE   = "mve"
	MethodSTEVE = "steve"
)

// Config holds every hyperparameter of MVE and STEVE. Defaults returns
// MVE's documented defaults and DefaultsSTEVE STEVE's; Preset and
// PresetSTEVE adjust them per environment (presets.yaml, embedded). Sources:
//
//   - [MVE] Feinberg et al., "Model-Based Value Estimation for Efficient
//     Model-Free Reinforcement Learning", 2018 (arXiv:1803.00101),
//     Algorithm 1 and section 3;
//   - [STEVE] Buckman et al., "Sample-Efficient Reinforcement Learning with
//     Stochastic Ensemble Value Expansion", NeurIPS 2018
//     (arXiv:1807.01675), section 3;
//   - [jannerm] jannerm/mbpo, for the learned model and its training, which
//     are algos/mbpo's (mbpo.Dynamics; the keys below are mbpo.Config's).
type Config struct {
	// Method is "mve" (the TD-k targets of [MVE]) or "steve" (the
	// inverse-variance combination of [STEVE]). Default "mve"; "steve" in
	// DefaultsSTEVE.
	Method string `yaml:"method"`
	// Horizon is H, the number of imagined model steps from each real
	// transition's next state. Note the offset from [MVE]'s own H, which
	// counts the real transition too: its H is this H + 1, and its H = 1
	// is the base learner, this H = 0. [STEVE]'s H is this one (candidate
	// targets T^0 … T^H). Default 5 (MVE), 3 (STEVE, its section 4).
	Horizon int `yaml:"horizon"`
	// TDK is whether MVE regresses the critics at every imagined pair
	// towards its own target (the TD-k trick, [MVE] section 3.2 and
	// Algorithm 1) as well as at the real pair; false regresses at the
	// real pair only, towards the same H-step target. Default true
	// ([MVE]); false in the Pendulum-v1 preset, where the trick stops the
	// policy improving (see Agent, and presets.yaml for the runs). Read only
	// by MVE: STEVE regresses at the real pair only.
	TDK bool `yaml:"td_k"`
	// ModelTrainFreq is the number of environment steps between model
	// trainings, the first just before the first gradient step. Default
	// 250 (MBPO's model_train_freq; [MVE] takes model gradient steps
	// between policy steps instead).
	ModelTrainFreq int `yaml:"model_train_freq"`

	// The learned model, an ensemble trained on the real buffer as
	// mbpo.Dynamics trains it; each field is the mbpo.Config field of the
	// same key, with its default and source. Only its mean is used (see
	// Agent), so the elites are the dynamics hypotheses of MVE's draws
	// and STEVE's samples.
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
	ModelMaxSeconds  float64   `yaml:"model_max_seconds"`

	// STEVEEpsilon is added to every candidate target's variance before
	// it is inverted into a weight, so that a transition whose candidates
	// all have zero variance (a terminal real transition, whose every
	// candidate is its reward) gets finite, equal weights. Default 1e-8;
	// read only by STEVE.
	STEVEEpsilon float64 `yaml:"steve_epsilon"`

	// DDPG is the base learner (see ddpg.Config): its networks,
	// optimisers, batch size, discount, τ, noise and TD3 switches. Its
	// learning_starts random steps come before the first model training
	// and gradient step. STEVE needs ddpg.twin_critics, whose two target
	// critics are its samples of Q. Default ddpg.Defaults() (MVE) and
	// ddpg.Defaults() with twin critics (STEVE).
	DDPG ddpg.Config `yaml:"ddpg"`
}

// Defaults returns MVE's documented defaults.
func Defaults() Config {
	m := mbpo.Defaults()
	return Config{
		Method:           MethodMVE,
		Horizon:          5,
		TDK:              true,
		ModelTrainFreq:   m.ModelTrainFreq,
		Members:          m.Members,
		Elites:           m.Elites,
		ModelHidden:      m.ModelHidden,
		ModelWeightDecay: m.ModelWeightDecay,
		ModelLR:          m.ModelLR,
		ModelBatchSize:   m.ModelBatchSize,
		HoldoutRatio:     m.HoldoutRatio,
		MaxHoldout:       m.MaxHoldout,
		ModelImprovement: m.ModelImprovement,
		ModelPatience:    m.ModelPatience,
		ModelMaxEpochs:   m.ModelMaxEpochs,
		ModelMaxSeconds:  m.ModelMaxSeconds,
		STEVEEpsilon:     1e-8,
		DDPG:             ddpg.Defaults(),
	}
}

// DefaultsSTEVE returns STEVE's documented defaults: Defaults with method
// "steve", horizon 3 and twin critics.
func DefaultsSTEVE() Config {
	c := Defaults()
	c.Method = MethodSTEVE
	c.Horizon = 3
	c.DDPG.TwinCritics = true
	return c
}

// dynamics returns the mbpo.Config whose model fields are c's, for
// mbpo.NewDynamics; its other fields are mbpo's defaults and are not read
// by the model (EpochLength is set to ModelTrainFreq, of which mbpo's
// validation wants it a multiple).
func (c Config) dynamics() mbpo.Config {
	m := mbpo.Defaults()
	m.InitialSteps = max(1, c.DDPG.LearningStarts)
	m.EpochLength = c.ModelTrainFreq
	m.ModelTrainFreq = c.ModelTrainFreq
	m.Members, m.Elites = c.Members, c.Elites
	m.ModelHidden, m.ModelWeightDecay = c.ModelHidden, c.ModelWeightDecay
	m.ModelLR, m.ModelBatchSize = c.ModelLR, c.ModelBatchSize
	m.HoldoutRatio, m.MaxHoldout = c.HoldoutRatio, c.MaxHoldout
	m.ModelImprovement, m.ModelPatience = c.ModelImprovement, c.ModelPatience
	m.ModelMaxEpochs, m.ModelMaxSeconds = c.ModelMaxEpochs, c.ModelMaxSeconds
	return m
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	switch {
	case c.Method != MethodMVE && c.Method != MethodSTEVE:
		return fmt.Errorf("method = %q: must be %q or %q", c.Method, MethodMVE, MethodSTEVE)
	case c.Horizon < 0:
		return fmt.Errorf("horizon = %d: must be at least 0", c.Horizon)
	case c.ModelTrainFreq < 1:
		return fmt.Errorf("model_train_freq = %d: must be at least 1", c.ModelTrainFreq)
	case !(c.STEVEEpsilon > 0) || math.IsInf(c.STEVEEpsilon, 1):
		return fmt.Errorf("steve_epsilon = %g: must be positive and finite", c.STEVEEpsilon)
	}
	if err := c.DDPG.Validate(); err != nil {
		return fmt.Errorf("ddpg.%w", err)
	}
	if c.Method == MethodSTEVE && !c.DDPG.TwinCritics {
		return fmt.Errorf("method = steve with ddpg.twin_critics = false: STEVE's samples of Q are the two target critics; set ddpg.twin_critics = true")
	}
	if c.Horizon > 0 && c.DDPG.LearningStarts < 2 {
		return fmt.Errorf("ddpg.learning_starts = %d: the model trains before the first gradient step, on at least 2 transitions; must be at least 2 when horizon > 0", c.DDPG.LearningStarts)
	}
	// The model's fields, with mbpo's checks and messages (the keys are
	// the same).
	return c.dynamics().Validate()
}
