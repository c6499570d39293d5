package tensorboard

import (
	"bytes"
	"hash/crc32"
	"strings"
	"testing"
)

func TestMaskKnownVector(t *testing.T) {
	// CRC32C("123456789") = 0xe3069283 is the check value of the
	// Castagnoli CRC (RFC 3720, and every CRC catalogue).
	crc := crc32.Checksum([]byte("123456789"), castagnoli)
	if crc != 0xe3069283 {
		t.Fatalf("CRC32C(123456789) = %#08x, want 0xe3069283", crc)
	}
	// By hand: crc>>15 = 0x0001c60d, crc<<17 = 0x25060000 (uint32),
	// their OR 0x2507c60d, plus 0xa282ead8 = 0xc78ab0e5.
	if got := mask(crc); got != 0xc78ab0e5 {
		t.Errorf("mask(%#08x) = %#08x, want 0xc78ab0e5", crc, got)
	}
	if got := maskedCRC([]byte("123456789")); got != 0xc78ab0e5 {
		t.Errorf("maskedCRC(123456789) = %#08x, want 0xc78ab0e5", got)
	}
}

// TestMaskedCRCPublished checks the vectors of TensorBoard's own masked CRC
// test (tensorboard/data/server/masked_crc.rs, test_compute).
func TestMaskedCRCPublished(t *testing.T) {
	// RFC 3720 (iSCSI) section B.4: 32 zero bytes have CRC32C 0x8a9136aa.
	zeros := make([]byte, 32)
	if got, want := maskedCRC(zeros), mask(0x8a9136aa); got != want {
		t.Errorf("maskedCRC(32 zero bytes) = %#08x, want %#08x", got, want)
	}
	// From a real TFRecord holding Event{file_version: "CRC test, one two"}.
	if got := maskedCRC([]byte("\x1a\x11CRC test, one two")); got != 0x5794d08a {
		t.Errorf("maskedCRC(file_version event) = %#08x, want 0x5794d08a", got)
	}
}

// TestRecordCorruption uses the corrupted records of TensorBoard's
// tf_record.rs tests (test_length_crc_mismatch, test_data_crc_mismatch).
func TestRecordCorruption(t *testing.T) {
	const data = "123456789abcdef012345678"
	for _, c := range []struct {
		name, file, want string
	}{
		{
			"length CRC",
			"\x18\x00\x00\x00\x00\x00\x00\x00" + "\x99\x7f\x4b\x55" + data + "\x00\x00\x00\x00",
			"length CRC mismatch: stored 0x554b7f99, computed 0x224b7fa3",
		},
		{
			"data CRC",
			"\x18\x00\x00\x00\x00\x00\x00\x00" + "\xa3\x7f\x4b\x22" + data + "\xdf\x9b\x57\x13",
			"data CRC mismatch: stored 0x13579bdf",
		},
	} {
		rr := recordReader{r: strings.NewReader(c.file)}
		_, err := rr.next()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	var file []byte
	payloads := [][]byte{{}, []byte("x"), bytes.Repeat([]byte{0xff}, 1000)}
	for _, p := range payloads {
		file = appendRecord(file, p)
	}
	rr := recordReader{r: bytes.NewReader(file)}
	for i, want := range payloads {
		got, err := rr.next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("record %d = % x, want % x", i, got, want)
		}
	}
	if _, err := rr.next(); err == nil || err.Error() != "EOF" {
		t.Errorf("after the last record: error %v, want EOF", err)
	}
	if rr.offset != int64(len(file)) {
		t.Errorf("offset after reading = %d, want %d", rr.offset, len(file))
	}
}

// TestRecordHugeLength checks that a record claiming a length beyond any
// protocol buffer is an error, and that a truncated record claiming a long
// length is reported without reading or allocating the claimed length.
func TestRecordHugeLength(t *testing.T) {
	for _, c := range []struct {
		length uint64
		want   string
	}{
		{1 << 40, "exceeds the 2 GiB limit"},
		{1 << 30, "truncated record: 3 of 1073741828"},
	} {
		hdr := make([]byte, 8)
		for i := range hdr {
			hdr[i] = byte(c.length >> (8 * i))
		}
		file := append(hdr, 0, 0, 0, 0)
		putUint32LE(file[8:], maskedCRC(hdr))
		file = append(file, "abc"...)
		rr := recordReader{r: bytes.NewReader(file)}
		_, err := rr.next()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("length %d: error %v, want one containing %q", c.length, err, c.want)
		}
	}
}

func putUint32LE(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
