package cpu

import (
	"testing"

	"github.com/imago-rl/imago/engine/enginetest"
)

// Run with
//
//	go test -run '^$' -bench . ./engine/cpu
//	go test -tags openblas -run '^$' -bench . ./engine/cpu
//
// and compare builds or commits with benchstat.

func BenchmarkGemm(b *testing.B)        { enginetest.BenchmarkGemm(b, New()) }
func BenchmarkElementwise(b *testing.B) { enginetest.BenchmarkOps(b, New()) }
