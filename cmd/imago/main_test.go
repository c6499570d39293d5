package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = newApp(&out, &errOut).Run(append([]string{"imago"}, args...))
	return out.String(), errOut.String(), err
}

func TestEnginesListsCPU(t *testing.T) {
	out, _, err := run(t, "engines")
	if err != nil {
		t.Fatalf("imago engines: %v", err)
	}
	var found bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "cpu" {
			found = true
			if f[1] != "yes" {
				t.Errorf("cpu engine not available: %q", line)
			}
		}
	}
	if !found {
		t.Errorf("imago engines does not list cpu:\n%s", out)
	}
}

func TestBadInvocations(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"engines", "extra"},
		{"engines", "--no-such-flag"},
	} {
		if _, _, err := run(t, args...); err == nil {
			t.Errorf("imago %s: no error", strings.Join(args, " "))
		}
	}
}

// TestDefaultBuildIsPureGo checks that the default build of imago links no
// cgo package of ours or our dependencies and no CUDA binding: the binary
// must build and run on any machine with only a Go toolchain.
func TestDefaultBuildIsPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, ncgo, _ := strings.Cut(line, " ")
		if strings.Contains(path, "gorgonia.org/cu") || strings.Contains(path, "netlib") || strings.HasSuffix(path, "/cuda") {
			t.Errorf("default build imports %s", path)
		}
		// The standard library's cgo variants (runtime/cgo, net, os/user)
		// are chosen by CGO_ENABLED, not by us; anything else with cgo
		// files is ours or a dependency's.
		if ncgo != "0" && !isStdCgo(path) {
			t.Errorf("default build links cgo package %s", path)
		}
	}
}

func isStdCgo(path string) bool {
	switch path {
	case "runtime/cgo", "net", "os/user", "plugin", "runtime/race":
		return true
	}
	return false
}
