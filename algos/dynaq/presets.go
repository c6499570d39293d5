package dynaq

// presets holds, per environment id, the changes to Defaults that the
// environment needs and why. Environments not listed train with Defaults,
// which are already those of the Dyna maze (Example 8.1).
var presets = map[string]func(c *Config){
	// [Zhang] figure_8_4: α = 1 (the maze is deterministic, so a full
	// step loses nothing), n = 10 and, should Dyna-Q+ be asked for, κ =
	// 1e-4 ("kappa must be small, as the reward for getting the goal is
	// only 1").
	"BlockingMaze-v0": func(c *Config) {
		c.Alpha, c.PlanningSteps, c.Kappa = 1, 10, 1e-4
	},
	// [Zhang] figure_8_5: α = 1, n = 50, κ = 1e-3.
	"ShortcutMaze-v0": func(c *Config) {
		c.Alpha, c.PlanningSteps, c.Kappa = 1, 50, 1e-3
	},
}

// Preset returns Defaults adjusted for the environment envID (see presets);
// an environment without a preset gets Defaults. Plus stays false: Dyna-Q+
// is asked for with plus = true.
func Preset(envID string) Config {
	c := Defaults()
	if adjust, ok := presets[envID]; ok {
		adjust(&c)
	}
	return c
}
