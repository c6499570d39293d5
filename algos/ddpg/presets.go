package ddpg

// presets holds, per environment id, the changes to Defaults (and to
// TD3Defaults) that the environment needs and why. Environments not listed
// train with the defaults.
var presets = map[string]func(c *Config){
	// rl-baselines3-zoo, hyperparams/td3.yml and ddpg.yml, Pendulum-v1:
	// learning rate 1e-3 (the sb3/td3-Pendulum-v1 model card: −196 ± 119
	// after 20,000 steps), as algos/sac's Pendulum-v1 preset. CleanRL's
	// 25,000 random steps would be more than a Pendulum budget; ours are
	// 1000, five random episodes, algos/sac's and algos/mbpo's, so that the
	// algorithms of one seed share their random prefix.
	"Pendulum-v1": func(c *Config) {
		c.ActorLR, c.CriticLR = 1e-3, 1e-3
		c.LearningStarts = 1000
	},
	// A random episode of ContinuousCartPole-v0 lasts about 20 steps, so
	// 1000 random steps are some 50 episodes (algos/sac's preset).
	"ContinuousCartPole-v0": func(c *Config) {
		c.LearningStarts = 1000
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

// PresetTD3 returns TD3Defaults with the same adjustments for envID.
func PresetTD3(envID string) Config {
	c := TD3Defaults()
	if adjust, ok := presets[envID]; ok {
		adjust(&c)
	}
	return c
}
