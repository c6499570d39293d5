//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/imago-rl/imago/engine"
)

// Engine runs engine.Engine's ops as CUDA kernels on one device. Ops are
// launched asynchronously on one stream, in the order they are called; only
// Download, DownloadInt32 and Sync wait for them. Every op checks its
// arguments with the engine package's Check functions before it launches
// anything, so a programmer error panics with the same message as on the CPU
// engine. A failed launch or copy also panics, with an error naming the
// kernel, its launch shape and the driver's message: the ops of
// engine.Engine return no errors, and a device that fails a launch is in no
// state to go on.
//
// Like every engine it is not safe for concurrent use.
type Engine struct {
	name   string
	dev    device
	info   DeviceInfo
	alloc  *allocator
	counts Counts
	closed bool
}

var (
	_ engine.Engine   = (*Engine)(nil)
	_ engine.Linearer = (*Engine)(nil)
)

// newEngine returns an engine on dev, registered as name.
func newEngine(name string, dev device) *Engine {
	return &Engine{name: name, dev: dev, info: dev.Info(), alloc: newAllocator(dev), counts: Counts{ByOp: map[string]int64{}}}
}

// Memory is an allocation of the CUDA engine: a block of device memory from
// the engine's caching allocator.
type Memory struct {
	eng   *Engine
	ptr   uintptr // device address; 0 for an empty allocation
	n     int     // capacity in elements
	dtype engine.DType
	freed bool
}

var _ engine.Memory = (*Memory)(nil)

// Cap is the allocation's length in elements.
func (m *Memory) Cap() int { return m.n }

// DType is the allocation's element type.
func (m *Memory) DType() engine.DType { return m.dtype }

// Ptr returns the device address of the allocation's first element.
func (m *Memory) Ptr() uintptr { return m.ptr }

// elemSize is the size of every dtype the engine stores: float32 and int32.
const elemSize = 4

// memory returns the CUDA memory t views, panicking if t is not usable by e:
// made by another engine, freed, or e closed.
func (e *Engine) memory(op string, t *engine.Tensor) *Memory {
	m, ok := t.Mem().(*Memory)
	switch {
	case !ok:
		panic(fmt.Sprintf("cuda: %s: %v is not a CUDA tensor", op, t))
	case m.eng != e:
		panic(fmt.Sprintf("cuda: %s: %v belongs to another CUDA engine", op, t))
	case e.closed:
		panic(fmt.Sprintf("cuda: %s: engine is closed", op))
	case m.freed:
		panic(fmt.Sprintf("cuda: %s: %v views freed memory", op, t))
	}
	return m
}

// addr returns the device address of t's first element.
func (e *Engine) addr(op string, t *engine.Tensor) uintptr {
	return e.memory(op, t).ptr + uintptr(t.Offset())*elemSize
}

// Name returns the engine's registry name: "cuda", or "cudaemu" for the
// emulator.
func (e *Engine) Name() string { return e.name }

// Device describes the device the engine runs on.
func (e *Engine) Device() DeviceInfo { return e.info }

// Stats returns the state of the engine's caching allocator.
func (e *Engine) Stats() AllocStats { return e.alloc.stats }

// Counts is the work an Engine has issued since it opened or since its
// counts were last reset: kernel launches, and copies between host and
// device with their bytes. Each launch costs a few microseconds of host
// and driver time, about what a GPU takes for one of the products of a
// training step at SAC's sizes (an estimate, not yet measured), so the
// launch count of such a step weighs on its time as much as its FLOPs;
// tests count the launches of one SAC update and fail when a change adds
// some.
type Counts struct {
	// Launches counts the kernels launched. ByOp splits them by the engine
	// op that launched them ("Gemm", "Linear", "Binary", …); "New" is the
	// kernel that zeroes a new tensor, so a steady state has none.
	Launches int64
	ByOp     map[string]int64
	// HtoD, DtoH and DtoD count the copies from host to device (Upload,
	// UploadInt32), device to host (Download, DownloadInt32) and within
	// the device (Copy), and the Bytes fields their sizes. A copy of no
	// elements is not made and not counted.
	HtoD, DtoH, DtoD                int64
	HtoDBytes, DtoHBytes, DtoDBytes int64
}

