package config

import (
	"reflect"
	"strings"
	"testing"
)

const testPresets = `# The file's head comment, which belongs to no preset.

# Env-B: why its learning rate.
Env-B-v0:
  lr: 1e-3 # the paper's
  critic:
    # an indented comment inside the entry
    tau: 0.01

# The mazes: a comment for the paragraph.
Maze-1-v0: {batch_size: 8}
# Maze 2 has a comment of its own.
Maze-2-v0: {batch_size: 8, noisy: true}

# Env-A is listed to say that it keeps the defaults.
Env-A-v0: {}
# A trailing comment of the file.
`

func TestPresets(t *testing.T) {
	p, err := ParsePresets("test/presets.yaml", []byte(testPresets))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Envs(), []string{"Env-A-v0", "Env-B-v0", "Maze-1-v0", "Maze-2-v0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Envs = %v, want %v", got, want)
	}

	c := defaults()
	p.MustApply(&c, "Env-B-v0")
	want := defaults()
	want.LR, want.Critic.Tau = 1e-3, 0.01
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Env-B-v0 gave %+v, want %+v", c, want)
	}
	for _, env := range []string{"Env-A-v0", "No-Preset-v0"} {
		c = defaults()
		p.MustApply(&c, env)
		if !reflect.DeepEqual(c, defaults()) {
			t.Errorf("%s changed the defaults: %+v", env, c)
		}
	}

	for env, want := range map[string]string{
		"Env-B-v0":  "# Env-B: why its learning rate.\nEnv-B-v0:\n  lr: 1e-3 # the paper's\n  critic:\n    # an indented comment inside the entry\n    tau: 0.01\n",
		"Maze-1-v0": "# The mazes: a comment for the paragraph.\nMaze-1-v0: {batch_size: 8}\n",
		"Maze-2-v0": "# The mazes: a comment for the paragraph.\n# Maze 2 has a comment of its own.\nMaze-2-v0: {batch_size: 8, noisy: true}\n",
		"Env-A-v0":  "# Env-A is listed to say that it keeps the defaults.\nEnv-A-v0: {}\n",
	} {
		got, ok := p.Text(env)
		if !ok || got != want {
			t.Errorf("Text(%s) = %q, %v; want %q", env, got, ok, want)
		}
	}
	if _, ok := p.Text("No-Preset-v0"); ok {
		t.Errorf("Text of an environment without a preset reports true")
	}
}

func TestParsePresetsErrors(t *testing.T) {
	for text, want := range map[string]string{
		"A-v0:\n  lr: 1\nA-v0: {}\n": "p.yaml:3: environment A-v0 has a preset already (line 1)",
		"A-v0: 5\n":                  `p.yaml:1: preset A-v0: want a mapping of keys ({} for none), got the scalar "5"`,
		"A-v0:\n":                    "p.yaml:1: preset A-v0: want a mapping of keys ({} for none), got null (no value)",
		"- A-v0\n":                   "p.yaml:1: want a mapping from environment ids to presets, got a list",
		"A-v0: {lr: 1\n":             "p.yaml: yaml: line 1: did not find expected ',' or '}'",
	} {
		_, err := ParsePresets("p.yaml", []byte(text))
		if err == nil || err.Error() != want {
			t.Errorf("ParsePresets(%q): got %v, want %s", text, err, want)
		}
	}
}

func TestMustApplyPanicsOnABadPreset(t *testing.T) {
	p := MustParsePresets("algos/x/presets.yaml", []byte("A-v0:\n  lr: fast\n"))
	defer func() {
		r := recover()
		want := `config: embedded preset: algos/x/presets.yaml:2: A-v0.lr = "fast": want a number (float64): invalid syntax`
		if s, _ := r.(string); s != want {
			t.Errorf("recovered %v, want %s", r, want)
		}
	}()
	c := defaults()
	p.MustApply(&c, "A-v0")
}

func TestMustParsePresetsPanics(t *testing.T) {
	defer func() {
		if s, _ := recover().(string); !strings.HasPrefix(s, "config: embedded presets: p.yaml:1:") {
			t.Errorf("recovered %q, want the file and line", s)
		}
	}()
	MustParsePresets("p.yaml", []byte("A-v0: 5\n"))
}
