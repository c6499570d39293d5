//go:build cudaemu

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/imago-rl/imago/kernels"
)

var orders = []Order{Forward, Reverse, Random}

// withOrders runs f as a subtest under each order, restoring the order the
// environment chose afterwards.
func withOrders(t *testing.T, f func(t *testing.T, o Order)) {
	t.Helper()
	saved := CurrentOrder()
	defer SetOrder(saved)
	for _, o := range orders {
		SetOrder(o)
		t.Run(o.String(), func(t *testing.T) { f(t, o) })
	}
}

// buf is an allocation holding n values of type T, freed at the end of the
// test.
type buf[T any] struct {
	t *testing.T
	p uintptr
	n int
}

func newBuf[T any](t *testing.T, n int) buf[T] {
	t.Helper()
	var zero T
	p, err := Alloc(n * int(unsafe.Sizeof(zero)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Free(p); err != nil {
			t.Error(err)
		}
	})
	return buf[T]{t, p, n}
}

func bufOf[T any](t *testing.T, v []T) buf[T] {
	t.Helper()
	b := newBuf[T](t, len(v))
	b.set(v)
	return b
}

func (b buf[T]) set(v []T) {
	b.t.Helper()
	if err := CopyHtoD(b.p, unsafe.Pointer(&v[0]), len(v)*int(unsafe.Sizeof(v[0]))); err != nil {
		b.t.Fatal(err)
	}
}

func (b buf[T]) get() []T {
	b.t.Helper()
	v := make([]T, b.n)
	if err := CopyDtoH(unsafe.Pointer(&v[0]), b.p, len(v)*int(unsafe.Sizeof(v[0]))); err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b buf[T]) arg() uint64 { return uint64(b.p) }

func f32(x float32) uint64 { return uint64(math.Float32bits(x)) }

func i32(x int) uint64 { return uint64(uint32(int32(x))) }

func launch(t *testing.T, kernel string, grid, block [3]int, shared int, args ...uint64) {
	t.Helper()
	if err := Launch(kernel, grid, block, shared, args...); err != nil {
		t.Fatal(err)
	}
}

// smallInts returns n floats that are small integers, so that every sum of
// them is exact in float32 whatever the order of addition.
func smallInts(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(15) - 7)
	}
	return x
}

func blockSums(x []float32, block, grid int) []float32 {
	s := make([]float32, grid)
	for i, v := range x {
		s[i/block] += v
	}
	return s
}

func TestBlockSum(t *testing.T) {
	const n, block = 1000, 256
	grid := (n + block - 1) / block
	x := smallInts(n, 1)
	want := blockSums(x, block, grid)
	withOrders(t, func(t *testing.T, o Order) {
		xs, out := bufOf(t, x), newBuf[float32](t, grid)
		launch(t, "emutest_block_sum", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, 0, out.arg(), xs.arg(), i32(n))
		if got := out.get(); !slices.Equal(got, want) {
			t.Errorf("block sums %v, want %v", got, want)
		}
	})
}

// TestMissingBarrier is the reason for the orders: the reduction without its
// barrier passes in forward order, as it may on a GPU, and fails in the
// others.
func TestMissingBarrier(t *testing.T) {
	const n, block = 1024, 256
	grid := n / block
	x := smallInts(n, 2)
	want := blockSums(x, block, grid)
	withOrders(t, func(t *testing.T, o Order) {
		xs, out := bufOf(t, x), newBuf[float32](t, grid)
		launch(t, "emutest_block_sum_racy", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, 0, out.arg(), xs.arg(), i32(n))
		got := out.get()
		if correct := slices.Equal(got, want); correct != (o == Forward) {
			t.Errorf("block sums %v, want %v: a missing barrier should go unnoticed in forward order only", got, want)
		}
	})
}

func TestWarpSum(t *testing.T) {
	for _, block := range []int{32, 256, 1024} {
		const n = 5000
		grid := (n + block - 1) / block
		x := smallInts(n, 3)
		want := blockSums(x, block, grid)
		t.Run(fmt.Sprint("block", block), func(t *testing.T) {
			withOrders(t, func(t *testing.T, o Order) {
				xs, out := bufOf(t, x), newBuf[float32](t, grid)
				launch(t, "emutest_warp_sum", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, block/32*4, out.arg(), xs.arg(), i32(n))
				if got := out.get(); !slices.Equal(got, want) {
					t.Errorf("sums %v, want %v", got, want)
				}
			})
		})
	}
}

