package env

import "fmt"

// The mazes of chapter 8 of Sutton and Barto, Reinforcement Learning: An
// Introduction (2nd ed., 2018), drawn row 0 at the top as in the book's
// figures. The coordinates agree with ShangtongZhang's
// reinforcement-learning-an-introduction, chapter08/maze.py.
var (
	// Example 8.1 (Figure 8.2): walls at (1,2), (2,2), (3,2), (0,7), (1,7),
	// (2,7) and (4,5).
	dynaMazeLayout = []string{
		".......#G",
		"..#....#.",
		"S.#....#.",
		"..#......",
		".....#...",
		".........",
	}
	// Example 8.2 (Figure 8.4): the barrier is open at its right end for
	// the first 1000 steps, then at its left end.
	blockingMazeBefore = []string{
		"........G",
		".........",
		".........",
		"########.",
		".........",
		"...S.....",
	}
	blockingMazeAfter = []string{
		"........G",
		".........",
		".........",
		".########",
		".........",
		"...S.....",
	}
	// Example 8.3 (Figure 8.5): the barrier is open at its left end; after
	// 3000 steps a shortcut opens at its right end as well.
	shortcutMazeBefore = blockingMazeAfter
	shortcutMazeAfter  = []string{
		"........G",
		".........",
		".........",
		".#######.",
		".........",
		"...S.....",
	}
)

// Maze is a deterministic grid maze of Sutton and Barto's chapter 8: the
// Dyna maze (DynaMaze-v0) and the blocking and shortcut mazes whose walls
// change once (BlockingMaze-v0, ShortcutMaze-v0).
//
// Actions are Discrete(4) in the book's order: MoveUp, MoveDown, MoveRight,
// MoveLeft. A move into a wall or off the grid leaves the agent in place.
// Entering the goal gives reward 1 and terminates the episode; every other
// step gives 0. Reset puts the agent back at the start (the book's "then back
// to start"); the seed is unused, since nothing is random. There is no time
// limit, as in the book.
//
// The observation is the agent's cell as (row, column); StateID numbers the
// cells row-major, row·9 + column, walls included, so NumStates is 54.
//
// The blocking and shortcut mazes count steps over the environment's life,
// across episodes and Resets, as the time-step axis of the book's Figures
// 8.4 and 8.5 does: the first 1000 (blocking) or 3000 (shortcut) steps are
// taken in the old layout and every later one in the new. Make returns a
// maze at step 0. An agent standing where a wall appears (the blocking
// maze's cell (3,8)) stays there until it moves to a free neighbour. Zhang's
// code changes the walls only at the end of the first episode past the
// switch time, as its comments admit; the book's text changes them at the
// step, which is what is done here.
//
// The reward and termination depend only on the next cell, so Maze is a
// Model; Transition is the whole model of the current layout, for planning
// baselines and tests.
//
// A Maze is not safe for concurrent use.
type Maze struct {
	Episode
	grid        gridLayout
	start, goal int
	walls       []bool // the current layout
	after       []bool // the layout after the change; nil for a static maze
	switchAt    int    // the total step count at which after replaces walls
	total       int    // steps over the environment's life
	pos         int
}

var _ Tabular = (*Maze)(nil)

func newMaze(id string, before, after []string, switchAt int) *Maze {
	g := parseGrid(before)
	m := &Maze{
		Episode:  Episode{ID: id},
		grid:     g,
		start:    g.one('S'),
		goal:     g.one('G'),
		walls:    g.walls(),
		switchAt: switchAt,
	}
	if after != nil {
		a := parseGrid(after)
		if a.rows != g.rows || a.cols != g.cols || a.one('S') != m.start || a.one('G') != m.goal {
			panic("env: " + id + ": the changed layout must keep the size, start and goal")
		}
		m.after = a.walls()
	}
	m.pos = m.start
	return m
}

// NewDynaMaze returns DynaMaze-v0, the maze of Example 8.1: start (2,0),
// goal (0,8), and a shortest path of 14 steps.
func NewDynaMaze() *Maze { return newMaze("DynaMaze-v0", dynaMazeLayout, nil, 0) }

// NewBlockingMaze returns BlockingMaze-v0, the maze of Example 8.2: start
// (5,3), goal (0,8), a barrier along row 3 open at the right end (shortest
// path 10 steps) that after 1000 steps is open at the left end instead
// (shortest path 16 steps).
func NewBlockingMaze() *Maze {
	return newMaze("BlockingMaze-v0", blockingMazeBefore, blockingMazeAfter, 1000)
}

