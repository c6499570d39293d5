package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// randSizes are the lengths of the random fills: odd ones, ones that end a
// Philox block exactly or one past it, and 2¹⁶ + 3, large enough for an
// engine's parallel paths.
var randSizes = []int{1, 3, 4, 5, 17, 257, 1031, 1<<16 + 3}

// randKind is one of the three random fills with its parameters, and the
// reference function of the engine package that it must reproduce.
type randKind struct {
	name  string
	fill  func(e engine.Engine, dst *engine.Tensor, rng *engine.RNG)
	dtype engine.DType
	// want (Float32) or wantInt (Int32) returns element i of a fill
	// starting at counter start.
	want    func(seed, start uint64, i int) float32
	wantInt func(seed, start uint64, i int) int32
	// inRange reports whether a value lies in the fill's range.
	inRange func(v float64) bool
}

func randKinds() []randKind {
	var kinds []randKind
	// Ranges starting at 0 and away from it; the top of the range, where
	// rounding would reach hi, has a test of its own (uniform/top).
	for _, lh := range [][2]float32{{0, 1}, {-2, 2}, {-3, 5}, {1, 2}} {
		lo, hi := lh[0], lh[1]
		kinds = append(kinds, randKind{
			name: fmt.Sprintf("uniform/lo=%g,hi=%g", lo, hi),
			fill: func(e engine.Engine, dst *engine.Tensor, rng *engine.RNG) { e.RandUniform(dst, rng, lo, hi) },
			want: func(seed, start uint64, i int) float32 {
				return engine.UniformAt(seed, start, i, lo, hi)
			},
			dtype:   engine.Float32,
			inRange: func(v float64) bool { return float64(lo) <= v && v < float64(hi) },
		})
	}
	for _, ms := range [][2]float32{{0, 1}, {2, 0.5}, {-1, 3}} {
		mean, std := ms[0], ms[1]
		kinds = append(kinds, randKind{
			name: fmt.Sprintf("normal/mean=%g,std=%g", mean, std),
			fill: func(e engine.Engine, dst *engine.Tensor, rng *engine.RNG) { e.RandNormal(dst, rng, mean, std) },
			want: func(seed, start uint64, i int) float32 {
				return engine.NormalAt(seed, start, i, mean, std)
			},
			dtype: engine.Float32,
			// Box–Muller with u1 ≥ 2⁻³² gives |z| ≤ √(64 ln 2) ≈ 6.7.
			inRange: func(v float64) bool { return math.Abs(v-float64(mean)) <= 6.7*float64(std) },
		})
	}
	for _, n := range []int{1, 7, 1000, 1 << 31} {
		kinds = append(kinds, randKind{
			name: fmt.Sprintf("int/n=%d", n),
			fill: func(e engine.Engine, dst *engine.Tensor, rng *engine.RNG) { e.RandInt(dst, rng, n) },
			wantInt: func(seed, start uint64, i int) int32 {
				return engine.IntAt(seed, start, i, n)
			},
			dtype:   engine.Int32,
			inRange: func(v float64) bool { return 0 <= v && v < float64(n) },
		})
	}
	return kinds
}

func (s *suite) testRand(t *testing.T) {
	i := 0
	// Element 0 of the block at counter 3135530 under seed 42 has the word
	// 0xffffff23, which lo + (hi−lo)·u rounds to hi for [1, 2): the engine
	// must give the largest float32 below 2, as engine.UniformWord does.
	t.Run("uniform/top", func(t *testing.T) {
		k := randKinds()[3]
		r := s.rand(t)
		s.randFills(t, r, k, offset, &engine.RNG{Seed: 42, Counter: 3135530}, 4)
	})
	for _, k := range randKinds() {
		for _, n := range randSizes {
			l := layouts[i%2]
			i++
			t.Run(fmt.Sprintf("%s/n=%d/%v", k.name, n, l), func(t *testing.T) {
				r := s.rand(t)
				rng := &engine.RNG{Seed: r.Uint64(), Counter: r.Uint64N(1 << 40)}
				s.randFills(t, r, k, l, rng, n)
			})
		}
		// A fill whose counters cross 2³², carrying into the counter's
		// second word.
		t.Run(k.name+"/counter-carry", func(t *testing.T) {
			r := s.rand(t)
			rng := &engine.RNG{Seed: r.Uint64(), Counter: 1<<32 - 2}
			s.randFills(t, r, k, offset, rng, 17)
		})
	}
}

// randFills runs two consecutive fills of k from rng, of n elements and then
// of 3, and checks that each reproduces the reference stream bit for bit
// from where the fill before it left the counter.
func (s *suite) randFills(t *testing.T, r *rand.Rand, k randKind, l layout, rng *engine.RNG, n int) {
	t.Helper()
	seed := rng.Seed
	for fill, size := range []int{n, 3} {
		dst := s.alloc(t, r, l, k.dtype, size)
		start := rng.Counter
		k.fill(s.e, dst.t, rng)
		if want := start + uint64(size+3)/4; rng.Counter != want || rng.Seed != seed {
			t.Errorf("fill %d of %d elements from counter %d: RNG is now {Seed: %d, Counter: %d}, want {Seed: %d, Counter: %d}",
				fill, size, start, rng.Seed, rng.Counter, seed, want)
		}
		what := fmt.Sprintf("fill %d of %d elements from counter %d", fill, size, start)
		var got []float64
		if k.dtype == engine.Int32 {
			gotInt, want := dst.readInt32(t), make([]int32, size)
			for i := range want {
				want[i] = k.wantInt(seed, start, i)
			}
			sameInt32(t, what, gotInt, want)
			for _, v := range gotInt {
				got = append(got, float64(v))
			}
		} else {
			gotF, want := dst.read(t), make([]float32, size)
			for i := range want {
				want[i] = k.want(seed, start, i)
			}
			sameBits(t, what, gotF, want)
			got = to64(gotF)
		}
		for i, v := range got {
			if !k.inRange(v) {
				t.Errorf("%s: element %d = %v out of range", what, i, v)
				break
			}
		}
	}
}
