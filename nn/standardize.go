package nn

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// minStd is the smallest standard deviation a Standardizer divides by; a
// feature whose σ is below it (a constant feature) gets σ = 1, as in
// jannerm/mbpo's TensorStandardScaler.fit (sigma[sigma < 1e-12] = 1.0).
const minStd = 1e-12

// fitChunk is the number of rows Fit processes per engine call, bounding its
// scratch at fitChunk·D elements whatever the data set's size.
const fitChunk = 4096

// StandardizerSpecs returns the specs of a standardiser of d features:
// prefix+"mean" and prefix+"std", both [1, d]. They belong in buffers
// (NewBuffers): they are fitted, not trained.
func StandardizerSpecs(prefix string, d int) []ParamSpec {
	return []ParamSpec{
		{Name: prefix + "mean", Shape: []int{1, d}},
		{Name: prefix + "std", Shape: []int{1, d}},
	}
}

// Standardizer maps features to zero mean and unit variance,
// x̂ = (x − μ)/σ, with μ and σ fitted on data.
type Standardizer struct {
	D         int
	Mean, Std *engine.Tensor // [1, D] views into the buffers

	eng     engine.Engine
	scratch *engine.Tensor // [fitChunk·D] for Fit, allocated on first use
	acc     *engine.Tensor // [1, D] partial sums for Fit
}

// NewStandardizer returns the standardiser whose statistics are
// prefix+"mean" and prefix+"std" of p (as made by StandardizerSpecs), and
// sets them to the identity map (μ = 0, σ = 1).
func NewStandardizer(p *Params, prefix string) *Standardizer {
	m, s := p.Param(prefix+"mean"), p.Param(prefix+"std")
	if len(m.Shape) != 2 || m.Shape[0] != 1 || len(s.Shape) != 2 || s.Shape[0] != 1 || s.Shape[1] != m.Shape[1] {
		panic(fmt.Sprintf("nn: NewStandardizer %q: mean %v and std %v, want [1 D]", prefix, m.Shape, s.Shape))
	}
	eng := p.Engine()
	st := &Standardizer{D: m.Shape[1], Mean: m.Value, Std: s.Value, eng: eng}
	eng.Fill(st.Mean, 0)
	eng.Fill(st.Std, 1)
	return st
}

// Fit sets μ and σ to the mean and standard deviation (population, ddof 0,
// as numpy's std in jannerm/mbpo) of each column of x [N, D], N ≥ 1. A σ
// below 1e-12 becomes 1. Fit works in two passes over chunks of rows with a
// scratch buffer allocated on first use, and downloads the D values of σ to
// the host once to apply the σ rule (and uploads them back); it allocates
// nothing after the first call.
func (s *Standardizer) Fit(x *engine.Tensor) {
	if x.Rank() != 2 || x.Dim(1) != s.D || x.Dim(0) < 1 {
		panic(fmt.Sprintf("nn: Standardizer.Fit: data %v, want [N %d] with N ≥ 1", x.Shape(), s.D))
	}
	n, d := x.Dim(0), s.D
	if s.scratch == nil {
		s.scratch = s.eng.New(engine.Float32, fitChunk*d)
		s.acc = s.eng.New(engine.Float32, 1, d)
	}
	// Pass 1: μ = Σ x / N.
	s.eng.Fill(s.Mean, 0)
	for r := 0; r < n; r += fitChunk {
		rows := min(fitChunk, n-r)
		s.eng.ReduceCols(engine.Sum, s.acc, x.View(r*d, rows, d))
		s.eng.Axpby(s.Mean, 1/float32(n), s.acc, 1)
	}
	// Pass 2: σ² = Σ (x − μ)² / N; centring first keeps the sum accurate.
	s.eng.Fill(s.Std, 0)
	for r := 0; r < n; r += fitChunk {
		rows := min(fitChunk, n-r)
		c := s.scratch.View(0, rows, d)
		s.eng.Binary(engine.Sub, c, x.View(r*d, rows, d), s.Mean)
		s.eng.Unary(engine.Square, c, c)
		s.eng.ReduceCols(engine.Sum, s.acc, c)
		s.eng.Axpby(s.Std, 1/float32(n), s.acc, 1)
	}
	s.eng.Unary(engine.Sqrt, s.Std, s.Std)
	sd := make([]float32, d)
	s.eng.Download(sd, s.Std)
	for i, v := range sd {
		if !(v >= minStd) { // NaN too
			sd[i] = 1
		}
	}
	s.eng.Upload(s.Std, sd)
}

// Apply computes dst = (x − μ)/σ for x with rows of D features ([B, D] or
// [E, B, D]). dst has x's length and may be x.
func (s *Standardizer) Apply(dst, x *engine.Tensor) {
	s.check("Apply", x)
	s.eng.Binary(engine.Sub, dst, x, s.Mean)
	s.eng.Binary(engine.Div, dst, dst, s.Std)
}

// Invert computes dst = x·σ + μ, the inverse of Apply. dst may be x.
func (s *Standardizer) Invert(dst, x *engine.Tensor) {
	s.check("Invert", x)
	s.eng.Binary(engine.Mul, dst, x, s.Std)
	s.eng.Binary(engine.Add, dst, dst, s.Mean)
}

func (s *Standardizer) check(op string, x *engine.Tensor) {
	if x.Dim(-1) != s.D {
		panic(fmt.Sprintf("nn: Standardizer.%s: x %v, want rows of %d features", op, x.Shape(), s.D))
	}
}

// Free releases Fit's scratch buffers (not the statistics, which belong to
// their Params).
func (s *Standardizer) Free() {
	if s.scratch != nil {
		s.eng.Free(s.scratch)
		s.eng.Free(s.acc)
		s.scratch, s.acc = nil, nil
	}
}
