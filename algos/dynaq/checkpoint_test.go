package dynaq

import (
	"context"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does:
// Dyna-Q on the Dyna maze, and Dyna-Q+ (the visit times of κ√τ) on the
// blocking maze, whose layout changes after 1000 steps, so that a stop on
// either side of the change is tested as the random stops fall.
func TestResume(t *testing.T) {
	for _, c := range []struct {
		env  string
		plus bool
	}{{"DynaMaze-v0", false}, {"BlockingMaze-v0", true}} {
		t.Run(c.env, func(t *testing.T) {
			cfg := Preset(c.env)
			cfg.Plus = c.plus
			run := algos.RunConfig{Env: c.env, Steps: 3000, Seed: 3, EvalEvery: 500, EvalEpisodes: 2}
			algostest.Resume(t, "dyna-q", run, 300, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
				return Train(ctx, nil, run, cfg, rep)
			})
		})
	}
}

// TestCheckpointPolicy checks that the greedy policy of the last checkpoint
// of a Dyna maze run takes a shortest route to the goal (14 or 16 steps;
// see TestTrainLearnsDynaMaze, whose run this is), and that a checkpoint
// is refused for a maze of another size.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 5000, Seed: 1, EvalEvery: 5000, EvalEpisodes: 1}
	dir := t.TempDir()
	ck := &algos.Checkpoints{Reporter: algos.Discard{}, Dir: dir, Algo: "dyna-q", Env: run.Env}
	if err := Train(context.Background(), nil, run, Defaults(), ck); err != nil {
		t.Fatal(err)
	}
	_, s, err := checkpoint.Load(dir, -1, checkpoint.Meta{Algo: "dyna-q", Env: run.Env})
	if err != nil {
		t.Fatal(err)
	}
	policy, free, err := CheckpointPolicy(nil, run, Defaults(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	e, _, err := makeTabular(run.Env)
	if err != nil {
		t.Fatal(err)
	}
	obs := e.Reset(run.Seed + algos.EvalSeedOffset)
	steps, reward := 0, 0.0
	for ; steps < 100; steps++ {
		next, r, terminated, _ := e.Step(policy(obs))
		obs, reward = next, reward+r
		if terminated {
			steps++
			break
		}
	}
	if reward != 1 || (steps != 14 && steps != 16) {
		t.Errorf("the checkpoint's greedy policy collects %g in %d steps, want 1 in 14 or 16", reward, steps)
	}

	other := run
	other.Env = "FourRooms-v0"
	if _, _, err := CheckpointPolicy(nil, other, Defaults(), s); err == nil || !strings.Contains(err.Error(), "want") {
		t.Errorf("a Dyna maze checkpoint for FourRooms: error %v, want one about the sizes", err)
	}
}

// TestAgentLoadRefusesBadModels checks that Load refuses a checkpoint whose
// model no Learn could have built, with an error naming what is wrong, and
// leaves the agent as it was.
func TestAgentLoadRefusesBadModels(t *testing.T) {
	cfg := Defaults()
	ag, err := NewAgent(cfg, 4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ag.Learn(0, 1, 0.5, 1, false)
	ag.Learn(1, 0, 1, 3, true)
	good := checkpoint.NewState()
	ag.Save(good, "agent.")
	for _, c := range []struct {
		name   string
		change func(m *modelState)
		want   string
	}{
		{"state out of range", func(m *modelState) { m.States[1] = 4 }, "out of range"},
		{"state twice", func(m *modelState) { m.States[1] = m.States[0] }, "two rows"},
		{"untried action listed", func(m *modelState) { m.Tried[0] = []int{0} }, "not a known action"},
		{"known action not listed", func(m *modelState) { m.Known[0] = true }, "are known"},
		{"next out of range", func(m *modelState) { m.Next[2] = -1 }, "out of range"},
		{"tried in the future", func(m *modelState) { m.LastTried[1] = 9 }, "last tried"},
		{"short", func(m *modelState) { m.Terminal = m.Terminal[:1] }, "terminal flags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m modelState
			if err := good.Value("agent.model", &m); err != nil {
				t.Fatal(err)
			}
			c.change(&m)
			bad := checkpoint.NewState()
			ag.Save(bad, "agent.")
			if err := bad.PutValue("agent.model", m); err != nil {
				t.Fatal(err)
			}
			fresh, err := NewAgent(cfg, 4, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.Load(bad, "agent."); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if _, _, _, ok := fresh.ModelTransition(0, 1); ok || fresh.time != 0 {
				t.Error("a refused Load changed the agent")
			}
		})
	}
}
