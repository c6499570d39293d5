package cpu

import (
	"runtime"
	"sync"
)

// minParallelWork is the work, in units of one cheap elementwise operation
// (an add), below which an op runs inline on the calling goroutine. Starting
// and joining a goroutine costs about a microsecond, the time of a few
// thousand adds; at 2¹⁵ the split pays for itself several times over.
const minParallelWork = 1 << 15

// Relative costs per element, in adds, for parallelFor's work estimate.
const (
	costCheap      = 1  // arithmetic, comparisons, copies
	costTranscend  = 16 // float64 exp, log, tanh and friends
	costPhiloxWord = 8  // a quarter of a Philox4x32-10 block and its conversion
)

// parallelFor calls fn on consecutive ranges [lo, hi) that together cover
// [0, n) exactly once. When work (the estimated cost of the whole loop, in
// adds) is small it calls fn(0, n) inline; otherwise it splits the range
// into one chunk per runtime.GOMAXPROCS and runs them concurrently, one of
// them on the calling goroutine, returning when all have finished. fn must
// not panic: a panic on another goroutine cannot be recovered by the caller,
// so ops validate their inputs before calling parallelFor.
func parallelFor(n, work int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if work < minParallelWork || p == 1 || n < 2 {
		fn(0, n)
		return
	}
	chunks := min(p, n, work/(minParallelWork/4))
	if chunks < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for c := 1; c < chunks; c++ {
		lo, hi := n*c/chunks, n*(c+1)/chunks
		wg.Go(func() { fn(lo, hi) })
	}
	fn(0, n/chunks)
	wg.Wait()
}
