package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imago-rl/imago/nn/safetensors"
)

// Which file of a checkpoint a FuzzLoad input stands for.
const (
	fuzzJSON        = iota // the whole JSON file
	fuzzBody               // the JSON file's body, sealed with its right checksum
	fuzzSafetensors        // the safetensors file, its right size and checksum recorded
	fuzzModes
)

// fuzzCheckpoint returns the files of a small valid checkpoint of step 1.
func fuzzCheckpoint(tb testing.TB) (jsonFile, body, st []byte) {
	dir := tb.TempDir()
	s := NewState()
	s.PutTensor("w", []int{2, 2}, []float32{1, -2, float32(math.NaN()), 0.5})
	s.PutTensor("b", []int{}, []float32{3})
	if err := s.PutValue("n", map[string]int{"updates": 3}); err != nil {
		tb.Fatal(err)
	}
	s.PutFloats("mean", []float64{0.5, math.Inf(1)})
	path, err := Save(dir, Meta{Algo: "a", Env: "e", Step: 1, Time: "2025-01-02T03:04:05Z"}, s, 1)
	if err != nil {
		tb.Fatal(err)
	}
	jsonFile = readFile(tb, path)
	var env map[string]json.RawMessage
	if err := json.Unmarshal(jsonFile, &env); err != nil {
		tb.Fatal(err)
	}
	return jsonFile, env["body"], readFile(tb, filepath.Join(dir, "step-000000001.safetensors"))
}

// FuzzLoad loads a checkpoint one of whose files is the fuzzer's input, in
// memory (loadMemory). Loading must not panic; its errors must be one line;
// and a checkpoint it accepts must give a usable State that Save's
// encoding writes back and loading reads again unchanged.
//
// The input replaces, by mode: the whole JSON file; the JSON file's body,
// which the test seals with the checksum it needs, so that the fuzzer
// reaches the body's decoding; or the safetensors file, whose size and
// checksum the test records in the JSON file, so that the fuzzer reaches
// safetensors.Read.
//
// Run it with: go test -run='^$' -fuzz=FuzzLoad -fuzztime=30s ./algos/checkpoint
func FuzzLoad(f *testing.F) {
	goodJSON, goodBody, goodST := fuzzCheckpoint(f)
	f.Add(uint8(fuzzJSON), goodJSON)
	f.Add(uint8(fuzzBody), goodBody)
	f.Add(uint8(fuzzSafetensors), goodST)
	f.Add(uint8(fuzzJSON), []byte(`{"format":2,"body":{"meta":{"imago":"v9"}}}`+"\n"))
	f.Add(uint8(fuzzBody), []byte(`{"meta":{"format":1,"algo":"a","env":"e","step":1},"tensors":{"file":"step-000000001.safetensors","size":0,"sha256":""},"values":{"x":[1,"NaN"]}}`))
	f.Add(uint8(fuzzSafetensors), safetensorsFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}}`,
		[]byte{0x00, 0x3c, 0x01, 0x7c, 0x80, 0x3f}))
	f.Add(uint8(fuzzSafetensors), []byte{})

	var rec body
	if err := json.Unmarshal(goodBody, &rec); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, mode uint8, input []byte) {
		jsonFile, st := goodJSON, goodST
		switch mode % fuzzModes {
		case fuzzJSON:
			jsonFile = input
		case fuzzBody:
			jsonFile = seal(Format, input)
		case fuzzSafetensors:
			st = input
			b := rec
			sum := sha256.Sum256(st)
			b.Tensors.Size, b.Tensors.SHA256 = int64(len(st)), hex.EncodeToString(sum[:])
			var err error
			if jsonFile, err = encode(b); err != nil {
				t.Fatal(err)
			}
		}
		meta, s, err := loadMemory(jsonFile, st, Meta{Algo: "a", Env: "e"})
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "checkpoint ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q is not one line starting \"checkpoint \"", msg)
			}
			return
		}
		tensors, values := s.Names()
		for _, name := range tensors {
			shape := s.tensors[name].shape
			if _, err := s.Tensor(name, shape); err != nil {
				t.Fatalf("tensor %q of shape %v: %v", name, shape, err)
			}
		}
		for _, name := range values {
			var v any
			if err := s.Value(name, &v); err != nil {
				t.Fatalf("value %q: %v", name, err)
			}
		}
		s.NonFinite()

		// Save's encoding, in memory: Save itself syncs files, too slow
		// to run on every input the fuzzer finds valid.
		var st2 bytes.Buffer
		if err := safetensors.Write(&st2, s.sortedTensors(), nil); err != nil {
			t.Fatalf("safetensors.Write of what Load accepted: %v", err)
		}
		sum2 := sha256.Sum256(st2.Bytes())
		json2, err := encode(body{
			Meta:    meta,
			Tensors: tensorsFile{File: "step-000000001.safetensors", Size: int64(st2.Len()), SHA256: hex.EncodeToString(sum2[:])},
			Values:  s.values,
		})
		if err != nil {
			t.Fatalf("encode of what Load accepted: %v", err)
		}
		meta2, s2, err := loadMemory(json2, st2.Bytes(), meta)
		if err != nil {
			t.Fatalf("what Save would write back does not load: %v", err)
		}
		if meta2 != meta {
			t.Fatalf("meta %+v became %+v", meta, meta2)
		}
		sameState(t, s2, s)
	})
}

// loadMemory is Load of the checkpoint of step 1 whose files hold jsonFile
// and st, without the file system: the same checks in the same order, as
// loadStep makes them once it has read the JSON file and opened the
// safetensors file. The file system is 15 times slower than the checks, and
// Load's use of it is tested by TestEveryCorruption and the others.
func loadMemory(jsonFile, st []byte, want Meta) (Meta, *State, error) {
	const path = "dir/step-000000001.json"
	b, err := checkJSON(path, 1, jsonFile, want)
	if err != nil {
		return Meta{}, nil, oneLine(err)
	}
	tensors, err := readTensors("dir/"+b.Tensors.File, bytes.NewReader(st), int64(len(st)), b.Tensors)
	if err != nil {
		return Meta{}, nil, oneLine(err)
	}
	return b.Meta, stateOf(path, b, tensors), nil
}

// safetensorsFile returns a safetensors file of header and data.
func safetensorsFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}