// TestShuffles checks each shuffle's source lane, width segments, and a
// partial last warp (40 threads: lanes 8..31 of warp 1 do not exist, and a
// shuffle from them returns the caller's own value).
func TestShuffles(t *testing.T) {
	for _, n := range []int{64, 40} {
		t.Run(fmt.Sprint(n, "threads"), func(t *testing.T) { testShuffles(t, n) })
	}
}

func testShuffles(t *testing.T, n int) {
	want := make([]int32, 6*n)
	value := func(self, src int) int32 { // lane src of self's warp, or self
		if g := self&^31 + src; src >= 0 && src < 32 && g < n {
			return int32(100 * g)
		}
		return int32(100 * self)
	}
	for i := range n {
		lane := i % 32
		w := want[6*i:]
		w[0] = value(i, lane&^7+3)
		w[1] = value(i, lane)
		if lane&15 >= 1 {
			w[1] = value(i, lane-1)
		}
		w[2] = value(i, lane)
		if lane&15+2 < 16 {
			w[2] = value(i, lane+2)
		}
		w[3] = value(i, lane^5)
		for g := i &^ 31; g < min(i&^31+32, n); g++ {
			w[4] += int32(100 * g)
			w[5] = int32(100 * g)
		}
	}
	withOrders(t, func(t *testing.T, o Order) {
		out := newBuf[int32](t, 6*n)
		launch(t, "emutest_shuffles", [3]int{1, 1, 1}, [3]int{n, 1, 1}, 0, out.arg())
		got := out.get()
		for i := range n {
			if !slices.Equal(got[6*i:6*i+6], want[6*i:6*i+6]) {
				t.Errorf("thread %d: idx, up, down, xor, add, max = %v, want %v",
					i, got[6*i:6*i+6], want[6*i:6*i+6])
			}
		}
	})
}

