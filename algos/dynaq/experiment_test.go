package dynaq

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/imago-rl/imago/env"
	"gonum.org/v1/gonum/mat"
)

// mazeOptimalQ returns Q* of maze m's current layout by value iteration
// (γ = 0.95) to convergence in float64.
func mazeOptimalQ(m *env.Maze, gamma float64) []float64 {
	n := m.NumStates()
	q := make([]float64, n*4)
	for range 5000 {
		delta := 0.0
		for s := range n {
			for a := range 4 {
				next, r, term := m.Transition(s, a)
				target := r
				if !term {
					target += gamma * slicesMax(q[next*4:next*4+4])
				}
				delta = math.Max(delta, math.Abs(target-q[s*4+a]))
				q[s*4+a] = target
			}
		}
		if delta == 0 {
			break
		}
	}
	return q
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = math.Max(m, x)
	}
	return m
}

// expectedSteps returns the expected number of steps from every state to
// the goal of maze m when each step takes action a with probability
// policy(s)[a]: the solution h of h(s) = 1 + Σ_a π(a|s)·h(next(s, a)),
// terminal transitions contributing nothing further.
func expectedSteps(t *testing.T, m *env.Maze, policy func(s int) [4]float64) *mat.VecDense {
	n := m.NumStates()
	A := mat.NewDense(n, n, nil)
	b := mat.NewVecDense(n, nil)
	for s := range n {
		A.Set(s, s, 1)
		b.SetVec(s, 1)
		p := policy(s)
		for a := range 4 {
			next, _, term := m.Transition(s, a)
			if !term {
				A.Set(s, next, A.At(s, next)-p[a])
			}
		}
	}
	var h mat.VecDense
	if err := h.SolveVec(A, b); err != nil {
		t.Fatal(err)
	}
	return &h
}

// TestEpsilonOptimalSteps recomputes DynaMazeEpsilonOptimalSteps: the
// expected episode length of the ε-greedy policy (ε = 0.1) on Q*, ties
// among optimal actions shared equally. It also checks that the greedy
// path is 14 steps (ε = 0).
func TestEpsilonOptimalSteps(t *testing.T) {
	m := env.NewDynaMaze()
	m.Reset(0)
	start := m.StateID()
	q := mazeOptimalQ(m, 0.95)
	epsGreedy := func(eps float64) func(int) [4]float64 {
		return func(s int) [4]float64 {
			best := slicesMax(q[s*4 : s*4+4])
			var ties float64
			for a := range 4 {
				if q[s*4+a] >= best-1e-12 {
					ties++
				}
			}
			var p [4]float64
			for a := range 4 {
				p[a] = eps / 4
				if q[s*4+a] >= best-1e-12 {
					p[a] += (1 - eps) / ties
				}
			}
			return p
		}
	}
	if got := expectedSteps(t, m, epsGreedy(0)).AtVec(start); math.Abs(got-14) > 1e-9 {
		t.Errorf("greedy path on Q*: %.6f steps, want 14", got)
	}
	got := expectedSteps(t, m, epsGreedy(0.1)).AtVec(start)
	if math.Abs(got-DynaMazeEpsilonOptimalSteps) > 1e-3 {
		t.Errorf("ε-greedy expected steps %.5f, DynaMazeEpsilonOptimalSteps = %.5f", got, DynaMazeEpsilonOptimalSteps)
	}
}

// TestFirstEpisodeIsARandomWalk checks the first episode of the Dyna maze
// against theory: with Q = 0 every action is a four-way tie or an ε-draw,
// so the agent walks uniformly at random, and the mean length over 400
// seeds must match the random walk's exact expected hitting time (868.7
// steps) within 4 standard errors of the sample. The first episode must
// also be the same for every n, seed by seed (NewAgent): checked on the
// first 40 seeds.
func TestFirstEpisodeIsARandomWalk(t *testing.T) {
	m := env.NewDynaMaze()
	m.Reset(0)
	want := expectedSteps(t, m, func(int) [4]float64 { return [4]float64{0.25, 0.25, 0.25, 0.25} }).AtVec(m.StateID())
	const seeds, sameSeeds = 400, 40
	var lengths [3][]float64
	for i, n := range []int{0, 5, 50} {
		cfg := Defaults()
		cfg.PlanningSteps = n
		count := uint64(seeds)
		if n > 0 {
			count = sameSeeds
		}
		for seed := range count {
			ag, err := NewAgent(cfg, m.NumStates(), 4, seed)
			if err != nil {
				t.Fatal(err)
			}
			steps, err := playEpisode(ag, env.NewDynaMaze())
			if err != nil {
				t.Fatal(err)
			}
			lengths[i] = append(lengths[i], float64(steps))
		}
	}
	for seed := range sameSeeds {
		if lengths[0][seed] != lengths[1][seed] || lengths[0][seed] != lengths[2][seed] {
			t.Fatalf("seed %d: first episode %v steps for n = 0, 5, 50; want the same", seed, [3]float64{lengths[0][seed], lengths[1][seed], lengths[2][seed]})
		}
	}
	mean, sd := meanOf(lengths[0]), 0.0
	for _, x := range lengths[0] {
		sd += (x - mean) * (x - mean)
	}
	se := math.Sqrt(sd/(seeds-1)) / math.Sqrt(seeds)
	if math.Abs(mean-want) > 4*se {
		t.Errorf("mean first episode %.1f steps over %d seeds, want the random walk's %.1f ± %.1f", mean, seeds, want, 4*se)
	}
	t.Logf("first episode: %.1f ± %.1f (s.e.) steps, random walk %.2f", mean, se, want)
}

