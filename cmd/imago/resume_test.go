package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/internal/tensorboard"
)

// TestMain lets the tests run this test binary as the imago command: with
// IMAGO_TEST_MAIN set it is main, so that a test can start, signal and kill
// a real training process.
func TestMain(m *testing.M) {
	if os.Getenv("IMAGO_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// imagoCmd returns the command that runs imago with args.
func imagoCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "IMAGO_TEST_MAIN=1", "GOMAXPROCS=1")
	return cmd
}

// resumeArgs is a small SAC run on Pendulum-v1 that checkpoints often.
func resumeArgs(out string) []string {
	return []string{"train", "--algo", "sac", "--env", "Pendulum-v1", "--steps", "3000", "--seed", "7",
		"--engine", "cpu", "--eval-every", "200", "--eval-episodes", "1", "--checkpoint-every", "100",
		"--set", "hidden=16,16", "--set", "batch_size=32", "--set", "learning_starts=100", "--out", out}
}

// TestResumeAfterKill kills a training process at a random moment, with
// SIGKILL (no checkpoint of its own: the run goes back to the last
// periodic one) or SIGINT (it writes one and exits), resumes it with
// imago train --resume, and checks that its metrics.csv is then the
// uninterrupted run's, wall_seconds apart.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if out, err := imagoCmd(t, resumeArgs(full)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := readMetrics(t, full)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(sig.String(), " ", "-"))
			cmd := imagoCmd(t, resumeArgs(out)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for the periodic checkpoint of a random step, then a
			// random few milliseconds more, so that the signal lands at
			// a random step.
			ckpts := filepath.Join(out, checkpointsDir)
			target := 100 * (1 + rand.IntN(20))
			deadline := time.Now().Add(2 * time.Minute)
			for {
				steps, _ := checkpoint.List(ckpts)
				if len(steps) > 0 && steps[len(steps)-1] >= target {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no checkpoint of step %d after 2 minutes\n%s", target, stderr.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			steps, _ := checkpoint.List(ckpts)
			t.Logf("%v: exit %v; checkpoints after steps %v", sig, err, steps)
			if err == nil {
				t.Fatalf("the run finished before the signal after step %d landed", target)
			}
			if sig == syscall.SIGINT && !strings.Contains(stderr.String(), "continue with: imago train --resume") {
				t.Errorf("SIGINT: stderr lacks how to resume:\n%s", stderr.String())
			}
			if b, err := imagoCmd(t, "train", "--resume", out).CombinedOutput(); err != nil {
				t.Fatalf("resume: %v\n%s", err, b)
			}
			compareMetrics(t, want, readMetrics(t, out))
		})
	}
}

// TestResumeRefusals checks --resume's one-line errors.
func TestResumeRefusals(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if out, err := imagoCmd(t, resumeArgs(run)...).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", dir}, "no config.yaml there"},
		{[]string{"train", "--resume", run}, "it is complete"},
		{[]string{"train", "--resume", run, "--steps", "900"}, "--steps cannot be given with it"},
	} {
		out, err := imagoCmd(t, c.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("imago %s: %v\n%s\nwant one line with %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
}

func readMetrics(t *testing.T, dir string) [][]string {
	t.Helper()
	return readCSV(t, filepath.Join(dir, metricsFile))
}

// compareMetrics fails t unless got is want but for the wall_seconds
// column.
func compareMetrics(t *testing.T, want, got [][]string) {
	t.Helper()
	wall := slices.Index(want[0], "wall_seconds")
	strip := func(recs [][]string) string {
		var b strings.Builder
		for _, r := range recs {
			r = slices.Clone(r)
			if wall >= 0 && wall < len(r) {
				r[wall] = "-"
			}
			fmt.Fprintln(&b, strings.Join(r, ","))
		}
		return b.String()
	}
	if w, g := strip(want), strip(got); w != g {
		t.Errorf("metrics.csv after resuming:\n%s\nuninterrupted run:\n%s", g, w)
	}
}

// TestTrainWritesEventsAndCurve checks that a run directory holds
// TensorBoard events that read back as the rows of metrics.csv, and a
// curve.png.
func TestTrainWritesEventsAndCurve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if _, errOut, err := run(t, append(fakeArgs, "--seed", "3", "--out", dir)...); err != nil {
		t.Fatalf("train: %v\nstderr:\n%s", err, errOut)
	}
	recs := readCSV(t, filepath.Join(dir, metricsFile))
	paths, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(paths) != 1 {
		t.Fatalf("%d event files in the run directory, want 1", len(paths))
	}
	events, err := tensorboard.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	// The file_version event, then one per row.
	if len(events) != len(recs) {
		t.Fatalf("%d events, want %d (a version event and one per row of metrics.csv)", len(events), len(recs))
	}
	for i, rec := range recs[1:] {
		e := events[i+1]
		if fmt.Sprint(e.Step) != rec[0] {
			t.Errorf("event %d at step %d, metrics.csv row at %s", i+1, e.Step, rec[0])
		}
		got := map[string]float32{}
		for _, v := range e.Values {
			got[v.Tag] = v.Simple
		}
		for j, name := range recs[0] {
			if name == "env_steps" || name == "wall_seconds" {
				continue
			}
			want, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				t.Fatal(err)
			}
			if g, ok := got[name]; !ok || g != float32(want) {
				t.Errorf("step %s: event %s = %v (present %v), metrics.csv %v", rec[0], name, g, ok, want)
			}
		}
		if _, ok := got["steps_per_second"]; !ok {
			t.Errorf("step %s: no steps_per_second", rec[0])
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "curve.png"))
	if err != nil || fi.Size() == 0 {
		t.Errorf("curve.png: %v", err)
	}
}

// TestResumeFailureKeepsMetrics checks that a resume that fails when the
// algorithm loads its checkpoint (here: config.yaml edited to other layer
// sizes) leaves metrics.csv as it was.
func TestResumeFailureKeepsMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--algo", "sac", "--env", "Pendulum-v1", "--steps", "600", "--engine", "cpu",
		"--eval-every", "200", "--eval-episodes", "1", "--checkpoint-every", "200",
		"--set", "hidden=8,8", "--set", "batch_size=16", "--set", "learning_starts=100", "--out", dir}
	if _, stderr, err := run(t, args...); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	for _, ext := range []string{".json", ".safetensors"} {
		if err := os.Remove(filepath.Join(dir, checkpointsDir, "step-000000600"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, configFile)
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), "hidden: [8, 8]", "hidden: [9, 9]", 1)
	if edited == string(text) {
		t.Fatalf("config.yaml has no hidden: [8, 8]:\n%s", text)
	}
	if err := os.WriteFile(cfgPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "train", "--resume", dir)
	if err == nil || !strings.Contains(err.Error(), "agent.actor") {
		t.Fatalf("resume with other layer sizes: %v, want an error naming agent.actor", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, metricsFile))
	if string(after) != string(before) {
		t.Errorf("a failed resume changed metrics.csv:\n%s\nwas:\n%s", after, before)
	}
}
