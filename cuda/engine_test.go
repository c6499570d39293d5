//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/engine/enginetest"
)

// openEngine opens the CUDA engine compiled in: the driver's when the tag
// cuda is set and a device is present, else the emulator's. It is closed
// when the test ends.
func openEngine(t testing.TB) *Engine {
	t.Helper()
	for _, name := range []string{"cuda", "cudaemu"} {
		for _, b := range engine.Backends() {
			if b.Name != name || b.Available() != nil {
				continue
			}
			e, err := b.Open()
			if err != nil {
				t.Fatalf("open %s: %v", name, err)
			}
			t.Cleanup(func() {
				if err := e.Close(); err != nil {
					t.Errorf("close %s: %v", name, err)
				}
			})
			return e.(*Engine)
		}
	}
	t.Skip("no CUDA backend is available")
	return nil
}

func TestConformance(t *testing.T) {
	e := openEngine(t)
	t.Logf("device: %v", e.Device())
	enginetest.Run(t, e)
}

// TestRegistered checks that the backend opens by name and describes itself.
func TestRegistered(t *testing.T) {
	e := openEngine(t)
	for _, b := range engine.Backends() {
		if b.Name == e.Name() && b.Description == "" {
			t.Errorf("backend %s has no description", b.Name)
		}
	}
	if info := e.Device(); info.Name == "" {
		t.Errorf("Device() = %+v: no name", info)
	}
}

func upload(e engine.Engine, v []float32, shape ...int) *engine.Tensor {
	t := e.New(engine.Float32, shape...)
	e.Upload(t, v)
	return t
}

func download(e engine.Engine, t *engine.Tensor) []float32 {
	v := make([]float32, t.Len())
	e.Download(v, t)
	return v
}

// TestRandMatchesCPU draws the same streams on both engines: the random
// fills must agree bit for bit, the CPU engine being the reference of the
// engine package's UniformAt, NormalAt and IntAt.
func TestRandMatchesCPU(t *testing.T) {
	g, c := openEngine(t), cpu.New()
	defer c.Close()
	for _, n := range []int{1, 5, 1031} {
		for _, fill := range []struct {
			name string
			f    func(e engine.Engine, dst *engine.Tensor, rng *engine.RNG)
		}{
			{"uniform", func(e engine.Engine, d *engine.Tensor, r *engine.RNG) { e.RandUniform(d, r, -3, 5) }},
			{"normal", func(e engine.Engine, d *engine.Tensor, r *engine.RNG) { e.RandNormal(d, r, 0.5, 2) }},
		} {
			rg, rc := engine.NewRNG(42), engine.NewRNG(42)
			dg, dc := g.New(engine.Float32, n), c.New(engine.Float32, n)
			for range 2 { // the second fill starts where the first left the counter
				fill.f(g, dg, rg)
				fill.f(c, dc, rc)
				got, want := download(g, dg), download(c, dc)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d: element %d = %v, CPU engine %v", fill.name, n, i, got[i], want[i])
					}
				}
			}
			if *rg != *rc {
				t.Errorf("%s n=%d: RNG %+v, CPU engine's %+v", fill.name, n, *rg, *rc)
			}
			g.Free(dg)
		}
		rg, rc := engine.NewRNG(7), engine.NewRNG(7)
		dg, dc := g.New(engine.Int32, n), c.New(engine.Int32, n)
		g.RandInt(dg, rg, 1000)
		c.RandInt(dc, rc, 1000)
		got, want := make([]int32, n), make([]int32, n)
		g.DownloadInt32(got, dg)
		c.DownloadInt32(want, dc)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("int n=%d: element %d = %d, CPU engine %d", n, i, got[i], want[i])
			}
		}
		g.Free(dg)
	}
}

// chainTol bounds the relative difference, ‖cuda − cpu‖₂ / ‖cpu‖₂, of the
// training step below. Both engines round each op's result once or a few
// times from float32 inputs, summing in different orders (the GPU's Gemm in
// float32 tiles, the CPU's BLAS in its own blocking), so each op differs by
// a few u = 2⁻²⁴ ≈ 6e-8 times √K for its K-term sums; a chain of ten ops
// on K ≤ 24 stays near 1e-6. 1e-5 is the conformance suite's tolerance, far
// below the error of a wrong index or argument order.
const chainTol = 1e-5

