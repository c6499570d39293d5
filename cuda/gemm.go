//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// gemmTile is the side of the tile of c that one block of gemm_f32
// computes, and gemmSide the side of its square block of threads
// (kernels/gemm.cu).
const (
	gemmTile = 64
	gemmSide = 16
)

// gemm launches gemm_f32: for each of e members, c = f(alpha·op(a)·op(b) +
// beta·c + bias), member z's operands starting stride·z elements past the
// given addresses (a stride of 0 shares an operand), bias a row of n or 0
// for none.
func (e *Engine) gemm(op string, members, m, n, k int, transA, transB bool, alpha, beta float32,
	c, a, b, bias uintptr, strideA, strideB, strideC, strideBias int, f engine.Activation) {
	if members == 0 || m == 0 || n == 0 {
		return
	}
	grid := Dim3{blocks(m, gemmTile), blocks(n, gemmTile), members}
	if grid.Y > maxGridYZ || grid.Z > maxGridYZ {
		panic(fmt.Sprintf("cuda: %s: %d members of %d×%d outputs need a grid of (%d, %d, %d) blocks, beyond the limit of 65535 in y and z",
			op, members, m, n, grid.X, grid.Y, grid.Z))
	}
	e.launch(op, "gemm_f32", grid, Dim3{gemmSide, gemmSide, 1}, 0,
		ptrArg(c), ptrArg(a), ptrArg(b), ptrArg(bias),
		intArg(op, m), intArg(op, n), intArg(op, k), boolArg(transA), boolArg(transB),
		f32Arg(alpha), f32Arg(beta),
		u64Arg(uint64(strideA)), u64Arg(uint64(strideB)), u64Arg(uint64(strideC)), u64Arg(uint64(strideBias)),
		intArg(op, int(f)))
}

// Gemm computes c ← alpha·op(a)·op(b) + beta·c for every ensemble member in
// one launch, the members along the grid's z dimension. When beta is 0, c is
// not read; when alpha is 0, neither a nor b is. Products accumulate in
// float32 with fused multiply-adds.
func (e *Engine) Gemm(transA, transB bool, alpha float32, a, b *engine.Tensor, beta float32, c *engine.Tensor) {
	const op = "Gemm"
	members, m, n, k, aShared, bShared := engine.CheckGemm(transA, transB, a, b, c)
	ap, bp, cp := e.addr(op, a), e.addr(op, b), e.addr(op, c)
	strideA, strideB := m*k, k*n
	if aShared {
		strideA = 0
	}
	if bShared {
		strideB = 0
	}
	e.gemm(op, members, m, n, k, transA, transB, alpha, beta, cp, ap, bp, 0, strideA, strideB, m*n, 0, engine.Identity)
}

// Linear computes y = f(x·w + b) in one launch of gemm_f32, whose epilogue
// adds the bias and applies f to each output as it leaves the registers:
// the engine.Linearer fast path of engine.Linear.
func (e *Engine) Linear(f engine.Activation, y, x, w, b *engine.Tensor) {
	const op = "Linear"
	members, batch, in, out, xShared := engine.CheckLinear(f, y, x, w, b)
	yp, xp, wp, bp := e.addr(op, y), e.addr(op, x), e.addr(op, w), e.addr(op, b)
	strideX := batch * in
	if xShared {
		strideX = 0
	}
	e.gemm(op, members, batch, out, in, false, false, 1, 0, yp, xp, wp, bp, strideX, in*out, batch*out, out, f)
}
