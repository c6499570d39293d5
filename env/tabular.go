package env

// Tabular is implemented by the grid worlds whose states can be numbered:
// the Sutton and Barto mazes and FourRooms. Tabular algorithms index their
// tables with these ids instead of the observation.
type Tabular interface {
	Env
	// NumStates is the number of state ids: every id is in [0, NumStates).
	// Some ids may never occur (cells inside walls, for instance).
	NumStates() int
	// StateID is the id of the current state.
	StateID() int
	// StateIDOf is the id of the state an observation of this environment
	// describes, for callers that hold only the observation (a vectorised
	// stepper that has already reset the environment, a replay buffer).
	StateIDOf(obs []float64) int
}

// The moves of the grid worlds, in the order Sutton and Barto list them in
// Example 8.1: up, down, right, left. Row 0 is the top row, so up decreases
// the row and right increases the column.
const (
	MoveUp = iota
	MoveDown
	MoveRight
	MoveLeft
)

// moves are the (row, column) offsets of MoveUp, MoveDown, MoveRight and
// MoveLeft.
var moves = [4][2]int{{-1, 0}, {1, 0}, {0, 1}, {0, -1}}

// gridLayout is a rectangular character map of a grid world, one string a
// row: '#' is a wall, '.' a free cell, and each environment gives meaning to
// its own other characters (start, goal, objects).
type gridLayout struct {
	rows, cols int
	cells      []byte // row-major
}

// parseGrid reads a layout; it panics on a ragged or empty one, since layouts
// are constants of the package.
func parseGrid(rows []string) gridLayout {
	if len(rows) == 0 || len(rows[0]) == 0 {
		panic("env: empty grid layout")
	}
	g := gridLayout{rows: len(rows), cols: len(rows[0])}
	for i, r := range rows {
		if len(r) != g.cols {
			panic("env: grid layout row " + r + " has a different length from row " + rows[0])
		}
		g.cells = append(g.cells, rows[i]...)
	}
	return g
}

// find returns the cell ids holding c in row-major order.
func (g gridLayout) find(c byte) []int {
	var ids []int
	for i, x := range g.cells {
		if x == c {
			ids = append(ids, i)
		}
	}
	return ids
}

// one returns the single cell holding c; it panics if there is not exactly
// one.
func (g gridLayout) one(c byte) int {
	ids := g.find(c)
	if len(ids) != 1 {
		panic("env: grid layout must hold exactly one " + string(c))
	}
	return ids[0]
}

// walls returns which cells are walls.
func (g gridLayout) walls() []bool {
	w := make([]bool, len(g.cells))
	for i, x := range g.cells {
		w[i] = x == '#'
	}
	return w
}

// step returns the cell reached from cell s by move a: a move into a wall
// or off the grid leaves the agent where it was. A move out of a wall cell
// (which the blocking maze can leave an agent in) is allowed.
func (g gridLayout) step(walls []bool, s, a int) int {
	r, c := s/g.cols+moves[a][0], s%g.cols+moves[a][1]
	if r < 0 || r >= g.rows || c < 0 || c >= g.cols || walls[r*g.cols+c] {
		return s
	}
	return r*g.cols + c
}