// TestTrainStepMatchesCPU runs one training step of a two-layer ensemble
// network on both engines from the same seed and compares every
// intermediate: the forward pass through Linear, the loss's reductions, the
// backward pass through Gemm's transposes, ActivateGrad and ReduceCols, and
// an Adam update.
func TestTrainStepMatchesCPU(t *testing.T) {
	g, c := openEngine(t), cpu.New()
	defer c.Close()
	const (
		members, batch = 3, 19
		in, hidden     = 5, 24
		out            = 2
	)
	type step struct {
		x, w1, b1, h, pre, w2, b2, y, target, diff, sq, loss, dy, dh, dw1, dw2, db1, m, v *engine.Tensor
	}
	run := func(e engine.Engine) (map[string]*engine.Tensor, []string) {
		rng := engine.NewRNG(2024)
		newT := func(shape ...int) *engine.Tensor { return e.New(engine.Float32, shape...) }
		var s step
		s.x = newT(batch, in) // shared by every member
		e.RandNormal(s.x, rng, 0, 1)
		s.w1, s.b1 = newT(members, in, hidden), newT(members, 1, hidden)
		e.RandUniform(s.w1, rng, -0.5, 0.5)
		e.RandUniform(s.b1, rng, -0.1, 0.1)
		s.w2, s.b2 = newT(members, hidden, out), newT(members, 1, out)
		e.RandUniform(s.w2, rng, -0.5, 0.5)
		e.RandUniform(s.b2, rng, -0.1, 0.1)
		s.target = newT(members, batch, out)
		e.RandNormal(s.target, rng, 0, 1)

		// Forward: pre = x·w1 + b1 (unfused, for ActivateGrad), h = tanh
		// through the fused Linear, y = h·w2 + b2.
		s.pre, s.h, s.y = newT(members, batch, hidden), newT(members, batch, hidden), newT(members, batch, out)
		engine.Linear(e, engine.Identity, s.pre, s.x, s.w1, s.b1)
		engine.Linear(e, engine.Tanh, s.h, s.x, s.w1, s.b1)
		engine.Linear(e, engine.Identity, s.y, s.h, s.w2, s.b2)
		// Loss: mean over the outputs of (y − target)², per row.
		s.diff, s.sq, s.loss = newT(members, batch, out), newT(members, batch, out), newT(members, batch, 1)
		e.Binary(engine.Sub, s.diff, s.y, s.target)
		e.Unary(engine.Square, s.sq, s.diff)
		e.ReduceRows(engine.Mean, s.loss, s.sq)
		// Backward: dy = 2·diff/out, dw2 = hᵀ·dy, dh = dy·w2ᵀ ⊙ tanh'(pre),
		// dw1 = xᵀ·dh (x shared), db1 = Σ_rows dh.
		s.dy = newT(members, batch, out)
		e.Scale(s.dy, s.diff, 2.0/out, 0)
		s.dw2 = newT(members, hidden, out)
		e.Gemm(true, false, 1, s.h, s.dy, 0, s.dw2)
		s.dh = newT(members, batch, hidden)
		e.Gemm(false, true, 1, s.dy, s.w2, 0, s.dh)
		e.ActivateGrad(engine.Tanh, s.dh, s.dh, s.pre, s.h)
		s.dw1 = newT(members, in, hidden)
		e.Gemm(true, false, 1, s.x, s.dh, 0, s.dw1)
		s.db1 = newT(members, 1, hidden)
		e.ReduceCols(engine.Sum, s.db1, s.dh)
		// One Adam step on w1.
		s.m, s.v = newT(members, in, hidden), newT(members, in, hidden)
		e.Adam(s.w1, s.dw1, s.m, s.v, engine.AdamConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, 1)

		names := []string{"x", "pre", "h", "y", "loss", "dy", "dw2", "dh", "dw1", "db1", "m", "v", "w1 after Adam"}
		return map[string]*engine.Tensor{
			"x": s.x, "pre": s.pre, "h": s.h, "y": s.y, "loss": s.loss, "dy": s.dy, "dw2": s.dw2,
			"dh": s.dh, "dw1": s.dw1, "db1": s.db1, "m": s.m, "v": s.v, "w1 after Adam": s.w1,
		}, names
	}
	gt, names := run(g)
	ct, _ := run(c)
	for _, name := range names {
		got, want := download(g, gt[name]), download(c, ct[name])
		var d2, w2 float64
		for i := range got {
			d := float64(got[i]) - float64(want[i])
			d2 += d * d
			w2 += float64(want[i]) * float64(want[i])
		}
		if rel := math.Sqrt(d2 / w2); !(rel <= chainTol) {
			t.Errorf("%s: relative difference from the CPU engine %.3g > %g", name, rel, chainTol)
		} else {
			t.Logf("%s: relative difference from the CPU engine %.3g", name, rel)
		}
	}
	if name := "x"; !bitsEqual(download(g, gt[name]), download(c, ct[name])) {
		t.Errorf("%s: a random fill differs from the CPU engine's", name)
	}
}

