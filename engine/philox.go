package engine

import "math"

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011): a counter-based generator whose output is a pure function of
// a 128-bit counter and a 64-bit key. Every engine computes the same function,
// so the CPU and CUDA engines draw identical streams for the same seed.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9 // golden ratio
	philoxW1 = 0xBB67AE85 // √3 − 1
)

// Philox4x32 returns the Philox4x32-10 block for counter ctr and key key.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	for r := 0; r < 10; r++ {
		if r > 0 {
			key[0] += philoxW0
			key[1] += philoxW1
		}
		p0 := uint64(philoxM0) * uint64(ctr[0])
		p1 := uint64(philoxM1) * uint64(ctr[2])
		ctr = [4]uint32{
			uint32(p1>>32) ^ ctr[1] ^ key[0], uint32(p1),
			uint32(p0>>32) ^ ctr[3] ^ key[1], uint32(p0),
		}
	}
	return ctr
}

// RNG is the host-side state of an engine's random stream: a seed (the
// Philox key) and the next unused counter. Every random fill of n elements
// takes the ⌈n/4⌉ counters starting at Counter, element i using word i mod 4
// of the block at counter Counter + i/4, and advances Counter past them. The
// state is two integers, so checkpointing it is trivial; nothing is stored on
// the device.
type RNG struct {
	Seed    uint64
	Counter uint64
}

// NewRNG returns a stream for seed starting at counter 0.
func NewRNG(seed uint64) *RNG { return &RNG{Seed: seed} }

// Take reserves the counters for a fill of n elements and returns the first
// of them. Engines call it once per fill.
func (r *RNG) Take(n int) uint64 {
	c := r.Counter
	r.Counter += uint64(n+3) / 4
	return c
}

// Word returns the 32-bit word that element i of a fill starting at counter
// start draws under seed.
func Word(seed, start uint64, i int) uint32 {
	return block(seed, start+uint64(i/4))[i%4]
}

func block(seed, counter uint64) [4]uint32 {
	return Philox4x32(
		[4]uint32{uint32(counter), uint32(counter >> 32), 0, 0},
		[2]uint32{uint32(seed), uint32(seed >> 32)})
}

// UniformAt returns element i of RandUniform(lo, hi) for a fill starting at
// counter start: UniformWord of the element's word.
func UniformAt(seed, start uint64, i int, lo, hi float32) float32 {
	return UniformWord(Word(seed, start, i), lo, hi)
}

// UniformWord maps a Philox word w to U[lo, hi): u = ⌊w/2⁸⌋·2⁻²⁴ ∈ [0, 1),
// then lo + (hi−lo)·u computed in float64 and rounded to float32. Where that
// rounding reaches hi (about once in 2²⁴ draws when lo ≠ 0) the result is the
// largest float32 below hi instead, so that the interval stays half-open.
func UniformWord(w uint32, lo, hi float32) float32 {
	u := float64(w>>8) * 0x1p-24
	v := float32(float64(lo) + (float64(hi)-float64(lo))*u)
	if v >= hi && lo < hi {
		v = math.Nextafter32(hi, lo)
	}
	return v
}

// NormalAt returns element i of RandNormal(mean, std) for a fill starting at
// counter start. Elements come in pairs from one block: the Box–Muller
// transform of the block's words (w0, w1) gives elements 4k and 4k+1, of
// (w2, w3) elements 4k+2 and 4k+3, with u1 = (w0+1)·2⁻³² ∈ (0, 1],
// u2 = w1·2⁻³², r = √(−2 ln u1), z = r·cos(2πu2) for the even element and
// r·sin(2πu2) for the odd one, computed in float64; the result
// mean + std·z is rounded to float32.
func NormalAt(seed, start uint64, i int, mean, std float32) float32 {
	b := block(seed, start+uint64(i/4))
	j := i % 4 &^ 1
	u1 := (float64(b[j]) + 1) * 0x1p-32
	u2 := float64(b[j+1]) * 0x1p-32
	r := math.Sqrt(-2 * math.Log(u1))
	var z float64
	if i%2 == 0 {
		z = r * math.Cos(2*math.Pi*u2)
	} else {
		z = r * math.Sin(2*math.Pi*u2)
	}
	return float32(float64(mean) + float64(std)*z)
}

// IntAt returns element i of RandInt(n) for a fill starting at counter
// start: ⌊w·n/2³²⌋ for the element's word w (Lemire's multiply-shift; the
// bias, at most n/2³², is below float32 resolution for any buffer we use).
func IntAt(seed, start uint64, i int, n int) int32 {
	return int32((uint64(Word(seed, start, i)) * uint64(n)) >> 32)
}
