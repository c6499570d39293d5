package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestEval checks that imago eval of a finished run with the run's own
// number of evaluation episodes reproduces its last evaluation, on a
// control task and on a goal task (with the success rate), and its errors.
func TestEval(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"sac", []string{"--algo", "sac", "--env", "Pendulum-v1", "--set", "hidden=16,16", "--set", "batch_size=32", "--set", "learning_starts=100"}},
		{"clearning", []string{"--algo", "clearning", "--env", "PointMaze-Open-v0", "--set", "hidden=16,16", "--set", "batch_size=32", "--set", "learning_starts=100"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name)
			args := append([]string{"train", "--steps", "400", "--seed", "2", "--engine", "cpu", "--eval-every", "200", "--eval-episodes", "3", "--checkpoint-every", "200", "--out", out}, c.args...)
			if stdout, stderr, err := run(t, args...); err != nil {
				t.Fatalf("train: %v\n%s%s", err, stdout, stderr)
			}
			recs := readCSV(t, filepath.Join(out, metricsFile))
			last, err := strconv.ParseFloat(recs[len(recs)-1][1], 64)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := run(t, "eval", out, "--episodes", "3", "--engine", "cpu")
			if err != nil {
				t.Fatalf("eval: %v\n%s", err, stderr)
			}
			want := fmt.Sprintf("%s %s seed 2, checkpoint of step 400: eval return %.4g ± ", c.name, c.args[3], last)
			if !strings.Contains(stdout, want) {
				t.Errorf("eval printed %q, want it to contain %q", stdout, want)
			}
			if c.name == "clearning" && !strings.Contains(stdout, "success rate") {
				t.Errorf("eval of a goal task printed no success rate: %q", stdout)
			}
			// The checkpoint of step 200 is kept too (2 are).
			if stdout, stderr, err := run(t, "eval", out, "--checkpoint", "200", "--episodes", "1", "--engine", "cpu"); err != nil || !strings.Contains(stdout, "checkpoint of step 200") {
				t.Errorf("eval --checkpoint 200: %v %q %q", err, stdout, stderr)
			}
		})
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", dir}, "not a run directory"},
		{[]string{"eval", filepath.Join(dir, "sac"), "--checkpoint", "300"}, "no checkpoint of step 300"},
		{[]string{"eval", filepath.Join(dir, "sac"), "--episodes", "0"}, "--episodes 0: must be positive"},
		{[]string{"eval"}, "eval takes one run directory"},
	} {
		_, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("imago %s: %v, want one line with %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestEveryPolicyTakesItsConfig checks the type erasure of withCheckpoints:
// each algorithm's policy function takes its own Config and refuses an
// empty checkpoint with an error, not a panic.
func TestEveryPolicyTakesItsConfig(t *testing.T) {
	for _, a := range algorithms {
		if a.policy == nil {
			continue
		}
		envID := defaultEnv
		if ids := presetEnvsOf(a); len(ids) > 0 {
			envID = ids[0]
		}
		run := algos.RunConfig{Env: envID, Steps: 10, EvalEvery: 10, EvalEpisodes: 1}
		_, _, _, err := a.policy(cpu.New(), run, a.config(envID), checkpoint.NewState())
		if err == nil {
			t.Errorf("%s: the policy of an empty checkpoint has no error", a.name)
		}
	}
}

func presetEnvsOf(a algorithm) []string {
	if a.presetEnvs == nil {
		return nil
	}
	return a.presetEnvs()
}
