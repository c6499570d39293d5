package clearning

import (
	_ "embed"

	"github.com/imago-rl/imago/algos/config"
)

// presetsYAML holds, per environment id, the changes to Defaults that the
// environment needs, with where each comes from.
//
//go:embed presets.yaml
var presetsYAML []byte

var presets = config.MustParsePresets("algos/clearning/presets.yaml", presetsYAML)

// Preset returns Defaults adjusted for the environment envID by its preset
// in presets.yaml; an environment without a preset gets Defaults.
func Preset(envID string) Config {
	c := Defaults()
	presets.MustApply(&c, envID)
	return c
}

// PresetEnvs returns the environment ids that have a preset, sorted.
func PresetEnvs() []string { return presets.Envs() }

// PresetYAML returns envID's preset as presets.yaml writes it, with its
// comments, and whether there is one.
func PresetYAML(envID string) (string, bool) { return presets.Text(envID) }
