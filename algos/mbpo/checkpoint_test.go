package mbpo

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// resumable is tiny with a model training and rollout every 50 steps after
// 50 initial ones, epochs of 100 steps (so that the rollout length, and
// with it the model buffer's capacity, changes twice in 300 steps), one
// SAC update per step and rollouts of 32 starts.
func resumable() Config {
	c := tiny()
	c.InitialSteps = 50
	c.EpochLength = 100
	c.ModelTrainFreq = 50
	c.UpdatesPerStep = 1
	c.RolloutBatchSize = 32
	c.Members, c.Elites = 3, 2
	c.ModelMaxEpochs = 2
	return c
}

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does,
// but for the columns measured by the clock. ContinuousCartPole-v0 ends
// episodes, so that the training episodes' state is exercised too.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 300, Seed: 2, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "mbpo", run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	}, TimeColumns...)
}

// TestCheckpointPolicy checks that the policy of a run's last checkpoint
// returns in one evaluation episode exactly the eval_return of the run's
// last row, and that a configuration of other sizes is refused.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 120, Seed: 1, EvalEvery: 120, EvalEpisodes: 1}
	train := func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, resumable(), rep)
	}
	eng := cpu.New()
	s := algostest.Policy(t, "mbpo", run, train, func(s *checkpoint.State) (algos.Policy, func(), error) {
		return CheckpointPolicy(eng, run, resumable(), s)
	})
	other := resumable()
	other.SAC.Hidden = []int{8, 8}
	if _, _, err := CheckpointPolicy(eng, run, other, s); err == nil || !strings.HasPrefix(err.Error(), "mbpo: ") {
		t.Errorf("a policy of other sizes: error %v, want one from mbpo", err)
	}
}

// TestDynamicsRoundTrip checks that dynamics loaded from a checkpoint,
// into dynamics initialised otherwise, train as the saved ones do, bit for
// bit, and predict as they do before training; and that elites out of
// range, or a model of other sizes, are refused.
func TestDynamicsRoundTrip(t *testing.T) {
	const obsDim, actDim, n = 3, 1, 120
	eng := cpu.New()
	cfg := resumable()
	buf := replay.New(eng, n, obsDim, actDim)
	defer buf.Free()
	buf.Add(randomTransitions(t, "Pendulum-v1", n, 3))

	newDynamics := func(seed uint64, cfg Config) *Dynamics {
		d, err := NewDynamics(eng, cfg, obsDim, actDim, n, engine.NewRNG(seed), seed)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := newDynamics(1, cfg)
	defer a.Free()
	if _, err := a.Train(buf, engine.NewRNG(10)); err != nil {
		t.Fatal(err)
	}
	s := checkpoint.NewState()
	a.Save(s, "model.")
	b := newDynamics(2, cfg)
	defer b.Free()
	if err := b.Load(s, "model."); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Elites, b.Elites) {
		t.Errorf("loaded elites %v, saved %v", b.Elites, a.Elites)
	}

	x := eng.New(engine.Float32, 4, obsDim+actDim)
	defer eng.Free(x)
	eng.CopyCols(x, 0, buf.Obs.View(0, 4, obsDim), 0, obsDim)
	eng.CopyCols(x, obsDim, buf.Act.View(0, 4, actDim), 0, actDim)
	predict := func(d *Dynamics) []float32 {
		mean, lv := d.Model.Predict(x)
		out := make([]float32, mean.Len()+lv.Len())
		eng.Download(out[:mean.Len()], mean)
		eng.Download(out[mean.Len():], lv)
		return out
	}
	if pa, pb := predict(a), predict(b); !equalBits(pa, pb) {
		t.Errorf("loaded dynamics predict %v, the saved ones %v", pb[:4], pa[:4])
	}
	sa, err := a.Train(buf, engine.NewRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Train(buf, engine.NewRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(sa.EliteMSE) != math.Float64bits(sb.EliteMSE) || sa.Epochs != sb.Epochs || !slices.Equal(a.Elites, b.Elites) {
		t.Errorf("a training after the load: MSE %v in %d epochs, elites %v; the saved dynamics' %v in %d, %v",
			sb.EliteMSE, sb.Epochs, b.Elites, sa.EliteMSE, sa.Epochs, a.Elites)
	}

	for _, elites := range [][]int{{0}, {0, 0}, {0, 3}, {-1, 1}} {
		bad := checkpoint.NewState()
		a.Save(bad, "model.")
		if err := bad.PutValue("model.elites", elites); err != nil {
			t.Fatal(err)
		}
		if err := b.Load(bad, "model."); err == nil || !strings.Contains(err.Error(), "elites") {
			t.Errorf("elites %v: error %v", elites, err)
		}
	}
	other := cfg
	other.ModelHidden = []int{8, 8}
	c := newDynamics(1, other)
	defer c.Free()
	if err := c.Load(s, "model."); err == nil {
		t.Error("dynamics of other sizes loaded")
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestDivergence checks that a run whose SAC agent blows up stops with an
// algos.DivergedError naming the step, rather than with an environment's
// panic at a NaN action.
func TestDivergence(t *testing.T) {
	cfg := resumable()
	cfg.SAC.CriticLR, cfg.SAC.ActorLR = 1e12, 1e12
	run := algos.RunConfig{Env: "Pendulum-v1", Steps: 600, Seed: 1, EvalEvery: 100, EvalEpisodes: 1}
	err := Train(context.Background(), cpu.New(), run, cfg, &algos.Rows{})
	var d *algos.DivergedError
	if !errors.As(err, &d) || d.Step <= cfg.InitialSteps {
		t.Fatalf("Train with learning rates of 1e12: %v, want a DivergedError after step %d", err, cfg.InitialSteps)
	}
	t.Log(err)
}
