package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// entry is one tensor as the header describes it.
type entry struct {
	name       string
	dtype      dtype
	shape      []int
	n          uint64 // elements
	begin, end uint64 // byte range in the data buffer
}

// Read reads a safetensors file from r and returns its tensors, sorted by
// their place in the data buffer, and its metadata (nil when it has none).
//
// F16 and BF16 tensors are widened to float32 exactly; any other dtype is an
// error naming the tensor and the dtype. Every departure from the format is
// an error that says what is wrong: a header that is too long, not UTF-8,
// not a JSON object, or with repeated or unknown keys; a tensor whose byte
// range does not fit its shape and dtype; a hole or overlap in the data
// buffer; bytes missing from or left over after it. A file cut short
// anywhere gives an error that wraps io.ErrUnexpectedEOF.
//
// Read reads r to its end. When r is a *os.File of a regular file, a
// *bytes.Reader, a *bytes.Buffer or a *strings.Reader, Read checks the
// lengths in the header against the bytes left in r before reading on, and
// allocates each tensor once; otherwise it grows each tensor as its bytes
// arrive.
func Read(r io.Reader) ([]Tensor, map[string]string, error) {
	avail, sized := remaining(r)

	var lenBuf [8]byte
	if n, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, nil, errorf("input ends after %d bytes, inside the 8-byte header length: %w", n, io.ErrUnexpectedEOF)
		}
		return nil, nil, errorf("read header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderSize {
		return nil, nil, errorf("header length %d exceeds the %d-byte limit", hlen, MaxHeaderSize)
	}
	if sized && int64(hlen) > avail-8 {
		return nil, nil, errorf("header length is %d but only %d bytes follow it: %w", hlen, avail-8, io.ErrUnexpectedEOF)
	}
	var hbuf bytes.Buffer
	if sized {
		hbuf.Grow(int(hlen))
	}
	if got, err := io.CopyN(&hbuf, r, int64(hlen)); err != nil {
		if err == io.EOF {
			return nil, nil, errorf("header length is %d but input ends %d bytes into the header: %w", hlen, got, io.ErrUnexpectedEOF)
		}
		return nil, nil, errorf("read header: %w", err)
	}

	entries, meta, err := parseHeader(hbuf.Bytes())
	if err != nil {
		return nil, nil, err
	}
	total, err := checkLayout(entries)
	if err != nil {
		return nil, nil, err
	}
	if sized {
		switch rest := uint64(avail - 8 - int64(hlen)); {
		case rest < total:
			return nil, nil, errorf("header declares %d bytes of tensor data but only %d follow it: %w", total, rest, io.ErrUnexpectedEOF)
		case rest > total:
			return nil, nil, errorf("%d bytes follow the %d-byte data buffer the header declares", rest-total, total)
		}
	}

	tensors := make([]Tensor, len(entries))
	scratch := make([]byte, min(chunkSize, total))
	for i, e := range entries {
		data, err := readData(r, e, sized, scratch)
		if err != nil {
			return nil, nil, err
		}
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: data}
	}
	var extra [1]byte
	switch _, err := io.ReadFull(r, extra[:]); err {
	case nil:
		return nil, nil, errorf("bytes follow the %d-byte data buffer the header declares", total)
	case io.EOF:
	default:
		return nil, nil, errorf("read past data buffer: %w", err)
	}
	return tensors, meta, nil
}

// remaining returns how many bytes are left in r when r is a type that
// knows it without being read.
func remaining(r io.Reader) (int64, bool) {
	switch r := r.(type) {
	case *bytes.Reader:
		return int64(r.Len()), true
	case *bytes.Buffer:
		return int64(r.Len()), true
	case *strings.Reader:
		return int64(r.Len()), true
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return 0, false
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return 0, false
		}
		return fi.Size() - pos, true
	}
	return 0, false
}

// readData reads e's bytes from r and widens them to float32. It allocates
// the whole tensor up front only when trusted, that is when the input is
// known to hold all of it; otherwise the slice grows as bytes arrive.
func readData(r io.Reader, e entry, trusted bool, scratch []byte) ([]float32, error) {
	nbytes := e.end - e.begin
	capacity := e.n
	if !trusted {
		capacity = min(e.n, chunkSize/e.dtype.size)
	}
	data := make([]float32, 0, capacity)
	for done := uint64(0); done < nbytes; {
		chunk := scratch[:min(uint64(len(scratch)), nbytes-done)]
		got, err := io.ReadFull(r, chunk)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, errorf("tensor %q: input ends %d bytes into its %d bytes of data: %w", e.name, done+uint64(got), nbytes, io.ErrUnexpectedEOF)
			}
			return nil, errorf("tensor %q: read data: %w", e.name, err)
		}
		data = e.dtype.decode(data, chunk)
		done += uint64(len(chunk))
	}
	return data, nil
}

