package enginetest

import (
	"math"
	"slices"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// testMemory checks allocation, the host transfers, Copy and Fill.
func (s *suite) testMemory(t *testing.T) {
	e := s.e
	shapes := [][]int{{1}, {3}, {17, 3}, {7, 17, 257}, {2, 3, 5, 7}}

	t.Run("New", func(t *testing.T) {
		for _, dt := range []engine.DType{engine.Float32, engine.Int32} {
			for _, shape := range shapes {
				t.Run(dt.String()+shapeName(shape), func(t *testing.T) {
					x := e.New(dt, shape...)
					defer e.Free(x)
					if got := x.Shape(); !slices.Equal(got, shape) {
						t.Errorf("Shape() = %v, want %v", got, shape)
					}
					if x.Len() != prod(shape) || x.DType() != dt {
						t.Errorf("Len() = %d, DType() = %v, want %d, %v", x.Len(), x.DType(), prod(shape), dt)
					}
					s.checkZero(t, x)
				})
			}
		}
	})

	// An engine that pools its allocations must still hand out zeroed
	// memory when it reuses a block.
	t.Run("NewAfterFree", func(t *testing.T) {
		for _, dt := range []engine.DType{engine.Float32, engine.Int32} {
			t.Run(dt.String(), func(t *testing.T) {
				for _, n := range []int{257, 257, 17, 1000, 257} {
					x := e.New(dt, n)
					if dt == engine.Float32 {
						e.Fill(x, 3.5)
					} else {
						v := make([]int32, n)
						for i := range v {
							v[i] = int32(i) + 1
						}
						e.UploadInt32(x, v)
					}
					e.Free(x)
					y := e.New(dt, n)
					s.checkZero(t, y)
					e.Free(y)
				}
			})
		}
	})

	t.Run("Free", func(t *testing.T) {
		x := e.New(engine.Float32, 17)
		e.Free(x)
		mustPanic(t, "Free twice", func() { e.Free(x) })
		// Free releases the memory a view views: freeing the allocation
		// through another view afterwards is freeing it twice.
		y := e.New(engine.Float32, 17)
		e.Free(y.View(3, 5))
		mustPanic(t, "Free of an allocation already freed through a view", func() { e.Free(y) })
	})

	for _, l := range layouts {
		t.Run("UploadDownload/float32/"+l.String(), func(t *testing.T) {
			r := s.rand(t)
			for _, shape := range shapes {
				b := s.alloc(t, r, l, engine.Float32, shape...)
				want := uniform(r, b.t.Len(), -10, 10)
				e.Upload(b.t, want)
				got := make([]float32, b.t.Len())
				e.Download(got, b.t)
				sameBits(t, "Download(Upload(x)) "+shapeName(shape), got, want)
				copy(b.host(), want)
				sameBits(t, "allocation after Upload "+shapeName(shape), b.read(t), want)
			}
		})
		t.Run("UploadDownload/int32/"+l.String(), func(t *testing.T) {
			r := s.rand(t)
			for _, shape := range shapes {
				b := s.alloc(t, r, l, engine.Int32, shape...)
				want := make([]int32, b.t.Len())
				for i := range want {
					want[i] = int32(r.Uint32())
				}
				want[0] = math.MinInt32
				want[len(want)-1] = math.MaxInt32
				e.UploadInt32(b.t, want)
				got := make([]int32, b.t.Len())
				e.DownloadInt32(got, b.t)
				sameInt32(t, "DownloadInt32(UploadInt32(x)) "+shapeName(shape), got, want)
				copy(b.hostInt32(), want)
				sameInt32(t, "allocation after UploadInt32 "+shapeName(shape), b.readInt32(t), want)
			}
		})
	}

	// Transfers move bits: special values survive unchanged.
	t.Run("UploadDownload/specials", func(t *testing.T) {
		want := []float32{
			float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
			float32(math.Copysign(0, -1)), 0, math.SmallestNonzeroFloat32, -math.MaxFloat32, 1,
		}
		x := e.New(engine.Float32, len(want))
		defer e.Free(x)
		e.Upload(x, want)
		got := make([]float32, len(want))
		e.Download(got, x)
		sameBits(t, "Download(Upload(specials))", got, want)
	})

	for _, l := range layouts {
		t.Run("Copy/"+l.String(), func(t *testing.T) {
			r := s.rand(t)
			for _, shape := range shapes {
				src := s.alloc(t, r, l, engine.Float32, shape...)
				want := src.rand(r, -1, 1)
				// Shapes may differ: only the lengths must agree.
				dst := s.alloc(t, r, l, engine.Float32, prod(shape))
				dst.rand(r, -1, 1)
				e.Copy(dst.t, src.t)
				same(t, "Copy "+shapeName(shape), dst.read(t), want)
				src.unchanged(t, "src")
			}
		})
	}

	t.Run("Copy/within-one-allocation", func(t *testing.T) {
		r := s.rand(t)
		b := s.alloc(t, r, offset, engine.Float32, 3*257)
		v := b.rand(r, -1, 1)
		// Non-overlapping views of one allocation, as the layers of a
		// network view one flat parameter buffer.
		e.Copy(b.t.View(2*257, 257), b.t.View(0, 257))
		copy(v[2*257:], v[:257])
		same(t, "Copy between views of one allocation", b.read(t), v)
		e.Copy(b.t, b.t) // the same view: a no-op
		same(t, "Copy of a tensor onto itself", b.read(t), v)
	})

	t.Run("Copy/int32", func(t *testing.T) {
		r := s.rand(t)
		src := s.alloc(t, r, offset, engine.Int32, 7, 17)
		want := make([]int32, src.t.Len())
		for i := range want {
			want[i] = int32(r.Uint32())
		}
		src.setInt32(want)
		dst := s.alloc(t, r, offset, engine.Int32, 17, 7)
		e.Copy(dst.t, src.t)
		sameInt32(t, "Copy int32", dst.readInt32(t), want)
	})

	for _, l := range layouts {
		t.Run("Fill/"+l.String(), func(t *testing.T) {
			r := s.rand(t)
			for _, v := range []float32{0, -1.5, 3e38, float32(math.NaN())} {
				for _, shape := range shapes {
					b := s.alloc(t, r, l, engine.Float32, shape...)
					b.rand(r, -1, 1)
					e.Fill(b.t, v)
					same(t, "Fill "+shapeName(shape), b.read(t), constant(b.t.Len(), v))
				}
			}
		})
	}

	t.Run("Sync", func(t *testing.T) {
		x := e.New(engine.Float32, 257)
		defer e.Free(x)
		e.Fill(x, 1)
		e.Sync()
		got := make([]float32, x.Len())
		e.Download(got, x)
		same(t, "Fill then Sync", got, constant(x.Len(), 1))
	})
}

// checkZero reports an error unless every element of x is zero.
func (s *suite) checkZero(t *testing.T, x *engine.Tensor) {
	t.Helper()
	if x.DType() == engine.Int32 {
		got := make([]int32, x.Len())
		s.e.DownloadInt32(got, x)
		sameInt32(t, x.String(), got, make([]int32, len(got)))
		return
	}
	got := make([]float32, x.Len())
	s.e.Download(got, x)
	sameBits(t, x.String(), got, make([]float32, len(got)))
}

func constant(n int, v float32) []float32 {
	c := make([]float32, n)
	for i := range c {
		c[i] = v
	}
	return c
}
