package clearning

import "github.com/imago-rl/imago/env"

// presets holds, per environment id, the changes to Defaults that the
// environment needs and why. Environments not listed train with Defaults.
var presets = map[string]func(c *Config){}

func init() {
	// The point mazes: the official 10,000 random steps were sized for
	// Sawyer runs of 3M steps; a point maze is learnt in tens of thousands,
	// so 1000 random steps (20 episodes of 50 steps, every start and goal
	// drawn uniformly from free space) cover the maze and leave the budget
	// to learning.
	for _, layout := range env.PointMazeLayouts() {
		presets["PointMaze-"+layout+"-v0"] = func(c *Config) {
			c.LearningStarts = 1000
		}
	}
}

// Preset returns Defaults adjusted for the environment envID (see presets);
// an environment without a preset gets Defaults.
func Preset(envID string) Config {
	c := Defaults()
	if adjust, ok := presets[envID]; ok {
		adjust(&c)
	}
	return c
}
