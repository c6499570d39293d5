package kernels

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRegistryMatchesPTX checks that the kernels registry.inc lists for
// the emulator are exactly those the PTX defines, each in one module: a
// kernel added to a .cu file without `make kernels`, or a stale registry,
// fails here.
func TestRegistryMatchesPTX(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("registry.inc lists no kernels")
	}
	if !slices.IsSorted(names) {
		t.Errorf("registry.inc is not sorted: %v", names)
	}
	defined := map[string]string{} // kernel → module
	for _, m := range Modules() {
		if len(m.Kernels) == 0 {
			t.Errorf("module %s defines no kernel", m.Name)
		}
		for _, k := range m.Kernels {
			if prev, ok := defined[k]; ok {
				t.Errorf("kernel %s is defined in modules %s and %s", k, prev, m.Name)
			}
			defined[k] = m.Name
		}
	}
	for _, n := range names {
		if _, ok := defined[n]; !ok {
			t.Errorf("registry.inc lists %s, which no PTX module defines", n)
		}
	}
	for k, m := range defined {
		if !slices.Contains(names, k) {
			t.Errorf("module %s defines %s, which registry.inc does not list", m, k)
		}
	}
}

// TestPTXTarget checks that every module targets compute_80 with a PTX ISA
// version that the drivers of CUDA 11.8 and later accept (7.8 or lower).
func TestPTXTarget(t *testing.T) {
	version := regexp.MustCompile(`(?m)^\.version (\d+)\.(\d+)$`)
	for _, m := range Modules() {
		if !strings.Contains(m.PTX, "\n.target sm_80\n") {
			t.Errorf("module %s: no `.target sm_80`", m.Name)
		}
		v := version.FindStringSubmatch(m.PTX)
		if v == nil {
			t.Errorf("module %s: no .version directive", m.Name)
			continue
		}
		major, _ := strconv.Atoi(v[1])
		minor, _ := strconv.Atoi(v[2])
		if major > 7 || major == 7 && minor > 8 {
			t.Errorf("module %s: PTX ISA %d.%d is newer than CUDA 11.8's 7.8", m.Name, major, minor)
		}
	}
}

// TestEverySourceCompiled checks that each kernels/*.cu has a module and
// each module a source, and that the kernels a source declares are the
// ones its module defines.
func TestEverySourceCompiled(t *testing.T) {
	sources, err := filepath.Glob("*.cu")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^extern "C" __global__ void ([A-Za-z_][A-Za-z0-9_]*)\(`)
	mods := map[string]Module{}
	for _, m := range Modules() {
		mods[m.Name] = m
	}
	for _, src := range sources {
		name := strings.TrimSuffix(src, ".cu")
		m, ok := mods[name]
		if !ok {
			t.Errorf("%s has no ptx/%s.ptx: run `make kernels`", src, name)
			continue
		}
		delete(mods, name)
		text, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var declared []string
		for _, sub := range decl.FindAllStringSubmatch(string(text), -1) {
			declared = append(declared, sub[1])
		}
		slices.Sort(declared)
		if !slices.Equal(declared, m.Kernels) {
			t.Errorf("%s declares kernels %v but ptx/%s.ptx defines %v: run `make kernels`", src, declared, name, m.Kernels)
		}
	}
	for name := range mods {
		t.Errorf("ptx/%s.ptx has no source %s.cu", name, name)
	}
}

// TestHeaders checks that every kernels/*.cuh has `#pragma once` and
// defines no kernel: the emulator compiles all sources as one translation
// unit, where a header included twice would define its functions twice,
// and a kernel in a header would be defined in every module that includes
// it, and go unlisted by scripts/build-kernels.sh, which registers the
// kernels of the .cu files alone.
func TestHeaders(t *testing.T) {
	headers, err := filepath.Glob("*.cuh")
	if err != nil || len(headers) == 0 {
		t.Fatalf("no kernels/*.cuh: %v", err)
	}
	for _, h := range headers {
		text, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^#pragma once$`).Match(text) {
			t.Errorf("%s lacks `#pragma once`", h)
		}
		if regexp.MustCompile(`(?m)^[^/]*__global__`).Match(text) {
			t.Errorf("%s defines a kernel; kernels belong in .cu files", h)
		}
	}
}
