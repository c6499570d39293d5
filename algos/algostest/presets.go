package algostest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/imago-rl/imago/env"
)

// Presets checks an algorithm package's embedded presets.yaml: envs (its
// PresetEnvs) is not empty and names registered environments; every preset
// function of the package applies each of them without a panic and gives a
// Config that validate accepts; text (its PresetYAML) gives each entry with
// a comment saying why, and none for an environment without a preset, for
// which the first preset function gives defaults.
func Presets[C any](t *testing.T, envs []string, defaults C, validate func(C) error, text func(envID string) (string, bool), presets ...func(envID string) C) {
	t.Helper()
	if len(envs) == 0 {
		t.Fatal("no presets")
	}
	const none = "No-Such-Env-v0"
	if got := presets[0](none); !reflect.DeepEqual(got, defaults) {
		t.Errorf("Preset of an environment without one is %+v, want the defaults %+v", got, defaults)
	}
	if _, ok := text(none); ok {
		t.Errorf("PresetYAML of an environment without a preset reports one")
	}
	for _, id := range envs {
		if _, err := env.Make(id); err != nil {
			t.Errorf("preset for %s: %v", id, err)
		}
		for _, preset := range presets {
			if err := validate(preset(id)); err != nil {
				t.Errorf("preset for %s: %v", id, err)
			}
		}
		s, ok := text(id)
		if !ok || !strings.HasPrefix(s, "# ") || !strings.Contains(s, "\n"+id+":") {
			t.Errorf("PresetYAML(%s) = %q, %v; want the entry with its comment", id, s, ok)
		}
	}
}
