package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imago-rl/imago/algos/config"
)

// writeConfig writes text to a file cfg.yaml in a new temporary directory
// and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// unsetEngineVar removes IMAGO_ENGINE for the test, so that a config
// file's engine is not overridden by the environment the tests run in.
func unsetEngineVar(t *testing.T) {
	t.Setenv("IMAGO_ENGINE", "")
	os.Unsetenv("IMAGO_ENGINE")
}

// TestTrainBadConfigs is the table of bad configurations, in files and in
// flags: each must fail before anything is created, with one line that
// names the key and the value (and, for a file, the file and line).
func TestTrainBadConfigs(t *testing.T) {
	unsetEngineVar(t)
	runs := t.TempDir()
	t.Setenv("IMAGO_RUNS_DIR", filepath.Join(runs, "default"))
	fresh := filepath.Join(runs, "fresh")
	missing := filepath.Join(runs, "no-such.yaml")

	for _, tc := range []struct {
		name string
		file string   // the config file's text; "" for none
		args []string // flags after train (--config and --out added)
		want []string // substrings of the error
	}{
		{"unknown key", "algo: sac\nsacc: {}\n", nil,
			[]string{`cfg.yaml:2: unknown key "sacc" (valid keys: imago, algo, engine, run, and a section named after the algorithm (sac, mbpo,`}},
		{"unknown nested key", "sac:\n  batchsize: 64\n", nil,
			[]string{`cfg.yaml:2: unknown key "sac.batchsize" (valid keys: hidden, batch_size,`}},
		{"unknown run key", "run:\n  env: Pendulum-v1\n  stepz: 10\n", nil,
			[]string{`cfg.yaml:3: unknown key "run.stepz" (valid keys: env, steps, seed, eval_every, eval_episodes, checkpoint_every)`}},
		{"string for int", "sac:\n  gamma: 0.9\n  batch_size: abc\n", nil,
			[]string{`cfg.yaml:3: sac.batch_size = "abc": want an integer (int): invalid syntax`}},
		{"quoted string for int", "run: {steps: \"many\"}\n", nil,
			[]string{`cfg.yaml:1: run.steps = "many": want an integer (int)`}},
		{"list for scalar", "run:\n  steps: [1, 2]\n", nil,
			[]string{`cfg.yaml:2: run.steps: want an integer (int), got a list`}},
		{"mapping for scalar", "sac:\n  gamma:\n    value: 0.9\n", nil,
			[]string{`cfg.yaml:3: sac.gamma: want a number (float64), got a mapping`}},
		{"bad list element", "sac:\n  hidden: [64, x]\n", nil,
			[]string{`cfg.yaml:2: sac.hidden[1] = "x": want an integer (int)`}},
		{"null value", "sac:\n  gamma:\n", nil,
			[]string{`cfg.yaml:2: sac.gamma: want a number (float64), got null (no value)`}},
		{"scalar for section", "run: 5\n", nil,
			[]string{`cfg.yaml:1: run: want a mapping of its keys, got the scalar "5"`}},
		{"negative steps", "run:\n  env: Pendulum-v1\n  steps: -5\n", nil,
			[]string{`cfg.yaml:3: run.steps = -5: must be positive`}},
		{"gamma out of range", "algo: sac\nsac:\n  gamma: 1.5\n", nil,
			[]string{`cfg.yaml:3: sac.gamma = 1.5: must be in [0, 1]`}},
		{"batch size 0", "sac:\n  batch_size: 0\n", nil,
			[]string{`cfg.yaml:2: sac.batch_size = 0: must be at least 1`}},
		{"unknown algorithm", "algo: nope\n", nil,
			[]string{`cfg.yaml:1: algo: unknown algorithm "nope" (known: sac, mbpo,`}},
		{"empty algorithm", "algo:\n", nil,
			[]string{`cfg.yaml:1: algo: want a name, got null (no value)`}},
		{"unknown environment", "run:\n  env: Nope-v0\n", nil,
			[]string{`cfg.yaml:2: run.env = "Nope-v0": unknown environment "Nope-v0"`}},
		{"unknown engine", "engine: abacus\n", nil,
			[]string{`cfg.yaml:1: engine: unknown engine "abacus"`}},
		{"mismatched section", "algo: sac\nmbpo:\n  initial_steps: 10\n", nil,
			[]string{`cfg.yaml:2: section "mbpo" is for algorithm mbpo, but the run's algorithm is sac (algo: sac at `}},
		{"section for the default", "mbpo: {}\n", nil,
			[]string{`cfg.yaml:1: section "mbpo" is for algorithm mbpo, but the run's algorithm is sac (the default; set algo: NAME or --algo NAME)`}},
		{"section against --algo", "algo: sac\nsac: {}\n", []string{"--algo", "ddpg"},
			[]string{`cfg.yaml:2: section "sac" is for algorithm sac, but the run's algorithm is ddpg (--algo ddpg)`}},
		{"key twice", "algo: sac\nalgo: mbpo\n", nil,
			[]string{`cfg.yaml:2: algo is set twice (first at line 1)`}},
		{"nested key twice", "sac:\n  gamma: 0.9\n  gamma: 0.8\n", nil,
			[]string{`cfg.yaml:3: sac.gamma is set twice (first at line 2)`}},
		{"malformed YAML", "sac: {gamma: 0.9\nrun: {}\n", nil,
			[]string{`cfg.yaml:`, `did not find expected ',' or '}'`}},
		{"bad indentation", "sac:\n  gamma: 0.9\n batch_size: 1\n", nil,
			[]string{`cfg.yaml:2: did not find expected key`}},
		{"tab", "sac:\n\tgamma: 0.9\n", nil,
			[]string{`cfg.yaml:2: found character that cannot start any token`}},
		{"two documents", "algo: sac\n---\nalgo: mbpo\n", nil,
			[]string{`cfg.yaml:2: a second YAML document; --config reads one`}},
		{"not a mapping", "- sac\n", nil,
			[]string{`cfg.yaml:1: want a mapping with the keys of a run's config.yaml (imago, algo, engine, run, and a section`}},
		{"imago not a version", "imago: {version: 1}\n", nil,
			[]string{`cfg.yaml:1: imago: want the version that wrote the file, got a mapping`}},
		{"float for int", "run:\n  seed: 1.5\n", nil,
			[]string{`cfg.yaml:2: run.seed = "1.5": want an integer (int64): invalid syntax`}},
		{"missing file", "", []string{"--config", missing},
			[]string{"--config: open " + missing + ": no such file or directory"}},
		{"directory", "", []string{"--config", runs},
			[]string{"--config: read " + runs + ": is a directory"}},

		// The same checks where the values come from flags.
		{"flag: unknown key", "", []string{"--set", "batchsize=64"}, []string{`--set for sac: unknown key "batchsize" (valid keys: hidden, batch_size,`}},
		{"flag: string for int", "", []string{"--set", "batch_size=abc"}, []string{`--set for sac: batch_size=abc: want an integer (int): invalid syntax`}},
		{"flag: negative steps", "", []string{"--steps", "-5"}, []string{"--steps -5: must be positive"}},
		{"flag: gamma out of range", "", []string{"--set", "gamma=1.5"}, []string{"sac config: gamma = 1.5: must be in [0, 1]"}},
		{"flag: batch size 0", "", []string{"--set", "batch_size=0"}, []string{"sac config: batch_size = 0: must be at least 1"}},
		{"flag: unknown algorithm", "", []string{"--algo", "nope"}, []string{`unknown algorithm "nope" (known: sac, mbpo,`}},
		{"flag: unknown environment", "", []string{"--env", "Nope-v0"}, []string{`unknown environment "Nope-v0"`}},
		{"flag: unknown engine", "", []string{"--engine", "abacus"}, []string{`unknown engine "abacus"`}},
		// A --set of a key the file set too is blamed on the --set.
		{"flag over file", "sac:\n  batch_size: 64\n", []string{"--set", "batch_size=0"}, []string{"sac config: batch_size = 0: must be at least 1"}},
		// A flag of a run setting overrides the file's; the environment
		// it names must exist.
		{"flag over file env", "run:\n  env: Pendulum-v1\n", []string{"--env", "Nope-v0"}, []string{`unknown environment "Nope-v0"`}},
	} {
		args := []string{"train", "--out", fresh}
		if tc.file != "" {
			args = append(args, "--config", writeConfig(t, tc.file))
		}
		args = append(args, tc.args...)
		out, _, err := run(t, args...)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: error of more than one line:\n%s", tc.name, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error\n  %s\nlacks\n  %s", tc.name, msg, w)
			}
		}
		if out != "" {
			t.Errorf("%s: wrote to stdout %q", tc.name, out)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Fatalf("%s: created %s before failing", tc.name, fresh)
		}
	}
	if _, err := os.Stat(filepath.Join(runs, "default")); err == nil {
		t.Errorf("a bad configuration created IMAGO_RUNS_DIR")
	}
}

