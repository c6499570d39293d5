package bptt

import (
	"fmt"
	"math/rand/v2"
)

// Problem is the H-step objective whose policy gradient the estimators
// estimate: J(θ) = E[Σ_{t<H} γᵗ r(s_t, a_t)] with a_t from the policy,
// s_{t+1} from the model, s_0 from Starts and, per rollout, the model
// Models picks. Both estimators draw the same randomness (the policy's ξ
// and the model's ε, per step) and estimate the same ∇J.
type Problem struct {
	Policy *GaussianPolicy
	// Models gives the model of rollout i: one fixed ensemble member per
	// rollout, as PETS' TS∞ propagation fixes one.
	Models  func(i int) Model
	Starts  [][]float64 // one start state per rollout
	Horizon int
	Gamma   float64
}

func (p Problem) check() error {
	switch {
	case p.Policy == nil || p.Models == nil:
		return fmt.Errorf("bptt: problem without a policy or models")
	case len(p.Starts) == 0:
		return fmt.Errorf("bptt: problem without start states")
	case p.Horizon < 1:
		return fmt.Errorf("bptt: horizon %d: must be at least 1", p.Horizon)
	case !(p.Gamma >= 0 && p.Gamma <= 1):
		return fmt.Errorf("bptt: gamma %g: must be in [0, 1]", p.Gamma)
	}
	return nil
}

// Trajectory is one rollout of a Problem: States[t] for t ≤ H, the policy
// noise Xi[t] of the action taken in States[t], and Rewards[t].
type Trajectory struct {
	States  [][]float64
	Xi      [][]float64
	Rewards []float64
}

// Rollouts runs every rollout of p without gradients, drawing ξ and ε from
// rng, for the likelihood-ratio estimators (here and in algos/mbpg).
func Rollouts(p Problem, rng *rand.Rand) ([]Trajectory, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	out := make([]Trajectory, len(p.Starts))
	for i, s := range p.Starts {
		m := p.Models(i)
		tr := Trajectory{States: [][]float64{s}}
		for range p.Horizon {
			xi := normals(rng, p.Policy.ActDim())
			a, _ := p.Policy.Act(s, xi, false)
			next, r, _ := m.Step(s, a, normals(rng, m.ObsDim()), false)
			tr.Xi = append(tr.Xi, xi)
			tr.Rewards = append(tr.Rewards, r)
			tr.States = append(tr.States, next)
			s = next
		}
		out[i] = tr
	}
	return out, nil
}

// Pathwise returns the pathwise (reparameterisation) estimate of ∇_θ J from
// the rollouts of p, and the rollouts' mean return: every rollout is run
// with its noise drawn from rng and then differentiated backwards through
// the model's and the policy's Jacobians (backpropagation through time), and
// the gradients are averaged over rollouts.
func Pathwise(p Problem, rng *rand.Rand) (grad []float64, meanReturn float64, err error) {
	if err := p.check(); err != nil {
		return nil, 0, err
	}
	grad = make([]float64, len(p.Policy.Params))
	n := float64(len(p.Starts))
	type step struct {
		policy func(da, grad []float64) []float64
		model  func(dNext []float64, dr float64) ([]float64, []float64)
	}
	steps := make([]step, p.Horizon)
	for i, s := range p.Starts {
		m := p.Models(i)
		disc := 1.0
		for t := range p.Horizon {
			a, pb := p.Policy.Act(s, normals(rng, p.Policy.ActDim()), true)
			next, r, mb := m.Step(s, a, normals(rng, m.ObsDim()), true)
			meanReturn += disc * r / n
			disc *= p.Gamma
			steps[t] = step{pb, mb}
			s = next
		}
		// Backwards: ds carries ∂(return/n)/∂s_{t+1}.
		ds := make([]float64, m.ObsDim())
		for t := p.Horizon - 1; t >= 0; t-- {
			dsModel, da := steps[t].model(ds, pow(p.Gamma, t)/n)
			dsPolicy := steps[t].policy(da, grad)
			for j := range ds {
				ds[j] = dsModel[j] + dsPolicy[j]
			}
		}
	}
	return grad, meanReturn, nil
}

// LikelihoodRatio returns the likelihood-ratio (REINFORCE) estimate of
// ∇_θ J from the rollouts of p, and their mean return:
//
//	(1/N) Σ_i Σ_t ∇_θ log π(a_t|s_t) · (G_t^i − b_t^i),  G_t = Σ_{k≥t} γᵏ r_k,
//
// with the reward-to-go G_t (rewards before t do not depend on a_t) and the
// leave-one-out baseline b_t^i, the mean of G_t over the other rollouts,
// which leaves the estimate unbiased (Kool et al. 2019, "Buy 4 REINFORCE
// samples, get a baseline for free"). With one rollout there is no
// baseline.
func LikelihoodRatio(p Problem, rng *rand.Rand) (grad []float64, meanReturn float64, err error) {
	trs, err := Rollouts(p, rng)
	if err != nil {
		return nil, 0, err
	}
	n := len(trs)
	h := p.Horizon
	togo := make([][]float64, n) // G_t^i, discounted from t = 0
	sum := make([]float64, h)
	for i, tr := range trs {
		togo[i] = make([]float64, h)
		acc := 0.0
		for t := h - 1; t >= 0; t-- {
			acc += pow(p.Gamma, t) * tr.Rewards[t]
			togo[i][t] = acc
			sum[t] += acc
		}
		meanReturn += acc / float64(n)
	}
	grad = make([]float64, len(p.Policy.Params))
	for i, tr := range trs {
		for t := range h {
			b := 0.0
			if n > 1 {
				b = (sum[t] - togo[i][t]) / float64(n-1)
			}
			p.Policy.ScoreAdd(tr.States[t], tr.Xi[t], (togo[i][t]-b)/float64(n), grad)
		}
	}
	return grad, meanReturn, nil
}

func normals(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func pow(x float64, k int) float64 {
	r := 1.0
	for range k {
		r *= x
	}
	return r
}
