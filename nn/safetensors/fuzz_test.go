package safetensors

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes. Read must not panic; the sized and
// the streaming path must agree on whether the input is valid; and whatever
// Read accepts must survive Write and Read unchanged, with Write's output a
// fixed point of Read then Write.
//
// Run it with: go test -run='^$' -fuzz=FuzzRead ./nn/safetensors
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	for _, seed := range []struct {
		tensors []Tensor
		meta    map[string]string
	}{
		{nil, nil},
		{nil, map[string]string{"format": "pt"}},
		{smallTensors, map[string]string{"format": "pt"}},
		{specialTensors()[:5], map[string]string{"a": "\x00\"\\", "": ""}},
	} {
		buf.Reset()
		if err := Write(&buf, seed.tensors, seed.meta); err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(buf.Bytes()))
	}
	f.Add(smallFile)
	f.Add(file(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}}`,
		[]byte{0x00, 0x3c, 0x01, 0x7c, 0x80, 0x3f}))
	f.Add(file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, words(0)))
	f.Add(file(`{"__metadata__":null,"\ud83d\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`+"\t\r\n ", words(1)))
	f.Add(file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, make([]byte, 12)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))

	f.Fuzz(func(t *testing.T, input []byte) {
		tensors, meta, err := Read(bytes.NewReader(input))
		streamed, streamedMeta, streamErr := Read(streamReader{bytes.NewReader(input)})
		if (err == nil) != (streamErr == nil) {
			t.Fatalf("sized Read gave error %v, streaming Read gave %v", err, streamErr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.HasPrefix(streamErr.Error(), "safetensors: ") {
				t.Fatalf("errors %q and %q lack the package prefix", err, streamErr)
			}
			return
		}
		if d := sameTensors(streamed, tensors); d != "" || !maps.Equal(streamedMeta, meta) {
			t.Fatalf("sized and streaming Read differ: %s", d)
		}

		var out bytes.Buffer
		if err := Write(&out, tensors, meta); err != nil {
			t.Fatalf("Write rejected what Read accepted: %v", err)
		}
		again, againMeta, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("Read rejected what Write wrote: %v\n%q", err, out.Bytes())
		}
		if d := sameTensors(again, tensors); d != "" {
			t.Fatalf("round trip changed the tensors: %s", d)
		}
		if !maps.Equal(againMeta, meta) {
			t.Fatalf("round trip changed the metadata from %q to %q", meta, againMeta)
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again, againMeta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out2.Bytes(), out.Bytes()) {
			t.Fatalf("Write(Read(Write(x))) differs from Write(x)")
		}
	})
}

// FuzzHeader is FuzzRead with the header length always right, so that the
// fuzzer spends its mutations on the JSON header and the data buffer rather
// than on inputs that fail at the first eight bytes.
//
// Run it with: go test -run='^$' -fuzz=FuzzHeader ./nn/safetensors
func FuzzHeader(f *testing.F) {
	f.Add(`{"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}`, make([]byte, 12))
	f.Add(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]},"z":{"dtype":"F32","shape":[0,9],"data_offsets":[6,6]}}`, []byte{0x00, 0x3c, 0x01, 0x7c, 0x80, 0x3f})
	f.Add(`{"\ud83d\ude00\n":{"dtype":"F32","shape":[1,1,1],"data_offsets":[0,4]},"__metadata__":null}`, words(quietNaNPayload))
	f.Fuzz(func(t *testing.T, header string, data []byte) {
		input := file(header, data)
		tensors, meta, err := Read(bytes.NewReader(input))
		if _, _, streamErr := Read(streamReader{bytes.NewReader(input)}); (err == nil) != (streamErr == nil) {
			t.Fatalf("sized Read gave error %v, streaming Read gave %v", err, streamErr)
		}
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, tensors, meta); err != nil {
			t.Fatalf("Write rejected what Read accepted: %v", err)
		}
		again, againMeta, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("Read rejected what Write wrote: %v\n%q", err, out.Bytes())
		}
		if d := sameTensors(again, tensors); d != "" || !maps.Equal(againMeta, meta) {
			t.Fatalf("round trip changed the tensors or metadata: %s", d)
		}
	})
}
