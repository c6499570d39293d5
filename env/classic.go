package env

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The classic-control environments: Gymnasium 1.x's Pendulum-v1,
// MountainCarContinuous-v0, CartPole-v1 and Acrobot-v1, and mbrl-lib's
// cartpole_continuous as ContinuousCartPole-v0. Each transcribes its source's
// step function operation for operation in float64, so that stepping from a
// state set with SetState reproduces the source's next state to the last few
// ulps (the sines and cosines of Go's math package and of the C library may
// differ in the last bit).
//
// Physical constants are float64 variables, not Go constants, where the
// source combines them: Go evaluates constant expressions exactly and rounds
// once, while Python rounds after every operation, so 12*2*math.Pi/360 as a
// Go constant need not equal Python's 12 * 2 * math.pi / 360.

func init() {
	Register(Registration{
		ID:          "Pendulum-v1",
		Description: "Gymnasium's pendulum swing-up: torque in [-2, 2], reward -(θ² + 0.1θ̇² + 0.001u²), 200 steps, never terminates",
		New:         func() Env { return NewPendulum() },
	})
	Register(Registration{
		ID:          "MountainCarContinuous-v0",
		Description: "Gymnasium's continuous mountain car: force in [-1, 1], +100 at the goal x ≥ 0.45, -0.1a² per step, 999 steps",
		New:         func() Env { return NewMountainCarContinuous() },
	})
	Register(Registration{
		ID:          "CartPole-v1",
		Description: "Gymnasium's cart-pole balance: push left or right, +1 per step until |x| > 2.4 or |θ| > 12°, 500 steps",
		New:         func() Env { return NewCartPole() },
	})
	Register(Registration{
		ID:          "Acrobot-v1",
		Description: "Gymnasium's two-link acrobot swing-up: torque -1, 0 or +1, -1 per step until the tip is 1 above the pivot, 500 steps",
		New:         func() Env { return NewAcrobot() },
	})
	Register(Registration{
		ID:          "ContinuousCartPole-v0",
		Description: "mbrl-lib's cartpole_continuous (MBPO, PETS): force in [-1, 1]×10 N, +1 per step until |x| > 2.4 or |θ| > 12°, 200 steps",
		New:         func() Env { return NewContinuousCartPole() },
	})
}

// npPi is math.Pi as a float64 variable, so that expressions such as
// 9*npPi round like NumPy's 9 * np.pi.
var npPi = math.Pi

// classicRand returns the generator a Reset draws its initial state from:
// math/rand/v2's PCG seeded from seed. The draws are not NumPy's; the
// ranges are Gymnasium's.
func classicRand(seed int64) *rand.Rand {
	// The second word picks PCG's stream; any fixed value will do, this one
	// (the golden ratio) keeps seeds 0 and 1 from sharing a prefix.
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// uniformIn draws from [low, high) as numpy's Generator.uniform does:
// low + (high-low)*U with U uniform in [0, 1).
func uniformIn(r *rand.Rand, low, high float64) float64 {
	return low + (high-low)*r.Float64()
}

// asFloat32 rounds x to float32, as NumPy's astype(np.float32) does, and
// holds the result in a float64.
func asFloat32(x float64) float64 { return float64(float32(x)) }

// float32Box returns a Box whose bounds are rounded to float32, as
// Gymnasium's spaces.Box(..., dtype=np.float32) stores them.
func float32Box(low, high []float64) Space {
	l, h := make([]float64, len(low)), make([]float64, len(high))
	for i := range low {
		l[i], h[i] = asFloat32(low[i]), asFloat32(high[i])
	}
	return Box(l, h)
}

// copySpace returns a copy of s whose slices the caller may change.
func copySpace(s Space) Space {
	if s.Discrete {
		return DiscreteSpace(s.N)
	}
	return Box(s.Low, s.High)
}

// checkState panics unless s has n elements.
func checkState(id string, s []float64, n int) {
	if len(s) != n {
		panic(fmt.Sprintf("env %s: SetState with %d values, want %d", id, len(s), n))
	}
}
