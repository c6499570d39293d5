// Package enginetest is the conformance suite of imago's engines. An
// implementation of engine.Engine runs it from its own tests, as slog
// handlers run testing/slogtest:
//
//	func TestConformance(t *testing.T) { enginetest.Run(t, cpu.New()) }
//
// Every op is run on fresh random inputs and compared with a float64
// reference computed here, in plain loops on host copies of the inputs
// (llm.c's CPU reference beside every kernel). Sizes are odd (1, 3, 17, 257)
// so that tiling and vector remainders are exercised, ensembles have E = 1
// and E = 7, and outputs are placed both in allocations of their own and at
// odd offsets inside larger ones whose other elements must not change.
//
// The inputs are drawn from a seed that Run logs; setting the environment
// variable IMAGO_TEST_SEED to it reproduces a failure. Each subtest draws
// from a stream of its own, keyed by its name, so a failing subtest run
// alone with -run sees the same inputs.
package enginetest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// SeedEnv names the environment variable that fixes the seed of the inputs.
const SeedEnv = "IMAGO_TEST_SEED"

// tol bounds the relative error of an op computed in float32 against its
// float64 reference: ‖out − ref‖₂ ≤ tol·‖mag‖₂, where mag is the magnitude
// of the terms each reference value is made of: |α|·|A|·|B| + |β|·|C| for
// Gemm, Σ|x| for a sum, |ref| itself for an op without sums. Rounding errors
// scale with the terms, not with what is left of them after cancellation
// (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., §3.1),
// which is how the reference BLAS tests judge Gemm (SMMCH in sblat3.f
// divides each error by |α|·|A|·|B| + |β|·|C|); measured against ‖ref‖₂, a
// 17-term dot product that happens to cancel to 1% of its terms fails a
// correct engine.
//
// float32's unit roundoff is u = 2⁻²⁴ ≈ 6e-8. The longest sums here have a
// few hundred terms (K ≤ 257 in Gemm, N ≤ 257 in reductions), whose
// rounding errors on random data grow like √K·u ≈ 1e-6 (Higham §2.8), and
// the elementwise functions are accurate to a few ulps. 1e-5 leaves an order
// of magnitude over that and is still far below the errors of a wrong index,
// a dropped term or a wrong formula, which are of order 1/K or more.
const tol = 1e-5

// floor is the RMS magnitude below which a reference counts as zero: the
// error is then measured against floor·√n, so an output that should vanish
// (ReLU of negative inputs, the gradient of a saturated sigmoid) is held to
// an RMS error of tol·floor = 1e-8, a fraction of an ulp of the O(1) inputs
// the suite draws, rather than to a relative error of a tiny number.
const floor = 1e-3

// Run runs the conformance suite against e. It allocates and frees tensors
// on e but leaves e open: the caller owns it.
func Run(t *testing.T, e engine.Engine) {
	s := &suite{e: e, seed: inputSeed(t)}
	t.Logf("enginetest: engine %q, input seed %d (set %s=%d to reproduce)", e.Name(), s.seed, SeedEnv, s.seed)
	if e.Name() == "" {
		t.Error("Name() is empty")
	}
	t.Run("Memory", s.testMemory)
	t.Run("Gemm", s.testGemm)
	t.Run("Linear", s.testLinear)
	t.Run("EnsembleRowForward", s.testEnsembleRowForward)
	t.Run("Rollout", s.testRollout)
	t.Run("Activate", s.testActivate)
	t.Run("ActivateGrad", s.testActivateGrad)
	t.Run("Unary", s.testUnary)
	t.Run("Binary", s.testBinary)
	t.Run("Scale", s.testScale)
	t.Run("Axpby", s.testAxpby)
	t.Run("Clamp", s.testClamp)
	t.Run("ReduceRows", s.testReduceRows)
	t.Run("ReduceCols", s.testReduceCols)
	t.Run("Gather", s.testGather)
	t.Run("Scatter", s.testScatter)
	t.Run("CopyCols", s.testCopyCols)
	t.Run("Adam", s.testAdam)
	t.Run("Polyak", s.testPolyak)
	t.Run("Rand", s.testRand)
	t.Run("Panics", s.testPanics)
	e.Sync()
}

func inputSeed(t *testing.T) uint64 {
	if v := os.Getenv(SeedEnv); v != "" {
		seed, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, v, err)
		}
		return seed
	}
	// The global source of math/rand/v2 is seeded from the operating
	// system's entropy, not the clock.
	return rand.Uint64()
}

type suite struct {
	e    engine.Engine
	seed uint64
}

