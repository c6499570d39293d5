package env

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The package's -update flag rewrites golden files; whichever test file's
// init runs first registers it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

// freeInLayout reads the layout's map, not the environment, to say whether
// (x, y) is on the map and in a free cell, a point on a far edge counting in
// the last cell.
func freeInLayout(layout string, x, y float64) bool {
	rows := pointMazeLayouts[layout]
	h, w := float64(len(rows)), float64(len(rows[0]))
	if x < 0 || x > h || y < 0 || y > w {
		return false
	}
	i, j := min(int(x), len(rows)-1), min(int(y), len(rows[0])-1)
	return rows[i][j] == '.'
}

func newPointMaze(t *testing.T, layout string) *PointMaze {
	t.Helper()
	p, err := NewPointMaze(layout)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPointMazeStaysFree takes random actions, many outside the action box,
// on every layout and checks that the point is always in free space and
// moves at most the clipped action's 1 per axis per step.
func TestPointMazeStaysFree(t *testing.T) {
	for _, layout := range PointMazeLayouts() {
		p := newPointMaze(t, layout)
		space := p.ObservationSpace()
		rng := rand.New(rand.NewPCG(7, 8))
		for ep := range 40 {
			obs := p.Reset(int64(ep))
			for {
				a := []float64{rng.Float64()*4 - 2, rng.Float64()*4 - 2}
				next, r, term, trunc := p.Step(a)
				if !freeInLayout(layout, next[0], next[1]) {
					t.Fatalf("%s: point %v is in a wall or off the map", layout, next[:2])
				}
				for i := range next {
					if next[i] < space.Low[i] || next[i] > space.High[i] {
						t.Fatalf("%s: observation %v outside %v", layout, next, space)
					}
				}
				// 10 sub-steps of at most 0.1, with float rounding.
				const tol = 1e-12
				if math.Abs(next[0]-obs[0]) > 1+tol || math.Abs(next[1]-obs[1]) > 1+tol {
					t.Fatalf("%s: moved from %v to %v in one step", layout, obs[:2], next[:2])
				}
				if term || (r != 0 && r != 1) || !slices.Equal(next[2:], obs[2:]) {
					t.Fatalf("%s: reward %v terminated %v, goal %v then %v", layout, r, term, obs[2:], next[2:])
				}
				obs = next
				if trunc {
					break
				}
			}
		}
	}
}

func TestPointMazeSlidesAlongWalls(t *testing.T) {
	// U: column 1 is a wall on rows 1–7, and (4, 0) is a wall.
	p := newPointMaze(t, "U")
	p.ActionNoise = 0
	p.Reset(0)
	p.SetState([]float64{2.5, 0.5})
	obs, _, _, _ := p.Step([]float64{0, 1})
	if obs[0] != 2.5 || obs[1] >= 1 || obs[1] < 0.9-1e-12 {
		t.Errorf("right into the wall from (2.5, 0.5) to %v, want (2.5, 0.9)", obs[:2])
	}
	// Diagonally: the row moves on, the column stays blocked.
	obs, _, _, _ = p.Step([]float64{1, 1})
	if math.Abs(obs[0]-3.5) > 1e-12 || obs[1] >= 1 {
		t.Errorf("down-right along the wall to %v, want (3.5, 0.9)", obs[:2])
	}
	// Down into the wall cell (4, 0).
	obs, _, _, _ = p.Step([]float64{1, 0})
	if obs[0] >= 4 || obs[0] < 3.9-1e-12 {
		t.Errorf("down into the wall at row 4 to %v, want row 3.9", obs[:2])
	}
	// Off the map: the point stops within [0, 0.1) of the edge.
	p.SetState([]float64{0.5, 0.5})
	obs, _, _, _ = p.Step([]float64{-1, -1})
	if obs[0] < 0 || obs[0] >= 0.1 || obs[1] < 0 || obs[1] >= 0.1 {
		t.Errorf("up-left to the corner to %v", obs[:2])
	}
	// Actions beyond the box are clipped to it.
	q := newPointMaze(t, "U")
	q.ActionNoise = 0
	q.Reset(0)
	q.SetState([]float64{0.5, 0.5})
	p.SetState([]float64{0.5, 0.5})
	a, _, _, _ := p.Step([]float64{1, 0})
	b, _, _, _ := q.Step([]float64{5, 0})
	if !slices.Equal(a, b) {
		t.Errorf("action (5, 0) went to %v, (1, 0) to %v", b[:2], a[:2])
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("SetState into a wall did not panic")
			}
		}()
		p.SetState([]float64{4.5, 0.5})
	}()
}