// Counts returns the engine's counts of launches and copies; the map is
// the caller's.
func (e *Engine) Counts() Counts {
	c := e.counts
	c.ByOp = maps.Clone(e.counts.ByOp)
	return c
}

// ResetCounts sets the counts of launches and copies to zero, so that the
// next Counts describes the work issued from now on.
func (e *Engine) ResetCounts() { e.counts = Counts{ByOp: map[string]int64{}} }

// Launches returns Counts().Launches without copying the map. It is for
// callers that cannot name this package's types: the default build of
// imago, which compiles no CUDA, reads it through an interface of its own.
func (e *Engine) Launches() int64 { return e.counts.Launches }

// ReleaseCache returns the blocks that freed tensors left in the cache to the
// device, for other users of the device. New releases the cache by itself
// when the device runs out of memory.
func (e *Engine) ReleaseCache() {
	if err := e.alloc.release(); err != nil {
		panic(fmt.Errorf("cuda: ReleaseCache: %w", err))
	}
}

// New returns a zeroed tensor of the given dtype and shape. Its memory comes
// from the cache when a freed block of its size class is there, and is
// zeroed by a kernel either way. When the device is out of memory even
// after the cache is released, New panics with an error that says how much
// was asked for and how much is free.
func (e *Engine) New(dtype engine.DType, shape ...int) *engine.Tensor {
	if e.closed {
		panic("cuda: New: engine is closed")
	}
	if dtype != engine.Float32 && dtype != engine.Int32 {
		panic(fmt.Sprintf("cuda: New: unknown dtype %v", dtype))
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("cuda: New: negative dimension in shape %v", shape))
		}
		n *= d
	}
	m := &Memory{eng: e, dtype: dtype, n: n}
	if n > 0 {
		p, err := e.alloc.alloc(n * elemSize)
		if err != nil {
			panic(e.allocError(dtype, shape, n*elemSize, err))
		}
		m.ptr = p
		e.zero(p, n)
	}
	return engine.NewTensor(m, 0, shape...)
}

// memInfoer is implemented by devices that can tell how much memory is free.
type memInfoer interface {
	MemInfo() (free, total int64, err error)
}

func (e *Engine) allocError(dtype engine.DType, shape []int, bytes int, err error) error {
	free := "unknown"
	if mi, ok := e.dev.(memInfoer); ok {
		if f, total, ierr := mi.MemInfo(); ierr == nil {
			free = fmt.Sprintf("%s of %s", formatBytes(f), formatBytes(total))
		}
	}
	s := e.alloc.stats
	return fmt.Errorf("cuda: New %v %v: asked for %s, device has %s free, this engine holds %s (%s in use, %s cached): %w",
		dtype, shape, formatBytes(int64(bytes)), free,
		formatBytes(s.DeviceBytes), formatBytes(s.InUseBytes), formatBytes(s.CachedBytes), err)
}

func formatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// Free returns the memory t views to the engine's cache; t and every other
// view of it become unusable, and using them panics. Freeing memory twice
// panics. Kernels launched before Free that read or write the memory still
// see it: the block is handed out again only to work launched after them.
func (e *Engine) Free(t *engine.Tensor) {
	m, ok := t.Mem().(*Memory)
	switch {
	case !ok:
		panic(fmt.Sprintf("cuda: Free: %v is not a CUDA tensor", t))
	case m.eng != e:
		panic(fmt.Sprintf("cuda: Free: %v belongs to another CUDA engine", t))
	case m.freed:
		panic(fmt.Sprintf("cuda: Free: memory of %v freed twice", t))
	}
	m.freed = true
	if m.ptr != 0 && !e.closed {
		e.alloc.put(m.ptr)
	}
	m.ptr = 0
}

