package env

import (
	"math"
)

// Pendulum is Gymnasium 1.x's Pendulum-v1 (gymnasium/envs/classic_control/
// pendulum.py): swing a pendulum up and hold it with a torque u in [-2, 2].
//
// State is [θ, θ̇] in float64, θ = 0 upright and unwrapped; the observation
// is [cos θ, sin θ, θ̇] rounded to float32. A step clips u to [-2, 2], takes
// the reward -(angle_normalize(θ)² + 0.1θ̇² + 0.001u²) from the state before
// the step, and integrates with semi-implicit Euler (θ̇ first, clipped to
// [-8, 8], then θ with the new θ̇), dt = 0.05, g = 10, m = l = 1. It never
// terminates; the TimeLimit is 200 steps. Reset draws θ from [-π, π) and θ̇
// from [-1, 1).
//
// As a Model, Pendulum never terminates, and its reward is computed from the
// observation before the step: θ = atan2(sin θ, cos θ), which is already in
// [-π, π] as angle_normalize's result is, but is recovered from the float32
// cosine and sine, so RewardBatch matches Step's reward to float32 precision
// (about 1e-7 relative), not exactly.
type Pendulum struct {
	Episode
	th, thdot float64
}

var (
	_ Stateful = (*Pendulum)(nil)
	_ Model    = (*Pendulum)(nil)
)

// Gymnasium's PendulumEnv.__init__ with the default g = 10.
var (
	pendulumMaxSpeed  = 8.0
	pendulumMaxTorque = 2.0
	pendulumDt        = 0.05
	pendulumG         = 10.0
	pendulumM         = 1.0
	pendulumL         = 1.0

	pendulumObs = float32Box([]float64{-1, -1, -8}, []float64{1, 1, 8})
	pendulumAct = float32Box([]float64{-2}, []float64{2})
)

// NewPendulum returns a Pendulum-v1 environment; call Reset before Step.
func NewPendulum() *Pendulum {
	return &Pendulum{Episode: Episode{ID: "Pendulum-v1", MaxSteps: 200}}
}

func (p *Pendulum) ObservationSpace() Space { return copySpace(pendulumObs) }
func (p *Pendulum) ActionSpace() Space      { return copySpace(pendulumAct) }

// Reset draws θ uniformly from [-π, π) and θ̇ from [-1, 1), as Gymnasium's
// reset without options does.
func (p *Pendulum) Reset(seed int64) []float64 {
	r := classicRand(seed)
	p.th = uniformIn(r, -npPi, npPi)
	p.thdot = uniformIn(r, -1, 1)
	p.Begin()
	return p.obs()
}

func (p *Pendulum) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	p.Check(pendulumAct, action)
	th, thdot := p.th, p.thdot
	g, m, l, dt := pendulumG, pendulumM, pendulumL, pendulumDt

	u := min(max(action[0], -pendulumMaxTorque), pendulumMaxTorque)
	costs := squared(angleNormalize(th)) + 0.1*squared(thdot) + 0.001*squared(u)

	newthdot := thdot + (3*g/(2*l)*math.Sin(th)+3.0/(m*squared(l))*u)*dt
	newthdot = min(max(newthdot, -pendulumMaxSpeed), pendulumMaxSpeed)
	newth := th + newthdot*dt

	p.th, p.thdot = newth, newthdot
	return p.obs(), -costs, false, p.End(false)
}

func (p *Pendulum) obs() []float64 {
	return []float64{asFloat32(math.Cos(p.th)), asFloat32(math.Sin(p.th)), asFloat32(p.thdot)}
}

// State returns [θ, θ̇].
func (p *Pendulum) State() []float64 { return []float64{p.th, p.thdot} }

// SetState sets [θ, θ̇]; it panics unless s has two elements.
func (p *Pendulum) SetState(s []float64) {
	checkState(p.ID, s, 2)
	p.th, p.thdot = s[0], s[1]
}

// Termination returns NeverTerminates.
func (p *Pendulum) Termination() Termination { return Termination{Kind: NeverTerminates} }

// TerminatedBatch sets out[:n] to false.
func (p *Pendulum) TerminatedBatch(next []float64, n int, out []bool) {
	checkRows(p.ID+" next", next, n, 3)
	checkOut(p.ID, len(out), n)
	clear(out[:n])
}

// RewardBatch computes Step's reward from the observation before the step
// and the action: -(θ² + 0.1θ̇² + 0.001u²) with θ = atan2(obs[1], obs[0]),
// θ̇ = obs[2] and u the action clipped to [-2, 2]. next is not used.
func (p *Pendulum) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(p.ID, obs, act, next, n, 3, 1, len(out))
	for i := range n {
		o := obs[3*i : 3*i+3]
		th := math.Atan2(o[1], o[0])
		u := min(max(act[i], -pendulumMaxTorque), pendulumMaxTorque)
		out[i] = -(squared(th) + 0.1*squared(o[2]) + 0.001*squared(u))
	}
}

// angleNormalize is Gymnasium's ((x + π) % 2π) - π, with Python's %, whose
// result takes the sign of the divisor: the result is in [-π, π).
func angleNormalize(x float64) float64 {
	m := math.Mod(x+npPi, 2*npPi)
	if m < 0 {
		m += 2 * npPi
	}
	return m - npPi
}

// squared is x**2 as Python computes it for a float: the correctly rounded x·x.
func squared(x float64) float64 { return x * x }
