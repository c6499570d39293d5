package env

import "math"

// CartPole is Gymnasium 1.x's CartPole-v1 (gymnasium/envs/classic_control/
// cartpole.py): balance a pole on a cart by pushing the cart left (action 0)
// or right (action 1) with 10 N.
//
// State is [x, ẋ, θ, θ̇] in float64, θ = 0 upright; the observation is the
// state rounded to float32. A step integrates the equations of Florian
// (2007) with explicit Euler ("euler" kinematics: positions advance with the
// old velocities), τ = 0.02 s, and terminates when x leaves [-2.4, 2.4] or
// θ leaves [-12°, 12°]. The reward is +1 on every step, the terminating one
// included. (Gymnasium's steps_beyond_terminated gives 0 to steps after
// termination; Step panics there instead, so that branch never applies.) The
// TimeLimit is 500 steps. Reset draws each element of the state from
// [-0.05, 0.05).
//
// As a Model, the termination rule is the box TerminatesOutside x ∈
// [-2.4, 2.4], θ ∈ [-12°, 12°] on the next observation, which holds θ
// itself; the reward is 1. The box is tested on the float32 observation
// rather than the float64 state, so a next state within a float32 rounding
// of a threshold may be judged differently from Step.
type CartPole struct {
	Episode
	state [4]float64
}

var (
	_ Stateful = (*CartPole)(nil)
	_ Model    = (*CartPole)(nil)
)

// CartPoleEnv.__init__. mbrl-lib's cartpole_continuous has the same
// constants.
var (
	cartPoleGravity        = 9.8
	cartPoleMassCart       = 1.0
	cartPoleMassPole       = 0.1
	cartPoleTotalMass      = cartPoleMassPole + cartPoleMassCart
	cartPoleLength         = 0.5 // half the pole's length
	cartPolePoleMassLength = cartPoleMassPole * cartPoleLength
	cartPoleForceMag       = 10.0
	cartPoleTau            = 0.02
	cartPoleThetaThreshold = 12 * 2 * npPi / 360
	cartPoleXThreshold     = 2.4

	// The observation bounds are twice the termination thresholds, so that
	// a terminal observation is still in the space.
	cartPoleObs = float32Box(
		[]float64{-cartPoleXThreshold * 2, math.Inf(-1), -cartPoleThetaThreshold * 2, math.Inf(-1)},
		[]float64{cartPoleXThreshold * 2, math.Inf(1), cartPoleThetaThreshold * 2, math.Inf(1)})
	cartPoleAct = DiscreteSpace(2)
)

// NewCartPole returns a CartPole-v1 environment; call Reset before Step.
func NewCartPole() *CartPole {
	return &CartPole{Episode: Episode{ID: "CartPole-v1", MaxSteps: 500}}
}

func (c *CartPole) ObservationSpace() Space { return copySpace(cartPoleObs) }
func (c *CartPole) ActionSpace() Space      { return copySpace(cartPoleAct) }

// Reset draws each element of the state uniformly from [-0.05, 0.05).
func (c *CartPole) Reset(seed int64) []float64 {
	c.state = cartPoleReset(seed)
	c.Begin()
	return c.obs()
}

func (c *CartPole) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	c.Check(cartPoleAct, action)
	force := -cartPoleForceMag
	if action[0] == 1 {
		force = cartPoleForceMag
	}
	c.state, terminated = cartPoleEuler(c.state, force)
	return c.obs(), 1, terminated, c.End(terminated)
}

func (c *CartPole) obs() []float64 {
	o := make([]float64, 4)
	for i, v := range c.state {
		o[i] = asFloat32(v)
	}
	return o
}

// State returns [x, ẋ, θ, θ̇].
func (c *CartPole) State() []float64 { s := c.state; return s[:] }

// SetState sets [x, ẋ, θ, θ̇]; it panics unless s has four elements.
func (c *CartPole) SetState(s []float64) {
	checkState(c.ID, s, 4)
	c.state = [4]float64(s)
}

// Termination returns the box x ∈ [-2.4, 2.4], θ ∈ [-12°, 12°] that the
// next observation must stay in.
func (c *CartPole) Termination() Termination { return cartPoleTermination() }

// TerminatedBatch evaluates the box on n next observations.
func (c *CartPole) TerminatedBatch(next []float64, n int, out []bool) {
	cartPoleTermination().Eval(next, 4, n, out)
}

// RewardBatch sets out[:n] to 1, the reward of every step.
func (c *CartPole) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(c.ID, obs, act, next, n, 4, 1, len(out))
	for i := range n {
		out[i] = 1
	}
}

func cartPoleTermination() Termination {
	return boxTermination(TerminatesOutside, []int{0, 2},
		[]float64{-cartPoleXThreshold, -cartPoleThetaThreshold},
		[]float64{cartPoleXThreshold, cartPoleThetaThreshold})
}

// cartPoleReset draws a state uniformly from [-0.05, 0.05)⁴.
func cartPoleReset(seed int64) [4]float64 {
	r := classicRand(seed)
	var s [4]float64
	for i := range s {
		s[i] = uniformIn(r, -0.05, 0.05)
	}
	return s
}

// cartPoleEuler is the step of Gymnasium's CartPoleEnv and of mbrl-lib's
// cartpole_continuous, with the operations in the sources' order: it
// applies force to state for τ with explicit Euler and reports whether the
// new state is terminal.
func cartPoleEuler(state [4]float64, force float64) (next [4]float64, terminated bool) {
	x, xDot, theta, thetaDot := state[0], state[1], state[2], state[3]
	cosTheta, sinTheta := math.Cos(theta), math.Sin(theta)

	temp := (force + cartPolePoleMassLength*squared(thetaDot)*sinTheta) / cartPoleTotalMass
	thetaAcc := (cartPoleGravity*sinTheta - cosTheta*temp) /
		(cartPoleLength * (4.0/3.0 - cartPoleMassPole*squared(cosTheta)/cartPoleTotalMass))
	xAcc := temp - cartPolePoleMassLength*thetaAcc*cosTheta/cartPoleTotalMass

	x = x + cartPoleTau*xDot
	xDot = xDot + cartPoleTau*xAcc
	theta = theta + cartPoleTau*thetaDot
	thetaDot = thetaDot + cartPoleTau*thetaAcc

	terminated = x < -cartPoleXThreshold || x > cartPoleXThreshold ||
		theta < -cartPoleThetaThreshold || theta > cartPoleThetaThreshold
	return [4]float64{x, xDot, theta, thetaDot}, terminated
}