// rand returns the source of t's inputs: a function of the suite's seed and
// t's name only.
func (s *suite) rand(t *testing.T) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(s.seed, h.Sum64()))
}

// layout says where a tensor under test lives.
type layout int

const (
	// fresh is an allocation of its own, made with the tensor's shape.
	fresh layout = iota
	// offset is a view at an odd offset inside a larger allocation, between
	// guard elements that no op may change.
	offset
)

var layouts = []layout{fresh, offset}

func (l layout) String() string {
	if l == fresh {
		return "fresh"
	}
	return "offset"
}

// guardBase is the first guard value; guard element i holds guardBase+i, so
// a write that lands anywhere in the guard is caught, whatever its value.
const guardBase = 1 << 20

// buf is a tensor under test together with a host copy of its whole
// allocation, from which inputs are read and against which the guard is
// checked.
type buf struct {
	s    *suite
	t    *engine.Tensor // the view under test
	root *engine.Tensor // its whole allocation
	off  int            // t's offset in root
	// The elements of root outside [lo, hi) are the guard: no op may
	// change them. For a view made by view, [lo, hi) is the whole view of
	// the buf it came from, whose other elements it does not own.
	lo, hi int
	f32    []float32 // host copy of root, for Float32
	i32    []int32   // host copy of root, for Int32
}

// alloc returns a zeroed tensor of the given shape laid out as l. Its
// allocation is freed when t's test ends.
func (s *suite) alloc(t *testing.T, r *rand.Rand, l layout, dt engine.DType, shape ...int) *buf {
	t.Helper()
	n := 1
	for _, d := range shape {
		n *= d
	}
	b := &buf{s: s}
	if l == fresh {
		b.root = s.e.New(dt, shape...)
		b.t = b.root
	} else {
		b.off = 1 + 2*r.IntN(8) // odd, so vector loads are misaligned
		post := 1 + r.IntN(4)
		b.root = s.e.New(dt, b.off+n+post)
		b.t = b.root.View(b.off, shape...)
	}
	b.lo, b.hi = b.off, b.off+n
	root := b.root
	t.Cleanup(func() { s.e.Free(root) })
	size := b.root.Len()
	if dt == engine.Float32 {
		b.f32 = make([]float32, size)
		for i := range b.f32 {
			if i < b.off || i >= b.off+n {
				b.f32[i] = guardBase + float32(i)
			}
		}
		if l == offset {
			s.e.Upload(b.root, b.f32)
		}
	} else {
		b.i32 = make([]int32, size)
		for i := range b.i32 {
			if i < b.off || i >= b.off+n {
				b.i32[i] = guardBase + int32(i)
			}
		}
		if l == offset {
			s.e.UploadInt32(b.root, b.i32)
		}
	}
	return b
}

// view returns a buf for a view of b's tensor, sharing b's allocation and
// host copy. Downloads through it check b's guard.
func (b *buf) view(off int, shape ...int) *buf {
	return &buf{s: b.s, t: b.t.View(off, shape...), root: b.root, off: b.off + off, lo: b.lo, hi: b.hi, f32: b.f32, i32: b.i32}
}

// host returns the host copy of the elements b views.
func (b *buf) host() []float32 { return b.f32[b.off : b.off+b.t.Len()] }

func (b *buf) hostInt32() []int32 { return b.i32[b.off : b.off+b.t.Len()] }

// set uploads v as b's elements.
func (b *buf) set(v []float32) *buf {
	copy(b.host(), v)
	b.s.e.Upload(b.root, b.f32)
	return b
}

func (b *buf) setInt32(v []int32) *buf {
	copy(b.hostInt32(), v)
	b.s.e.UploadInt32(b.root, b.i32)
	return b
}

// rand uploads uniform draws from [lo, hi) as b's elements and returns them.
func (b *buf) rand(r *rand.Rand, lo, hi float64) []float32 {
	b.set(uniform(r, b.t.Len(), lo, hi))
	return slices.Clone(b.host())
}

// read downloads b's allocation, reports any change to the elements outside
// b's view, and returns b's elements.
func (b *buf) read(t *testing.T) []float32 {
	t.Helper()
	all := make([]float32, b.root.Len())
	b.s.e.Download(all, b.root)
	for i := range all {
		if (i < b.lo || i >= b.hi) && !sameValue(all[i], b.f32[i]) {
			t.Errorf("%v: guard element %d of the allocation, outside [%d, %d), changed from %v to %v",
				b.t, i, b.lo, b.hi, b.f32[i], all[i])
			break
		}
	}
	return all[b.off : b.off+b.t.Len()]
}

