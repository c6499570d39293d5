//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"math/bits"
)

// Size classes of the caching allocator. A request is rounded up to a power
// of two of at least minBlock bytes while that is at most largeBlock, and
// to a multiple of largeBlock beyond, so that a block freed by one tensor
// serves any later request of the same class. Powers of two waste at most
// half of a small block and let the many differently sized small buffers of
// a network share a few lists; above largeBlock the waste of a power of two
// would be megabytes, so classes become linear. PyTorch's CUDA caching
// allocator (c10/cuda/CUDACachingAllocator.cpp) draws the same line between
// small and large blocks at 1 MiB, rounding small ones to 512 bytes.
const (
	minBlock   = 512
	largeBlock = 1 << 20
)

// blockSize returns the size class of a request of the given number of
// bytes.
func blockSize(bytes int) int {
	switch {
	case bytes <= minBlock:
		return minBlock
	case bytes <= largeBlock:
		return 1 << bits.Len(uint(bytes-1))
	}
	return (bytes + largeBlock - 1) / largeBlock * largeBlock
}

// AllocStats describes the memory an Engine holds. Sizes are of blocks, that
// is requests rounded up to their size class.
type AllocStats struct {
	DeviceBytes int64 // bytes held from the device: InUseBytes + CachedBytes
	InUseBytes  int64 // bytes of blocks backing live tensors
	CachedBytes int64 // bytes of freed blocks kept for reuse
	// DeviceAllocs and DeviceFrees count the allocations made from and
	// returned to the device since the engine opened. In a steady state
	// (a training loop that frees what it allocates each iteration) they
	// stop growing: every New is served from the cache.
	DeviceAllocs int64
	DeviceFrees  int64
	CacheHits    int64 // allocations served from the cache
}

// allocator is a caching allocator over a device: freed blocks go to a free
// list of their size class instead of back to the device, since device
// allocation (cuMemAlloc) synchronises the device and costs far more than a
// kernel launch. Blocks are reused only after every earlier launch, which
// is ordered before any later one on the engine's single stream, so a block
// freed while a kernel still reads it is safe to hand out again.
type allocator struct {
	dev   device
	free  map[int][]uintptr // cached blocks by size class
	live  map[uintptr]int   // size class of every block in use
	stats AllocStats
}

func newAllocator(dev device) *allocator {
	return &allocator{dev: dev, free: map[int][]uintptr{}, live: map[uintptr]int{}}
}

// errOutOfMemory marks an allocation the device could not satisfy even after
// the cache was released.
var errOutOfMemory = errors.New("out of device memory")

// alloc returns a block of at least bytes > 0 bytes, from the cache when it
// has one of the size class. When the device is out of memory it releases
// the cache and tries once more.
func (a *allocator) alloc(bytes int) (uintptr, error) {
	size := blockSize(bytes)
	if list := a.free[size]; len(list) > 0 {
		p := list[len(list)-1]
		a.free[size] = list[:len(list)-1]
		a.live[p] = size
		a.stats.CachedBytes -= int64(size)
		a.stats.InUseBytes += int64(size)
		a.stats.CacheHits++
		return p, nil
	}
	p, err := a.dev.Alloc(size)
	if err != nil && a.stats.CachedBytes > 0 {
		if rerr := a.release(); rerr != nil {
			return 0, fmt.Errorf("allocate %d bytes: %w; releasing the cache: %v", size, err, rerr)
		}
		p, err = a.dev.Alloc(size)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: allocate %d bytes (a request of %d): %w", errOutOfMemory, size, bytes, err)
	}
	a.live[p] = size
	a.stats.DeviceAllocs++
	a.stats.DeviceBytes += int64(size)
	a.stats.InUseBytes += int64(size)
	return p, nil
}

// put returns a block to the cache.
func (a *allocator) put(p uintptr) {
	size, ok := a.live[p]
	if !ok {
		panic(fmt.Sprintf("cuda: allocator: free of %#x, which is not a live block", p))
	}
	delete(a.live, p)
	a.free[size] = append(a.free[size], p)
	a.stats.InUseBytes -= int64(size)
	a.stats.CachedBytes += int64(size)
}

// release returns every cached block to the device.
func (a *allocator) release() error {
	var first error
	for size, list := range a.free {
		for _, p := range list {
			if err := a.dev.Free(p); err != nil && first == nil {
				first = fmt.Errorf("free %d bytes at %#x: %w", size, p, err)
			}
			a.stats.DeviceFrees++
			a.stats.DeviceBytes -= int64(size)
			a.stats.CachedBytes -= int64(size)
		}
		delete(a.free, size)
	}
	return first
}

// close returns every block, cached or in use, to the device.
func (a *allocator) close() error {
	first := a.release()
	for p, size := range a.live {
		if err := a.dev.Free(p); err != nil && first == nil {
			first = fmt.Errorf("free %d bytes at %#x: %w", size, p, err)
		}
		a.stats.DeviceFrees++
		a.stats.DeviceBytes -= int64(size)
		a.stats.InUseBytes -= int64(size)
		delete(a.live, p)
	}
	return first
}
