package enginetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// rowCases are the row layouts of Gather and Scatter: R rows of the table,
// B indexed rows, and the shape of one row (L = its product elements).
var rowCases = []struct {
	r, b int
	row  []int
}{
	{17, 257, []int{3}},    // more indices than rows: Gather repeats rows
	{257, 17, []int{1}},    // single-element rows
	{3, 3, []int{5, 7}},    // rows of rank 2, L = 35
	{1, 1, []int{257}},     // one long row
	{257, 257, []int{17}},  // Scatter: a permutation of all rows
	{257, 255, []int{257}}, // large: 65535 elements moved
}

func (s *suite) testGather(t *testing.T) {
	for i, c := range rowCases {
		l := layouts[i%2]
		t.Run(fmt.Sprintf("R=%d,B=%d,row=%s/%v", c.r, c.b, shapeName(c.row), l), func(t *testing.T) {
			r := s.rand(t)
			rowLen := prod(c.row)
			src := s.alloc(t, r, l, engine.Float32, append([]int{c.r}, c.row...)...)
			sv := src.rand(r, -1, 1)
			idx := s.alloc(t, r, l, engine.Int32, c.b)
			iv := make([]int32, c.b)
			for i := range iv {
				iv[i] = int32(r.IntN(c.r))
			}
			iv[0], iv[c.b-1] = 0, int32(c.r-1) // the first and last rows
			idx.setInt32(iv)
			dst := s.alloc(t, r, l, engine.Float32, append([]int{c.b}, c.row...)...)
			dst.rand(r, -1, 1)
			want := make([]float32, 0, c.b*rowLen)
			for _, k := range iv {
				want = append(want, sv[int(k)*rowLen:int(k+1)*rowLen]...)
			}
			s.e.Gather(dst.t, src.t, idx.t)
			same(t, "dst", dst.read(t), want)
			src.unchanged(t, "src")
			sameInt32(t, "idx (an input, must not change)", idx.readInt32(t), iv)
		})
	}
}

func (s *suite) testScatter(t *testing.T) {
	for i, c := range rowCases {
		if c.b > c.r {
			continue // Scatter's indices are distinct
		}
		l := layouts[i%2]
		t.Run(fmt.Sprintf("R=%d,B=%d,row=%s/%v", c.r, c.b, shapeName(c.row), l), func(t *testing.T) {
			r := s.rand(t)
			rowLen := prod(c.row)
			dst := s.alloc(t, r, l, engine.Float32, append([]int{c.r}, c.row...)...)
			want := dst.rand(r, -1, 1) // rows not indexed keep their values
			src := s.alloc(t, r, l, engine.Float32, append([]int{c.b}, c.row...)...)
			sv := src.rand(r, -1, 1)
			idx := s.alloc(t, r, l, engine.Int32, c.b)
			iv := distinctIndices(r, c.r, c.b)
			idx.setInt32(iv)
			for i, k := range iv {
				copy(want[int(k)*rowLen:int(k+1)*rowLen], sv[i*rowLen:(i+1)*rowLen])
			}
			s.e.Scatter(dst.t, src.t, idx.t)
			same(t, "dst", dst.read(t), want)
			src.unchanged(t, "src")
			sameInt32(t, "idx (an input, must not change)", idx.readInt32(t), iv)
		})
	}
}

// distinctIndices returns b distinct indices in [0, n) in random order.
func distinctIndices(r *rand.Rand, n, b int) []int32 {
	perm := r.Perm(n)[:b]
	iv := make([]int32, b)
	for i, k := range perm {
		iv[i] = int32(k)
	}
	return iv
}

func (s *suite) testCopyCols(t *testing.T) {
	// Concatenation of feature blocks: dst [7, 17, 3+257+1] from three
	// sources, as when a model's input joins state and action.
	t.Run("concat", func(t *testing.T) {
		r := s.rand(t)
		widths := []int{3, 257, 1}
		dst := s.alloc(t, r, offset, engine.Float32, 7, 17, 261)
		dst.rand(r, -1, 1)
		rows := 7 * 17
		want := make([]float32, rows*261)
		col := 0
		var srcs []*buf
		for _, w := range widths {
			src := s.alloc(t, r, offset, engine.Float32, 7, 17, w)
			sv := src.rand(r, -1, 1)
			for k := range rows {
				copy(want[k*261+col:k*261+col+w], sv[k*w:(k+1)*w])
			}
			s.e.CopyCols(dst.t, col, src.t, 0, w)
			srcs = append(srcs, src)
			col += w
		}
		same(t, "dst", dst.read(t), want)
		for _, src := range srcs {
			src.unchanged(t, "src")
		}
	})

	// Splitting, the backward of concatenation: rank-2 dsts from one src.
	t.Run("split", func(t *testing.T) {
		r := s.rand(t)
		src := s.alloc(t, r, fresh, engine.Float32, 257, 21)
		sv := src.rand(r, -1, 1)
		col := 0
		for _, w := range []int{1, 17, 3} {
			dst := s.alloc(t, r, offset, engine.Float32, 257, w)
			dst.rand(r, -1, 1)
			want := make([]float32, 257*w)
			for k := range 257 {
				copy(want[k*w:(k+1)*w], sv[k*21+col:k*21+col+w])
			}
			s.e.CopyCols(dst.t, 0, src.t, col, w)
			same(t, fmt.Sprintf("dst (columns %d to %d)", col, col+w), dst.read(t), want)
			col += w
		}
		src.unchanged(t, "src")
	})

	// A block in the middle of both: the other columns of dst keep their
	// values.
	for i, c := range []struct {
		dst, src             []int
		dstCol, srcCol, cols int
	}{
		{[]int{17, 20}, []int{17, 11}, 5, 3, 7},
		{[]int{3, 1, 257}, []int{3, 17}, 100, 16, 1},
		{[]int{1, 3}, []int{1, 3}, 1, 0, 2},
		{[]int{257, 300}, []int{257, 257}, 43, 0, 257}, // large
	} {
		l := layouts[i%2]
		t.Run(fmt.Sprintf("dst=%s,dstCol=%d/src=%s,srcCol=%d/cols=%d/%v", shapeName(c.dst), c.dstCol, shapeName(c.src), c.srcCol, c.cols, l), func(t *testing.T) {
			r := s.rand(t)
			dst := s.alloc(t, r, l, engine.Float32, c.dst...)
			want := dst.rand(r, -1, 1)
			src := s.alloc(t, r, l, engine.Float32, c.src...)
			sv := src.rand(r, -1, 1)
			nd, ns := c.dst[len(c.dst)-1], c.src[len(c.src)-1]
			for k := range len(want) / nd {
				copy(want[k*nd+c.dstCol:k*nd+c.dstCol+c.cols], sv[k*ns+c.srcCol:k*ns+c.srcCol+c.cols])
			}
			s.e.CopyCols(dst.t, c.dstCol, src.t, c.srcCol, c.cols)
			same(t, "dst", dst.read(t), want)
			src.unchanged(t, "src")
		})
	}
}
