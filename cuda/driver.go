//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/kernels"
)

// The driver backend: the CUDA driver API through gorgonia.org/cu.
//
// gorgonia.org/cu calls cuInit from its package initialiser and exits the
// process when that fails, so a binary built with the tag cuda runs only
// where a CUDA driver is installed; by the time engine.Backend's Available
// runs, the driver is known to be loaded and only the devices remain to be
// counted.

func init() {
	engine.Register(engine.Backend{
		Name:        "cuda",
		Description: driverDescription(),
		Available:   driverAvailable,
		Open:        func() (engine.Engine, error) { return Open() },
	})
}

// driverAvailable reports whether the driver has a device to run on.
func driverAvailable() error {
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("count CUDA devices: %w", err)
	}
	if n == 0 {
		return errors.New("no CUDA device")
	}
	return nil
}

// driverDescription describes device 0 for `imago engines`. The queries need
// no context, so they cost a few driver calls at start-up.
func driverDescription() string {
	const what = "NVIDIA GPU through the CUDA driver"
	if driverAvailable() != nil {
		return what
	}
	info, err := deviceInfo(0)
	if err != nil {
		return what
	}
	return what + ": " + info.String()
}

// deviceInfo queries the properties of a device.
func deviceInfo(dev cu.Device) (DeviceInfo, error) {
	var info DeviceInfo
	var err error
	if info.Name, err = dev.Name(); err != nil {
		return info, fmt.Errorf("device name: %w", err)
	}
	if info.TotalMemory, err = dev.TotalMem(); err != nil {
		return info, fmt.Errorf("device memory: %w", err)
	}
	for _, q := range []struct {
		name string
		attr cu.DeviceAttribute
		dst  *int
	}{
		{"compute capability major", cu.ComputeCapabilityMajor, &info.ComputeCapability[0]},
		{"compute capability minor", cu.ComputeCapabilityMinor, &info.ComputeCapability[1]},
		{"multiprocessor count", cu.MultiprocessorCount, &info.SMs},
	} {
		if *q.dst, err = dev.Attribute(q.attr); err != nil {
			return info, fmt.Errorf("device %s: %w", q.name, err)
		}
	}
	// cuDriverGetVersion gives 1000·major + 10·minor.
	if v := cu.Version(); v > 0 {
		info.Driver = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	return info, nil
}

// Open returns an engine on CUDA device 0 (the first device that
// CUDA_VISIBLE_DEVICES leaves visible), loading the kernels' PTX into the
// device's primary context.
func Open() (*Engine, error) {
	d, err := openDriver(0)
	if err != nil {
		return nil, fmt.Errorf("cuda: open device 0: %w", err)
	}
	return newEngine("cuda", d), nil
}

// driver is the device on the CUDA driver API. It uses the device's primary
// context, the one the CUDA runtime and other libraries share, and the
// legacy default stream, on which launches and copies run in the order they
// are issued: launches and device-to-device copies return at once, while
// cuMemcpyDtoH waits for all earlier work.
//
// A CUDA context is current to an OS thread, and goroutines move between
// threads, so every call locks its goroutine to its thread and makes the
// context current first: a cgo call costs some tens of nanoseconds, far
// below a kernel launch's few microseconds.
type driver struct {
	dev     cu.Device
	ctx     cu.CUContext
	info    DeviceInfo
	modules []cu.Module
	funcs   map[string]cu.Function
	params  []unsafe.Pointer // reused by Launch
}

var _ device = (*driver)(nil)

func openDriver(ordinal int) (*driver, error) {
	if err := driverAvailable(); err != nil {
		return nil, err
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, err
	}
	d := &driver{dev: dev, funcs: map[string]cu.Function{}}
	if d.info, err = deviceInfo(dev); err != nil {
		return nil, err
	}
	if d.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("retain primary context: %w", err)
	}
	if err := d.load(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// load loads every PTX module into the context and looks up its kernels.
// The driver compiles PTX for the device's architecture at load time; PTX
// for compute_80 runs on every later architecture.
func (d *driver) load() error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	for _, src := range kernels.Modules() {
		// LoadData copies its argument as a C string: PTX is text.
		mod, err := cu.LoadData(src.PTX)
		if err != nil {
			return fmt.Errorf("load PTX module %s: %w", src.Name, err)
		}
		d.modules = append(d.modules, mod)
		for _, name := range src.Kernels {
			fn, err := mod.Function(name)
			if err != nil {
				return fmt.Errorf("kernel %s of PTX module %s: %w", name, src.Name, err)
			}
			d.funcs[name] = fn
		}
	}
	return nil
}

// enter locks the calling goroutine to its thread and makes the context
// current there; the returned function unlocks the thread.
func (d *driver) enter() (unlock func(), err error) {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("make context current: %w", err)
	}
	return runtime.UnlockOSThread, nil
}

