//go:build cuda || cudaemu

package mbpo

import (
	"testing"

	"github.com/imago-rl/imago/cuda"
	"github.com/imago-rl/imago/engine"
)

// TestRecipeCUDACounts is TestRolloutCUDACounts for the action sources
// that put actions in place before the steps (the start rows' stored ones,
// or random ones): with the CUDA engine's own counts, a rollout of H steps
// with terminations issues, after a first one has allocated the staging,
// one copy to the device and one from it in all, the same launches in two
// runs, and no allocation.
func TestRecipeCUDACounts(t *testing.T) {
	for _, eng := range compiledEngines(t) {
		g, ok := eng.(*cuda.Engine)
		if !ok {
			continue
		}
		for _, src := range []ActionSource{ActionsFromBuffer, ActionsRandom} {
			t.Run(g.Name()+"/"+string(src), func(t *testing.T) {
				f := newRolloutFixture(t, g, 80)
				const b, horizon = 300, 5
				r := f.rolloutWith(t, src, cartPoleLike, b, []float64{-2, 0}, []float64{2, 0.5})
				starts, acts := f.starts(t, b, 81), f.startActions(t, b, 82)
				into := f.buffer(t, b*horizon)
				rng := engine.NewRNG(83)
				run := func() int {
					if src == ActionsFromBuffer {
						return r.RunWithActions(starts, acts, horizon, []int{1, 2, 3}, rng, into)
					}
					return r.Run(starts, horizon, []int{1, 2, 3}, rng, into)
				}
				run()
				var perRun [2]int64
				for i := range 2 {
					g.ResetCounts()
					added := run()
					c := g.Counts()
					t.Logf("run %d: added %d; %d launches, %v; %d copies to the device, %d from it, %d within it",
						i, added, c.Launches, c.ByOp, c.HtoD, c.DtoH, c.DtoD)
					if c.HtoD != 1 || c.DtoH != 1 {
						t.Errorf("run %d copied %d times to the device and %d from it; want once each", i, c.HtoD, c.DtoH)
					}
					if c.ByOp["New"] != 0 {
						t.Errorf("run %d allocated %d tensors; want none after the first run", i, c.ByOp["New"])
					}
					perRun[i] = c.Launches
				}
				if perRun[0] != perRun[1] {
					t.Errorf("the runs launched %d and %d kernels; a step's launches must not depend on its live rows", perRun[0], perRun[1])
				}
			})
		}
		return
	}
	t.Skip("no CUDA engine available")
}
