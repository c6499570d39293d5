package cpu

import (
	"math"

	"github.com/imago-rl/imago/engine"
)

// Sums accumulate in float64, so a reduction over many elements keeps the
// accuracy of one rounding (float32 accumulation of 10⁴ terms can lose three
// digits). MaxOf propagates NaN, as the builtin max does; the maximum of no
// elements is −Inf and their mean NaN (0/0).

// ReduceRows reduces x, folded to [G, M, N], along its last dimension into
// dst with G·M elements.
func (e *Engine) ReduceRows(op engine.ReduceOp, dst, x *engine.Tensor) {
	g, m, n := engine.CheckReduceRows(op, dst, x)
	d, s := e.floats("ReduceRows", dst), e.floats("ReduceRows", x)
	parallelFor(g*m, g*m*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := s[r*n : (r+1)*n]
			switch op {
			case engine.Sum:
				d[r] = float32(sum64(row))
			case engine.Mean:
				d[r] = float32(sum64(row) / float64(n))
			case engine.MaxOf:
				v := float32(math.Inf(-1))
				for _, x := range row {
					v = max(v, x)
				}
				d[r] = v
			}
		}
	})
}

// sum64 returns the sum of s in float64, with four accumulators so that the
// additions pipeline.
func sum64(s []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// colBlock is the number of columns ReduceCols accumulates at once: the
// float64 accumulators for a block stay in L1.
const colBlock = 256

// ReduceCols reduces x, folded to [G, M, N], along its second-to-last
// dimension into dst with G·N elements.
func (e *Engine) ReduceCols(op engine.ReduceOp, dst, x *engine.Tensor) {
	g, m, n := engine.CheckReduceCols(op, dst, x)
	d, s := e.floats("ReduceCols", dst), e.floats("ReduceCols", x)
	// One task per block of columns of one group, walking down the M rows.
	blocks := (n + colBlock - 1) / colBlock
	parallelFor(g*blocks, g*m*n, func(lo, hi int) {
		var acc [colBlock]float64
		for t := lo; t < hi; t++ {
			grp, c0 := t/blocks, t%blocks*colBlock
			w := min(colBlock, n-c0)
			a := acc[:w]
			base := grp * m * n
			if op == engine.MaxOf {
				for j := range a {
					a[j] = math.Inf(-1)
				}
				for i := 0; i < m; i++ {
					row := s[base+i*n+c0 : base+i*n+c0+w]
					for j, v := range row {
						a[j] = max(a[j], float64(v))
					}
				}
			} else {
				clear(a)
				for i := 0; i < m; i++ {
					row := s[base+i*n+c0 : base+i*n+c0+w]
					for j, v := range row {
						a[j] += float64(v)
					}
				}
				if op == engine.Mean {
					for j := range a {
						a[j] /= float64(m)
					}
				}
			}
			out := d[grp*n+c0 : grp*n+c0+w]
			for j, v := range a {
				out[j] = float32(v)
			}
		}
	})
}
