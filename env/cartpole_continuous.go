package env

import "math"

// ContinuousCartPole is mbrl-lib's cartpole_continuous
// (mbrl/env/cartpole_continuous.py), the cart-pole balance task that
// mbrl-lib's MBPO and PETS configurations use: a continuous action a in
// [-1, 1] pushes the cart with a·10 N.
//
// It steps as CartPole-v1 does (the same constants, explicit Euler, the
// same termination at |x| > 2.4 or |θ| > 12° and +1 per step, the
// terminating step included) and differs from it in that:
//   - the action is continuous and is applied unclipped, force = a·10, as
//     mbrl-lib's step does (action.squeeze() * force_mag); the Box [-1, 1]
//     is what a policy should emit;
//   - the observation is the float64 state itself, not a float32 rounding
//     (mbrl-lib returns np.array(self.state));
//   - the observation space's unbounded elements are ±MaxFloat32, not ±Inf;
//   - the TimeLimit is 200 steps, mbrl-lib's trial_length for this task
//     (mbrl/examples/conf/overrides/mbpo_cartpole.yaml), applied by
//     mbrl/util/mujoco.py's TimeLimit wrapper.
//
// As a Model, the termination rule is the box TerminatesOutside x ∈
// [-2.4, 2.4], θ ∈ [-12°, 12°] on the next observation, exact here since
// the observation is the state. The reward is 1 on every transition, as
// Step gives it; mbrl-lib's reward_fns.cartpole gives 0 to a terminating
// transition instead, which changes nothing that bootstraps.
type ContinuousCartPole struct {
	Episode
	state [4]float64
}

var (
	_ Stateful = (*ContinuousCartPole)(nil)
	_ Model    = (*ContinuousCartPole)(nil)
)

var (
	continuousCartPoleObs = float32Box(
		[]float64{-cartPoleXThreshold * 2, -math.MaxFloat32, -cartPoleThetaThreshold * 2, -math.MaxFloat32},
		[]float64{cartPoleXThreshold * 2, math.MaxFloat32, cartPoleThetaThreshold * 2, math.MaxFloat32})
	continuousCartPoleAct = float32Box([]float64{-1}, []float64{1})
)

// NewContinuousCartPole returns a ContinuousCartPole-v0 environment; call
// Reset before Step.
func NewContinuousCartPole() *ContinuousCartPole {
	return &ContinuousCartPole{Episode: Episode{ID: "ContinuousCartPole-v0", MaxSteps: 200}}
}

func (c *ContinuousCartPole) ObservationSpace() Space { return copySpace(continuousCartPoleObs) }
func (c *ContinuousCartPole) ActionSpace() Space      { return copySpace(continuousCartPoleAct) }

// Reset draws each element of the state uniformly from [-0.05, 0.05).
func (c *ContinuousCartPole) Reset(seed int64) []float64 {
	c.state = cartPoleReset(seed)
	c.Begin()
	return c.State()
}

func (c *ContinuousCartPole) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	c.Check(continuousCartPoleAct, action)
	c.state, terminated = cartPoleEuler(c.state, action[0]*cartPoleForceMag)
	return c.State(), 1, terminated, c.End(terminated)
}

// State returns [x, ẋ, θ, θ̇], which is also the observation.
func (c *ContinuousCartPole) State() []float64 { s := c.state; return s[:] }

// SetState sets [x, ẋ, θ, θ̇]; it panics unless s has four elements.
func (c *ContinuousCartPole) SetState(s []float64) {
	checkState(c.ID, s, 4)
	c.state = [4]float64(s)
}

// Termination returns the box x ∈ [-2.4, 2.4], θ ∈ [-12°, 12°] that the
// next observation must stay in.
func (c *ContinuousCartPole) Termination() Termination { return cartPoleTermination() }

// TerminatedBatch evaluates the box on n next observations.
func (c *ContinuousCartPole) TerminatedBatch(next []float64, n int, out []bool) {
	cartPoleTermination().Eval(next, 4, n, out)
}

// RewardBatch sets out[:n] to 1, the reward of every step.
func (c *ContinuousCartPole) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(c.ID, obs, act, next, n, 4, 1, len(out))
	for i := range n {
		out[i] = 1
	}
}
