package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/imago-rl/imago/nn/safetensors"
)

// State is the content of a checkpoint: float32 tensors by name, saved in
// the safetensors file, and JSON values by name, saved in the JSON file.
// Tensor names and value names are separate: a tensor and a value may share
// a name. The zero State is not usable; call NewState, or get one from Load.
//
// A State is not safe for concurrent use.
type State struct {
	tensors map[string]tensor
	values  map[string]json.RawMessage
	// src is the JSON file Load read the State from, so that a missing or
	// misshapen entry names it; "" for a State built in memory.
	src string
}

// tensor is one float32 tensor of a State, row-major in shape.
type tensor struct {
	shape []int
	data  []float32
}

// NewState returns an empty State.
func NewState() *State {
	return &State{tensors: make(map[string]tensor), values: make(map[string]json.RawMessage)}
}

// where names the State in error messages: its file, when it has one.
func (s *State) where() string {
	if s.src == "" {
		return "checkpoint state"
	}
	return "checkpoint " + s.src
}

// PutTensor stores a copy of data, row-major in shape, as the tensor called
// name, replacing any tensor of that name. An empty shape is a scalar and
// holds one element.
//
// It panics, as for any programmer error, if name is empty, not valid UTF-8
// or "__metadata__" (which safetensors reserves), if a dimension is
// negative, or if len(data) is not the product of shape.
func (s *State) PutTensor(name string, shape []int, data []float32) {
	s.putTensor(name, shape, slices.Clone(data))
}

// putTensor is PutTensor without the copy, for data the State may own.
func (s *State) putTensor(name string, shape []int, data []float32) {
	if name == "" || !utf8.ValidString(name) || name == "__metadata__" {
		panic(fmt.Sprintf("checkpoint: PutTensor: invalid tensor name %q", name))
	}
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if d < 0 || hi != 0 || lo > math.MaxInt {
			panic(fmt.Sprintf("checkpoint: PutTensor %q: invalid shape %v", name, shape))
		}
		n = lo
	}
	if n != uint64(len(data)) {
		panic(fmt.Sprintf("checkpoint: PutTensor %q: shape %v holds %d elements but data has %d", name, shape, n, len(data)))
	}
	if data == nil {
		data = []float32{}
	}
	s.tensors[name] = tensor{shape: slices.Clone(shape), data: data}
}

// Tensor returns the data of the tensor called name, which must have shape
// shape. It returns an error if there is no such tensor or its shape
// differs, naming both shapes. The slice is the State's own: changing it
// changes the State.
func (s *State) Tensor(name string, shape []int) ([]float32, error) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s has no tensor %q", s.where(), name)
	}
	if !slices.Equal(t.shape, shape) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", s.where(), name, t.shape, shape)
	}
	return t.data, nil
}

// PutValue stores v, encoded by json.Marshal, as the value called name,
// replacing any value of that name. It panics if name is empty or not valid
// UTF-8, and returns an error naming the value if v does not marshal.
//
// JSON has no NaN or infinities, so a float64 that is not finite makes
// json.Marshal, and PutValue, fail: store float64s that may not be finite
// (statistics of a run that may have diverged) with PutFloats. Integers
// beyond ±2⁵³ survive encoding/json's round trip through an integer Go
// type, but not through float64 or other JSON readers: store uint64 state
// as strings (the ",string" struct tag option), as PutRNG does.
func (s *State) PutValue(name string, v any) error {
	checkValueName("PutValue", name)
	b, err := json.Marshal(v)
	if err != nil {
		var unsupported *json.UnsupportedValueError
		if errors.As(err, &unsupported) {
			return fmt.Errorf("checkpoint value %q: %v (store float64s that may not be finite with PutFloats)", name, err)
		}
		return fmt.Errorf("checkpoint value %q: %w", name, err)
	}
	s.values[name] = b
	return nil
}

func checkValueName(op, name string) {
	if name == "" || !utf8.ValidString(name) {
		panic(fmt.Sprintf("checkpoint: %s: invalid value name %q", op, name))
	}
}

