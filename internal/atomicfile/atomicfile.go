// Package atomicfile writes files atomically: the file at a path is either
// left as it was or replaced whole by the new one, even if the process or
// the machine dies part way. Checkpoints, safetensors files and a resumed
// run's metrics.csv are written this way.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile writes the file at path with write, atomically: write fills a
// temporary file in the same directory, which is synced, closed, renamed
// over path, and the directory synced. The new file's permissions are
// 0644. beforeRename, if not nil, runs with the temporary file's name just
// before the rename, and an error from it stops the write there (tests use
// it to stand for a crash). On an error the temporary file is removed and
// path is as it was; the error names path.
func WriteFile(path string, write func(w io.Writer) error, beforeRename func(tmp string) error) (err error) {
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
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if beforeRename != nil {
		if err := beforeRename(f.Name()); err != nil {
			return err
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or a removal in dir durable. Windows cannot open
// a directory for syncing and makes renames durable itself.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
