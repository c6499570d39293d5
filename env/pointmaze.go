package env

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// pointMazeLayouts are the wall maps of the 2-D navigation environments of
// Eysenbach et al.: SoRB (2019), C-learning (2021) and contrastive RL
// (2022), copied from WALLS in google-research's contrastive_rl/point_env.py.
// Each character is a unit cell; '#' is a wall. "Open" is that file's
// "Small", an empty 4×4 room.
var pointMazeLayouts = map[string][]string{
	"Open": {
		"....",
		"....",
		"....",
		"....",
	},
	"Cross": {
		".......",
		"...#...",
		"...#...",
		".#####.",
		"...#...",
		"...#...",
		".......",
	},
	"FourRooms": {
		".....#.....",
		".....#.....",
		"...........",
		".....#.....",
		".....#.....",
		"#.####.....",
		".....###.##",
		".....#.....",
		".....#.....",
		"...........",
		".....#.....",
	},
	"U": {
		"...",
		".#.",
		".#.",
		".#.",
		"##.",
		".#.",
		".#.",
		".#.",
		"...",
	},
	"Spiral11x11": {
		"###########",
		"#..........",
		"#.########.",
		"#.#......#.",
		"#.#.####.#.",
		"#.#.#..#.#.",
		"#.#.##.#.#.",
		"#.#....#.#.",
		"#.######.#.",
		"#........#.",
		"##########.",
	},
	"Maze11x11": {
		".#...#...#.",
		".#.#.#.#.#.",
		".#.#.#.#.#.",
		".#.#.#.#.#.",
		"...#...#.#.",
		"########.#.",
		"###...#..#.",
		"###.#.#.##.",
		"....#...##.",
		".#########.",
		"...........",
	},
}

// The constants of contrastive_rl/point_env.py (PointEnv.step) and
// env_utils.py (load).
const (
	pointMazeSubsteps    = 10
	pointMazeDt          = 1.0 / pointMazeSubsteps
	pointMazeGoalRadius  = 2.0  // rew = float(dist < 2.0)
	pointMazeActionNoise = 0.01 // self._action_noise
	pointMazeSteps       = 50   // max_episode_steps; 100 for the 11×11 maps
	pointMazeStepsLarge  = 100
)

// PointMaze is a continuous 2-D goal-reaching world among the walls of a
// layout, PointMaze-<layout>-v0, for goal-conditioned RL; it follows
// PointEnv of google-research's contrastive_rl/point_env.py, the 2-D
// navigation task of Eysenbach et al.'s C-learning and contrastive RL.
//
// The state is a point (x, y) in [0, H]×[0, W] for a layout of H rows and W
// columns of unit cells, x running down the rows and y along the columns as
// in the reference, so the point lies in cell (⌊x⌋, ⌊y⌋) (the far edges
// counting in the last cell). The observation is the state followed by the
// goal, (x, y, gx, gy): AchievedSlice is [0, 2) and GoalSlice [2, 4).
//
// An action a ∈ [−1, 1]² moves the point by a over the step in 10 sub-steps
// of 0.1·a; in each sub-step each axis in turn moves unless that would put
// the point in a wall or off the map, so the point slides along walls and
// never enters one. As in the reference, Gaussian noise of standard
// deviation ActionNoise is added to the action, and the sum clipped to
// [−1, 1]², before it is applied.
//
// Reset seeds the generator with the seed, then draws the goal and then the
// state, each uniformly from the free cells and uniformly within the cell.
// The reward is 1 while the point is within GoalRadius of the goal (distance
// < GoalRadius), else 0. Reaching the goal does not end the episode, as in
// the reference and C-learning (c_learning_envs.py: "we should set done=True
// only when the environment truly terminates, not when we've reached the
// goal"); episodes are truncated at 50 steps, 100 on the 11×11 maps.
//
// A PointMaze is not safe for concurrent use.
type PointMaze struct {
	Episode
	// GoalRadius is the distance to the goal under which a state counts as
	// reaching it: 2 by default, the reference's.
	GoalRadius float64
	// ActionNoise is the standard deviation of the noise added to each
	// action element: 0.01 by default, the reference's; 0 for none.
	ActionNoise float64

	grid        gridLayout
	walls       []bool
	free        []int // the free cells
	rng         *rand.Rand
	src         *rand.PCG // rng's source, whose state Snapshot keeps
	state, goal [2]float64
}

