// Package kernels holds the compiled CUDA kernels of imago's CUDA engine:
// the PTX that scripts/build-kernels.sh compiles from kernels/*.cu for
// compute_80, embedded so that building the engine needs no CUDA compiler,
// and the list of kernel names that the CPU emulator (build tag cudaemu)
// registers from registry.inc.
//
// The launch ABI, and the launch shape each kernel expects, are documented
// in README.md and in the comment above each kernel in its .cu file. The
// package is pure Go and links no cgo: importing it adds only text to the
// binary.
package kernels

import (
	"embed"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed ptx/*.ptx
var ptxFiles embed.FS

//go:embed registry.inc
var registry string

// Sources holds the kernel sources the PTX is compiled from (*.cu, *.cuh,
// registry.inc) and the emulator header emu/cuda_emu.h. The emulator
// (cuda/internal/emu) compiles the same files through cgo by #include,
// which Go's build cache does not track outside a package's directory; by
// importing this package, whose archive changes with every byte of them, it
// is rebuilt whenever a source changes instead of running stale kernels.
//
//go:embed *.cu *.cuh registry.inc emu/cuda_emu.h
var Sources embed.FS

// A Module is the PTX compiled from one kernels/*.cu source.
type Module struct {
	Name    string   // the source's base name without .cu, e.g. "gemm"
	PTX     string   // the PTX text, as the driver's cuModuleLoadData takes it
	Kernels []string // the names of the kernels it defines (its .entry directives), sorted
}

// entry matches a PTX kernel definition: `.visible .entry NAME(`.
var entry = regexp.MustCompile(`(?m)^\.visible \.entry ([A-Za-z_][A-Za-z0-9_]*)\(`)

// Modules returns the compiled modules, sorted by name. Each call returns
// fresh slices.
func Modules() []Module {
	files, err := ptxFiles.ReadDir("ptx")
	if err != nil {
		panic("kernels: embedded ptx: " + err.Error()) // cannot happen: go:embed checked it
	}
	var mods []Module
	for _, f := range files {
		b, err := ptxFiles.ReadFile(path.Join("ptx", f.Name()))
		if err != nil {
			panic("kernels: embedded ptx: " + err.Error())
		}
		m := Module{Name: strings.TrimSuffix(f.Name(), ".ptx"), PTX: string(b)}
		for _, sub := range entry.FindAllStringSubmatch(m.PTX, -1) {
			m.Kernels = append(m.Kernels, sub[1])
		}
		slices.Sort(m.Kernels)
		mods = append(mods, m)
	}
	return mods // ReadDir sorts by file name
}

// registryLine matches one line of registry.inc: `EMU_KERNEL(NAME)`.
var registryLine = regexp.MustCompile(`(?m)^EMU_KERNEL\(([A-Za-z_][A-Za-z0-9_]*)\)$`)

// Names returns the names of all kernels, sorted: the list in
// registry.inc, which the emulator can launch, and which the modules
// define between them.
func Names() []string {
	var names []string
	for _, sub := range registryLine.FindAllStringSubmatch(registry, -1) {
		names = append(names, sub[1])
	}
	return names
}
