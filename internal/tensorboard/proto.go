package tensorboard

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the messages in an event file, checked against
// tensorflow/core/util/event.proto (tensorflow/tensorflow) and its copies in
// tensorboard/compat/proto/{event,summary,tensor,tensor_shape}.proto
// (tensorflow/tensorboard):
//
//	message Event { double wall_time = 1; int64 step = 2;
//	  oneof what { string file_version = 3; bytes graph_def = 4;
//	    Summary summary = 5; LogMessage log_message = 6; ... } }
//	message Summary { repeated Value value = 1; }
//	message Summary.Value { string node_name = 7; string tag = 1;
//	  SummaryMetadata metadata = 9;
//	  oneof value { float simple_value = 2;
//	    bytes obsolete_old_style_histogram = 3; Image image = 4;
//	    HistogramProto histo = 5; Audio audio = 6; TensorProto tensor = 8; } }
//	message TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2;
//	  bytes tensor_content = 4; repeated float float_val = 5 [packed = true]; ... }
//	message TensorShapeProto { repeated Dim dim = 2; bool unknown_rank = 3; }
const (
	eventWallTime    protowire.Number = 1
	eventStep        protowire.Number = 2
	eventFileVersion protowire.Number = 3
	eventSummary     protowire.Number = 5

	summaryValue protowire.Number = 1

	valueTag          protowire.Number = 1
	valueSimpleValue  protowire.Number = 2
	valueOldHistogram protowire.Number = 3
	valueImage        protowire.Number = 4
	valueHisto        protowire.Number = 5
	valueAudio        protowire.Number = 6
	valueTensor       protowire.Number = 8

	tensorDtype   protowire.Number = 1
	tensorShape   protowire.Number = 2
	tensorContent protowire.Number = 4
	tensorFloat   protowire.Number = 5

	shapeDim protowire.Number = 2

	// dtFloat is DataType DT_FLOAT (tensorflow/core/framework/types.proto).
	dtFloat = 1
)

// fileVersion is the file_version of the first Event of a file; TensorFlow's
// EventsWriter writes the same ("brain.Event:" followed by the version).
const fileVersion = "brain.Event:2"

// appendEventHeader appends the wall_time and step fields of an Event. Like
// TensorFlow's C++ serializer (proto3, implicit presence) it leaves out a
// field holding its default value, so that our records match TensorFlow's
// byte for byte; a negative zero wall time is kept, its bits being non-zero.
func appendEventHeader(b []byte, wall float64, step int64) []byte {
	if bits := math.Float64bits(wall); bits != 0 {
		b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, bits)
	}
	if step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(step))
	}
	return b
}

// appendFileVersionEvent appends the Event that opens every event file.
func appendFileVersionEvent(b []byte, wall float64) []byte {
	b = appendEventHeader(b, wall, 0)
	b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
	return protowire.AppendString(b, fileVersion)
}

// appendScalarsEvent appends an Event holding a Summary with one
// simple_value Value per tag. simple_value sits in a oneof, so it is written
// even when it is zero. The caller has checked len(tags) == len(values).
func appendScalarsEvent(b []byte, wall float64, step int64, tags []string, values []float64) []byte {
	var summary []byte
	for i, tag := range tags {
		size := protowire.SizeTag(valueTag) + protowire.SizeBytes(len(tag)) +
			protowire.SizeTag(valueSimpleValue) + protowire.SizeFixed32()
		summary = protowire.AppendTag(summary, summaryValue, protowire.BytesType)
		summary = protowire.AppendVarint(summary, uint64(size))
		summary = protowire.AppendTag(summary, valueTag, protowire.BytesType)
		summary = protowire.AppendString(summary, tag)
		summary = protowire.AppendTag(summary, valueSimpleValue, protowire.Fixed32Type)
		summary = protowire.AppendFixed32(summary, math.Float32bits(float32(values[i])))
	}
	b = appendEventHeader(b, wall, step)
	b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
	return protowire.AppendBytes(b, summary)
}

// field is one field of a message being decoded.
type field struct {
	num protowire.Number
	typ protowire.Type
	// Exactly one of these holds the value, as the wire type says; groups
	// are skipped and hold nothing.
	varint uint64
	fixed  uint64
	bytes  []byte
}

