package sfql

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"gonum.org/v1/gonum/mat"
)

// TestFitTaskNoisy checks the least-squares fit on fresh noisy samples: 400
// samples of four 0/1 features (each on with probability 0.3, as an
// object's indicator) and rewards φ·w + N(0, 0.1²). The least-squares
// estimate has covariance σ²(ΦᵀΦ)^{-1}; every element must be within 5
// of its standard deviations (about 0.01 here) of the true w, for five
// seeds.
func TestFitTaskNoisy(t *testing.T) {
	const n, d, sigma = 400, 4, 0.1
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 99))
		w := make([]float64, d)
		for i := range w {
			w[i] = 2*rng.Float64() - 1
		}
		phi := make([][]float64, n)
		r := make([]float64, n)
		gram := mat.NewSymDense(d, nil)
		for i := range phi {
			phi[i] = make([]float64, d)
			for j := range phi[i] {
				if rng.Float64() < 0.3 {
					phi[i][j] = 1
				}
				r[i] += phi[i][j] * w[j]
			}
			r[i] += sigma * rng.NormFloat64()
			gram.SymRankOne(gram, 1, mat.NewVecDense(d, phi[i]))
		}
		got, rank, err := FitTask(phi, r)
		if err != nil {
			t.Fatal(err)
		}
		if rank != d {
			t.Fatalf("seed %d: rank %d, want %d", seed, rank, d)
		}
		var cov mat.Dense
		if err := cov.Inverse(gram); err != nil {
			t.Fatal(err)
		}
		for j := range d {
			tol := 5 * sigma * math.Sqrt(cov.At(j, j))
			if math.Abs(got[j]-w[j]) > tol {
				t.Errorf("seed %d: w̃[%d] = %.4f, true %.4f, want within %.4f", seed, j, got[j], w[j], tol)
			}
		}
		// The incremental fit solves the same problem.
		fit := NewTaskFit(d)
		for i := range phi {
			fit.Add(phi[i], r[i])
		}
		fit.Add(make([]float64, d), 5) // φ = 0: no information, ignored
		for j, v := range fit.W() {
			if math.Abs(v-got[j]) > 1e-9 {
				t.Errorf("seed %d: TaskFit w[%d] = %.12f, FitTask %.12f", seed, j, v, got[j])
			}
		}
		if fit.Samples() > n {
			t.Errorf("seed %d: TaskFit counted %d samples, want at most %d (φ = 0 ignored)", seed, fit.Samples(), n)
		}
	}
}

// TestFitTaskExactAndDeficient checks recovery from noiseless samples
// within 1e-12, and the minimum-norm answer when a feature is never seen:
// its weight 0, the rank one short, the others exact.
func TestFitTaskExactAndDeficient(t *testing.T) {
	w := []float64{0.5, -0.25, 0.75, 1}
	phi := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 0, 1}, {0, 0, 1, 1}, {1, 0, 1, 0}}
	r := make([]float64, len(phi))
	for i, row := range phi {
		for j, v := range row {
			r[i] += v * w[j]
		}
	}
	got, rank, err := FitTask(phi, r)
	if err != nil || rank != 4 {
		t.Fatalf("rank %d, error %v", rank, err)
	}
	for j := range w {
		if math.Abs(got[j]-w[j]) > 1e-12 {
			t.Errorf("w̃[%d] = %.15f, want %g", j, got[j], w[j])
		}
	}
	// Feature 2 never on: its weight cannot be known.
	phi2 := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 0, 1}}
	r2 := []float64{0.5, -0.25, 1.25}
	got, rank, err = FitTask(phi2, r2)
	if err != nil || rank != 3 {
		t.Fatalf("deficient: rank %d, error %v; want rank 3", rank, err)
	}
	for j, want := range []float64{0.5, -0.25, 0, 1} {
		if math.Abs(got[j]-want) > 1e-12 {
			t.Errorf("deficient: w̃[%d] = %.15f, want %g", j, got[j], want)
		}
	}
	// All features 0: rank 0 and w = 0.
	if got, rank, _ := FitTask([][]float64{{0, 0}}, []float64{0}); rank != 0 || got[0] != 0 || got[1] != 0 {
		t.Errorf("all-zero features: w %v rank %d, want 0 and 0", got, rank)
	}
	if w := NewTaskFit(3).W(); w[0] != 0 || w[1] != 0 || w[2] != 0 {
		t.Errorf("TaskFit without samples: %v, want 0", w)
	}
}

func TestFitTaskErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		phi  [][]float64
		r    []float64
		want string
	}{
		{"empty", nil, nil, "at least one"},
		{"count", [][]float64{{1}}, []float64{1, 2}, "same number"},
		{"ragged", [][]float64{{1, 0}, {1}}, []float64{1, 2}, "row 1 has 1 values"},
		{"no features", [][]float64{{}}, []float64{1}, "empty"},
		{"nan feature", [][]float64{{math.NaN()}}, []float64{1}, "must be finite"},
		{"inf reward", [][]float64{{1}}, []float64{math.Inf(1)}, "must be finite"},
	} {
		if _, _, err := FitTask(tc.phi, tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// twoStep is the hand-built case of TestGPIBeatsEveryPolicy: from state 0,
// action 0 collects object 1 (φ = e₁) and action 1 nothing, both leading to
// state 1; from state 1, action 0 ends with nothing and action 1 ends
// collecting object 2 (φ = e₂).
func twoStep(s, a int) (phi []float64, next int, terminal bool) {
	switch {
	case s == 0 && a == 0:
		return []float64{1, 0}, 1, false
	case s == 0:
		return []float64{0, 0}, 1, false
	case a == 0:
		return []float64{0, 0}, 2, true
	default:
		return []float64{0, 1}, 2, true
	}
}

// TestGPIBeatsEveryPolicy is item 8's GPI check on a hand-built case
// (γ = 0.9). Policy 1 was learned for w₁ = (1, 0): it collects object 1
// and then stops (action 0, 0). Policy 2 was learned for w₂ = (0, 1): it
// skips object 1 and collects object 2 (action 1, 1); under w₂ its first
// action is a tie, broken towards skipping. Their successor features, by
// hand: ψ₁(0,·) = ((1, 0), (0, 0)), ψ₁(1,·) = ((0, 0), (0, 1));
// ψ₂(0,·) = ((1, 0.9), (0, 0.9)), ψ₂(1,·) = ((0, 0), (0, 1)). On the new
// task w = (1, 1), policy 1 is worth 1 and policy 2 0.9 from state 0;
// GPI takes action 0 there (on ψ₂: 1.9) and action 1 in state 1, and the
// policy it defines collects both objects: worth 1 + 0.9·1 = 1.9, more
// than either stored policy.
func TestGPIBeatsEveryPolicy(t *testing.T) {
	const gamma = 0.9
	psi1, psi2 := NewTable(2, 2), NewTable(2, 2)
	copy(psi1.writable(0), []float64{1, 0, 0, 0})
	copy(psi1.writable(1), []float64{0, 0, 0, 1})
	copy(psi2.writable(0), []float64{1, 0.9, 0, 0.9})
	copy(psi2.writable(1), []float64{0, 0, 0, 1})
	policies := []*Table{psi1, psi2}
	w := []float64{1, 1}

	a, j, v := GPI(policies, 0, w, nil)
	if a != 0 || j != 1 || math.Abs(v-1.9) > 1e-15 {
		t.Errorf("GPI in state 0: action %d from policy %d worth %g; want action 0 from policy 1 (ψ₂) worth 1.9", a, j, v)
	}
	if a, _, v := GPI(policies, 1, w, nil); a != 1 || v != 1 {
		t.Errorf("GPI in state 1: action %d worth %g; want 1 worth 1", a, v)
	}

	// Roll out each policy on the new task from state 0.
	value := func(act func(s int) int) float64 {
		s, ret, disc := 0, 0.0, 1.0
		for {
			phi, next, term := twoStep(s, act(s))
			ret += disc * (phi[0]*w[0] + phi[1]*w[1])
			if term {
				return ret
			}
			s, disc = next, disc*gamma
		}
	}
	gpi := value(func(s int) int { a, _, _ := GPI(policies, s, w, nil); return a })
	pi1 := value(func(int) int { return 0 })
	pi2 := value(func(int) int { return 1 })
	if math.Abs(gpi-1.9) > 1e-15 || pi1 != 1 || math.Abs(pi2-0.9) > 1e-15 {
		t.Fatalf("values on w = (1, 1): GPI %g, π₁ %g, π₂ %g; want 1.9, 1, 0.9", gpi, pi1, pi2)
	}
	// Each stored policy's successor features give its value (GPE).
	if q := dot(psi1.Row(0), 0, w); q != pi1 {
		t.Errorf("ψ₁(0, 0)·w = %g, π₁'s value %g", q, pi1)
	}
	if q := dot(psi2.Row(0), 1, w); math.Abs(q-pi2) > 1e-15 {
		t.Errorf("ψ₂(0, 1)·w = %g, π₂'s value %g", q, pi2)
	}
	// The same successor features, learned: SF updates sweeping the
	// pairs (last pairs first) under each policy's own next action.
	learned := []*Table{NewTable(2, 2), NewTable(2, 2)}
	ag := &sfAgent{cfg: Config{Gamma: gamma, Alpha: 1}, numActions: 2, d: 2}
	own := [][2]int{{0, 0}, {1, 1}} // each policy's action in states 0 and 1
	for p, psi := range learned {
		for _, s := range []int{1, 0} {
			for a := range 2 {
				phi, next, term := twoStep(s, a)
				nextAction := 0
				if !term {
					nextAction = own[p][next]
				}
				ag.update(psi, s, a, phi, next, nextAction, term)
			}
		}
	}
	for p, want := range policies {
		for s := range 2 {
			for i, v := range learned[p].Row(s) {
				if math.Abs(v-want.Row(s)[i]) > 1e-15 {
					t.Errorf("learned ψ%d(%d) = %v, by hand %v", p+1, s, learned[p].Row(s), want.Row(s))
					break
				}
			}
		}
	}
}

// TestUpdatesByHand checks one SF update with α = 0.5 and the transfer
// update of an earlier policy, and one Q-learning update.
func TestUpdatesByHand(t *testing.T) {
	cfg := Defaults()
	cfg.Epsilon, cfg.Gamma, cfg.KnownTask, cfg.CopyPrevious = 0, 0.9, true, false
	ag := newSFAgent(cfg, 2, 2, rand.New(rand.NewPCG(1, 1)))
	ag.newTask([]float64{0, 1})
	// Task 1: (1, 1) ends collecting e₂: ψ₁(1, 1) = 0.5·(0, 1).
	ag.c = 0
	ag.learn(1, 1, []float64{0, 1}, 1, 2, true)
	if row := ag.psis[0].Row(1); row[2] != 0 || row[3] != 0.5 {
		t.Fatalf("ψ₁(1, 1) = %v, want (0, 0.5)", row[2:4])
	}
	// Task 2, w = (1, 0): in state 1 every new-task value is 0 and ψ₁'s
	// too (w₁ = (0, 1) is not the current task: ψ₁(1,1)·(1,0) = 0), a
	// tie, so GPI reports the newest policy. In state 0 policy 1's ψ is 0
	// as well: force the transfer case by hand, c = 0.
	ag.newTask([]float64{1, 0})
	ag.c = 0
	// (0, 0) → 1 collecting e₁. Current policy (index 1): a' = GPI action
	// in state 1 for w = (1, 0): all values 0, first action 0;
	// ψ₂(0, 0) = 0.5·((1, 0) + 0.9·ψ₂(1, 0) = 0) = (0.5, 0). Policy 1,
	// updated with its own task w₁ = (0, 1): a'₁ = 1 (ψ₁(1,1)·w₁ = 0.5),
	// ψ₁(0, 0) = 0.5·((1, 0) + 0.9·(0, 0.5)) = (0.5, 0.225).
	ag.learn(0, 0, []float64{1, 0}, 1, 1, false)
	if row := ag.psis[1].Row(0); row[0] != 0.5 || row[1] != 0 {
		t.Errorf("ψ₂(0, 0) = %v, want (0.5, 0)", row[0:2])
	}
	if row := ag.psis[0].Row(0); row[0] != 0.5 || math.Abs(row[1]-0.225) > 1e-15 {
		t.Errorf("ψ₁(0, 0) = %v, want (0.5, 0.225)", row[0:2])
	}

	q := newQAgent(cfg, 2, 2, rand.New(rand.NewPCG(1, 1)))
	q.newTask(nil)
	q.learn(1, 0, nil, 2, 2, true)  // Q(1, 0) = 0.5·2 = 1
	q.learn(0, 1, nil, 1, 1, false) // Q(0, 1) = 0.5·(1 + 0.9·1) = 0.95
	if got := q.q.Row(0)[1]; got != 0.95 {
		t.Errorf("Q(0, 1) = %g, want 0.95", got)
	}
	q.newTask(nil) // restarted
	if got := q.q.Row(0)[1]; got != 0 {
		t.Errorf("Q(0, 1) after a new task = %g, want 0", got)
	}
}

// TestTrain runs both methods for three short tasks on FourRooms: the rows'
// schedule and task count, the methods' NaN columns, determinism, and the
// errors.
func TestTrain(t *testing.T) {
	run := algos.RunConfig{Env: "FourRooms-v0", Steps: 3000, Seed: 4, EvalEvery: 1000, EvalEpisodes: 2}
	for _, method := range []string{MethodSFQL, MethodQLearning} {
		cfg := Defaults()
		cfg.Method, cfg.TaskSteps = method, 1000
		a, b := &algos.Rows{}, &algos.Rows{}
		for _, r := range []*algos.Rows{a, b} {
			if err := Train(context.Background(), nil, run, cfg, r); err != nil {
				t.Fatal(err)
			}
		}
		if len(a.Rows) != 3 || a.Progressed != 3000 {
			t.Fatalf("%s: %d rows and %d Progress calls, want 3 and 3000", method, len(a.Rows), a.Progressed)
		}
		for i, row := range a.Rows {
			if got := row.Get("task"); got != float64(i+1) {
				t.Errorf("%s: row %d task %g, want %d", method, i, got, i+1)
			}
			we := row.Get("w_error")
			if (method == MethodSFQL) == math.IsNaN(we) {
				t.Errorf("%s: w_error %g", method, we)
			}
			for j, name := range Columns {
				x, y := row.Values[j], b.Rows[i].Values[j]
				if name != "wall_seconds" && x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
					t.Errorf("%s: row %d %s differs between two runs of a seed: %g, %g", method, i, name, x, y)
				}
			}
		}
	}
	ctx := context.Background()
	bad := Defaults()
	bad.Method = "dqn"
	for _, tc := range []struct {
		run  algos.RunConfig
		cfg  Config
		want string
	}{
		{algos.RunConfig{Env: "DynaMaze-v0", Steps: 10, EvalEvery: 5, EvalEpisodes: 1}, Defaults(), "no task features"},
		{run, bad, `method = "dqn"`},
		{algos.RunConfig{Env: "FourRooms-v0", Steps: 10, EvalEvery: 0, EvalEpisodes: 1}, Defaults(), "eval_every = 0"},
	} {
		if err := Train(ctx, nil, tc.run, tc.cfg, algos.Discard{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Train(cancelled, nil, run, Defaults(), algos.Discard{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := Preset("FourRooms-v0").Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Gamma = 1 }, "gamma = 1"},
		{func(c *Config) { c.Epsilon = 1.5 }, "epsilon = 1.5"},
		{func(c *Config) { c.Alpha = math.NaN() }, "alpha = NaN"},
		{func(c *Config) { c.TaskSteps = 0 }, "task_steps = 0"},
	} {
		c := Defaults()
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

// TestTransferSmoke is the fast check of item 8's result: 6 tasks of 5000
// steps on 4 seeds (100–103), against 20 of 20,000 on 30 in TestLong.
// SFQL's mean total reward must exceed Q-learning's. Measured on five
// disjoint sets of 4 seeds (0–19): SFQL ahead by 35 to 170 reward (totals
// 53 to 318 against 41 to 186).
func TestTransferSmoke(t *testing.T) {
	cfg := Defaults()
	cfg.TaskSteps = 5000
	res, err := RunTransfer(context.Background(), cfg, 6, 1000, []uint64{100, 101, 102, 103})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.Summary())
	sf, _ := algos.MeanStd(res.Total(0))
	q, _ := algos.MeanStd(res.Total(1))
	if sf <= q {
		t.Errorf("SFQL mean total reward %.1f, Q-learning %.1f: want SFQL ahead", sf, q)
	}
	if got := len(res.MeanCumulative(0)); got != 30 {
		t.Errorf("%d points of the cumulative curve, want 6·5000/1000 = 30", got)
	}
	if _, err := res.WritePNG(t.TempDir()); err != nil {
		t.Error(err)
	}
}

// TestLong runs the published comparison when IMAGO_LONG=1: 20 tasks of
// 20,000 steps on seeds 0–29 ([SF]'s 30 runs), a minute or so with
// GOMAXPROCS=1; it logs the summary and writes the picture into docs/img
// (IMAGO_PLOT_DIR overrides).
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the published SFQL comparison and write docs/img")
	}
	seeds := make([]uint64, 30)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	res, err := RunTransfer(context.Background(), Defaults(), 20, 1000, seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.Summary())
	dir := os.Getenv("IMAGO_PLOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "docs", "img")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := res.WritePNG(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
