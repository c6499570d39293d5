package tensorboard

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// Event is one record of an event file, as far as this package reads it.
type Event struct {
	// WallTime is the time the event was written, in seconds since the
	// Unix epoch.
	WallTime float64
	// Step is the global step the values belong to (the x axis of
	// TensorBoard's charts); zero in the first event of a file.
	Step int64
	// FileVersion is set in the first event of a file, "brain.Event:2" in
	// the files Create writes, and empty in the others.
	FileVersion string
	// Values are the scalar summary values of the event, in file order.
	Values []Value
}

// Value is one scalar of an event's summary.
type Value struct {
	// Tag names the series the value belongs to, e.g. "eval/return".
	Tag string
	// Simple is the value: the summary's simple_value (what Writer
	// writes), or the value of a rank-0 float32 tensor (what TensorFlow 2's
	// tf.summary.scalar writes). NaN and ±Inf are kept as they were
	// written.
	Simple float32
}

// Read reads the events of an event file from r until the end of input. It
// verifies both CRCs of every record and decodes each record's Event,
// skipping the fields and summary values that are not scalars (graphs,
// images, histograms, log messages).
//
// A truncated record, a CRC mismatch or a malformed protocol buffer is an
// error naming the record and its byte offset; Read then returns the events
// before the bad record along with the error. Empty input is zero events and
// no error. Read never panics on any input.
func Read(r io.Reader) ([]Event, error) {
	evs, err := read(r)
	if err != nil {
		return evs, fmt.Errorf("tensorboard: %w", err)
	}
	return evs, nil
}

// ReadFile reads the events of the event file at path, as Read does.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	evs, err := read(bufio.NewReader(f))
	if err != nil {
		return evs, fmt.Errorf("tensorboard: read %s: %w", path, err)
	}
	return evs, nil
}

// read is Read without the package prefix on its errors.
func read(r io.Reader) ([]Event, error) {
	rr := recordReader{r: r}
	var evs []Event
	for i := 0; ; i++ {
		at := rr.offset
		data, err := rr.next()
		if err == io.EOF {
			return evs, nil
		}
		if err == nil {
			var ev Event
			ev, err = decodeEvent(data)
			if err == nil {
				evs = append(evs, ev)
				continue
			}
			err = fmt.Errorf("malformed Event: %w", err)
		}
		return evs, fmt.Errorf("record %d at byte %d: %w", i, at, err)
	}
}
