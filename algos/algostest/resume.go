// Package algostest holds checks that every training loop of imago passes,
// written once for the tests of each algorithm's package.
package algostest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/imago-rl/imago/algos"
)

// TrainFunc is an algorithm's Train with its engine and Config bound.
type TrainFunc func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error

// Resume checks that train's checkpoints resume a run exactly. It trains
// run once without interruption, then twice more from scratch, each
// interrupted (its context cancelled) after a step drawn at random, and
// resumes each: the first from the checkpoint its interruption wrote, the
// second from the last periodic checkpoint before it, as after a kill
// that wrote none. The rows of each interrupted run up to its checkpoint
// followed by those of its resumed run must equal the uninterrupted run's,
// bit for bit but for wall_seconds and the columns named in skip (other
// columns measured by the clock). Checkpoints are due every every steps.
func Resume(t *testing.T, algo string, run algos.RunConfig, every int, train TrainFunc, skip ...string) {
	t.Helper()
	ck := func(rep algos.Reporter, dir string, resume bool) *algos.Checkpoints {
		return &algos.Checkpoints{Reporter: rep, Dir: dir, Every: every, Resume: resume, Algo: algo, Env: run.Env, Imago: "test"}
	}
	full := &algos.Rows{}
	if err := train(context.Background(), run, ck(full, t.TempDir(), false)); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	if len(full.Rows) == 0 {
		t.Fatal("uninterrupted run recorded no rows")
	}
	for _, kill := range []bool{false, true} {
		// Stop after a step from every+1 on, so that a killed run has a
		// periodic checkpoint to go back to.
		stop := every + 1 + rand.IntN(run.Steps-every-1)
		name := fmt.Sprintf("interrupted after step %d", stop)
		if kill {
			name = fmt.Sprintf("killed after step %d", stop)
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := &algos.Rows{}
			err := train(ctx, run, ck(&cancelAfter{Rows: first, step: stop, cancel: cancel}, dir, false))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run returned %v, want %v", err, context.Canceled)
			}
			from := stop
			if kill {
				// A kill leaves no checkpoint of its own: remove the
				// interruption's, unless it is a periodic one anyway.
				if stop%every != 0 {
					removeCheckpoint(t, dir, stop)
				}
				from = stop / every * every
			}
			resumed := ck(&algos.Rows{}, dir, true)
			if err := train(context.Background(), run, resumed); err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			var rows []algos.Row
			for _, r := range first.Rows {
				if r.EnvSteps <= from {
					rows = append(rows, r)
				}
			}
			rows = append(rows, resumed.Reporter.(*algos.Rows).Rows...)
			compareRows(t, full.Rows, rows, skip)
		})
	}
}

// cancelAfter records rows and cancels training when step is reached.
type cancelAfter struct {
	*algos.Rows
	step   int
	cancel context.CancelFunc
}

func (c *cancelAfter) Progress(n int) {
	c.Rows.Progress(n)
	if n == c.step {
		c.cancel()
	}
}

func removeCheckpoint(t *testing.T, dir string, step int) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("step-%09d.*", step)))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no checkpoint files of step %d in %s (%v)", step, dir, err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
}

// compareRows fails t unless got has the rows of want, equal bit for bit
// but for wall_seconds and the columns of skip.
func compareRows(t *testing.T, want, got []algos.Row, skip []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d (steps %v, want %v)", len(got), len(want), steps(got), steps(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.EnvSteps != w.EnvSteps || fmt.Sprint(g.Names) != fmt.Sprint(w.Names) {
			t.Fatalf("row %d at step %d with %v, want step %d with %v", i, g.EnvSteps, g.Names, w.EnvSteps, w.Names)
		}
		for j, n := range w.Names {
			if n == "wall_seconds" || slices.Contains(skip, n) {
				continue
			}
			if math.Float64bits(g.Values[j]) != math.Float64bits(w.Values[j]) {
				t.Errorf("step %d %s = %v, uninterrupted run %v", w.EnvSteps, n, g.Values[j], w.Values[j])
			}
		}
	}
}

func steps(rows []algos.Row) []int {
	s := make([]int, len(rows))
	for i, r := range rows {
		s[i] = r.EnvSteps
	}
	return s
}
