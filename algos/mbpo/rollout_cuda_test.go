//go:build cuda || cudaemu

package mbpo

// With the tag cuda or cudaemu, the CUDA engine (or its emulator) is
// compiled into the tests, and TestRolloutAgreesAcrossEngines compares its
// rollouts with the CPU engine's.
import _ "github.com/imago-rl/imago/cuda"
