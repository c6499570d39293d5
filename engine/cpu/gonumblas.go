//go:build !openblas

package cpu

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// sgemm is gonum's pure-Go Sgemm, the implementation behind blas32.
var sgemm blas.Float32 = gonum.Implementation{}

const (
	blasName = "pure Go (gonum blas32)"
	// gonum's Sgemm splits a product into 64×64 blocks of c and runs them
	// concurrently only when there are at least four; for smaller products
	// the engine runs ensemble members concurrently instead.
	concurrentMembers = true
)