func TestBallot(t *testing.T) {
	const grid, block = 3, 48 // warps of 32 and 16 lanes
	x := make([]float32, grid*block)
	for i := range x {
		x[i] = float32(i%5) - 1
	}
	for i := 16; i < 32; i++ {
		x[i] = 1 // warp 0 of block 0 has only positives from lane 16 on
	}
	for i := 32; i < 48; i++ {
		x[i] = 1 // warp 1 of block 0: all 16 lanes positive
	}
	var want []uint32
	for b := range grid {
		for w := 0; w < block; w += 32 {
			var ballot uint32
			lanes := min(32, block-w)
			for l := range lanes {
				if x[b*block+w+l] > 0 {
					ballot |= 1 << l
				}
			}
			all := ballot == uint32(1<<lanes-1)
			want = append(want, ballot, b2u(ballot != 0), b2u(all))
		}
	}
	withOrders(t, func(t *testing.T, o Order) {
		xs, out := bufOf(t, x), newBuf[uint32](t, len(want))
		launch(t, "emutest_ballot", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, 0, out.arg(), xs.arg())
		if got := out.get(); !slices.Equal(got, want) {
			t.Errorf("ballot, any, all per warp:\n got %#x\nwant %#x", got, want)
		}
	})
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func TestAtomics(t *testing.T) {
	const n, block = 10000, 256
	grid := (n + block - 1) / block
	x := smallInts(n, 4)
	var sum float32
	var imax int32 = math.MinInt32
	for _, v := range x {
		sum += v
		imax = max(imax, int32(v))
	}
	withOrders(t, func(t *testing.T, o Order) {
		xs := bufOf(t, x)
		fs := bufOf(t, []float32{0})
		ints := bufOf(t, []int32{0, math.MinInt32, 0, 0, -1})
		umin := bufOf(t, []uint32{math.MaxUint32})
		launch(t, "emutest_atomics", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, 0,
			fs.arg(), ints.arg(), umin.arg(), xs.arg(), i32(n))
		if got := fs.get()[0]; got != sum {
			t.Errorf("atomicAdd(float) sum %v, want %v", got, sum)
		}
		got := ints.get()
		if got[0] != n || got[1] != imax || got[2] != 1 {
			t.Errorf("count %d, max %d, CAS winners %d; want %d, %d, 1", got[0], got[1], got[2], n, imax)
		}
		// The first thread to run claims the CAS flag; the last one's
		// exchange stays.
		if o == Random {
			if got[3] < 1 || got[3] > n || got[4] < 0 || got[4] >= n {
				t.Errorf("CAS flag %d, last exchange %d; want in [1, %d], [0, %d)", got[3], got[4], n, n)
			}
		} else {
			first, last := int32(0), int32(n-1)
			if o == Reverse {
				first, last = n-1, 0
			}
			if got[3] != first+1 || got[4] != last {
				t.Errorf("CAS flag %d, last exchange %d; want %d, %d", got[3], got[4], first+1, last)
			}
		}
		if got := umin.get()[0]; got != 0 {
			t.Errorf("atomicMin(unsigned) %d, want 0", got)
		}
	})
}

func TestDynamicShared(t *testing.T) {
	const grid, block = 3, 128
	withOrders(t, func(t *testing.T, o Order) {
		out := newBuf[uint32](t, 2*grid*block)
		launch(t, "emutest_dynamic_shared", [3]int{grid, 1, 1}, [3]int{block, 1, 1}, block*4, out.arg())
		got := out.get()
		for b := range grid {
			for i := range block {
				g := b*block + i
				if got[2*g] != 0xffffffff {
					t.Fatalf("block %d thread %d: fresh shared memory %#x, want the 0xffffffff poison", b, i, got[2*g])
				}
				if want := uint32(1000*b + block - 1 - i); got[2*g+1] != want {
					t.Fatalf("block %d thread %d: read %d from shared memory, want %d", b, i, got[2*g+1], want)
				}
			}
		}
	})
}

func TestCoords(t *testing.T) {
	grid, block := [3]int{3, 2, 2}, [3]int{4, 3, 2}
	threads := grid[0] * grid[1] * grid[2] * block[0] * block[1] * block[2]
	withOrders(t, func(t *testing.T, o Order) {
		out := newBuf[int32](t, 12*threads)
		launch(t, "emutest_coords", grid, block, 0, out.arg())
		got := out.get()
		k := 0
		for bz := range grid[2] {
			for by := range grid[1] {
				for bx := range grid[0] {
					for tz := range block[2] {
						for ty := range block[1] {
							for tx := range block[0] {
								want := []int32{int32(tx), int32(ty), int32(tz), int32(bx), int32(by), int32(bz),
									int32(block[0]), int32(block[1]), int32(block[2]),
									int32(grid[0]), int32(grid[1]), int32(grid[2])}
								if g := got[12*k : 12*k+12]; !slices.Equal(g, want) {
									t.Fatalf("thread %d: threadIdx, blockIdx, blockDim, gridDim = %v, want %v", k, g, want)
								}
								k++
							}
						}
					}
				}
			}
		}
	})
}

func TestParams(t *testing.T) {
	out := newBuf[uint64](t, 9)
	p := bufOf(t, []float32{2.5})
	q := bufOf(t, []int32{-42})
	var (
		f  float32 = -1.5
		i          = -7
		u  uint32  = 0xdeadbeef
		l  int64   = -1 << 40
		ul uint64  = 1<<63 + 5
	)
	// The high halves of the 32-bit parameters carry junk that the kernel
	// must not see, as the driver reads only the low 4 bytes.
	junk := uint64(0xabcd) << 32
	launch(t, "emutest_params", [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0,
		out.arg(), f32(f)|junk, i32(i)|junk, uint64(u)|junk, uint64(l), ul, p.arg(), q.arg())
	got := out.get()
	want := []uint64{uint64(math.Float32bits(f)), uint64(int64(i)), uint64(u), uint64(l), ul,
		uint64(p.p), uint64(q.p), uint64(0xffffffffffffffd6), uint64(math.Float32bits(2.5))}
	if !slices.Equal(got, want) {
		t.Errorf("parameters read back as %#x, want %#x", got, want)
	}
	sig, ok := Signature("emutest_params")
	if want := "pointer, float, int, unsigned, long long, unsigned long long, pointer, pointer"; !ok || sig != want {
		t.Errorf("Signature = %q, %v; want %q", sig, ok, want)
	}
}

func TestSyncthreadsCount(t *testing.T) {
	withOrders(t, func(t *testing.T, o Order) {
		out := newBuf[int32](t, 4)
		launch(t, "emutest_syncthreads_count", [3]int{1, 1, 1}, [3]int{100, 1, 1}, 0, out.arg(), i32(70))
		// Of threads 0..69 (the rest exited), 24 are multiples of 3.
		if got, want := out.get(), []int32{24, 0, 1, 1}; !slices.Equal(got, want) {
			t.Errorf("__syncthreads_count, _and, _or, and(1) = %v, want %v", got, want)
		}
	})
}

func TestLaunchFailures(t *testing.T) {
	out := newBuf[int32](t, 1024)
	for _, c := range []struct {
		kernel      string
		grid, block [3]int
		args        []uint64
		want        string
	}{
		{"emutest_diverged", [3]int{1, 1, 1}, [3]int{64, 1, 1}, []uint64{out.arg()}, "deadlock"},
		{"emutest_mismatched", [3]int{1, 1, 1}, [3]int{32, 1, 1}, []uint64{out.arg()}, "different warp-synchronous ops"},
		{"emutest_trap", [3]int{3, 1, 1}, [3]int{32, 1, 1}, []uint64{out.arg()}, "block (1,0,0): thread (5,0,0) called __trap"},
		// The kernel's own frames take a few hundred bytes above the 63 KiB.
		{"emutest_deep_stack", [3]int{1, 1, 1}, [3]int{4, 1, 1}, []uint64{out.arg(), i32(StackBytes - 768)}, "stack"},
	} {
		err := Launch(c.kernel, c.grid, c.block, 0, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.kernel+"<<<") {
			t.Errorf("%s: error %v, want one naming the launch and containing %q", c.kernel, err, c.want)
		}
	}
	// The stack that overflowed was replaced: a modest one runs fine.
	launch(t, "emutest_deep_stack", [3]int{1, 1, 1}, [3]int{4, 1, 1}, 0, out.arg(), i32(4096))
}

func TestLaunchErrors(t *testing.T) {
	out := newBuf[float32](t, 16)
	one := [3]int{1, 1, 1}
	args := []uint64{out.arg(), out.arg(), i32(16)}
	for _, c := range []struct {
		kernel      string
		grid, block [3]int
		shared      int
		args        []uint64
		want        string
	}{
		{"no_such_kernel", one, one, 0, nil, "no such kernel"},
		{"emutest_block_sum", one, [3]int{1025, 1, 1}, 0, args, "block dimension x = 1025"},
		{"emutest_block_sum", one, [3]int{64, 1, 65}, 0, args, "block dimension z = 65"},
		{"emutest_block_sum", one, [3]int{64, 32, 1}, 0, args, "block of 2048 threads"},
		{"emutest_block_sum", one, [3]int{0, 1, 1}, 0, args, "block dimension x = 0"},
		{"emutest_block_sum", [3]int{1, 65536, 1}, one, 0, args, "grid dimension y = 65536"},
		{"emutest_block_sum", [3]int{0, 1, 1}, one, 0, args, "grid dimension x = 0"},
		{"emutest_block_sum", one, one, MaxSharedBytes + 1, args, "dynamic shared memory"},
		{"emutest_block_sum", one, one, -1, args, "dynamic shared memory"},
		{"emutest_block_sum", one, one, 0, args[:2], "2 arguments for 3 parameters"},
		{"emutest_block_sum", one, one, 0, []uint64{out.arg(), 0x1234, 1}, "argument 1 (pointer) 0x1234"},
		{"emutest_block_sum", one, one, 0, []uint64{out.arg() + 16*4 + 4, out.arg(), 1}, "argument 0 (pointer)"},
	} {
		err := Launch(c.kernel, c.grid, c.block, c.shared, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.kernel+"<<<") {
			t.Errorf("%s<<<%v, %v, %d>>>(%d args): error %v, want one naming the launch and containing %q",
				c.kernel, c.grid, c.block, c.shared, len(c.args), err, c.want)
		}
	}
	// A null pointer and a pointer one past the end are valid arguments (an
	// optional operand, an empty view).
	launch(t, "emutest_params", one, [3]int{2, 1, 1}, 0, out.arg(), 0, 0, 0, 0, 0, out.arg(), out.arg()+16*4)
}

func TestMemory(t *testing.T) {
	before := InUse()
	p, err := Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	if p%256 != 0 {
		t.Errorf("Alloc returned %#x, not 256-byte aligned", p)
	}
	if InUse() != before+100 {
		t.Errorf("InUse = %d after allocating 100 bytes, want %d", InUse(), before+100)
	}
	var host [100]byte
	if err := CopyDtoH(unsafe.Pointer(&host[0]), p, 100); err != nil {
		t.Fatal(err)
	}
	if host[0] != 0xff || host[99] != 0xff {
		t.Errorf("fresh memory holds %#x..%#x, want the 0xff poison", host[0], host[99])
	}
	for i := range host {
		host[i] = byte(i)
	}
	if err := CopyHtoD(p, unsafe.Pointer(&host[0]), 100); err != nil {
		t.Fatal(err)
	}
	if err := CopyDtoD(p+10, p, 50); err != nil { // overlapping
		t.Fatal(err)
	}
	if err := CopyDtoH(unsafe.Pointer(&host[0]), p, 100); err != nil {
		t.Fatal(err)
	}
	if host[9] != 9 || host[10] != 0 || host[59] != 49 || host[60] != 60 {
		t.Errorf("after an overlapping copy: %v", host[:64])
	}
	for _, err := range []error{
		CopyHtoD(p+1, unsafe.Pointer(&host[0]), 100),
		CopyDtoH(unsafe.Pointer(&host[0]), p-1, 1),
		CopyDtoD(p, p+60, 41),
		Free(p + 1),
	} {
		if err == nil {
			t.Error("out-of-range copy or free of an inner address: no error")
		}
	}
	if _, err := Alloc(0); err == nil {
		t.Error("Alloc(0): no error")
	}
	if err := Free(p); err != nil {
		t.Fatal(err)
	}
	if err := Free(p); err == nil {
		t.Error("double free: no error")
	}
	if InUse() != before {
		t.Errorf("InUse = %d after Free, want %d", InUse(), before)
	}
}

// TestKernels checks that the emulator launches exactly the kernels of
// registry.inc (which package kernels checks against the PTX), and lists
// none of its own test kernels.
func TestKernels(t *testing.T) {
	if got, want := Kernels(), kernels.Names(); !slices.Equal(got, want) {
		t.Errorf("Kernels() = %v, want registry.inc's %v", got, want)
	}
}

// TestKernelSourcesIncluded checks that kernels.cc compiles every
// kernels/*.cu: a file left out would leave its kernels unregistered, or
// fail the build only once registry.inc names them.
func TestKernelSourcesIncluded(t *testing.T) {
	files, err := filepath.Glob("../../../kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernels/*.cu: %v", err)
	}
	cc, err := os.ReadFile("kernels.cc")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if line := fmt.Sprintf("#include %q", f); !strings.Contains(string(cc), line) {
			t.Errorf("kernels.cc lacks %s", line)
		}
	}
}

