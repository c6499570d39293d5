package mpc

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/imago-rl/imago/engine"
)

// Objective scores a population: pop holds len(values) candidate solutions
// of equal length one after another, and Objective sets values[i] to the
// value of solution i, higher being better. A NaN value counts as the
// worst.
type Objective func(pop []float64, values []float64)

// CEM is the cross-entropy method over a box (de Boer et al. 2005) as
// PETS plans with it, following mbrl-lib's CEMOptimizer
// (mbrl/planning/trajectory_opt.py) step for step. From a mean μ and the
// variance σ² = (high − low)²/16 of each element it repeats Iterations
// times:
//
//  1. bound the variance so that two standard deviations stay inside the
//     box: σ²' = min(σ², ((μ − low)/2)², ((high − μ)/2)²);
//  2. sample Population solutions μ + σ'·z, with z a standard normal
//     truncated to [−2, 2] by redrawing (mbrl-lib truncated_normal_);
//  3. score them, and refit to the Elites best: μ ← α·μ + (1−α)·mean,
//     σ² ← α·σ² + (1−α)·var (the population variance of the elites).
//
// It returns the final μ (mbrl-lib's return_mean_elites, which PETS sets).
// The work is on the host: sampling and refitting touch Population·dim
// numbers per iteration, against the objective's Population·Particles
// trajectories through a network.
//
// Randomness comes from a host-side Philox stream: the z's are
// engine.NormalAt of consecutive fills of the stream, so a CEM is a pure
// function of its seed and its objective. A CEM is not safe for concurrent
// use.
type CEM struct {
	Population, Elites, Iterations int
	Alpha                          float64
	Low, High                      []float64 // the box, one bound per element of a solution

	rng    *engine.RNG
	pop    []float64 // [Population, dim]
	values []float64 // [Population]
	order  []int     // the population's indices sorted by value
	z      []float64 // [dim]
	mu     []float64
	vr     []float64 // the variance
	mean   []float64 // the elites' mean
	second []float64 // the elites' variance
}

// NewCEM returns a CEM of population solutions, elites of them refitting
// the Gaussian, iterations iterations and smoothing alpha over the box
// [low, high] (one bound per element; the solutions have len(low)
// elements), drawing from the host Philox stream of seed. It returns an
// error for sizes out of range, alpha outside [0, 1), or bounds that are
// not finite with low < high.
func NewCEM(population, elites, iterations int, alpha float64, low, high []float64, seed uint64) (*CEM, error) {
	switch {
	case population < 1:
		return nil, fmt.Errorf("mpc: CEM population = %d: must be at least 1", population)
	case elites < 1 || elites > population:
		return nil, fmt.Errorf("mpc: CEM elites = %d: must be in [1, population = %d]", elites, population)
	case iterations < 1:
		return nil, fmt.Errorf("mpc: CEM iterations = %d: must be at least 1", iterations)
	case !(alpha >= 0 && alpha < 1):
		return nil, fmt.Errorf("mpc: CEM alpha = %g: must be in [0, 1)", alpha)
	case len(low) == 0 || len(low) != len(high):
		return nil, fmt.Errorf("mpc: CEM bounds of %d lows and %d highs: need as many, at least one", len(low), len(high))
	}
	for i, lo := range low {
		if hi := high[i]; math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			return nil, fmt.Errorf("mpc: CEM bounds [%g, %g] of element %d: must be finite with low < high", lo, hi, i)
		}
	}
	d := len(low)
	return &CEM{
		Population: population, Elites: elites, Iterations: iterations, Alpha: alpha,
		Low: slices.Clone(low), High: slices.Clone(high),
		rng:    engine.NewRNG(seed),
		pop:    make([]float64, population*d),
		values: make([]float64, population),
		order:  make([]int, population),
		z:      make([]float64, d),
		mu:     make([]float64, d),
		vr:     make([]float64, d),
		mean:   make([]float64, d),
		second: make([]float64, d),
	}, nil
}

// Optimize runs the iterations from the mean init (one value per element,
// within the box) and returns the final mean, a slice of the CEM's own
// that the next Optimize overwrites. f is called once per iteration.
func (c *CEM) Optimize(init []float64, f Objective) []float64 {
	d := len(c.Low)
	if len(init) != d {
		panic(fmt.Sprintf("mpc: CEM.Optimize: initial mean of %d elements, want %d", len(init), d))
	}
	copy(c.mu, init)
	for i := range c.vr {
		w := c.High[i] - c.Low[i]
		c.vr[i] = w * w / 16
	}
	for range c.Iterations {
		c.sample()
		f(c.pop, c.values)
		c.refit()
	}
	return c.mu
}

// sample fills the population from the current mean and the variance
// bounded by the box.
func (c *CEM) sample() {
	d := len(c.Low)
	for i := range c.mu {
		lo, hi := (c.mu[i]-c.Low[i])/2, (c.High[i]-c.mu[i])/2
		c.second[i] = math.Sqrt(max(0, min(c.vr[i], lo*lo, hi*hi))) // the bounded σ
	}
	for k := range c.Population {
		c.truncatedNormal(c.z)
		row := c.pop[k*d : (k+1)*d]
		for i := range row {
			row[i] = c.mu[i] + c.second[i]*c.z[i]
		}
	}
}

// truncatedNormal fills z with standard normals, redrawing every value
// outside [−2, 2] until none is, as mbrl-lib's truncated_normal_ does.
func (c *CEM) truncatedNormal(z []float64) {
	for i := range z {
		z[i] = math.Inf(1)
	}
	for {
		redraw := 0
		for _, v := range z {
			if !(v >= -2 && v <= 2) {
				redraw++
			}
		}
		if redraw == 0 {
			return
		}
		start, j := c.rng.Take(redraw), 0
		for i, v := range z {
			if !(v >= -2 && v <= 2) {
				z[i] = float64(engine.NormalAt(c.rng.Seed, start, j, 0, 1))
				j++
			}
		}
	}
}

// refit moves the mean and variance towards the elites of the scored
// population.
func (c *CEM) refit() {
	d := len(c.Low)
	for i := range c.order {
		c.order[i] = i
	}
	// Highest value first; NaN last (mbrl-lib sets NaN values to −1e10);
	// ties keep the population's order.
	slices.SortStableFunc(c.order, func(a, b int) int {
		x, y := c.values[a], c.values[b]
		if math.IsNaN(x) || math.IsNaN(y) {
			return cmp.Compare(boolInt(math.IsNaN(x)), boolInt(math.IsNaN(y)))
		}
		return cmp.Compare(y, x)
	})
	clear(c.mean)
	clear(c.second)
	elites := c.order[:c.Elites]
	for _, k := range elites {
		for i, v := range c.pop[k*d : (k+1)*d] {
			c.mean[i] += v
		}
	}
	n := float64(c.Elites)
	for i := range c.mean {
		c.mean[i] /= n
	}
	for _, k := range elites {
		for i, v := range c.pop[k*d : (k+1)*d] {
			c.second[i] += (v - c.mean[i]) * (v - c.mean[i])
		}
	}
	a := c.Alpha
	for i := range c.mu {
		c.mu[i] = a*c.mu[i] + (1-a)*c.mean[i]
		c.vr[i] = a*c.vr[i] + (1-a)*c.second[i]/n
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
