// Package env holds the environments imago trains on, natively in Go: the
// classic-control tasks of Gymnasium 1.x step for step, the tabular mazes of
// Sutton and Barto, a four-room successor-features world and goal-reaching
// point mazes, with vectorised stepping and, for model-based algorithms,
// rewards and termination rules as pure batch functions.
//
// Conventions shared by every environment:
//   - Make(id) returns a fresh environment; Reset(seed) must be called before
//     the first Step and after an episode ends.
//   - Observations are returned as new slices the caller may keep.
//   - Truncation follows Gymnasium's TimeLimit (max_episode_steps) and is
//     reported separately from termination.
//   - Step panics with a *StepError, whose message names the environment and
//     what was wrong, on an action of the wrong length, a NaN or infinite
//     action, a discrete action that is not an integer in [0, n), or a step
//     after the episode ended without Reset. These are programmer errors in
//     an algorithm, not conditions of the data; callers that take actions
//     from outside (a file, a user) check them first with CheckAction.
//   - Every environment is a Snapshotter: Snapshot returns its whole state,
//     an episode in progress included, and Restore puts it back, so that a
//     run resumed from a checkpoint continues bit for bit.
//   - Actions outside a Box are clipped exactly where Gymnasium clips them
//     (Pendulum's torque, MountainCarContinuous' force), and nowhere else
//     among the Gymnasium tasks; PointMaze clips its action as its reference
//     (contrastive_rl's point_env.py) does.
package env

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Env is an episodic environment.
type Env interface {
	ObservationSpace() Space
	ActionSpace() Space
	// Reset starts an episode with the environment's generator seeded by
	// seed and returns the first observation.
	Reset(seed int64) []float64
	// Step applies action and returns the next observation, the reward,
	// whether the episode terminated (a terminal state of the MDP: do not
	// bootstrap) and whether it was truncated (the time limit: bootstrap).
	// A discrete action is a one-element slice holding the index.
	Step(action []float64) (obs []float64, reward float64, terminated, truncated bool)
}

// Stateful is implemented by the classic-control environments: State is
// laid out exactly as Gymnasium's env.unwrapped.state, and SetState replaces
// it without restarting the episode's step counter.
type Stateful interface {
	Env
	State() []float64
	SetState(s []float64)
}

// Space describes observations or actions: a Box of Low ≤ x ≤ High (the
// bounds may be ±Inf), or Discrete integers in [0, N).
type Space struct {
	Discrete  bool
	N         int       // Discrete: the number of values
	Low, High []float64 // Box: the bounds of each element
	Shape     []int     // Box: the shape; len(Low) elements in all
}

// Box returns a one-dimensional Box space with the given bounds.
func Box(low, high []float64) Space {
	if len(low) != len(high) {
		panic(fmt.Sprintf("env: Box bounds of lengths %d and %d", len(low), len(high)))
	}
	return Space{Low: slices.Clone(low), High: slices.Clone(high), Shape: []int{len(low)}}
}

// DiscreteSpace returns a Discrete space of n values.
func DiscreteSpace(n int) Space { return Space{Discrete: true, N: n, Shape: []int{}} }

// Dim is the length of a value of the space as passed to and from Step: the
// number of elements of a Box, 1 for Discrete.
func (s Space) Dim() int {
	if s.Discrete {
		return 1
	}
	return len(s.Low)
}

func (s Space) String() string {
	if s.Discrete {
		return fmt.Sprintf("Discrete(%d)", s.N)
	}
	return fmt.Sprintf("Box(%v, %v, %v)", s.Low, s.High, s.Shape)
}

// StepError is what Step panics with on an invalid action or a step after
// the episode ended.
type StepError struct {
	Env string // the environment's id
	Msg string
}

func (e *StepError) Error() string { return fmt.Sprintf("env %s: %s", e.Env, e.Msg) }

// CheckAction reports whether action is a valid action of space for the
// environment id: the right length, finite, and for a Discrete space an
// integer in [0, N). Box actions outside the bounds are valid: environments
// clip them where Gymnasium does.
func CheckAction(id string, space Space, action []float64) error {
	if len(action) != space.Dim() {
		return &StepError{id, fmt.Sprintf("action has %d elements, want %d (action space %v)", len(action), space.Dim(), space)}
	}
	for i, a := range action {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return &StepError{id, fmt.Sprintf("action[%d] = %v is not finite", i, a)}
		}
	}
	if space.Discrete {
		if a := action[0]; a != math.Trunc(a) || a < 0 || a >= float64(space.N) {
			return &StepError{id, fmt.Sprintf("discrete action %v is not an integer in [0, %d)", a, space.N)}
		}
	}
	return nil
}

// Episode is the bookkeeping every environment shares: the step counter
// against the time limit, and whether the episode has ended. Environments
// embed it, call Begin from Reset and Check at the start of Step, and End
// with the step's termination to learn whether it was truncated.
type Episode struct {
	ID       string // the environment's id, for messages
	MaxSteps int    // Gymnasium's max_episode_steps; 0 for none
	Steps    int    // steps taken in this episode
	started  bool
	done     bool
}

// Begin starts an episode.
func (e *Episode) Begin() { e.Steps, e.started, e.done = 0, true, false }

// Check panics with a *StepError if action is invalid for space or the
// episode has not started or has ended.
func (e *Episode) Check(space Space, action []float64) {
	if !e.started {
		panic(&StepError{e.ID, "Step before Reset"})
	}
	if e.done {
		panic(&StepError{e.ID, "Step after the episode ended; call Reset"})
	}
	if err := CheckAction(e.ID, space, action); err != nil {
		panic(err)
	}
}

// End counts a step that terminated or not and returns whether the time
// limit truncates the episode here. As in Gymnasium's TimeLimit, a step can
// be both terminated and truncated.
func (e *Episode) End(terminated bool) (truncated bool) {
	e.Steps++
	truncated = e.MaxSteps > 0 && e.Steps >= e.MaxSteps
	e.done = terminated || truncated
	return truncated
}

// Registration is one environment id in the registry.
type Registration struct {
	ID          string
	Description string // one line
	New         func() Env
}

var registry = map[string]Registration{}

// Register adds an environment id. It panics if the id is taken.
func Register(r Registration) {
	if _, ok := registry[r.ID]; ok {
		panic("env: registered twice: " + r.ID)
	}
	registry[r.ID] = r
}

// List returns the registered environments sorted by id.
func List() []Registration {
	var out []Registration
	for _, r := range registry {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Make returns a new environment of the given id, or an error listing the
// known ids.
func Make(id string) (Env, error) {
	r, ok := registry[id]
	if !ok {
		var ids []string
		for _, r := range List() {
			ids = append(ids, r.ID)
		}
		return nil, fmt.Errorf("unknown environment %q (known: %s)", id, strings.Join(ids, ", "))
	}
	return r.New(), nil
}
