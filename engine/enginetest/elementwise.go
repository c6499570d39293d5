package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

var activations = []engine.Activation{
	engine.Identity, engine.ReLU, engine.SiLU, engine.Tanh, engine.Sigmoid, engine.Softplus,
}

// elementwiseShapes are the shapes of the elementwise cases; elementwise ops
// see only lengths. The last, of 66049 elements, is large enough to reach
// the multi-threaded or multi-block paths an engine takes past some size
// (2¹⁵ adds of work on the CPU engine).
var elementwiseShapes = [][]int{{1}, {257}, {7, 17, 3}, {257, 257}}

// activationSpecials are planted among the random inputs of Activate and
// ActivateGrad: ReLU's kink, and values where a naive sigmoid, softplus or
// SiLU overflows or loses all precision.
var activationSpecials = []float32{0, 30, -30}

// activationExtremes are the inputs of the extremes cases, each checked on
// its own: exp(±100) overflows float32, so only a stable formula gets
// softplus(100) = 100 and σ(−100) ≈ 4e-44.
var activationExtremes = []float32{-100, -88, -30, -20, -10, -1, -1e-3, 0, 1e-3, 1, 10, 20, 30, 88, 100}

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	z := math.Exp(x)
	return z / (1 + z)
}

// act64 is the float64 reference of Activate.
func act64(f engine.Activation, x float64) float64 {
	switch f {
	case engine.Identity:
		return x
	case engine.ReLU:
		return math.Max(x, 0)
	case engine.SiLU:
		return x * sigmoid64(x)
	case engine.Tanh:
		return math.Tanh(x)
	case engine.Sigmoid:
		return sigmoid64(x)
	case engine.Softplus:
		return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
	}
	panic(fmt.Sprintf("enginetest: no reference for activation %v", f))
}

// deriv64 is the float64 reference of f'(x).
func deriv64(f engine.Activation, x float64) float64 {
	switch f {
	case engine.Identity:
		return 1
	case engine.ReLU:
		if x > 0 {
			return 1
		}
		return 0 // f'(0) = 0, as engine.ReLU documents
	case engine.SiLU:
		s := sigmoid64(x)
		return s * (1 + x*(1-s))
	case engine.Tanh:
		y := math.Tanh(x)
		return 1 - y*y
	case engine.Sigmoid:
		s := sigmoid64(x)
		return s * (1 - s)
	case engine.Softplus:
		return sigmoid64(x)
	}
	panic(fmt.Sprintf("enginetest: no reference for activation %v", f))
}

// derivMag is the magnitude of the terms of f'(x) as an engine may compute
// it, from x or from y = f(x) (see tol): 1 − y² for tanh and y·(1 − y) for
// the sigmoid cancel where f saturates.
func derivMag(f engine.Activation, x float64) float64 {
	switch f {
	case engine.SiLU:
		return sigmoid64(x) * (1 + math.Abs(x))
	case engine.Tanh:
		y := math.Tanh(x)
		return 1 + y*y
	case engine.Sigmoid, engine.Softplus:
		return sigmoid64(x)
	}
	return math.Abs(deriv64(f, x))
}

// exactActivation reports whether f involves no rounding, so that every
// engine computes it, and its gradient, exactly.
func exactActivation(f engine.Activation) bool { return f == engine.Identity || f == engine.ReLU }

// activationInputs returns n uniform draws from [-4, 4] with the specials
// planted at random places when there is room for them all.
func activationInputs(r *rand.Rand, n int) []float32 {
	x := uniform(r, n, -4, 4)
	if n >= len(activationSpecials) {
		for i, k := range r.Perm(n)[:len(activationSpecials)] {
			x[k] = activationSpecials[i]
		}
	}
	return x
}

// aliasNames name the aliasing of an op whose destination may be its input.
var aliasNames = []string{"dst!=x", "dst=x"}