// TestDynaMazePattern is the fast check of Figure 8.2's pattern. The full
// experiment, 30 seeds, takes a tenth of a second, so CI runs it as it is
// published. Bounds: on ten disjoint sets of 30 seeds (0–29, …, 270–299)
// the first episode of mean length ≤ 19.85 steps was 27 to 31 for n = 0,
// 6 or 7 for n = 5 and always 3 for n = 50 (the book: about 25, 5, 3);
// the bounds leave a few episodes either side.
func TestDynaMazePattern(t *testing.T) {
	res, err := RunDynaMaze(context.Background(), Defaults(), []int{0, 5, 50}, 50, Seeds(0, 30))
	if err != nil {
		t.Fatal(err)
	}
	reach := res.EpisodesToReach(NearOptimalFactor * DynaMazeEpsilonOptimalSteps)
	t.Logf("episodes to reach near-optimal: n = 0: %d, n = 5: %d, n = 50: %d", reach[0], reach[1], reach[2])
	if !(reach[0] >= 22 && reach[0] <= 36) || !(reach[1] >= 4 && reach[1] <= 8) || !(reach[2] >= 2 && reach[2] <= 4) {
		t.Errorf("episodes to reach near-optimal paths %v, want about 25, 5, 3 (bounds [22, 36], [4, 8], [2, 4])", reach)
	}
	// Every curve ends near the ε-greedy optimum: episodes 41–50 average
	// within 20% of 15.88 steps (measured: 17.1 to 17.6).
	for i, curve := range res.Steps {
		if late := meanOf(curve[40:]); late > 1.2*DynaMazeEpsilonOptimalSteps || late < DynaMazeEpsilonOptimalSteps-1 {
			t.Errorf("n = %d: episodes 41-50 average %.1f steps, want within 20%% above %.2f", res.PlanningSteps[i], late, DynaMazeEpsilonOptimalSteps)
		}
	}
}

// TestChangingMazes checks the ChangingMazes table against the
// environments: the shortest paths before and after the change (breadth
// first through Transition) and the step of the change.
func TestChangingMazes(t *testing.T) {
	for id, want := range ChangingMazes {
		e, err := env.Make(id)
		if err != nil {
			t.Fatal(err)
		}
		m := e.(*env.Maze)
		m.Reset(0)
		start := m.StateID()
		if got := shortestPath(m, start); got != want.PathBefore {
			t.Errorf("%s: shortest path before the change %d, table says %d", id, got, want.PathBefore)
		}
		// Step left until the step before the change: the agent walks to
		// the grid's left edge and stays there, never reaching the goal.
		for range want.SwitchAt - 1 {
			m.Step([]float64{3})
		}
		if got := shortestPath(m, start); got != want.PathBefore {
			t.Errorf("%s: layout changed before step %d", id, want.SwitchAt)
		}
		m.Step([]float64{3})
		if got := shortestPath(m, start); got != want.PathAfter {
			t.Errorf("%s: shortest path after step %d is %d, table says %d", id, want.SwitchAt, got, want.PathAfter)
		}
	}
}

// shortestPath is the length of a shortest path from s to the goal through
// m's Transition, breadth first; −1 if there is none.
func shortestPath(m *env.Maze, s int) int {
	dist := map[int]int{s: 0}
	queue := []int{s}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for a := range 4 {
			next, _, term := m.Transition(u, a)
			if term {
				return dist[u] + 1
			}
			if _, seen := dist[next]; !seen {
				dist[next] = dist[u] + 1
				queue = append(queue, next)
			}
		}
	}
	return -1
}

