package safetensors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
func WriteFile(path string, tensors []Tensor, meta map[string]string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close() // a second Close after a failed one only reports ErrClosed
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := Write(f, tensors, meta); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot open a directory
// for syncing and makes renames durable itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
