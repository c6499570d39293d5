package mbpo

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine/cpu"
)

// tiny is a configuration small enough for CI: small networks, 40 initial
// steps, a model training and rollout every 20 steps with epochs of 40
// steps, rollouts of length 1 growing to 3 (so that the model buffer is
// resized), and at most 3 model epochs per training.
func tiny() Config {
	c := Defaults()
	c.InitialSteps = 40
	c.EpochLength = 40
	c.ModelTrainFreq = 20
	c.UpdatesPerStep = 2
	c.RolloutBatchSize = 64
	c.RolloutSchedule = []int{0, 2, 1, 3}
	c.Members, c.Elites = 3, 2
	c.ModelHidden = []int{16, 16}
	c.ModelWeightDecay = []float64{2.5e-5, 5e-5, 1e-4}
	c.ModelBatchSize = 16
	c.ModelMaxEpochs = 3
	c.SAC.Hidden = []int{16, 16}
	c.SAC.BatchSize = 32
	return c
}

// TestSmoke runs the whole loop for a tiny budget on an environment that
// never terminates and on one that does, and checks the rows' shape and
// that the model columns are filled once the model trains.
func TestSmoke(t *testing.T) {
	for _, id := range []string{"Pendulum-v1", "ContinuousCartPole-v0"} {
		t.Run(id, func(t *testing.T) {
			run := algos.RunConfig{Env: id, Steps: 150, Seed: 1, EvalEvery: 50, EvalEpisodes: 1}
			r := &algos.Rows{}
			if err := Train(context.Background(), cpu.New(), run, tiny(), r); err != nil {
				t.Fatal(err)
			}
			if got := steps(r.Rows); !slices.Equal(got, []int{50, 100, 150}) {
				t.Fatalf("rows at steps %v, want 50, 100, 150", got)
			}
			if r.Progressed != run.Steps || r.Last != run.Steps {
				t.Errorf("Progress called %d times, last with %d; want %d, %d", r.Progressed, r.Last, run.Steps, run.Steps)
			}
			for _, row := range r.Rows {
				if !slices.Equal(row.Names, Columns) || len(row.Values) != len(Columns) {
					t.Fatalf("row names %v with %d values, want %v", row.Names, len(row.Values), Columns)
				}
				for _, name := range []string{"eval_return", "q_loss", "actor_loss", "alpha", "entropy", "model_holdout_mse", "model_nll", "model_epochs"} {
					if v := row.Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
						t.Errorf("step %d: %s = %v", row.EnvSteps, name, v)
					}
				}
				t.Logf("step %d: %s", row.EnvSteps, formatRow(row))
			}
			// Trainings at steps 41, 61 (epoch 0), 81, 101 (epoch 1), 121,
			// 141 (epoch 2): lengths 1, 2, 3 and capacities 64·L·2.
			last := r.Rows[2]
			if l := last.Get("rollout_length"); l != 3 {
				t.Errorf("rollout length %v at step 150, want 3", l)
			}
			if n := last.Get("model_buffer_size"); n <= 0 || n > 64*3*2 {
				t.Errorf("model buffer holds %v transitions at step 150, want 1 to %d", n, 64*3*2)
			}
		})
	}
}

func steps(rs []algos.Row) []int {
	var s []int
	for _, r := range rs {
		s = append(s, r.EnvSteps)
	}
	return s
}

func formatRow(row algos.Row) string {
	var b strings.Builder
	for i, n := range row.Names {
		fmt.Fprintf(&b, "%s=%.4g ", n, row.Values[i])
	}
	return b.String()
}

