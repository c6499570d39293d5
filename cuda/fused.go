//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

var _ engine.EnsembleRowForwarder = (*Engine)(nil)

// Launch shapes of the kernels of kernels/ensemble_row.cu; the comments
// there say why.
const (
	// rowSortSharedInts is the most ints of dynamic shared memory that the
	// sort's kernels may use: 48 KiB, the limit of a launch without the
	// opt-in attribute.
	rowSortSharedInts = 12288
	// rowSortGroups is the number of 32-row groups each warp of the sort
	// takes by default: few, for the sort's time is its warps' chains of
	// loads and ballots, not its bandwidth.
	rowSortGroups = 4
	// rowSortMaxChunks caps the chunks of the sort: each block of
	// ensemble_row_sort_i32 reads every chunk's counts.
	rowSortMaxChunks = 1024
	// ensemble_row_mlp_f32 takes rowMLPRows sorted rows per block of
	// rowMLPThreads threads, through at most rowMLPMaxLayers layers at
	// most rowMLPMaxWidth wide, staging rowMLPStep rows of weights at a
	// time.
	rowMLPRows      = 32
	rowMLPThreads   = 128
	rowMLPMaxWidth  = 256
	rowMLPMaxLayers = 8
	rowMLPStep      = 8
)

// EnsembleRowForward runs each row of x through the ensemble member chosen
// for it (see engine.EnsembleRowForward) without a host round trip: it
// copies nothing between host and device, allocates nothing, and does not
// wait for the device. It launches
//
//  1. a stable counting sort of the row indices by member into ws.Perm:
//     ensemble_row_count_i32, which counts the rows of each member in each
//     chunk of 4096 rows (fewer for ensembles of over 360 members) into the
//     head of ws.A, scratch until the layers need it; then
//     ensemble_row_sort_i32, whose block for each chunk places its rows
//     after those of lower members and of earlier chunks. When there is
//     one chunk, its block counts for itself and the count is not
//     launched.
//  2. ensemble_row_mlp_f32, which takes the sorted rows 32 to a block,
//     gathers them from x, keeps their activations in shared memory through
//     every layer (bias and activation applied as each output leaves the
//     registers) and scatters the result into y.
//
// A network with a layer wider than 256 or with more than 8 layers takes
// ensemble_row_layer_f32 in place of step 2, one launch per layer, its
// hidden activations in ws.A and ws.B in sorted order. The layers' grids
// are sized from the row count alone: a block finds the members of its
// rows from pick and evaluates each run of one member among them with that
// member's weights, so only the chosen member is evaluated.
//
// Each output is the same float32 computation wherever its row is sorted
// (an fmaf chain over the inputs in order from 0, then the bias, then the
// activation), so y is bitwise reproducible whatever the order of the rows
// or of the GPU's blocks and threads. ws.Perm is left holding the sorted
// rows.
//
// Rows whose pick or member is out of range sort last and are not
// evaluated: their rows of y are left as they were. An ensemble of more
// members than the sort's shared memory counts (4095) takes the generic
// path of engine.EnsembleRowForward, with its host round trip.
func (e *Engine) EnsembleRowForward(y, x, pick, members *engine.Tensor, layers []engine.EnsembleLayer, ws *engine.EnsembleRowWorkspace) {
	e.ensembleRowForward(y, x, pick, members, layers, ws, defaultRowPlan)
}

// rowPlan holds the choices of EnsembleRowForward that depend on sizes, so
// that tests can reach every path with small problems.
type rowPlan struct {
	fusedLayers, fusedWidth int // the deepest and widest network for ensemble_row_mlp_f32
	sortChunk               int // rows per block of the sort; 0 for rowSortGroups groups of 32 per warp of the largest block
}

var defaultRowPlan = rowPlan{fusedLayers: rowMLPMaxLayers, fusedWidth: rowMLPMaxWidth}

