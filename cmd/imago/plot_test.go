package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runPlotApp runs `imago ARGS...` with only the plot command registered.
func runPlotApp(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	stdout, _, err = runPlotAppStderr(t, args...)
	return stdout, err
}

// runPlotAppStderr is runPlotApp that also returns stderr.
func runPlotAppStderr(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "imago", Writer: &out, ErrWriter: &errOut, Commands: []*cli.Command{plotCommand()}}
	err = app.Run(append([]string{"imago"}, args...))
	return out.String(), errOut.String(), err
}

// writePlotRun writes a run directory as imago train does: config.yaml
// and metrics.csv with rows "steps,return" and an algorithm column.
func writePlotRun(t *testing.T, dir, algo, env string, seed int64, rows ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("imago: dev\nalgo: %s\nengine: cpu\nrun:\n  env: %s\n  steps: 3000\n  seed: %d\n  eval_every: 1000\n  eval_episodes: 10\n%s:\n  hidden: [32, 32]\n",
		algo, env, seed, algo)
	metrics := "env_steps,eval_return,eval_return_std,wall_seconds,q_loss\n"
	for _, r := range rows {
		metrics += r + ",1,0.5,0.25\n"
	}
	for name, text := range map[string]string{"config.yaml": config, "metrics.csv": metrics} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// plotRunsDir holds two seeds of sac on Pendulum-v1, one of mve, and a
// directory that is not a run: at 3000 steps sac's returns are −200 and
// −100, mean −150, population std 50.
func plotRunsDir(t *testing.T) string {
	root := t.TempDir()
	writePlotRun(t, filepath.Join(root, "sac-0"), "sac", "Pendulum-v1", 0, "1000,-1200", "2000,-600", "3000,-200")
	writePlotRun(t, filepath.Join(root, "sac-1"), "sac", "Pendulum-v1", 1, "1000,-1000", "2000,-400", "2500,-300", "3000,-100")
	writePlotRun(t, filepath.Join(root, "mve-0"), "mve", "Pendulum-v1", 0, "1000,-900", "2000,NaN", "2000,-250")
	if err := os.Mkdir(filepath.Join(root, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	if s := img.Bounds().Size(); s.X < 100 || s.Y < 100 {
		t.Errorf("%s is %v pixels, want a figure", path, s)
	}
}

func TestPlotCommand(t *testing.T) {
	root := plotRunsDir(t)
	out := filepath.Join(t.TempDir(), "curves.png")
	// A parent directory, a run in it named again, and flags after the
	// directories, the order the README shows.
	stdout, err := runPlotApp(t, "plot", root, filepath.Join(root, "sac-1")+"/", "-o", out, "--title=Pendulum", "--width", "12cm")
	if err != nil {
		t.Fatalf("imago plot: %v", err)
	}
	checkPNG(t, out)
	// mve-0 comes first in name order, then sac-0 and sac-1.
	want := "mve Pendulum-v1 seed 0: eval_return -250.0 at 2000 steps\n" +
		"sac Pendulum-v1, 2 runs (seeds 0 1): eval_return -150.0 ± 50.0 at 3000 steps, mean ± std over the runs; 1 step not evaluated in every run dropped\n" +
		"wrote " + out + "\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	// Flags first, explicit runs, another column, SVG.
	svg := filepath.Join(t.TempDir(), "q.svg")
	stdout, err = runPlotApp(t, "plot", "--column", "q_loss", "-o", svg, filepath.Join(root, "sac-0"), filepath.Join(root, "sac-1"))
	if err != nil {
		t.Fatalf("imago plot --column q_loss: %v", err)
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("%s: %v, not an SVG", svg, err)
	}
	if want := "q_loss 0.250 ± 0.000 at 3000 steps"; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q lacks %q", stdout, want)
	}
}

func TestPlotSkipsRunsWithoutEvaluation(t *testing.T) {
	root := plotRunsDir(t)
	started := filepath.Join(root, "sac-2")
	writePlotRun(t, started, "sac", "Pendulum-v1", 2) // a header, no row yet
	out := filepath.Join(t.TempDir(), "curves.png")
	stdout, stderr, err := runPlotAppStderr(t, "plot", root, "-o", out)
	if err != nil {
		t.Fatalf("imago plot: %v", err)
	}
	if want := "skipping " + started + ", which has no eval_return yet"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
	if want := "2 runs (seeds 0 1)"; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q lacks %q", stdout, want)
	}
	checkPNG(t, out)

	if _, err := runPlotApp(t, "plot", started, "-o", out); err == nil || !strings.Contains(err.Error(), "none of the 1 runs has a value of eval_return yet") {
		t.Errorf("imago plot of a run without evaluations: %v", err)
	}
}

func TestPlotErrors(t *testing.T) {
	root := plotRunsDir(t)
	empty := t.TempDir()
	out := filepath.Join(t.TempDir(), "curves.png")
	sac0 := filepath.Join(root, "sac-0")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plot"}, "no run directories"},
		{[]string{"plot", "-o", out}, "no run directories"},
		{[]string{"plot", filepath.Join(root, "nope"), "-o", out}, "nope: no such directory"},
		{[]string{"plot", empty, "-o", out}, "holds no run: no metrics.csv in it or in a directory directly under it"},
		{[]string{"plot", filepath.Join(sac0, "metrics.csv"), "-o", out}, "is not a directory"},
		{[]string{"plot", root, "-o", out, "--column", "success_rate"}, `no column "success_rate"; its columns are env_steps, eval_return`},
		{[]string{"plot", root, "-o", filepath.Join(empty, "curves.gif")}, "curves.gif: the file must end in .png, .svg, .pdf"},
		{[]string{"plot", root, "-o", out, "--width", "wide"}, `--width "wide": not a length`},
		{[]string{"plot", root, "-o", out, "--height", "1km"}, `--height "1km": not a length`},
		{[]string{"plot", root, "-o", out, "--height", "2cm"}, "--height 2cm: must be between 3cm and 100cm"},
		{[]string{"plot", root, "--colour", "red"}, "flag provided but not defined: --colour"},
		{[]string{"plot", "--colour", "red", root}, "flag provided but not defined: -colour"},
		{[]string{"plot", root, "-o"}, "flag needs an argument: -o"},
		{[]string{"plot", root, "-o", filepath.Join(empty, "missing", "c.png")}, "c.png"},
	} {
		_, err := runPlotApp(t, tc.args...)
		if err == nil {
			t.Errorf("imago %s: no error", strings.Join(tc.args, " "))
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("imago %s: %q, want one line containing %q", strings.Join(tc.args, " "), msg, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed imago plot wrote %s", out)
	}

	// A run directory without config.yaml is named in the error.
	if err := os.Remove(filepath.Join(sac0, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := runPlotApp(t, "plot", root, "-o", out); err == nil || !strings.Contains(err.Error(), sac0+": no config.yaml") {
		t.Errorf("run without config.yaml: %v", err)
	}
}

func TestPlotHelp(t *testing.T) {
	for _, args := range [][]string{{"plot", "--help"}, {"plot", "runs/", "--help"}} {
		stdout, err := runPlotApp(t, args...)
		if err != nil {
			t.Fatalf("imago %s: %v", strings.Join(args, " "), err)
		}
		for _, want := range []string{"imago plot DIR...", "directly under it", "--output FILE, -o FILE", "--column", ".png, .svg, .pdf"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("imago %s lacks %q:\n%s", strings.Join(args, " "), want, stdout)
			}
		}
	}
}

func TestWriteRunCurve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writePlotRun(t, dir, "dyna-q", "DynaMaze-v0", 3, "1000,1", "2000,NaN", "3000,2")
	if err := writeRunCurve(dir); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, runCurveFile))

	// No evaluation yet: an error naming the run, and no picture.
	early := filepath.Join(t.TempDir(), "early")
	writePlotRun(t, early, "sac", "Pendulum-v1", 0)
	err := writeRunCurve(early)
	if err == nil || !strings.Contains(err.Error(), early) {
		t.Errorf("writeRunCurve of a run without evaluations: %v, want an error naming %s", err, early)
	}
	if _, err := os.Stat(filepath.Join(early, runCurveFile)); err == nil {
		t.Errorf("writeRunCurve wrote %s for a run without evaluations", runCurveFile)
	}
}
