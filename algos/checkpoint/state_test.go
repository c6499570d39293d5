package checkpoint

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestStateTensor(t *testing.T) {
	s := NewState()
	data := []float32{1, 2, 3, 4, 5, 6}
	s.PutTensor("w", []int{2, 3}, data)
	data[0] = 99 // PutTensor copies
	s.PutTensor("scalar", nil, []float32{7})
	s.PutTensor("empty", []int{0, 4}, nil)

	got, err := s.Tensor("w", []int{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("w = %v, want 1…6 (PutTensor must copy)", got)
	}
	if got, err := s.Tensor("scalar", []int{}); err != nil || !slices.Equal(got, []float32{7}) {
		t.Errorf("scalar = %v, %v; want [7]", got, err)
	}
	if got, err := s.Tensor("empty", []int{0, 4}); err != nil || len(got) != 0 {
		t.Errorf("empty = %v, %v; want no elements", got, err)
	}

	_, err = s.Tensor("w", []int{3, 2})
	wantErr(t, err, `checkpoint state: tensor "w" has shape [2 3], want [3 2]`)
	_, err = s.Tensor("b", []int{3})
	wantErr(t, err, `checkpoint state has no tensor "b"`)

	s.PutTensor("w", []int{1}, []float32{8}) // replaces
	if got, err := s.Tensor("w", []int{1}); err != nil || got[0] != 8 {
		t.Errorf("replaced w = %v, %v; want [8]", got, err)
	}
	tensors, values := s.Names()
	if !slices.Equal(tensors, []string{"empty", "scalar", "w"}) || len(values) != 0 {
		t.Errorf("Names = %q, %q", tensors, values)
	}
}

func TestPutTensorPanics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
		data  []float32
		want  string
	}{
		{"", []int{1}, []float32{0}, "invalid tensor name"},
		{"__metadata__", []int{1}, []float32{0}, "invalid tensor name"},
		{"bad\xff", []int{1}, []float32{0}, "invalid tensor name"},
		{"w", []int{-1}, nil, "invalid shape [-1]"},
		{"w", []int{1 << 62, 1 << 62}, nil, "invalid shape"},
		{"w", []int{2, 2}, []float32{1, 2, 3}, "shape [2 2] holds 4 elements but data has 3"},
	} {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.want) {
					t.Errorf("PutTensor(%q, %v, %d values) panicked with %v, want a message containing %q", tc.name, tc.shape, len(tc.data), r, tc.want)
				}
			}()
			NewState().PutTensor(tc.name, tc.shape, tc.data)
		}()
	}
}

func TestValue(t *testing.T) {
	type counters struct {
		Step    int   `json:"step"`
		Updates int64 `json:"updates"`
	}
	s := NewState()
	if err := s.PutValue("counters", counters{Step: 5000, Updates: 1 << 60}); err != nil {
		t.Fatal(err)
	}
	var c counters
	if err := s.Value("counters", &c); err != nil || c != (counters{5000, 1 << 60}) {
		t.Errorf("Value = %+v, %v; want {5000 2^60}", c, err)
	}

	err := s.PutValue("mean", []float64{1, math.NaN()})
	wantErr(t, err, `checkpoint value "mean": json: unsupported value: NaN (store float64s that may not be finite with PutFloats)`)
	if _, values := s.Names(); slices.Contains(values, "mean") {
		t.Error("a failed PutValue stored the value")
	}

	// Strictness: a field the type lacks, data after the value, a type
	// mismatch, a missing value.
	s.values["extra"] = json.RawMessage(`{"step": 1, "epsilon": 0.5}`)
	wantErr(t, s.Value("extra", &c), `checkpoint state: value "extra": json: unknown field "epsilon"`)
	s.values["trailing"] = json.RawMessage(`{"step": 1} {}`)
	wantErr(t, s.Value("trailing", &c), `checkpoint state: value "trailing" has data after its end`)
	s.values["string"] = json.RawMessage(`"five"`)
	var n int
	wantErr(t, s.Value("string", &n), `checkpoint state: value "string": json: cannot unmarshal string into Go value of type int`)
	wantErr(t, s.Value("missing", &n), `checkpoint state has no value "missing"`)
}

func TestFloats(t *testing.T) {
	in := []float64{0, math.Copysign(0, -1), 1.5, -1e-300, 5e-324, math.MaxFloat64, 1e21, 1.0 / 3,
		math.NaN(), math.Inf(1), math.Inf(-1)}
	s := NewState()
	s.PutFloats("stats", in)
	s.PutFloats("none", nil)
	// Through the file format, where values are re-indented.
	dir := t.TempDir()
	if _, err := Save(dir, Meta{Step: 1}, s, 1); err != nil {
		t.Fatal(err)
	}
	_, loaded, err := Load(dir, 1, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*State{s, loaded} {
		got, err := st.Floats("stats")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(in) {
			t.Fatalf("Floats gave %d values, want %d", len(got), len(in))
		}
		for i := range in {
			// NaN payloads are not kept; every other value is bit for bit.
			if math.Float64bits(got[i]) != math.Float64bits(in[i]) && !(math.IsNaN(got[i]) && math.IsNaN(in[i])) {
				t.Errorf("element %d: got %v (%#x), want %v (%#x)", i, got[i], math.Float64bits(got[i]), in[i], math.Float64bits(in[i]))
			}
		}
		if got, err := st.Floats("none"); err != nil || got == nil || len(got) != 0 {
			t.Errorf("Floats of an empty slice = %v, %v; want an empty slice", got, err)
		}
	}

	for raw, want := range map[string]string{
		`[1, "nan"]`:   `element 1 is "nan", not a number, "NaN", "+Inf" or "-Inf"`,
		`[1e999]`:      `element 0, 1e999, is out of the range of float64`,
		`[true]`:       `element 0 is true`,
		`null`:         `value "bad" is not an array of floats`,
		`{"a": 1}`:     `cannot unmarshal object`,
		`[[1, 2, 3]]`:  `element 0 is [1, 2, 3]`,
		`["Infinity"]`: `element 0 is "Infinity"`,
	} {
		s.values["bad"] = json.RawMessage(raw)
		_, err := s.Floats("bad")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Floats of %s gave error %v, want one containing %q", raw, err, want)
		}
	}
}

func TestNonFinite(t *testing.T) {
	s := NewState()
	s.PutTensor("a", []int{2}, []float32{1, 2})
	if name, v, ok := s.NonFinite(); ok {
		t.Errorf("NonFinite = %q, %v, true on finite tensors", name, v)
	}
	s.PutTensor("c", []int{1}, []float32{float32(math.NaN())})
	s.PutTensor("b", []int{3}, []float32{0, float32(math.Inf(-1)), float32(math.NaN())})
	if name, v, ok := s.NonFinite(); !ok || name != "b" || !math.IsInf(v, -1) {
		t.Errorf("NonFinite = %q, %v, %v; want b, -Inf, true (the first in name order)", name, v, ok)
	}
}

// wantErr fails t unless err's message is want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %q", want)
	} else if err.Error() != want {
		t.Errorf("error\n\t%s\nwant\n\t%s", err, want)
	}
}
