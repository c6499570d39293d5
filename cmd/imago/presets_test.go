package main

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/imago-rl/imago/algos/config"
	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/sac"
)

func TestPresetsList(t *testing.T) {
	out, _, err := run(t, "presets")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); !reflect.DeepEqual(f, []string{"PRESET", "CHANGES"}) {
		t.Errorf("header %q", lines[0])
	}
	changes := map[string]string{}
	for _, l := range lines[1:] {
		name, rest, _ := strings.Cut(l, " ")
		changes[name] = strings.TrimSpace(rest)
	}
	for name, want := range map[string]string{
		"sac/Pendulum-v1":               "learning_starts actor_lr critic_lr alpha_lr",
		"td3/Pendulum-v1":               "learning_starts actor_lr critic_lr",
		"mbpo/ContinuousCartPole-v0":    "initial_steps epoch_length model_train_freq rollout_schedule sac.alpha_lr sac.target_entropy_per_dim",
		"mbpo/MountainCarContinuous-v0": "(none: the defaults, listed to say so)",
		"steve/Pendulum-v1":             "td_k model_max_epochs ddpg.learning_starts ddpg.actor_lr ddpg.critic_lr",
		"clearning/PointMaze-U-v0":      "learning_starts",
	} {
		if changes[name] != want {
			t.Errorf("imago presets: %s changes %q, want %q\n%s", name, changes[name], want, out)
		}
	}
	// One line per preset of each algorithm with presets, none for those
	// without.
	n := 0
	for _, a := range algorithms {
		if a.presetEnvs != nil {
			n += len(a.presetEnvs())
		}
	}
	if len(lines)-1 != n {
		t.Errorf("imago presets lists %d presets, want %d", len(lines)-1, n)
	}
	for name := range changes {
		if strings.HasPrefix(name, "sr/") || strings.HasPrefix(name, "sfql/") || strings.HasPrefix(name, "fake/") {
			t.Errorf("imago presets lists %s, of an algorithm without presets", name)
		}
	}
}

func TestPresetsShow(t *testing.T) {
	out, _, err := run(t, "presets", "show", "mbpo/ContinuousCartPole-v0")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := mbpo.PresetYAML("ContinuousCartPole-v0")
	for _, w := range []string{
		"# The preset of mbpo for ContinuousCartPole-v0, as embedded in imago:\n\n" + text,
		"# mbrl-lib's mbpo_cartpole.yaml, written for this very environment", // a comment of the embedded file
		"# imago train --algo mbpo --env ContinuousCartPole-v0\n\nmbpo:\n  initial_steps: 500\n",
		"  rollout_schedule: [1, 15, 1, 1]\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("imago presets show mbpo/ContinuousCartPole-v0 lacks %q:\n%s", w, out)
		}
	}
	// The output is YAML whose mbpo section is the preset's Config.
	var doc struct {
		MBPO yaml.Node `yaml:"mbpo"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	got := mbpo.Defaults()
	if err := config.Apply(&got, &doc.MBPO, "show"); err != nil {
		t.Fatal(err)
	}
	if want := mbpo.Preset("ContinuousCartPole-v0"); !reflect.DeepEqual(got, want) {
		t.Errorf("the shown configuration reads back as\n%+v\nwant\n%+v", got, want)
	}

	// td3 shows ddpg's presets with TD3's defaults.
	out, _, err = run(t, "presets", "show", "td3/Pendulum-v1")
	text, _ = ddpg.PresetYAML("Pendulum-v1")
	if err != nil || !strings.Contains(out, text) || !strings.Contains(out, "\ntd3:\n") || !strings.Contains(out, "  twin_critics: true\n") {
		t.Errorf("imago presets show td3/Pendulum-v1: %v\n%s", err, out)
	}
}

func TestPresetsBadNames(t *testing.T) {
	sacEnvs := strings.Join(sac.PresetEnvs(), ", ")
	for _, tc := range []struct {
		args []string
		want string // the whole error
	}{
		{[]string{"show", "sac"}, `preset "sac": want ALGO/ENV, such as sac/Pendulum-v1; imago presets lists them`},
		{[]string{"show", "/Pendulum-v1"}, `preset "/Pendulum-v1": want ALGO/ENV, such as sac/Pendulum-v1; imago presets lists them`},
		{[]string{"show", "nope/Pendulum-v1"}, `unknown algorithm "nope" (known: ` + strings.Join(algorithmNames(), ", ") + ")"},
		{[]string{"show", "sr/Pendulum-v1"}, "sr has no presets: it trains with its defaults everywhere (algorithms with presets: sac, mbpo, ddpg, td3, mve, steve, clearning, mpc, mbpg, bptt, dyna-q)"},
		{[]string{"show", "sac/Nope-v0"}, `sac has no preset for "Nope-v0" (presets of sac: ` + sacEnvs + "); other environments train with its defaults"},
		{[]string{"show"}, "presets show takes one ALGO/ENV, such as sac/Pendulum-v1, got 0 arguments"},
		{[]string{"show", "sac/Pendulum-v1", "x"}, "presets show takes one ALGO/ENV, such as sac/Pendulum-v1, got 2 arguments"},
		{[]string{"list"}, `presets takes no arguments but the command show, got "list"; run 'imago presets --help'`},
	} {
		out, _, err := run(t, append([]string{"presets"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("imago presets %s: got %v, want %s", strings.Join(tc.args, " "), err, tc.want)
		}
		if out != "" {
			t.Errorf("imago presets %s: wrote %q", strings.Join(tc.args, " "), out)
		}
	}
}
