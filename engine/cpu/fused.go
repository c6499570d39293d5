package cpu

import (
	"gonum.org/v1/gonum/blas"

	"github.com/imago-rl/imago/engine"
)

var _ engine.EnsembleRowForwarder = (*Engine)(nil)

// EnsembleRowForward runs each row of x through the ensemble member chosen
// for it (see engine.EnsembleRowForward). The CPU engine's tensors are host
// memory, so it sorts the rows by member where they are, without the round
// trip of the generic path: a stable counting sort of the row indices into
// ws.Perm, a gather of x into ws.A in that order, then for each member its
// contiguous block of rows through every layer, one Sgemm per layer into
// rows preloaded with the bias (c ← x·W + c, so that the GEMM's own
// accumulation adds it) followed by one activation pass, and finally a
// scatter of the block's output rows into y.
//
// Members run one after another, each Sgemm threaded by the BLAS; with
// B = 10⁵ rows over 5 elites each block has about 2·10⁴ rows, far past the
// sizes where gonum's and OpenBLAS's Sgemm use every core.
func (e *Engine) EnsembleRowForward(y, x, pick, members *engine.Tensor, layers []engine.EnsembleLayer, ws *engine.EnsembleRowWorkspace) {
	const op = "EnsembleRowForward"
	n, ens := engine.CheckEnsembleRowForward(y, x, pick, members, layers, ws)
	yd, xd, pk := e.floats(op, y), e.floats(op, x), e.ints(op, pick)
	var table []int32
	if members != nil {
		table = e.ints(op, members)
	}
	perm := e.ints(op, ws.Perm)[:n]
	bufA, bufB := e.floats(op, ws.A), e.floats(op, ws.B)
	params := make([][2][]float32, len(layers)) // each layer's weight and bias
	for i, l := range layers {
		params[i] = [2][]float32{e.floats(op, l.W), e.floats(op, l.B)}
	}
	if n == 0 {
		return
	}
	starts := engine.SortRowsByMember(perm, pk, table, ens, make([]int, ens+1), op)

	// Rows sit in the workspace at a stride of its width, so that a
	// member's block occupies the same rows of A and B at every layer and
	// blocks never overlap, whatever the layers' sizes.
	ld := ws.Width
	in0 := layers[0].W.Dim(1)
	for i, r := range perm {
		copy(bufA[i*ld:i*ld+in0], xd[int(r)*in0:(int(r)+1)*in0])
	}
	for m := range ens {
		lo, hi := starts[m], starts[m+1]
		if lo == hi {
			continue
		}
		rows := hi - lo
		cur, nxt := bufA[lo*ld:hi*ld], bufB[lo*ld:hi*ld]
		for i, l := range layers {
			_, in, out := l.W.Batch3()
			w := params[i][0][m*in*out : (m+1)*in*out]
			bias := params[i][1][m*out : (m+1)*out]
			for r := range rows {
				copy(nxt[r*ld:r*ld+out], bias)
			}
			sgemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, out, in, 1, cur, ld, w, out, 1, nxt, ld)
			if l.Act != engine.Identity {
				cost := costTranscend
				if l.Act == engine.ReLU {
					cost = costCheap
				}
				parallelFor(rows, rows*out*cost, func(a, b int) {
					for r := a; r < b; r++ {
						row := nxt[r*ld : r*ld+out]
						activate(l.Act, row, row)
					}
				})
			}
			cur, nxt = nxt, cur
		}
		out := layers[len(layers)-1].W.Dim(-1)
		for i := range rows {
			r := int(perm[lo+i])
			copy(yd[r*out:(r+1)*out], cur[i*ld:i*ld+out])
		}
	}
}
