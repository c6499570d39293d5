package sr

import "fmt"

// Config holds every hyperparameter of Train. Defaults returns the
// documented defaults; Preset(envID) is Defaults for every environment.
type Config struct {
	// Gamma is the discount of the SR. Default 0.95, the discount of the
	// mazes' experiments (Sutton and Barto, Example 8.1).
	Gamma float64 `yaml:"gamma"`
	// Alpha is the step size of the expected-TD update of H. Default 0.5:
	// on the Dyna maze under the uniform random policy the SR is within
	// 1e-3 of the exact one after some 60,000 steps (α = 1 takes 30,000,
	// but would not average out a stochastic environment's noise).
	Alpha float64 `yaml:"alpha"`
	// EvalMaxSteps caps each evaluation episode of the random policy,
	// for environments without a time limit. Default 10,000, some twelve
	// times the random walk's expected 869 steps on the Dyna maze.
	EvalMaxSteps int `yaml:"eval_max_steps"`
}

// Defaults returns the documented defaults of every field of Config.
func Defaults() Config {
	return Config{Gamma: 0.95, Alpha: 0.5, EvalMaxSteps: 10_000}
}

// Preset returns Defaults: no environment needs other values.
func Preset(envID string) Config { return Defaults() }

// Validate reports the first field out of range, naming its key, its value
// and what is allowed.
func (c Config) Validate() error {
	switch {
	case !(c.Gamma >= 0 && c.Gamma < 1):
		return fmt.Errorf("gamma = %g: must be in [0, 1) for the SR to be finite", c.Gamma)
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("alpha = %g: must be in (0, 1]", c.Alpha)
	case c.EvalMaxSteps < 1:
		return fmt.Errorf("eval_max_steps = %d: must be at least 1", c.EvalMaxSteps)
	}
	return nil
}
