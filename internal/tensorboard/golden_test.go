package tensorboard

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"
)

// The golden records below are the bytes of a real event file written by
// TensorFlow 2 for tf.summary.scalar("accuracy", 0.99, step=77), published in
// the test_success test of tensorboard/data/server/tf_record.rs
// (tensorflow/tensorboard, "dumped via `xxd logs/*`"). No TensorFlow is
// installed here, so they are the strongest check of compatibility we have.
const (
	// tfFileVersionData is the Event{wall_time: 1599759586,
	// file_version: "brain.Event:2"} that opens the file.
	tfFileVersionData   = "\x09\x00\x00\x80\x38\x99\xd6\xd7\x41\x1a\x0dbrain.Event:2"
	tfFileVersionRecord = "\x18\x00\x00\x00\x00\x00\x00\x00" + // length 24
		"\xa3\x7f\x4b\x22" + // masked CRC of the length
		tfFileVersionData +
		"\x12\x4b\x36\xab" // masked CRC of the data

	// tfScalarData is an Event at step 77 whose summary holds the tag
	// "accuracy", a rank-0 DT_FLOAT tensor with tensor_content 0.99 and
	// metadata naming the "scalars" plugin.
	tfScalarData = "\x09\xc4\x05\xb7\x3d\x99\xd6\xd7\x41" + // wall_time
		"\x10\x4d" + // step 77
		"\x2a\x25" + // summary, 37 bytes
		"\x0a\x23" + // value, 35 bytes
		"\x0a\x08accuracy" + // tag
		"\x42\x0a\x08\x01\x12\x00\x22\x04\xa4\x70\x7d\x3f" + // tensor
		"\x4a\x0b\x0a\x09\x0a\x07scalars" // metadata
	tfScalarRecord = "\x32\x00\x00\x00\x00\x00\x00\x00" + // length 50
		"\x24\x19\x56\xec" +
		tfScalarData +
		"\xa5\x5b\x64\x33"

	tfFile = tfFileVersionRecord + tfScalarRecord
)

// tfWallTime is the wall_time of the first golden record, a whole second.
const tfWallTime = 1599759586

func TestFramingMatchesTensorFlow(t *testing.T) {
	for _, c := range []struct{ data, record string }{
		{tfFileVersionData, tfFileVersionRecord},
		{tfScalarData, tfScalarRecord},
	} {
		got := appendRecord(nil, []byte(c.data))
		if !bytes.Equal(got, []byte(c.record)) {
			t.Errorf("appendRecord(%q):\n got % x\nwant % x", c.data, got, c.record)
		}
	}
}

// TestCreateMatchesTensorFlow checks that the file Create starts is, byte for
// byte, the one TensorFlow starts at the same wall time.
func TestCreateMatchesTensorFlow(t *testing.T) {
	w, err := Create(t.TempDir(), time.Unix(tfWallTime, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(tfFileVersionRecord)) {
		t.Errorf("new event file:\n got % x\nwant % x", got, tfFileVersionRecord)
	}
}

func TestReadTensorFlowFile(t *testing.T) {
	evs, err := Read(bytes.NewReader([]byte(tfFile)))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("read %d events, want 2: %+v", len(evs), evs)
	}
	if ev := evs[0]; ev.WallTime != tfWallTime || ev.Step != 0 || ev.FileVersion != "brain.Event:2" || len(ev.Values) != 0 {
		t.Errorf("event 0 = %+v, want wall time %d, file version brain.Event:2", ev, tfWallTime)
	}
	ev := evs[1]
	// The wall time and the value are compared bit for bit with the bytes
	// above: 0x41d7d6993db705c4 (1599759606.8597...) and 0x3f7d70a4
	// (float32(0.99)).
	if math.Float64bits(ev.WallTime) != 0x41d7d6993db705c4 || ev.Step != 77 || ev.FileVersion != "" {
		t.Errorf("event 1 = %+v, want wall time bits 0x41d7d6993db705c4, step 77", ev)
	}
	if len(ev.Values) != 1 || ev.Values[0].Tag != "accuracy" || math.Float32bits(ev.Values[0].Simple) != 0x3f7d70a4 {
		t.Errorf("event 1 values = %+v, want [{accuracy 0.99}]", ev.Values)
	}
}
