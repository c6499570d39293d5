package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Backend describes an engine implementation compiled into the binary.
// Implementations register themselves from an init function, so that
// importing a package (or building with its tag) makes it available.
type Backend struct {
	Name        string // registry name, as in --engine NAME
	Description string // one line: what it runs on
	// Available reports whether the engine can run on this machine: nil, or
	// an error saying why not (no GPU, no driver).
	Available func() error
	// Open creates an engine.
	Open func() (Engine, error)
}

var (
	registryMu sync.Mutex
	registry   []Backend
)

// Register adds a backend. It panics if the name is taken.
func Register(b Backend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range registry {
		if r.Name == b.Name {
			panic("engine: backend registered twice: " + b.Name)
		}
	}
	registry = append(registry, b)
	slices.SortFunc(registry, func(x, y Backend) int { return strings.Compare(x.Name, y.Name) })
}

// Backends returns the registered backends sorted by name.
func Backends() []Backend {
	registryMu.Lock()
	defer registryMu.Unlock()
	return slices.Clone(registry)
}

// AutoPreference is the order in which Open("auto") tries engines: the GPU
// when the binary has it and the machine can run it, else the CPU.
var AutoPreference = []string{"cuda", "cpu"}

// Open creates the engine registered under name, or for "auto" the first
// engine of AutoPreference that is compiled in and available. An unknown
// name or an engine that cannot run here gives an error naming the engines
// that exist.
func Open(name string) (Engine, error) {
	if name == "auto" {
		for _, pref := range AutoPreference {
			for _, b := range Backends() {
				if b.Name == pref && b.Available() == nil {
					return b.Open()
				}
			}
		}
	}
	var names []string
	for _, b := range Backends() {
		if b.Name == name {
			if err := b.Available(); err != nil {
				return nil, fmt.Errorf("engine %q is not available on this machine: %w", name, err)
			}
			return b.Open()
		}
		names = append(names, b.Name)
	}
	return nil, fmt.Errorf("unknown engine %q (compiled in: %s; or auto)", name, strings.Join(names, ", "))
}
