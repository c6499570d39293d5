package env

import "fmt"

// Model is implemented by environments whose reward and termination rule
// are known pure functions of a transition (obs, action, next obs), so that
// model-based algorithms can use them in imagined rollouts instead of
// learning them: MBPO ends model rollouts with the true termination rule,
// MVE and PETS score imagined transitions with the true reward.
//
// Batches are flat row-major slices of n rows: obs and next hold n
// observations of the environment's observation dimension, act n actions of
// its action dimension (a discrete action is one element holding the
// index). The methods read no environment state: they may be called on an
// environment that was never Reset, and concurrently with each other and
// with Step. They panic if a slice does not hold n rows.
//
// The functions see only observations, which for Gymnasium's environments
// are float32 roundings of the state the environment steps in float64. Where
// a rule compares against a threshold, a transition within a float32
// rounding of it may be judged differently from Step; where a reward needs
// the state (Pendulum's angle), it is recovered from the observation to
// float32 precision. Each environment's doc comment says which applies.
type Model interface {
	// Termination returns the termination rule as data where it is a box
	// on the next observation, so that a GPU kernel can evaluate it
	// without calling back into Go.
	Termination() Termination
	// TerminatedBatch sets out[i] to whether a transition into next row i
	// terminates the episode. It evaluates rules that are not boxes too.
	TerminatedBatch(next []float64, n int, out []bool)
	// RewardBatch sets out[i] to the reward of the transition from obs
	// row i under act row i to next row i.
	RewardBatch(obs, act, next []float64, n int, out []float64)
}

// TerminationKind says how a Termination is evaluated.
type TerminationKind int

const (
	// NeverTerminates: no transition terminates (Pendulum-v1).
	NeverTerminates TerminationKind = iota
	// TerminatesOutside: a transition terminates when its next observation
	// leaves the box: some bounded element is below Low or above High, or
	// is NaN (CartPole-v1, ContinuousCartPole-v0).
	TerminatesOutside
	// TerminatesInside: a transition terminates when its next observation
	// enters the box: every bounded element is within [Low, High]
	// (MountainCarContinuous-v0: position ≥ 0.45 and velocity ≥ 0).
	TerminatesInside
	// TerminatesByRule: the rule is not a box (Acrobot-v1's height of the
	// tip); only the environment's TerminatedBatch evaluates it.
	TerminatesByRule
)

func (k TerminationKind) String() string {
	switch k {
	case NeverTerminates:
		return "never"
	case TerminatesOutside:
		return "outside"
	case TerminatesInside:
		return "inside"
	case TerminatesByRule:
		return "by rule"
	}
	return fmt.Sprintf("TerminationKind(%d)", int(k))
}

// Termination is a termination rule as data: a box on some elements of the
// next observation, and whether leaving it or entering it ends the episode.
// Bounds are inclusive; an unbounded side is ±Inf.
type Termination struct {
	Kind      TerminationKind
	Dims      []int     // the bounded elements of the observation
	Low, High []float64 // the bounds of element Dims[j] are Low[j], High[j]
}

// IsBox reports whether the rule is data that Eval can evaluate.
func (t Termination) IsBox() bool { return t.Kind != TerminatesByRule }

// Eval sets out[i] to whether the transition into next row i terminates,
// for n rows of dim elements. It panics for a TerminatesByRule rule, whose
// environment's TerminatedBatch must be used instead, and if next does not
// hold n rows of dim elements or out has fewer than n elements.
func (t Termination) Eval(next []float64, dim, n int, out []bool) {
	checkRows("Termination.Eval next", next, n, dim)
	checkOut("Termination.Eval", len(out), n)
	for _, d := range t.Dims {
		if d < 0 || d >= dim {
			panic(fmt.Sprintf("env: Termination bounds element %d of a %d-element observation", d, dim))
		}
	}
	for i := range n {
		row := next[i*dim : (i+1)*dim]
		switch t.Kind {
		case NeverTerminates:
			out[i] = false
		case TerminatesOutside:
			out[i] = !t.inside(row)
		case TerminatesInside:
			out[i] = t.inside(row)
		default:
			panic(fmt.Sprintf("env: Termination.Eval on a %v rule; use the environment's TerminatedBatch", t.Kind))
		}
	}
}

// inside reports whether every bounded element of obs is within its bounds;
// NaN is not.
func (t Termination) inside(obs []float64) bool {
	for j, d := range t.Dims {
		if !(obs[d] >= t.Low[j] && obs[d] <= t.High[j]) {
			return false
		}
	}
	return true
}

// boxTermination returns a Termination over the given elements, checking
// that the slices agree.
func boxTermination(kind TerminationKind, dims []int, low, high []float64) Termination {
	if len(dims) != len(low) || len(dims) != len(high) {
		panic(fmt.Sprintf("env: Termination with %d dims, %d lows and %d highs", len(dims), len(low), len(high)))
	}
	return Termination{Kind: kind, Dims: dims, Low: low, High: high}
}

// checkRows panics unless x holds n rows of dim elements.
func checkRows(what string, x []float64, n, dim int) {
	if n < 0 || len(x) != n*dim {
		panic(fmt.Sprintf("env: %s has %d elements, want %d rows of %d", what, len(x), n, dim))
	}
}

// checkBatch panics unless obs, act and next hold n transitions and out n
// results.
func checkBatch(id string, obs, act, next []float64, n, obsDim, actDim, nOut int) {
	checkRows(id+" obs", obs, n, obsDim)
	checkRows(id+" act", act, n, actDim)
	checkRows(id+" next", next, n, obsDim)
	checkOut(id, nOut, n)
}

// checkOut panics unless an output of nOut elements can hold n results.
func checkOut(what string, nOut, n int) {
	if nOut < n {
		panic(fmt.Sprintf("env: %s out has %d elements, want at least %d", what, nOut, n))
	}
}
