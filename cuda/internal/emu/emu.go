//go:build cudaemu

// Package emu runs imago's CUDA kernels on the CPU, so that the CUDA engine
// builds and is tested without a GPU (build tag cudaemu). The kernel sources
// of kernels/*.cu are compiled as C++ through kernels/emu/cuda_emu.h, which
// supplies the CUDA built-ins; this package is the runtime that launches
// them, and the memory they run on. Package cuda's emulated device is a thin
// layer over it:
//
//	p, err := emu.Alloc(n * 4)
//	err = emu.CopyHtoD(p, unsafe.Pointer(&x[0]), n*4)
//	err = emu.Launch("scale_f32", [3]int{g, 1, 1}, [3]int{256, 1, 1}, 0,
//		uint64(p), uint64(p), uint64(n), uint64(math.Float32bits(2)), 0)
//	err = emu.CopyDtoH(unsafe.Pointer(&x[0]), p, n*4)
//	err = emu.Free(p)
//
// # Memory
//
// Device memory is host memory from the C heap, aligned to 256 bytes as
// cuMemAlloc's is; an address is the host pointer as a uintptr. A fresh
// allocation is filled with 0xFF bytes rather than zeros (cuMemAlloc does not
// zero either): every float in it is a NaN and every int -1, so that reading
// memory nothing wrote shows. Copies and launch pointer arguments are checked
// against the live allocations; what a kernel does with a pointer is not.
//
// # Launches
//
// Launch runs a kernel to completion before it returns, so there is nothing
// to synchronize. The blocks of a launch run one after another on the calling
// OS thread, and the threads of a block are fibers that switch only at
// __syncthreads and at warp-synchronous ops (__shfl_*_sync, __ballot_sync,
// __syncwarp, __reduce_*_sync): between two barriers a thread runs alone.
// Barriers have their CUDA meaning: __syncthreads releases when every thread
// of the block that has not exited has arrived, a warp op when every lane its
// mask names has arrived (or exited), and a block in which neither can happen
// ends the launch with a deadlock error rather than hanging.
//
// The order in which threads run between barriers is what makes the emulator
// useful for races: Forward runs them by increasing thread index, which is
// how sequential code reads and hides most missing barriers; Reverse and
// Random (a seeded permutation per block and barrier) expose a thread that
// reads what another writes before their barrier. Blocks run in the same
// kind of order. SetOrder and SetSeed choose; the environment variables
// IMAGO_EMU_ORDER=forward|reverse|random and IMAGO_EMU_SEED=<uint64> set them
// at start-up, so that CI runs the same tests under each order. The default
// is Forward, with seed 1 for Random.
//
// Launch enforces the limits of compute capability 8.0 and returns an error
// naming the kernel and the launch shape for an unknown kernel, a block of
// more than 1024 threads (or x, y > 1024, z > 64), a grid beyond
// (2³¹−1, 65535, 65535), more than 48 KiB of dynamic shared memory (the limit
// without the opt-in attribute, which the engine does not use), a wrong
// number of arguments, a pointer argument outside every allocation, a
// deadlock, __trap, and a thread that used nearly all of its 64 KiB stack.
//
// # Concurrency
//
// All functions are safe for concurrent use. Launches from several
// goroutines run in parallel on their OS threads, each with its own shared
// memory. The atomics of cuda_emu.h are plain read-modify-writes (nothing
// interleaves within a launch), so two launches running at once must not
// update the same memory, atomically or not: on a GPU their atomics would
// still be atomic.
//
// # Cost
//
// About 40 ns per thread plus 70 ns per thread and barrier crossed, on top
// of the kernel's own work: an elementwise launch over 10⁵ elements takes
// 4 ms, gemm_f32 at 257×257×257 (16×16-thread blocks, two barriers per step
// of 16 along k) 60 ms (BenchmarkLaunch, BenchmarkGemm257; one core of a
// 2-core Xeon VM).
//
// # Limitations
//
// Static __shared__ variables are not counted against the 48 KiB, and they
// keep the previous block's values (a GPU's are undefined, not poisoned).
// Dynamic shared memory must be declared `extern __shared__ float smem[]`
// (see cuda_emu.h). Out-of-bounds accesses inside kernels are not detected.
// Intrinsics such as __expf compute the accurate function, not the GPU's
// approximation, and a*b + c is never contracted into a fused multiply-add
// (nvcc contracts by default): results agree with the GPU's to the
// tolerances that the engine's conformance tests state, not bit for bit.
package emu

