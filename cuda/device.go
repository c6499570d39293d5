//go:build cuda || cudaemu

package cuda

import "unsafe"

// Dim3 is a CUDA grid or block shape.
type Dim3 struct{ X, Y, Z int }

// DeviceInfo describes the device an engine runs on, for `imago engines`.
type DeviceInfo struct {
	Name              string // e.g. "NVIDIA H100 80GB HBM3", or "CUDA emulator (CPU)"
	ComputeCapability [2]int // major, minor
	TotalMemory       int64  // bytes
	Driver            string // driver version, e.g. "12.4"
	SMs               int    // multiprocessors
}

// device is the little that the engine needs of a CUDA device. The driver
// (build tag cuda, through gorgonia.org/cu) and the kernel emulator (build
// tag cudaemu, the same kernel sources compiled for the CPU) implement it;
// everything above it is the same code under both tags.
//
// Addresses are device addresses as integers. Work is ordered as on one
// stream: launches and device-to-device copies may run asynchronously;
// CopyDtoH waits for all earlier work; CopyHtoD returns once src may be
// reused.
type device interface {
	Info() DeviceInfo
	Alloc(bytes int) (uintptr, error)
	Free(ptr uintptr) error
	CopyHtoD(dst uintptr, src unsafe.Pointer, bytes int) error
	CopyDtoH(dst unsafe.Pointer, src uintptr, bytes int) error
	CopyDtoD(dst, src uintptr, bytes int) error
	// Launch runs the kernel of the given name (its extern "C" name in
	// kernels/*.cu) on a grid of blocks, with sharedBytes of dynamic shared
	// memory per block. Each kernel parameter is passed as 8 bytes, in the
	// order of the kernel's signature: a pointer as its device address, an
	// int or unsigned as its low 32 bits, a float as math.Float32bits in the
	// low 32 bits, a long long or unsigned long long as all 64.
	Launch(kernel string, grid, block Dim3, sharedBytes int, args ...uint64) error
	Sync() error
	Close() error
}
