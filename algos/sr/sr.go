// Package sr is the tabular successor representation (Dayan 1993,
// "Improving Generalization for Temporal Difference Learning: The Successor
// Representation") of a fixed policy π, learned by temporal differences:
// M(s, s') is the expected discounted number of visits to s' starting from
// s, M = Σ_t γ^t (P^π)^t = (I − γP^π)^{-1}, so that the value of any reward
// r is V = M·r.
//
// Two learners are here. StateSR is Dayan's rule on sampled transitions,
// M(s, ·) ← M(s, ·) + α[e_s + γM(s', ·) − M(s, ·)]; under a stochastic
// policy its target is as random as the next state, so it reaches the exact
// SR only with decaying steps and slowly. Learner learns the SR of
// state-action pairs, H(s, a, ·) = e_s + γ Σ_a' π(a'|s')·H(s', a', ·),
// with the expectation over the next action taken under the known π (the
// successor features of Barreto et al. 2017 with φ the one-hot of s, and
// the expected-Sarsa form of TD): on a deterministic environment its target
// is exact, so a constant step converges to the fixed point, and
// M(s, ·) = Σ_a π(a|s)·H(s, a, ·). exact.go computes (I − γP^π)^{-1} and
// iterative policy evaluation in float64 to check them against; Train
// (train.go) learns the SR of the uniform random policy on a tabular
// environment and reports its error.
//
// Terminal transitions end the sum: the SR counts visits to non-terminal
// states only, and P^π is the substochastic matrix of transitions between
// them.
package sr

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Learner is the successor representation of a fixed policy π over
// state-action pairs, learned by expected TD(0) (see the package comment),
// with the rewards R(s, a) last observed, so that values come out as
// V = M·r^π. States are in [0, NumStates), actions in [0, NumActions). It
// is dense: NumStates² · NumActions values. A Learner is not safe for
// concurrent use.
type Learner struct {
	numStates, numActions int
	gamma, alpha          float64
	policy                []float64 // π(a|s) at s·numActions + a
	h                     []float64 // H(s, a, j) at (s·numActions + a)·numStates + j
	reward                []float64 // R(s, a), the last reward observed
	scratch               []float64
}

// MaxStates bounds the states of a Learner, whose tables grow as their
// square: 4096 states of 4 actions are 512 MiB.
const MaxStates = 4096

// NewLearner returns a Learner with H = 0 for the policy π given row by row
// (policy[s·numActions + a] = π(a|s), each row a distribution), discount
// gamma in [0, 1) and step size alpha in (0, 1]. It returns an error
// naming what is wrong for bad sizes, a row that is not a distribution or
// a parameter out of range.
func NewLearner(numStates, numActions int, policy []float64, gamma, alpha float64) (*Learner, error) {
	if err := checkPolicy(numStates, numActions, policy); err != nil {
		return nil, err
	}
	if !(gamma >= 0 && gamma < 1) {
		return nil, fmt.Errorf("gamma = %g: must be in [0, 1) for the SR to be finite", gamma)
	}
	if !(alpha > 0 && alpha <= 1) {
		return nil, fmt.Errorf("alpha = %g: must be in (0, 1]", alpha)
	}
	return &Learner{
		numStates:  numStates,
		numActions: numActions,
		gamma:      gamma,
		alpha:      alpha,
		policy:     append([]float64(nil), policy...),
		h:          make([]float64, numStates*numActions*numStates),
		reward:     make([]float64, numStates*numActions),
		scratch:    make([]float64, numStates),
	}, nil
}

