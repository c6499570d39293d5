package enginetest

import (
	"fmt"
	"math"
	"testing"

	"github.com/imago-rl/imago/engine"
)

var reduceOps = []struct {
	op   engine.ReduceOp
	name string
}{{engine.Sum, "sum"}, {engine.Mean, "mean"}, {engine.MaxOf, "max"}}

// reduceShapes are the shapes of x in the reduction cases, folding to
// [G, M, N] with each of G, M and N taking the values 1, 3, 17 and 257, and
// the last two large enough for an engine's parallel paths.
var reduceShapes = [][]int{{257}, {17, 3}, {1, 1}, {7, 17, 3}, {7, 3, 257}, {2, 3, 17, 1}, {3, 257, 17}, {257, 257}, {3, 257, 257}}

// reduce64 is the float64 reference of an op over v, with the magnitude of
// its terms (see tol).
func reduce64(op engine.ReduceOp, v []float64) (ref, mag float64) {
	switch op {
	case engine.Sum, engine.Mean:
		var sum, abs float64
		for _, x := range v {
			sum += x
			abs += math.Abs(x)
		}
		if op == engine.Mean {
			sum /= float64(len(v))
			abs /= float64(len(v))
		}
		return sum, abs
	case engine.MaxOf:
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m, math.Abs(m)
	}
	panic(fmt.Sprintf("enginetest: no reference for reduce op %d", op))
}

// reduceInputRanges are the ranges of the inputs: mixed signs, and all
// negative, where a maximum that starts from 0 instead of the first element
// is wrong.
var reduceInputRanges = []struct {
	name   string
	lo, hi float64
}{{"mixed", -1, 1}, {"negative", -5, -1}}

func (s *suite) testReduceRows(t *testing.T) { s.testReduce(t, true) }
func (s *suite) testReduceCols(t *testing.T) { s.testReduce(t, false) }

// testReduce checks ReduceRows (rows) or ReduceCols.
func (s *suite) testReduce(t *testing.T, rows bool) {
	i := 0
	for _, op := range reduceOps {
		for _, shape := range reduceShapes {
			for _, in := range reduceInputRanges {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("%s/%s/%s/%v", op.name, shapeName(shape), in.name, l), func(t *testing.T) {
					r := s.rand(t)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := x.rand(r, in.lo, in.hi)
					g, m, n := x.t.Fold3()
					var dstShape []int
					var want, mag []float64
					add := func(ref, m float64) {
						want = append(want, ref)
						mag = append(mag, m)
					}
					if rows {
						dstShape = []int{g * m}
						if len(shape) >= 2 {
							dstShape = append(shape[:len(shape)-1:len(shape)-1], 1)
						}
						for k := range g * m {
							add(reduce64(op.op, to64(xv[k*n:(k+1)*n])))
						}
					} else {
						dstShape = []int{g, 1, n}
						if g == 1 {
							dstShape = []int{n} // a bias gradient
						}
						col := make([]float64, m)
						for gi := range g {
							for j := range n {
								for mi := range m {
									col[mi] = float64(xv[gi*m*n+mi*n+j])
								}
								add(reduce64(op.op, col))
							}
						}
					}
					dst := s.alloc(t, r, l, engine.Float32, dstShape...)
					dst.set(constant(dst.t.Len(), float32(math.NaN()))) // written, never read
					if rows {
						s.e.ReduceRows(op.op, dst.t, x.t)
					} else {
						s.e.ReduceCols(op.op, dst.t, x.t)
					}
					s.checkElementwise(t, op.op == engine.MaxOf, "dst", dst.read(t), want, mag)
					x.unchanged(t, "x")
				})
			}
		}
	}
}
