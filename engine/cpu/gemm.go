package cpu

import (
	"gonum.org/v1/gonum/blas"

	"github.com/imago-rl/imago/engine"
)

// gonumBlock and gonumMinParBlock are gonum's Sgemm blocking constants
// (blas/gonum/gonum.go): it runs a product concurrently only when c has at
// least gonumMinParBlock blocks of gonumBlock×gonumBlock.
const (
	gonumBlock       = 64
	gonumMinParBlock = 4
)

// Gemm computes c ← alpha·op(a)·op(b) + beta·c for every ensemble member,
// one BLAS Sgemm per member (or one for all when b is shared and a is not
// transposed, since the members of a and c then stack into one matrix).
//
// When beta is 0 it clears c itself and asks the BLAS for
// c ← alpha·op(a)·op(b) + 1·c: netlib's binding leaves the treatment of NaN
// to the C library, so the promise that NaNs in c do not propagate should
// not rest on which BLAS is linked. (gonum's Sgemm and OpenBLAS 0.3.21 do not
// read c when beta is 0 either; clearing costs what their own zeroing would.)
func (e *Engine) Gemm(transA, transB bool, alpha float32, a, b *engine.Tensor, beta float32, c *engine.Tensor) {
	const op = "Gemm"
	members, m, n, k, aShared, bShared := engine.CheckGemm(transA, transB, a, b, c)
	ad, bd, cd := e.floats(op, a), e.floats(op, b), e.floats(op, c)
	if m == 0 || n == 0 {
		return
	}
	if beta == 0 {
		clear(cd)
		beta = 1
	}
	if k == 0 || alpha == 0 {
		// c ← beta·c. Sgemm would do the same, but netlib's argument
		// checks reject the zero leading dimensions of empty a and b.
		if beta != 1 {
			for i := range cd {
				cd[i] *= beta
			}
		}
		return
	}

	tA, lda := blas.NoTrans, k // a is [M, K]
	if transA {
		tA, lda = blas.Trans, m // a is [K, M]
	}
	tB, ldb := blas.NoTrans, n // b is [K, N]
	if transB {
		tB, ldb = blas.Trans, k // b is [N, K]
	}
	if bShared && !aShared && !transA {
		// a [E, M, K] and c [E, M, N] are [E·M, K] and [E·M, N] matrices.
		sgemm.Sgemm(tA, tB, members*m, n, k, alpha, ad, lda, bd, ldb, beta, cd, n)
		return
	}

	strideA, strideB, strideC := m*k, k*n, m*n
	if aShared {
		strideA = 0
	}
	if bShared {
		strideB = 0
	}
	member := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sgemm.Sgemm(tA, tB, m, n, k, alpha,
				ad[i*strideA:i*strideA+m*k], lda,
				bd[i*strideB:i*strideB+k*n], ldb,
				beta, cd[i*strideC:i*strideC+m*n], n)
		}
	}
	blocks := ((m + gonumBlock - 1) / gonumBlock) * ((n + gonumBlock - 1) / gonumBlock)
	if concurrentMembers && blocks < gonumMinParBlock {
		// Each member's product would run serially: run members
		// concurrently instead.
		parallelFor(members, members*m*n*k, member)
		return
	}
	member(0, members)
}