var (
	_ GoalEnv  = (*PointMaze)(nil)
	_ Stateful = (*PointMaze)(nil)
)

// PointMazeLayouts returns the names of the PointMaze layouts, sorted.
func PointMazeLayouts() []string {
	var names []string
	for name := range pointMazeLayouts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// NewPointMaze returns PointMaze-<layout>-v0, or an error naming the known
// layouts.
func NewPointMaze(layout string) (*PointMaze, error) {
	rows, ok := pointMazeLayouts[layout]
	if !ok {
		return nil, fmt.Errorf("unknown point maze layout %q (known: %s)", layout, strings.Join(PointMazeLayouts(), ", "))
	}
	g := parseGrid(rows)
	src := rand.NewPCG(0, 0)
	p := &PointMaze{
		Episode:     Episode{ID: "PointMaze-" + layout + "-v0", MaxSteps: pointMazeSteps},
		GoalRadius:  pointMazeGoalRadius,
		ActionNoise: pointMazeActionNoise,
		grid:        g,
		walls:       g.walls(),
		free:        g.find('.'),
		rng:         rand.New(src),
		src:         src,
	}
	if strings.HasSuffix(layout, "11x11") {
		p.MaxSteps = pointMazeStepsLarge
	}
	return p, nil
}

// ObservationSpace is the Box [0, H]×[0, W]×[0, H]×[0, W] of (x, y, gx, gy).
func (p *PointMaze) ObservationSpace() Space {
	h, w := float64(p.grid.rows), float64(p.grid.cols)
	return Box([]float64{0, 0, 0, 0}, []float64{h, w, h, w})
}

// ActionSpace is the Box [−1, 1]².
func (p *PointMaze) ActionSpace() Space { return Box([]float64{-1, -1}, []float64{1, 1}) }

// GoalSpace is the Box [0, H]×[0, W].
func (p *PointMaze) GoalSpace() Space {
	return Box([]float64{0, 0}, []float64{float64(p.grid.rows), float64(p.grid.cols)})
}

// Reset seeds the generator and draws a goal and a start state from free
// space.
func (p *PointMaze) Reset(seed int64) []float64 {
	p.Begin()
	// The second word only picks PCG's stream; any fixed value will do.
	p.src = rand.NewPCG(uint64(seed), 0x9d1e)
	p.rng = rand.New(p.src)
	p.goal = p.sampleFree()
	p.state = p.sampleFree()
	return p.obs()
}

// Step moves the point; see PointMaze.
func (p *PointMaze) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	p.Check(p.ActionSpace(), action)
	var a [2]float64
	for i := range a {
		a[i] = action[i]
		if p.ActionNoise > 0 {
			a[i] += p.ActionNoise * p.rng.NormFloat64()
		}
		a[i] = min(max(a[i], -1), 1)
	}
	for range pointMazeSubsteps {
		for axis := range a {
			next := p.state
			next[axis] += pointMazeDt * a[axis]
			if !p.blocked(next) {
				p.state = next
			}
		}
	}
	truncated = p.End(false)
	return p.obs(), p.GoalReward(p.state[:], p.goal[:]), false, truncated
}

// Goal returns a copy of the goal.
func (p *PointMaze) Goal() []float64 { return []float64{p.goal[0], p.goal[1]} }

// SetGoal replaces the current episode's goal and returns the observation
// with it. It panics if g does not have two finite elements. A goal need
// not be in free space; one inside a wall is reached by coming within
// GoalRadius of it.
func (p *PointMaze) SetGoal(g []float64) []float64 {
	checkPoint(p.ID, "goal", g)
	p.goal = [2]float64{g[0], g[1]}
	return p.obs()
}

// AchievedSlice is [0, 2), the state in the observation.
func (p *PointMaze) AchievedSlice() (start, end int) { return 0, 2 }

// GoalSlice is [2, 4), the goal in the observation.
func (p *PointMaze) GoalSlice() (start, end int) { return 2, 4 }

