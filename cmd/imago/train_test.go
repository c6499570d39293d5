package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fakeArgs are the flags of a fast run of the fake algorithm.
var fakeArgs = []string{"train", "--algo", "fake", "--env", fakeEnvID, "--steps", "300", "--eval-every", "100", "--eval-episodes", "3", "--engine", "cpu"}

func TestTrainBadInvocations(t *testing.T) {
	runs := t.TempDir()
	t.Setenv("IMAGO_RUNS_DIR", filepath.Join(runs, "default"))
	full := filepath.Join(runs, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(runs, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(runs, "fresh")

	for _, tc := range []struct {
		args []string
		want string // a substring of the error
	}{
		{[]string{"--algo", "nope"}, `unknown algorithm "nope"`},
		{[]string{"--env", "Nope-v0"}, `unknown environment "Nope-v0"`},
		{[]string{"--steps", "0"}, "--steps 0: must be positive"},
		{[]string{"--steps", "-5"}, "--steps -5: must be positive"},
		{[]string{"--steps", "many"}, "invalid value"},
		{[]string{"--eval-every", "0"}, "--eval-every 0: must be positive"},
		{[]string{"--eval-episodes", "-1"}, "--eval-episodes -1: must be positive"},
		{[]string{"--engine", "abacus"}, `unknown engine "abacus"`},
		{[]string{"--set", "hiden=3"}, `unknown key "hiden"`},
		{[]string{"--set", "batch_size=big"}, "batch_size=big: want an integer"},
		{[]string{"--set", "lr"}, `--set "lr": want key=value`},
		{[]string{"--set", "steps=10"}, "use --steps"},
		{[]string{"--set", "lr=-1"}, "fake config: lr = -1: must be positive"},
		{[]string{"--algo", "sac", "--env", "Pendulum-v1", "--set", "hidden=0"}, "sac config: hidden = [0]: every size must be positive"},
		{[]string{"--algo", "sac", "--env", "Pendulum-v1", "--set", "hidden=256,x"}, `hidden=256,x: element 1 ("x")`},
		{[]string{"--algo", "sac", "--env", "Pendulum-v1", "--set", "gama=0.9"}, `unknown key "gama" (valid keys: hidden, batch_size,`},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"extra"}, `train takes no arguments, got "extra"`},
		{[]string{"--out", full}, "exists and is not empty"},
		{[]string{"--out", file}, "exists and is not a directory"},
		{[]string{"--out", file, "--force"}, "exists and is not a directory"},
	} {
		args := append(append([]string{}, fakeArgs...), tc.args...)
		if !slicesContain(tc.args, "--out") {
			args = append(args, "--out", fresh)
		}
		out, _, err := run(t, args...)
		name := strings.Join(tc.args, " ")
		if err == nil {
			t.Errorf("imago train %s: no error", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("imago train %s: error %q, want one line containing %q", name, msg, tc.want)
		}
		if out != "" {
			t.Errorf("imago train %s: wrote to stdout %q", name, out)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Fatalf("imago train %s: created %s before failing", name, fresh)
		}
	}
	// No flag combination above may have made a default run directory.
	if _, err := os.Stat(filepath.Join(runs, "default")); err == nil {
		t.Errorf("a bad invocation created IMAGO_RUNS_DIR")
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("a bad invocation wrote into %s: %v", full, entries)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestTrainWritesRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, err := run(t, append(fakeArgs, "--seed", "3", "--out", dir, "--set", "hidden=4,4", "--set", "name=two words")...)
	if err != nil {
		t.Fatalf("train: %v\nstderr:\n%s", err, errOut)
	}

	recs := readCSV(t, filepath.Join(dir, metricsFile))
	wantHeader := []string{"env_steps", "eval_return", "eval_return_std", "wall_seconds", "q_loss", "alpha"}
	if !reflect.DeepEqual(recs[0], wantHeader) {
		t.Errorf("metrics.csv header %v, want %v", recs[0], wantHeader)
	}
	if len(recs) != 4 {
		t.Fatalf("metrics.csv has %d lines, want a header and 3 evaluations:\n%v", len(recs), recs)
	}
	for i, r := range recs[1:] {
		if want := []string{"100", "200", "300"}[i]; r[0] != want {
			t.Errorf("row %d env_steps %s, want %s", i, r[0], want)
		}
	}

	// The summary is the last line of stdout and names the last evaluation.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	for _, w := range []string{"fake " + fakeEnvID + " seed 3: 300 steps, eval return ", "(3 episodes)", dir} {
		if !strings.Contains(last, w) {
			t.Errorf("summary %q lacks %q", last, w)
		}
	}
	// Not a terminal: one line per evaluation on stderr, no carriage returns.
	if strings.Contains(errOut, "\r") {
		t.Errorf("stderr has carriage returns though it is not a terminal:\n%q", errOut)
	}
	if n := strings.Count(errOut, "eval return"); n != 3 {
		t.Errorf("stderr has %d evaluation lines, want 3:\n%s", n, errOut)
	}

	text, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Imago  string         `yaml:"imago"`
		Algo   string         `yaml:"algo"`
		Engine string         `yaml:"engine"`
		Run    map[string]any `yaml:"run"`
		Fake   fakeConfig     `yaml:"fake"`
	}
	if err := yaml.Unmarshal(text, &cfg); err != nil {
		t.Fatalf("config.yaml: %v\n%s", err, text)
	}
	want := fakePreset(fakeEnvID)
	want.Hidden = []int{4, 4}
	want.Name = "two words"
	if cfg.Imago != version || cfg.Algo != "fake" || cfg.Engine != "cpu" || !reflect.DeepEqual(cfg.Fake, want) {
		t.Errorf("config.yaml reads back as %+v, want fake config %+v\n%s", cfg, want, text)
	}
	wantRun := map[string]any{"env": fakeEnvID, "steps": 300, "seed": 3, "eval_every": 100, "eval_episodes": 3, "checkpoint_every": defaultCheckpointEvery}
	if !reflect.DeepEqual(cfg.Run, wantRun) {
		t.Errorf("config.yaml run: %v, want %v", cfg.Run, wantRun)
	}
	for _, w := range []string{
		"hidden: [4, 4]\n",
		"imago train --algo fake --env " + fakeEnvID + " --steps 300 --seed 3 --engine cpu --eval-every 100 --eval-episodes 3 --checkpoint-every 5000 --set hidden=4,4 --set 'name=two words'\n",
	} {
		if !strings.Contains(string(text), w) {
			t.Errorf("config.yaml lacks %q:\n%s", w, text)
		}
	}
}

