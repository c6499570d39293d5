package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite testdata/small.safetensors from the bytes the test constructs")

// file assembles a safetensors file from a header, taken as is (no
// padding), and a data buffer.
func file(header string, data ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// words returns the little-endian bytes of float32 bit patterns.
func words(bits ...uint32) []byte {
	var b []byte
	for _, w := range bits {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// floats returns the float32s with the given bit patterns.
func floats(bits ...uint32) []float32 {
	f := make([]float32, len(bits))
	for i, b := range bits {
		f[i] = math.Float32frombits(b)
	}
	return f
}

// streamReader hides the concrete type of r, so that Read cannot learn the
// input's size and takes its streaming path.
type streamReader struct{ r io.Reader }

func (s streamReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// readers returns the ways of presenting b to Read that take different
// paths through it.
func readers(b []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"bytes.Reader": func() io.Reader { return bytes.NewReader(b) },
		"stream":       func() io.Reader { return streamReader{bytes.NewReader(b)} },
		"one byte":     func() io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	}
}

// sameTensors reports how got and want differ, comparing data bit for bit;
// "" means they are the same. A nil and an empty slice are the same.
func sameTensors(got, want []Tensor) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d tensors, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.Name != w.Name:
			return fmt.Sprintf("tensor %d is named %q, want %q", i, g.Name, w.Name)
		case !slices.Equal(g.Shape, w.Shape):
			return fmt.Sprintf("tensor %q has shape %v, want %v", g.Name, g.Shape, w.Shape)
		case len(g.Data) != len(w.Data):
			return fmt.Sprintf("tensor %q has %d elements, want %d", g.Name, len(g.Data), len(w.Data))
		}
		for j := range g.Data {
			if gb, wb := math.Float32bits(g.Data[j]), math.Float32bits(w.Data[j]); gb != wb {
				return fmt.Sprintf("tensor %q element %d is %#08x, want %#08x", g.Name, j, gb, wb)
			}
		}
	}
	return ""
}