func TestPointMazeGoalsInFreeSpace(t *testing.T) {
	for _, layout := range PointMazeLayouts() {
		p := newPointMaze(t, layout)
		gs := p.GoalSpace()
		cells := map[[2]int]bool{}
		for seed := range int64(2000) {
			obs := p.Reset(seed)
			g, s := p.Goal(), p.State()
			if !freeInLayout(layout, g[0], g[1]) || !freeInLayout(layout, s[0], s[1]) {
				t.Fatalf("%s seed %d: goal %v or start %v not free", layout, seed, g, s)
			}
			if g[0] < gs.Low[0] || g[0] > gs.High[0] || g[1] < gs.Low[1] || g[1] > gs.High[1] {
				t.Fatalf("%s: goal %v outside %v", layout, g, gs)
			}
			if !slices.Equal(obs, []float64{s[0], s[1], g[0], g[1]}) {
				t.Fatalf("%s: observation %v, want state %v ⊕ goal %v", layout, obs, s, g)
			}
			cells[[2]int{int(g[0]), int(g[1])}] = true
		}
		// 2000 draws from at most 121 cells reach every free cell.
		if len(cells) != len(p.free) {
			t.Errorf("%s: goals fell in %d cells of %d free", layout, len(cells), len(p.free))
		}
	}
}

func TestPointMazeSuccessRadius(t *testing.T) {
	p := newPointMaze(t, "FourRooms")
	p.ActionNoise = 0
	p.Reset(3)
	p.SetState([]float64{2.5, 2.5})
	for _, tc := range []struct {
		d       float64
		success bool
	}{{0, true}, {1.999, true}, {2, false}, {2.001, false}, {5, false}} {
		g := []float64{2.5, 2.5 + tc.d}
		obs := p.SetGoal(g)
		if !slices.Equal(obs, []float64{2.5, 2.5, g[0], g[1]}) || !slices.Equal(p.Goal(), g) {
			t.Fatalf("SetGoal(%v) observation %v, Goal %v", g, obs, p.Goal())
		}
		if p.Success() != tc.success || math.Abs(p.Distance()-tc.d) > 1e-12 {
			t.Errorf("distance %v: Success %v, Distance %v", tc.d, p.Success(), p.Distance())
		}
		// A zero action leaves the point in place, so the step's reward is
		// the same test; reaching the goal does not end the episode.
		next, r, term, _ := p.Step([]float64{0, 0})
		want := 0.0
		if tc.success {
			want = 1
		}
		if r != want || term || p.GoalReward(next[0:2], next[2:4]) != want {
			t.Errorf("distance %v: reward %v, terminated %v", tc.d, r, term)
		}
	}
	// The radius is a setting.
	p.GoalRadius = 0.5
	p.SetGoal([]float64{2.5, 3.1})
	if p.Success() {
		t.Error("success at 0.6 with radius 0.5")
	}
}

func TestPointMazeDeterminism(t *testing.T) {
	run := func(seed int64) [][]float64 {
		p := newPointMaze(t, "FourRooms")
		rng := rand.New(rand.NewPCG(9, 10))
		out := [][]float64{p.Reset(seed)}
		for {
			obs, r, _, trunc := p.Step([]float64{rng.Float64()*2 - 1, rng.Float64()*2 - 1})
			out = append(out, append(obs, r))
			if trunc {
				return out
			}
		}
	}
	a, b, c := run(42), run(42), run(43)
	if len(a) != 51 {
		t.Fatalf("episode of %d observations, want 51 (50 steps)", len(a))
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("step %d: %v and %v from the same seed", i, a[i], b[i])
		}
	}
	if slices.Equal(a[0], c[0]) {
		t.Error("seeds 42 and 43 gave the same first observation")
	}
	// The noise is drawn from the seeded generator: the same actions with
	// and without it differ.
	p := newPointMaze(t, "Open")
	q := newPointMaze(t, "Open")
	q.ActionNoise = 0
	p.Reset(1)
	q.Reset(1)
	x, _, _, _ := p.Step([]float64{0.3, 0.3})
	y, _, _, _ := q.Step([]float64{0.3, 0.3})
	if slices.Equal(x, y) {
		t.Error("action noise had no effect")
	}
}