// checkLayout sorts entries by place in the data buffer, checks that each
// tensor's byte range fits its shape and dtype and that together they tile
// the buffer from 0 with no hole or overlap, and returns the buffer's size.
// These are the reference's rules (Metadata::validate in tensor.rs).
func checkLayout(entries []entry) (uint64, error) {
	for i := range entries {
		e := &entries[i]
		if e.end < e.begin {
			return 0, errorf("tensor %q: data_offsets [%d %d] end before they begin", e.name, e.begin, e.end)
		}
		hi, size := bits.Mul64(e.n, e.dtype.size)
		if hi != 0 || e.end-e.begin != size {
			return 0, errorf("tensor %q: data_offsets [%d %d] but shape %v of %s needs %s bytes",
				e.name, e.begin, e.end, e.shape, e.dtype.name, byteCount(hi, size))
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.name, b.name))
	})
	var at uint64
	for i, e := range entries {
		switch {
		case e.begin > at && i == 0:
			return 0, errorf("hole in data buffer: bytes [0 %d) before tensor %q belong to no tensor", e.begin, e.name)
		case e.begin > at:
			return 0, errorf("hole in data buffer: bytes [%d %d) between tensors %q and %q belong to no tensor", at, e.begin, entries[i-1].name, e.name)
		case e.begin < at:
			p := entries[i-1]
			return 0, errorf("tensor %q data_offsets [%d %d] overlap tensor %q data_offsets [%d %d]", e.name, e.begin, e.end, p.name, p.begin, p.end)
		}
		at = e.end
	}
	return at, nil
}

// byteCount formats the 128-bit number hi·2⁶⁴+lo, which is only ever an
// overflowed size in an error message.
func byteCount(hi, lo uint64) string {
	if hi == 0 {
		return strconv.FormatUint(lo, 10)
	}
	return "more than 2^64"
}

// parseHeader decodes the JSON header into tensor entries, in header order,
// and metadata. It walks the JSON token by token, rather than unmarshalling
// into maps, to reject repeated keys (which a map would silently merge) and
// to match field names exactly (encoding/json matches struct fields
// case-insensitively).
func parseHeader(h []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(h) {
		return nil, nil, errorf("header is not valid UTF-8")
	}
	if len(h) == 0 || h[0] != '{' {
		return nil, nil, errorf("header does not start with '{'")
	}
	if err := checkSurrogates(h); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	p := parser{dec: dec}
	if err := p.delim('{', "header"); err != nil {
		return nil, nil, err
	}
	var (
		entries  []entry
		meta     map[string]string
		seenMeta bool
		names    = make(map[string]bool)
	)
	for dec.More() {
		key, err := p.str("header key")
		if err != nil {
			return nil, nil, err
		}
		if key == metadataKey {
			if seenMeta {
				return nil, nil, errorf("header has %q twice", metadataKey)
			}
			seenMeta = true
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		if key == "" {
			return nil, nil, errorf("header has a tensor with an empty name")
		}
		if names[key] {
			return nil, nil, errorf("header has tensor %q twice", key)
		}
		names[key] = true
		e, err := p.tensor(key)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := p.delim('}', "header"); err != nil {
		return nil, nil, err
	}
	// The reference pads with spaces; serde_json allows any JSON whitespace
	// after the value and nothing else.
	if rest := h[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return nil, nil, errorf("header has %d bytes of trailing data after its JSON object", len(rest))
	}
	if len(meta) == 0 {
		meta = nil
	}
	return entries, meta, nil
}

// parser reads the expected shapes of JSON values from a token stream.
type parser struct{ dec *json.Decoder }

func (p parser) token(what string) (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, errorf("%s: invalid JSON: %v", what, err)
	}
	return t, nil
}

func (p parser) delim(d json.Delim, what string) error {
	t, err := p.token(what)
	if err != nil {
		return err
	}
	if t != d {
		return errorf("%s: want %q, got %s", what, d, describe(t))
	}
	return nil
}

func (p parser) str(what string) (string, error) {
	t, err := p.token(what)
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", errorf("%s: want a string, got %s", what, describe(t))
	}
	return s, nil
}

// uint reads a non-negative integer that fits in an int.
func (p parser) uint(what string) (uint64, error) {
	t, err := p.token(what)
	if err != nil {
		return 0, err
	}
	num, ok := t.(json.Number)
	if !ok {
		return 0, errorf("%s: want a non-negative integer, got %s", what, describe(t))
	}
	v, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil || v > math.MaxInt {
		return 0, errorf("%s: %s is not a non-negative integer that fits in an int", what, num)
	}
	return v, nil
}

