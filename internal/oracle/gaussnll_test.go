package oracle

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Sizes of the test problem: in → h → h → 2·D, with the batch of n rows.
const (
	testIn, testHidden, testD, testN = 5, 8, 3, 7
	testSeed                         = 20240611
	// boundCoef is the weight of the log-variance bound penalty in the
	// official PETS code (dmbrl/modeling/models/BNN.py, finalize).
	boundCoef = 0.01
)

// randomProblem draws an MLP, a batch of inputs and targets from rng. The
// bounds are set away from nn's initial 0.5 and −10
// and close enough to the raw log-variances that both softplus terms have
// slopes far from 0 and 1, so their gradients are exercised.
func randomProblem(rng *rand.Rand) (m MLP, x, y []float64) {
	uniform := func(n int, lo, hi float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = lo + (hi-lo)*rng.Float64()
		}
		return v
	}
	m.Sizes = []int{testIn, testHidden, testHidden, 2 * testD}
	for l := range len(m.Sizes) - 1 {
		// Glorot-uniform scale keeps the activations O(1).
		a := math.Sqrt(6 / float64(m.Sizes[l]+m.Sizes[l+1]))
		m.W = append(m.W, uniform(m.Sizes[l]*m.Sizes[l+1], -a, a))
		m.B = append(m.B, uniform(m.Sizes[l+1], -0.5, 0.5))
	}
	m.MaxLogVar = uniform(testD, 0.2, 1.2)
	m.MinLogVar = uniform(testD, -1.5, -0.5)
	x = uniform(testN*testIn, -2, 2)
	y = uniform(testN*testD, -1, 1)
	return m, x, y
}

// referenceNLL computes GaussianNLL's loss by hand in float64, without
// gorgonia, for the finite-difference check.
func referenceNLL(m *MLP, x, y []float64, boundCoef float64) float64 {
	softplus := func(v float64) float64 { return math.Log1p(math.Exp(v)) }
	in, d, n := m.Sizes[0], m.D(), len(x)/m.Sizes[0]
	var loss float64
	for r := range n {
		h := x[r*in : (r+1)*in]
		for l := range m.W {
			rows, cols := m.Sizes[l], m.Sizes[l+1]
			out := make([]float64, cols)
			for j := range cols {
				s := m.B[l][j]
				for i := range rows {
					s += h[i] * m.W[l][i*cols+j]
				}
				if l < len(m.W)-1 {
					s *= 1 / (1 + math.Exp(-s)) // SiLU
				}
				out[j] = s
			}
			h = out
		}
		for j := range d {
			lv := m.MaxLogVar[j] - softplus(m.MaxLogVar[j]-h[d+j])
			lv = m.MinLogVar[j] + softplus(lv-m.MinLogVar[j])
			e := h[j] - y[r*d+j]
			loss += e*e*math.Exp(-lv) + lv
		}
	}
	loss /= float64(n * d)
	for j := range d {
		loss += boundCoef * (m.MaxLogVar[j] - m.MinLogVar[j])
	}
	return loss
}

// relErr returns ‖got − want‖/‖want‖.
func relErr(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		num += (got[i] - want[i]) * (got[i] - want[i])
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

// TestGaussianNLLFiniteDifference checks the oracle itself: its loss against
// a hand-written float64 forward pass, and its gradient against central
// differences of that forward pass.
func TestGaussianNLLFiniteDifference(t *testing.T) {
	const (
		// Central differences have truncation error O(step²·f''') ≈ 1e-10
		// and rounding error O(ε·|f|/step) ≈ 1e-10 at this step, so the
		// two gradients agree to about 1e-8 relative; 1e-6 leaves margin.
		step = 1e-5
		// The oracle and the reference sum in different orders; float64
		// rounding bounds their difference far below this.
		lossTol, gradTol = 1e-12, 1e-6
	)
	m, x, y := randomProblem(rand.New(rand.NewPCG(testSeed, 0)))
	t.Logf("seed %d, sizes %v, batch %d", testSeed, m.Sizes, testN)

	loss, grad, err := GaussianNLL(&m, x, y, boundCoef)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceNLL(&m, x, y, boundCoef)
	if math.Abs(loss-want) > lossTol*math.Abs(want) {
		t.Errorf("loss: gorgonia %.17g, reference %.17g", loss, want)
	}

	params, grads := m.Tensors(), grad.Tensors()
	for i, p := range params {
		fd := make([]float64, len(p.Values))
		for k := range p.Values {
			v := p.Values[k]
			p.Values[k] = v + step
			up := referenceNLL(&m, x, y, boundCoef)
			p.Values[k] = v - step
			down := referenceNLL(&m, x, y, boundCoef)
			p.Values[k] = v
			fd[k] = (up - down) / (2 * step)
		}
		e := relErr(grads[i].Values, fd)
		t.Logf("%-10s rel err %.2e", p.Name, e)
		if e > gradTol || math.IsNaN(e) {
			t.Errorf("gradient of %s: gorgonia %v, finite difference %v (rel err %.2e > %.0e)", p.Name, grads[i].Values, fd, e, gradTol)
		}
	}
}
