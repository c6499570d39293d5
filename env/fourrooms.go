package env

import (
	"fmt"
	"math"
	"slices"
)

// fourRoomsLayout is the rooms example of Sutton, Precup and Singh (1999,
// "Between MDPs and semi-MDPs"): 13×13 with the outer walls, 104 free
// cells, hallways at (3,6), (6,2), (7,9) and (10,6); the layout string of
// the fourrooms.py that option-critic implementations carry (Bacon et al.
// 2017). Onto it go the
// objects of Barreto et al. (2017, "Successor Features for Transfer in
// Reinforcement Learning", the four-room experiment): four of each of three
// classes ('1', '2', '3'), one in every hallway, the start 'S' in the
// bottom-left room and the goal 'G' in the top-right corner. Their places
// are those of the discrete version of that experiment in Gimelfarb's
// deep-successor-features-for-transfer (source/configs/gridworld.cfg, the
// map mo-gym's four-room-v0 also uses), carried over room by room to the
// corresponding corners: that map has no outer wall and two-cell hallways,
// so it cannot be used as is on this grid.
var fourRoomsLayout = []string{
	"#############",
	"#1...2#....G#",
	"#.....#.....#",
	"#.....1.....#",
	"#.....#.....#",
	"#2...3#.....#",
	"##3####.....#",
	"#.....###1###",
	"#.....#2...3#",
	"#.....#.....#",
	"#.....2.....#",
	"#S....#3...1#",
	"#############",
}

// FourRoomsClasses is the number of object classes of FourRooms; its
// features are one per class and one for the goal.
const FourRoomsClasses = 3

// FourRooms is the successor-features transfer benchmark of Barreto et al.
// (2017) on the four-room grid: the agent walks from the start to the goal,
// collecting objects of three classes on the way by stepping on them, and
// the task vector w says what each is worth.
//
// Actions are Discrete(4) as in the mazes: MoveUp, MoveDown, MoveRight,
// MoveLeft; a move into a wall stays. Moves are deterministic, as in
// Gimelfarb's version, not the rooms example's 2/3-reliable ones. The
// features of a transition are
// φ(s, a, s') ∈ {0,1}⁴: φ[c] = 1 when the agent collects an object of class
// c (c = 0, 1, 2 for the layout's '1', '2', '3'), and φ[3] = 1 when it
// reaches the goal, which terminates the episode. The reward is φ·w. The
// goal feature follows Gimelfarb's reimplementation of Barreto et al.
// (features() and get_w() in source/tasks/gridworld.py: dimension classes +
// 1, the goal's weight 1 in every task), so that the goal's reward is part
// of φ·w and every reward of the task is linear in φ, as successor features
// need; mo-gym's four-room-v0 instead has only the three object features.
// The default task is w = (1, 1, 1, 1); SetTask changes it.
//
// The observation is (row, column, o₀, …, o₁₁): the agent's cell and, for
// each object in row-major order of its cell, 1 while it is still there and
// 0 once collected. Reset puts the agent at the start and every object back;
// the seed is unused. Episodes are cut at 200 steps, the episode length T of
// Gimelfarb's gridworld.cfg.
//
// StateID is cell + 169·m, where cell is row·13 + column and bit i of m is
// set once object i has been collected: NumStates is 169·2¹².
//
// FourRooms is a Model: reward and termination are functions of (obs,
// next), and FeaturesBatch gives φ of stored transitions.
//
// A FourRooms is not safe for concurrent use.
type FourRooms struct {
	Episode
	grid      gridLayout
	walls     []bool
	start     int
	goal      int
	objects   []int       // the cells of the objects, row-major
	class     map[int]int // object cell → class
	w         []float64
	phi       []float64
	pos       int
	collected uint32 // bit i: object i collected in this episode
}

var _ Tabular = (*FourRooms)(nil)

// NewFourRooms returns FourRooms-v0.
func NewFourRooms() *FourRooms {
	g := parseGrid(fourRoomsLayout)
	f := &FourRooms{
		Episode: Episode{ID: "FourRooms-v0", MaxSteps: 200},
		grid:    g,
		walls:   g.walls(),
		start:   g.one('S'),
		goal:    g.one('G'),
		class:   map[int]int{},
		w:       []float64{1, 1, 1, 1},
		phi:     make([]float64, FourRoomsClasses+1),
	}
	for i, c := range g.cells {
		if c >= '1' && c < '1'+FourRoomsClasses {
			f.objects = append(f.objects, i)
			f.class[i] = int(c - '1')
		}
	}
	f.pos = f.start
	return f
}

// ObservationSpace is the Box of (row, column, one 0/1 flag per object).
func (f *FourRooms) ObservationSpace() Space {
	n := 2 + len(f.objects)
	low, high := make([]float64, n), make([]float64, n)
	high[0], high[1] = float64(f.grid.rows-1), float64(f.grid.cols-1)
	for i := 2; i < n; i++ {
		high[i] = 1
	}
	return Box(low, high)
}

// ActionSpace is Discrete(4): MoveUp, MoveDown, MoveRight, MoveLeft.
func (f *FourRooms) ActionSpace() Space { return DiscreteSpace(4) }

// FeatureDim is the length of φ and of a task vector: the classes and the
// goal.
func (f *FourRooms) FeatureDim() int { return FourRoomsClasses + 1 }

