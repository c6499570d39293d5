package env

import "math"

// Acrobot is Gymnasium 1.x's Acrobot-v1 (gymnasium/envs/classic_control/
// acrobot.py): swing the tip of a two-link chain, hanging from a fixed
// pivot, above the height of one link over the pivot by applying a torque of
// -1, 0 or +1 (actions 0, 1, 2) at the joint between the links.
//
// State is [θ1, θ2, θ̇1, θ̇2] in float64, θ1 = 0 hanging down and θ2 relative
// to the first link; the observation is [cos θ1, sin θ1, cos θ2, sin θ2, θ̇1,
// θ̇2] rounded to float32. A step integrates Sutton and Barto's ("book")
// dynamics with one fourth-order Runge-Kutta step of 0.2 s, without torque
// noise, then wraps both angles into [-π, π] and clips θ̇1 to [-4π, 4π] and
// θ̇2 to [-9π, 9π]. It terminates when -cos θ1 - cos(θ1 + θ2) > 1, with
// reward 0, and rewards -1 otherwise. The TimeLimit is 500 steps. Reset
// draws each element of the state from [-0.1, 0.1) and rounds it to float32,
// as Gymnasium's reset does (.astype(np.float32)); steps compute in float64.
//
// As a Model, the termination rule is not a box: TerminatedBatch computes
// -cos θ1 - cos(θ1 + θ2) = -c1 - (c1·c2 - s1·s2) from the cosines and sines
// in the next observation, which are float32 roundings, so a height within
// about 1e-7 of 1 may be judged differently from Step. The reward is 0 where
// that rule terminates and -1 elsewhere.
type Acrobot struct {
	Episode
	state [4]float64
}

var (
	_ Stateful = (*Acrobot)(nil)
	_ Model    = (*Acrobot)(nil)
)

// AcrobotEnv's class attributes, and _dsdt's g.
var (
	acrobotDt      = 0.2
	acrobotL1      = 1.0 // LINK_LENGTH_1
	acrobotM1      = 1.0 // LINK_MASS_1
	acrobotM2      = 1.0 // LINK_MASS_2
	acrobotLC1     = 0.5 // LINK_COM_POS_1
	acrobotLC2     = 0.5 // LINK_COM_POS_2
	acrobotI1      = 1.0 // LINK_MOI
	acrobotI2      = 1.0 // LINK_MOI
	acrobotG       = 9.8
	acrobotMaxVel1 = 4 * npPi
	acrobotMaxVel2 = 9 * npPi
	acrobotTorque  = [3]float64{-1, 0, 1} // AVAIL_TORQUE

	acrobotObs = float32Box(
		[]float64{-1, -1, -1, -1, -acrobotMaxVel1, -acrobotMaxVel2},
		[]float64{1, 1, 1, 1, acrobotMaxVel1, acrobotMaxVel2})
	acrobotAct = DiscreteSpace(3)
)

// NewAcrobot returns an Acrobot-v1 environment; call Reset before Step.
func NewAcrobot() *Acrobot {
	return &Acrobot{Episode: Episode{ID: "Acrobot-v1", MaxSteps: 500}}
}

func (a *Acrobot) ObservationSpace() Space { return copySpace(acrobotObs) }
func (a *Acrobot) ActionSpace() Space      { return copySpace(acrobotAct) }

// Reset draws each element of the state uniformly from [-0.1, 0.1) and
// rounds it to float32.
func (a *Acrobot) Reset(seed int64) []float64 {
	r := classicRand(seed)
	for i := range a.state {
		a.state[i] = asFloat32(uniformIn(r, -0.1, 0.1))
	}
	a.Begin()
	return a.obs()
}

func (a *Acrobot) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	a.Check(acrobotAct, action)
	torque := acrobotTorque[int(action[0])]

	ns := acrobotRK4(a.state, torque)
	ns[0] = acrobotWrap(ns[0], -npPi, npPi)
	ns[1] = acrobotWrap(ns[1], -npPi, npPi)
	ns[2] = min(max(ns[2], -acrobotMaxVel1), acrobotMaxVel1)
	ns[3] = min(max(ns[3], -acrobotMaxVel2), acrobotMaxVel2)
	a.state = ns

	terminated = -math.Cos(ns[0])-math.Cos(ns[1]+ns[0]) > 1.0
	reward = -1.0
	if terminated {
		reward = 0
	}
	return a.obs(), reward, terminated, a.End(terminated)
}

func (a *Acrobot) obs() []float64 {
	s := a.state
	return []float64{
		asFloat32(math.Cos(s[0])), asFloat32(math.Sin(s[0])),
		asFloat32(math.Cos(s[1])), asFloat32(math.Sin(s[1])),
		asFloat32(s[2]), asFloat32(s[3]),
	}
}

// State returns [θ1, θ2, θ̇1, θ̇2].
func (a *Acrobot) State() []float64 { s := a.state; return s[:] }