// TestDeterministic checks that two runs of one seed report the same rows
// bit for bit but for the time columns, and that another seed differs.
func TestDeterministic(t *testing.T) {
	train := func(seed int64) *algos.Rows {
		r := &algos.Rows{}
		run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 120, Seed: seed, EvalEvery: 60, EvalEpisodes: 2}
		if err := Train(context.Background(), cpu.New(), run, tiny(), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := train(3), train(3), train(4)
	for i := range a.Rows {
		for j, name := range Columns {
			if slices.Contains(TimeColumns, name) {
				continue
			}
			x, y := a.Rows[i].Values[j], b.Rows[i].Values[j]
			if math.Float64bits(x) != math.Float64bits(y) {
				t.Errorf("row %d %s: %v and %v in two runs of one seed", i, name, x, y)
			}
		}
	}
	if a.Rows[1].Get("q_loss") == c.Rows[1].Get("q_loss") && a.Rows[1].Get("model_holdout_mse") == c.Rows[1].Get("model_holdout_mse") {
		t.Errorf("seeds 3 and 4 report the same row %v", a.Rows[1].Values)
	}
}

func TestScheduleLength(t *testing.T) {
	for _, tc := range []struct {
		s     []int
		epoch int
		want  int
	}{
		{[]int{20, 100, 1, 1}, 0, 1},
		{[]int{20, 100, 1, 1}, 500, 1},
		// jannerm Hopper: [20, 150, 1, 15].
		{[]int{20, 150, 1, 15}, 0, 1},
		{[]int{20, 150, 1, 15}, 20, 1},
		{[]int{20, 150, 1, 15}, 21, 1},   // 1 + 14/130 → 1
		{[]int{20, 150, 1, 15}, 30, 2},   // 1 + 140/130 → 2
		{[]int{20, 150, 1, 15}, 85, 8},   // 1 + 14·65/130 = 8
		{[]int{20, 150, 1, 15}, 149, 14}, // 1 + 14·129/130 = 14.89 → 14
		{[]int{20, 150, 1, 15}, 150, 15},
		{[]int{20, 150, 1, 15}, 1000, 15},
		{[]int{0, 2, 1, 3}, 1, 2},
		// A decreasing schedule.
		{[]int{0, 10, 10, 1}, 5, 5}, // 10 − 4.5 = 5.5 → 5
	} {
		s, err := ParseSchedule(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Length(tc.epoch); got != tc.want {
			t.Errorf("schedule %v at epoch %d: length %d, want %d", tc.s, tc.epoch, got, tc.want)
		}
	}
	for _, bad := range [][]int{{1, 2, 3}, {5, 5, 1, 1}, {-1, 5, 1, 1}, {0, 5, 0, 1}} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%v) accepted", bad)
		}
	}
}

func TestModelBufferCapacity(t *testing.T) {
	for _, tc := range []struct {
		batch, length, epoch, freq, retain int
		want                               int
	}{
		{100_000, 1, 1000, 250, 1, 400_000},    // jannerm defaults
		{100_000, 15, 1000, 250, 1, 6_000_000}, // Hopper at its longest
		{100_000, 1, 1000, 250, 20, 8_000_000}, // the constructor's retention
		{100_000, 1, 250, 250, 1, 100_000},     // the ContinuousCartPole preset
		{64, 3, 40, 20, 1, 384},
	} {
		if got := ModelBufferCapacity(tc.batch, tc.length, tc.epoch, tc.freq, tc.retain); got != tc.want {
			t.Errorf("ModelBufferCapacity(%d, %d, %d, %d, %d) = %d, want %d", tc.batch, tc.length, tc.epoch, tc.freq, tc.retain, got, tc.want)
		}
	}
}

// TestModelBufferResize checks that a resize keeps the newest transitions
// in order, oldest first, whether the old ring had wrapped or not.
func TestModelBufferResize(t *testing.T) {
	eng := cpu.New()
	m := NewModelBuffer(eng, 1, 1)
	defer m.Free()
	add := func(from, n int) {
		var tr replay.Transitions
		for i := from; i < from+n; i++ {
			v := float32(i)
			tr.Obs, tr.Act, tr.Reward = append(tr.Obs, v), append(tr.Act, v), append(tr.Reward, v)
			tr.NextObs, tr.Terminated = append(tr.NextObs, v), append(tr.Terminated, 0)
		}
		m.Buffer.Add(tr)
		m.Added(n)
	}
	// contents returns the rewards oldest first: a full ring's oldest row
	// is at the count of rows added modulo the capacity.
	contents := func() []float32 {
		r := make([]float32, m.Len())
		eng.Download(r, m.Buffer.Reward.View(0, m.Len(), 1))
		if m.Len() == m.Buffer.Cap() {
			k := m.added % m.Len()
			r = append(r[k:], r[:k]...)
		}
		return r
	}
	m.Resize(4)
	add(0, 6) // ring [4 5 2 3], oldest 2
	m.Resize(6)
	if got, want := contents(), []float32{2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("after growing a wrapped ring: %v, want %v", got, want)
	}
	add(6, 1)
	m.Resize(6) // no change
	if got, want := contents(), []float32{2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("after adding: %v, want %v", got, want)
	}
	m.Resize(3) // shrinking keeps the newest
	if got, want := contents(), []float32{4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("after shrinking: %v, want %v", got, want)
	}
	if m.Buffer.Cap() != 3 {
		t.Fatalf("capacity %d, want 3", m.Buffer.Cap())
	}
	add(7, 1) // overwrites 4, the oldest
	m.Resize(5)
	if got, want := contents(), []float32{5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("after a wrap and a resize: %v, want %v", got, want)
	}
}

func TestPresetsValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults: %v", err)
	}
	for id := range presets {
		if err := Preset(id).Validate(); err != nil {
			t.Errorf("Preset(%q): %v", id, err)
		}
	}
	if Preset("no-such-env").UpdatesPerStep != Defaults().UpdatesPerStep {
		t.Error("an environment without a preset does not get Defaults")
	}
	bad := []struct {
		key string
		mod func(c *Config)
	}{
		{"elites", func(c *Config) { c.Elites = 8 }},
		{"epoch_length", func(c *Config) { c.EpochLength = 300 }},
		{"real_ratio", func(c *Config) { c.RealRatio = 1.5 }},
		{"rollout_schedule", func(c *Config) { c.RolloutSchedule = []int{1, 2} }},
		{"model_weight_decay", func(c *Config) { c.ModelHidden = []int{200, 200} }},
		{"holdout_ratio", func(c *Config) { c.HoldoutRatio = 0 }},
		{"sac.batch_size", func(c *Config) { c.SAC.BatchSize = 0 }},
	}
	for _, b := range bad {
		c := Defaults()
		b.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), b.key+" = ") {
			t.Errorf("%s: Validate() = %v, want an error naming %s", b.key, err, b.key)
		}
	}
}

// TestBadEnvironment checks that MBPO refuses a discrete action space.
func TestBadEnvironment(t *testing.T) {
	run := algos.RunConfig{Env: "CartPole-v1", Steps: 10, Seed: 0, EvalEvery: 10, EvalEpisodes: 1}
	err := Train(context.Background(), cpu.New(), run, tiny(), algos.Discard{})
	if err == nil || !strings.Contains(err.Error(), "discrete") {
		t.Errorf("Train on CartPole-v1: %v, want an error about its discrete actions", err)
	}
}

// TestLong runs the measurements of docs/RESULTS.md when IMAGO_LONG=1: the
// presets of Pendulum-v1 for 5000 steps and of ContinuousCartPole-v0 for
// 3000 steps, on seeds 0, 1 and 2 (IMAGO_LONG_ENV and IMAGO_LONG_SEED pick
// one environment and one seed, IMAGO_LONG_STEPS overrides the steps),
// evaluating 10 episodes every 1000 steps. It logs every row and a RESULT
// line per run; it checks nothing. Build with -tags openblas for speed.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	for _, tc := range []struct {
		env   string
		steps int
	}{{"Pendulum-v1", 5000}, {"ContinuousCartPole-v0", 3000}} {
		if e := os.Getenv("IMAGO_LONG_ENV"); e != "" && e != tc.env {
			continue
		}
		if s := os.Getenv("IMAGO_LONG_STEPS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			tc.steps = n
		}
		for _, seed := range []int64{0, 1, 2} {
			if s := os.Getenv("IMAGO_LONG_SEED"); s != "" && s != fmt.Sprint(seed) {
				continue
			}
			start := time.Now()
			run := algos.RunConfig{Env: tc.env, Steps: tc.steps, Seed: seed, EvalEvery: 1000, EvalEpisodes: 10}
			r := &logRows{t: t, prefix: fmt.Sprintf("%s seed %d", tc.env, seed)}
			if err := Train(context.Background(), cpu.New(), run, Preset(tc.env), r); err != nil {
				t.Fatal(err)
			}
			last := r.Rows.Rows[len(r.Rows.Rows)-1]
			t.Logf("RESULT %s seed %d: final eval return %.1f ± %.1f after %d steps, %.0f s",
				tc.env, seed, last.Get("eval_return"), last.Get("eval_return_std"), tc.steps, time.Since(start).Seconds())
		}
	}
}

// logRows logs every row as it comes, so that a long run shows progress.
type logRows struct {
	algos.Rows
	t      *testing.T
	prefix string
}

func (r *logRows) Record(row algos.Row) error {
	r.t.Logf("%s step %5d: eval %8.1f ± %6.1f  train %8.1f  q_loss %8.3f  alpha %.4f  entropy %6.2f  model mse %.5f nll %7.3f epochs %3.0f  len %.0f  buf %7.0f  model %5.0fs rollout %5.0fs sac %6.0fs wall %6.0fs",
		r.prefix, row.EnvSteps, row.Get("eval_return"), row.Get("eval_return_std"), row.Get("train_return"),
		row.Get("q_loss"), row.Get("alpha"), row.Get("entropy"), row.Get("model_holdout_mse"), row.Get("model_nll"),
		row.Get("model_epochs"), row.Get("rollout_length"), row.Get("model_buffer_size"),
		row.Get("model_seconds"), row.Get("rollout_seconds"), row.Get("sac_seconds"), row.Get("wall_seconds"))
	return r.Rows.Record(row)
}
