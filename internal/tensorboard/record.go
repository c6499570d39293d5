package tensorboard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// castagnoli is the CRC-32C table TFRecords are checksummed with.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskDelta is added to the rotated CRC by mask; the constant is TensorFlow's
// kMaskDelta (tensorflow/core/lib/hash/crc32c.h), taken from LevelDB.
const maskDelta = 0xa282ead8

// mask returns the masked form of crc stored in TFRecords.
func mask(crc uint32) uint32 {
	return ((crc >> 15) | (crc << 17)) + maskDelta
}

// maskedCRC returns the masked CRC32C of b.
func maskedCRC(b []byte) uint32 {
	return mask(crc32.Checksum(b, castagnoli))
}

const (
	// headerLen is the length field and its CRC.
	headerLen = 8 + 4
	// footerLen is the CRC of the data.
	footerLen = 4
	// maxRecordLen bounds the data of one record when reading: a serialized
	// protocol buffer is at most 2 GiB, so a longer length is corruption.
	maxRecordLen = math.MaxInt32
)

// appendRecord appends data to dst framed as one TFRecord.
func appendRecord(dst, data []byte) []byte {
	var hdr [headerLen]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	dst = append(dst, hdr[:]...)
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(data))
}

// recordReader reads TFRecords from r one at a time, keeping the offset of
// the current record for error messages.
type recordReader struct {
	r      io.Reader
	offset int64 // byte offset of the next record
	buf    bytes.Buffer
}

// next returns the data of the next record, which is valid until the next
// call. At a clean end of input, between records, it returns io.EOF; a
// partial record, a CRC mismatch or an impossible length is an error.
func (rr *recordReader) next() ([]byte, error) {
	var hdr [headerLen]byte
	n, err := io.ReadFull(rr.r, hdr[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("truncated record header: %d of %d bytes", n, headerLen)
	case err != nil:
		return nil, err
	}
	stored, computed := binary.LittleEndian.Uint32(hdr[8:]), maskedCRC(hdr[:8])
	if stored != computed {
		return nil, fmt.Errorf("length CRC mismatch: stored %#08x, computed %#08x", stored, computed)
	}
	length := binary.LittleEndian.Uint64(hdr[:8])
	if length > maxRecordLen {
		return nil, fmt.Errorf("record length %d exceeds the 2 GiB limit of a protocol buffer", length)
	}

	// Copying through a bytes.Buffer grows the buffer with the data that
	// actually arrives, so a truncated file claiming a long record does not
	// allocate the claimed length.
	rr.buf.Reset()
	got, err := io.CopyN(&rr.buf, rr.r, int64(length)+footerLen)
	if err == io.EOF {
		return nil, fmt.Errorf("truncated record: %d of %d data and CRC bytes", got, length+footerLen)
	}
	if err != nil {
		return nil, err
	}
	b := rr.buf.Bytes()
	data, footer := b[:length], b[length:]
	stored, computed = binary.LittleEndian.Uint32(footer), maskedCRC(data)
	if stored != computed {
		return nil, fmt.Errorf("data CRC mismatch: stored %#08x, computed %#08x", stored, computed)
	}
	rr.offset += headerLen + int64(length) + footerLen
	return data, nil
}