func (s *suite) testActivate(t *testing.T) {
	i := 0
	for _, f := range activations {
		for _, shape := range elementwiseShapes {
			for alias, aliasName := range aliasNames {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("%v/%s/%s/%v", f, shapeName(shape), aliasName, l), func(t *testing.T) {
					r := s.rand(t)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := x.set(activationInputs(r, prod(shape))).host()
					want := make([]float64, len(xv))
					for i, v := range xv {
						want[i] = act64(f, float64(v))
					}
					dst := x
					if alias == 0 {
						dst = s.alloc(t, r, l, engine.Float32, shape...)
						dst.rand(r, -1, 1)
					}
					s.e.Activate(f, dst.t, x.t)
					s.checkElementwise(t, exactActivation(f), "dst", dst.read(t), want, nil)
					if alias == 0 {
						x.unchanged(t, "x")
					}
				})
			}
		}
		t.Run(fmt.Sprintf("%v/extremes", f), func(t *testing.T) {
			r := s.rand(t)
			x := s.alloc(t, r, fresh, engine.Float32, len(activationExtremes))
			x.set(activationExtremes)
			dst := s.alloc(t, r, fresh, engine.Float32, len(activationExtremes))
			s.e.Activate(f, dst.t, x.t)
			want := make([]float64, len(activationExtremes))
			for i, v := range activationExtremes {
				want[i] = act64(f, float64(v))
			}
			nearEach(t, fmt.Sprintf("%v(x)", f), activationExtremes, dst.read(t), want)
		})
	}
}

func (s *suite) testActivateGrad(t *testing.T) {
	i := 0
	for _, f := range activations {
		for _, shape := range elementwiseShapes {
			for alias, aliasName := range []string{"dx!=dy", "dx=dy"} {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("%v/%s/%s/%v", f, shapeName(shape), aliasName, l), func(t *testing.T) {
					r := s.rand(t)
					n := prod(shape)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := x.set(activationInputs(r, n)).host()
					y := s.alloc(t, r, l, engine.Float32, shape...)
					yv := make([]float32, n)
					for i, v := range xv {
						yv[i] = float32(act64(f, float64(v)))
					}
					y.set(yv)
					dy := s.alloc(t, r, l, engine.Float32, shape...)
					dyv := dy.rand(r, -1, 1)
					want, mag := make([]float64, n), make([]float64, n)
					for i, v := range xv {
						want[i] = float64(dyv[i]) * deriv64(f, float64(v))
						mag[i] = math.Abs(float64(dyv[i])) * derivMag(f, float64(v))
					}
					dx := dy
					if alias == 0 {
						dx = s.alloc(t, r, l, engine.Float32, shape...)
						dx.rand(r, -1, 1)
					}
					s.e.ActivateGrad(f, dx.t, dy.t, x.t, y.t)
					s.checkElementwise(t, exactActivation(f), "dx", dx.read(t), want, mag)
					x.unchanged(t, "x")
					y.unchanged(t, "y")
					if alias == 0 {
						dy.unchanged(t, "dy")
					}
				})
			}
		}
		t.Run(fmt.Sprintf("%v/extremes", f), func(t *testing.T) {
			r := s.rand(t)
			n := len(activationExtremes)
			x := s.alloc(t, r, fresh, engine.Float32, n)
			x.set(activationExtremes)
			y := s.alloc(t, r, fresh, engine.Float32, n)
			dy := s.alloc(t, r, fresh, engine.Float32, n)
			dx := s.alloc(t, r, fresh, engine.Float32, n)
			want := make([]float64, n)
			for i, v := range activationExtremes {
				y.host()[i] = float32(act64(f, float64(v)))
				want[i] = deriv64(f, float64(v))
			}
			y.set(y.host())
			dy.set(constant(n, 1))
			s.e.ActivateGrad(f, dx.t, dy.t, x.t, y.t)
			nearEach(t, fmt.Sprintf("%v'(x)", f), activationExtremes, dx.read(t), want)
		})
	}
}

