// Package safetensors reads and writes the safetensors format, the file
// format PyTorch and the Hugging Face libraries use for model weights, so
// that imago's checkpoints load in PyTorch and PyTorch's weights load in
// imago.
//
// A file is an 8-byte little-endian header length N, then N bytes of JSON
// header, then the data buffer. The header maps each tensor name to its
// dtype, shape and byte range [begin, end) in the data buffer, and may hold
// a "__metadata__" object of string keys and values. The reference is
// github.com/huggingface/safetensors (README.md and safetensors/src/tensor.rs).
//
// imago computes in float32, so Write emits F32 only. Read accepts F32, and
// also F16 and BF16, which widen to float32 exactly; any other dtype is an
// error that names it. Read holds a file to the reference reader's rules
// (header at most 100 MB and starting with '{', tensors tiling the data
// buffer exactly with no hole or overlap, each tensor's byte range equal to
// its shape times its dtype size) and to a few more of its own (no duplicate
// keys, no empty tensor names, no unknown fields), so whatever Read accepts
// Write can write back. Read never sizes an allocation from a length in the
// header before that many bytes have arrived or the input is known to hold
// them, so a hostile header cannot make it allocate more than the input.
//
// A corrupt or unsupported file is reported as an error, never a panic.
// The functions keep no state and are safe to call concurrently.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header, in bytes, that Read accepts and Write
// produces: the reference's MAX_HEADER_SIZE (safetensors/src/tensor.rs).
const MaxHeaderSize = 100_000_000

// metadataKey is the header key reserved for the free-form string map.
const metadataKey = "__metadata__"

// chunkSize is how many data bytes Read and Write move per I/O call. It is
// also the most Read allocates ahead of bytes that have actually arrived.
const chunkSize = 64 << 10

// Tensor is one named float32 tensor, stored row-major (C order), as
// safetensors and PyTorch store it.
//
// An empty Shape is a scalar and holds one element; a Shape with a zero
// dimension holds none.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: "+format, args...)
}

// Write writes tensors and meta to w in the safetensors format, all as F32.
//
// The data buffer holds the tensors in the order given. The header starts
// with "__metadata__" (omitted when meta is empty), its keys sorted, and
// then the tensors in the order given; it is compact JSON escaped as the
// reference's serde_json escapes it, padded with spaces to a multiple of 8
// bytes so every tensor is 8-byte aligned in the file. Given tensors sorted
// by name and at most one metadata key, the bytes are the same as those of
// the reference's safetensors.torch.save_file for the same float32 tensors.
// Float bits are written as they are: NaN payloads and -0 survive.
//
// Write returns an error, having written nothing, when a tensor's name is
// empty, not valid UTF-8, repeated, or "__metadata__"; when a metadata key
// or value is not valid UTF-8; when a shape has a negative dimension or
// its product overflows; or when len(Data) is not the product of Shape.
func Write(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header, err := encodeHeader(tensors, meta)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return errorf("write header length: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return errorf("write header: %w", err)
	}
	var total int
	for _, t := range tensors {
		total += 4 * len(t.Data)
	}
	buf := make([]byte, 0, min(chunkSize, total))
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return errorf("write tensor %q: %w", t.Name, err)
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return errorf("write tensor data: %w", err)
		}
	}
	return nil
}

// encodeHeader validates tensors and meta and returns the padded header.
func encodeHeader(tensors []Tensor, meta map[string]string) ([]byte, error) {
	b := []byte{'{'}
	if len(meta) > 0 {
		b = append(b, `"`+metadataKey+`":{`...)
		for i, k := range slices.Sorted(maps.Keys(meta)) {
			v := meta[k]
			if !utf8.ValidString(k) {
				return nil, errorf("metadata key %q is not valid UTF-8", k)
			}
			if !utf8.ValidString(v) {
				return nil, errorf("metadata value %q of key %q is not valid UTF-8", v, k)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v)
		}
		b = append(b, '}')
	}
	seen := make(map[string]bool, len(tensors))
	var offset uint64
	for i, t := range tensors {
		switch {
		case t.Name == "":
			return nil, errorf("tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, errorf("tensor %d is named %q, which the format reserves for metadata", i, t.Name)
		case !utf8.ValidString(t.Name):
			return nil, errorf("tensor %d: name %q is not valid UTF-8", i, t.Name)
		case seen[t.Name]:
			return nil, errorf("tensor name %q appears twice", t.Name)
		}
		seen[t.Name] = true
		n, err := numElements(t.Shape)
		if err != nil {
			return nil, errorf("tensor %q: %v", t.Name, err)
		}
		if n != uint64(len(t.Data)) {
			return nil, errorf("tensor %q: shape %v holds %d elements but Data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, `:{"dtype":"F32","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, ',')
		offset += 4 * n
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	// The reference pads with spaces so that the data buffer, and so every
	// tensor in it, starts 8-byte aligned (prepare in tensor.rs).
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	if len(b) > MaxHeaderSize {
		return nil, errorf("header of %d bytes exceeds the %d-byte limit readers enforce", len(b), MaxHeaderSize)
	}
	return b, nil
}

// numElements returns the product of shape, failing on a negative dimension
// or on overflow. Like the reference's validate, it multiplies left to
// right and fails on the first overflow, even if a later dimension is 0,
// so that every shape Write accepts the reference reads.
func numElements(shape []int) (uint64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v: element count overflows", shape)
		}
		n = lo
	}
	return n, nil
}

// appendString appends s as a JSON string, escaped as serde_json escapes
// it (the reference's serializer): only '"', '\\' and control characters,
// with the short forms \b \f \n \r \t and lowercase \u00xx otherwise. s must
// be valid UTF-8.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
