package clearning

import (
	"reflect"
	"testing"

	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/env"
)

// TestPresetsApplyAndValidate checks presets.yaml (algostest.Presets).
func TestPresetsApplyAndValidate(t *testing.T) {
	algostest.Presets(t, PresetEnvs(), Defaults(), Config.Validate, PresetYAML, Preset)
}

// TestPresetsCoverPointMazes checks that every point maze layout has the
// point mazes' preset, which presets.yaml lists layout by layout.
func TestPresetsCoverPointMazes(t *testing.T) {
	want := Preset("PointMaze-Open-v0")
	for _, layout := range env.PointMazeLayouts() {
		id := "PointMaze-" + layout + "-v0"
		if _, ok := PresetYAML(id); !ok {
			t.Errorf("no preset for %s", id)
		}
		if got := Preset(id); !reflect.DeepEqual(got, want) {
			t.Errorf("preset of %s is %+v, want the point mazes' %+v", id, got, want)
		}
	}
	if want.LearningStarts != 1000 {
		t.Errorf("the point mazes' learning_starts is %d, want 1000", want.LearningStarts)
	}
}