// TestTrainRowsWithoutEvaluation checks that rows without an evaluation
// (eval_return NaN, such as mpc's per-episode rows) go to metrics.csv but
// neither to the evaluation lines on stderr nor to the summary.
func TestTrainRowsWithoutEvaluation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, err := run(t, append(fakeArgs, "--out", dir, "--set", "episode_rows=true")...)
	if err != nil {
		t.Fatalf("train: %v\nstderr:\n%s", err, errOut)
	}
	recs := readCSV(t, filepath.Join(dir, metricsFile))
	var steps []string
	for _, r := range recs[1:] {
		steps = append(steps, r[0])
	}
	if want := []string{"50", "100", "150", "200", "250", "300"}; !reflect.DeepEqual(steps, want) {
		t.Errorf("metrics.csv rows at steps %v, want %v", steps, want)
	}
	if n := strings.Count(errOut, "eval return"); n != 3 || strings.Contains(errOut, "NaN") {
		t.Errorf("stderr has %d evaluation lines (want 3) or a NaN:\n%s", n, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, ": 300 steps, eval return ") || strings.Contains(last, "NaN") {
		t.Errorf("summary %q does not name the evaluation at step 300", last)
	}
}

func TestTrainEngineFromEnvironment(t *testing.T) {
	t.Setenv("IMAGO_ENGINE", "abacus")
	args := []string{"train", "--algo", "fake", "--env", fakeEnvID, "--out", filepath.Join(t.TempDir(), "run")}
	if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), `unknown engine "abacus"`) {
		t.Errorf("IMAGO_ENGINE=abacus: got %v, want the unknown engine", err)
	}
	if _, _, err := run(t, append(args, "--engine", "cpu")...); err != nil {
		t.Errorf("--engine cpu over IMAGO_ENGINE=abacus: %v", err)
	}
}