// Value decodes the value called name into v, which must be a non-nil
// pointer, as json.Unmarshal does but strictly: a field of the stored
// object that v's type does not have is an error, and so is anything after
// the value. Fields of v's type that the stored object lacks are left as
// they are; encoding/json matches field names without regard to case.
func (s *State) Value(name string, v any) error {
	raw, ok := s.values[name]
	if !ok {
		return fmt.Errorf("%s has no value %q", s.where(), name)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: value %q: %v", s.where(), name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: value %q has data after its end", s.where(), name)
	}
	return nil
}

// PutFloats stores v as the value called name, exactly, NaN and ±Inf
// included: as a JSON array whose finite elements are numbers (in the
// shortest form that parses back to the same float64, -0 as -0) and whose
// other elements are the strings "NaN", "+Inf" and "-Inf". A NaN's payload
// is not kept. It panics if name is empty or not valid UTF-8.
func (s *State) PutFloats(name string, v []float64) {
	checkValueName("PutFloats", name)
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(x):
			b = append(b, `"NaN"`...)
		case math.IsInf(x, 1):
			b = append(b, `"+Inf"`...)
		case math.IsInf(x, -1):
			b = append(b, `"-Inf"`...)
		default:
			// The shortest 'g' form is a valid JSON number: digits, an
			// optional fraction and an exponent such as e+06 or e-07.
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	s.values[name] = append(b, ']')
}

// Floats returns the float64s stored by PutFloats as the value called
// name. It returns an error if there is no such value or it is not an array
// of numbers and the strings "NaN", "+Inf" and "-Inf".
func (s *State) Floats(name string) ([]float64, error) {
	var elems []json.RawMessage
	if err := s.Value(name, &elems); err != nil {
		return nil, err
	}
	if elems == nil {
		return nil, fmt.Errorf("%s: value %q is not an array of floats", s.where(), name)
	}
	v := make([]float64, len(elems))
	for i, e := range elems {
		switch str := string(e); {
		case str == `"NaN"`:
			v[i] = math.NaN()
		case str == `"+Inf"`:
			v[i] = math.Inf(1)
		case str == `"-Inf"`:
			v[i] = math.Inf(-1)
		case str[0] == '-' || '0' <= str[0] && str[0] <= '9':
			// The decoder has checked it is a JSON number, so it parses;
			// only one too large for a float64 fails.
			x, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: element %d, %s, is out of the range of float64", s.where(), name, i, str)
			}
			v[i] = x
		default:
			return nil, fmt.Errorf("%s: value %q: element %d is %s, not a number, \"NaN\", \"+Inf\" or \"-Inf\"", s.where(), name, i, shorten(str))
		}
	}
	return v, nil
}

// shorten cuts a JSON text for an error message.
func shorten(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:max] + "…"
}

// Names returns the names of the tensors and of the values, each sorted.
func (s *State) Names() (tensors, values []string) {
	tensors = make([]string, 0, len(s.tensors))
	for name := range s.tensors {
		tensors = append(tensors, name)
	}
	values = make([]string, 0, len(s.values))
	for name := range s.values {
		values = append(values, name)
	}
	slices.Sort(tensors)
	slices.Sort(values)
	return tensors, values
}

// NonFinite reports the first tensor, in name order, holding a NaN or an
// infinity, and the first such element, widened to float64. ok is false
// when every element of every tensor is finite. Values cannot hold one:
// PutValue refuses them and PutFloats is for float64s that may.
func (s *State) NonFinite() (name string, value float64, ok bool) {
	names, _ := s.Names()
	for _, name := range names {
		for _, x := range s.tensors[name].data {
			if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
				return name, f, true
			}
		}
	}
	return "", 0, false
}

// sortedTensors returns the tensors in name order, sharing their data, for
// safetensors.Write.
func (s *State) sortedTensors() []safetensors.Tensor {
	names, _ := s.Names()
	out := make([]safetensors.Tensor, len(names))
	for i, name := range names {
		t := s.tensors[name]
		out[i] = safetensors.Tensor{Name: name, Shape: t.shape, Data: t.data}
	}
	return out
}