func (b *buf) readInt32(t *testing.T) []int32 {
	t.Helper()
	all := make([]int32, b.root.Len())
	b.s.e.DownloadInt32(all, b.root)
	for i := range all {
		if (i < b.lo || i >= b.hi) && all[i] != b.i32[i] {
			t.Errorf("%v: guard element %d of the allocation, outside [%d, %d), changed from %v to %v",
				b.t, i, b.lo, b.hi, b.i32[i], all[i])
			break
		}
	}
	return all[b.off : b.off+b.t.Len()]
}

// unchanged reports an error if an op wrote to b, an input.
func (b *buf) unchanged(t *testing.T, name string) {
	t.Helper()
	same(t, name+" (an input, must not change)", b.read(t), b.host())
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

func to64(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// near reports an error unless got is within tol of the reference want
// (see tol and floor). mag holds the magnitudes of the terms of each
// reference value; nil means |want|, for ops that sum nothing.
func near(t *testing.T, what string, got []float32, want, mag []float64) {
	t.Helper()
	if len(got) != len(want) || mag != nil && len(mag) != len(want) {
		t.Fatalf("%s: got %d elements, want %d", what, len(got), len(want))
	}
	var d2, m2 float64
	for i := range got {
		d := float64(got[i]) - want[i]
		d2 += d * d
		if mag != nil {
			m2 += mag[i] * mag[i]
		} else {
			m2 += want[i] * want[i]
		}
	}
	den := max(math.Sqrt(m2), floor*math.Sqrt(float64(len(want))))
	if rel := math.Sqrt(d2) / den; !(rel <= tol) { // NaN fails too
		t.Errorf("%s: error %.3g > %g relative to the magnitude of the terms, over %d elements; worst: %s",
			what, rel, tol, len(got), worst(got, want))
	}
}

// worst lists the elements of got farthest from want.
func worst(got []float32, want []float64) string {
	idx := make([]int, len(got))
	for i := range idx {
		idx[i] = i
	}
	dist := func(i int) float64 {
		d := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		return d
	}
	slices.SortStableFunc(idx, func(i, j int) int { return -cmpFloat(dist(i), dist(j)) })
	var sb strings.Builder
	for k, i := range idx[:min(5, len(idx))] {
		if k > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "[%d] got %.9g want %.9g", i, got[i], want[i])
	}
	return sb.String()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameValue reports whether a and b are equal as numbers or both NaN.
func sameValue(a, b float32) bool {
	return a == b || a != a && b != b
}

// same reports an error unless got and want are equal element by element
// (NaN matching NaN). It checks ops that only move or select values, which
// every correct engine computes exactly.
func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	mismatch(t, what, len(got), len(want),
		func(i int) bool { return sameValue(got[i], want[i]) },
		func(i int) string { return fmt.Sprintf("[%d] got %.9g want %.9g", i, got[i], want[i]) })
}

// sameBits reports an error unless got and want are bit for bit identical.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	mismatch(t, what, len(got), len(want),
		func(i int) bool { return math.Float32bits(got[i]) == math.Float32bits(want[i]) },
		func(i int) string {
			return fmt.Sprintf("[%d] got %.9g (%#08x) want %.9g (%#08x)",
				i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		})
}

func sameInt32(t *testing.T, what string, got, want []int32) {
	t.Helper()
	mismatch(t, what, len(got), len(want),
		func(i int) bool { return got[i] == want[i] },
		func(i int) string { return fmt.Sprintf("[%d] got %d want %d", i, got[i], want[i]) })
}

// mismatch reports an error listing the first elements i for which eq(i)
// is false, described by desc(i).
func mismatch(t *testing.T, what string, ngot, nwant int, eq func(i int) bool, desc func(i int) string) {
	t.Helper()
	if ngot != nwant {
		t.Fatalf("%s: got %d elements, want %d", what, ngot, nwant)
	}
	var bad []string
	count := 0
	for i := range ngot {
		if !eq(i) {
			count++
			if len(bad) < 5 {
				bad = append(bad, desc(i))
			}
		}
	}
	if count > 0 {
		t.Errorf("%s: %d of %d elements differ: %s", what, count, ngot, strings.Join(bad, ", "))
	}
}

// mustPanic reports an error unless f panics.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if p := recover(); p == nil {
			t.Errorf("%s: did not panic", what)
		} else {
			t.Logf("%s: panicked as required: %v", what, p)
		}
	}()
	f()
}

func shapeName(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, "x") + "]"
}
