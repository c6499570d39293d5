package dynaq

import (
	"fmt"
	"math"
)

// Config holds every hyperparameter of Dyna-Q and Dyna-Q+. Defaults returns
// the documented defaults; Preset adjusts them per environment (presets.yaml, embedded).
// Sources:
//
//   - [SB] Sutton and Barto, Reinforcement Learning: An Introduction, 2nd
//     ed., 2018: section 8.2 (Tabular Dyna-Q, Example 8.1) and section 8.3
//     (Dyna-Q+, Examples 8.2 and 8.3, and the footnote on untried actions);
//   - [Zhang] ShangtongZhang/reinforcement-learning-an-introduction,
//     chapter08/maze.py, the code behind the book's Figures 8.2 to 8.5
//     (DynaParams and the figure functions).
type Config struct {
	// Gamma is the discount factor. Default 0.95 ([SB] Example 8.1,
	// [Zhang] DynaParams).
	Gamma float64 `yaml:"gamma"`
	// Alpha is the step size of every Q-learning update, direct and
	// planned. Default 0.1 ([SB] Example 8.1, [Zhang] DynaParams).
	Alpha float64 `yaml:"alpha"`
	// Epsilon is the probability of a uniformly random action; otherwise
	// the agent takes a greedy action, ties broken uniformly at random.
	// Default 0.1 ([SB] Example 8.1, [Zhang] DynaParams).
	Epsilon float64 `yaml:"epsilon"`
	// PlanningSteps is n, the planning updates from the learned model
	// after every real step; 0 is plain one-step Q-learning. Default 5
	// ([Zhang] DynaParams; [SB] Figure 8.2 compares 0, 5 and 50).
	PlanningSteps int `yaml:"planning_steps"`
	// Plus turns Dyna-Q into Dyna-Q+ ([SB] section 8.3): planning updates
	// use the reward r + κ√τ, τ being the real steps since the pair was
	// last tried, and every action of a visited state may be planned,
	// those never tried being modelled as leading back to the same state
	// with reward 0 ([SB] footnote to section 8.3). Default false.
	Plus bool `yaml:"plus"`
	// Kappa is κ, the weight of the exploration bonus κ√τ of Dyna-Q+; it
	// is unused unless Plus is set. Default 1e-3 ([Zhang] figure_8_5
	// time_weight; its figure_8_4 uses 1e-4, see presets.yaml).
	Kappa float64 `yaml:"kappa"`
	// EvalMaxSteps caps each evaluation episode of the greedy policy: the
	// mazes have no time limit and an untrained greedy policy can walk in
	// a loop for ever. An episode cut there counts its return so far.
	// Default 1000, some 70 times the Dyna maze's shortest path.
	EvalMaxSteps int `yaml:"eval_max_steps"`
}

// Defaults returns the documented defaults of every field of Config: the
// Dyna maze's Dyna-Q with n = 5.
func Defaults() Config {
	return Config{
		Gamma:         0.95,
		Alpha:         0.1,
		Epsilon:       0.1,
		PlanningSteps: 5,
		Plus:          false,
		Kappa:         1e-3,
		EvalMaxSteps:  1000,
	}
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	switch {
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1]", c.Gamma)
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("alpha = %g: must be in (0, 1]", c.Alpha)
	case !(c.Epsilon >= 0 && c.Epsilon <= 1):
		return fmt.Errorf("epsilon = %g: must be in [0, 1]", c.Epsilon)
	case c.PlanningSteps < 0:
		return fmt.Errorf("planning_steps = %d: must be at least 0", c.PlanningSteps)
	case !(c.Kappa >= 0) || math.IsInf(c.Kappa, 1):
		return fmt.Errorf("kappa = %g: must be finite and at least 0", c.Kappa)
	case c.EvalMaxSteps < 1:
		return fmt.Errorf("eval_max_steps = %d: must be at least 1", c.EvalMaxSteps)
	}
	return nil
}
