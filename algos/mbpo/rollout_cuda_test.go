//go:build cuda || cudaemu

package mbpo

import (
	"testing"

	"github.com/imago-rl/imago/cuda"
	"github.com/imago-rl/imago/engine"
)

// With the tag cuda or cudaemu, the CUDA engine (or its emulator) is
// compiled into the tests, and the rollout tests that run on every compiled
// engine cover it: TestRolloutTransfersOnlyAtTheEnds checks the order of
// the host transfers and the ops of its steps, and
// TestRolloutAgreesAcrossEngines and
// TestRolloutAgreesAcrossEnginesWithTerminations compare its rollouts with
// the CPU engine's.

// TestRolloutCUDACounts counts, with the CUDA engine's own counts, what a
// rollout of H steps with terminations issues after a first one has
// allocated the staging: one copy to the device and one from it in all
// (TestRolloutTransfersOnlyAtTheEnds shows they are the first and the
// last), the same kernels at every step, and no allocation.
func TestRolloutCUDACounts(t *testing.T) {
	for _, eng := range compiledEngines(t) {
		g, ok := eng.(*cuda.Engine)
		if !ok {
			continue
		}
		t.Run(g.Name(), func(t *testing.T) {
			f := newRolloutFixture(t, g, 41)
			const b, horizon = 300, 5
			r := f.rollout(t, cartPoleLike, b)
			starts := f.starts(t, b, 42)
			into := f.buffer(t, b*horizon)
			rng := engine.NewRNG(43)
			r.Run(starts, horizon, []int{1, 2, 3}, rng, into)
			var perRun [2]int64
			for run := range 2 {
				g.ResetCounts()
				added := r.Run(starts, horizon, []int{1, 2, 3}, rng, into)
				c := g.Counts()
				t.Logf("run %d: added %d; %d launches, %v; %d copies to the device, %d from it, %d within it",
					run, added, c.Launches, c.ByOp, c.HtoD, c.DtoH, c.DtoD)
				if c.HtoD != 1 || c.DtoH != 1 {
					t.Errorf("run %d copied %d times to the device and %d from it; want once each", run, c.HtoD, c.DtoH)
				}
				if c.ByOp["New"] != 0 {
					t.Errorf("run %d allocated %d tensors; want none after the first run", run, c.ByOp["New"])
				}
				if c.Launches%horizon != 0 {
					t.Errorf("run %d launched %d kernels, not the same number at each of %d steps", run, c.Launches, horizon)
				}
				perRun[run] = c.Launches
			}
			if perRun[0] != perRun[1] {
				t.Errorf("the runs launched %d and %d kernels; a step's launches must not depend on its live rows", perRun[0], perRun[1])
			}
		})
		return
	}
	t.Skip("no CUDA engine available")
}
