package cpu

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// The copies here are bound by memory bandwidth, which one core all but
// saturates, so they run inline.

// checkIndices panics unless every index is in [0, r).
func checkIndices(op string, idx []int32, r int, src *engine.Tensor) {
	for i, j := range idx {
		if j < 0 || int(j) >= r {
			panic(fmt.Sprintf("engine/cpu: %s: index %d at position %d out of range [0, %d) for %v", op, j, i, r, src))
		}
	}
}

// Gather copies rows: dst[i] = src[idx[i]]. An index out of range panics.
func (e *Engine) Gather(dst, src, idx *engine.Tensor) {
	_, r, l := engine.CheckGather(dst, src, idx)
	d, s, ix := e.floats("Gather", dst), e.floats("Gather", src), e.ints("Gather", idx)
	checkIndices("Gather", ix, r, src)
	for i, j := range ix {
		copy(d[i*l:(i+1)*l], s[int(j)*l:(int(j)+1)*l])
	}
}

// Scatter copies rows: dst[idx[i]] = src[i]. With duplicate indices the last
// write lands. An index out of range panics.
func (e *Engine) Scatter(dst, src, idx *engine.Tensor) {
	_, r, l := engine.CheckScatter(dst, src, idx)
	d, s, ix := e.floats("Scatter", dst), e.floats("Scatter", src), e.ints("Scatter", idx)
	checkIndices("Scatter", ix, r, dst)
	for i, j := range ix {
		copy(d[int(j)*l:(int(j)+1)*l], s[i*l:(i+1)*l])
	}
}

// CopyCols copies columns [srcCol, srcCol+cols) of every row of src into
// columns [dstCol, dstCol+cols) of dst.
func (e *Engine) CopyCols(dst *engine.Tensor, dstCol int, src *engine.Tensor, srcCol, cols int) {
	r, nd, ns := engine.CheckCopyCols(dst, dstCol, src, srcCol, cols)
	d, s := e.floats("CopyCols", dst), e.floats("CopyCols", src)
	if cols == 0 {
		return
	}
	for i := 0; i < r; i++ {
		copy(d[i*nd+dstCol:i*nd+dstCol+cols], s[i*ns+srcCol:i*ns+srcCol+cols])
	}
}
