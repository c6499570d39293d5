package env

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// panicsWithStepError reports a failure unless f panics with a *StepError.
func panicsWithStepError(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, ok := r.(error)
		var se *StepError
		if !ok || !errors.As(err, &se) {
			t.Errorf("%s: recovered %v (%T), want a *StepError panic", what, r, r)
		}
	}()
	f()
}

// mazeShortestPath searches the maze's own transitions breadth first from
// the current state and returns the actions of a shortest path to a
// terminating transition, or nil if there is none.
func mazeShortestPath(m *Maze) []int {
	type edge struct{ from, action int }
	start := m.StateID()
	parent := map[int]edge{start: {-1, -1}}
	queue := []int{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for a := range 4 {
			next, _, terminated := m.Transition(s, a)
			if terminated {
				path := []int{a}
				for e := parent[s]; e.from >= 0; e = parent[e.from] {
					path = append([]int{e.action}, path...)
				}
				return path
			}
			if _, seen := parent[next]; !seen {
				parent[next] = edge{s, a}
				queue = append(queue, next)
			}
		}
	}
	return nil
}

func TestDynaMazeShortestPath(t *testing.T) {
	m := NewDynaMaze()
	obs := m.Reset(0)
	if obs[0] != 2 || obs[1] != 0 {
		t.Fatalf("start %v, want (2, 0)", obs)
	}
	path := mazeShortestPath(m)
	// Sutton and Barto, Example 8.1: the optimal path takes 14 steps (also
	// check_path in Zhang's chapter08/maze.py).
	if len(path) != 14 {
		t.Fatalf("shortest path has %d steps, want 14", len(path))
	}
	for i, a := range path {
		obs, r, term, trunc := m.Step([]float64{float64(a)})
		last := i == len(path)-1
		if term != last || trunc || (r == 1) != last || (r != 0 && r != 1) {
			t.Fatalf("step %d: reward %v, terminated %v, truncated %v", i+1, r, term, trunc)
		}
		if last && (obs[0] != 0 || obs[1] != 8) {
			t.Fatalf("ended at %v, want the goal (0, 8)", obs)
		}
	}
	// Reset is the book's "then back to start".
	if obs := m.Reset(1); obs[0] != 2 || obs[1] != 0 || m.StateID() != 18 {
		t.Errorf("after Reset at %v (id %d), want (2, 0) (id 18)", obs, m.StateID())
	}
}

// TestMazeMoves checks every transition of the Dyna maze against the walls
// as the issue and the book list them, not as the layout draws them.
func TestMazeMoves(t *testing.T) {
	wall := map[[2]int]bool{{1, 2}: true, {2, 2}: true, {3, 2}: true, {0, 7}: true, {1, 7}: true, {2, 7}: true, {4, 5}: true}
	offsets := map[int][2]int{MoveUp: {-1, 0}, MoveDown: {1, 0}, MoveRight: {0, 1}, MoveLeft: {0, -1}}
	m := NewDynaMaze()
	for r := range 6 {
		for c := range 9 {
			if wall[[2]int{r, c}] {
				continue
			}
			for a, d := range offsets {
				want := [2]int{r + d[0], c + d[1]}
				if want[0] < 0 || want[0] >= 6 || want[1] < 0 || want[1] >= 9 || wall[want] {
					want = [2]int{r, c}
				}
				next, reward, term := m.Transition(r*9+c, a)
				if next != want[0]*9+want[1] {
					t.Errorf("(%d,%d) action %d: cell %d, want (%d,%d)", r, c, a, next, want[0], want[1])
				}
				atGoal := want == [2]int{0, 8}
				if term != atGoal || (reward == 1) != atGoal {
					t.Errorf("(%d,%d) action %d: reward %v terminated %v", r, c, a, reward, term)
				}
			}
		}
	}
	// The same through Step: up from the start, then right into the wall.
	m.Reset(0)
	if obs, _, _, _ := m.Step([]float64{MoveUp}); obs[0] != 1 || obs[1] != 0 {
		t.Errorf("up from (2,0) to %v, want (1,0)", obs)
	}
	m.Step([]float64{MoveRight})
	if obs, _, _, _ := m.Step([]float64{MoveRight}); obs[0] != 1 || obs[1] != 1 {
		t.Errorf("right from (1,1) into the wall at (1,2) to %v, want to stay", obs)
	}
}

