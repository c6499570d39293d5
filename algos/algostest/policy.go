package algostest

import (
	"context"
	"math"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/env"
)

// Policy trains run with checkpoints, rebuilds the evaluation policy from
// the last one with policy (the package's CheckpointPolicy with its engine
// and Config bound) and checks that run.EvalEpisodes evaluation episodes
// of it return exactly the eval_return of the run's last row. It returns
// the checkpoint's state, for further checks.
func Policy(t *testing.T, algo string, run algos.RunConfig, train TrainFunc, policy func(s *checkpoint.State) (algos.Policy, func(), error)) *checkpoint.State {
	t.Helper()
	dir := t.TempDir()
	rows := &algos.Rows{}
	ck := &algos.Checkpoints{Reporter: rows, Dir: dir, Algo: algo, Env: run.Env}
	if err := train(context.Background(), run, ck); err != nil {
		t.Fatal(err)
	}
	_, s, err := checkpoint.Load(dir, -1, checkpoint.Meta{Algo: algo, Env: run.Env})
	if err != nil {
		t.Fatal(err)
	}
	p, free, err := policy(s)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	e, err := env.Make(run.Env)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := algos.Evaluate(context.Background(), e, p, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
	if err != nil {
		t.Fatal(err)
	}
	last := rows.Rows[len(rows.Rows)-1]
	if want := last.Get("eval_return"); math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("the checkpoint's policy returns %v, the run's evaluation at step %d %v", got, last.EnvSteps, want)
	}
	return s
}
