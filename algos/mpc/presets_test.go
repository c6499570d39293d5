package mpc

import (
	"reflect"
	"strings"
	"testing"

	"github.com/imago-rl/imago/env"
)

// TestPresetsApplyAndValidate applies every preset of presets.yaml: each
// must be of a registered environment, apply without a panic, give a valid
// Config and have its text with a comment saying why; an environment
// without a preset gets Defaults.
func TestPresetsApplyAndValidate(t *testing.T) {
	envs := PresetEnvs()
	if len(envs) == 0 {
		t.Fatal("no presets")
	}
	if got := Preset("No-Such-Env-v0"); !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("Preset of an environment without one is %+v, want Defaults %+v", got, Defaults())
	}
	for _, id := range envs {
		if _, err := env.Make(id); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
		for _, c := range []Config{Preset(id)} {
			if err := c.Validate(); err != nil {
				t.Errorf("preset for %s: %v", id, err)
			}
		}
		text, ok := PresetYAML(id)
		if !ok || !strings.HasPrefix(text, "# ") || !strings.Contains(text, "\n"+id+":") {
			t.Errorf("PresetYAML(%s) = %q, %v; want the entry with its comment", id, text, ok)
		}
	}
	if _, ok := PresetYAML("No-Such-Env-v0"); ok {
		t.Errorf("PresetYAML of an environment without a preset reports one")
	}
}
