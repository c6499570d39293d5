//go:build cuda || cudaemu

package clearning

// With the tag cuda or cudaemu, the CUDA engine (or its emulator) is
// compiled into the tests, and TestUpdateAgreesAcrossEngines compares its
// updates with the CPU engine's.
import _ "github.com/imago-rl/imago/cuda"