func (d *driver) Info() DeviceInfo { return d.info }

// MemInfo returns the free and total memory of the device.
func (d *driver) MemInfo() (free, total int64, err error) {
	unlock, err := d.enter()
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	return cu.MemInfo()
}

func (d *driver) Alloc(bytes int) (uintptr, error) {
	unlock, err := d.enter()
	if err != nil {
		return 0, err
	}
	defer unlock()
	p, err := cu.MemAlloc(int64(bytes))
	if err != nil {
		return 0, fmt.Errorf("cuMemAlloc of %d bytes: %w", bytes, err)
	}
	return uintptr(p), nil
}

func (d *driver) Free(ptr uintptr) error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	return cu.MemFree(cu.DevicePtr(ptr))
}

func (d *driver) CopyHtoD(dst uintptr, src unsafe.Pointer, bytes int) error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	if err := cu.MemcpyHtoD(cu.DevicePtr(dst), src, int64(bytes)); err != nil {
		return fmt.Errorf("cuMemcpyHtoD of %d bytes: %w", bytes, err)
	}
	return nil
}

func (d *driver) CopyDtoH(dst unsafe.Pointer, src uintptr, bytes int) error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	if err := cu.MemcpyDtoH(dst, cu.DevicePtr(src), int64(bytes)); err != nil {
		return fmt.Errorf("cuMemcpyDtoH of %d bytes: %w", bytes, err)
	}
	return nil
}

func (d *driver) CopyDtoD(dst, src uintptr, bytes int) error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	if err := cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes)); err != nil {
		return fmt.Errorf("cuMemcpyDtoD of %d bytes: %w", bytes, err)
	}
	return nil
}

// Launch launches a kernel asynchronously on the default stream. cu's
// Function.Launch copies 8 bytes from each parameter pointer into C memory,
// and cuLaunchKernel reads from each slot as many bytes as the kernel's
// parameter has: the low 4 of a 32-bit one, on a little-endian host.
func (d *driver) Launch(kernel string, grid, block Dim3, sharedBytes int, args ...uint64) error {
	fn, ok := d.funcs[kernel]
	if !ok {
		return fmt.Errorf("no kernel %q in the loaded PTX", kernel)
	}
	d.params = d.params[:0]
	for i := range args {
		d.params = append(d.params, unsafe.Pointer(&args[i]))
	}
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	err = fn.Launch(grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, cu.NoStream, d.params)
	clear(d.params) // keep no argument alive past the launch
	return err
}

func (d *driver) Sync() error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	return cu.Synchronize()
}

// Close unloads the modules and releases the primary context.
func (d *driver) Close() error {
	unlock, err := d.enter()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, m := range d.modules {
		if err := m.Unload(); err != nil {
			errs = append(errs, fmt.Errorf("unload module: %w", err))
		}
	}
	d.modules, d.funcs = nil, nil
	if err := d.dev.ReleasePrimaryCtx(); err != nil {
		errs = append(errs, fmt.Errorf("release primary context: %w", err))
	}
	return errors.Join(errs...)
}
