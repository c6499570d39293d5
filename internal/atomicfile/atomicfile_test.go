package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFile checks that a write replaces the file whole, and that a
// write that fails, at the writer or just before the rename, leaves the
// old file and no temporary one.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	put := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteFile(path, put("old"), nil); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	for _, c := range []struct {
		write  func(io.Writer) error
		before func(string) error
	}{
		{func(w io.Writer) error { io.WriteString(w, "half"); return crash }, nil},
		{put("new"), func(string) error { return crash }},
	} {
		if err := WriteFile(path, c.write, c.before); !errors.Is(err, crash) {
			t.Errorf("failed write returned %v, want %v", err, crash)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("after a failed write the file holds %q, want %q", b, "old")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("after a failed write the directory holds %d entries, want 1", len(entries))
		}
	}
	if err := WriteFile(path, put("new"), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("file holds %q, want %q", b, "new")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("permissions %v, want 0644", fi.Mode().Perm())
	}
}
