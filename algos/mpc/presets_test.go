package mpc

import (
	"testing"

	"github.com/imago-rl/imago/algos/algostest"
)

// TestPresetsApplyAndValidate checks presets.yaml (algostest.Presets).
func TestPresetsApplyAndValidate(t *testing.T) {
	algostest.Presets(t, PresetEnvs(), Defaults(), Config.Validate, PresetYAML, Preset)
}