func TestChangingMazes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ctor          func() *Maze
		switchAt      int
		before, after int   // shortest path lengths, Sutton and Barto Figures 8.4 and 8.5
		wallsBefore   []int // columns of row 3 that are walls, Zhang's chapter08/maze.py
		wallsAfter    []int
	}{
		{"BlockingMaze-v0", NewBlockingMaze, 1000, 10, 16, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{"ShortcutMaze-v0", NewShortcutMaze, 3000, 16, 10, []int{1, 2, 3, 4, 5, 6, 7, 8}, []int{1, 2, 3, 4, 5, 6, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.ctor()
			if m.ID != tc.name {
				t.Fatalf("ID %q", m.ID)
			}
			checkLayout := func(when string, walls []int, shortest int) {
				t.Helper()
				for c := range 9 {
					next, _, _ := m.Transition(2*9+c, MoveDown)
					isWall := next == 2*9+c
					if isWall != containsInt(walls, c) {
						t.Errorf("%s: cell (3,%d) wall %v, want %v", when, c, isWall, !isWall)
					}
				}
				// The shortest path from the start, whatever the agent's
				// current cell.
				saved := m.pos
				m.pos = m.start
				if n := len(mazeShortestPath(m)); n != shortest {
					t.Errorf("%s: shortest path %d steps, want %d", when, n, shortest)
				}
				m.pos = saved
			}
			m.Reset(0)
			if s := m.StateID(); s != 5*9+3 {
				t.Fatalf("start id %d, want (5,3) = 48", s)
			}
			checkLayout("at step 0", tc.wallsBefore, tc.before)
			// A random walk, with Resets at the goal and every 37 steps, so
			// that the clock must count across episodes.
			rng := rand.New(rand.NewPCG(1, 2))
			episodes := 0
			for m.TotalSteps() < tc.switchAt-1 {
				_, _, term, _ := m.Step([]float64{float64(rng.IntN(4))})
				if term || m.Steps == 37 {
					m.Reset(int64(episodes))
					episodes++
				}
			}
			if episodes < 2 {
				t.Fatalf("only %d episodes before the change", episodes)
			}
			checkLayout("after switchAt-1 steps", tc.wallsBefore, tc.before)
			m.Step([]float64{float64(rng.IntN(4))})
			if m.TotalSteps() != tc.switchAt {
				t.Fatalf("TotalSteps %d, want %d", m.TotalSteps(), tc.switchAt)
			}
			checkLayout("after switchAt steps", tc.wallsAfter, tc.after)
			m.Reset(0)
			checkLayout("after a Reset", tc.wallsAfter, tc.after)
			// A new maze starts the clock again.
			fresh := tc.ctor()
			fresh.Reset(0)
			if n := len(mazeShortestPath(fresh)); n != tc.before {
				t.Errorf("a fresh maze has shortest path %d, want %d", n, tc.before)
			}
		})
	}
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestMazeTabularAndModel(t *testing.T) {
	for _, ctor := range []func() *Maze{NewDynaMaze, NewBlockingMaze, NewShortcutMaze} {
		m := ctor()
		if m.NumStates() != 54 {
			t.Errorf("%s: NumStates %d, want 54", m.ID, m.NumStates())
		}
		rng := rand.New(rand.NewPCG(3, 4))
		obs := m.Reset(0)
		var obsB, actB, nextB, rewB []float64
		var termB []bool
		for range 5000 {
			a := float64(rng.IntN(4))
			next, r, term, trunc := m.Step([]float64{a})
			if trunc {
				t.Fatalf("%s: truncated with no time limit", m.ID)
			}
			id := m.StateID()
			if id != int(next[0])*9+int(next[1]) || m.StateIDOf(next) != id || id < 0 || id >= m.NumStates() {
				t.Fatalf("%s: StateID %d, StateIDOf %d for %v", m.ID, id, m.StateIDOf(next), next)
			}
			obsB, actB, nextB = append(obsB, obs...), append(actB, a), append(nextB, next...)
			rewB, termB = append(rewB, r), append(termB, term)
			obs = next
			if term {
				obs = m.Reset(0)
			}
		}
		n := len(rewB)
		gotR, gotT := make([]float64, n), make([]bool, n)
		m.RewardBatch(obsB, actB, nextB, n, gotR)
		m.TerminatedBatch(nextB, n, gotT)
		goals := 0
		for i := range n {
			if gotR[i] != rewB[i] || gotT[i] != termB[i] {
				t.Fatalf("%s: transition %d: batch reward %v terminated %v, Step gave %v %v", m.ID, i, gotR[i], gotT[i], rewB[i], termB[i])
			}
			if termB[i] {
				goals++
			}
		}
		if goals == 0 {
			t.Errorf("%s: the random walk never reached the goal; the model check saw no terminal transition", m.ID)
		}
	}
}

func TestMazeStepErrors(t *testing.T) {
	m := NewDynaMaze()
	panicsWithStepError(t, "Step before Reset", func() { m.Step([]float64{0}) })
	m.Reset(0)
	for _, a := range [][]float64{{}, {0, 1}, {math.NaN()}, {math.Inf(1)}, {1.5}, {-1}, {4}} {
		panicsWithStepError(t, fmt.Sprintf("action %v", a), func() { m.Step(a) })
	}
	for _, a := range mazeShortestPath(m) {
		m.Step([]float64{float64(a)})
	}
	panicsWithStepError(t, "Step after the goal", func() { m.Step([]float64{0}) })
}

func TestGridWorldsRegistered(t *testing.T) {
	for _, id := range []string{"DynaMaze-v0", "BlockingMaze-v0", "ShortcutMaze-v0", "FourRooms-v0", "PointMaze-Open-v0", "PointMaze-FourRooms-v0", "PointMaze-U-v0"} {
		e, err := Make(id)
		if err != nil {
			t.Errorf("Make(%q): %v", id, err)
			continue
		}
		e.Reset(0)
		var desc string
		for _, r := range List() {
			if r.ID == id {
				desc = r.Description
			}
		}
		if desc == "" || strings.Contains(desc, "\n") {
			t.Errorf("%s: description %q, want one line", id, desc)
		}
	}
}
