package sac

// presets holds, per environment id, the changes to Defaults that the
// environment needs and why. Environments not listed train with Defaults.
var presets = map[string]func(c *Config){
	// rl-baselines3-zoo, hyperparams/sac.yml, Pendulum-v1: learning rate
	// 1e-3 for all three optimisers and SB3's defaults otherwise, the
	// configuration of SB3's −157 ± 89 after 20,000 steps. SB3 starts
	// learning after 100 random steps and CleanRL after 5000, a quarter of
	// that budget; ours are 1000, five random episodes.
	"Pendulum-v1": func(c *Config) {
		c.ActorLR, c.CriticLR, c.AlphaLR = 1e-3, 1e-3, 1e-3
		c.LearningStarts = 1000
	},
	// A random episode of ContinuousCartPole-v0 lasts about 20 steps, so
	// 1000 random steps are some 50 episodes; CleanRL's 5000 would spend
	// half of a 10,000-step budget on them. Target entropy −0.05 and a
	// temperature learning rate of 1e-4 are mbrl-lib's SAC settings for
	// this very environment (mbpo_cartpole.yaml), and 4 updates per step
	// follow its use of 20 (on model data) at a quarter of the cost. With
	// Defaults the deterministic policy balanced the pole but let the cart
	// drift out within 200 steps (two seeds of three never reached 200 in
	// 10,000 steps); with these, seeds 0 to 5 reach 200 by step 4000
	// (docs/RESULTS.md, SAC).
	"ContinuousCartPole-v0": func(c *Config) {
		c.LearningStarts = 1000
		c.UpdatesPerStep = 4
		c.TargetEntropyPerDim = -0.05
		c.AlphaLR = 1e-4
	},
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
