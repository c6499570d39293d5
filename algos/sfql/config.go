package sfql

import (
	"fmt"
	"math"
)

// The learners Config.Method selects.
const (
	MethodSFQL      = "sfql"       // successor features with GPI over every task so far
	MethodQLearning = "q-learning" // Q-learning from scratch on each task, the baseline
)

// Config holds every hyperparameter of SFQL and of its Q-learning
// baseline. Defaults returns the documented defaults; Preset(envID) is
// Defaults for every environment. Sources:
//
//   - [SF] Barreto et al., "Successor Features for Transfer in
//     Reinforcement Learning", NeurIPS 2017 (arXiv:1606.05312), section 5
//     and its appendix (the four-room experiment: 20 tasks of 20,000
//     transitions, object rewards drawn from U[−1, 1], γ = 0.95,
//     ε = 0.15);
//   - [Gimelfarb] mike-gimelfarb/deep-successor-features-for-transfer, a
//     reimplementation: source/configs/gridworld.cfg (learning rates 0.5),
//     source/agents/sfql.py (the two SF updates) and
//     source/successors/tabular.py (ψ of a new task copied from the last).
type Config struct {
	// Method is MethodSFQL or MethodQLearning. Default MethodSFQL.
	Method string `yaml:"method"`
	// Gamma is the discount factor. Default 0.95 ([SF] appendix B,
	// [Gimelfarb]).
	Gamma float64 `yaml:"gamma"`
	// Epsilon is the probability of a uniformly random action. Default
	// 0.15 ([SF], [Gimelfarb]).
	Epsilon float64 `yaml:"epsilon"`
	// Alpha is the step size of the ψ and Q updates. Default 0.5
	// ([Gimelfarb] learning_rate of SFQL and QL; the α).
	Alpha float64 `yaml:"alpha"`
	// TaskSteps is the number of environment steps spent on each task
	// before the next task vector is drawn. Default 20,000 ([SF]).
	TaskSteps int `yaml:"task_steps"`
	// KnownTask gives SFQL each task's true w instead of the least-squares
	// fit of the rewards seen so far on the task (TaskFit, FitTask).
	// Default false: the agent only sees rewards, as in [SF], where w is
	// learned ([Gimelfarb] by gradient steps of 0.5; the reward being
	// exactly linear in φ here, least squares has it as soon as each
	// feature has been seen once).
	KnownTask bool `yaml:"known_task"`
	// CopyPrevious starts the successor features of a new task as a copy
	// of the previous task's rather than at 0. Default true ([Gimelfarb]
	// build_successor, "as suggested in [SF]").
	CopyPrevious bool `yaml:"copy_previous"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{
		Method:       MethodSFQL,
		Gamma:        0.95,
		Epsilon:      0.15,
		Alpha:        0.5,
		TaskSteps:    20_000,
		KnownTask:    false,
		CopyPrevious: true,
	}
}

// Preset returns Defaults: FourRooms-v0 is the environment they are for.
func Preset(envID string) Config { return Defaults() }

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	switch {
	case c.Method != MethodSFQL && c.Method != MethodQLearning:
		return fmt.Errorf("method = %q: must be %q or %q", c.Method, MethodSFQL, MethodQLearning)
	case !(c.Gamma >= 0 && c.Gamma < 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1)", c.Gamma)
	case !(c.Epsilon >= 0 && c.Epsilon <= 1):
		return fmt.Errorf("epsilon = %g: must be in [0, 1]", c.Epsilon)
	case !(c.Alpha > 0 && c.Alpha <= 1) || math.IsNaN(c.Alpha):
		return fmt.Errorf("alpha = %g: must be in (0, 1]", c.Alpha)
	case c.TaskSteps < 1:
		return fmt.Errorf("task_steps = %d: must be at least 1", c.TaskSteps)
	}
	return nil
}