// SetState sets [θ1, θ2, θ̇1, θ̇2] as given; it panics unless s has four
// elements.
func (a *Acrobot) SetState(s []float64) {
	checkState(a.ID, s, 4)
	a.state = [4]float64(s)
}

// Termination returns TerminatesByRule: the height of the tip needs the
// cosines and sines of both angles, which a box cannot express.
func (a *Acrobot) Termination() Termination { return Termination{Kind: TerminatesByRule} }

// TerminatedBatch sets out[i] to whether -c1 - (c1·c2 - s1·s2) > 1 for the
// cosines and sines [c1, s1, c2, s2] of next row i.
func (a *Acrobot) TerminatedBatch(next []float64, n int, out []bool) {
	checkRows(a.ID+" next", next, n, 6)
	checkOut(a.ID, len(out), n)
	for i := range n {
		out[i] = acrobotTerminal(next[6*i : 6*i+6])
	}
}

// RewardBatch sets out[i] to 0 where next row i is terminal and -1
// elsewhere. obs and act are not used.
func (a *Acrobot) RewardBatch(obs, act, next []float64, n int, out []float64) {
	checkBatch(a.ID, obs, act, next, n, 6, 1, len(out))
	for i := range n {
		out[i] = -1
		if acrobotTerminal(next[6*i : 6*i+6]) {
			out[i] = 0
		}
	}
}

// acrobotTerminal is _terminal on an observation, with cos(θ1 + θ2)
// expanded.
func acrobotTerminal(o []float64) bool {
	c1, s1, c2, s2 := o[0], o[1], o[2], o[3]
	return -c1-(c1*c2-s1*s2) > 1.0
}

// acrobotRK4 is acrobot.py's rk4(self._dsdt, s_augmented, [0, dt]): one
// Runge-Kutta step of the state augmented with the torque, whose
// derivative is 0, elementwise in numpy's order.
func acrobotRK4(s [4]float64, torque float64) [4]float64 {
	y0 := [5]float64{s[0], s[1], s[2], s[3], torque}
	dt := acrobotDt // t[1] - t[0] with t = [0, self.dt]
	dt2 := dt / 2.0
	axpy := func(h float64, k [5]float64) [5]float64 {
		var y [5]float64
		for i := range y {
			y[i] = y0[i] + h*k[i]
		}
		return y
	}
	k1 := acrobotDsdt(y0)
	k2 := acrobotDsdt(axpy(dt2, k1))
	k3 := acrobotDsdt(axpy(dt2, k2))
	k4 := acrobotDsdt(axpy(dt, k3))
	h := dt / 6.0
	var y1 [4]float64
	for i := range y1 {
		y1[i] = y0[i] + h*(k1[i]+2*k2[i]+2*k3[i]+k4[i])
	}
	return y1
}

// acrobotDsdt is AcrobotEnv._dsdt with book_or_nips = "book".
func acrobotDsdt(sa [5]float64) [5]float64 {
	m1, m2, l1, lc1, lc2 := acrobotM1, acrobotM2, acrobotL1, acrobotLC1, acrobotLC2
	I1, I2, g := acrobotI1, acrobotI2, acrobotG
	a := sa[4]
	theta1, theta2, dtheta1, dtheta2 := sa[0], sa[1], sa[2], sa[3]

	d1 := m1*squared(lc1) + m2*(squared(l1)+squared(lc2)+2*l1*lc2*math.Cos(theta2)) + I1 + I2
	d2 := m2*(squared(lc2)+l1*lc2*math.Cos(theta2)) + I2
	phi2 := m2 * lc2 * g * math.Cos(theta1+theta2-npPi/2.0)
	phi1 := -m2*l1*lc2*squared(dtheta2)*math.Sin(theta2) -
		2*m2*l1*lc2*dtheta2*dtheta1*math.Sin(theta2) +
		(m1*lc1+m2*l1)*g*math.Cos(theta1-npPi/2) +
		phi2
	ddtheta2 := (a + d2/d1*phi1 - m2*l1*lc2*squared(dtheta1)*math.Sin(theta2) - phi2) /
		(m2*squared(lc2) + I2 - squared(d2)/d1)
	ddtheta1 := -(d2*ddtheta2 + phi1) / d1
	return [5]float64{dtheta1, dtheta2, ddtheta1, ddtheta2, 0}
}

// acrobotWrap is acrobot.py's wrap: it adds or subtracts M - m until x is
// in [m, M]. Only a state set with SetState can be far outside: an infinite
// angle, on which the source would loop forever, gives NaN, and one beyond
// 1e6 is first reduced with math.Mod rather than by a million subtractions.
func acrobotWrap(x, m, M float64) float64 {
	diff := M - m
	if math.IsInf(x, 0) {
		return math.NaN()
	}
	if math.Abs(x) > 1e6 {
		x = math.Mod(x, diff)
	}
	for x > M {
		x = x - diff
	}
	for x < m {
		x = x + diff
	}
	return x
}
