package tensorboard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Writer writes scalars to one TensorBoard event file.
//
// Every event is handed to the operating system with a single write as soon
// as it is encoded, with no buffering in the process, so a crash of the
// process loses none of the events whose call returned nil, and TensorBoard
// sees them while the run goes on. Flush makes them durable against a crash
// of the machine as well.
//
// The first error writing the file sticks: later calls return it without
// writing, so a record cut short by a failed write is never followed by
// more records.
//
// A Writer is safe for concurrent use by multiple goroutines.
type Writer struct {
	mu   sync.Mutex
	path string
	f    *os.File // nil once closed
	err  error    // first write error, returned by every later call
	buf  []byte   // record being written, reused
}

// Create creates the directory dir if need be and a new event file in it,
// named
//
//	events.out.tfevents.<now in Unix seconds>.<hostname>.<pid>.imago
//
// as TensorFlow names its files (TensorBoard reads the files whose names
// contain "tfevents"), and writes the first event: wall time now and
// file_version "brain.Event:2".
//
// Create never overwrites a file: a second Writer created in the same
// directory by the same process within the same second (a run resumed in
// the process that was interrupted) gets the name with ".1" before
// ".imago", a third ".2", and so on.
func Create(dir string, now time.Time) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: create event file: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// A hostname holds no path separator, but the file name must not
	// depend on that.
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, host)
	base := fmt.Sprintf("events.out.tfevents.%d.%s.%d", now.Unix(), host, os.Getpid())
	var (
		path string
		f    *os.File
	)
	for n := 0; ; n++ {
		name := base + ".imago"
		if n > 0 {
			name = fmt.Sprintf("%s.%d.imago", base, n)
		}
		path = filepath.Join(dir, name)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || n == 99 {
			return nil, fmt.Errorf("tensorboard: create event file: %w", err)
		}
	}
	w := &Writer{path: path, f: f}
	if err := w.write(appendFileVersionEvent(nil, seconds(now))); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return w, nil
}

// Path returns the path of the event file.
func (w *Writer) Path() string { return w.path }

// Scalars writes one event at step and wall time wall holding values[i]
// under tags[i] for each i. Values are stored as float32, as TensorBoard
// stores scalars: a value beyond the float32 range becomes ±Inf; NaN and
// ±Inf are written as they are, and TensorBoard shows them.
//
// tags and values must have the same length; every tag must be non-empty
// valid UTF-8 (TensorBoard groups tags by the part before the first '/').
// Given no tags, Scalars writes nothing.
func (w *Writer) Scalars(step int64, wall time.Time, tags []string, values []float64) error {
	if len(tags) != len(values) {
		return fmt.Errorf("tensorboard: %d tags for %d values, want one tag per value", len(tags), len(values))
	}
	for i, tag := range tags {
		if tag == "" {
			return fmt.Errorf("tensorboard: tag %d of %d is empty, want a name such as \"eval/return\"", i, len(tags))
		}
		if !utf8.ValidString(tag) {
			return fmt.Errorf("tensorboard: tag %q is not valid UTF-8, which protobuf strings must be", tag)
		}
	}
	if len(tags) == 0 {
		return nil
	}
	return w.write(appendScalarsEvent(nil, seconds(wall), step, tags, values))
}

// Scalar writes one event holding value under tag, as Scalars does.
func (w *Writer) Scalar(tag string, step int64, wall time.Time, value float64) error {
	return w.Scalars(step, wall, []string{tag}, []float64{value})
}

// write frames event as a record and writes it with a single write.
func (w *Writer) write(event []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.buf = appendRecord(w.buf[:0], event)
	if _, err := w.f.Write(w.buf); err != nil {
		w.err = fmt.Errorf("tensorboard: write %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// usable returns the error that stops w from writing, if any. w.mu is held.
func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return fmt.Errorf("tensorboard: write %s: %w", w.path, os.ErrClosed)
	}
	return nil
}

// Flush commits the events written so far to stable storage (fsync). The
// events are already in the operating system's hands, so Flush is needed
// only to survive a crash of the machine, not of the process.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("tensorboard: flush %s: %w", w.path, err)
	}
	return nil
}

// Close flushes the event file as Flush does and closes it. It returns the
// first error writing the file, if there was one; closing a closed Writer
// is an error wrapping os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("tensorboard: close %s: %w", w.path, os.ErrClosed)
	}
	errSync := w.f.Sync()
	if errSync != nil {
		errSync = fmt.Errorf("tensorboard: flush %s: %w", w.path, errSync)
	}
	errClose := w.f.Close()
	if errClose != nil {
		errClose = fmt.Errorf("tensorboard: close %s: %w", w.path, errClose)
	}
	w.f = nil
	return errors.Join(w.err, errSync, errClose)
}

// seconds returns t as TensorFlow's wall_time: seconds since the Unix epoch.
// Whole seconds are exact; a fraction is kept to float64 resolution (under
// 0.5 µs for times in this century).
func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())*1e-9
}
