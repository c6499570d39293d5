package sfql

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/env"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does,
// for SFQL with the fitted task vector and with the known one (and ψ of a
// new task from 0), and for Q-learning, with tasks of 700 steps so that
// the runs cross task boundaries.
func TestResume(t *testing.T) {
	run := algos.RunConfig{Env: "FourRooms-v0", Steps: 3000, Seed: 6, EvalEvery: 500, EvalEpisodes: 2}
	for _, c := range []struct {
		name string
		set  func(*Config)
	}{
		{"sfql", func(*Config) {}},
		{"sfql known task", func(c *Config) { c.KnownTask, c.CopyPrevious = true, false }},
		{"q-learning", func(c *Config) { c.Method = MethodQLearning }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.TaskSteps = 700
			c.set(&cfg)
			algostest.Resume(t, "sfql", run, 600, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
				return Train(ctx, nil, run, cfg, rep)
			})
		})
	}
}

// TestCheckpointPolicy checks that the greedy policy of a run's last
// checkpoint, on an environment given the task CheckpointTask returns,
// collects in one episode exactly the eval_return of the run's last row
// (one evaluation episode, whose ties are broken by the same generator),
// for both methods.
func TestCheckpointPolicy(t *testing.T) {
	run := algos.RunConfig{Env: "FourRooms-v0", Steps: 2500, Seed: 3, EvalEvery: 2500, EvalEpisodes: 1}
	for _, method := range []string{MethodSFQL, MethodQLearning} {
		cfg := Defaults()
		cfg.Method, cfg.TaskSteps = method, 1000
		dir := t.TempDir()
		rows := &algos.Rows{}
		ck := &algos.Checkpoints{Reporter: rows, Dir: dir, Algo: "sfql", Env: run.Env}
		if err := Train(context.Background(), nil, run, cfg, ck); err != nil {
			t.Fatal(err)
		}
		_, s, err := checkpoint.Load(dir, -1, checkpoint.Meta{Algo: "sfql", Env: run.Env})
		if err != nil {
			t.Fatal(err)
		}
		policy, free, err := CheckpointPolicy(nil, run, cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		defer free()
		w, err := CheckpointTask(s)
		if err != nil {
			t.Fatal(err)
		}
		e := env.NewFourRooms()
		e.SetTask(w)
		got, _, err := algos.Evaluate(context.Background(), e, policy, 1, run.Seed+algos.EvalSeedOffset)
		if err != nil {
			t.Fatal(err)
		}
		if want := rows.Rows[len(rows.Rows)-1].Get("eval_return"); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: the checkpoint's policy returns %v, the run's last evaluation %v", method, got, want)
		}
	}
	if _, _, err := CheckpointPolicy(nil, run, Defaults(), checkpoint.NewState()); err == nil || !strings.Contains(err.Error(), "has no value") {
		t.Errorf("an empty checkpoint: error %v", err)
	}
}

// TestLoadRefuses checks that a checkpoint whose tables or task vectors do
// not fit the learner is an error naming what is wrong.
func TestLoadRefuses(t *testing.T) {
	cfg := Defaults()
	cfg.TaskSteps = 100
	r, err := newRunner(cfg, env.NewFourRooms(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 300; step++ {
		r.step(step)
	}
	for _, c := range []struct {
		name   string
		change func(s *checkpoint.State)
		want   string
	}{
		{"short table", func(s *checkpoint.State) {
			v, _ := s.Floats("runner.learner.psi")
			s.PutFloats("runner.learner.psi", v[:len(v)-1])
		}, "too few values"},
		{"long table", func(s *checkpoint.State) {
			v, _ := s.Floats("runner.learner.psi")
			s.PutFloats("runner.learner.psi", append(v, 0))
		}, "beyond the tables"},
		{"task vector", func(s *checkpoint.State) { s.PutFloats("runner.w", []float64{1, 2}) }, "features"},
		{"tasks", func(s *checkpoint.State) {
			if err := s.PutValue("runner.counters", runnerState{Task: 5}); err != nil {
				t.Fatal(err)
			}
		}, "3 policies after 5 tasks"},
		{"fit", func(s *checkpoint.State) { s.PutFloats("runner.learner.fit.gram", []float64{1}) }, "fit.gram has 1 values"},
		{"repeated state", func(s *checkpoint.State) {
			var st sfState
			if err := s.Value("runner.learner.sf", &st); err != nil {
				t.Fatal(err)
			}
			st.States[0][1] = st.States[0][0]
			if err := s.PutValue("runner.learner.sf", st); err != nil {
				t.Fatal(err)
			}
		}, "two rows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := checkpoint.NewState()
			if err := r.save(s, "runner."); err != nil {
				t.Fatal(err)
			}
			c.change(s)
			fresh, err := newRunner(cfg, env.NewFourRooms(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.load(s, "runner."); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
