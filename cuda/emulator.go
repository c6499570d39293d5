//go:build cudaemu

package cuda

import (
	"unsafe"

	"github.com/imago-rl/imago/cuda/internal/emu"
	"github.com/imago-rl/imago/engine"
)

// The emulator backend: the kernels of kernels/*.cu compiled for the CPU
// (package cuda/internal/emu), so that the engine and its kernels are tested
// where there is no GPU. It is for tests: a launch runs its blocks one after
// another, and the threads of a block as fibers.

func init() {
	engine.Register(engine.Backend{
		Name:        "cudaemu",
		Description: "CUDA kernels emulated on the CPU (testing only)",
		Available:   func() error { return nil },
		Open:        func() (engine.Engine, error) { return OpenEmulator(), nil },
	})
}

// OpenEmulator returns an engine whose kernels run in the emulator. Its
// memory is host memory, and every launch finishes before it returns.
func OpenEmulator() *Engine { return newEngine("cudaemu", emulator{}) }

// emulator is the device of package emu, whose launches run to completion
// before they return: there is never work outstanding to wait for.
type emulator struct{}

var _ device = emulator{}

func (emulator) Info() DeviceInfo {
	// The emulator enforces the launch limits of compute capability 8.0,
	// the architecture the PTX is compiled for.
	return DeviceInfo{Name: "CUDA emulator (CPU)", ComputeCapability: [2]int{8, 0}}
}

func (emulator) Alloc(bytes int) (uintptr, error) { return emu.Alloc(bytes) }
func (emulator) Free(ptr uintptr) error           { return emu.Free(ptr) }

func (emulator) CopyHtoD(dst uintptr, src unsafe.Pointer, bytes int) error {
	return emu.CopyHtoD(dst, src, bytes)
}

func (emulator) CopyDtoH(dst unsafe.Pointer, src uintptr, bytes int) error {
	return emu.CopyDtoH(dst, src, bytes)
}

func (emulator) CopyDtoD(dst, src uintptr, bytes int) error { return emu.CopyDtoD(dst, src, bytes) }

func (emulator) Launch(kernel string, grid, block Dim3, sharedBytes int, args ...uint64) error {
	return emu.Launch(kernel, [3]int{grid.X, grid.Y, grid.Z}, [3]int{block.X, block.Y, block.Z}, sharedBytes, args...)
}

func (emulator) Sync() error  { return nil }
func (emulator) Close() error { return nil }