// metadata reads the "__metadata__" value: an object of strings, or null.
func (p parser) metadata() (map[string]string, error) {
	t, err := p.token(metadataKey)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if t != json.Delim('{') {
		return nil, errorf("%s: want an object of strings, got %s", metadataKey, describe(t))
	}
	meta := make(map[string]string)
	for p.dec.More() {
		k, err := p.str(metadataKey + " key")
		if err != nil {
			return nil, err
		}
		if _, dup := meta[k]; dup {
			return nil, errorf("%s has key %q twice", metadataKey, k)
		}
		v, err := p.str(metadataKey + " value of " + strconv.Quote(k))
		if err != nil {
			return nil, err
		}
		meta[k] = v
	}
	return meta, p.delim('}', metadataKey)
}

// tensor reads one tensor's {"dtype", "shape", "data_offsets"} object.
func (p parser) tensor(name string) (entry, error) {
	e := entry{name: name}
	what := "tensor " + strconv.Quote(name)
	if err := p.delim('{', what); err != nil {
		return e, err
	}
	var haveDtype, haveShape, haveOffsets bool
	for p.dec.More() {
		field, err := p.str(what + " field")
		if err != nil {
			return e, err
		}
		switch field {
		case "dtype":
			if haveDtype {
				return e, errorf("%s has field dtype twice", what)
			}
			haveDtype = true
			d, err := p.str(what + " dtype")
			if err != nil {
				return e, err
			}
			var ok bool
			if e.dtype, ok = readable[d]; !ok {
				if otherDtypes[d] {
					return e, errorf("%s has dtype %s; imago reads F32, F16 and BF16", what, d)
				}
				return e, errorf("%s has unknown dtype %q", what, d)
			}
		case "shape":
			if haveShape {
				return e, errorf("%s has field shape twice", what)
			}
			haveShape = true
			if err := p.delim('[', what+" shape"); err != nil {
				return e, err
			}
			e.shape = []int{}
			for p.dec.More() {
				d, err := p.uint(what + " shape")
				if err != nil {
					return e, err
				}
				e.shape = append(e.shape, int(d))
			}
			if err := p.delim(']', what+" shape"); err != nil {
				return e, err
			}
			if e.n, err = numElements(e.shape); err != nil {
				return e, errorf("%s: %v", what, err)
			}
		case "data_offsets":
			if haveOffsets {
				return e, errorf("%s has field data_offsets twice", what)
			}
			haveOffsets = true
			if err := p.delim('[', what+" data_offsets"); err != nil {
				return e, err
			}
			var offsets []uint64
			for p.dec.More() {
				if len(offsets) == 2 {
					return e, errorf("%s data_offsets: want two offsets, got more", what)
				}
				v, err := p.uint(what + " data_offsets")
				if err != nil {
					return e, err
				}
				offsets = append(offsets, v)
			}
			if err := p.delim(']', what+" data_offsets"); err != nil {
				return e, err
			}
			if len(offsets) != 2 {
				return e, errorf("%s data_offsets: want two offsets, got %d", what, len(offsets))
			}
			e.begin, e.end = offsets[0], offsets[1]
		default:
			return e, errorf("%s has unknown field %q", what, field)
		}
	}
	switch {
	case !haveDtype:
		return e, errorf("%s has no dtype", what)
	case !haveShape:
		return e, errorf("%s has no shape", what)
	case !haveOffsets:
		return e, errorf("%s has no data_offsets", what)
	}
	return e, p.delim('}', what)
}

// describe names a JSON token for an error message.
func describe(t json.Token) string {
	switch t := t.(type) {
	case nil:
		return "null"
	case json.Delim:
		return strconv.Quote(t.String())
	case string:
		return "string " + strconv.Quote(t)
	case json.Number:
		return "number " + t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return "an unexpected token"
}

// checkSurrogates rejects \u escapes that encode half a UTF-16 surrogate
// pair. serde_json rejects them; encoding/json would quietly decode them to
// U+FFFD, so a name would not survive a round trip.
func checkSurrogates(h []byte) error {
	inString := false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			r, ok := hex4(h, i)
			switch {
			case !ok:
				i++ // a two-character escape, or malformed: left to the decoder
			case utf16Low(r):
				return errorf("header has an unpaired surrogate escape \\u%04x", r)
			case utf16High(r):
				r2, ok := hex4(h, i+6)
				if !ok || !utf16Low(r2) {
					return errorf("header has an unpaired surrogate escape \\u%04x", r)
				}
				i += 11
			default:
				i += 5
			}
		}
	}
	return nil
}

// hex4 decodes the escape \uXXXX at h[i:], reporting whether there is one.
func hex4(h []byte, i int) (rune, bool) {
	if i+6 > len(h) || h[i] != '\\' || h[i+1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(h[i+2:i+6]), 16, 16)
	return rune(v), err == nil
}

func utf16High(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func utf16Low(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }
