package tensorboard

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// start is the creation time of the files in these tests; its fraction, a
// power of two, makes the wall time exact in float64.
var start = time.Unix(1700000000, 500000000)

func TestRoundTrip(t *testing.T) {
	w, err := Create(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	type write struct {
		step   int64
		wall   time.Time
		tags   []string
		values []float64
	}
	writes := []write{
		{1, start.Add(time.Second), []string{"eval/return", "loss/model"}, []float64{123.5, -0.25}},
		{2, start.Add(2 * time.Second), []string{"perf/steps_per_second"}, []float64{math.NaN()}},
		{3, start.Add(3 * time.Second), []string{"a", "b", "c", "d"}, []float64{math.Inf(1), math.Inf(-1), -1e40, 0}},
		{-5, start.Add(-time.Hour), []string{"negative/step"}, []float64{-3.75}},
		{1 << 40, start.Add(time.Hour + time.Second/4), []string{"model/nll"}, []float64{math.SmallestNonzeroFloat64}},
	}
	for _, wr := range writes {
		if err := w.Scalars(wr.step, wr.wall, wr.tags, wr.values); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Scalar("single", 6, start, 2.5); err != nil {
		t.Fatal(err)
	}
	writes = append(writes, write{6, start, []string{"single"}, []float64{2.5}})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	evs, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(writes)+1 {
		t.Fatalf("read %d events, want %d", len(evs), len(writes)+1)
	}
	if ev := evs[0]; ev.FileVersion != "brain.Event:2" || ev.WallTime != 1700000000.5 || ev.Step != 0 || len(ev.Values) != 0 {
		t.Errorf("first event = %+v, want file version brain.Event:2 at 1700000000.5", ev)
	}
	for i, wr := range writes {
		ev := evs[i+1]
		// Every wall time above is a whole number of quarter seconds,
		// exact in float64.
		wantWall := float64(wr.wall.Unix()) + float64(wr.wall.Nanosecond())/1e9
		if ev.Step != wr.step || ev.WallTime != wantWall || ev.FileVersion != "" {
			t.Errorf("event %d = step %d wall %v version %q, want step %d wall %v", i+1, ev.Step, ev.WallTime, ev.FileVersion, wr.step, wantWall)
		}
		if len(ev.Values) != len(wr.tags) {
			t.Fatalf("event %d has %d values, want %d", i+1, len(ev.Values), len(wr.tags))
		}
		for j, v := range ev.Values {
			// Values are stored as float32: compare bits with the
			// float32 conversion (so -1e40 reads back as -Inf, the
			// smallest float64 as 0), NaN by kind.
			want := float32(wr.values[j])
			same := math.Float32bits(v.Simple) == math.Float32bits(want) ||
				math.IsNaN(float64(v.Simple)) && math.IsNaN(float64(want))
			if v.Tag != wr.tags[j] || !same {
				t.Errorf("event %d value %d = %s %v, want %s %v", i+1, j, v.Tag, v.Simple, wr.tags[j], want)
			}
		}
	}
}

// TestScalarBytes checks the bytes of one small scalar record against a
// hand-built encoding, and decodes its fields with protowire independently
// of this package's reader.
func TestScalarBytes(t *testing.T) {
	w, err := Create(t.TempDir(), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("a", 3, time.Unix(2, 0), 0.5); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Skip the file_version record: length, its CRC, data, data CRC.
	first := 12 + int(binary.LittleEndian.Uint64(file)) + 4
	rec := file[first:]

	wantData := []byte{
		0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, // wall_time (1, fixed64) = 2.0
		0x10, 0x03, // step (2, varint) = 3
		0x2a, 0x0a, // summary (5, bytes), 10 bytes
		0x0a, 0x08, // value (1, bytes), 8 bytes
		0x0a, 0x01, 'a', // tag (1, bytes) = "a"
		0x15, 0, 0, 0, 0x3f, // simple_value (2, fixed32) = 0.5
	}
	if len(rec) != 12+len(wantData)+4 {
		t.Fatalf("record is %d bytes, want %d", len(rec), 12+len(wantData)+4)
	}
	// The masked CRC is computed here from its definition, not with mask.
	maskedCRC := func(b []byte) uint32 {
		c := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
		return (c>>15 | c<<17) + 0xa282ead8
	}
	if n := binary.LittleEndian.Uint64(rec); n != uint64(len(wantData)) {
		t.Errorf("length field = %d, want %d", n, len(wantData))
	}
	if got, want := binary.LittleEndian.Uint32(rec[8:]), maskedCRC(rec[:8]); got != want {
		t.Errorf("length CRC = %#08x, want %#08x", got, want)
	}
	data := rec[12 : 12+len(wantData)]
	if string(data) != string(wantData) {
		t.Errorf("data:\n got % x\nwant % x", data, wantData)
	}
	if got, want := binary.LittleEndian.Uint32(rec[12+len(wantData):]), maskedCRC(wantData); got != want {
		t.Errorf("data CRC = %#08x, want %#08x", got, want)
	}

	// Decode the Event with protowire alone.
	type fieldWant struct {
		num protowire.Number
		typ protowire.Type
	}
	consume := func(b []byte, want fieldWant) ([]byte, uint64, []byte) {
		t.Helper()
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != want.num || typ != want.typ {
			t.Fatalf("tag = field %d type %d (n %d), want field %d type %d", num, typ, n, want.num, want.typ)
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			v = uint64(u)
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		return b[n:], v, bs
	}
	b, wall, _ := consume(data, fieldWant{1, protowire.Fixed64Type})
	b, step, _ := consume(b, fieldWant{2, protowire.VarintType})
	b, _, summary := consume(b, fieldWant{5, protowire.BytesType})
	if len(b) != 0 || math.Float64frombits(wall) != 2 || step != 3 {
		t.Errorf("event: wall %v, step %d, %d trailing bytes; want 2, 3, 0", math.Float64frombits(wall), step, len(b))
	}
	b, _, value := consume(summary, fieldWant{1, protowire.BytesType})
	if len(b) != 0 {
		t.Errorf("summary has %d bytes after its one value", len(b))
	}
	b, _, tag := consume(value, fieldWant{1, protowire.BytesType})
	b, simple, _ := consume(b, fieldWant{2, protowire.Fixed32Type})
	if len(b) != 0 || string(tag) != "a" || math.Float32frombits(uint32(simple)) != 0.5 {
		t.Errorf("value: tag %q, simple_value %v, %d trailing bytes; want a, 0.5, 0", tag, math.Float32frombits(uint32(simple)), len(b))
	}
}

func TestCreateName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "tb") // Create makes it
	w, err := Create(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if filepath.Dir(w.Path()) != dir {
		t.Errorf("file %s is not in %s", w.Path(), dir)
	}
	m := regexp.MustCompile(`^events\.out\.tfevents\.(\d+)\.(.+)\.(\d+)\.imago$`).FindStringSubmatch(filepath.Base(w.Path()))
	if m == nil {
		t.Fatalf("file name %s, want events.out.tfevents.<seconds>.<host>.<pid>.imago", filepath.Base(w.Path()))
	}
	if m[1] != strconv.FormatInt(start.Unix(), 10) || m[3] != strconv.Itoa(os.Getpid()) {
		t.Errorf("file name %s, want seconds %d and pid %d", m[0], start.Unix(), os.Getpid())
	}

	// The same process in the same second: never overwrite, take the
	// next name.
	w2, err := Create(dir, start)
	if err != nil {
		t.Fatalf("second Create in the same second: %v", err)
	}
	if want := strings.TrimSuffix(w.Path(), ".imago") + ".1.imago"; w2.Path() != want {
		t.Errorf("second Create in the same second wrote %s, want %s", w2.Path(), want)
	}
	if events, err := ReadFile(w.Path()); err != nil || len(events) != 1 {
		t.Errorf("the first file after a second Create: %d events, %v", len(events), err)
	}
}

func TestScalarsRejects(t *testing.T) {
	w, err := Create(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		tags   []string
		values []float64
	}{
		{"more tags", []string{"a", "b"}, []float64{1}},
		{"more values", []string{"a"}, []float64{1, 2}},
		{"empty tag", []string{"a", ""}, []float64{1, 2}},
		{"invalid UTF-8", []string{"a\xff"}, []float64{1}},
	} {
		if err := w.Scalars(1, start, c.tags, c.values); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if err := w.Scalars(1, start, nil, nil); err != nil {
		t.Errorf("no tags: %v, want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadFile(w.Path())
	if err != nil || len(evs) != 1 {
		t.Errorf("after rejected writes the file holds %d events (error %v), want the first one only", len(evs), err)
	}
}

func TestClosed(t *testing.T) {
	w, err := Create(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("a", 1, start, 1); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Scalar after Close: error %v, want one wrapping os.ErrClosed", err)
	}
	if err := w.Flush(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Flush after Close: error %v, want one wrapping os.ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: error %v, want one wrapping os.ErrClosed", err)
	}
}

// TestConcurrentScalars checks that events written from several goroutines
// each arrive whole, once.
func TestConcurrentScalars(t *testing.T) {
	w, err := Create(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 4, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				step := int64(g*each + i)
				if err := w.Scalar("g/"+strconv.Itoa(g), step, start, float64(step)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[int64]bool)
	for _, ev := range evs[1:] {
		want := "g/" + strconv.Itoa(int(ev.Step)/each)
		if len(ev.Values) != 1 || ev.Values[0].Tag != want || ev.Values[0].Simple != float32(ev.Step) || seen[ev.Step] {
			t.Errorf("event %+v: want one value %s = %d, step not seen before", ev, want, ev.Step)
		}
		seen[ev.Step] = true
	}
	if len(seen) != goroutines*each {
		t.Errorf("read %d distinct steps, want %d", len(seen), goroutines*each)
	}
}
