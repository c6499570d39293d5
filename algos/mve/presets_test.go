package mve

import (
	"reflect"
	"testing"

	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/ddpg"
)

// TestPresetsApplyAndValidate checks presets.yaml (algostest.Presets).
func TestPresetsApplyAndValidate(t *testing.T) {
	algostest.Presets(t, PresetEnvs(), Defaults(), Config.Validate, PresetYAML, Preset, PresetSTEVE)
}

// TestPresetsTakeDDPGPresets checks that the ddpg section of every preset
// is algos/ddpg's preset of the same environment, written out in
// presets.yaml, and that MVE and STEVE keep their twin_critics.
func TestPresetsTakeDDPGPresets(t *testing.T) {
	envs := append(PresetEnvs(), ddpg.PresetEnvs()...)
	for _, id := range envs {
		if got, want := Preset(id).DDPG, ddpg.Preset(id); !reflect.DeepEqual(got, want) {
			t.Errorf("MVE's base learner for %s is\n%+v, ddpg.Preset is\n%+v", id, got, want)
		}
		want := ddpg.Preset(id)
		want.TwinCritics = true
		if got := PresetSTEVE(id).DDPG; !reflect.DeepEqual(got, want) {
			t.Errorf("STEVE's base learner for %s is\n%+v, want ddpg.Preset with twin critics\n%+v", id, got, want)
		}
	}
}
