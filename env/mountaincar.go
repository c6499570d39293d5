package env

import "math"

// MountainCarContinuous is Gymnasium 1.x's MountainCarContinuous-v0
// (gymnasium/envs/classic_control/continuous_mountain_car.py): drive an
// underpowered car out of a valley to the flag at x = 0.45 with a force a
// in [-1, 1].
//
// State is [position, velocity]. A step clips the force to [-1, 1], adds
// 0.0015·force - 0.0025·cos(3·position) to the velocity, clips it to
// [-0.07, 0.07], adds the velocity to the position, clips that to
// [-1.2, 0.6] and zeroes a negative velocity at the left wall. It terminates
// when position ≥ 0.45 and velocity ≥ goal_velocity = 0, with reward
// 100 - 0.1a², and otherwise rewards -0.1a²; the reward uses the unclipped
// action, as the source does. The TimeLimit is 999 steps. Reset draws the
// position from [-0.6, -0.4) with velocity 0.
//
// The source keeps its state in a float32 array: a step computes in float64
// from the float32 values and rounds the new state to float32, which is
// also the observation. Termination is decided on the float64 values before
// that rounding. (Reset's state is a float64 array, so the first step starts
// from the unrounded position.) We compute in float64 throughout, which is
// what NumPy 1.x does with these scalars; under NumPy 2's promotion rules
// (NEP 50) Gymnasium computes 3·position in float32, and with a float32
// action the whole velocity update, so its trajectories can differ from
// these by a float32 ulp.
//
// As a Model, the termination rule is the box TerminatesInside
// position ∈ [0.45, +Inf], velocity ∈ [0, +Inf] on the next observation, and
// the reward is -0.1a² plus 100 where that box is entered. Because the box is
// tested on the float32 observation rather than the float64 state, a next
// position within a float32 rounding of 0.45 may be judged differently from
// Step.
type MountainCarContinuous struct {
	Episode
	position, velocity float64
}

var (
	_ Stateful = (*MountainCarContinuous)(nil)
	_ Model    = (*MountainCarContinuous)(nil)
)

// Continuous_MountainCarEnv.__init__ with the default goal_velocity = 0.
var (
	mountainCarMinAction    = -1.0
	mountainCarMaxAction    = 1.0
	mountainCarMinPosition  = -1.2
	mountainCarMaxPosition  = 0.6
	mountainCarMaxSpeed     = 0.07
	mountainCarGoalPosition = 0.45
	mountainCarGoalVelocity = 0.0
	mountainCarPower        = 0.0015

	mountainCarObs = float32Box([]float64{-1.2, -0.07}, []float64{0.6, 0.07})
	mountainCarAct = float32Box([]float64{-1}, []float64{1})
)

// NewMountainCarContinuous returns a MountainCarContinuous-v0 environment;
// call Reset before Step.
func NewMountainCarContinuous() *MountainCarContinuous {
	return &MountainCarContinuous{Episode: Episode{ID: "MountainCarContinuous-v0", MaxSteps: 999}}
}

func (m *MountainCarContinuous) ObservationSpace() Space { return copySpace(mountainCarObs) }
func (m *MountainCarContinuous) ActionSpace() Space      { return copySpace(mountainCarAct) }

// Reset draws the position uniformly from [-0.6, -0.4) and sets the velocity
// to 0. The state is kept unrounded, as Gymnasium's float64 reset array is;
// the observation is rounded to float32.
func (m *MountainCarContinuous) Reset(seed int64) []float64 {
	r := classicRand(seed)
	m.position, m.velocity = uniformIn(r, -0.6, -0.4), 0
	m.Begin()
	return []float64{asFloat32(m.position), asFloat32(m.velocity)}
}

func (m *MountainCarContinuous) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	m.Check(mountainCarAct, action)
	position, velocity := m.position, m.velocity
	force := min(max(action[0], mountainCarMinAction), mountainCarMaxAction)

	// The float64 conversions forbid fusing into an FMA (which the Go spec
	// allows on some architectures): the state is rounded to float32 next,
	// and an unfused result keeps that rounding the source's.
	velocity += float64(force*mountainCarPower) - float64(0.0025*math.Cos(3*position))
	if velocity > mountainCarMaxSpeed {
		velocity = mountainCarMaxSpeed
	}
	if velocity < -mountainCarMaxSpeed {
		velocity = -mountainCarMaxSpeed
	}
	position += velocity
	if position > mountainCarMaxPosition {
		position = mountainCarMaxPosition
	}
	if position < mountainCarMinPosition {
		position = mountainCarMinPosition
	}
	if position == mountainCarMinPosition && velocity < 0 {
		velocity = 0
	}

	terminated = position >= mountainCarGoalPosition && velocity >= mountainCarGoalVelocity
	reward = mountainCarReward(action[0], terminated)

	m.position, m.velocity = asFloat32(position), asFloat32(velocity)
	return []float64{m.position, m.velocity}, reward, terminated, m.End(terminated)
}

// mountainCarReward is the source's reward = 0; if terminated: reward =
// 100.0; reward -= math.pow(action[0], 2) * 0.1.
func mountainCarReward(a float64, terminated bool) float64 {
	reward := 0.0
	if terminated {
		reward = 100.0
	}
	return reward - float64(squared(a)*0.1)
}

// State returns [position, velocity].
func (m *MountainCarContinuous) State() []float64 { return []float64{m.position, m.velocity} }

// SetState sets [position, velocity] as given, without rounding to float32,
// as assigning a float64 array to Gymnasium's env.unwrapped.state does; it
// panics unless s has two elements.
func (m *MountainCarContinuous) SetState(s []float64) {
	checkState(m.ID, s, 2)
	m.position, m.velocity = s[0], s[1]
}

// Termination returns the goal box: position ≥ 0.45 and velocity ≥ 0.
func (m *MountainCarContinuous) Termination() Termination {
	return boxTermination(TerminatesInside, []int{0, 1},
		[]float64{mountainCarGoalPosition, mountainCarGoalVelocity},
		[]float64{math.Inf(1), math.Inf(1)})
}

// TerminatedBatch evaluates the goal box on n next observations.
func (m *MountainCarContinuous) TerminatedBatch(next []float64, n int, out []bool) {
	m.Termination().Eval(next, 2, n, out)
}

// RewardBatch computes -0.1a² + 100·[next is in the goal box] from the
// unclipped action. obs is not used.
func (m *MountainCarContinuous) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(m.ID, obs, act, next, n, 2, 1, len(out))
	t := m.Termination()
	for i := range n {
		out[i] = mountainCarReward(act[i], t.inside(next[2*i:2*i+2]))
	}
}
