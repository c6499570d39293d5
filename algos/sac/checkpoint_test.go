package sac

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 300, Seed: 5, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "sac", run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, small(), rep)
	})
}

// TestDivergence checks that a run whose critic blows up stops with a
// DivergedError naming the quantity and the step, and that the last
// checkpoint written before it stays and holds only finite numbers.
func TestDivergence(t *testing.T) {
	dir := t.TempDir()
	cfg := small()
	cfg.CriticLR, cfg.ActorLR = 1e12, 1e12
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 1000, Seed: 1, EvalEvery: 100, EvalEpisodes: 1}
	ck := &algos.Checkpoints{Reporter: &algos.Rows{}, Dir: dir, Every: 50, Algo: "sac", Env: run.Env}
	err := Train(context.Background(), cpu.New(), run, cfg, ck)
	var d *algos.DivergedError
	if !errors.As(err, &d) {
		t.Fatalf("Train with learning rates of 1e12: %v, want a DivergedError", err)
	}
	t.Log(err)
	if d.Quantity == "" || d.Step <= cfg.LearningStarts || !strings.Contains(err.Error(), fmt.Sprint(d.Step)) {
		t.Errorf("error %q names %q at step %d", err, d.Quantity, d.Step)
	}
	if d.LastGood == 0 || d.LastGood >= d.Step || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q: last good checkpoint %d, want one before step %d, in %s", err, d.LastGood, d.Step, dir)
	}
	meta, s, err := checkpoint.Load(dir, -1, checkpoint.Meta{Algo: "sac", Env: run.Env})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Step != d.LastGood {
		t.Errorf("newest checkpoint is of step %d, want the last good %d", meta.Step, d.LastGood)
	}
	if name, v, bad := s.NonFinite(); bad {
		t.Errorf("the kept checkpoint holds %v in %s", v, name)
	}
}
