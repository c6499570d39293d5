//go:build openblas

package cpu

// The netlib package declares no link flags, leaving the choice of C BLAS to
// the binary; naming OpenBLAS here makes `go build -tags openblas` work
// without CGO_LDFLAGS. Debian's libopenblas-dev provides -lopenblas.

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// sgemm is OpenBLAS's cblas_sgemm, through gonum's cgo binding.
var sgemm blas.Float32 = netlib.Implementation{}

const (
	blasName = "OpenBLAS"
	// OpenBLAS threads each call itself, and concurrent calls from several
	// threads are only safe in builds made with USE_LOCKING; members run one
	// after another.
	concurrentMembers = false
)
