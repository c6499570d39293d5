//go:build cuda || cudaemu

package cuda

import (
	"testing"

	"github.com/imago-rl/imago/engine/enginetest"
)

// On a GPU machine (see scripts/build-gpu.sh):
//
//	./.gpu/cuda.test -test.run '^$' -test.bench .
//
// Under cudaemu these time the emulator, which says nothing about a GPU.

func BenchmarkGemm(b *testing.B) { enginetest.BenchmarkGemm(b, openEngine(b)) }
func BenchmarkOps(b *testing.B)  { enginetest.BenchmarkOps(b, openEngine(b)) }
