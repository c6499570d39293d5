package bptt

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine/cpu"
)

// resumable is tiny with a model training every 150 steps from step 200,
// so that a 600-step run trains three times and a stop falls before,
// between or after them.
func resumable() Config {
	c := tiny()
	c.TrainEvery = 150
	return c
}

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 600, Seed: 4, EvalEvery: 200, EvalEpisodes: 1}
	algostest.Resume(t, "bptt", run, 150, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	})
}

// TestCheckpointPolicy checks that the policy of a run's last checkpoint
// returns in one evaluation episode exactly the eval_return of the run's
// last row.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 400, Seed: 1, EvalEvery: 400, EvalEpisodes: 1}
	train := func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	}
	s := algostest.Policy(t, "bptt", run, train, func(s *checkpoint.State) (algos.Policy, func(), error) {
		return CheckpointPolicy(nil, run, resumable(), s)
	})
	other := resumable()
	other.PolicyHidden = []int{8}
	if _, _, err := CheckpointPolicy(nil, run, other, s); err == nil || !strings.Contains(err.Error(), "other sizes") {
		t.Errorf("a policy of other sizes: error %v", err)
	}
}

// TestHostStateRoundTrip checks that the policy, the optimizer and the
// start states come back from a checkpoint exactly, and that one of
// other sizes is refused, leaving the destination as it was.
func TestHostStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := NewGaussianPolicy(3, 1, []int{4}, -0.5, []float64{-2}, []float64{2})
	if err != nil {
		t.Fatal(err)
	}
	p.Init(rng)
	opt := NewAdam64(len(p.Params), 1e-3)
	opt.Step(p.Params, normals(rng, len(p.Params)))
	for _, n := range []int{2, 5} { // a store not yet full, then a full one
		starts := NewStartStates(4)
		for range n {
			starts.Add(normals(rng, 3))
		}
		s := checkpoint.NewState()
		p.Save(s, "policy")
		opt.Save(s, "opt")
		starts.Save(s, "starts")

		q, _ := NewGaussianPolicy(3, 1, []int{4}, 0, []float64{-2}, []float64{2})
		opt2 := NewAdam64(len(p.Params), 1e-3)
		starts2 := NewStartStates(4)
		if err := errors.Join(q.Load(s, "policy"), opt2.Load(s, "opt"), starts2.Load(s, "starts", 3)); err != nil {
			t.Fatal(err)
		}
		grad := normals(rng, len(p.Params))
		opt.Step(p.Params, grad)
		opt2.Step(q.Params, grad)
		for i := range p.Params {
			if math.Float64bits(p.Params[i]) != math.Float64bits(q.Params[i]) {
				t.Fatalf("%d stored: parameter %d is %v after a step from the checkpoint, %v from the original", n, i, q.Params[i], p.Params[i])
			}
		}
		starts.Add([]float64{7, 8, 9})
		starts2.Add([]float64{7, 8, 9})
		a, b := starts.Sample(rand.New(rand.NewPCG(3, 4)), 8), starts2.Sample(rand.New(rand.NewPCG(3, 4)), 8)
		for i := range a {
			for j := range a[i] {
				if a[i][j] != b[i][j] {
					t.Fatalf("%d stored: start state %d differs after loading: %v, want %v", n, i, b[i], a[i])
				}
			}
		}

		if err := NewStartStates(5).Load(s, "starts", 3); err == nil || !strings.Contains(err.Error(), "store of 4") {
			t.Errorf("another capacity: error %v", err)
		}
		if err := starts2.Load(s, "starts", 2); err == nil || !strings.Contains(err.Error(), "want 2") {
			t.Errorf("another dimension: error %v", err)
		}
		if err := NewAdam64(3, 1e-3).Load(s, "opt"); err == nil || !strings.Contains(err.Error(), "want 3") {
			t.Errorf("another size: error %v", err)
		}
	}
}
