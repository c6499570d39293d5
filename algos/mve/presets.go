package mve

import "github.com/imago-rl/imago/algos/ddpg"

// presets holds, per environment id, the changes to Defaults and to
// DefaultsSTEVE that the environment gets, with where each comes from.
// Environments not listed train with the defaults (and the base learner's
// ddpg defaults).
var presets = map[string]func(c *Config){
	// Pendulum-v1: the base learner takes ddpg's Pendulum-v1 preset
	// (learning rate 1e-3, 1000 random steps, which is also algos/sac's
	// and algos/mbpo's, so the four algorithms of one seed share their
	// random prefix). The model is MBPO's, with each training capped at
	// 20 epochs for a CPU budget (warm-started, so a training continues
	// the previous ones): uncapped, algos/mbpo's Pendulum-v1 runs spent
	// 15 to 213 epochs and 42 s on average per training (docs/RESULTS.md,
	// MBPO), more than the policy's updates cost.
	"Pendulum-v1": func(c *Config) {
		c.DDPG = withTwin(ddpg.Preset("Pendulum-v1"), c.DDPG.TwinCritics)
		c.ModelMaxEpochs = 20
	},
	// ContinuousCartPole-v0: ddpg's preset for the base learner (1000
	// random steps, some 50 episodes).
	"ContinuousCartPole-v0": func(c *Config) {
		c.DDPG = withTwin(ddpg.Preset("ContinuousCartPole-v0"), c.DDPG.TwinCritics)
	},
}

// withTwin returns c with TwinCritics set to twin: the presets keep the
// choice of Defaults or DefaultsSTEVE.
func withTwin(c ddpg.Config, twin bool) ddpg.Config {
	c.TwinCritics = twin
	return c
}

// Preset returns Defaults (MVE) adjusted for the environment envID (see
// presets); an environment without a preset gets Defaults.
func Preset(envID string) Config {
	c := Defaults()
	if adjust, ok := presets[envID]; ok {
		adjust(&c)
	}
	return c
}

// PresetSTEVE returns DefaultsSTEVE adjusted for the environment envID.
func PresetSTEVE(envID string) Config {
	c := DefaultsSTEVE()
	if adjust, ok := presets[envID]; ok {
		adjust(&c)
	}
	return c
}
