package engine

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestPhilox4x32KnownAnswers checks Philox4x32 against the known-answer
// vectors of Random123, the reference implementation of Salmon et al. from
// D. E. Shaw Research (file tests/kat_vectors of its distribution, the three
// lines "philox4x32 10 CTR×4 KEY×2 EXPECTED×4"): counter and key all zeros,
// all ones, and the hexadecimal digits of π.
func TestPhilox4x32KnownAnswers(t *testing.T) {
	for _, c := range []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{
			[4]uint32{0x00000000, 0x00000000, 0x00000000, 0x00000000}, [2]uint32{0x00000000, 0x00000000},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
		},
		{
			[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
		},
		{
			[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
		},
	} {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("Philox4x32(%#08x, %#08x) = %#08x, want %#08x", c.ctr, c.key, got, c.want)
		}
	}
}

// TestWordLayout checks the stream layout RNG documents: element i of a
// fill from counter start is word i mod 4 of the block at counter
// start + i/4, the 64-bit counter in the block's first two words (low word
// first) and the seed as the key (low word first).
func TestWordLayout(t *testing.T) {
	const seed = 0x0123456789abcdef
	for _, start := range []uint64{0, 5, 1<<32 - 1, 1 << 40} {
		for i := range 12 {
			c := start + uint64(i/4)
			want := Philox4x32([4]uint32{uint32(c), uint32(c >> 32), 0, 0}, [2]uint32{0x89abcdef, 0x01234567})[i%4]
			if got := Word(seed, start, i); got != want {
				t.Errorf("Word(%#x, %d, %d) = %#08x, want %#08x", uint64(seed), start, i, got, want)
			}
		}
	}
	// Counter 2³² − 1 and 2³² differ only past the low word: the carry must
	// reach the second.
	if Word(seed, 1<<32-1, 4) == Word(seed, 0, 0) {
		t.Error("the counter does not carry into its second word")
	}
}

func TestRNGTake(t *testing.T) {
	r := NewRNG(7)
	counter := uint64(0)
	// Each fill of n elements takes ⌈n/4⌉ counters.
	for _, c := range []struct{ n, blocks int }{{1, 1}, {3, 1}, {4, 1}, {5, 2}, {0, 0}, {17, 5}, {257, 65}, {8, 2}} {
		if got := r.Take(c.n); got != counter {
			t.Errorf("Take(%d) = %d, want %d", c.n, got, counter)
		}
		counter += uint64(c.blocks)
		if r.Counter != counter || r.Seed != 7 {
			t.Errorf("after Take(%d): RNG %+v, want {Seed: 7, Counter: %d}", c.n, *r, counter)
		}
	}
}

// The sample moments are checked to within several standard errors of
// their expectations, so that a correct generator passes for any seed with
// overwhelming probability while a wrong transform (a missing factor of 2
// in −2 ln u, a radius or angle drawn from the wrong word) fails.
const momentDraws = 1_000_000

func TestNormalAtMoments(t *testing.T) {
	var sum, sum2 float64
	for i := range momentDraws {
		z := float64(NormalAt(42, 0, i, 0, 1))
		if math.IsNaN(z) || math.IsInf(z, 0) {
			t.Fatalf("NormalAt(42, 0, %d, 0, 1) = %v", i, z)
		}
		sum += z
		sum2 += z * z
	}
	mean := sum / momentDraws
	variance := sum2/momentDraws - mean*mean
	// The standard error of the mean of 10⁶ standard normals is
	// 1/√10⁶ = 1e-3: 5e-3 is 5 of them. That of the sample variance is
	// √(2/(10⁶−1)) ≈ 1.4e-3: 1e-2 is 7 of them.
	if math.Abs(mean) > 5e-3 {
		t.Errorf("mean of %d normal draws = %.5f, want 0 ± 5e-3", momentDraws, mean)
	}
	if math.Abs(variance-1) > 1e-2 {
		t.Errorf("variance of %d normal draws = %.5f, want 1 ± 1e-2", momentDraws, variance)
	}
}

// TestNormalAtPairs checks the Box–Muller pairing NormalAt documents:
// elements 4k and 4k+1 share the radius √(−2 ln u1) of the block's words w0
// and w1, elements 4k+2 and 4k+3 that of w2 and w3, and mean and std shift
// and scale the same z.
func TestNormalAtPairs(t *testing.T) {
	const seed, start = 9, 1000
	for k := range 64 {
		b := block(seed, start+uint64(k))
		for j := 0; j < 4; j += 2 {
			i := 4*k + j
			z0, z1 := float64(NormalAt(seed, start, i, 0, 1)), float64(NormalAt(seed, start, i+1, 0, 1))
			r2 := -2 * math.Log((float64(b[j])+1)*0x1p-32)
			// z0 and z1 are float32: each carries a relative error of 2⁻²⁴.
			if d := math.Abs(z0*z0 + z1*z1 - r2); d > 1e-6*(r2+1) {
				t.Errorf("elements %d, %d: z0² + z1² = %.9g, want −2 ln u1 = %.9g", i, i+1, z0*z0+z1*z1, r2)
			}
			for _, ms := range [][2]float32{{2, 3}, {-1, 0.5}} {
				got := float64(NormalAt(seed, start, i, ms[0], ms[1]))
				want := float64(ms[0]) + float64(ms[1])*z0
				if math.Abs(got-want) > 1e-6*(math.Abs(want)+1) {
					t.Errorf("NormalAt(%d, %d, %d, %g, %g) = %.9g, want %g + %g·%.9g", seed, start, i, ms[0], ms[1], got, ms[0], ms[1], z0)
				}
			}
		}
	}
}

