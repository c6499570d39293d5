package nn

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/engine"
)

// Init names a scheme for the initial weights and biases of a dense layer.
type Init uint8

const (
	// TruncNormal draws weights from a normal distribution of standard
	// deviation 1/(2√fan_in) truncated at two standard deviations, and sets
	// biases to zero: the initialisation of PETS and MBPO
	// (mbrl-lib's truncated_normal_init, jannerm/mbpo's FC layer).
	TruncNormal Init = iota
	// FanInUniform draws weights and biases from U[−1/√fan_in, 1/√fan_in):
	// PyTorch's nn.Linear default, and so CleanRL's SAC networks.
	FanInUniform
)

func (i Init) String() string {
	switch i {
	case TruncNormal:
		return "trunc-normal"
	case FanInUniform:
		return "fan-in-uniform"
	}
	return fmt.Sprintf("Init(%d)", uint8(i))
}

// truncNormal fills dst with draws from N(0, std²) truncated at ±2·std,
// taken from rng's Philox stream by the engine's RandNormal. Like mbrl-lib's
// truncated_normal_, it draws the whole tensor, then redraws the whole
// tensor and takes the new value for every element still out of range, until
// none is. The fills go into dst itself; each is downloaded, the kept values
// merged on the host, and the result uploaded once. No device memory is
// allocated, and since every engine's RandNormal gives the same stream
// (engine.NormalAt), so does the initialisation.
func truncNormal(eng engine.Engine, dst *engine.Tensor, rng *engine.RNG, std float32) {
	n := dst.Len()
	v := make([]float32, n)
	draw := make([]float32, n)
	bound := 2 * float64(std)
	for first := true; ; first = false {
		eng.RandNormal(dst, rng, 0, std)
		eng.Download(draw, dst)
		pending := 0
		for i := range v {
			if first || math.Abs(float64(v[i])) > bound {
				v[i] = draw[i]
				if math.Abs(float64(v[i])) > bound {
					pending++
				}
			}
		}
		if pending == 0 {
			break
		}
	}
	eng.Upload(dst, v)
}

// initDense initialises one dense layer's weight w [E, In, Out] and bias b
// [E, 1, Out]; fan_in is In.
func initDense(eng engine.Engine, w, b *engine.Tensor, scheme Init, rng *engine.RNG) {
	_, in, _ := w.Batch3()
	switch scheme {
	case TruncNormal:
		truncNormal(eng, w, rng, float32(1/(2*math.Sqrt(float64(in)))))
		eng.Fill(b, 0)
	case FanInUniform:
		k := float32(1 / math.Sqrt(float64(in)))
		eng.RandUniform(w, rng, -k, k)
		eng.RandUniform(b, rng, -k, k)
	default:
		panic(fmt.Sprintf("nn: unknown init scheme %v", scheme))
	}
}