// checkElementwise compares an elementwise result with its reference,
// exactly when the op involves no rounding.
func (s *suite) checkElementwise(t *testing.T, exact bool, what string, got []float32, want, mag []float64) {
	t.Helper()
	if !exact {
		near(t, what, got, want, mag)
		return
	}
	w := make([]float32, len(want))
	for i, v := range want {
		w[i] = float32(v)
	}
	same(t, what, got, w)
}

// nearEach reports an error for each element that is not within tol of its
// reference relative to max(|ref|, 1): the check of the extremes, where a
// norm over the whole tensor would hide a wrong value among large ones.
func nearEach(t *testing.T, what string, x, got []float32, want []float64) {
	t.Helper()
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*math.Max(math.Abs(want[i]), 1)) {
			t.Errorf("%s at x = %g: got %.9g, want %.9g", what, x[i], got[i], want[i])
		}
	}
}

var unaryOps = []struct {
	op     engine.UnaryOp
	name   string
	lo, hi float64 // the range of the inputs
	ref    func(float64) float64
}{
	{engine.Exp, "exp", -5, 5, math.Exp},
	{engine.Log, "log", 1e-2, 100, math.Log},
	{engine.Sqrt, "sqrt", 0, 100, math.Sqrt},
	{engine.Square, "square", -3, 3, func(x float64) float64 { return x * x }},
	{engine.Abs, "abs", -3, 3, math.Abs},
}

func (s *suite) testUnary(t *testing.T) {
	i := 0
	for _, u := range unaryOps {
		for _, shape := range elementwiseShapes {
			for alias, aliasName := range aliasNames {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("%s/%s/%s/%v", u.name, shapeName(shape), aliasName, l), func(t *testing.T) {
					r := s.rand(t)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := x.rand(r, u.lo, u.hi)
					want := make([]float64, len(xv))
					for i, v := range xv {
						want[i] = u.ref(float64(v))
					}
					dst := x
					if alias == 0 {
						dst = s.alloc(t, r, l, engine.Float32, shape...)
						dst.rand(r, -1, 1)
					}
					s.e.Unary(u.op, dst.t, x.t)
					s.checkElementwise(t, u.op == engine.Abs, "dst", dst.read(t), want, nil)
					if alias == 0 {
						x.unchanged(t, "x")
					}
				})
			}
		}
	}

	// The values engine.UnaryOp documents outside the functions' domains.
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name    string
		op      engine.UnaryOp
		x, want []float32
	}{
		{"log", engine.Log, []float32{0, -1, -inf, 1}, []float32{-inf, nan, nan, 0}},
		{"sqrt", engine.Sqrt, []float32{-1, -inf, 0, 4}, []float32{nan, nan, 0, 2}},
	} {
		t.Run(c.name+"/specials", func(t *testing.T) {
			r := s.rand(t)
			x := s.alloc(t, r, fresh, engine.Float32, len(c.x))
			x.set(c.x)
			dst := s.alloc(t, r, fresh, engine.Float32, len(c.x))
			s.e.Unary(c.op, dst.t, x.t)
			same(t, fmt.Sprintf("%s(%v)", c.name, c.x), dst.read(t), c.want)
		})
	}
}

var binaryOps = []struct {
	op   engine.BinaryOp
	name string
}{
	{engine.Add, "add"}, {engine.Sub, "sub"}, {engine.Mul, "mul"}, {engine.Div, "div"},
	{engine.Min, "min"}, {engine.Max, "max"}, {engine.GE, "ge"},
}

