//go:build cuda || cudaemu

package nn

import (
	"testing"

	_ "github.com/imago-rl/imago/cuda" // registers "cuda" or "cudaemu"
	"github.com/imago-rl/imago/engine"
)

// With a CUDA build tag the tests of this package run on the CUDA engine:
// under cudaemu (go test -tags cudaemu ./nn/) its kernels in the emulator,
// under cuda (the .gpu/nn.test that scripts/build-gpu.sh builds) on the
// GPU.
func init() {
	openTestEngine = func(t testing.TB) engine.Engine {
		t.Helper()
		for _, name := range []string{"cuda", "cudaemu"} {
			for _, b := range engine.Backends() {
				if b.Name != name || b.Available() != nil {
					continue
				}
				e, err := b.Open()
				if err != nil {
					t.Fatalf("open %s: %v", name, err)
				}
				return e
			}
		}
		t.Fatal("no CUDA backend is available")
		return nil
	}
}

// TestOnCUDAEngine checks that the tests do run on the CUDA engine.
func TestOnCUDAEngine(t *testing.T) {
	if name := newEngine(t).Name(); name != "cuda" && name != "cudaemu" {
		t.Errorf("tests run on engine %q, want cuda or cudaemu", name)
	}
}
