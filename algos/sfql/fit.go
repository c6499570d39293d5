package sfql

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// rcond is the relative size below which a singular value counts as zero
// in the least-squares fits: features never seen (a column of zeros) or
// always seen together give a rank-deficient problem, solved with the
// minimum-norm w, which leaves their unidentified part at 0.
const rcond = 1e-10

// FitTask fits the task vector of a reward linear in the features, r ≈ φ·w,
// by least squares on samples (φᵢ, rᵢ): the w minimising Σᵢ (rᵢ − φᵢ·w)²,
// of least norm when the φᵢ do not determine it ("idea 1": the reward is a
// regression on the features). phi holds one row of d features per sample.
// It also returns the rank of the samples' features: w is unique when it
// is d. It returns an error for no samples, rows of different lengths, or
// a value that is not finite.
func FitTask(phi [][]float64, r []float64) (w []float64, rank int, err error) {
	if len(phi) == 0 || len(phi) != len(r) {
		return nil, 0, fmt.Errorf("fit task: %d feature rows and %d rewards: need the same number, at least one", len(phi), len(r))
	}
	d := len(phi[0])
	if d == 0 {
		return nil, 0, errors.New("fit task: feature rows are empty")
	}
	a := mat.NewDense(len(phi), d, nil)
	for i, row := range phi {
		if len(row) != d {
			return nil, 0, fmt.Errorf("fit task: feature row %d has %d values, row 0 has %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("fit task: feature %d of row %d is %g: must be finite", j, i, v)
			}
		}
		a.SetRow(i, row)
		if math.IsNaN(r[i]) || math.IsInf(r[i], 0) {
			return nil, 0, fmt.Errorf("fit task: reward %d is %g: must be finite", i, r[i])
		}
	}
	w, rank = leastSquares(a, mat.NewVecDense(len(r), append([]float64(nil), r...)))
	return w, rank, nil
}

// leastSquares returns the minimum-norm least-squares solution of a·w ≈ b
// through the singular value decomposition of a, and a's rank.
func leastSquares(a *mat.Dense, b *mat.VecDense) ([]float64, int) {
	_, d := a.Dims()
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		// The SVD of a finite matrix converges; this is not reached.
		panic("sfql: SVD of the features did not converge")
	}
	w := make([]float64, d)
	rank := svd.Rank(rcond)
	if rank == 0 { // every φ is 0: no information about w
		return w, 0
	}
	var x mat.VecDense
	svd.SolveVecTo(&x, b, rank)
	copy(w, x.RawVector().Data)
	return w, rank
}

// TaskFit is FitTask kept up to date one sample at a time, as a training
// loop needs it: it accumulates the normal equations ΦᵀΦ and Φᵀr (d×d and
// d values, whatever the number of samples) and solves them for the
// minimum-norm least-squares w when asked. Samples with φ = 0 carry no
// information and change nothing. The zero value is not usable; use
// NewTaskFit.
type TaskFit struct {
	d       int
	gram    *mat.SymDense // ΦᵀΦ
	moment  *mat.VecDense // Φᵀr
	samples int           // with φ ≠ 0
	w       []float64
	dirty   bool
}

// NewTaskFit returns a fit of d features with no samples: W is 0.
func NewTaskFit(d int) *TaskFit {
	return &TaskFit{d: d, gram: mat.NewSymDense(d, nil), moment: mat.NewVecDense(d, nil), w: make([]float64, d)}
}

// Add adds the sample (φ, r). It panics if φ does not have d values.
func (f *TaskFit) Add(phi []float64, r float64) {
	if len(phi) != f.d {
		panic(fmt.Sprintf("sfql: task fit of %d features given %d", f.d, len(phi)))
	}
	zero := true
	for _, v := range phi {
		zero = zero && v == 0
	}
	if zero {
		return
	}
	f.gram.SymRankOne(f.gram, 1, mat.NewVecDense(f.d, phi))
	f.moment.AddScaledVec(f.moment, r, mat.NewVecDense(f.d, phi))
	f.samples++
	f.dirty = true
}

// Samples is the number of samples with φ ≠ 0 added.
func (f *TaskFit) Samples() int { return f.samples }

// W returns the least-squares task vector of the samples so far (0 before
// any), of least norm where they do not determine it. The slice is the
// fit's own, valid until the next Add.
func (f *TaskFit) W() []float64 {
	if f.dirty {
		// The minimum-norm solution of ΦᵀΦ·w = Φᵀr is that of Φ·w ≈ r.
		f.w, _ = leastSquares(mat.DenseCopyOf(f.gram), f.moment)
		f.dirty = false
	}
	return f.w
}
