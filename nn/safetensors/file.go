package safetensors

import (
	"fmt"
	"io"
	"os"

	"github.com/imago-rl/imago/internal/atomicfile"
)

// ReadFile reads the safetensors file at path; see Read.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	tensors, meta, err := Read(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return tensors, meta, nil
}

// WriteFile writes tensors and meta to path as Write does, atomically: the
// file at path is either left as it was or replaced whole by the new one,
// even if the process or the machine dies part way. It writes a temporary
// file in the same directory, syncs it, renames it over path and syncs the
// directory. The new file's permissions are 0644.
func WriteFile(path string, tensors []Tensor, meta map[string]string) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Write(w, tensors, meta) }, nil)
}
