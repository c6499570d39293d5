package ddpg

import (
	_ "embed"

	"github.com/imago-rl/imago/algos/config"
)

// presetsYAML holds, per environment id, the changes to Defaults and to
// TD3Defaults that the environment needs, with where each comes from.
//
//go:embed presets.yaml
var presetsYAML []byte

var presets = config.MustParsePresets("algos/ddpg/presets.yaml", presetsYAML)

// Preset returns Defaults adjusted for the environment envID by its preset
// in presets.yaml; an environment without a preset gets Defaults.
func Preset(envID string) Config {
	c := Defaults()
	presets.MustApply(&c, envID)
	return c
}

// PresetTD3 returns TD3Defaults with the same adjustments for envID.
func PresetTD3(envID string) Config {
	c := TD3Defaults()
	presets.MustApply(&c, envID)
	return c
}

// PresetEnvs returns the environment ids that have a preset, sorted; they
// are the same for Preset and PresetTD3.
func PresetEnvs() []string { return presets.Envs() }

// PresetYAML returns envID's preset as presets.yaml writes it, with its
// comments, and whether there is one.
func PresetYAML(envID string) (string, bool) { return presets.Text(envID) }
