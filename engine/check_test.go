package engine

import (
	"fmt"
	"strings"
	"testing"
)

// fakeMemory is a Memory that holds no data: the checks read only shapes,
// dtypes and offsets.
type fakeMemory struct {
	n  int
	dt DType
}

func (m *fakeMemory) Cap() int     { return m.n }
func (m *fakeMemory) DType() DType { return m.dt }

func f32(shape ...int) *Tensor {
	return NewTensor(&fakeMemory{n: shapeLen(shape), dt: Float32}, 0, shape...)
}
func i32(shape ...int) *Tensor {
	return NewTensor(&fakeMemory{n: shapeLen(shape), dt: Int32}, 0, shape...)
}

// panicMessage returns the message f panics with, or "" if it returns.
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestChecksPanic(t *testing.T) {
	buf := f32(100)
	for _, tc := range []struct {
		name string
		f    func()
		want string // the whole message, so that a test failure shows it
	}{
		{"gemm inner", func() { CheckGemm(false, false, f32(3, 4), f32(5, 6), f32(3, 6)) },
			"engine: Gemm: a [3 4] and b [5 6]: inner dimensions 4 and 5 differ"},
		{"gemm inner transposed", func() { CheckGemm(true, true, f32(4, 3), f32(6, 5), f32(3, 6)) },
			"engine: Gemm: a [4 3]ᵀ and b [6 5]ᵀ: inner dimensions 4 and 5 differ"},
		{"gemm c", func() { CheckGemm(false, false, f32(3, 4), f32(4, 6), f32(3, 5)) },
			"engine: Gemm: c [3 5] for a [3 4] and b [4 6]: want 3×6 matrices"},
		{"gemm ensemble", func() { CheckGemm(false, false, f32(2, 3, 4), f32(4, 6), f32(3, 3, 6)) },
			"engine: Gemm: a [2 3 4] and c [3 3 6]: ensemble sizes 2 and 3 differ (a may have 1)"},
		{"gemm c shared", func() { CheckGemm(false, false, f32(2, 3, 4), f32(2, 4, 6), f32(3, 6)) },
			"engine: Gemm: a [2 3 4] and c [3 6]: ensemble sizes 2 and 1 differ (a may have 1)"},
		{"gemm rank", func() { CheckGemm(false, false, f32(12), f32(4, 6), f32(3, 6)) },
			"engine: Gemm: a [12]: want rank 2 or 3"},
		{"gemm dtype", func() { CheckGemm(false, false, f32(3, 4), i32(4, 6), f32(3, 6)) },
			"engine: Gemm: b [4 6] is int32, want float32"},
		{"gemm overlap", func() { CheckGemm(false, false, buf.View(0, 2, 2), buf.View(4, 2, 2), buf.View(6, 2, 2)) },
			"engine: Gemm: c [2 2] at offset 6 overlaps b [2 2] at offset 4"},
		{"elementwise length", func() { CheckScale(f32(3, 4), f32(5)) },
			"engine: Scale: dst [3 4] and x [5]: lengths 12 and 5 differ"},
		{"elementwise partial overlap", func() { CheckActivate(ReLU, buf.View(2, 4), buf.View(0, 4)) },
			"engine: Activate: dst [4] at offset 2 partially overlaps x [4] at offset 0"},
		{"activation", func() { CheckActivate(Activation(17), f32(4), f32(4)) },
			"engine: Activate: unknown activation 17"},
		{"activate grad", func() { CheckActivateGrad(Tanh, f32(4), f32(4), f32(4), f32(5)) },
			"engine: ActivateGrad: dx [4] and y [5]: lengths 4 and 5 differ"},
		{"unary dtype", func() { CheckUnary(Exp, f32(4), i32(4)) },
			"engine: Unary Exp: x [4] is int32, want float32"},
		{"binary broadcast", func() { CheckBinary(Add, f32(2, 3, 4), f32(2, 3, 4), f32(3)) },
			"engine: Binary Add: a [2 3 4] (folded [2 3 4]) and b [3]: b has 3 elements, want 24, 8 (one row per group) or 4 (one row)"},
		{"binary dst", func() { CheckBinary(Mul, f32(5), f32(2, 3), f32(3)) },
			"engine: Binary Mul: dst [5] and a [2 3]: lengths 5 and 6 differ"},
		{"binary overlap b", func() { CheckBinary(Add, buf.View(0, 2, 3), f32(2, 3), buf.View(3, 3)) },
			"engine: Binary Add: dst [2 3] at offset 0 partially overlaps b [3] at offset 3"},
		{"axpby overlap", func() { CheckAxpby(buf.View(0, 4), buf.View(0, 4)) },
			"engine: Axpby: dst [4] at offset 0 overlaps x [4] at offset 0"},
		{"polyak length", func() { CheckPolyak(f32(4), f32(3)) },
			"engine: Polyak: dst [4] and src [3]: lengths 4 and 3 differ"},
		{"reduce rows", func() { CheckReduceRows(Sum, f32(4), f32(2, 3, 4)) },
			"engine: ReduceRows Sum: dst [4] for x [2 3 4] (folded [2 3 4]): want 6 elements"},
		{"reduce cols", func() { CheckReduceCols(Mean, f32(2, 3), f32(2, 3, 4)) },
			"engine: ReduceCols Mean: dst [2 3] for x [2 3 4] (folded [2 3 4]): want 8 elements"},
		{"gather", func() { CheckGather(f32(4, 3), f32(10, 3), i32(5)) },
			"engine: Gather: dst [4 3] for 5 indices (idx [5]) into src [10 3]: want 5 rows of 3 = 15 elements"},
		{"gather idx dtype", func() { CheckGather(f32(5, 3), f32(10, 3), f32(5)) },
			"engine: Gather: idx [5] is float32, want int32"},
		{"scatter", func() { CheckScatter(f32(10, 3), f32(4, 3), i32(5)) },
			"engine: Scatter: src [4 3] for 5 indices (idx [5]) into dst [10 3]: want 5 rows of 3 = 15 elements"},
		{"copycols rows", func() { CheckCopyCols(f32(4, 5), 0, f32(3, 5), 0, 2) },
			"engine: CopyCols: dst [4 5] and src [3 5]: row counts 4 and 3 differ"},
		{"copycols range", func() { CheckCopyCols(f32(4, 5), 4, f32(4, 2), 0, 2) },
			"engine: CopyCols: columns [4, 6) out of range for dst [4 5]"},
		{"copycols src range", func() { CheckCopyCols(f32(4, 5), 0, f32(4, 2), 1, 2) },
			"engine: CopyCols: columns [1, 3) out of range for src [4 2]"},
		{"adam overlap", func() { CheckAdam(buf.View(0, 4), f32(4), buf.View(3, 4), f32(4), 1) },
			"engine: Adam: p [4] at offset 0 overlaps m [4] at offset 3"},
		{"adam step", func() { CheckAdam(f32(4), f32(4), f32(4), f32(4), 0) },
			"engine: Adam: step 0, want ≥ 1 (it is 1-based)"},
		{"rand dtype", func() { CheckRand("RandNormal", i32(4), NewRNG(1), Float32) },
			"engine: RandNormal: dst [4] is int32, want float32"},
		{"rand nil", func() { CheckRand("RandUniform", f32(4), nil, Float32) },
			"engine: RandUniform: nil RNG"},
		{"randint n", func() { CheckRandInt(i32(4), NewRNG(1), 0) },
			"engine: RandInt: n = 0 out of range (0, 2³¹]"},
		{"copy dtype", func() { CheckCopy(f32(4), i32(4)) },
			"engine: Copy: dst [4] is float32, src [4] is int32"},
		{"upload", func() { CheckUpload("Upload", f32(2, 3), 5, Float32) },
			"engine: Upload: dst [2 3] has 6 elements, host slice 5"},
		{"download dtype", func() { CheckDownload("DownloadInt32", 4, f32(4), Int32) },
			"engine: DownloadInt32: src [4] is float32, want int32"},
		{"linear in", func() { CheckLinear(ReLU, f32(3, 8, 5), f32(8, 4), f32(3, 6, 5), f32(3, 1, 5)) },
			"engine: Linear: x [8 4] and w [3 6 5]: input sizes 4 and 6 differ"},
		{"linear bias", func() { CheckLinear(ReLU, f32(3, 8, 5), f32(8, 6), f32(3, 6, 5), f32(1, 5)) },
			"engine: Linear: bias b [1 5] for y [3 8 5]: want 15 elements ([3 1 5])"},
	} {
		got := panicMessage(tc.f)
		if got != tc.want {
			t.Errorf("%s: panic %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestChecksAccept(t *testing.T) {
	buf := f32(100)
	if e, m, n, k, as, bs := CheckGemm(true, false, f32(4, 3), f32(7, 4, 6), f32(7, 3, 6)); e != 7 || m != 3 || n != 6 || k != 4 || !as || bs {
		t.Errorf("CheckGemm: got e=%d m=%d n=%d k=%d aShared=%t bShared=%t, want 7 3 6 4 true false", e, m, n, k, as, bs)
	}
	if e, m, n, k, as, bs := CheckGemm(false, true, f32(2, 3, 4), f32(2, 6, 4), f32(2, 3, 6)); e != 2 || m != 3 || n != 6 || k != 4 || as || bs {
		t.Errorf("CheckGemm: got e=%d m=%d n=%d k=%d aShared=%t bShared=%t, want 2 3 6 4 false false", e, m, n, k, as, bs)
	}
	for _, tc := range []struct {
		b    *Tensor
		want Broadcast
	}{
		{f32(2, 3, 4), BroadcastNone},
		{f32(2, 1, 4), BroadcastGroupRow},
		{f32(4), BroadcastRow},
	} {
		if _, _, _, mode := CheckBinary(Add, f32(24), f32(2, 3, 4), tc.b); mode != tc.want {
			t.Errorf("CheckBinary with b %v: mode %d, want %d", tc.b.shape, mode, tc.want)
		}
	}
	// In place is allowed for elementwise ops, and inputs may overlap each
	// other.
	x := buf.View(0, 2, 3)
	CheckBinary(Add, buf.View(20, 6), x, buf.View(1, 6))
	CheckBinary(Sub, x, f32(6), x)
	CheckActivateGrad(SiLU, x, x, buf.View(10, 6), buf.View(10, 6))
	CheckCopy(x, x)
	if b, r, l := CheckGather(f32(5, 2, 3), f32(10, 2, 3), i32(5)); b != 5 || r != 10 || l != 6 {
		t.Errorf("CheckGather: got B=%d R=%d L=%d, want 5 10 6", b, r, l)
	}
	if r, nd, ns := CheckCopyCols(f32(2, 4, 5), 3, f32(8, 2), 0, 2); r != 8 || nd != 5 || ns != 2 {
		t.Errorf("CheckCopyCols: got R=%d Nd=%d Ns=%d, want 8 5 2", r, nd, ns)
	}
	if e, batch, in, out, shared := CheckLinear(Tanh, f32(3, 8, 5), f32(8, 6), f32(3, 6, 5), f32(3, 1, 5)); e != 3 || batch != 8 || in != 6 || out != 5 || !shared {
		t.Errorf("CheckLinear: got %d %d %d %d %t, want 3 8 6 5 true", e, batch, in, out, shared)
	}
	CheckRandInt(i32(4), NewRNG(1), 1<<31)
}

func TestPanicMessagesNameOp(t *testing.T) {
	// Every message starts with "engine: " and the op, so that a panic deep
	// in a training loop says which call was wrong.
	msg := panicMessage(func() { CheckReduceRows(MaxOf, f32(1), f32(2, 2)) })
	if !strings.HasPrefix(msg, "engine: ReduceRows MaxOf: ") {
		t.Errorf("message %q does not name the op", msg)
	}
}
