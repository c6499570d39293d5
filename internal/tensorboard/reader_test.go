package tensorboard

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// sampleFile returns an event file of three events written by Writer, and
// the byte offsets at which its records end.
func sampleFile(t testing.TB) (file []byte, ends []int) {
	w, err := Create(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalars(1, start, []string{"eval/return", "loss"}, []float64{10, math.NaN()}); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("perf/steps_per_second", 2, start.Add(time.Second), math.Inf(-1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, err = os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	for at := 0; at < len(file); {
		at += 12 + int(binary.LittleEndian.Uint64(file[at:])) + 4
		ends = append(ends, at)
	}
	return file, ends
}

func TestReadTruncated(t *testing.T) {
	file, ends := sampleFile(t)
	if len(ends) != 3 || ends[2] != len(file) {
		t.Fatalf("sample file of %d bytes has records ending at %v, want 3 records", len(file), ends)
	}
	for n := 0; n < len(file); n++ {
		evs, err := Read(bytes.NewReader(file[:n]))
		whole := 0 // records wholly inside the prefix
		for whole < len(ends) && ends[whole] <= n {
			whole++
		}
		if len(evs) != whole {
			t.Errorf("prefix of %d bytes: %d events, want the %d whole records before the cut", n, len(evs), whole)
		}
		atBoundary := n == 0 || n == ends[max(whole-1, 0)]
		switch {
		case atBoundary && err != nil:
			t.Errorf("prefix of %d bytes ends between records: %v", n, err)
		case !atBoundary && (err == nil || !strings.Contains(err.Error(), "truncated")):
			t.Errorf("prefix of %d bytes: error %v, want truncation", n, err)
		}
	}
}

// TestReadCorrupted flips every bit of a file in turn: each flip lands in a
// length, a CRC or the data a CRC covers, and CRC32C detects every
// single-bit error, so each must be an error.
func TestReadCorrupted(t *testing.T) {
	file, _ := sampleFile(t)
	bad := make([]byte, len(file))
	for i := range file {
		for bit := range 8 {
			copy(bad, file)
			bad[i] ^= 1 << bit
			if _, err := Read(bytes.NewReader(bad)); err == nil {
				t.Fatalf("flipping bit %d of byte %d: no error", bit, i)
			}
		}
	}
}

func TestReadKeepsEventsBeforeError(t *testing.T) {
	file, _ := sampleFile(t)
	file = append(file, "not a record at all"...)
	evs, err := Read(bytes.NewReader(file))
	if err == nil || !strings.Contains(err.Error(), "record 3 at byte") {
		t.Errorf("error %v, want one naming record 3", err)
	}
	if len(evs) != 3 {
		t.Errorf("read %d events before the bad record, want 3", len(evs))
	}
}

// Helpers building protocol buffers for the tests below.
func tagged(num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(nil, num, typ)
}

func message(num protowire.Number, body ...[]byte) []byte {
	return protowire.AppendBytes(tagged(num, protowire.BytesType), bytes.Join(body, nil))
}

func fixed32(num protowire.Number, v float32) []byte {
	return protowire.AppendFixed32(tagged(num, protowire.Fixed32Type), math.Float32bits(v))
}

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tagged(num, protowire.VarintType), v)
}

func TestReadMalformedEvent(t *testing.T) {
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated varint", "unexpected EOF", []byte{0x10, 0x80}},
		{"field number 0", "field tag", []byte{0x00, 0x01}},
		{"reserved wire type", "field 1", []byte{0x0e}},
		{"lone end group", "field 1", []byte{0x0c}},
		{"wall_time as varint", "wall_time", varint(1, 1)},
		{"step as fixed64", "step", protowire.AppendFixed64(tagged(2, protowire.Fixed64Type), 1)},
		{"summary too short", "unexpected EOF", []byte{0x2a, 0x05, 0x0a}},
		{"file_version not UTF-8", "UTF-8", message(3, []byte("brain\xff"))},
		{"tag not UTF-8", "UTF-8", message(5, message(1, message(1, []byte{0xc3}), fixed32(2, 1)))},
		{"simple_value as varint", "simple_value", message(5, message(1, varint(2, 1)))},
		{"float_val of 3 bytes", "multiple of 4", message(5, message(1,
			message(8, varint(1, dtFloat), message(5, []byte{1, 2, 3}))))},
		{"bad tensor_shape", "tensor_shape", message(5, message(1,
			message(8, message(2, []byte{0x12, 0x09})))),
		},
	} {
		evs, err := Read(bytes.NewReader(appendRecord(nil, c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "record 0 at byte 0") {
			t.Errorf("%s: error %v, want one naming record 0 and containing %q", c.name, err, c.want)
		}
		if len(evs) != 0 {
			t.Errorf("%s: %d events, want none", c.name, len(evs))
		}
	}
}

// TestReadScalarsOnly checks which summary values Read keeps: simple values
// and rank-0 float32 tensors, by TensorBoard's rule, whatever other fields
// surround them.
func TestReadScalarsOnly(t *testing.T) {
	tag := func(s string) []byte { return message(1, []byte(s)) }
	tensor := func(body ...[]byte) []byte { return message(8, body...) }
	le := binary.LittleEndian.AppendUint32
	values := [][]byte{
		message(1, tag("simple"), fixed32(2, 1.5)),
		// node_name (7) and metadata (9) are skipped.
		message(1, message(7, []byte("node")), tag("with/metadata"), fixed32(2, -2), message(9, message(1, message(1, []byte("scalars"))))),
		message(1, tag("image"), message(4, varint(1, 2))),
		message(1, tag("histogram"), message(5, protowire.AppendFixed64(tagged(1, protowire.Fixed64Type), 0))),
		// The last member of the oneof wins.
		message(1, tag("simple then image"), fixed32(2, 1), message(4, varint(1, 2))),
		message(1, tag("image then simple"), message(4, varint(1, 2)), fixed32(2, 3)),
		message(1, tag("tensor content"), tensor(varint(1, dtFloat), message(2), message(4, le(nil, math.Float32bits(0.25))))),
		message(1, tag("tensor packed"), tensor(varint(1, dtFloat), message(5, le(nil, math.Float32bits(4))))),
		message(1, tag("tensor unpacked"), tensor(varint(1, dtFloat), fixed32(5, 5))),
		message(1, tag("tensor rank 1"), tensor(varint(1, dtFloat), message(2, message(2, varint(1, 1))), fixed32(5, 6))),
		message(1, tag("tensor double"), tensor(varint(1, 2), message(4, make([]byte, 8)))),
		message(1, tag("tensor two floats"), tensor(varint(1, dtFloat), message(5, make([]byte, 8)))),
		message(1, tag("tensor short content"), tensor(varint(1, dtFloat), message(4, make([]byte, 2)))),
	}
	event := bytes.Join([][]byte{
		varint(2, 9),
		message(4, []byte("a graph_def, skipped")),
		message(5, values[:7]...),
		message(6, varint(1, 20)), // log_message, skipped
		message(5, values[7:]...), // a second summary merges
		message(99, []byte("unknown field")),
	}, nil)
	evs, err := Read(bytes.NewReader(appendRecord(nil, event)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{
		{"simple", 1.5}, {"with/metadata", -2}, {"image then simple", 3},
		{"tensor content", 0.25}, {"tensor packed", 4}, {"tensor unpacked", 5},
	}
	if len(evs) != 1 || evs[0].Step != 9 {
		t.Fatalf("events %+v, want one at step 9", evs)
	}
	got := evs[0].Values
	if len(got) != len(want) {
		t.Fatalf("values %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadFileMissing(t *testing.T) {
	if _, err := ReadFile(t.TempDir() + "/missing"); err == nil {
		t.Error("reading a missing file: no error")
	}
}

// FuzzRead checks that Read never panics, reading each input two ways: as
// a file, where a file it accepts whole must be an error once its last byte
// is cut; and as the data of one well-framed record, so that the fuzzer
// reaches the protobuf decoder behind the CRCs it cannot forge.
func FuzzRead(f *testing.F) {
	file, _ := sampleFile(f)
	f.Add(file)
	f.Add([]byte(tfFile))
	f.Add([]byte{})
	f.Add(appendRecord(nil, nil))
	f.Add([]byte(tfScalarData))
	f.Add([]byte(tfFileVersionData))
	f.Add(appendScalarsEvent(nil, 1.5, 7, []string{"a", "b/c"}, []float64{1, math.NaN()}))
	f.Add(message(5, message(1, message(8, varint(1, dtFloat), message(2, message(2, varint(1, 1))), message(5, []byte{1, 2, 3, 4})))))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Read(bytes.NewReader(data))
		if err == nil && len(data) > 0 {
			if _, err := Read(bytes.NewReader(data[:len(data)-1])); err == nil {
				t.Errorf("read %d events from %d bytes, and no error once the last byte is cut", len(evs), len(data))
			}
		}
		evs, err = Read(bytes.NewReader(appendRecord(nil, data)))
		if err == nil && len(evs) != 1 {
			t.Errorf("one record read as %d events", len(evs))
		}
	})
}