// ensembleRowForward is EnsembleRowForward by plan.
func (e *Engine) ensembleRowForward(y, x, pick, members *engine.Tensor, layers []engine.EnsembleLayer, ws *engine.EnsembleRowWorkspace,
	plan rowPlan) {
	const op = "EnsembleRowForward"
	n, ens := engine.CheckEnsembleRowForward(y, x, pick, members, layers, ws)
	buckets := ens + 1 // the members, then the rows out of range
	maxWarps := rowSortWarps(ens)
	if maxWarps == 0 {
		engine.EnsembleRowForward(hostSorted{e}, y, x, pick, members, layers, ws)
		return
	}
	yp, xp, pp, perm := e.addr(op, y), e.addr(op, x), e.addr(op, pick), e.addr(op, ws.Perm)
	var mp uintptr // null: pick holds member ids
	picks := 0
	if members != nil {
		mp, picks = e.addr(op, members), members.Len()
	}
	a, b := e.addr(op, ws.A), e.addr(op, ws.B)
	for _, l := range layers {
		e.addr(op, l.W)
		e.addr(op, l.B)
	}
	if n == 0 {
		return
	}

	// The sort: chunks of rowSortGroups groups of 32 rows per warp of a
	// block as large as the shared memory allows, no more chunks than
	// rowSortMaxChunks, and one chunk when their counts do not fit ws.A.
	chunk := plan.sortChunk
	if chunk == 0 {
		chunk = 32 * rowSortGroups * maxWarps
	}
	chunk = max(chunk, blocks(n, rowSortMaxChunks))
	chunks := blocks(n, chunk)
	var counts uintptr // null: one chunk
	if chunks > 1 && chunks*buckets <= ws.A.Len() {
		counts = a
	} else {
		chunk, chunks = n, 1
	}
	warps := min(maxWarps, blocks(chunk, 32*rowSortGroups))
	sortArgs := []uint64{ptrArg(pp), ptrArg(mp), intArg(op, n), intArg(op, ens), intArg(op, picks), intArg(op, chunk)}
	if counts != 0 {
		e.launch(op, "ensemble_row_count_i32", Dim3{chunks, 1, 1}, Dim3{32 * warps, 1, 1}, buckets*elemSize,
			append([]uint64{ptrArg(counts)}, sortArgs...)...)
	}
	e.launch(op, "ensemble_row_sort_i32", Dim3{chunks, 1, 1}, Dim3{32 * warps, 1, 1}, (warps+2)*buckets*elemSize,
		append([]uint64{ptrArg(perm), ptrArg(counts)}, sortArgs...)...)

	width := engine.EnsembleWidth(layers)
	if len(layers) <= plan.fusedLayers && width <= plan.fusedWidth {
		args := []uint64{ptrArg(yp), ptrArg(xp), ptrArg(perm), ptrArg(pp), ptrArg(mp),
			intArg(op, n), intArg(op, ens), intArg(op, picks), intArg(op, layers[0].W.Dim(1)), intArg(op, width),
			intArg(op, len(layers))}
		for i := range rowMLPMaxLayers {
			if i >= len(layers) {
				args = append(args, 0, 0, 0, 0)
				continue
			}
			l := layers[i]
			args = append(args, ptrArg(e.addr(op, l.W)), ptrArg(e.addr(op, l.B)), intArg(op, l.W.Dim(2)), intArg(op, int(l.Act)))
		}
		e.launch(op, "ensemble_row_mlp_f32", Dim3{blocks(n, rowMLPRows), 1, 1}, Dim3{rowMLPThreads, 1, 1},
			(rowMLPRows+rowMLPStep)*width*elemSize, args...)
		return
	}

	// Layer by layer: x → A → B → A … → y, the first layer gathering the
	// rows of x in sorted order and the last scattering them back.
	src, dst := xp, a
	for i, l := range layers {
		_, in, out := l.W.Batch3()
		first, last := i == 0, i == len(layers)-1
		if last {
			dst = yp
		}
		grid := Dim3{blocks(n, gemmTile), blocks(out, gemmTile), 1}
		if grid.Y > maxGridYZ {
			panic(fmt.Sprintf("cuda: %s: layers[%d].W %v: %d outputs need %d column tiles, beyond the limit of %d",
				op, i, l.W.Shape(), out, grid.Y, maxGridYZ))
		}
		e.launch(op, "ensemble_row_layer_f32", grid, Dim3{gemmSide, gemmSide, 1}, 0,
			ptrArg(dst), ptrArg(src), ptrArg(e.addr(op, l.W)), ptrArg(e.addr(op, l.B)),
			ptrArg(perm), ptrArg(pp), ptrArg(mp), intArg(op, n), intArg(op, ens), intArg(op, picks),
			intArg(op, in), intArg(op, out), intArg(op, int(l.Act)), boolArg(first), boolArg(last))
		src = dst
		if dst == a {
			dst = b
		} else {
			dst = a
		}
	}
}

// rowSortWarps returns the most warps a block of ensemble_row_sort_i32
// may have for an ensemble of ens members: up to 32 while its counts fit
// its shared memory, and 0 when not even one warp's do.
func rowSortWarps(ens int) int {
	return max(0, min(32, rowSortSharedInts/(ens+1)-2))
}

// hostSorted is the engine without its EnsembleRowForward, so that
// engine.EnsembleRowForward takes its generic path through it; its layers
// still run through the fused Linear.
type hostSorted struct{ engine.Engine }

func (h hostSorted) Linear(f engine.Activation, y, x, w, b *engine.Tensor) {
	h.Engine.(*Engine).Linear(f, y, x, w, b)
}
