package rundir

import (
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A config.yaml as imago train writes it, with the algorithm's section and
// a run key Read does not know, which it must ignore.
const testConfig = `# The resolved configuration of an imago training run. Repeat it with
#   imago train --algo mpc --env Pendulum-v1 --steps 3000 --seed 7
imago: dev # imago version that wrote this run
algo: mpc
engine: cpu
run:
  env: Pendulum-v1
  steps: 3000
  seed: 7
  eval_every: 1000
  eval_episodes: 10
  a_key_from_the_future: [1, 2]
mpc:
  horizon: 30
  hidden: [200, 200]
  model:
    members: 5
    lr: 1e-3
`

// mpc's metrics.csv: one row per training episode with eval_return NaN,
// and evaluations between them, one at the same env_steps as an episode's.
const testMetrics = `env_steps,eval_return,eval_return_std,wall_seconds,train_return
200,NaN,NaN,1.000,-1500
400,NaN,NaN,2.000,-1400
1000,-1200.5,100,5.000,NaN
1000,NaN,NaN,5.100,-1300
2000,-800,+Inf,9.000,NaN
3000,-300.25,50,13.000,-250
`

func writeRun(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRead(t *testing.T) {
	dir := writeRun(t, map[string]string{ConfigFile: testConfig, MetricsFile: testMetrics})
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir != dir || r.Algo != "mpc" || r.Env != "Pendulum-v1" || r.Seed != 7 {
		t.Errorf("Read = {Dir %s, Algo %s, Env %s, Seed %d}, want {%s, mpc, Pendulum-v1, 7}", r.Dir, r.Algo, r.Env, r.Seed, dir)
	}
	wantSettings := map[string]string{"horizon": "30", "hidden": "[200, 200]", "model.members": "5", "model.lr": "1e-3"}
	if !maps.Equal(r.Settings, wantSettings) {
		t.Errorf("Settings = %v, want %v", r.Settings, wantSettings)
	}
	wantCols := []string{"env_steps", "eval_return", "eval_return_std", "wall_seconds", "train_return"}
	if !slices.Equal(r.Columns, wantCols) {
		t.Errorf("Columns = %v, want %v", r.Columns, wantCols)
	}
	if len(r.Rows) != 6 {
		t.Fatalf("%d rows, want 6", len(r.Rows))
	}
	if !math.IsNaN(r.Rows[0][1]) || !math.IsInf(r.Rows[4][2], 1) || r.Rows[5][1] != -300.25 {
		t.Errorf("rows 0, 4, 5 = %v, %v, %v", r.Rows[0], r.Rows[4], r.Rows[5])
	}

	// eval_return skips the episodes' NaN rows, including the one at the
	// same step as an evaluation.
	steps, values, err := r.Column("eval_return")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1000, 2000, 3000}; !slices.Equal(steps, want) {
		t.Errorf("eval_return steps = %v, want %v", steps, want)
	}
	if want := []float64{-1200.5, -800, -300.25}; !slices.Equal(values, want) {
		t.Errorf("eval_return = %v, want %v", values, want)
	}
	steps, values, err = r.Column("train_return")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{200, 400, 1000, 3000}; !slices.Equal(steps, want) {
		t.Errorf("train_return steps = %v, want %v", steps, want)
	}
	if want := []float64{-1500, -1400, -1300, -250}; !slices.Equal(values, want) {
		t.Errorf("train_return = %v, want %v", values, want)
	}

	_, _, err = r.Column("success_rate")
	if err == nil || !strings.Contains(err.Error(), `no column "success_rate"`) ||
		!strings.Contains(err.Error(), "env_steps, eval_return, eval_return_std, wall_seconds, train_return") {
		t.Errorf("Column(success_rate): %v, want an error naming the column and listing those there are", err)
	}
}

func TestReadHeaderOnly(t *testing.T) {
	// A run that has just started: a header and no evaluation yet.
	dir := writeRun(t, map[string]string{ConfigFile: testConfig, MetricsFile: "env_steps,eval_return\n"})
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	steps, values, err := r.Column("eval_return")
	if err != nil || len(steps) != 0 || len(values) != 0 {
		t.Errorf("Column on no rows = %v, %v, %v; want nothing and no error", steps, values, err)
	}
}

func TestColumnRepeatedStep(t *testing.T) {
	dir := writeRun(t, map[string]string{ConfigFile: testConfig,
		MetricsFile: "env_steps,eval_return\n1000,1\n1000,2\n"})
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Column("eval_return"); err == nil || !strings.Contains(err.Error(), "two values of eval_return at env_steps 1000") {
		t.Errorf("Column with two values at one step: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	const header = "env_steps,eval_return,eval_return_std,wall_seconds\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no config", map[string]string{MetricsFile: header}, "no config.yaml"},
		{"no metrics", map[string]string{ConfigFile: testConfig}, "no metrics.csv"},
		{"bad yaml", map[string]string{ConfigFile: "algo: [sac\n", MetricsFile: header}, "config.yaml: yaml:"},
		{"no algo", map[string]string{ConfigFile: "run:\n  env: X\n  seed: 1\n", MetricsFile: header}, "config.yaml: no algo"},
		{"no env", map[string]string{ConfigFile: "algo: sac\nrun:\n  seed: 1\n", MetricsFile: header}, "config.yaml: no run.env"},
		{"no seed", map[string]string{ConfigFile: "algo: sac\nrun:\n  env: X\n", MetricsFile: header}, "config.yaml: no run.seed"},
		{"empty metrics", map[string]string{ConfigFile: testConfig, MetricsFile: ""}, "metrics.csv: empty"},
		{"no env_steps", map[string]string{ConfigFile: testConfig, MetricsFile: "eval_return\n1\n"}, "header has no env_steps column"},
		{"bad number", map[string]string{ConfigFile: testConfig, MetricsFile: header + "1000,1,0,0.1\n2000,abc,0,0.2\n"},
			`metrics.csv line 3: eval_return is "abc", not a number`},
		{"short line", map[string]string{ConfigFile: testConfig, MetricsFile: header + "1000,1,0\n"},
			"metrics.csv line 2: 3 fields, the header has 4"},
		{"NaN steps", map[string]string{ConfigFile: testConfig, MetricsFile: header + "NaN,1,0,0\n"},
			"line 2: env_steps is NaN"},
		{"steps back", map[string]string{ConfigFile: testConfig, MetricsFile: header + "2000,1,0,0\n1000,1,0,0\n"},
			"line 3: env_steps 1000 after 2000"},
	} {
		dir := writeRun(t, tc.files)
		_, err := Read(dir)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, dir) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming %s and containing %q", tc.name, msg, dir, tc.want)
		}
	}

	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Read(missing); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Read(%s): %v, want no such directory", missing, err)
	}
}