// GoalReward is 1 if achieved is within GoalRadius of goal, else 0.
func (p *PointMaze) GoalReward(achieved, goal []float64) float64 {
	if math.Hypot(achieved[0]-goal[0], achieved[1]-goal[1]) < p.GoalRadius {
		return 1
	}
	return 0
}

// Success reports whether the state is within GoalRadius of the goal.
func (p *PointMaze) Success() bool { return p.GoalReward(p.state[:], p.goal[:]) == 1 }

// Distance is the Euclidean distance from the state to the goal.
func (p *PointMaze) Distance() float64 {
	return math.Hypot(p.state[0]-p.goal[0], p.state[1]-p.goal[1])
}

// State returns a copy of the point (x, y).
func (p *PointMaze) State() []float64 { return []float64{p.state[0], p.state[1]} }

// SetState moves the point to s without touching the goal or the step
// counter. It panics if s does not have two finite elements or lies in a
// wall or off the map.
func (p *PointMaze) SetState(s []float64) {
	checkPoint(p.ID, "state", s)
	if p.blocked([2]float64{s[0], s[1]}) {
		panic(fmt.Sprintf("env %s: state %v is in a wall or off the map", p.ID, s))
	}
	p.state = [2]float64{s[0], s[1]}
}

// Free reports whether the point (x, y) is on the map and outside the walls.
func (p *PointMaze) Free(x, y float64) bool { return !p.blocked([2]float64{x, y}) }

// blocked is _is_blocked of the reference: off [0, H]×[0, W] or in a wall
// cell, a point on a far edge counting in the last cell.
func (p *PointMaze) blocked(s [2]float64) bool {
	h, w := float64(p.grid.rows), float64(p.grid.cols)
	if !(s[0] >= 0 && s[0] <= h && s[1] >= 0 && s[1] <= w) {
		return true
	}
	i := min(int(s[0]), p.grid.rows-1)
	j := min(int(s[1]), p.grid.cols-1)
	return p.walls[i*p.grid.cols+j]
}

// sampleFree draws a point uniformly from a uniformly drawn free cell, as
// _sample_empty_state does.
func (p *PointMaze) sampleFree() [2]float64 {
	c := p.free[p.rng.IntN(len(p.free))]
	return [2]float64{
		float64(c/p.grid.cols) + p.rng.Float64(),
		float64(c%p.grid.cols) + p.rng.Float64(),
	}
}

func (p *PointMaze) obs() []float64 {
	return []float64{p.state[0], p.state[1], p.goal[0], p.goal[1]}
}

func checkPoint(id, what string, v []float64) {
	if len(v) != 2 {
		panic(fmt.Sprintf("env %s: %s has %d elements, want 2", id, what, len(v)))
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			panic(fmt.Sprintf("env %s: %s[%d] = %v is not finite", id, what, i, x))
		}
	}
}

var _ Model = (*PointMaze)(nil)

// Termination is NeverTerminates: reaching the goal does not end an episode.
func (p *PointMaze) Termination() Termination { return Termination{Kind: NeverTerminates} }

// TerminatedBatch sets out[:n] to false.
func (p *PointMaze) TerminatedBatch(next []float64, n int, out []bool) {
	p.Termination().Eval(next, 4, n, out)
}

// RewardBatch sets out[i] to GoalReward of next row i's state and goal. It
// reads GoalRadius, so it must not run concurrently with a change to it.
func (p *PointMaze) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(p.ID, obs, act, next, n, 4, 2, len(out))
	for i := range n {
		out[i] = p.GoalReward(next[4*i:4*i+2], next[4*i+2:4*i+4])
	}
}

func init() {
	for _, name := range PointMazeLayouts() {
		Register(Registration{
			ID:          "PointMaze-" + name + "-v0",
			Description: "2-D point goal reaching in the " + name + " walls of Eysenbach et al.'s point_env: obs state⊕goal, reward 1 within 2 of the goal",
			New: func() Env {
				p, err := NewPointMaze(name)
				if err != nil {
					panic(err) // the name comes from the layouts themselves
				}
				return p
			},
		})
	}
}