// binary64 is the float64 reference of Binary.
func binary64(op engine.BinaryOp, a, b float64) float64 {
	switch op {
	case engine.Add:
		return a + b
	case engine.Sub:
		return a - b
	case engine.Mul:
		return a * b
	case engine.Div:
		return a / b
	case engine.Min:
		return math.Min(a, b)
	case engine.Max:
		return math.Max(a, b)
	case engine.GE:
		if a >= b {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("enginetest: no reference for binary op %d", op))
}

// binaryCases pair a's shape with b's, one case per broadcast mode of
// Binary and per way of folding a.
var binaryCases = []struct {
	mode   string
	a, b   []int
	sameAB bool // b has a's length
}{
	{"same", []int{7, 17, 3}, []int{7, 17, 3}, true},
	{"same", []int{257}, []int{257}, true},
	{"same", []int{1}, []int{1}, true},
	{"group-row", []int{7, 17, 3}, []int{7, 1, 3}, false},
	{"group-row", []int{2, 3, 5, 7}, []int{2, 3, 1, 7}, false},
	{"row", []int{17, 257}, []int{257}, false},
	{"row", []int{7, 17, 3}, []int{3}, false},
	{"row", []int{2, 3, 5, 7}, []int{1, 7}, false},
	{"same", []int{257, 257}, []int{257, 257}, true}, // large, as in elementwiseShapes
	{"group-row", []int{7, 37, 257}, []int{7, 1, 257}, false},
	{"row", []int{7, 37, 257}, []int{257}, false},
}

func (s *suite) testBinary(t *testing.T) {
	i := 0
	for _, op := range binaryOps {
		for _, c := range binaryCases {
			aliases := []string{"dst", "dst=a"}
			if c.sameAB {
				aliases = append(aliases, "dst=b", "dst=a=b")
			}
			for _, alias := range aliases {
				l := layouts[i%2]
				i++
				name := fmt.Sprintf("%s/%s/a=%s,b=%s/%s/%v", op.name, c.mode, shapeName(c.a), shapeName(c.b), alias, l)
				t.Run(name, func(t *testing.T) {
					s.binaryCase(t, l, op.op, c.a, c.b, alias)
				})
			}
		}
	}
}

func (s *suite) binaryCase(t *testing.T, l layout, op engine.BinaryOp, aShape, bShape []int, alias string) {
	r := s.rand(t)
	a := s.alloc(t, r, l, engine.Float32, aShape...)
	av := uniform(r, prod(aShape), -2, 2)
	b := a
	if alias != "dst=a=b" {
		b = s.alloc(t, r, l, engine.Float32, bShape...)
		bv := uniform(r, prod(bShape), -2, 2)
		if op == engine.Div {
			for i, v := range bv { // keep the divisor away from 0
				bv[i] = float32(math.Copysign(0.5+math.Abs(float64(v))*0.75, float64(v)))
			}
		}
		b.set(bv)
	}
	// bIndex maps an element of a to the element of b it pairs with.
	g, m, n := a.t.Fold3()
	bIndex := func(i int) int {
		switch b.t.Len() {
		case a.t.Len():
			return i
		case g * n:
			return i/(m*n)*n + i%n
		}
		return i % n
	}
	// Plant ties, where Min, Max and GE must agree with the reference
	// exactly (GE is 1 at a tie).
	if b != a {
		for range max(1, len(av)/8) {
			i := r.IntN(len(av))
			av[i] = b.host()[bIndex(i)]
		}
	}
	a.set(av)
	bv := b.host()
	want := make([]float64, len(av))
	for i, v := range av {
		want[i] = binary64(op, float64(v), float64(bv[bIndex(i)]))
	}
	var dst *buf
	switch alias {
	case "dst":
		dst = s.alloc(t, r, l, engine.Float32, aShape...)
		dst.rand(r, -1, 1)
	case "dst=a", "dst=a=b":
		dst = a
	case "dst=b":
		dst = b
	}
	s.e.Binary(op, dst.t, a.t, b.t)
	exact := op == engine.Min || op == engine.Max || op == engine.GE
	s.checkElementwise(t, exact, "dst", dst.read(t), want, nil)
	if dst != a {
		a.unchanged(t, "a")
	}
	if dst != b {
		b.unchanged(t, "b")
	}
}

func (s *suite) testScale(t *testing.T) {
	i := 0
	for _, ab := range [][2]float32{{2, 0}, {-0.5, 3}, {1, -1}, {0, 1}} {
		for _, shape := range elementwiseShapes {
			for alias, aliasName := range aliasNames {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("alpha=%g,beta=%g/%s/%s/%v", ab[0], ab[1], shapeName(shape), aliasName, l), func(t *testing.T) {
					r := s.rand(t)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := x.rand(r, -2, 2)
					want, mag := make([]float64, len(xv)), make([]float64, len(xv))
					for i, v := range xv {
						want[i] = float64(ab[0])*float64(v) + float64(ab[1])
						mag[i] = math.Abs(float64(ab[0])*float64(v)) + math.Abs(float64(ab[1]))
					}
					dst := x
					if alias == 0 {
						dst = s.alloc(t, r, l, engine.Float32, shape...)
						dst.rand(r, -1, 1)
					}
					s.e.Scale(dst.t, x.t, ab[0], ab[1])
					near(t, "dst", dst.read(t), want, mag)
					if alias == 0 {
						x.unchanged(t, "x")
					}
				})
			}
		}
	}
}