// TestChangingMazePattern is the fast check of Figures 8.4 and 8.5 on 10
// seeds (100–109, apart from the published 0–29). With 30 seeds the
// shortcut maze gave 30/30 Dyna-Q+ runs mostly on the shortcut in their
// last 1000 steps and 0/30 Dyna-Q runs, and the blocking maze 30/30 Dyna-Q+
// runs reaching the goal in the last 1000 steps; Dyna-Q+ ended ahead in
// cumulative reward by 47 and 83. Bounds on 10 seeds: Dyna-Q+ at least
// 8/10 on the shortcut and reaching the goal, Dyna-Q at most 1/10 on the
// shortcut, and Dyna-Q+ ahead at the end on both mazes.
func TestChangingMazePattern(t *testing.T) {
	seeds := Seeds(100, 10)
	count := func(xs []bool) int {
		n := 0
		for _, x := range xs {
			if x {
				n++
			}
		}
		return n
	}
	shortcut, err := RunChangingMaze(context.Background(), "ShortcutMaze-v0", Preset("ShortcutMaze-v0"), 0, seeds)
	if err != nil {
		t.Fatal(err)
	}
	mz := shortcut.Maze
	q, qPlus := count(shortcut.UsesNewPath(0, 1000, mz.PathBefore-1)), count(shortcut.UsesNewPath(1, 1000, mz.PathBefore-1))
	t.Logf("shortcut maze: runs mostly on the shortcut at the end: Dyna-Q %d/10, Dyna-Q+ %d/10", q, qPlus)
	if q > 1 || qPlus < 8 {
		t.Errorf("shortcut maze: %d/10 Dyna-Q and %d/10 Dyna-Q+ runs take the shortcut at the end; want at most 1 and at least 8", q, qPlus)
	}
	if a, b := shortcut.MeanRewards(0), shortcut.MeanRewards(1); b[len(b)-1] <= a[len(a)-1] {
		t.Errorf("shortcut maze: Dyna-Q+ cumulative reward %.1f not above Dyna-Q's %.1f", b[len(b)-1], a[len(a)-1])
	}

	blocking, err := RunChangingMaze(context.Background(), "BlockingMaze-v0", Preset("BlockingMaze-v0"), 0, seeds)
	if err != nil {
		t.Fatal(err)
	}
	mz = blocking.Maze
	reached := 0
	for _, r := range blocking.RewardBetween(1, mz.Steps-1000, mz.Steps) {
		if r > 0 {
			reached++
		}
	}
	if reached < 8 {
		t.Errorf("blocking maze: %d/10 Dyna-Q+ runs reach the goal in the last 1000 steps, want at least 8", reached)
	}
	if a, b := blocking.MeanRewards(0), blocking.MeanRewards(1); b[len(b)-1] <= a[len(a)-1] {
		t.Errorf("blocking maze: Dyna-Q+ cumulative reward %.1f not above Dyna-Q's %.1f", b[len(b)-1], a[len(a)-1])
	}
}

func TestExperimentErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := RunDynaMaze(ctx, Defaults(), nil, 50, Seeds(0, 1)); err == nil {
		t.Error("RunDynaMaze without planning settings: no error")
	}
	if _, err := RunDynaMaze(ctx, Defaults(), []int{-1}, 50, Seeds(0, 1)); err == nil {
		t.Error("RunDynaMaze with n = −1: no error")
	}
	if _, err := RunChangingMaze(ctx, "DynaMaze-v0", Defaults(), 0, Seeds(0, 1)); err == nil {
		t.Error("RunChangingMaze on the Dyna maze: no error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := RunBook(cancelled, Seeds(0, 1)); err != context.Canceled {
		t.Errorf("RunBook cancelled: error %v, want context.Canceled", err)
	}
}

// TestWritePNGs draws the three figures from a small run into a temporary
// directory and checks the files are PNGs.
func TestWritePNGs(t *testing.T) {
	res, err := RunBook(context.Background(), Seeds(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := res.WritePNGs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v, want three files", paths)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Errorf("%s is not a PNG", p)
		}
	}
}

// TestLong writes the published figures when IMAGO_LONG=1: the three
// experiments on seeds 0–29, their summary in the log and their pictures
// in docs/img (IMAGO_PLOT_DIR overrides). It checks nothing the fast tests
// do not.
func TestLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the published experiments and write docs/img")
	}
	res, err := RunBook(context.Background(), Seeds(0, 30))
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
	paths, err := res.WritePNGs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %v", paths)
}