// Upload copies src into dst. It returns once src may be reused.
func (e *Engine) Upload(dst *engine.Tensor, src []float32) {
	engine.CheckUpload("Upload", dst, len(src), engine.Float32)
	p := e.addr("Upload", dst)
	if len(src) > 0 {
		e.countHtoD(len(src))
		e.check("Upload", e.dev.CopyHtoD(p, unsafe.Pointer(&src[0]), len(src)*elemSize))
	}
}

// Download copies src into dst after all earlier work has finished.
func (e *Engine) Download(dst []float32, src *engine.Tensor) {
	engine.CheckDownload("Download", len(dst), src, engine.Float32)
	p := e.addr("Download", src)
	if len(dst) > 0 {
		e.countDtoH(len(dst))
		e.check("Download", e.dev.CopyDtoH(unsafe.Pointer(&dst[0]), p, len(dst)*elemSize))
	}
}

// UploadInt32 copies src into the Int32 tensor dst.
func (e *Engine) UploadInt32(dst *engine.Tensor, src []int32) {
	engine.CheckUpload("UploadInt32", dst, len(src), engine.Int32)
	p := e.addr("UploadInt32", dst)
	if len(src) > 0 {
		e.countHtoD(len(src))
		e.check("UploadInt32", e.dev.CopyHtoD(p, unsafe.Pointer(&src[0]), len(src)*elemSize))
	}
}

// DownloadInt32 copies the Int32 tensor src into dst after all earlier work
// has finished.
func (e *Engine) DownloadInt32(dst []int32, src *engine.Tensor) {
	engine.CheckDownload("DownloadInt32", len(dst), src, engine.Int32)
	p := e.addr("DownloadInt32", src)
	if len(dst) > 0 {
		e.countDtoH(len(dst))
		e.check("DownloadInt32", e.dev.CopyDtoH(unsafe.Pointer(&dst[0]), p, len(dst)*elemSize))
	}
}

// Copy copies src into dst with a device-to-device copy, ordered with the
// launches around it.
func (e *Engine) Copy(dst, src *engine.Tensor) {
	n := engine.CheckCopy(dst, src)
	d, s := e.addr("Copy", dst), e.addr("Copy", src)
	if n == 0 || d == s {
		return
	}
	e.counts.DtoD++
	e.counts.DtoDBytes += int64(n) * elemSize
	e.check("Copy", e.dev.CopyDtoD(d, s, n*elemSize))
}

// Sync waits until all work issued so far has finished.
func (e *Engine) Sync() {
	if e.closed {
		panic("cuda: Sync: engine is closed")
	}
	e.check("Sync", e.dev.Sync())
}

// Close waits for the work issued so far, returns all memory to the device
// and releases the device. The engine and its tensors are unusable
// afterwards. Closing twice returns nil.
func (e *Engine) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	err := e.dev.Sync()
	if aerr := e.alloc.close(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if derr := e.dev.Close(); derr != nil {
		err = errors.Join(err, derr)
	}
	if err != nil {
		return fmt.Errorf("cuda: close %s engine: %w", e.name, err)
	}
	return nil
}

// check panics if a transfer or synchronisation failed. Launches are
// asynchronous, so the error may be that of an earlier kernel.
func (e *Engine) check(op string, err error) {
	if err != nil {
		panic(fmt.Errorf("cuda: %s: %w (launches are asynchronous: the error may be an earlier kernel's)", op, err))
	}
}

// Launch shapes. Most kernels run blocks of threads threads; a grid's X
// dimension may be up to 2³¹−1 blocks, its Y and Z up to maxGridYZ (CUDA C
// Programming Guide, "Compute Capabilities", table of technical
// specifications).
const (
	threads   = 256
	maxGridYZ = 65535
)

// countHtoD and countDtoH count a copy of n elements to and from the
// device. Code of this package that copies through e.dev directly counts
// its copies with them.
func (e *Engine) countHtoD(n int) {
	e.counts.HtoD++
	e.counts.HtoDBytes += int64(n) * elemSize
}

func (e *Engine) countDtoH(n int) {
	e.counts.DtoH++
	e.counts.DtoHBytes += int64(n) * elemSize
}