func (s *suite) testAxpby(t *testing.T) {
	i := 0
	for _, ab := range [][2]float32{{1, 1}, {0.5, -2}, {-1, 0}, {0, 0.5}} {
		for _, shape := range elementwiseShapes {
			l := layouts[i%2]
			i++
			t.Run(fmt.Sprintf("alpha=%g,beta=%g/%s/%v", ab[0], ab[1], shapeName(shape), l), func(t *testing.T) {
				r := s.rand(t)
				x := s.alloc(t, r, l, engine.Float32, shape...)
				xv := x.rand(r, -2, 2)
				dst := s.alloc(t, r, l, engine.Float32, shape...)
				dv := dst.rand(r, -2, 2)
				want, mag := make([]float64, len(xv)), make([]float64, len(xv))
				for i := range xv {
					ax, by := float64(ab[0])*float64(xv[i]), float64(ab[1])*float64(dv[i])
					want[i], mag[i] = ax+by, math.Abs(ax)+math.Abs(by)
				}
				s.e.Axpby(dst.t, ab[0], x.t, ab[1])
				near(t, "dst", dst.read(t), want, mag)
				x.unchanged(t, "x")
			})
		}
	}
}

func (s *suite) testClamp(t *testing.T) {
	i := 0
	for _, lohi := range [][2]float32{{-0.5, 0.5}, {0, 1}, {-2, -1}, {0.25, 0.25}} {
		for _, shape := range elementwiseShapes {
			for alias, aliasName := range aliasNames {
				l := layouts[i%2]
				i++
				t.Run(fmt.Sprintf("lo=%g,hi=%g/%s/%s/%v", lohi[0], lohi[1], shapeName(shape), aliasName, l), func(t *testing.T) {
					r := s.rand(t)
					x := s.alloc(t, r, l, engine.Float32, shape...)
					xv := uniform(r, prod(shape), -3, 3)
					xv[r.IntN(len(xv))] = lohi[0] // the bounds themselves
					xv[r.IntN(len(xv))] = lohi[1]
					x.set(xv)
					want := make([]float64, len(xv))
					for i, v := range xv {
						want[i] = math.Min(math.Max(float64(v), float64(lohi[0])), float64(lohi[1]))
					}
					dst := x
					if alias == 0 {
						dst = s.alloc(t, r, l, engine.Float32, shape...)
						dst.rand(r, -1, 1)
					}
					s.e.Clamp(dst.t, x.t, lohi[0], lohi[1])
					s.checkElementwise(t, true, "dst", dst.read(t), want, nil)
					if alias == 0 {
						x.unchanged(t, "x")
					}
				})
			}
		}
	}
}