func TestParseOrder(t *testing.T) {
	for _, o := range orders {
		if got, err := ParseOrder(o.String()); got != o || err != nil {
			t.Errorf("ParseOrder(%q) = %v, %v", o, got, err)
		}
	}
	if _, err := ParseOrder("backwards"); err == nil {
		t.Error(`ParseOrder("backwards"): no error`)
	}
}

// TestConcurrentLaunches runs launches from several goroutines at once: each
// OS thread has its own static and dynamic shared memory and fibers.
func TestConcurrentLaunches(t *testing.T) {
	const n, block, goroutines = 4096, 256, 4
	grid := n / block
	var wg sync.WaitGroup
	for g := range goroutines {
		x := smallInts(n, uint64(10+g))
		want := blockSums(x, block, grid)
		xs, out := bufOf(t, x), newBuf[float32](t, grid)
		kernel, shared := "emutest_warp_sum", block/32*4
		if g%2 == 1 {
			kernel, shared = "emutest_block_sum", 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := Launch(kernel, [3]int{grid, 1, 1}, [3]int{block, 1, 1}, shared,
					out.arg(), xs.arg(), i32(n)); err != nil {
					t.Error(err)
					return
				}
				if got := out.get(); !slices.Equal(got, want) {
					t.Errorf("goroutine %d: sums %v, want %v", g, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// gemm launches kernels/gemm.cu's gemm_f32 for c = a·b, a [m, k] and
// b [k, n].
func gemm(c, a, b uintptr, m, n, k int) error {
	return Launch("gemm_f32", [3]int{(m + 63) / 64, (n + 63) / 64, 1}, [3]int{16, 16, 1}, 0,
		uint64(c), uint64(a), uint64(b), 0, i32(m), i32(n), i32(k), 0, 0, f32(1), f32(0), 0, 0, 0, 0, 0)
}

// TestGemm runs the real gemm_f32 under every order on a 257³ product and
// compares it with a float64 product: the shape of the "well under a second"
// requirement, whose time the test logs.
func TestGemm(t *testing.T) {
	const m, n, k = 257, 257, 257
	r := rand.New(rand.NewPCG(5, 0))
	av, bv := make([]float32, m*k), make([]float32, k*n)
	for i := range av {
		av[i] = float32(r.NormFloat64())
	}
	for i := range bv {
		bv[i] = float32(r.NormFloat64())
	}
	want := make([]float64, m*n)
	for i := range m {
		for p := range k {
			for j := range n {
				want[i*n+j] += float64(av[i*k+p]) * float64(bv[p*n+j])
			}
		}
	}
	withOrders(t, func(t *testing.T, o Order) {
		a, b, c := bufOf(t, av), bufOf(t, bv), newBuf[float32](t, m*n)
		start := time.Now()
		if err := gemm(c.p, a.p, b.p, m, n, k); err != nil {
			t.Fatal(err)
		}
		t.Logf("gemm_f32 %d×%d×%d, %v order: %v", m, n, k, o, time.Since(start))
		// float32 accumulation over k = 257 terms of size ~1: a few 1e-6
		// relative to the sum of |terms| (~k·E|ab| ≈ 164); 1e-4 absolute is ample.
		for i, g := range c.get() {
			if math.Abs(float64(g)-want[i]) > 1e-4*math.Sqrt(k) {
				t.Fatalf("c[%d] = %v, want %v", i, g, want[i])
			}
		}
	})
}

func BenchmarkGemm257(b *testing.B) {
	const m, n, k = 257, 257, 257
	alloc := func(count int) uintptr {
		p, err := Alloc(count * 4)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { Free(p) })
		return p
	}
	a, bb, c := alloc(m*k), alloc(k*n), alloc(m*n)
	// The poison is NaN: fill a and b with something finite.
	for _, p := range []uintptr{a, bb} {
		if err := Launch("fill_f32", [3]int{64, 1, 1}, [3]int{256, 1, 1}, 0, uint64(p), uint64(m*k), f32(0.5)); err != nil {
			b.Fatal(err)
		}
	}
	for _, o := range orders {
		b.Run(o.String(), func(b *testing.B) {
			saved := CurrentOrder()
			defer SetOrder(saved)
			SetOrder(o)
			for b.Loop() {
				if err := gemm(c, a, bb, m, n, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLaunch measures the fixed cost of an elementwise launch of 10⁵
// elements (391 blocks of 256 fibers, no barrier).
func BenchmarkLaunch(b *testing.B) {
	const n = 100_000
	p, err := Alloc(n * 4)
	if err != nil {
		b.Fatal(err)
	}
	defer Free(p)
	for b.Loop() {
		if err := Launch("fill_f32", [3]int{(n + 255) / 256, 1, 1}, [3]int{256, 1, 1}, 0, uint64(p), n, f32(1)); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleLaunch() {
	const n = 4
	x := []float32{1, 2, 3, 4}
	p, _ := Alloc(n * 4)
	defer Free(p)
	_ = CopyHtoD(p, unsafe.Pointer(&x[0]), n*4)
	// scale_f32(dst, x, n, alpha, beta): dst = alpha·x + beta.
	err := Launch("scale_f32", [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0,
		uint64(p), uint64(p), n, uint64(math.Float32bits(2)), uint64(math.Float32bits(1)))
	_ = CopyDtoH(unsafe.Pointer(&x[0]), p, n*4)
	fmt.Println(x, err)
	// Output: [3 5 7 9] <nil>
}