// bytesAllocated returns the bytes the program has allocated so far.
func bytesAllocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func writeBytes(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// Bit patterns the round trip must keep exactly.
const (
	quietNaNPayload = 0x7fc00001 // quiet NaN with payload 1
	signalingNaN    = 0x7f800001 // signaling NaN, lowest payload
	negativeNaN     = 0xffbfffff // sign set, signaling, all payload bits
	negZero         = 0x80000000
	posInf          = 0x7f800000
	negInf          = 0xff800000
	minSubnormal    = 0x00000001
	maxFloat32      = 0x7f7fffff
)

func specialTensors() []Tensor {
	return []Tensor{
		{Name: "special", Shape: []int{2, 4}, Data: floats(quietNaNPayload, signalingNaN, negativeNaN, negZero, posInf, negInf, minSubnormal, maxFloat32)},
		{Name: "scalar", Shape: []int{}, Data: []float32{3.5}},
		{Name: "empty", Shape: []int{0}, Data: []float32{}},
		{Name: "empty 3d", Shape: []int{3, 0, 2}, Data: nil},
		{Name: "a\"quote\\back\nslash\x01\x1f\x7f é 😀 <&>\u2028", Shape: []int{1}, Data: []float32{-1}},
		{Name: "big", Shape: []int{3, chunkSize/4 + 5}, Data: make([]float32, 3*(chunkSize/4+5))},
	}
}

func TestRoundTrip(t *testing.T) {
	tensors := specialTensors()
	big := tensors[len(tensors)-1].Data
	for i := range big {
		big[i] = float32(i) * 0.25
	}
	meta := map[string]string{"format": "pt", "": "empty key", "note": "tab\there \"quoted\" \u2028", "z": ""}
	b := writeBytes(t, tensors, meta)
	if !bytes.Equal(writeBytes(t, tensors, meta), b) {
		t.Fatal("Write is not deterministic")
	}
	hlen := binary.LittleEndian.Uint64(b)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	if !json.Valid(b[8 : 8+hlen]) {
		t.Errorf("header is not valid JSON: %s", b[8:8+hlen])
	}
	for name, r := range readers(b) {
		if name == "one byte" {
			continue // a byte per Read call over 200 KB is slow and tested below
		}
		got, gotMeta, err := Read(r())
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		if d := sameTensors(got, tensors); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		if !maps.Equal(gotMeta, meta) {
			t.Errorf("%s: metadata %q, want %q", name, gotMeta, meta)
		}
	}
}

func TestRoundTripSmallReads(t *testing.T) {
	tensors := specialTensors()[:5]
	b := writeBytes(t, tensors, nil)
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(b)),
		"half":     iotest.HalfReader(bytes.NewReader(b)),
	} {
		got, meta, err := Read(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if meta != nil {
			t.Errorf("%s: metadata %q, want nil", name, meta)
		}
		if d := sameTensors(got, tensors); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// TestWriteMatchesReference pins Write's bytes to the expected outputs of
// the reference's own serializer tests (test_serialization,
// test_serialization_forced_alignement and test_empty in
// safetensors/src/tensor.rs of github.com/huggingface/safetensors).
func TestWriteMatchesReference(t *testing.T) {
	zeroToFive := words(0x00000000, 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000)
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    []byte
	}{
		{
			name:    "serialization",
			tensors: []Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}},
			// 64 bytes of header need no padding.
			want: file(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, zeroToFive),
		},
		{
			name:    "forced alignment",
			tensors: []Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}},
			want:    file(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}`+"       ", zeroToFive),
		},
		{
			name: "empty",
			want: file(`{}      `),
		},
		{
			name: "empty with metadata",
			meta: map[string]string{"framework": "pt"},
			want: file(`{"__metadata__":{"framework":"pt"}}     `),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := writeBytes(t, tc.tensors, tc.meta)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("Write gave\n%q\nwant\n%q", got, tc.want)
			}
			tensors, meta, err := Read(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if d := sameTensors(tensors, tc.tensors); d != "" {
				t.Error(d)
			}
			if !maps.Equal(meta, tc.meta) {
				t.Errorf("metadata %q, want %q", meta, tc.meta)
			}
		})
	}
}

// smallFile is testdata/small.safetensors built by hand from the format's
// description: what safetensors.torch.save_file writes for these tensors
// with metadata={"format": "pt"} (the metadata transformers' save_pretrained
// adds). The reference sorts tensors of one dtype by name, puts
// "__metadata__" first, writes compact JSON and pads the header with spaces
// to a multiple of 8: 207 bytes of JSON + 1 space = 208 = 0xd0.
var smallFile = slices.Concat(
	[]byte{0xd0, 0, 0, 0, 0, 0, 0, 0},
	[]byte(`{"__metadata__":{"format":"pt"},`+
		`"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},`+
		`"scale":{"dtype":"F32","shape":[],"data_offsets":[8,12]},`+
		`"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[12,36]}} `),
	[]byte{
		0x00, 0x00, 0x00, 0x3f, // bias[0] = 0.5
		0x00, 0x00, 0xa0, 0xbf, // bias[1] = -1.25
		0x00, 0x00, 0x00, 0x40, // scale = 2
		0x00, 0x00, 0x80, 0x3f, // weight[0][0] = 1
		0x00, 0x00, 0x00, 0xc0, // weight[0][1] = -2
		0x00, 0x00, 0x80, 0x3e, // weight[0][2] = 0.25
		0x00, 0x00, 0x80, 0x7f, // weight[1][0] = +Inf
		0x01, 0x00, 0xc0, 0x7f, // weight[1][1] = NaN with payload 1
		0x00, 0x00, 0x00, 0x80, // weight[1][2] = -0
	},
)

var smallTensors = []Tensor{
	{Name: "bias", Shape: []int{2}, Data: []float32{0.5, -1.25}},
	{Name: "scale", Shape: []int{}, Data: []float32{2}},
	{Name: "weight", Shape: []int{2, 3}, Data: floats(0x3f800000, 0xc0000000, 0x3e800000, posInf, quietNaNPayload, negZero)},
}

func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "small.safetensors")
	if *update {
		if err := os.WriteFile(path, smallFile, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, smallFile) {
		t.Fatalf("%s differs from the bytes built in the test; rerun with -update if the test is right", path)
	}
	if got := writeBytes(t, smallTensors, map[string]string{"format": "pt"}); !bytes.Equal(got, smallFile) {
		t.Errorf("Write gave\n%q\nwant\n%q", got, smallFile)
	}
	tensors, meta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(tensors, smallTensors); d != "" {
		t.Error(d)
	}
	if want := map[string]string{"format": "pt"}; !maps.Equal(meta, want) {
		t.Errorf("metadata %q, want %q", meta, want)
	}
}