// SetTask sets the task vector w, which the reward φ·w of every later step
// uses. It panics if w does not have FeatureDim elements or one is not
// finite.
func (f *FourRooms) SetTask(w []float64) {
	if len(w) != f.FeatureDim() {
		panic(fmt.Sprintf("env %s: task vector has %d elements, want %d", f.ID, len(w), f.FeatureDim()))
	}
	for i, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			panic(fmt.Sprintf("env %s: task w[%d] = %v is not finite", f.ID, i, x))
		}
	}
	f.w = slices.Clone(w)
}

// Task returns a copy of the task vector w.
func (f *FourRooms) Task() []float64 { return slices.Clone(f.w) }

// Features returns a copy of φ(s, a, s') of the last step; all zeros after
// Reset.
func (f *FourRooms) Features() []float64 { return slices.Clone(f.phi) }

// Reset puts the agent at the start and every object back. The seed is
// unused.
func (f *FourRooms) Reset(seed int64) []float64 {
	f.Begin()
	f.pos, f.collected = f.start, 0
	clear(f.phi)
	return f.obs()
}

// Step moves the agent, collects the object it steps on, and returns the
// reward φ·w; see FourRooms.
func (f *FourRooms) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	f.Check(f.ActionSpace(), action)
	f.pos = f.grid.step(f.walls, f.pos, int(action[0]))
	clear(f.phi)
	if c, ok := f.class[f.pos]; ok {
		bit := uint32(1) << f.objectIndex(f.pos)
		if f.collected&bit == 0 {
			f.collected |= bit
			f.phi[c] = 1
		}
	}
	if f.pos == f.goal {
		f.phi[FourRoomsClasses] = 1
		terminated = true
	}
	for i, p := range f.phi {
		reward += p * f.w[i]
	}
	truncated = f.End(terminated)
	return f.obs(), reward, terminated, truncated
}

func (f *FourRooms) objectIndex(cell int) int {
	i, _ := slices.BinarySearch(f.objects, cell)
	return i
}

// NumStates is 169 cells times 2¹² sets of collected objects.
func (f *FourRooms) NumStates() int { return len(f.grid.cells) << len(f.objects) }

// StateID is cell + 169·(collected-object bits); see FourRooms.
func (f *FourRooms) StateID() int { return f.pos + len(f.grid.cells)*int(f.collected) }

// StateIDOf is the state id of an observation (row, column, flags).
func (f *FourRooms) StateIDOf(obs []float64) int {
	var m int
	for i := range f.objects {
		if obs[2+i] == 0 {
			m |= 1 << i
		}
	}
	return int(obs[0])*f.grid.cols + int(obs[1]) + len(f.grid.cells)*m
}

func (f *FourRooms) obs() []float64 {
	o := make([]float64, 2+len(f.objects))
	o[0], o[1] = float64(f.pos/f.grid.cols), float64(f.pos%f.grid.cols)
	for i := range f.objects {
		if f.collected&(1<<i) == 0 {
			o[2+i] = 1
		}
	}
	return o
}

var _ Model = (*FourRooms)(nil)

// Termination is entering the goal cell: the one-cell box on (row, column).
func (f *FourRooms) Termination() Termination {
	r, c := float64(f.goal/f.grid.cols), float64(f.goal%f.grid.cols)
	return boxTermination(TerminatesInside, []int{0, 1}, []float64{r, c}, []float64{r, c})
}

// TerminatedBatch sets out[i] to whether next row i is at the goal.
func (f *FourRooms) TerminatedBatch(next []float64, n int, out []bool) {
	f.Termination().Eval(next, f.ObservationSpace().Dim(), n, out)
}

// FeaturesBatch sets row i of out, FeatureDim elements, to φ of the
// transition from obs row i to next row i: the class of the object at next's
// cell if obs still has it, and the goal. act is not used but checked.
func (f *FourRooms) FeaturesBatch(obs, act, next []float64, n int, out []float64) {
	dim, d := f.ObservationSpace().Dim(), f.FeatureDim()
	checkBatch(f.ID, obs, act, next, n, dim, 1, n)
	if len(out) < n*d {
		panic(fmt.Sprintf("env: %s features out has %d elements, want %d rows of %d", f.ID, len(out), n, d))
	}
	for i := range n {
		o, x, phi := obs[i*dim:(i+1)*dim], next[i*dim:(i+1)*dim], out[i*d:(i+1)*d]
		clear(phi)
		cell := int(x[0])*f.grid.cols + int(x[1])
		if c, ok := f.class[cell]; ok && o[2+f.objectIndex(cell)] == 1 {
			phi[c] = 1
		}
		if cell == f.goal {
			phi[FourRoomsClasses] = 1
		}
	}
}

// RewardBatch sets out[i] to φ·w of transition i under the current task w.
// It reads the task, so it must not run concurrently with SetTask.
func (f *FourRooms) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(f.ID, obs, act, next, n, f.ObservationSpace().Dim(), 1, len(out))
	d := f.FeatureDim()
	phi := make([]float64, n*d)
	f.FeaturesBatch(obs, act, next, n, phi)
	for i := range n {
		out[i] = 0
		for j, w := range f.w {
			out[i] += phi[i*d+j] * w
		}
	}
}

func init() {
	Register(Registration{ID: "FourRooms-v0", Description: "Barreto et al. 2017 successor-features four-room grid: 3 object classes and a goal, reward φ·w", New: func() Env { return NewFourRooms() }})
}
