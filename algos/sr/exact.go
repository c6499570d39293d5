package sr

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// TransitionFunc is a deterministic model: the next state, the reward and
// whether the episode terminates after action a in state s. The mazes'
// Transition method is one.
type TransitionFunc func(s, a int) (next int, reward float64, terminated bool)

// PolicyModel returns the transition matrix P^π between non-terminal states
// and the expected immediate reward r^π of the policy π (in NewLearner's
// layout) on the deterministic model next: P[s][s'] = Σ π(a|s) over the
// actions a leading from s to s' without terminating, and r^π(s) =
// Σ_a π(a|s)·R(s, a). Terminating transitions leave P's row short of 1.
// It returns an error if the policy is not a distribution per state.
func PolicyModel(numStates, numActions int, policy []float64, next TransitionFunc) (*mat.Dense, []float64, error) {
	if err := checkPolicy(numStates, numActions, policy); err != nil {
		return nil, nil, err
	}
	p := mat.NewDense(numStates, numStates, nil)
	r := make([]float64, numStates)
	for s := range numStates {
		for a := range numActions {
			pi := policy[s*numActions+a]
			if pi == 0 {
				continue
			}
			s2, reward, terminated := next(s, a)
			r[s] += pi * reward
			if !terminated {
				p.Set(s, s2, p.At(s, s2)+pi)
			}
		}
	}
	return p, r, nil
}

// Exact returns the successor representation (I − γP)^{-1} of the
// transition matrix p (square, rows summing to at most 1), solved in
// float64 with an LU factorisation. It returns an error if p is not square
// or I − γP is singular (γ = 1 with a closed set of states).
func Exact(p *mat.Dense, gamma float64) (*mat.Dense, error) {
	n, c := p.Dims()
	if n != c {
		return nil, fmt.Errorf("transition matrix is %d×%d: must be square", n, c)
	}
	a := mat.NewDense(n, n, nil)
	a.Scale(-gamma, p)
	for i := range n {
		a.Set(i, i, a.At(i, i)+1)
	}
	var m mat.Dense
	if err := m.Inverse(a); err != nil {
		return nil, fmt.Errorf("I − γP is singular (γ = %g): %w", gamma, err)
	}
	return &m, nil
}

// Evaluate is iterative policy evaluation (Sutton and Barto, 2nd ed.,
// section 4.1, in place): sweeps V(s) ← r(s) + γ Σ_s' P[s][s']·V(s') from
// V = 0 until no value changes by more than tol, or an error after
// maxSweeps sweeps.
func Evaluate(p *mat.Dense, r []float64, gamma, tol float64, maxSweeps int) ([]float64, error) {
	n, c := p.Dims()
	if n != c || len(r) != n {
		return nil, fmt.Errorf("transition matrix %d×%d and %d rewards: need a square matrix and one reward per state", n, c, len(r))
	}
	if !(tol > 0) {
		return nil, errors.New("tolerance must be positive")
	}
	v := make([]float64, n)
	for range maxSweeps {
		delta := 0.0
		for s := range n {
			x := r[s]
			for j, pj := range p.RawRowView(s) {
				x += gamma * pj * v[j]
			}
			delta = math.Max(delta, math.Abs(x-v[s]))
			v[s] = x
		}
		if delta <= tol {
			return v, nil
		}
	}
	return nil, fmt.Errorf("policy evaluation did not converge to %g in %d sweeps", tol, maxSweeps)
}