// launch runs a kernel, counting it under op, and panics if the launch
// fails. Every launch of the engine goes through it.
func (e *Engine) launch(op, kernel string, grid, block Dim3, shared int, args ...uint64) {
	e.counts.Launches++
	e.counts.ByOp[op]++
	if err := e.dev.Launch(kernel, grid, block, shared, args...); err != nil {
		panic(fmt.Errorf("cuda: %s: launch %s on grid (%d, %d, %d) of blocks (%d, %d, %d), %d bytes shared: %w",
			op, kernel, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared, err))
	}
}

// The 8-byte launch arguments (see device.Launch).

func ptrArg(p uintptr) uint64 { return uint64(p) }

func f32Arg(v float32) uint64 { return uint64(math.Float32bits(v)) }

func u64Arg(v uint64) uint64 { return v }

// intArg passes v as a kernel's int. Element counts and dimensions above
// 2³¹−1 would overflow it: the engine panics rather than launch a kernel
// that indexes the wrong memory.
func intArg(op string, v int) uint64 {
	if v < math.MinInt32 || v > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: %s: %d does not fit the kernel's 32-bit int", op, v))
	}
	return uint64(uint32(int32(v)))
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// blocks returns the number of blocks of size elements that cover n.
func blocks(n, size int) int { return (n + size - 1) / size }

// String describes the device in one line, as `imago engines` prints it:
// "NVIDIA H100 80GB HBM3, compute capability 9.0, 132 SMs, 79.10 GiB, driver
// 12.4". Fields the device does not report (zero) are left out.
func (d DeviceInfo) String() string {
	s := fmt.Sprintf("%s, compute capability %d.%d", d.Name, d.ComputeCapability[0], d.ComputeCapability[1])
	if d.SMs > 0 {
		s += fmt.Sprintf(", %d SMs", d.SMs)
	}
	if d.TotalMemory > 0 {
		s += ", " + formatBytes(d.TotalMemory)
	}
	if d.Driver != "" {
		s += ", driver " + d.Driver
	}
	return s
}

// PeakFLOPS returns the device's FP32 peak in FLOP/s, a fused multiply-add
// counting as 2, for reporting what fraction of it a benchmark reaches. It
// is 0 when the device is not in the table of fp32Peaks, and for the
// emulator.
func (e *Engine) PeakFLOPS() float64 { return fp32Peak(e.info.Name) }

// fp32Peaks holds the FP32 peaks (non-tensor, at boost clock) that NVIDIA's
// data sheets give for the cards imago is measured on, in TFLOP/s. Each is
// SMs × boost clock × FP32 lanes per SM × 2: the H100 SXM's 132 SMs at
// 1.98 GHz with 128 lanes give 66.9. A card matches an entry when the
// first word of its name after "NVIDIA" is the model and, for entries with
// a variant, another word of the name is the variant (case-insensitive);
// the first match counts. Variants whose clocks differ and whose figure is
// not listed here (H100 NVL, H200 NVL) have a peak of 0, unknown, rather
// than the SXM part's.
var fp32Peaks = []struct {
	model, variant string
	tflops         float64
}{
	{"H100", "PCIe", 51.2},
	{"H100", "NVL", 0},
	{"H100", "", 66.9}, // SXM5, named "NVIDIA H100 80GB HBM3"
	{"H200", "NVL", 0},
	{"H200", "", 66.9},
	{"A100", "", 19.5}, // SXM4 and PCIe: 108 SMs at 1.41 GHz, 64 lanes
	{"L4", "", 30.3},
}

// fp32Peak returns the FP32 peak in FLOP/s of the device called name, 0
// when fp32Peaks does not know it.
func fp32Peak(name string) float64 {
	words := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == ' ' || r == '-' })
	if len(words) > 0 && words[0] == "NVIDIA" {
		words = words[1:]
	}
	if len(words) == 0 {
		return 0
	}
	for _, p := range fp32Peaks {
		if words[0] == strings.ToUpper(p.model) && (p.variant == "" || slices.Contains(words[1:], strings.ToUpper(p.variant))) {
			return p.tflops * 1e12
		}
	}
	return 0
}
