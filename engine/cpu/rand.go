package cpu

import (
	"math"

	"github.com/imago-rl/imago/engine"
)

// The random fills compute one Philox block per four elements, each element
// exactly as engine.UniformAt, NormalAt and IntAt compute it (the same
// float64 expressions in the same order), so that the streams agree bit for
// bit; TestRandMatchesReference checks it. Blocks are independent, so large
// fills split across goroutines.

// philoxBlock returns the Philox block at counter c under key, as the
// reference functions derive it from a seed and a counter.
func philoxBlock(key [2]uint32, c uint64) [4]uint32 {
	return engine.Philox4x32([4]uint32{uint32(c), uint32(c >> 32), 0, 0}, key)
}

func philoxKey(seed uint64) [2]uint32 { return [2]uint32{uint32(seed), uint32(seed >> 32)} }

// fillBlocks calls fn(j, block) for each of the ⌈n/4⌉ blocks j of a fill of
// n elements starting at counter start; fn writes elements 4j+k < n.
func fillBlocks(n int, seed, start uint64, fn func(j int, b [4]uint32)) {
	key := philoxKey(seed)
	nb := (n + 3) / 4
	parallelFor(nb, n*costPhiloxWord, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			fn(j, philoxBlock(key, start+uint64(j)))
		}
	})
}

// RandUniform fills dst with draws from U[lo, hi), advancing rng.
func (e *Engine) RandUniform(dst *engine.Tensor, rng *engine.RNG, lo, hi float32) {
	n := engine.CheckRand("RandUniform", dst, rng, engine.Float32)
	d := e.floats("RandUniform", dst)
	seed, start := rng.Seed, rng.Take(n)
	fillBlocks(n, seed, start, func(j int, b [4]uint32) {
		for k := 0; k < 4 && 4*j+k < n; k++ {
			d[4*j+k] = engine.UniformWord(b[k], lo, hi)
		}
	})
}

// RandNormal fills dst with draws from N(mean, std²), advancing rng.
func (e *Engine) RandNormal(dst *engine.Tensor, rng *engine.RNG, mean, std float32) {
	n := engine.CheckRand("RandNormal", dst, rng, engine.Float32)
	d := e.floats("RandNormal", dst)
	seed, start := rng.Seed, rng.Take(n)
	mu, sigma := float64(mean), float64(std)
	fillBlocks(n, seed, start, func(j int, b [4]uint32) {
		for k := 0; k < 4 && 4*j+k < n; k += 2 {
			u1 := (float64(b[k]) + 1) * 0x1p-32
			u2 := float64(b[k+1]) * 0x1p-32
			r := math.Sqrt(-2 * math.Log(u1))
			// math.Cos and math.Sin, not math.Sincos, whose last bit may
			// differ from theirs.
			d[4*j+k] = float32(mu + sigma*(r*math.Cos(2*math.Pi*u2)))
			if 4*j+k+1 < n {
				d[4*j+k+1] = float32(mu + sigma*(r*math.Sin(2*math.Pi*u2)))
			}
		}
	})
}

// RandInt fills the Int32 tensor dst with integers in [0, n), advancing rng.
func (e *Engine) RandInt(dst *engine.Tensor, rng *engine.RNG, n int) {
	count := engine.CheckRandInt(dst, rng, n)
	d := e.ints("RandInt", dst)
	seed, start := rng.Seed, rng.Take(count)
	fillBlocks(count, seed, start, func(j int, b [4]uint32) {
		for k := 0; k < 4 && 4*j+k < count; k++ {
			d[4*j+k] = int32((uint64(b[k]) * uint64(n)) >> 32)
		}
	})
}