func TestPointMazeModelAndSlices(t *testing.T) {
	p := newPointMaze(t, "U")
	if s, e := p.AchievedSlice(); s != 0 || e != 2 {
		t.Errorf("AchievedSlice [%d, %d)", s, e)
	}
	if s, e := p.GoalSlice(); s != 2 || e != 4 {
		t.Errorf("GoalSlice [%d, %d)", s, e)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var obsB, actB, nextB, rewB []float64
	successes := 0
	for ep := range 20 {
		obs := p.Reset(int64(ep))
		for {
			a := []float64{rng.Float64()*2 - 1, rng.Float64()*2 - 1}
			next, r, _, trunc := p.Step(a)
			if !slices.Equal(next[0:2], p.State()) || !slices.Equal(next[2:4], p.Goal()) {
				t.Fatalf("observation %v, state %v, goal %v", next, p.State(), p.Goal())
			}
			if (r == 1) != p.Success() || math.Abs(p.Distance()-math.Hypot(next[0]-next[2], next[1]-next[3])) > 1e-12 {
				t.Fatalf("reward %v, Success %v, Distance %v for %v", r, p.Success(), p.Distance(), next)
			}
			if r == 1 {
				successes++
			}
			obsB, actB, nextB, rewB = append(obsB, obs...), append(actB, a...), append(nextB, next...), append(rewB, r)
			obs = next
			if trunc {
				break
			}
		}
	}
	if successes == 0 {
		t.Fatal("no step reached a goal; the check saw only zero rewards")
	}
	n := len(rewB)
	got, term := make([]float64, n), make([]bool, n)
	p.RewardBatch(obsB, actB, nextB, n, got)
	p.TerminatedBatch(nextB, n, term)
	for i := range n {
		if got[i] != rewB[i] || term[i] {
			t.Fatalf("transition %d: batch reward %v terminated %v, Step gave %v", i, got[i], term[i], rewB[i])
		}
	}
}

func TestPointMazeErrors(t *testing.T) {
	if _, err := NewPointMaze("Nowhere"); err == nil {
		t.Error("NewPointMaze(Nowhere) gave no error")
	}
	p := newPointMaze(t, "Open")
	panicsWithStepError(t, "Step before Reset", func() { p.Step([]float64{0, 0}) })
	p.Reset(0)
	for _, a := range [][]float64{{}, {0}, {0, 0, 0}, {math.NaN(), 0}, {0, math.Inf(1)}, {math.Inf(-1), 0}} {
		panicsWithStepError(t, fmt.Sprintf("action %v", a), func() { p.Step(a) })
	}
	for _, g := range [][]float64{{1}, {1, math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetGoal(%v) did not panic", g)
				}
			}()
			p.SetGoal(g)
		}()
	}
	for range 50 {
		p.Step([]float64{0, 0})
	}
	panicsWithStepError(t, "Step after truncation", func() { p.Step([]float64{0, 0}) })
}

// pointMazeGoldenStep is one step of a recorded rollout.
type pointMazeGoldenStep struct {
	Action    []float64 `json:"action"`
	Obs       []float64 `json:"obs"`
	Reward    float64   `json:"reward"`
	Truncated bool      `json:"truncated"`
}

// TestPointMazeGolden compares a seeded rollout on every layout with
// testdata/pointmaze_seeded.json; go test ./env -run PointMazeGolden -update
// rewrites it. It catches a change in the draws of Reset and of the action
// noise as well as in the dynamics.
func TestPointMazeGolden(t *testing.T) {
	const seed, steps = 7, 30
	// Observations are sums of a few hundred float64 operations; a compiler
	// that fuses multiply-adds (arm64) may differ in the last bits.
	const tol = 1e-9
	got := map[string][]pointMazeGoldenStep{}
	for _, layout := range PointMazeLayouts() {
		p := newPointMaze(t, layout)
		eps := []pointMazeGoldenStep{{Obs: p.Reset(seed)}}
		for k := range steps {
			a := []float64{math.Cos(0.3 * float64(k)), math.Sin(0.7 * float64(k))}
			obs, r, _, trunc := p.Step(a)
			eps = append(eps, pointMazeGoldenStep{a, obs, r, trunc})
		}
		got[layout] = eps
	}
	path := filepath.Join("testdata", "pointmaze_seeded.json")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		// One step to a line, for diffs.
		comma := func(last bool) string {
			if last {
				return ""
			}
			return ","
		}
		var b []byte
		b = append(b, "{\n"...)
		for i, layout := range PointMazeLayouts() {
			b = fmt.Appendf(b, "%q: [\n", layout)
			for k, s := range got[layout] {
				line, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				b = fmt.Appendf(b, "  %s%s\n", line, comma(k == len(got[layout])-1))
			}
			b = fmt.Appendf(b, "]%s\n", comma(i == len(got)-1))
		}
		if err := os.WriteFile(path, append(b, "}\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]pointMazeGoldenStep
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	near := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) <= tol })
	}
	for _, layout := range PointMazeLayouts() {
		g, w := got[layout], want[layout]
		if len(g) != len(w) {
			t.Errorf("%s: %d records, want %d", layout, len(g), len(w))
			continue
		}
		for k := range g {
			if !near(g[k].Action, w[k].Action) || !near(g[k].Obs, w[k].Obs) || g[k].Reward != w[k].Reward || g[k].Truncated != w[k].Truncated {
				t.Errorf("%s: record %d:\n got %+v\nwant %+v", layout, k, g[k], w[k])
				break
			}
		}
	}
}
