package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// smallRollout is a bench rollout that takes milliseconds.
var smallRollout = []string{"bench", "rollout", "--engine", "cpu", "--batch", "50", "--horizon", "3",
	"--ensemble", "4", "--elites", "2", "--hidden", "8", "--layers", "2", "--obs", "3", "--act", "2",
	"--policy-hidden", "8,4", "--repeats", "2"}

func TestBenchRollout(t *testing.T) {
	out, _, err := run(t, smallRollout...)
	if err != nil {
		t.Fatalf("imago %s: %v", strings.Join(smallRollout, " "), err)
	}
	for _, want := range []string{
		"engine           cpu (CPU, ",
		"50 start states × 3 steps, 2 elites of 4 members",
		"model            5→8→8→8 (one member per row)",
		"policy           3→8→4→4",
		"median of 2", "rows/s", "transitions/s", "GFLOP/s", "per step",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchRolloutJSON(t *testing.T) {
	out, _, err := run(t, append(smallRollout, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("--json printed more than one line:\n%s", out)
	}
	var res rolloutBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not a JSON result: %v\n%s", err, out)
	}
	if res.Engine != "cpu" || res.Batch != 50 || res.Horizon != 3 || res.Repeats != 2 || len(res.Seconds) != 2 {
		t.Errorf("result does not describe the run: %+v", res)
	}
	if res.Transitions != 150 {
		t.Errorf("transitions = %d, want 50·3 = 150 (nothing terminates)", res.Transitions)
	}
	// One member and the policy per transition: 2·(5·8 + 8·8 + 8·8) and
	// 2·(3·8 + 8·4 + 4·4).
	if want := 2.0*(40+64+64) + 2.0*(24+32+16); res.FLOPPerTransition != want {
		t.Errorf("FLOP per transition = %g, want %g", res.FLOPPerTransition, want)
	}
	s := res.MedianSeconds
	if !(s > 0) || res.StepSeconds != s/3 || res.RowsPerSecond != 50/s || res.TransitionsPerSecond != 150/s ||
		res.GFLOPPerSecond != res.FLOPPerTransition*150/s/1e9 {
		t.Errorf("inconsistent rates: %+v", res)
	}
}

func TestBenchBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "rollout", "--batch", "0"}, "--batch 0: must be positive"},
		{[]string{"bench", "rollout", "--elites", "8"}, "--elites 8 exceeds --ensemble 7"},
		{[]string{"bench", "rollout", "--policy-hidden", "256,"}, `--policy-hidden: "256,": want positive sizes`},
		{[]string{"bench", "rollout", "--engine", "abacus"}, `unknown engine "abacus"`},
		{[]string{"bench", "rollout", "--horizon", "many"}, "invalid value"},
		{[]string{"bench", "rollout", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"bench", "rollout", "extra"}, `takes no arguments, got "extra"`},
		{[]string{"bench", "nope"}, `unknown subcommand "nope"`},
	} {
		_, _, err := run(t, tc.args...)
		switch {
		case err == nil:
			t.Errorf("imago %s: no error", strings.Join(tc.args, " "))
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("imago %s: error %q, want it to contain %q", strings.Join(tc.args, " "), err, tc.want)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("imago %s: error of several lines: %q", strings.Join(tc.args, " "), err)
		}
	}
}
