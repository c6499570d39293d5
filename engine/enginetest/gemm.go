package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// gemmShapes are the M, K, N of the Gemm and Linear cases: every odd size
// appears once in each position.
var gemmShapes = [][3]int{{17, 3, 257}, {257, 1, 3}, {3, 257, 17}, {1, 17, 1}}

// ensembles are the ensemble layouts of Gemm: the number of members and
// which operand, if any, has E = 1 and is shared by them all.
var ensembles = []struct {
	name             string
	e                int
	sharedA, sharedB bool
}{
	{"E=1", 1, false, false},
	{"E=7", 7, false, false},
	{"E=7,sharedA", 7, true, false},
	{"E=7,sharedB", 7, false, true},
	{"E=7,sharedA,sharedB", 7, true, true},
}

// gemmScalars are the alpha, beta of the Gemm cases. With beta = 0 the
// suite fills c with NaN, which must not reach the output.
var gemmScalars = [][2]float32{{1, 0}, {-0.5, 0}, {1, 1}, {1.5, -0.25}}

func (s *suite) testGemm(t *testing.T) {
	i := 0
	for _, ens := range ensembles {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				for _, mkn := range gemmShapes {
					for _, ab := range gemmScalars {
						l := layouts[i%2]
						i++
						name := fmt.Sprintf("%s/transA=%t/transB=%t/M=%d,K=%d,N=%d/alpha=%g,beta=%g/%v",
							ens.name, transA, transB, mkn[0], mkn[1], mkn[2], ab[0], ab[1], l)
						t.Run(name, func(t *testing.T) {
							s.gemmCase(t, l, ens.e, ens.sharedA, ens.sharedB, transA, transB, mkn[0], mkn[1], mkn[2], ab[0], ab[1])
						})
					}
				}
			}
		}
	}

	// One large product per transpose case, past the sizes where engines
	// switch to blocked or multi-threaded kernels.
	for _, transA := range []bool{false, true} {
		for _, transB := range []bool{false, true} {
			t.Run(fmt.Sprintf("large/transA=%t/transB=%t/M=257,K=257,N=257", transA, transB), func(t *testing.T) {
				s.gemmCase(t, offset, 1, false, false, transA, transB, 257, 257, 257, 1, 1)
			})
		}
	}

	t.Run("a=b", s.gramCase)

	// a, b and c as non-overlapping views of one allocation, the way
	// layers see a flat parameter buffer.
	t.Run("one-allocation", func(t *testing.T) {
		r := s.rand(t)
		const e, m, k, n = 7, 17, 3, 257
		all := s.alloc(t, r, offset, engine.Float32, e*m*k+e*k*n+e*m*n)
		all.rand(r, -1, 1)
		a := all.view(0, e, k, m) // transposed
		b := all.view(e*m*k, e, k, n)
		c := all.view(e*m*k+e*k*n, e, m, n)
		want, mag := gemmRef(true, false, 2, a.host(), e, b.host(), e, 0.5, c.host(), e, m, k, n)
		s.e.Gemm(true, false, 2, a.t, b.t, 0.5, c.t)
		got := all.read(t)
		near(t, "c", got[e*m*k+e*k*n:], want, mag)
		same(t, "a and b (inputs, must not change)", got[:e*m*k+e*k*n], all.host()[:e*m*k+e*k*n])
	})
}

// gramCase checks c = a·aᵀ with a passed as both operands: inputs may be
// the same tensor, only c must not overlap them.
func (s *suite) gramCase(t *testing.T) {
	r := s.rand(t)
	const e, m, k = 7, 17, 3
	a := s.alloc(t, r, offset, engine.Float32, e, m, k)
	a.rand(r, -1, 1)
	c := s.alloc(t, r, offset, engine.Float32, e, m, m)
	want, mag := gemmRef(false, true, 1, a.host(), e, a.host(), e, 0, nil, e, m, k, m)
	s.e.Gemm(false, true, 1, a.t, a.t, 0, c.t)
	near(t, "c", c.read(t), want, mag)
	a.unchanged(t, "a")
}

func (s *suite) gemmCase(t *testing.T, l layout, e int, sharedA, sharedB, transA, transB bool, m, k, n int, alpha, beta float32) {
	r := s.rand(t)
	ea, eb := e, e
	if sharedA {
		ea = 1
	}
	if sharedB {
		eb = 1
	}
	aShape := matShape(ea, m, k, transA)
	bShape := matShape(eb, k, n, transB)
	if sharedB {
		bShape = append([]int{1}, bShape[len(bShape)-2:]...) // rank 3 with E = 1
	}
	a := s.alloc(t, r, l, engine.Float32, aShape...)
	b := s.alloc(t, r, l, engine.Float32, bShape...)
	c := s.alloc(t, r, l, engine.Float32, matShape(e, m, n, false)...)
	a.rand(r, -1, 1)
	b.rand(r, -1, 1)
	if beta == 0 {
		c.set(constant(c.t.Len(), float32(math.NaN())))
	} else {
		c.rand(r, -1, 1)
	}
	want, mag := gemmRef(transA, transB, alpha, a.host(), ea, b.host(), eb, beta, c.host(), e, m, k, n)
	s.e.Gemm(transA, transB, alpha, a.t, b.t, beta, c.t)
	near(t, "c", c.read(t), want, mag)
	a.unchanged(t, "a")
	b.unchanged(t, "b")
}