func TestReadSortsByOffset(t *testing.T) {
	h := `{"c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},` +
		`"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"y":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},` +
		`"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`
	got, _, err := Read(bytes.NewReader(file(h, words(0x3f800000, 0x40000000))))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "y", Shape: []int{2, 0}},
		{Name: "z", Shape: []int{0}},
		{Name: "a", Shape: []int{1}, Data: []float32{1}},
		{Name: "c", Shape: []int{1}, Data: []float32{2}},
		{Name: "b", Shape: []int{0}},
	}
	if d := sameTensors(got, want); d != "" {
		t.Error(d)
	}
}

func TestReadAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		input  []byte
		tensor string // the one tensor's name, if any
	}{
		{"no tensors", file(`{}`), ""},
		{"null metadata", file(`{"__metadata__":null}`), ""},
		{"empty metadata", file(`{"__metadata__":{}}`), ""},
		{"whitespace", file(" \t{ \"x\" :\n{\"shape\":[ ],\"data_offsets\":[0,4],\"dtype\":\"F32\"}}\r\n\t "[2:], words(0)), "x"},
		{"surrogate pair", file(`{"\ud83d\ude00":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, words(0)), "😀"},
		{"escaped name", file(`{"\u0061\/b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, words(0)), "a/b"},
		{"extra fields in metadata", file(`{"__metadata__":{"a":"1","b":"2"}}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, r := range readers(tc.input) {
				tensors, meta, err := Read(r())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if tc.tensor == "" && len(tensors) != 0 || tc.tensor != "" && (len(tensors) != 1 || tensors[0].Name != tc.tensor) {
					t.Errorf("%s: tensors %+v, want one named %q", name, tensors, tc.tensor)
				}
				if len(meta) == 0 && meta != nil {
					t.Errorf("%s: empty metadata is not nil", name)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	const w = `"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`
	data16 := make([]byte, 16)
	huge := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	// Cases whose numbers fit a 64-bit int only.
	wide := map[string]bool{"shape overflow": true, "shape overflow before 0": true, "bytes overflow": true, "huge tensor": true}
	for _, tc := range []struct {
		name  string
		input []byte
		want  string // a substring of the error
	}{
		{"empty input", nil, "inside the 8-byte header length"},
		{"header length cut", []byte{8, 0, 0}, "inside the 8-byte header length"},
		{"header length 2^63", huge(1<<63, "{}"), "exceeds the 100000000-byte limit"},
		{"header length over limit", huge(MaxHeaderSize+1, "{}"), "exceeds the 100000000-byte limit"},
		{"header length past input", huge(MaxHeaderSize, "{}"), "header"},
		{"empty header", file(""), "does not start with '{'"},
		{"leading space", file(` {}`), "does not start with '{'"},
		{"array", file(`[]`), "does not start with '{'"},
		{"bad JSON", file(`{"w":{"dtype":"F32",`), "invalid JSON"},
		{"unterminated", file(`{`), "invalid JSON"},
		{"trailing data", file(`{}x`), "trailing data after its JSON object"},
		{"two objects", file(`{}{}`), "trailing data after its JSON object"},
		{"trailing NUL", file("{}\x00"), "trailing data after its JSON object"},
		{"invalid UTF-8", file("{\"\xff\":1}"), "not valid UTF-8"},
		{"lone high surrogate", file(`{"\ud800":{}}`), "unpaired surrogate"},
		{"lone low surrogate", file(`{"\udc00":{}}`), "unpaired surrogate"},
		{"high then not low", file(`{"\ud800\u0041":{}}`), "unpaired surrogate"},
		{"tensor not object", file(`{"w":5}`), `tensor "w": want "{", got number 5`},
		{"tensor null", file(`{"w":null}`), `tensor "w": want "{", got null`},
		{"empty name", file(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, words(0)), "empty name"},
		{"duplicate name", file(`{`+w+`,`+w+`}`, data16), `tensor "w" twice`},
		{"duplicate escaped name", file(`{`+w+`,"\u0077":{}}`, data16), `tensor "w" twice`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`), `"__metadata__" twice`},
		{"duplicate metadata key", file(`{"__metadata__":{"k":"a","k":"b"}}`), `key "k" twice`},
		{"metadata number", file(`{"__metadata__":{"k":1}}`), `value of "k": want a string, got number 1`},
		{"metadata array", file(`{"__metadata__":["k"]}`), "want an object of strings"},
		{"metadata string", file(`{"__metadata__":"k"}`), "want an object of strings"},
		{"duplicate field", file(`{"w":{"dtype":"F32","dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, data16), "field dtype twice"},
		{"no dtype", file(`{"w":{"shape":[2,2],"data_offsets":[0,16]}}`, data16), `tensor "w" has no dtype`},
		{"no shape", file(`{"w":{"dtype":"F32","data_offsets":[0,16]}}`, data16), `tensor "w" has no shape`},
		{"no offsets", file(`{"w":{"dtype":"F32","shape":[2,2]}}`, data16), `tensor "w" has no data_offsets`},
		{"README's old offsets field", file(`{"w":{"dtype":"F32","shape":[2,2],"offsets":[0,16]}}`, data16), `unknown field "offsets"`},
		{"field name case", file(`{"w":{"DType":"F32","shape":[2,2],"data_offsets":[0,16]}}`, data16), `unknown field "DType"`},
		{"unknown dtype", file(`{"w":{"dtype":"Q7","shape":[2,2],"data_offsets":[0,16]}}`, data16), `tensor "w" has unknown dtype "Q7"`},
		{"lowercase dtype", file(`{"w":{"dtype":"f32","shape":[2,2],"data_offsets":[0,16]}}`, data16), `unknown dtype "f32"`},
		{"dtype number", file(`{"w":{"dtype":4,"shape":[2,2],"data_offsets":[0,16]}}`, data16), "want a string, got number 4"},
		{"F64", file(`{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, data16), `tensor "w" has dtype F64; imago reads F32, F16 and BF16`},
		{"I64", file(`{"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}`, data16), `tensor "w" has dtype I64; imago reads F32`},
		{"negative dimension", file(`{"w":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}}`, data16), "-2 is not a non-negative integer"},
		{"fractional dimension", file(`{"w":{"dtype":"F32","shape":[2,2.0],"data_offsets":[0,16]}}`, data16), "2.0 is not a non-negative integer"},
		{"exponent dimension", file(`{"w":{"dtype":"F32","shape":[2,2e0],"data_offsets":[0,16]}}`, data16), "2e0 is not a non-negative integer"},
		{"string dimension", file(`{"w":{"dtype":"F32","shape":[2,"2"],"data_offsets":[0,16]}}`, data16), `got string "2"`},
		{"dimension past int", file(`{"w":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,16]}}`, data16), "9223372036854775808 is not a non-negative integer"},
		{"shape null", file(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,16]}}`, data16), `shape: want "[", got null`},
		{"shape overflow", file(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, data16), "element count overflows"},
		{"shape overflow before 0", file(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`), "element count overflows"},
		{"bytes overflow", file(`{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}}`, data16), "needs more than 2^64 bytes"},
		{"one offset", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[16]}}`, data16), "want two offsets, got 1"},
		{"three offsets", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16,16]}}`, data16), "want two offsets, got more"},
		{"negative offset", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[-1,15]}}`, data16), "-1 is not a non-negative integer"},
		{"offsets object", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":{"0":16}}}`, data16), `data_offsets: want "["`},
		{"size mismatch", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, data16[:12]),
			`safetensors: tensor "w": data_offsets [0 12] but shape [2 2] of F32 needs 16 bytes`},
		{"F16 size mismatch", file(`{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}`, data16[:8]), "shape [3] of F16 needs 6 bytes"},
		{"end before begin", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, data16[:8]), "[8 4] end before they begin"},
		{"hole at start", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data16[:8]), `bytes [0 4) before tensor "w" belong to no tensor`},
		{"hole between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, data16[:12]),
			`bytes [4 8) between tensors "a" and "b" belong to no tensor`},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data16[:12]),
			`tensor "b" data_offsets [4 12] overlap tensor "a" data_offsets [0 8]`},
		{"same range twice", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, data16[:4]), "overlap"},
		{"empty inside other", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, data16[:8]), "overlap"},
		{"data short", file(`{`+w+`}`, data16[:15]), "only 15 follow"},
		{"data long", file(`{`+w+`}`, data16, []byte{0}), "follow the 16-byte data buffer"},
		{"huge tensor", file(`{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}`, data16), "only 16 follow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strconv.IntSize == 32 && wide[tc.name] {
				t.Skip("a 32-bit int cannot hold the numbers, and Read says that instead")
			}
			for name, r := range readers(tc.input) {
				tensors, meta, err := Read(r())
				if err == nil {
					t.Fatalf("%s: Read accepted it: %+v %q", name, tensors, meta)
				}
				if !strings.HasPrefix(err.Error(), "safetensors: ") {
					t.Errorf("%s: error %q lacks the package prefix", name, err)
				}
				// The streaming readers learn of a short input only as they
				// reach its end, and say so in other words.
				if name == "bytes.Reader" {
					t.Log(err)
				}
				if name == "bytes.Reader" && !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q does not contain %q", name, err, tc.want)
				}
			}
		})
	}
}

