package enginetest_test

import (
	"testing"

	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/engine/enginetest"
)

// TestCPU runs the suite against the CPU engine, which also tests the suite
// itself on every build.
func TestCPU(t *testing.T) {
	e := cpu.New()
	defer e.Close()
	enginetest.Run(t, e)
}