// NewShortcutMaze returns ShortcutMaze-v0, the maze of Example 8.3: start
// (5,3), goal (0,8), a barrier along row 3 open at the left end (shortest
// path 16 steps) that after 3000 steps opens at the right end too (shortest
// path 10 steps).
func NewShortcutMaze() *Maze {
	return newMaze("ShortcutMaze-v0", shortcutMazeBefore, shortcutMazeAfter, 3000)
}

// ObservationSpace is the Box of (row, column) cells.
func (m *Maze) ObservationSpace() Space {
	return Box([]float64{0, 0}, []float64{float64(m.grid.rows - 1), float64(m.grid.cols - 1)})
}

// ActionSpace is Discrete(4): MoveUp, MoveDown, MoveRight, MoveLeft.
func (m *Maze) ActionSpace() Space { return DiscreteSpace(4) }

// Reset puts the agent at the start. The seed is unused and the count of
// steps towards the layout change carries on.
func (m *Maze) Reset(seed int64) []float64 {
	m.Begin()
	m.pos = m.start
	return m.obs()
}

// Step moves the agent; see Maze for the rules.
func (m *Maze) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	m.Check(m.ActionSpace(), action)
	m.pos, reward, terminated = m.Transition(m.pos, int(action[0]))
	m.total++
	if m.after != nil && m.total == m.switchAt {
		m.walls = m.after
	}
	truncated = m.End(terminated)
	return m.obs(), reward, terminated, truncated
}

// Transition is the maze's model under its current layout: the state reached
// from state s by action a, the reward and whether the episode terminates.
// Step uses it; calling it changes nothing. It panics if s or a is out of
// range.
func (m *Maze) Transition(s, a int) (next int, reward float64, terminated bool) {
	if s < 0 || s >= m.NumStates() || a < 0 || a >= len(moves) {
		panic(fmt.Sprintf("env %s: Transition(%d, %d) out of range (%d states, %d actions)", m.ID, s, a, m.NumStates(), len(moves)))
	}
	next = m.grid.step(m.walls, s, a)
	if next == m.goal {
		return next, 1, true
	}
	return next, 0, false
}

// TotalSteps is the number of steps taken over the environment's life, the
// clock of the blocking and shortcut mazes' change.
func (m *Maze) TotalSteps() int { return m.total }

// NumStates is rows·columns: 54.
func (m *Maze) NumStates() int { return m.grid.rows * m.grid.cols }

// StateID is the agent's cell, row·columns + column.
func (m *Maze) StateID() int { return m.pos }

// StateIDOf is the cell of an observation (row, column).
func (m *Maze) StateIDOf(obs []float64) int {
	return int(obs[0])*m.grid.cols + int(obs[1])
}

func (m *Maze) obs() []float64 {
	return []float64{float64(m.pos / m.grid.cols), float64(m.pos % m.grid.cols)}
}

var _ Model = (*Maze)(nil)

// Termination is entering the goal cell: the one-cell box on (row, column).
func (m *Maze) Termination() Termination {
	r, c := m.goalCell()
	return boxTermination(TerminatesInside, []int{0, 1}, []float64{r, c}, []float64{r, c})
}

// TerminatedBatch sets out[i] to whether next row i is the goal cell.
func (m *Maze) TerminatedBatch(next []float64, n int, out []bool) {
	m.Termination().Eval(next, 2, n, out)
}

// RewardBatch sets out[i] to 1 if next row i is the goal cell, else 0. The
// layout change does not affect it.
func (m *Maze) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(m.ID, obs, act, next, n, 2, 1, len(out))
	r, c := m.goalCell()
	for i := range n {
		out[i] = 0
		if next[2*i] == r && next[2*i+1] == c {
			out[i] = 1
		}
	}
}

func (m *Maze) goalCell() (row, col float64) {
	return float64(m.goal / m.grid.cols), float64(m.goal % m.grid.cols)
}

func init() {
	Register(Registration{ID: "DynaMaze-v0", Description: "Sutton & Barto Example 8.1: 6×9 maze, 4 moves, +1 at the goal, shortest path 14", New: func() Env { return NewDynaMaze() }})
	Register(Registration{ID: "BlockingMaze-v0", Description: "Sutton & Barto Example 8.2: the short path is blocked and a longer one opens after 1000 steps", New: func() Env { return NewBlockingMaze() }})
	Register(Registration{ID: "ShortcutMaze-v0", Description: "Sutton & Barto Example 8.3: a shortcut opens after 3000 steps", New: func() Env { return NewShortcutMaze() }})
}
