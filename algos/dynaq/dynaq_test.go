package dynaq

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestTrainDeterministic checks that two runs of a seed report the same
// rows bit for bit but for wall_seconds, that another seed differs, and
// the schedule of the rows and of Progress.
func TestTrainDeterministic(t *testing.T) {
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 2500, Seed: 3, EvalEvery: 1000, EvalEpisodes: 3}
	train := func(seed int64) *algos.Rows {
		r := &algos.Rows{}
		run := run
		run.Seed = seed
		if err := Train(context.Background(), nil, run, Defaults(), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := train(3), train(3), train(4)
	if len(a.Rows) != 3 || a.Rows[0].EnvSteps != 1000 || a.Rows[1].EnvSteps != 2000 || a.Rows[2].EnvSteps != 2500 {
		t.Fatalf("%d rows, want rows at steps 1000, 2000, 2500", len(a.Rows))
	}
	if a.Progressed != run.Steps || a.Last != run.Steps {
		t.Errorf("Progress called %d times, last with %d; want %d, %d", a.Progressed, a.Last, run.Steps, run.Steps)
	}
	same := func(x, y *algos.Rows) bool {
		for i := range x.Rows {
			if !slices.Equal(x.Rows[i].Names, Columns) {
				t.Fatalf("row %d names %v, want %v", i, x.Rows[i].Names, Columns)
			}
			for j, name := range Columns {
				u, v := x.Rows[i].Values[j], y.Rows[i].Values[j]
				if name != "wall_seconds" && u != v && !(math.IsNaN(u) && math.IsNaN(v)) {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two runs of seed 3 differ")
	}
	if same(a, c) {
		t.Error("seeds 3 and 4 report the same rows")
	}
}

// TestTrainLearnsDynaMaze checks the loop end to end on the Dyna maze with
// n = 5, evaluating every 1000 steps for 5000 steps (some 250 episodes;
// Figure 8.2 is flat from episode 6). The greedy policy must reach the
// goal by one of the maze's two shortest routes: 14 steps below the wall
// or 16 above it. Dyna-Q can settle on the longer one for thousands of
// steps, as seeds 0 and 1 do: planning replays only pairs tried for real,
// and (3,4)→right, on the 14-step route, may not have been tried yet. The
// training episodes of the last 1000 steps must be within 25% of the
// ε-greedy optimum (15.88 steps), and cumulative_reward must count one
// goal per episode.
func TestTrainLearnsDynaMaze(t *testing.T) {
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 5000, Seed: 1, EvalEvery: 1000, EvalEpisodes: 5}
	r := &algos.Rows{}
	if err := Train(context.Background(), cpu.New(), run, Defaults(), r); err != nil {
		t.Fatal(err)
	}
	row := r.Rows[len(r.Rows)-1]
	if got := row.Get("eval_steps"); got != 14 && got != 16 {
		t.Errorf("greedy episodes take %g steps, want a shortest route's 14 or 16", got)
	}
	if got, std := row.Get("eval_return"), row.Get("eval_return_std"); got != 1 || std != 0 {
		t.Errorf("greedy return %g ± %g, want 1 ± 0", got, std)
	}
	if got := row.Get("episode_steps"); got > NearOptimalFactor*DynaMazeEpsilonOptimalSteps {
		t.Errorf("training episodes of the last 1000 steps average %.1f steps, want at most 1.25·%.2f", got, DynaMazeEpsilonOptimalSteps)
	}
	// Every ended episode reached the goal (reward 1, no time limit).
	if got, eps := row.Get("cumulative_reward"), row.Get("episodes"); got != eps || eps < 200 {
		t.Errorf("cumulative reward %g over %g episodes, want one per episode and at least 200 episodes", got, eps)
	}
}

// TestTrainShortcutEvaluatesCurrentLayout checks that the greedy evaluation
// of a changing maze sees the training environment's current layout: after
// 6000 steps of Dyna-Q+ on the shortcut maze (preset), the greedy path is
// shorter than 16 steps, which only the opened shortcut allows (a fresh
// copy of the maze has the old layout). Before the change it cannot be.
// Dyna-Q+'s greedy policy may also wander after its exploration bonus and
// be cut at eval_max_steps, so the early rows are only bounded below.
func TestTrainShortcutEvaluatesCurrentLayout(t *testing.T) {
	cfg := Preset("ShortcutMaze-v0")
	cfg.Plus = true
	run := algos.RunConfig{Env: "ShortcutMaze-v0", Steps: 6000, Seed: 0, EvalEvery: 1000, EvalEpisodes: 3}
	r := &algos.Rows{}
	if err := Train(context.Background(), nil, run, cfg, r); err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows[:3] {
		if got := row.Get("eval_steps"); got < 16 {
			t.Errorf("greedy path at step %d (old layout) is %g steps, want at least 16", row.EnvSteps, got)
		}
	}
	if got := r.Rows[len(r.Rows)-1].Get("eval_steps"); got >= 16 {
		t.Errorf("greedy path at step 6000 (shortcut open) is %g steps, want under 16", got)
	}
}

// TestTrainFourRooms runs the loop on a tabular environment with a time
// limit and no exposed model: a smoke test that truncated episodes end
// and evaluation episodes are cut by the environment's 200 steps.
func TestTrainFourRooms(t *testing.T) {
	run := algos.RunConfig{Env: "FourRooms-v0", Steps: 1000, Seed: 0, EvalEvery: 500, EvalEpisodes: 2}
	r := &algos.Rows{}
	if err := Train(context.Background(), nil, run, Defaults(), r); err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		if s := row.Get("eval_steps"); s < 1 || s > 200 {
			t.Errorf("step %d: evaluation episodes of %g steps, want 1 to 200", row.EnvSteps, s)
		}
		if e := row.Get("episodes"); e < float64(row.EnvSteps)/200 {
			t.Errorf("step %d: %g episodes ended, want at least %d (200-step limit)", row.EnvSteps, e, row.EnvSteps/200)
		}
	}
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	run := algos.RunConfig{Env: "DynaMaze-v0", Steps: 100, Seed: 0, EvalEvery: 50, EvalEpisodes: 1}
	bad := Defaults()
	bad.Epsilon = 2
	for _, tc := range []struct {
		name string
		run  algos.RunConfig
		cfg  Config
		want string
	}{
		{"not tabular", algos.RunConfig{Env: "Pendulum-v1", Steps: 10, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), "tabular"},
		{"unknown env", algos.RunConfig{Env: "NoSuch-v0", Steps: 10, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), "unknown environment"},
		{"bad config", run, bad, "epsilon = 2"},
		{"bad run", algos.RunConfig{Env: "DynaMaze-v0", Steps: 0, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), "steps = 0"},
	} {
		err := Train(ctx, nil, tc.run, tc.cfg, algos.Discard{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Train(cancelled, nil, run, Defaults(), algos.Discard{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled", err)
	}
	stop := errors.New("disk full")
	if err := Train(ctx, nil, run, Defaults(), failingReporter{stop}); !errors.Is(err, stop) {
		t.Errorf("failing reporter: error %v, want it wrapped", err)
	}
}

type failingReporter struct{ err error }

func (failingReporter) Progress(int)             {}
func (f failingReporter) Record(algos.Row) error { return f.err }

func TestConfigValidate(t *testing.T) {
	for _, id := range []string{"DynaMaze-v0", "BlockingMaze-v0", "ShortcutMaze-v0", "FourRooms-v0"} {
		if err := Preset(id).Validate(); err != nil {
			t.Errorf("Preset(%s): %v", id, err)
		}
	}
	for _, tc := range []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.Gamma = 1.5 }, "gamma = 1.5"},
		{func(c *Config) { c.Gamma = math.NaN() }, "gamma = NaN"},
		{func(c *Config) { c.Alpha = 0 }, "alpha = 0"},
		{func(c *Config) { c.Epsilon = -0.1 }, "epsilon = -0.1"},
		{func(c *Config) { c.PlanningSteps = -1 }, "planning_steps = -1"},
		{func(c *Config) { c.Kappa = math.Inf(1) }, "kappa = +Inf"},
		{func(c *Config) { c.EvalMaxSteps = 0 }, "eval_max_steps = 0"},
	} {
		c := Defaults()
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}
