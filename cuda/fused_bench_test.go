//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// BenchmarkEnsembleRowForward times MBPO's model forward in a rollout: B
// rows of 14 inputs through 4×200 SiLU layers to 24 outputs, each row
// through one of 5 elites of 7 members (issue 7's default shape, at 100,000
// rows), by three paths:
//
//   - fused: the engine's EnsembleRowForward, the sort and the fused MLP
//     kernel (three launches at 100,000 rows, two at 1,000) and no host
//     round trip;
//   - per-layer: the sort and one ensemble_row_layer_f32 per layer;
//   - generic: engine.EnsembleRowForward's composition of primitives, with
//     its host round trip, the cost the fused op removes.
//
// GFLOP/s counts 2·In·Out per row and layer of the member evaluated (255
// kFLOP a row), not the work of the members skipped. On a GPU:
//
//	go test -tags cuda -run XXX -bench EnsembleRow ./cuda
//
// Under cudaemu only the 1,000-row class runs (a call takes seconds there)
// and it times the emulator, which says nothing about a GPU.
func BenchmarkEnsembleRowForward(b *testing.B) {
	paths := []rowPath{
		{"fused", func(g *Engine, d *rowTensors) {
			g.EnsembleRowForward(d.y, d.x, d.pick, d.members, d.layers, d.ws)
		}},
		planned("per-layer", rowPlan{}),
		{"generic", func(g *Engine, d *rowTensors) {
			engine.EnsembleRowForward(hostSorted{g}, d.y, d.x, d.pick, d.members, d.layers, d.ws)
		}},
	}
	sizes := []int{14, 200, 200, 200, 200, 24}
	acts := []engine.Activation{engine.SiLU, engine.SiLU, engine.SiLU, engine.SiLU, engine.Identity}
	flopsPerRow := 0.0
	for l := range acts {
		flopsPerRow += 2 * float64(sizes[l]*sizes[l+1])
	}
	for _, rows := range []int{1000, 100000} {
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/B=%d", p.name, rows), func(b *testing.B) {
				g := openEngine(b)
				if g.Name() == "cudaemu" && rows > 1000 {
					b.Skip("cudaemu: only the 1,000-row class runs in the emulator")
				}
				in := newRowInputs(rand.New(rand.NewPCG(1, 2)), rows, 7, 5, sizes, acts, nil)
				d := uploadRows(g, in, 0)
				defer d.free(g)
				p.run(g, d) // warm up: the first launch of a kernel loads its module
				g.Sync()
				b.ResetTimer()
				for b.Loop() {
					p.run(g, d)
				}
				g.Sync()
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(flopsPerRow*float64(rows)/sec/1e9, "GFLOP/s")
				b.ReportMetric(float64(rows)/sec/1e6, "Mrows/s")
			})
		}
	}
}