// fields calls fn on each field of the message m in order, stopping at the
// first error, its own or fn's.
func fields(m []byte, fn func(f field) error) error {
	for len(m) > 0 {
		num, typ, n := protowire.ConsumeTag(m)
		if n < 0 {
			return fmt.Errorf("field tag: %w", protowire.ParseError(n))
		}
		m = m[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.varint, n = protowire.ConsumeVarint(m)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(m)
			f.fixed = uint64(v)
		case protowire.Fixed64Type:
			f.fixed, n = protowire.ConsumeFixed64(m)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(m)
		default:
			n = protowire.ConsumeFieldValue(num, typ, m)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		m = m[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// want returns an error if f, the field called name, does not have wire type
// typ.
func (f field) want(name string, typ protowire.Type) error {
	if f.typ != typ {
		return fmt.Errorf("field %d (%s) has wire type %s, want %s", f.num, name, wireName(f.typ), wireName(typ))
	}
	return nil
}

// wireName names a wire type as the protobuf encoding guide does.
func wireName(typ protowire.Type) string {
	switch typ {
	case protowire.VarintType:
		return "VARINT"
	case protowire.Fixed64Type:
		return "I64"
	case protowire.BytesType:
		return "LEN"
	case protowire.StartGroupType:
		return "SGROUP"
	case protowire.EndGroupType:
		return "EGROUP"
	case protowire.Fixed32Type:
		return "I32"
	}
	return fmt.Sprintf("%d", typ)
}

// str returns the value of f, a string field called name, checking the
// UTF-8 that proto3 requires of strings.
func (f field) str(name string) (string, error) {
	if err := f.want(name, protowire.BytesType); err != nil {
		return "", err
	}
	if !utf8.Valid(f.bytes) {
		return "", fmt.Errorf("field %d (%s) is not valid UTF-8", f.num, name)
	}
	return string(f.bytes), nil
}

// decodeEvent decodes a serialized Event. Fields other than wall_time, step,
// file_version and summary are skipped, as are summary values that are not
// scalars.
func decodeEvent(b []byte) (Event, error) {
	var ev Event
	err := fields(b, func(f field) error {
		switch f.num {
		case eventWallTime:
			if err := f.want("wall_time", protowire.Fixed64Type); err != nil {
				return err
			}
			ev.WallTime = math.Float64frombits(f.fixed)
		case eventStep:
			if err := f.want("step", protowire.VarintType); err != nil {
				return err
			}
			ev.Step = int64(f.varint)
		case eventFileVersion:
			s, err := f.str("file_version")
			if err != nil {
				return err
			}
			ev.FileVersion = s
		case eventSummary:
			if err := f.want("summary", protowire.BytesType); err != nil {
				return err
			}
			// A repeated embedded message seen twice merges: the values
			// of both are kept, in order.
			vals, err := decodeSummary(f.bytes)
			if err != nil {
				return fmt.Errorf("summary: %w", err)
			}
			ev.Values = append(ev.Values, vals...)
		}
		return nil
	})
	return ev, err
}

// decodeSummary decodes the scalar values of a serialized Summary.
func decodeSummary(b []byte) ([]Value, error) {
	var vals []Value
	i := 0
	err := fields(b, func(f field) error {
		if f.num != summaryValue {
			return nil
		}
		if err := f.want("value", protowire.BytesType); err != nil {
			return err
		}
		v, ok, err := decodeValue(f.bytes)
		if err != nil {
			return fmt.Errorf("value %d: %w", i, err)
		}
		i++
		if ok {
			vals = append(vals, v)
		}
		return nil
	})
	return vals, err
}

// decodeValue decodes a serialized Summary.Value; ok reports whether it is a
// scalar: a simple_value, or a rank-0 DT_FLOAT tensor, which is what
// TensorFlow 2's tf.summary.scalar writes. The rule for tensors is
// TensorBoard's own (tensor_proto_to_scalar in
// tensorboard/data/server/data_compat.rs).
func decodeValue(b []byte) (v Value, ok bool, err error) {
	err = fields(b, func(f field) error {
		switch f.num {
		case valueTag:
			s, err := f.str("tag")
			if err != nil {
				return err
			}
			v.Tag = s
		case valueSimpleValue:
			if err := f.want("simple_value", protowire.Fixed32Type); err != nil {
				return err
			}
			v.Simple, ok = math.Float32frombits(uint32(f.fixed)), true
		case valueTensor:
			if err := f.want("tensor", protowire.BytesType); err != nil {
				return err
			}
			x, scalar, err := decodeScalarTensor(f.bytes)
			if err != nil {
				return fmt.Errorf("tensor: %w", err)
			}
			v.Simple, ok = x, scalar
		case valueOldHistogram, valueImage, valueHisto, valueAudio:
			// The last member of the oneof seen wins, as in any
			// protobuf parser: this value is not a scalar.
			v.Simple, ok = 0, false
		}
		return nil
	})
	return v, ok, err
}

// errFloatVal reports packed float_val bytes that are not whole float32s.
var errFloatVal = errors.New("packed float_val length is not a multiple of 4")

// decodeScalarTensor returns the value of a serialized TensorProto if it is
// a rank-0 DT_FLOAT tensor holding exactly one value, in float_val or in the
// 4 little-endian bytes of tensor_content; ok is false for any other tensor.
func decodeScalarTensor(b []byte) (x float32, ok bool, err error) {
	var (
		dtype   uint64
		rank    int
		content []byte
		floats  []float32
	)
	err = fields(b, func(f field) error {
		switch f.num {
		case tensorDtype:
			if err := f.want("dtype", protowire.VarintType); err != nil {
				return err
			}
			dtype = f.varint
		case tensorShape:
			if err := f.want("tensor_shape", protowire.BytesType); err != nil {
				return err
			}
			err := fields(f.bytes, func(g field) error {
				if g.num == shapeDim {
					rank++
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("tensor_shape: %w", err)
			}
		case tensorContent:
			if err := f.want("tensor_content", protowire.BytesType); err != nil {
				return err
			}
			content = f.bytes
		case tensorFloat:
			// A packed repeated field may also arrive unpacked.
			switch f.typ {
			case protowire.Fixed32Type:
				floats = append(floats, math.Float32frombits(uint32(f.fixed)))
			case protowire.BytesType:
				if len(f.bytes)%4 != 0 {
					return errFloatVal
				}
				for p := f.bytes; len(p) > 0; p = p[4:] {
					u, _ := protowire.ConsumeFixed32(p)
					floats = append(floats, math.Float32frombits(u))
				}
			default:
				return f.want("float_val", protowire.BytesType)
			}
		}
		return nil
	})
	if err != nil || dtype != dtFloat || rank != 0 {
		return 0, false, err
	}
	switch {
	case len(floats) == 1:
		return floats[0], true, nil
	case len(floats) == 0 && len(content) == 4:
		u, _ := protowire.ConsumeFixed32(content)
		return math.Float32frombits(u), true, nil
	}
	return 0, false, nil
}