func bitsEqual(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

func TestBlockSize(t *testing.T) {
	for _, c := range []struct{ bytes, want int }{
		{1, 512}, {512, 512}, {513, 1024}, {4096, 4096}, {4097, 8192},
		{1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}, {5<<20 - 3, 5 << 20},
	} {
		if got := blockSize(c.bytes); got != c.want {
			t.Errorf("blockSize(%d) = %d, want %d", c.bytes, got, c.want)
		}
	}
}

// TestAllocatorReuse checks that freed blocks serve later requests of their
// size class without a new device allocation, and come back zeroed.
func TestAllocatorReuse(t *testing.T) {
	e := openEngine(t)
	x := e.New(engine.Float32, 257) // 1028 bytes: the 2048-byte class
	p := x.Mem().(*Memory).Ptr()
	e.Fill(x, 1)
	e.Free(x)
	before := e.Stats()
	if before.CachedBytes < 2048 {
		t.Fatalf("after Free: %+v, want the 2048-byte block cached", before)
	}
	y := e.New(engine.Int32, 300) // 1200 bytes: the same class
	if q := y.Mem().(*Memory).Ptr(); q != p {
		t.Errorf("New after Free of the same size class: block %#x, want the freed %#x", q, p)
	}
	after := e.Stats()
	if after.DeviceAllocs != before.DeviceAllocs || after.CacheHits != before.CacheHits+1 {
		t.Errorf("New from the cache: stats went from %+v to %+v, want one more cache hit and no device allocation", before, after)
	}
	got := make([]int32, y.Len())
	e.DownloadInt32(got, y)
	for i, v := range got {
		if v != 0 {
			t.Fatalf("reused block not zeroed: element %d = %d", i, v)
		}
	}
	e.Free(y)
}

// TestAllocatorSteadyState runs a loop that allocates and frees the
// temporaries of an iteration, as a training loop does, and checks that
// after the first iteration every allocation comes from the cache.
func TestAllocatorSteadyState(t *testing.T) {
	e := openEngine(t)
	sizes := [][]int{{64, 33}, {64, 1}, {7, 64, 33}, {1000}, {3}, {300, 1000}}
	iterate := func() {
		var ts []*engine.Tensor
		for _, s := range sizes {
			ts = append(ts, e.New(engine.Float32, s...))
		}
		e.Fill(ts[len(ts)-1], 2)
		for _, x := range ts {
			e.Free(x)
		}
	}
	iterate()
	warm := e.Stats()
	for range 5 {
		iterate()
	}
	s := e.Stats()
	if s.DeviceAllocs != warm.DeviceAllocs || s.DeviceBytes != warm.DeviceBytes {
		t.Errorf("steady state allocated from the device: stats went from %+v to %+v", warm, s)
	}
	if s.CacheHits != warm.CacheHits+5*int64(len(sizes)) {
		t.Errorf("cache hits %d, want %d", s.CacheHits, warm.CacheHits+5*int64(len(sizes)))
	}
	if s.InUseBytes != 0 || s.CachedBytes != s.DeviceBytes {
		t.Errorf("after freeing everything: %+v, want nothing in use and everything cached", s)
	}

	e.ReleaseCache()
	s = e.Stats()
	if s.DeviceBytes != 0 || s.CachedBytes != 0 || s.DeviceFrees != s.DeviceAllocs {
		t.Errorf("after ReleaseCache: %+v, want nothing held and every allocation freed", s)
	}
}

// TestCloseReleasesMemory checks that Close returns every block, cached or
// in use, and that the engine's tensors are unusable afterwards.
func TestCloseReleasesMemory(t *testing.T) {
	e := openEngine(t)
	x := e.New(engine.Float32, 100)
	e.Free(e.New(engine.Float32, 5000))
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := e.Stats(); s.DeviceBytes != 0 || s.DeviceFrees != s.DeviceAllocs {
		t.Errorf("after Close: %+v, want nothing held", s)
	}
	msg := panicMessage(func() { e.Fill(x, 1) })
	if !strings.Contains(msg, "closed") {
		t.Errorf("Fill after Close: panic %q, want one saying the engine is closed", msg)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// limitedDevice is a device that refuses allocations beyond a budget, to
// test the allocator's out-of-memory path without exhausting a real device.
type limitedDevice struct {
	device
	budget, used int
	sizes        map[uintptr]int
}

func (d *limitedDevice) Alloc(bytes int) (uintptr, error) {
	if d.used+bytes > d.budget {
		return 0, errors.New("CUDA_ERROR_OUT_OF_MEMORY")
	}
	p, err := d.device.Alloc(bytes)
	if err == nil {
		d.used += bytes
		d.sizes[p] = bytes
	}
	return p, err
}

func (d *limitedDevice) Free(p uintptr) error {
	d.used -= d.sizes[p]
	delete(d.sizes, p)
	return d.device.Free(p)
}

func (d *limitedDevice) MemInfo() (free, total int64, err error) {
	return int64(d.budget - d.used), int64(d.budget), nil
}

func (d *limitedDevice) Close() error { return nil } // the engine that lent it closes it

// TestOutOfMemory checks that an allocation the device refuses releases the
// cache and retries, and that one it still refuses panics with an error
// saying how much was asked for and how much is free.
func TestOutOfMemory(t *testing.T) {
	base := openEngine(t)
	dev := &limitedDevice{device: base.dev, budget: 8 << 10, sizes: map[uintptr]int{}}
	e := newEngine("limited", dev)
	defer e.Close()

	// Two 4 KiB blocks cached fill the budget: an 8 KiB request fits only
	// once the cache is released.
	a, b := e.New(engine.Float32, 1024), e.New(engine.Float32, 1000)
	e.Free(a)
	e.Free(b)
	z := e.New(engine.Float32, 2048)
	if s := e.Stats(); s.CachedBytes != 0 || s.InUseBytes != 8<<10 || s.DeviceFrees != 2 {
		t.Errorf("after an allocation that needed the cache: %+v, want the cache released", s)
	}

	msg := panicMessage(func() { e.New(engine.Float32, 4, 1024) })
	for _, want := range []string{"asked for 16.00 KiB", "0 B of 8.00 KiB", "CUDA_ERROR_OUT_OF_MEMORY"} {
		if !strings.Contains(msg, want) {
			t.Errorf("out-of-memory panic %q does not say %q", msg, want)
		}
	}
	e.Free(z)
}

// TestLaunchError checks that a failed launch panics with an error naming
// the op, the kernel and its launch shape, wrapping the device's error.
func TestLaunchError(t *testing.T) {
	e := openEngine(t)
	var err error
	func() {
		defer func() { err, _ = recover().(error) }()
		e.launch("Test", "no_such_kernel", Dim3{3, 1, 1}, Dim3{256, 1, 1}, 0)
	}()
	if err == nil {
		t.Fatal("launch of an unknown kernel did not panic with an error")
	}
	for _, want := range []string{"Test", "no_such_kernel", "grid (3, 1, 1)", "blocks (256, 1, 1)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("launch error %q does not say %q", err, want)
		}
	}
}

// TestForeignTensor checks that a tensor of another engine is refused.
func TestForeignTensor(t *testing.T) {
	e, c := openEngine(t), cpu.New()
	defer c.Close()
	x := c.New(engine.Float32, 4)
	msg := panicMessage(func() { e.Fill(x, 1) })
	if !strings.Contains(msg, "not a CUDA tensor") {
		t.Errorf("Fill of a CPU tensor: panic %q", msg)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

// The parameter slots of the launch ABI hold a 32-bit parameter in their
// low bytes: this is what makes passing every parameter as 8 bytes correct
// on a little-endian host.
func TestArgLayout(t *testing.T) {
	v := intArg("Test", -2)
	if got := *(*int32)(unsafe.Pointer(&v)); got != -2 {
		t.Errorf("intArg(-2) reads back as int32 %d", got)
	}
	f := f32Arg(1.5)
	if got := *(*float32)(unsafe.Pointer(&f)); got != 1.5 {
		t.Errorf("f32Arg(1.5) reads back as float32 %v", got)
	}
	if msg := panicMessage(func() { intArg("Test", math.MaxInt32+1) }); msg == "" {
		t.Error("intArg(2³¹) did not panic")
	}
}