// readRun reads a run's config.yaml as the test's struct.
func readRun(t *testing.T, dir string) (text string, cfg struct {
	Algo   string         `yaml:"algo"`
	Engine string         `yaml:"engine"`
	Run    map[string]any `yaml:"run"`
	Fake   fakeConfig     `yaml:"fake"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.yaml: %v\n%s", err, b)
	}
	return string(b), cfg
}

// TestTrainConfigPrecedence checks where each setting comes from: the
// preset, then the file, then the flags given, then --set in order.
func TestTrainConfigPrecedence(t *testing.T) {
	unsetEngineVar(t)
	path := writeConfig(t, `# written by hand
imago: v0.0.0 # informational only
algo: fake
engine: cpu
run:
  env: `+fakeEnvID+`
  steps: 50
  seed: 3
  eval_every: 10
  eval_episodes: 2
fake:
  hidden: [3]
  lr: 0.01
  critic: {tau: 0.5}
`)
	dir := filepath.Join(t.TempDir(), "run")
	if _, errOut, err := run(t, "train", "--config", path, "--steps", "60", "--set", "lr=0.03", "--set", "lr=0.02", "--out", dir); err != nil {
		t.Fatalf("train: %v\n%s", err, errOut)
	}
	text, got := readRun(t, dir)
	want := fakePreset(fakeEnvID) // batch_size 2 for this environment
	want.Hidden, want.LR, want.Critic.Tau = []int{3}, 0.02, 0.5
	if got.Algo != "fake" || got.Engine != "cpu" || !reflect.DeepEqual(got.Fake, want) {
		t.Errorf("config.yaml:\n%s\nwant fake on cpu with %+v", text, want)
	}
	wantRun := map[string]any{"env": fakeEnvID, "steps": 60, "seed": 3, "eval_every": 10, "eval_episodes": 2, "checkpoint_every": defaultCheckpointEvery}
	if !reflect.DeepEqual(got.Run, wantRun) {
		t.Errorf("run: %v, want %v (steps from the flag, the rest from the file)", got.Run, wantRun)
	}
	// The command without the file sets what differs from the preset.
	if w := "--steps 60 --seed 3 --engine cpu --eval-every 10 --eval-episodes 2 --checkpoint-every 5000 --set hidden=3 --set lr=0.02 --set critic.tau=0.5\n"; !strings.Contains(text, w) {
		t.Errorf("config.yaml lacks %q:\n%s", w, text)
	}

	// IMAGO_ENGINE overrides the file's engine, as --engine does.
	t.Setenv("IMAGO_ENGINE", "abacus")
	_, _, err := run(t, "train", "--config", path, "--out", filepath.Join(t.TempDir(), "run"))
	if err == nil || !strings.HasPrefix(err.Error(), `unknown engine "abacus" (compiled in: `) {
		t.Errorf("IMAGO_ENGINE=abacus over the file's engine: got %v", err)
	}

	// A flag given overrides a bad value of the file; an empty file and
	// empty sections change nothing.
	unsetEngineVar(t)
	for _, text := range []string{"run:\n  steps: -5\n", "", "# nothing\n", "run:\nfake:\n", "{}\n"} {
		path := writeConfig(t, text)
		dir := filepath.Join(t.TempDir(), "run")
		if _, _, err := run(t, append(fakeArgs, "--config", path, "--out", dir)...); err != nil {
			t.Errorf("file %q with the flags: %v", text, err)
		}
	}
}

// TestTrainConfigRepeatsRun trains the fake, then trains again from the
// first run's config.yaml into another directory: the second run's
// config.yaml and metrics must be the first's.
func TestTrainConfigRepeatsRun(t *testing.T) {
	unsetEngineVar(t)
	first := filepath.Join(t.TempDir(), "first")
	if _, _, err := run(t, append(fakeArgs, "--seed", "4", "--set", "hidden=5,6", "--set", "name=two words", "--set", "gain=0.25", "--out", first)...); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second")
	if _, errOut, err := run(t, "train", "--config", filepath.Join(first, configFile), "--out", second); err != nil {
		t.Fatalf("train --config: %v\n%s", err, errOut)
	}
	a, _ := readRun(t, first)
	b, _ := readRun(t, second)
	if a != b {
		t.Errorf("config.yaml of the repeat differs:\n%s\nthen\n%s", a, b)
	}
	if !strings.Contains(a, "  imago train --config <this file>\n") {
		t.Errorf("config.yaml does not say how to repeat it with --config:\n%s", a)
	}
	ma, mb := readCSV(t, filepath.Join(first, metricsFile)), readCSV(t, filepath.Join(second, metricsFile))
	col := slicesIndex(ma[0], "wall_seconds")
	for _, rows := range [][][]string{ma, mb} {
		for _, r := range rows {
			r[col] = "-"
		}
	}
	if !reflect.DeepEqual(ma, mb) {
		t.Errorf("metrics of the repeat differ:\n%v\nthen\n%v", ma, mb)
	}
}

// TestConfigRoundTripEveryAlgorithm resolves a run of every algorithm
// from flags, writes its config.yaml as train does, and resolves the file
// back with --config: the run, the engine and the Config must be the same,
// and so must the config.yaml it would write. Nothing is trained.
func TestConfigRoundTripEveryAlgorithm(t *testing.T) {
	unsetEngineVar(t)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, a := range algorithms {
		envID := defaultEnv
		if a.presetEnvs != nil {
			envID = a.presetEnvs()[0]
		}
		opts := trainOptions{algo: a.name, env: envID, steps: 1234, seed: 7, engine: "cpu", evalEvery: 100, evalEpisodes: 2,
			out: filepath.Join(t.TempDir(), "first")}
		// A value that differs from every preset, where the algorithm
		// has a discount.
		for _, k := range config.Keys(a.config(envID)) {
			if k == "gamma" || strings.HasSuffix(k, ".gamma") {
				opts.sets = append(opts.sets, k+"=0.875")
			}
		}
		first, err := resolve(opts, now)
		if err != nil {
			t.Errorf("%s: %v", a.name, err)
			continue
		}
		text := recordText(t, first, "cpu")
		path := filepath.Join(t.TempDir(), configFile)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// As the command line `imago train --config FILE --out DIR` gives it:
		// the flags not given hold their defaults.
		again := trainOptions{algo: defaultAlgorithm, env: defaultEnv, steps: defaultSteps, engine: "auto",
			evalEvery: defaultEvalEvery, evalEpisodes: defaultEvalEpisodes,
			out: filepath.Join(t.TempDir(), "second"), config: path, given: map[string]bool{}}
		second, err := resolve(again, now)
		if err != nil {
			t.Errorf("%s: --config %s: %v\n%s", a.name, path, err, text)
			continue
		}
		if second.algo.name != a.name || second.run != first.run || second.engine != "cpu" || second.engineAt == "" {
			t.Errorf("%s: resolved back as %s %+v engine %s (%s), want %+v engine cpu from the file",
				a.name, second.algo.name, second.run, second.engine, second.engineAt, first.run)
		}
		if got := recordText(t, second, "cpu"); got != text {
			t.Errorf("%s: config.yaml from --config differs:\n%s\nwant\n%s", a.name, got, text)
		}
		if diff := changedKeys(first.cfg, second.cfg); len(diff) > 0 {
			t.Errorf("%s: the Config from --config differs in %v", a.name, diff)
		}
	}
}

// recordText is the config.yaml train writes for tr on the engine named
// engineName.
func recordText(t *testing.T, tr *trainRun, engineName string) string {
	t.Helper()
	rec := runRecord{Version: version, Algo: tr.algo.name, Engine: engineName, EngineRequested: tr.engine,
		Run: tr.run, Config: tr.cfg, Command: repeatCommand(tr, engineName)}
	b, err := rec.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadRunFileYAMLErrors checks the rewriting of the yaml package's
// errors onto one line with the file and line.
func TestReadRunFileYAMLErrors(t *testing.T) {
	for text, want := range map[string]string{
		"a: [1, 2\n":   "did not find expected ',' or ']'",
		"a: 'open\n":   "found unexpected end of stream",
		"a: b: c\n":    "mapping values are not allowed in this context",
		"a: *nope\n":   "unknown anchor 'nope' referenced",
		"%BAD 1\na: 1": "found unknown directive name",
	} {
		path := writeConfig(t, text)
		_, err := readRunFile(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line from %s: with %q", text, err, path, want)
		}
	}
}
