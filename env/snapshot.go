package env

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
)

// Snapshotter is implemented by every environment of this package: the
// whole state of the environment, an episode in progress included (the
// physical state, the step counter and whether the episode has started or
// ended, the episode's random generator, the goal, the objects collected,
// the count of steps towards a maze's change of layout), as bytes that
// Restore takes back, so that a checkpointed run continues exactly where it
// stopped. Vector implements it too, over its copies and their seeders.
//
// Restore accepts only a snapshot of the same environment id and format
// version, taken by this package; it may be called on a fresh environment
// from Make or on one that has run since. An environment restored from a
// snapshot steps, resets and reports exactly, bit for bit, as the
// environment the snapshot was taken from would have from that point.
//
// What each environment's snapshot holds beyond its episode is listed on
// its Snapshot method. The settings a caller may change are part of it:
// Episode.MaxSteps, PointMaze's ActionNoise and GoalRadius, FourRooms'
// task. The environment id is checked, not restored.
//
// Snapshot and Restore must not run concurrently with each other or with
// the environment's other methods.
type Snapshotter interface {
	// Snapshot returns the environment's state. It changes nothing.
	Snapshot() ([]byte, error)
	// Restore replaces the environment's state with the one data holds.
	// It returns an error, and leaves the environment as it was, if data
	// is not a whole, uncorrupted snapshot of this environment id in a
	// format version this build reads.
	Restore(data []byte) error
}

var (
	_ Snapshotter = (*Pendulum)(nil)
	_ Snapshotter = (*CartPole)(nil)
	_ Snapshotter = (*ContinuousCartPole)(nil)
	_ Snapshotter = (*Acrobot)(nil)
	_ Snapshotter = (*MountainCarContinuous)(nil)
	_ Snapshotter = (*Maze)(nil)
	_ Snapshotter = (*FourRooms)(nil)
	_ Snapshotter = (*PointMaze)(nil)
	_ Snapshotter = (*Vector)(nil)
)

// The snapshot format, version 1, little-endian throughout:
//
//	"imago-env"           9 bytes, the magic
//	version               uint16
//	len(id), id           uint16 and that many bytes: the environment id
//	body                  the environment's fields, as its Snapshot lists
//	checksum              uint32, CRC-32 (IEEE) of every byte before it
//
// In a body an int is an int64, a float64 its IEEE 754 bits as a uint64
// (so NaNs and signed zeros survive), a bool one byte 0 or 1, and a byte
// string (a generator's state, a Vector copy's snapshot) a uint32 length
// and the bytes. A math/rand/v2 PCG is stored as its MarshalBinary.
//
// The version is read before the checksum is checked, so that a snapshot
// of a later format, whose layout may differ after the version, is refused
// as such rather than as corrupted.
const (
	snapshotMagic   = "imago-env"
	snapshotVersion = 1
)

// snapshotDecoder is the first half of Restore for this package's
// environments: decodeSnapshot checks data fully and returns the assignment
// that Restore then makes, so that a Vector restores all of its copies or
// none.
type snapshotDecoder interface {
	decodeSnapshot(data []byte) (apply func(), err error)
}

// restoreWith decodes data with d and applies it if it decodes.
func restoreWith(d snapshotDecoder, data []byte) error {
	apply, err := d.decodeSnapshot(data)
	if err != nil {
		return err
	}
	apply()
	return nil
}

// snapshotWriter builds a snapshot: the header, then the body through its
// methods, then the checksum in bytes.
type snapshotWriter struct {
	buf []byte
}

func newSnapshotWriter(id string) *snapshotWriter {
	w := &snapshotWriter{buf: make([]byte, 0, 128)}
	w.buf = append(w.buf, snapshotMagic...)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, snapshotVersion)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(len(id)))
	w.buf = append(w.buf, id...)
	return w
}

func (w *snapshotWriter) uint64(x uint64)   { w.buf = binary.LittleEndian.AppendUint64(w.buf, x) }
func (w *snapshotWriter) int(x int)         { w.uint64(uint64(int64(x))) }
func (w *snapshotWriter) float64(x float64) { w.uint64(math.Float64bits(x)) }

func (w *snapshotWriter) floats(x []float64) {
	for _, v := range x {
		w.float64(v)
	}
}

func (w *snapshotWriter) bool(b bool) {
	if b {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

func (w *snapshotWriter) bytes(b []byte) {
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(b)))
	w.buf = append(w.buf, b...)
}

// pcg writes src's state. PCG's MarshalBinary cannot fail.
func (w *snapshotWriter) pcg(src *rand.PCG) {
	b, err := src.MarshalBinary()
	if err != nil {
		panic("env: PCG.MarshalBinary: " + err.Error())
	}
	w.bytes(b)
}

// episode writes the Episode's fields but its ID, which the header holds.
func (w *snapshotWriter) episode(e *Episode) {
	w.int(e.MaxSteps)
	w.int(e.Steps)
	w.bool(e.started)
	w.bool(e.done)
}

// finish returns the snapshot, checksum appended.
func (w *snapshotWriter) finish() []byte {
	return binary.LittleEndian.AppendUint32(w.buf, crc32.ChecksumIEEE(w.buf))
}