// checkPolicy returns an error unless the sizes are positive, within
// MaxStates, and policy holds numStates distributions over numActions
// actions (non-negative, summing to 1 within 1e-9).
func checkPolicy(numStates, numActions int, policy []float64) error {
	if numStates < 1 || numActions < 1 {
		return fmt.Errorf("%d states and %d actions: need at least one of each", numStates, numActions)
	}
	if numStates > MaxStates {
		return fmt.Errorf("%d states: the tabular SR is dense in states squared; at most %d are supported", numStates, MaxStates)
	}
	if len(policy) != numStates*numActions {
		return fmt.Errorf("policy has %d probabilities, want %d states × %d actions = %d", len(policy), numStates, numActions, numStates*numActions)
	}
	for s := range numStates {
		sum := 0.0
		for a, p := range policy[s*numActions : (s+1)*numActions] {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("policy π(%d|%d) = %g: must be in [0, 1]", a, s, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 {
			return fmt.Errorf("policy at state %d sums to %g: must sum to 1", s, sum)
		}
	}
	return nil
}

// Uniform returns the uniform random policy over numActions actions in
// each of numStates states, in the layout NewLearner takes.
func Uniform(numStates, numActions int) []float64 {
	p := make([]float64, numStates*numActions)
	for i := range p {
		p[i] = 1 / float64(numActions)
	}
	return p
}

// Update learns from one transition: state s, action a, reward r, next
// state next, terminated when next is terminal. It moves H(s, a, ·)
// towards e_s + γ Σ_a' π(a'|next)·H(next, a', ·) (towards e_s alone when
// terminated) by the step size, and records R(s, a) = r. The policy that
// chose a does not matter (the update is off-policy in a), but the target
// is that of π. It panics if s, a or next is out of range.
func (l *Learner) Update(s, a int, r float64, next int, terminated bool) {
	l.check(s, a)
	l.check(next, 0)
	n := l.numStates
	target := l.scratch
	clear(target)
	if !terminated {
		for b := range l.numActions {
			p := l.policy[next*l.numActions+b]
			if p == 0 {
				continue
			}
			row := l.h[(next*l.numActions+b)*n : (next*l.numActions+b+1)*n]
			for j, v := range row {
				target[j] += l.gamma * p * v
			}
		}
	}
	target[s]++
	row := l.h[(s*l.numActions+a)*n : (s*l.numActions+a+1)*n]
	for j := range row {
		row[j] += l.alpha * (target[j] - row[j])
	}
	l.reward[s*l.numActions+a] = r
}

// H returns H(s, a, j), the expected discounted visits to j after taking
// a in s and following π. It panics if an index is out of range.
func (l *Learner) H(s, a, j int) float64 {
	l.check(s, a)
	l.check(j, 0)
	return l.h[(s*l.numActions+a)*l.numStates+j]
}

// M returns the state SR, M(s, ·) = Σ_a π(a|s)·H(s, a, ·), as a new
// NumStates × NumStates matrix.
func (l *Learner) M() *mat.Dense {
	n := l.numStates
	m := mat.NewDense(n, n, nil)
	for s := range n {
		for a := range l.numActions {
			p := l.policy[s*l.numActions+a]
			if p == 0 {
				continue
			}
			row := l.h[(s*l.numActions+a)*n : (s*l.numActions+a+1)*n]
			for j, v := range row {
				m.Set(s, j, m.At(s, j)+p*v)
			}
		}
	}
	return m
}

// Rewards returns r^π(s) = Σ_a π(a|s)·R(s, a), the expected immediate
// reward of each state under π from the rewards observed (0 for pairs
// never tried). On a deterministic environment one observation per pair
// makes it exact.
func (l *Learner) Rewards() []float64 {
	r := make([]float64, l.numStates)
	for s := range r {
		for a := range l.numActions {
			r[s] += l.policy[s*l.numActions+a] * l.reward[s*l.numActions+a]
		}
	}
	return r
}

// Values returns V = M·r^π, the values of π for the rewards observed.
func (l *Learner) Values() []float64 {
	v := mat.NewVecDense(l.numStates, nil)
	v.MulVec(l.M(), mat.NewVecDense(l.numStates, l.Rewards()))
	return v.RawVector().Data
}

func (l *Learner) check(s, a int) {
	if s < 0 || s >= l.numStates || a < 0 || a >= l.numActions {
		panic(fmt.Sprintf("sr: state %d, action %d out of range (%d states, %d actions)", s, a, l.numStates, l.numActions))
	}
}

// StateSR is Dayan's (1993) successor representation of states learned on
// sampled transitions: M(s, ·) ← M(s, ·) + α[e_s + γM(s', ·) − M(s, ·)],
// with target e_s alone when s' is terminal. Its fixed point in
// expectation is (I − γP^π)^{-1} for the policy that generated the
// transitions. It is dense: NumStates² values.
type StateSR struct {
	numStates int
	gamma     float64
	m         []float64 // M(s, j) at s·numStates + j
}

// NewStateSR returns a StateSR with M = 0, or an error for a size outside
// [1, MaxStates] or gamma outside [0, 1).
func NewStateSR(numStates int, gamma float64) (*StateSR, error) {
	if numStates < 1 || numStates > MaxStates {
		return nil, fmt.Errorf("%d states: need 1 to %d", numStates, MaxStates)
	}
	if !(gamma >= 0 && gamma < 1) {
		return nil, fmt.Errorf("gamma = %g: must be in [0, 1) for the SR to be finite", gamma)
	}
	return &StateSR{numStates: numStates, gamma: gamma, m: make([]float64, numStates*numStates)}, nil
}

// Update moves M(s, ·) towards e_s + γM(next, ·) (e_s when terminated) by
// step size alpha. It panics if s or next is out of range.
func (m *StateSR) Update(s, next int, terminated bool, alpha float64) {
	n := m.numStates
	if s < 0 || s >= n || next < 0 || next >= n {
		panic(fmt.Sprintf("sr: transition %d → %d out of range (%d states)", s, next, n))
	}
	row := m.m[s*n : (s+1)*n]
	if terminated {
		for j := range row {
			row[j] -= alpha * row[j]
		}
	} else {
		nextRow := m.m[next*n : (next+1)*n]
		for j := range row {
			row[j] += alpha * (m.gamma*nextRow[j] - row[j])
		}
	}
	row[s] += alpha
}

// At returns M(s, j).
func (m *StateSR) At(s, j int) float64 { return m.m[s*m.numStates+j] }
