package env

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFourRoomsLayout(t *testing.T) {
	f := NewFourRooms()
	g := f.grid
	if g.rows != 13 || g.cols != 13 {
		t.Fatalf("grid %d×%d, want 13×13", g.rows, g.cols)
	}
	free := 0
	for i, w := range f.walls {
		r, c := i/13, i%13
		if (r == 0 || r == 12 || c == 0 || c == 12) && !w {
			t.Errorf("border cell (%d,%d) is not a wall", r, c)
		}
		if !w {
			free++
		}
	}
	// Sutton, Precup and Singh (1999) Figure 2: 104 cells, hallways at
	// (3,6), (6,2), (7,9) and (10,6).
	if free != 104 {
		t.Errorf("%d free cells, want 104", free)
	}
	for _, h := range [][2]int{{3, 6}, {6, 2}, {7, 9}, {10, 6}} {
		if f.walls[h[0]*13+h[1]] {
			t.Errorf("hallway (%d,%d) is a wall", h[0], h[1])
		}
		if _, ok := f.class[h[0]*13+h[1]]; !ok {
			t.Errorf("hallway (%d,%d) holds no object", h[0], h[1])
		}
	}
	perClass := make([]int, FourRoomsClasses)
	for _, c := range f.class {
		perClass[c]++
	}
	if len(f.objects) != 12 || !slices.Equal(perClass, []int{4, 4, 4}) {
		t.Errorf("%d objects, %v per class, want 12, 4 of each", len(f.objects), perClass)
	}
	// Every free cell is reachable from the start.
	seen := map[int]bool{f.start: true}
	queue := []int{f.start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for a := range 4 {
			if n := g.step(f.walls, s, a); !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	if len(seen) != 104 {
		t.Errorf("%d cells reachable from the start, want 104", len(seen))
	}
}

// fourRoomsPath returns the moves of a shortest path between two cells,
// searched over the layout alone.
func fourRoomsPath(f *FourRooms, from, to int) []int {
	type edge struct{ from, action int }
	parent := map[int]edge{from: {-1, -1}}
	queue := []int{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == to {
			var path []int
			for e := parent[s]; e.from >= 0; e = parent[e.from] {
				path = append([]int{e.action}, path...)
			}
			return path
		}
		for a := range 4 {
			if n := f.grid.step(f.walls, s, a); n != s {
				if _, ok := parent[n]; !ok {
					parent[n] = edge{s, a}
					queue = append(queue, n)
				}
			}
		}
	}
	return nil
}

// checkFourRoomsStep checks one step's features and reward against the
// change in the observation: φ has a 1 for the class of the one object that
// disappeared, a 1 for the goal if the agent is there, and the reward is
// φ·w.
func checkFourRoomsStep(t *testing.T, f *FourRooms, obs, next []float64, r float64, term bool, w []float64) {
	t.Helper()
	want := make([]float64, f.FeatureDim())
	gone := 0
	for i, cell := range f.objects {
		if obs[2+i] == 1 && next[2+i] == 0 {
			gone++
			want[f.class[cell]] = 1
			if int(next[0])*13+int(next[1]) != cell {
				t.Fatalf("object %d at cell %d collected from %v", i, cell, next[:2])
			}
		}
		if obs[2+i] == 0 && next[2+i] == 1 {
			t.Fatalf("object %d came back within an episode", i)
		}
	}
	atGoal := next[0] == 1 && next[1] == 11
	if atGoal {
		want[FourRoomsClasses] = 1
	}
	if gone > 1 || term != atGoal {
		t.Fatalf("%d objects collected in one step, terminated %v at %v", gone, term, next[:2])
	}
	phi := f.Features()
	if !slices.Equal(phi, want) {
		t.Fatalf("φ = %v, want %v (from %v to %v)", phi, want, obs, next)
	}
	var dot float64
	for i := range phi {
		dot += phi[i] * w[i]
	}
	if r != dot {
		t.Fatalf("reward %v, want φ·w = %v", r, dot)
	}
}

func TestFourRoomsCollectAndGoal(t *testing.T) {
	f := NewFourRooms()
	w := []float64{0.5, -1, 0.25, 2}
	f.SetTask(w)
	obs := f.Reset(0)
	if !slices.Equal(obs[:2], []float64{11, 1}) || len(obs) != 14 {
		t.Fatalf("first observation %v, want (11, 1) and 12 flags", obs)
	}
	for i, x := range obs[2:] {
		if x != 1 {
			t.Fatalf("object %d absent at the start", i)
		}
	}
	step := func(a int) ([]float64, float64, bool) {
		t.Helper()
		next, r, term, trunc := f.Step([]float64{float64(a)})
		if trunc {
			t.Fatal("truncated")
		}
		checkFourRoomsStep(t, f, obs, next, r, term, w)
		obs = next
		return next, r, term
	}
	// To the bottom hallway (10,6), which holds an object of class '2'.
	hallway := 10*13 + 6
	for _, a := range fourRoomsPath(f, f.start, hallway) {
		step(a)
	}
	if f.Features()[1] != 1 || obs[2+f.objectIndex(hallway)] != 0 {
		t.Fatalf("at the hallway: φ %v, flags %v", f.Features(), obs[2:])
	}
	// Leaving and coming back collects nothing.
	step(MoveRight)
	if _, r, _ := step(MoveLeft); r != 0 || slices.Max(f.Features()) != 0 {
		t.Fatalf("second visit: reward %v φ %v", r, f.Features())
	}
	// Walking into a wall stays put.
	if next, _, _ := step(MoveUp); next[0] != 10 || next[1] != 6 {
		t.Fatalf("up from the hallway into the wall to %v", next)
	}
	// On to the goal.
	path := fourRoomsPath(f, hallway, f.goal)
	for i, a := range path {
		_, _, term := step(a)
		if term != (i == len(path)-1) {
			t.Fatalf("step %d of %d: terminated %v", i+1, len(path), term)
		}
	}
	if f.Features()[FourRoomsClasses] != 1 {
		t.Fatalf("φ at the goal %v", f.Features())
	}
	panicsWithStepError(t, "Step after the goal", func() { f.Step([]float64{0}) })

	// Reset puts everything back.
	obs = f.Reset(1)
	if !slices.Equal(obs[:2], []float64{11, 1}) || slices.Min(obs[2:]) != 1 || slices.Max(f.Features()) != 0 {
		t.Errorf("after Reset: obs %v, φ %v", obs, f.Features())
	}
}

func TestFourRoomsRandomWalk(t *testing.T) {
	f := NewFourRooms()
	if f.NumStates() != 169<<12 {
		t.Fatalf("NumStates %d", f.NumStates())
	}
	rng := rand.New(rand.NewPCG(5, 6))
	w := []float64{rng.Float64()*2 - 1, rng.Float64()*2 - 1, rng.Float64()*2 - 1, 1}
	f.SetTask(w)
	obs := f.Reset(0)
	var obsB, actB, nextB, rewB, phiB []float64
	var termB []bool
	goals, truncs := 0, 0
	for range 20000 {
		a := float64(rng.IntN(4))
		next, r, term, trunc := f.Step([]float64{a})
		checkFourRoomsStep(t, f, obs, next, r, term, w)
		id := f.StateID()
		if id != f.StateIDOf(next) || id < 0 || id >= f.NumStates() || id%169 != int(next[0])*13+int(next[1]) {
			t.Fatalf("StateID %d, StateIDOf %d for %v", id, f.StateIDOf(next), next)
		}
		obsB, actB, nextB = append(obsB, obs...), append(actB, a), append(nextB, next...)
		rewB, termB, phiB = append(rewB, r), append(termB, term), append(phiB, f.Features()...)
		obs = next
		if term {
			goals++
		}
		if trunc {
			truncs++
			if f.Steps != 200 {
				t.Fatalf("truncated after %d steps, want 200", f.Steps)
			}
		}
		if term || trunc {
			obs = f.Reset(0)
		}
	}
	if goals == 0 || truncs == 0 {
		t.Fatalf("%d goals and %d truncations in the walk; want some of each", goals, truncs)
	}
	n := len(rewB)
	gotR, gotPhi, gotT := make([]float64, n), make([]float64, n*4), make([]bool, n)
	f.RewardBatch(obsB, actB, nextB, n, gotR)
	f.FeaturesBatch(obsB, actB, nextB, n, gotPhi)
	f.TerminatedBatch(nextB, n, gotT)
	for i := range n {
		if math.Abs(gotR[i]-rewB[i]) > 1e-15 || gotT[i] != termB[i] || !slices.Equal(gotPhi[4*i:4*i+4], phiB[4*i:4*i+4]) {
			t.Fatalf("transition %d: batch φ %v reward %v terminated %v; Step gave %v %v %v",
				i, gotPhi[4*i:4*i+4], gotR[i], gotT[i], phiB[4*i:4*i+4], rewB[i], termB[i])
		}
	}
}

func TestFourRoomsErrors(t *testing.T) {
	f := NewFourRooms()
	for _, w := range [][]float64{{1, 1, 1}, {1, 1, 1, 1, 1}, {1, math.NaN(), 1, 1}, {1, 1, math.Inf(-1), 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetTask(%v) did not panic", w)
				}
			}()
			f.SetTask(w)
		}()
	}
	f.Reset(0)
	for _, a := range [][]float64{{}, {0, 1}, {math.NaN()}, {math.Inf(1)}, {0.5}, {4}} {
		panicsWithStepError(t, fmt.Sprintf("action %v", a), func() { f.Step(a) })
	}
	// Pacing between the start and the cell above it never ends an
	// episode but the time limit does.
	for i := range 200 {
		_, _, term, trunc := f.Step([]float64{float64(MoveUp + i%2)})
		if term || trunc != (i == 199) {
			t.Fatalf("step %d: terminated %v truncated %v", i+1, term, trunc)
		}
	}
	panicsWithStepError(t, "Step after truncation", func() { f.Step([]float64{0}) })
}
