package safetensors

import (
	"encoding/binary"
	"math"
)

// dtype is an element type that Read can widen to float32.
type dtype struct {
	name string
	size uint64 // bytes per element
	// decode appends the elements in src, a whole number of them, to dst.
	decode func(dst []float32, src []byte) []float32
}

var (
	f32 = dtype{"F32", 4, func(dst []float32, src []byte) []float32 {
		for i := 0; i+4 <= len(src); i += 4 {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(src[i:])))
		}
		return dst
	}}
	f16 = dtype{"F16", 2, func(dst []float32, src []byte) []float32 {
		for i := 0; i+2 <= len(src); i += 2 {
			dst = append(dst, f16ToF32(binary.LittleEndian.Uint16(src[i:])))
		}
		return dst
	}}
	// bfloat16 is the top half of a float32.
	bf16 = dtype{"BF16", 2, func(dst []float32, src []byte) []float32 {
		for i := 0; i+2 <= len(src); i += 2 {
			dst = append(dst, math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[i:]))<<16))
		}
		return dst
	}}
)

// readable holds the dtypes Read accepts: those float32 holds exactly.
var readable = map[string]dtype{"F32": f32, "F16": f16, "BF16": bf16}

// otherDtypes are the reference's remaining dtypes (enum Dtype in
// safetensors/src/tensor.rs). Read rejects them, but says so in different
// words than for a name the format does not define.
var otherDtypes = map[string]bool{
	"BOOL": true, "F4": true, "F6_E2M3": true, "F6_E3M2": true,
	"U8": true, "I8": true, "F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true,
	"I16": true, "U16": true, "I32": true, "U32": true,
	"F64": true, "C64": true, "I64": true, "U64": true,
}

// f16ToF32 widens an IEEE 754 binary16 to float32 exactly, NaN payloads
// included (shifted into the top of the float32 mantissa).
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// A subnormal, mant·2⁻²⁴: shift its leading 1 into the implicit
		// bit, lowering the exponent once per shift.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}