// TestTrainDeterministic runs the same training twice: the metrics must be
// the same bit for bit apart from wall_seconds, and config.yaml entirely.
func TestTrainDeterministic(t *testing.T) {
	testDeterministic(t, fakeArgs)
}

func testDeterministic(t *testing.T, args []string) {
	t.Helper()
	var metrics, configs [2]string
	for i := range metrics {
		dir := filepath.Join(t.TempDir(), "run")
		if _, errOut, err := run(t, append(args, "--out", dir)...); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, errOut)
		}
		recs := readCSV(t, filepath.Join(dir, metricsFile))
		col := slicesIndex(recs[0], "wall_seconds")
		var b strings.Builder
		for _, r := range recs {
			r[col] = "-"
			b.WriteString(strings.Join(r, ",") + "\n")
		}
		metrics[i] = b.String()
		text, err := os.ReadFile(filepath.Join(dir, configFile))
		if err != nil {
			t.Fatal(err)
		}
		configs[i] = string(text)
	}
	if metrics[0] != metrics[1] {
		t.Errorf("metrics differ between runs of the same seed:\n%s\nand\n%s", metrics[0], metrics[1])
	}
	if configs[0] != configs[1] {
		t.Errorf("config.yaml differs between runs of the same seed:\n%s\nand\n%s", configs[0], configs[1])
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestTrainSeedsDiffer(t *testing.T) {
	var rows [2]string
	for i, seed := range []string{"1", "2"} {
		dir := filepath.Join(t.TempDir(), "run")
		if _, _, err := run(t, append(fakeArgs, "--seed", seed, "--out", dir)...); err != nil {
			t.Fatal(err)
		}
		recs := readCSV(t, filepath.Join(dir, metricsFile))
		rows[i] = recs[1][4] // q_loss, which follows the engine's generator
	}
	if rows[0] == rows[1] {
		t.Errorf("seeds 1 and 2 give the same q_loss %s", rows[0])
	}
}

func TestTrainDefaultOutDir(t *testing.T) {
	runs := t.TempDir()
	t.Setenv("IMAGO_RUNS_DIR", runs)
	if _, _, err := run(t, append(fakeArgs, "--seed", "7")...); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(runs)
	if err != nil || len(entries) != 1 {
		t.Fatalf("IMAGO_RUNS_DIR holds %v (%v), want one run", entries, err)
	}
	name := entries[0].Name()
	prefix := "fake-" + fakeEnvID + "-7-"
	stamp, ok := strings.CutPrefix(name, prefix)
	if !ok {
		t.Fatalf("run directory %q does not start with %q", name, prefix)
	}
	if _, err := time.Parse("20060102-150405", stamp); err != nil {
		t.Errorf("run directory %q: timestamp %q: %v", name, stamp, err)
	}
}

func TestDefaultOutDirName(t *testing.T) {
	t.Setenv("IMAGO_RUNS_DIR", "")
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if got, want := defaultOutDir("sac", "ns/Pendulum-v1", 0, at), filepath.Join("runs", "sac-ns_Pendulum-v1-0-20250304-050607"); got != want {
		t.Errorf("defaultOutDir = %q, want %q", got, want)
	}
}

func TestTrainForce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if _, _, err := run(t, append(fakeArgs, "--out", dir)...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, append(fakeArgs, "--out", dir)...); err == nil {
		t.Fatalf("second run into %s without --force: no error", dir)
	}
	if _, _, err := run(t, append(fakeArgs, "--out", dir, "--force", "--steps", "100")...); err != nil {
		t.Fatalf("second run with --force: %v", err)
	}
	if recs := readCSV(t, filepath.Join(dir, metricsFile)); len(recs) != 2 {
		t.Errorf("after --force metrics.csv has %d lines, want the new run's 2", len(recs))
	}
}

// TestTrainInterrupt sends the process SIGINT during training: the command
// must stop, keep the evaluations written so far, and say where they are.
func TestTrainInterrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, _, err := run(t, append(fakeArgs, "--out", dir, "--set", "interrupt_after=2")...)
	if err == nil {
		t.Fatal("interrupted run: no error")
	}
	msg := err.Error()
	for _, w := range []string{"interrupted at 200 of 300 steps", "2 evaluations", dir} {
		if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line containing %q", msg, w)
		}
	}
	if recs := readCSV(t, filepath.Join(dir, metricsFile)); len(recs) != 3 {
		t.Errorf("metrics.csv has %d lines after the interrupt, want a header and 2 rows", len(recs))
	}
}

func TestTrainCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "run")
	opts := trainOptions{algo: "fake", env: fakeEnvID, steps: 100, engine: "cpu", evalEvery: 10, evalEpisodes: 1, out: dir}
	err := train(ctx, opts, new(strings.Builder), new(strings.Builder), false, time.Now)
	if err == nil || !strings.Contains(err.Error(), "interrupted at 0 of 100 steps") {
		t.Errorf("got %v, want an interruption", err)
	}
}

// An error of the algorithm after an evaluation keeps the run and says
// where it is; one before any evaluation (an environment the algorithm
// cannot act in) leaves no directory.
func TestTrainAlgorithmError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, _, err := run(t, append(fakeArgs, "--out", dir, "--set", "fail=true")...)
	if err == nil || !strings.Contains(err.Error(), "fake failure") || !strings.Contains(err.Error(), dir) {
		t.Errorf("got %v, want the algorithm's error and the run directory", err)
	}
	if recs := readCSV(t, filepath.Join(dir, metricsFile)); len(recs) != 2 {
		t.Errorf("metrics.csv has %d lines, want a header and the row before the failure", len(recs))
	}

	dir = filepath.Join(t.TempDir(), "run")
	_, _, err = run(t, "train", "--algo", "sac", "--env", "CartPole-v1", "--engine", "cpu", "--out", dir)
	if err == nil || !strings.Contains(err.Error(), "discrete") || strings.Contains(err.Error(), "\n") {
		t.Errorf("sac on CartPole-v1: got %v, want a one-line error about the discrete action space", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("sac on CartPole-v1 left %s", dir)
	}
}

func TestTrainHelp(t *testing.T) {
	out, _, err := run(t, "train", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"$IMAGO_ENGINE", "--set key=value", "IMAGO_RUNS_DIR", "fake: a test algorithm", "critic.tau",
		"--config FILE", "imago train --config runs/X/config.yaml\n   repeats run X",
		"IMAGO_ENGINE    the engine when --engine is not given", "IMAGO_RUNS_DIR  where a run goes without --out"} {
		if !strings.Contains(out, w) {
			t.Errorf("imago train --help lacks %q:\n%s", w, out)
		}
	}
}

// TestTrainSACDeterministic trains the real SAC twice for a tiny budget with
// small networks on the CPU engine: same seed, same metrics.csv bit for bit
// apart from wall_seconds.
func TestTrainSACDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains SAC twice")
	}
	testDeterministic(t, []string{"train", "--algo", "sac", "--env", "Pendulum-v1", "--engine", "cpu", "--seed", "5",
		"--steps", "300", "--eval-every", "100", "--eval-episodes", "1",
		"--set", "hidden=16,16", "--set", "batch_size=16", "--set", "learning_starts=100"})
}