// matShape is the shape of an [e, rows, cols] operand, or of its
// transpose: rank 2 when e is 1, as most callers pass it.
func matShape(e, rows, cols int, trans bool) []int {
	if trans {
		rows, cols = cols, rows
	}
	if e == 1 {
		return []int{rows, cols}
	}
	return []int{e, rows, cols}
}

// gemmRef is the float64 reference of Gemm, with the magnitude of its terms,
// |α|·|op(a)|·|op(b)| + |β|·|c| (see tol): a holds ea members, b eb, and a
// member index beyond them reads member 0. When beta is 0, c is not read.
func gemmRef(transA, transB bool, alpha float32, a []float32, ea int, b []float32, eb int, beta float32, c []float32, e, m, k, n int) (out, mag []float64) {
	out, mag = make([]float64, e*m*n), make([]float64, e*m*n)
	for z := range e {
		za, zb := z%ea, z%eb
		for i := range m {
			for j := range n {
				var sum, abs float64
				for p := range k {
					var av, bv float32
					if transA {
						av = a[za*k*m+p*m+i]
					} else {
						av = a[za*m*k+i*k+p]
					}
					if transB {
						bv = b[zb*n*k+j*k+p]
					} else {
						bv = b[zb*k*n+p*n+j]
					}
					sum += float64(av) * float64(bv)
					abs += math.Abs(float64(av) * float64(bv))
				}
				v, g := float64(alpha)*sum, math.Abs(float64(alpha))*abs
				if beta != 0 {
					cv := float64(c[z*m*n+i*n+j])
					v += float64(beta) * cv
					g += math.Abs(float64(beta) * cv)
				}
				out[z*m*n+i*n+j], mag[z*m*n+i*n+j] = v, g
			}
		}
	}
	return out, mag
}

// testLinear checks the package function engine.Linear, which runs the
// engine's fused op when it has one.
func (s *suite) testLinear(t *testing.T) {
	ensembles := []struct {
		name    string
		e       int
		sharedX bool
	}{{"E=1", 1, false}, {"E=7", 7, false}, {"E=7,sharedX", 7, true}}
	i := 0
	for _, ens := range ensembles {
		for _, f := range activations {
			for _, mkn := range gemmShapes {
				l := layouts[i%2]
				i++
				name := fmt.Sprintf("%s/%v/B=%d,In=%d,Out=%d/%v", ens.name, f, mkn[0], mkn[1], mkn[2], l)
				t.Run(name, func(t *testing.T) {
					s.linearCase(t, s.rand(t), l, f, ens.e, ens.sharedX, mkn[0], mkn[1], mkn[2])
				})
			}
		}
	}
}

func (s *suite) linearCase(t *testing.T, r *rand.Rand, l layout, f engine.Activation, e int, sharedX bool, batch, in, out int) {
	ex := e
	if sharedX {
		ex = 1
	}
	x := s.alloc(t, r, l, engine.Float32, matShape(ex, batch, in, false)...)
	w := s.alloc(t, r, l, engine.Float32, matShape(e, in, out, false)...)
	b := s.alloc(t, r, l, engine.Float32, e, 1, out)
	y := s.alloc(t, r, l, engine.Float32, matShape(e, batch, out, false)...)
	x.rand(r, -1, 1)
	w.rand(r, -1, 1)
	b.rand(r, -1, 1)
	y.set(constant(y.t.Len(), float32(math.NaN()))) // y is written, never read
	want, mag := gemmRef(false, false, 1, x.host(), ex, w.host(), e, 0, nil, e, batch, in, out)
	bias := b.host()
	for z := range e {
		for i := range batch {
			for j := range out {
				k := z*batch*out + i*out + j
				bv := float64(bias[z*out+j])
				pre := want[k] + bv
				want[k] = act64(f, pre)
				// The error in the pre-activation reaches y scaled by f'.
				mag[k] = math.Abs(deriv64(f, pre))*(mag[k]+math.Abs(bv)) + math.Abs(want[k])
			}
		}
	}
	engine.Linear(s.e, f, y.t, x.t, w.t, b.t)
	near(t, "y", y.read(t), want, mag)
	x.unchanged(t, "x")
	w.unchanged(t, "w")
	b.unchanged(t, "b")
}
