package safetensors

import (
	"bytes"
	"io"
	"testing"
)

// benchSizes are the benchmark size classes, in float32 elements: a policy
// head, an MLP layer, a small model's worth of weights.
var benchSizes = []struct {
	name string
	n    int
}{
	{"small-1KiB", 256},
	{"medium-1MiB", 256 << 10},
	{"large-64MiB", 16 << 20},
}

func benchTensors(n int) []Tensor {
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i)
	}
	return []Tensor{{Name: "w", Shape: []int{n}, Data: data}}
}

func BenchmarkWrite(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			tensors := benchTensors(size.n)
			b.SetBytes(int64(4 * size.n))
			for b.Loop() {
				if err := Write(io.Discard, tensors, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, size := range benchSizes {
		var buf bytes.Buffer
		if err := Write(&buf, benchTensors(size.n), nil); err != nil {
			b.Fatal(err)
		}
		for _, path := range []string{"sized", "stream"} {
			b.Run(size.name+"/"+path, func(b *testing.B) {
				b.SetBytes(int64(4 * size.n))
				for b.Loop() {
					var r io.Reader = bytes.NewReader(buf.Bytes())
					if path == "stream" {
						r = streamReader{r}
					}
					if _, _, err := Read(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