func TestUniformAt(t *testing.T) {
	var sum float64
	for i := range momentDraws {
		u := UniformAt(42, 0, i, 0, 1)
		if !(0 <= u && u < 1) {
			t.Fatalf("UniformAt(42, 0, %d, 0, 1) = %v, outside [0, 1)", i, u)
		}
		if u != float32(math.Ldexp(math.Floor(math.Ldexp(float64(u), 24)), -24)) {
			t.Fatalf("UniformAt(42, 0, %d, 0, 1) = %v, not a multiple of 2⁻²⁴", i, u)
		}
		sum += float64(u)
	}
	// The standard error of the mean of 10⁶ uniforms on [0, 1) is
	// 1/√(12·10⁶) ≈ 2.9e-4: 1.5e-3 is 5 of them.
	if mean := sum / momentDraws; math.Abs(mean-0.5) > 1.5e-3 {
		t.Errorf("mean of %d uniform draws = %.5f, want 0.5 ± 1.5e-3", momentDraws, mean)
	}
	// Word 12542120 of stream 42 is 0xffffff23, whose top 24 bits are all
	// ones: the largest u, 1 − 2⁻²⁴, which float32 holds exactly.
	if got, want := UniformAt(42, 0, 12542120, 0, 1), float32(1-0x1p-24); got != want {
		t.Errorf("UniformAt at word %#08x = %v, want 1 − 2⁻²⁴", Word(42, 0, 12542120), got)
	}
	for _, lh := range [][2]float32{{-3, 5}, {0.5, 0.75}} {
		lo, hi := lh[0], lh[1]
		for i := range 1000 {
			u := float64(UniformAt(42, 0, i, 0, 1))
			got := UniformAt(42, 0, i, lo, hi)
			if want := float32(float64(lo) + float64(hi-lo)*u); got != want || !(lo <= got && got < hi) {
				t.Fatalf("UniformAt(42, 0, %d, %g, %g) = %v, want %v in [lo, hi)", i, lo, hi, got, want)
			}
		}
	}
}

func TestIntAt(t *testing.T) {
	// Coarse uniformity: Pearson's χ² over the n cells of 10⁶ draws. The
	// thresholds are the 1 − 10⁻⁶ quantiles of χ² with n − 1 degrees of
	// freedom (gonum's distuv.ChiSquared.Quantile), so a uniform generator
	// fails with probability 10⁻⁶ for a random seed.
	for _, c := range []struct {
		n         int
		threshold float64
	}{{10, 44.81}, {100, 180.79}} {
		counts := make([]int, c.n)
		for i := range momentDraws {
			k := IntAt(42, 0, i, c.n)
			if k < 0 || int(k) >= c.n {
				t.Fatalf("IntAt(42, 0, %d, %d) = %d, outside [0, %d)", i, c.n, k, c.n)
			}
			counts[k]++
		}
		expected := float64(momentDraws) / float64(c.n)
		var chi2 float64
		for _, k := range counts {
			chi2 += (float64(k) - expected) * (float64(k) - expected) / expected
		}
		if chi2 > c.threshold {
			t.Errorf("IntAt(·, %d): χ² = %.1f over %d cells, above %g", c.n, chi2, c.n, c.threshold)
		}
	}
	// The extremes of n: one value, and the full range of int32.
	for i := range 1000 {
		if k := IntAt(42, 0, i, 1); k != 0 {
			t.Fatalf("IntAt(42, 0, %d, 1) = %d, want 0", i, k)
		}
		if k, w := IntAt(42, 0, i, 1<<31), Word(42, 0, i); k < 0 || uint32(k) != w>>1 {
			t.Fatalf("IntAt(42, 0, %d, 2³¹) = %d, want word %#08x >> 1", i, k, w)
		}
	}
}

// TestSeed42Golden pins the first 64 words of the stream of seed 42, so
// that no change to Philox4x32 or to the stream layout goes unnoticed:
// checkpoints and recorded results depend on them. Run with -update to
// rewrite testdata/philox_seed42.golden after a deliberate change.
func TestSeed42Golden(t *testing.T) {
	var b bytes.Buffer
	fmt.Fprintln(&b, "# Word(42, 0, i) for i = 0..63, four per line: the first 16 Philox4x32-10 blocks of seed 42.")
	for i := range 64 {
		sep := " "
		if i%4 == 3 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "%08x%s", Word(42, 0, i), sep)
	}
	path := filepath.Join("testdata", "philox_seed42.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSeed42Golden -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("stream of seed 42 changed:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(string(want), "\n") != 17 {
		t.Errorf("%s: want a comment line and 16 lines of words", path)
	}
}

// TestUniformWordHalfOpen checks the top of U[lo, hi): the largest word
// rounds to hi in float32 for ranges not starting at 0 (element 12542120 of
// seed 42's stream from counter 0 is such a word), and must give the largest
// float32 below hi instead.
func TestUniformWordHalfOpen(t *testing.T) {
	for _, r := range [][2]float32{{1, 2}, {-1, 1}, {0, 1}, {-3.5, 100}, {1e-3, 1e-3 + 1e-6}} {
		lo, hi := r[0], r[1]
		for _, w := range []uint32{0xffffffff, 0xffffff23, 0xffffff00} {
			if v := UniformWord(w, lo, hi); !(v >= lo && v < hi) {
				t.Errorf("UniformWord(%#x, %g, %g) = %g, want in [lo, hi)", w, lo, hi, v)
			}
		}
		if v := UniformWord(0, lo, hi); v != lo {
			t.Errorf("UniformWord(0, %g, %g) = %g, want lo", lo, hi, v)
		}
	}
	if v := UniformAt(42, 0, 12542120, 1, 2); v >= 2 {
		t.Errorf("UniformAt(42, 0, 12542120, 1, 2) = %g, want < 2", v)
	}
}