/*
#cgo CXXFLAGS: -O2 -std=c++17
#cgo LDFLAGS: -lstdc++ -lm
#include <stdlib.h>
#include "runtime.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	// The go command caches a cgo package by the files in its directory,
	// not by what they #include: kernels.cc's kernels/*.cu are tracked
	// through package kernels, which embeds them, so that an edited kernel
	// rebuilds this package instead of leaving its old form in the cache.
	_ "github.com/imago-rl/imago/kernels"
)

// Limits of the emulated device (compute capability 8.0).
const (
	WarpSize           = 32
	MaxThreadsPerBlock = 1024
	MaxSharedBytes     = 48 << 10 // dynamic shared memory per block
	StackBytes         = 64 << 10 // per emulated thread
)

// Order is the order in which the threads of a block (and the blocks of a
// grid) run between barriers.
type Order int32

const (
	Forward Order = iota // increasing thread index
	Reverse              // decreasing thread index
	Random               // a permutation from the seed, fresh for each block and barrier
)

func (o Order) String() string {
	switch o {
	case Forward:
		return "forward"
	case Reverse:
		return "reverse"
	case Random:
		return "random"
	}
	return fmt.Sprintf("Order(%d)", int32(o))
}

// ParseOrder parses "forward", "reverse" or "random".
func ParseOrder(s string) (Order, error) {
	for _, o := range []Order{Forward, Reverse, Random} {
		if s == o.String() {
			return o, nil
		}
	}
	return 0, fmt.Errorf("emu: unknown thread order %q (want forward, reverse or random)", s)
}

var (
	order atomic.Int32
	seed  atomic.Uint64
)

// SetOrder sets the thread order of the launches that start after it.
func SetOrder(o Order) {
	if o < Forward || o > Random {
		panic(fmt.Sprintf("emu: SetOrder(%v)", o))
	}
	order.Store(int32(o))
}

// CurrentOrder returns the thread order that a launch would use now.
func CurrentOrder() Order { return Order(order.Load()) }

// SetSeed sets the seed of the Random order. A launch's permutations depend
// only on the seed, the launch shape and the block, so a failure under
// Random reproduces with the same seed.
func SetSeed(s uint64) { seed.Store(s) }

func init() {
	seed.Store(1)
	if s := os.Getenv("IMAGO_EMU_ORDER"); s != "" {
		o, err := ParseOrder(s)
		if err != nil {
			panic("IMAGO_EMU_ORDER: " + err.Error())
		}
		SetOrder(o)
	}
	if s := os.Getenv("IMAGO_EMU_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			panic(fmt.Sprintf("emu: IMAGO_EMU_SEED=%q: %v", s, err))
		}
		SetSeed(v)
	}
	for i := 0; ; i++ {
		name := C.imago_emu_kernel_name(C.int(i))
		if name == nil {
			break
		}
		byName[C.GoString(name)] = kernel{index: i, params: C.GoString(C.imago_emu_kernel_params(C.int(i)))}
	}
}

// ---- Memory ------------------------------------------------------------------

type block struct{ start, size uintptr }

var (
	memMu  sync.RWMutex
	blocks []block // live allocations, sorted by start
	inUse  int64
)

// find returns the index of the allocation that holds [p, p+n), or -1. A
// zero-length range may sit at the end of an allocation.
func find(p, n uintptr) int {
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].start > p }) - 1
	if i < 0 || p-blocks[i].start > blocks[i].size || n > blocks[i].size-(p-blocks[i].start) {
		return -1
	}
	return i
}

// Alloc returns the address of bytes > 0 bytes of fresh emulated device
// memory, filled with 0xFF bytes and aligned to 256.
func Alloc(bytes int) (uintptr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("emu: alloc of %d bytes", bytes)
	}
	p := uintptr(C.imago_emu_alloc(C.size_t(bytes)))
	if p == 0 {
		return 0, fmt.Errorf("emu: alloc of %d bytes: out of host memory", bytes)
	}
	memMu.Lock()
	defer memMu.Unlock()
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].start > p })
	blocks = append(blocks, block{})
	copy(blocks[i+1:], blocks[i:])
	blocks[i] = block{p, uintptr(bytes)}
	inUse += int64(bytes)
	return p, nil
}

// Free releases an allocation made by Alloc. Freeing anything else (an
// address inside an allocation, or one already freed) is an error.
func Free(p uintptr) error {
	memMu.Lock()
	defer memMu.Unlock()
	i := find(p, 0)
	if i < 0 || blocks[i].start != p {
		return fmt.Errorf("emu: free of %#x, which is not an allocation", p)
	}
	inUse -= int64(blocks[i].size)
	blocks = append(blocks[:i], blocks[i+1:]...)
	C.imago_emu_free(C.uintptr_t(p))
	return nil
}

// InUse returns the number of bytes allocated and not freed: tests use it to
// check that an engine frees what it allocates.
func InUse() int64 {
	memMu.RLock()
	defer memMu.RUnlock()
	return inUse
}

func checkRange(what string, p uintptr, bytes int) error {
	if find(p, uintptr(bytes)) < 0 {
		return fmt.Errorf("emu: %s [%#x, +%d) is not inside one allocation", what, p, bytes)
	}
	return nil
}

// CopyHtoD copies bytes from host memory at src to the allocation at dst.
// src must not hold Go pointers (cgo's rule).
func CopyHtoD(dst uintptr, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	memMu.RLock()
	defer memMu.RUnlock()
	if err := checkRange("copy to", dst, bytes); err != nil {
		return err
	}
	C.imago_emu_copy_in(C.uintptr_t(dst), src, C.size_t(bytes))
	return nil
}

// CopyDtoH copies bytes from the allocation at src to host memory at dst.
func CopyDtoH(dst unsafe.Pointer, src uintptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	memMu.RLock()
	defer memMu.RUnlock()
	if err := checkRange("copy from", src, bytes); err != nil {
		return err
	}
	C.imago_emu_copy_out(dst, C.uintptr_t(src), C.size_t(bytes))
	return nil
}

// CopyDtoD copies bytes between allocations; the ranges may overlap.
func CopyDtoD(dst, src uintptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	memMu.RLock()
	defer memMu.RUnlock()
	if err := checkRange("copy to", dst, bytes); err != nil {
		return err
	}
	if err := checkRange("copy from", src, bytes); err != nil {
		return err
	}
	C.imago_emu_copy(C.uintptr_t(dst), C.uintptr_t(src), C.size_t(bytes))
	return nil
}

// ---- Kernels -----------------------------------------------------------------

type kernel struct {
	index  int
	params string // one letter per parameter, as runtime.h's KernelEntry.params
}

var byName = map[string]kernel{} // written only by init

// Kernels returns the names of the kernels of kernels/*.cu that Launch
// knows, sorted. The emulator's own test kernels (emutest_*) are launchable
// but not listed.
func Kernels() []string {
	var names []string
	production := int(C.imago_emu_production_kernels())
	for name, k := range byName {
		if k.index < production {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

var paramKinds = map[byte]string{'p': "pointer", 'f': "float", 'i': "int", 'u': "unsigned", 'l': "long long", 'L': "unsigned long long"}

// Launch runs kernel (its extern "C" name) on a grid of blocks with
// sharedBytes of dynamic shared memory per block, and returns when it has
// finished. args holds one value per kernel parameter in the launch ABI of
// kernels/README.md: a pointer as its address, an int, unsigned or float
// (math.Float32bits) in the low 32 bits, a long long in all 64.
func Launch(kernel string, grid, block [3]int, sharedBytes int, args ...uint64) error {
	shape := func() string {
		return fmt.Sprintf("%s<<<(%d,%d,%d), (%d,%d,%d), %d>>>", kernel,
			grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes)
	}
	k, ok := byName[kernel]
	if !ok {
		return fmt.Errorf("emu: launch %s: no such kernel", shape())
	}
	if err := checkShape(grid, block, sharedBytes); err != nil {
		return fmt.Errorf("emu: launch %s: %v", shape(), err)
	}
	if len(args) != len(k.params) {
		return fmt.Errorf("emu: launch %s: %d arguments for %d parameters", shape(), len(args), len(k.params))
	}
	memMu.RLock()
	for i, a := range args {
		if k.params[i] == 'p' && a != 0 && find(uintptr(a), 0) < 0 {
			memMu.RUnlock()
			return fmt.Errorf("emu: launch %s: argument %d (pointer) %#x is not inside an allocation", shape(), i, a)
		}
	}
	memMu.RUnlock()

	g := [3]C.int{C.int(grid[0]), C.int(grid[1]), C.int(grid[2])}
	b := [3]C.int{C.int(block[0]), C.int(block[1]), C.int(block[2])}
	var argp *C.uint64_t
	if len(args) > 0 {
		argp = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	var msg [512]C.char
	if C.imago_emu_launch(C.int(k.index), &g[0], &b[0], C.int(sharedBytes), argp,
		C.int(order.Load()), C.uint64_t(seed.Load()), &msg[0], C.int(len(msg))) != 0 {
		return fmt.Errorf("emu: launch %s (%v order): %s", shape(), CurrentOrder(), C.GoString(&msg[0]))
	}
	return nil
}

// checkShape applies the launch limits of compute capability 8.0.
func checkShape(grid, block [3]int, sharedBytes int) error {
	maxGrid := [3]int{1<<31 - 1, 65535, 65535}
	maxBlock := [3]int{1024, 1024, 64}
	threads := 1
	for d := range 3 {
		if grid[d] < 1 || grid[d] > maxGrid[d] {
			return fmt.Errorf("grid dimension %c = %d outside [1, %d]", "xyz"[d], grid[d], maxGrid[d])
		}
		if block[d] < 1 || block[d] > maxBlock[d] {
			return fmt.Errorf("block dimension %c = %d outside [1, %d]", "xyz"[d], block[d], maxBlock[d])
		}
		threads *= block[d]
	}
	if threads > MaxThreadsPerBlock {
		return fmt.Errorf("block of %d threads exceeds %d", threads, MaxThreadsPerBlock)
	}
	if sharedBytes < 0 || sharedBytes > MaxSharedBytes {
		return fmt.Errorf("%d bytes of dynamic shared memory outside [0, %d]", sharedBytes, MaxSharedBytes)
	}
	return nil
}

// Signature describes the parameters of a kernel as the launch ABI sees
// them, e.g. "pointer, pointer, long long, float", and reports whether the
// kernel exists.
func Signature(kernel string) (string, bool) {
	k, ok := byName[kernel]
	if !ok {
		return "", false
	}
	kinds := make([]string, len(k.params))
	for i := range k.params {
		kinds[i] = paramKinds[k.params[i]]
	}
	return strings.Join(kinds, ", "), true
}