// TestReadTruncated cuts a valid file at every byte and expects an error
// wrapping io.ErrUnexpectedEOF from each cut.
func TestReadTruncated(t *testing.T) {
	b := smallFile
	for n := range len(b) {
		for name, r := range readers(b[:n]) {
			_, _, err := Read(r())
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: cut at %d of %d bytes: got %v, want io.ErrUnexpectedEOF", name, n, len(b), err)
			}
		}
	}
}

// TestReadIOError checks that an error from the reader, wherever it comes,
// is wrapped rather than reported as a format error.
func TestReadIOError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	for _, n := range []int{0, 3, 8, 20, len(smallFile) - 1, len(smallFile)} {
		r := io.MultiReader(bytes.NewReader(smallFile[:n]), iotest.ErrReader(errDisk))
		if _, _, err := Read(r); !errors.Is(err, errDisk) {
			t.Errorf("error after %d bytes: got %v, want it wrapped", n, err)
		}
	}
}

// TestReadHostileLengths checks that lengths in a header do not become
// allocations before the bytes behind them arrive.
func TestReadHostileLengths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
	}{
		{"100 MB header", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize)},
		{"4 TB tensor", file(`{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}`, make([]byte, 100))},
		{"many 1 GB tensors", file(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]},`+
			`"b":{"dtype":"F32","shape":[268435456],"data_offsets":[1073741824,2147483648]}}`, make([]byte, 100))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, r := range readers(tc.input) {
				before := bytesAllocated()
				_, _, err := Read(r())
				allocated := bytesAllocated() - before
				if err == nil {
					t.Fatalf("%s: Read accepted it", name)
				}
				// Read's own buffers are at most 2·chunkSize; the rest is
				// header parsing and slack.
				const limit = 1 << 20
				if allocated > limit {
					t.Errorf("%s: Read allocated %d bytes, want at most %d", name, allocated, limit)
				}
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"too much data", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: make([]float32, 5)}}, nil, `tensor "w": shape [2 2] holds 4 elements but Data has 5`},
		{"too little data", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: make([]float32, 3)}}, nil, "holds 4 elements but Data has 3"},
		{"nil shape is a scalar", []Tensor{{Name: "w", Data: make([]float32, 2)}}, nil, "shape [] holds 1 elements but Data has 2"},
		{"negative dimension", []Tensor{{Name: "w", Shape: []int{-1, -1}, Data: make([]float32, 1)}}, nil, "negative dimension"},
		{"overflow", []Tensor{{Name: "w", Shape: []int{math.MaxInt/2 + 1, 2, 0}}}, nil, "element count overflows"},
		{"empty name", []Tensor{ok, {Shape: []int{1}, Data: []float32{1}}}, nil, "tensor 1 has an empty name"},
		{"duplicate name", []Tensor{ok, ok}, nil, `tensor name "ok" appears twice`},
		{"metadata name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, nil, "reserves for metadata"},
		{"invalid UTF-8 name", []Tensor{{Name: "\xff", Shape: []int{1}, Data: []float32{1}}}, nil, "not valid UTF-8"},
		{"invalid UTF-8 metadata key", []Tensor{ok}, map[string]string{"\xff": ""}, "metadata key"},
		{"invalid UTF-8 metadata value", []Tensor{ok}, map[string]string{"k": "\xfe"}, "metadata value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.tensors, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestWriteIOError(t *testing.T) {
	errDisk := errors.New("disk full")
	tensors := specialTensors()
	full := writeBytes(t, tensors, nil)
	for _, n := range []int{0, 8, 100, len(full) - 1} {
		w := &failingWriter{room: n, err: errDisk}
		if err := Write(w, tensors, nil); !errors.Is(err, errDisk) {
			t.Errorf("writer failing after %d bytes: got %v, want it wrapped", n, err)
		}
	}
}

// failingWriter accepts room bytes and then fails with err.
type failingWriter struct {
	room int
	err  error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		n := w.room
		w.room = 0
		return n, w.err
	}
	w.room -= len(p)
	return len(p), nil
}

// TestF16 checks the widening of every binary16 value against a reference
// built from its definition: (-1)^s · 2^(e-15) · 1.m, or 2^-14 · 0.m for
// e = 0 (IEEE 754-2008 §3.4).
func TestF16(t *testing.T) {
	for h := range 1 << 16 {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		got := f16ToF32(uint16(h))
		if e == 0x1f {
			if m == 0 && !math.IsInf(float64(got), 1-2*s) || m != 0 && (!isNaN32(got) || math.Float32bits(got)&0x7fffff != uint32(m)<<13) {
				t.Fatalf("f16ToF32(%#04x) = %#08x", h, math.Float32bits(got))
			}
			continue
		}
		var want float64
		if e == 0 {
			want = math.Ldexp(float64(m), -24)
		} else {
			want = math.Ldexp(float64(m|0x400), e-25)
		}
		want = math.Copysign(want, float64(1-2*s))
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func isNaN32(f float32) bool { return f != f }

func TestReadHalfPrecision(t *testing.T) {
	h := `{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},` +
		`"b":{"dtype":"BF16","shape":[5],"data_offsets":[10,20]},` +
		`"long":{"dtype":"F16","shape":[40000],"data_offsets":[20,80020]}}`
	data := []byte{
		0x00, 0x3c, // F16 1
		0x00, 0xc0, // F16 -2
		0x01, 0x00, // F16 2^-24, the smallest subnormal
		0x00, 0x7c, // F16 +Inf
		0x00, 0x80, // F16 -0
		0x80, 0x3f, // BF16 1
		0x00, 0xc0, // BF16 -2
		0x01, 0x00, // BF16 2^-133, the smallest subnormal
		0xc1, 0x7f, // BF16 NaN with payload
		0x00, 0x80, // BF16 -0
	}
	long := make([]float32, 40000)
	for i := range long {
		data = append(data, 0x00, 0x3c) // 1
		long[i] = 1
	}
	want := []Tensor{
		{Name: "h", Shape: []int{5}, Data: floats(0x3f800000, 0xc0000000, 0x33800000, posInf, negZero)},
		{Name: "b", Shape: []int{5}, Data: floats(0x3f800000, 0xc0000000, 0x00010000, 0x7fc10000, negZero)},
		{Name: "long", Shape: []int{40000}, Data: long},
	}
	for name, r := range readers(file(h, data)) {
		if name == "one byte" {
			continue
		}
		got, _, err := Read(r())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := sameTensors(got, want); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	tensors := specialTensors()[:5]
	meta := map[string]string{"step": "42"}
	for range 2 { // the second write replaces the first
		if err := WriteFile(path, tensors, meta); err != nil {
			t.Fatal(err)
		}
	}
	got, gotMeta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(got, tensors); d != "" {
		t.Error(d)
	}
	if !maps.Equal(gotMeta, meta) {
		t.Errorf("metadata %q, want %q", gotMeta, meta)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(path)

	bad := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}
	if err := WriteFile(path, bad, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile of a bad tensor: got %v, want an error naming the path", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a failed WriteFile changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1 (no temporary file left)", len(entries))
	}

	if _, _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: got %v, want os.ErrNotExist", err)
	}
	if err := os.WriteFile(path, smallFile[:50], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadFile of a cut file: got %v, want an io.ErrUnexpectedEOF naming the path", err)
	}
}

// TestReadFileAtOffset checks that Read sizes an *os.File from its current
// position, not its start.
func TestReadFileAtOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(path, append([]byte("junk"), smallFile...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(got, smallTensors); d != "" {
		t.Error(d)
	}
}

// TestAppendString pins the header's string escaping to serde_json's
// (write_char_escape in serde_json's ser.rs): the short escapes, lowercase
// \u00xx for other control characters, and nothing else escaped — not '/',
// DEL, HTML characters, U+2028 or non-ASCII.
func TestAppendString(t *testing.T) {
	in := "\b\f\n\r\t\x00\x01\x1f\"\\\x7f/<>&\u2028é😀"
	want := `"\b\f\n\r\t\u0000\u0001\u001f\"\\` + "\x7f/<>&\u2028é😀" + `"`
	if got := string(appendString(nil, in)); got != want {
		t.Errorf("appendString(%q) = %s, want %s", in, got, want)
	}
	var back string
	if err := json.Unmarshal([]byte(want), &back); err != nil || back != in {
		t.Errorf("%s decodes to %q, %v; want %q", want, back, err, in)
	}
}