// snapshotReader reads a body. The first error sticks: later reads return
// zero values, and err says what was wrong first.
type snapshotReader struct {
	b   []byte
	err error
}

// openSnapshot checks data's header and checksum for the environment id
// and returns a reader of its body. The errors name what was wrong and
// what was expected, prefixed with "env <id>: restore:".
func openSnapshot(id string, data []byte) (*snapshotReader, error) {
	fail := func(format string, args ...any) (*snapshotReader, error) {
		return nil, fmt.Errorf("env %s: restore: %s", id, fmt.Sprintf(format, args...))
	}
	const fixed = len(snapshotMagic) + 2 + 2 // magic, version, len(id)
	if !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		n := min(len(data), len(snapshotMagic))
		return fail("%d bytes that do not start with the snapshot magic %q (start %q)", len(data), snapshotMagic, data[:n])
	}
	if len(data) < fixed+4 {
		return fail("snapshot of %d bytes is truncated: its header and checksum take at least %d", len(data), fixed+4)
	}
	if v := binary.LittleEndian.Uint16(data[len(snapshotMagic):]); v != snapshotVersion {
		return fail("snapshot format version %d, this build reads version %d", v, snapshotVersion)
	}
	idLen := int(binary.LittleEndian.Uint16(data[fixed-2:]))
	if len(data) < fixed+idLen+4 {
		return fail("snapshot of %d bytes is truncated: its header names an id of %d bytes, which with the checksum needs at least %d",
			len(data), idLen, fixed+idLen+4)
	}
	end := len(data) - 4
	if got, want := binary.LittleEndian.Uint32(data[end:]), crc32.ChecksumIEEE(data[:end]); got != want {
		return fail("snapshot checksum %08x does not match its %d bytes' %08x: the data is truncated, corrupted or has bytes appended",
			got, len(data), want)
	}
	if got := string(data[fixed : fixed+idLen]); got != id {
		return fail("snapshot is of environment %q, not %q", got, id)
	}
	return &snapshotReader{b: data[fixed+idLen : end]}, nil
}

// fail records the first error.
func (r *snapshotReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// take returns the next n bytes of the body, or nil after an error or if
// fewer are left.
func (r *snapshotReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("body ends at %s: %d bytes left, want %d", what, len(r.b), n)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *snapshotReader) uint64(what string) uint64 {
	b := r.take(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *snapshotReader) float64(what string) float64 { return math.Float64frombits(r.uint64(what)) }

// int reads an int64 that must fit in an int.
func (r *snapshotReader) int(what string) int {
	x := int64(r.uint64(what))
	if int64(int(x)) != x {
		r.fail("%s = %d does not fit in an int", what, x)
		return 0
	}
	return int(x)
}

// floats fills dst.
func (r *snapshotReader) floats(dst []float64, what string) {
	for i := range dst {
		dst[i] = r.float64(fmt.Sprintf("%s[%d]", what, i))
	}
}

// finiteFloats fills dst and fails unless every element is finite.
func (r *snapshotReader) finiteFloats(dst []float64, what string) {
	r.floats(dst, what)
	for i, x := range dst {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			r.fail("%s[%d] = %v is not finite", what, i, x)
		}
	}
}

func (r *snapshotReader) bool(what string) bool {
	b := r.take(1, what)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		r.fail("%s is byte %d, want 0 or 1", what, b[0])
	}
	return b[0] == 1
}

// bytes reads a length-prefixed byte string; the result aliases the data.
func (r *snapshotReader) bytes(what string) []byte {
	b := r.take(4, "the length of "+what)
	if b == nil {
		return nil
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(r.b)) {
		r.fail("%s has length %d, but %d bytes are left", what, n, len(r.b))
		return nil
	}
	return r.take(int(n), what)
}

// pcg reads a generator's state into a new PCG.
func (r *snapshotReader) pcg(what string) *rand.PCG {
	b := r.bytes(what)
	if r.err != nil {
		return nil
	}
	src := new(rand.PCG)
	if err := src.UnmarshalBinary(b); err != nil {
		r.fail("%s: %v (%d bytes)", what, err, len(b))
		return nil
	}
	return src
}

// episode reads an Episode's fields but its ID. Any counts are accepted:
// MaxSteps and Steps are exported, and a caller may have set them to
// anything.
func (r *snapshotReader) episode() Episode {
	var e Episode
	e.MaxSteps = r.int("the time limit")
	e.Steps = r.int("the step count")
	e.started = r.bool("the started flag")
	e.done = r.bool("the done flag")
	return e
}

// close returns the first error of the body's reading, or one for bytes
// left over, prefixed with "env <id>: restore:".
func (r *snapshotReader) close(id string) error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes left over after the body", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("env %s: restore: %w", id, r.err)
	}
	return nil
}

// setEpisode replaces e's fields but its ID with s's.
func (e *Episode) setEpisode(s Episode) {
	e.MaxSteps, e.Steps, e.started, e.done = s.MaxSteps, s.Steps, s.started, s.done
}
