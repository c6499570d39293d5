package engine

import "fmt"

// Argument checks shared by every engine. Each op of an Engine
// implementation begins by calling the Check function of the same name
// (Gemm calls CheckGemm, and so on), so that the CPU and CUDA engines accept
// exactly the same arguments and reject the rest with the same message. A
// check panics with a message naming the op and the shapes at fault, and
// returns the dimensions the op's kernel needs. Checks read only shapes,
// dtypes and offsets, never data: an index out of range in Gather is the
// engine's to detect.
//
// The building blocks CheckDType, CheckSameLen, CheckInPlace and
// CheckDisjoint serve ops an engine adds beyond the interface.

// CheckDType panics unless t has dtype want. name is how the op's doc
// comment calls t.
func CheckDType(op, name string, t *Tensor, want DType) {
	if t.DType() != want {
		panic(fmt.Sprintf("engine: %s: %s %v is %s, want %s", op, name, t.shape, t.DType(), want))
	}
}

// CheckSameLen panics unless a and b have the same number of elements, and
// returns it.
func CheckSameLen(op, aName string, a *Tensor, bName string, b *Tensor) int {
	if a.n != b.n {
		panic(fmt.Sprintf("engine: %s: %s %v and %s %v: lengths %d and %d differ",
			op, aName, a.shape, bName, b.shape, a.n, b.n))
	}
	return a.n
}

// CheckInPlace panics if dst and x partially overlap: an elementwise op may
// write dst while reading x only if they are the same view or disjoint.
func CheckInPlace(op, dstName string, dst *Tensor, xName string, x *Tensor) {
	if dst.Overlaps(x) && !dst.Same(x) {
		panic(fmt.Sprintf("engine: %s: %s partially overlaps %s", op, describe(dstName, dst), describe(xName, x)))
	}
}

// CheckDisjoint panics if a and b share any element.
func CheckDisjoint(op, aName string, a *Tensor, bName string, b *Tensor) {
	if a.Overlaps(b) {
		panic(fmt.Sprintf("engine: %s: %s overlaps %s", op, describe(aName, a), describe(bName, b)))
	}
}

// describe names a tensor with its shape, and with its offset where that
// tells two views of one memory apart.
func describe(name string, t *Tensor) string {
	return fmt.Sprintf("%s %v at offset %d", name, t.shape, t.off)
}

func checkFloat32(op string, names []string, ts ...*Tensor) {
	for i, t := range ts {
		CheckDType(op, names[i], t, Float32)
	}
}

// CheckUpload checks Upload (dtype Float32) and UploadInt32 (dtype Int32):
// dst has the dtype and n, the host slice's length, elements.
func CheckUpload(op string, dst *Tensor, n int, dtype DType) {
	CheckDType(op, "dst", dst, dtype)
	if dst.n != n {
		panic(fmt.Sprintf("engine: %s: dst %v has %d elements, host slice %d", op, dst.shape, dst.n, n))
	}
}

// CheckDownload checks Download (dtype Float32) and DownloadInt32 (dtype
// Int32): src has the dtype and n, the host slice's length, elements.
func CheckDownload(op string, n int, src *Tensor, dtype DType) {
	CheckDType(op, "src", src, dtype)
	if src.n != n {
		panic(fmt.Sprintf("engine: %s: src %v has %d elements, host slice %d", op, src.shape, src.n, n))
	}
}

// CheckCopy checks Copy: dst and src have the same dtype and length and are
// the same view or disjoint. It returns the length.
func CheckCopy(dst, src *Tensor) int {
	if dst.DType() != src.DType() {
		panic(fmt.Sprintf("engine: Copy: dst %v is %s, src %v is %s", dst.shape, dst.DType(), src.shape, src.DType()))
	}
	n := CheckSameLen("Copy", "dst", dst, "src", src)
	CheckInPlace("Copy", "dst", dst, "src", src)
	return n
}

// CheckFill checks Fill: dst is Float32. It returns dst's length.
func CheckFill(dst *Tensor) int {
	CheckDType("Fill", "dst", dst, Float32)
	return dst.n
}

// batch3 is Tensor.Batch3 with a message naming the op.
func batch3(op, name string, t *Tensor) (e, r, c int) {
	if len(t.shape) != 2 && len(t.shape) != 3 {
		panic(fmt.Sprintf("engine: %s: %s %v: want rank 2 or 3", op, name, t.shape))
	}
	return t.Batch3()
}

// CheckGemm checks Gemm's operands: Float32 tensors of rank 2 or 3 whose
// shapes make op(a) [E, M, K], op(b) [E, K, N] and c [E, M, N], with a or b
// allowed E = 1, and c disjoint from a and b. It returns the dimensions and
// whether a and b are shared, that is have E = 1, so that their stride
// between ensemble members is 0.
func CheckGemm(transA, transB bool, a, b, c *Tensor) (e, m, n, k int, aShared, bShared bool) {
	const op = "Gemm"
	checkFloat32(op, []string{"a", "b", "c"}, a, b, c)
	ea, ra, ca := batch3(op, "a", a)
	eb, rb, cb := batch3(op, "b", b)
	ec, rc, cc := batch3(op, "c", c)
	m, k = ra, ca
	if transA {
		m, k = ca, ra
	}
	kb, n := rb, cb
	if transB {
		kb, n = cb, rb
	}
	if k != kb {
		panic(fmt.Sprintf("engine: Gemm: a %v%s and b %v%s: inner dimensions %d and %d differ",
			a.shape, transMark(transA), b.shape, transMark(transB), k, kb))
	}
	if rc != m || cc != n {
		panic(fmt.Sprintf("engine: Gemm: c %v for a %v%s and b %v%s: want %d×%d matrices",
			c.shape, a.shape, transMark(transA), b.shape, transMark(transB), m, n))
	}
	if ea != 1 && ea != ec {
		panic(fmt.Sprintf("engine: Gemm: a %v and c %v: ensemble sizes %d and %d differ (a may have 1)", a.shape, c.shape, ea, ec))
	}
	if eb != 1 && eb != ec {
		panic(fmt.Sprintf("engine: Gemm: b %v and c %v: ensemble sizes %d and %d differ (b may have 1)", b.shape, c.shape, eb, ec))
	}
	CheckDisjoint(op, "c", c, "a", a)
	CheckDisjoint(op, "c", c, "b", b)
	return ec, m, n, k, ea == 1, eb == 1
}

func transMark(t bool) string {
	if t {
		return "ᵀ"
	}
	return ""
}

// CheckLinear checks the operands of Linear and of an engine's fused
// Linearer: x [E, B, In] (or E = 1), w [E, In, Out], b with E·Out elements
// ([E, 1, Out]) and y [E, B, Out], all Float32, y disjoint from the rest.
// Rank-2 tensors read as E = 1. It returns the dimensions and whether x is
// shared by every member.
func CheckLinear(f Activation, y, x, w, b *Tensor) (e, batch, in, out int, xShared bool) {
	const op = "Linear"
	checkActivation(op, f)
	checkFloat32(op, []string{"y", "x", "w", "b"}, y, x, w, b)
	ex, bx, in := batch3(op, "x", x)
	ew, inw, out := batch3(op, "w", w)
	ey, by, outy := batch3(op, "y", y)
	if in != inw {
		panic(fmt.Sprintf("engine: Linear: x %v and w %v: input sizes %d and %d differ", x.shape, w.shape, in, inw))
	}
	if by != bx || outy != out {
		panic(fmt.Sprintf("engine: Linear: y %v for x %v and w %v: want %d×%d matrices", y.shape, x.shape, w.shape, bx, out))
	}
	if ew != ey {
		panic(fmt.Sprintf("engine: Linear: w %v and y %v: ensemble sizes %d and %d differ", w.shape, y.shape, ew, ey))
	}
	if ex != 1 && ex != ey {
		panic(fmt.Sprintf("engine: Linear: x %v and y %v: ensemble sizes %d and %d differ (x may have 1)", x.shape, y.shape, ex, ey))
	}
	if b.n != ey*out {
		panic(fmt.Sprintf("engine: Linear: bias b %v for y %v: want %d elements ([%d 1 %d])", b.shape, y.shape, ey*out, ey, out))
	}
	CheckDisjoint(op, "y", y, "x", x)
	CheckDisjoint(op, "y", y, "w", w)
	CheckDisjoint(op, "y", y, "b", b)
	return ey, bx, in, out, ex == 1
}

func checkActivation(op string, f Activation) {
	if int(f) >= len(activationNames) {
		panic(fmt.Sprintf("engine: %s: unknown activation %d", op, f))
	}
}

// checkUnaryOperands checks an elementwise op with one input: dst and x are
// Float32 of the same length, dst is x or disjoint from it.
func checkUnaryOperands(op string, dst, x *Tensor) int {
	checkFloat32(op, []string{"dst", "x"}, dst, x)
	n := CheckSameLen(op, "dst", dst, "x", x)
	CheckInPlace(op, "dst", dst, "x", x)
	return n
}

// CheckActivate checks Activate: f is a known activation, dst and x are
// Float32 of the same length, dst is x or disjoint from it. It returns the
// length.
func CheckActivate(f Activation, dst, x *Tensor) int {
	checkActivation("Activate", f)
	return checkUnaryOperands("Activate", dst, x)
}

// CheckActivateGrad checks ActivateGrad: f is a known activation, dx, dy, x
// and y are Float32 of the same length, and dx is each of the others or
// disjoint from it. It returns the length.
func CheckActivateGrad(f Activation, dx, dy, x, y *Tensor) int {
	const op = "ActivateGrad"
	checkActivation(op, f)
	names := []string{"dx", "dy", "x", "y"}
	ts := []*Tensor{dx, dy, x, y}
	checkFloat32(op, names, ts...)
	for i := 1; i < len(ts); i++ {
		CheckSameLen(op, "dx", dx, names[i], ts[i])
		CheckInPlace(op, "dx", dx, names[i], ts[i])
	}
	return dx.n
}

var unaryNames = [...]string{"Exp", "Log", "Sqrt", "Square", "Abs"}

// CheckUnary checks Unary: op is known, dst and x are Float32 of the same
// length, dst is x or disjoint from it. It returns the length.
func CheckUnary(op UnaryOp, dst, x *Tensor) int {
	if int(op) >= len(unaryNames) {
		panic(fmt.Sprintf("engine: Unary: unknown op %d", op))
	}
	return checkUnaryOperands("Unary "+unaryNames[op], dst, x)
}

// Broadcast says how Binary's b lines up with a, folded to [G, M, N].
type Broadcast uint8

const (
	// BroadcastNone: b has a's length and pairs with a elementwise.
	BroadcastNone Broadcast = iota
	// BroadcastGroupRow: b has G·N elements, and row g of b pairs with
	// every row of group g of a (the bias of an ensemble layer).
	BroadcastGroupRow
	// BroadcastRow: b has N elements, one row paired with every row of a.
	BroadcastRow
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div", "Min", "Max", "GE"}

// CheckBinary checks Binary: op is known; dst, a and b are Float32; dst has
// a's length; b has a's length, G·N or N elements for a folded to [G, M, N]
// (tried in that order, so that a length that fits several gets the
// elementwise reading, which agrees with the others where they coincide);
// dst is a or disjoint from it, and b or disjoint from it. It returns a's
// folded shape and how b broadcasts.
func CheckBinary(op BinaryOp, dst, a, b *Tensor) (g, m, n int, mode Broadcast) {
	if int(op) >= len(binaryNames) {
		panic(fmt.Sprintf("engine: Binary: unknown op %d", op))
	}
	name := "Binary " + binaryNames[op]
	checkFloat32(name, []string{"dst", "a", "b"}, dst, a, b)
	CheckSameLen(name, "dst", dst, "a", a)
	g, m, n = a.Fold3()
	switch b.n {
	case a.n:
		mode = BroadcastNone
	case g * n:
		mode = BroadcastGroupRow
	case n:
		mode = BroadcastRow
	default:
		panic(fmt.Sprintf("engine: %s: a %v (folded [%d %d %d]) and b %v: b has %d elements, want %d, %d (one row per group) or %d (one row)",
			name, a.shape, g, m, n, b.shape, b.n, a.n, g*n, n))
	}
	CheckInPlace(name, "dst", dst, "a", a)
	CheckInPlace(name, "dst", dst, "b", b)
	return g, m, n, mode
}

// CheckScale checks Scale: dst and x are Float32 of the same length, dst is
// x or disjoint from it. It returns the length.
func CheckScale(dst, x *Tensor) int { return checkUnaryOperands("Scale", dst, x) }

// CheckClamp checks Clamp: dst and x are Float32 of the same length, dst is
// x or disjoint from it. It returns the length.
func CheckClamp(dst, x *Tensor) int { return checkUnaryOperands("Clamp", dst, x) }

// checkUpdate checks an op that reads dst and x and writes dst (Axpby,
// Polyak): both Float32 of the same length, disjoint.
func checkUpdate(op string, dst *Tensor, xName string, x *Tensor) int {
	checkFloat32(op, []string{"dst", xName}, dst, x)
	n := CheckSameLen(op, "dst", dst, xName, x)
	CheckDisjoint(op, "dst", dst, xName, x)
	return n
}

// CheckAxpby checks Axpby: dst and x are Float32 of the same length and do
// not overlap. It returns the length.
func CheckAxpby(dst, x *Tensor) int { return checkUpdate("Axpby", dst, "x", x) }

// CheckPolyak checks Polyak: dst and src are Float32 of the same length and
// do not overlap. It returns the length.
func CheckPolyak(dst, src *Tensor) int { return checkUpdate("Polyak", dst, "src", src) }

var reduceNames = [...]string{"Sum", "Mean", "MaxOf"}

func checkReduce(op string, r ReduceOp, dst, x *Tensor) string {
	if int(r) >= len(reduceNames) {
		panic(fmt.Sprintf("engine: %s: unknown op %d", op, r))
	}
	name := op + " " + reduceNames[r]
	checkFloat32(name, []string{"dst", "x"}, dst, x)
	CheckDisjoint(name, "dst", dst, "x", x)
	return name
}

// CheckReduceRows checks ReduceRows: op is known; dst and x are Float32 and
// disjoint; dst has G·M elements for x folded to [G, M, N]. It returns the
// folded shape.
func CheckReduceRows(op ReduceOp, dst, x *Tensor) (g, m, n int) {
	name := checkReduce("ReduceRows", op, dst, x)
	g, m, n = x.Fold3()
	if dst.n != g*m {
		panic(fmt.Sprintf("engine: %s: dst %v for x %v (folded [%d %d %d]): want %d elements", name, dst.shape, x.shape, g, m, n, g*m))
	}
	return g, m, n
}

// CheckReduceCols checks ReduceCols: op is known; dst and x are Float32 and
// disjoint; dst has G·N elements for x folded to [G, M, N]. It returns the
// folded shape.
func CheckReduceCols(op ReduceOp, dst, x *Tensor) (g, m, n int) {
	name := checkReduce("ReduceCols", op, dst, x)
	g, m, n = x.Fold3()
	if dst.n != g*n {
		panic(fmt.Sprintf("engine: %s: dst %v for x %v (folded [%d %d %d]): want %d elements", name, dst.shape, x.shape, g, m, n, g*n))
	}
	return g, m, n
}

// rows reads t as rows: its first dimension and the product of the rest.
func rows(t *Tensor) (r, l int) {
	l = 1
	for _, d := range t.shape[1:] {
		l *= d
	}
	return t.shape[0], l
}

// CheckGather checks Gather: dst and src are Float32 and disjoint, idx is
// Int32; with src read as R rows of L elements (R its first dimension) and
// B = idx.Len(), dst has B·L elements. It returns B, R and L. The indices
// themselves are not checked.
func CheckGather(dst, src, idx *Tensor) (b, r, l int) {
	const op = "Gather"
	checkFloat32(op, []string{"dst", "src"}, dst, src)
	CheckDType(op, "idx", idx, Int32)
	r, l = rows(src)
	b = idx.n
	if dst.n != b*l {
		panic(fmt.Sprintf("engine: Gather: dst %v for %d indices (idx %v) into src %v: want %d rows of %d = %d elements",
			dst.shape, b, idx.shape, src.shape, b, l, b*l))
	}
	CheckDisjoint(op, "dst", dst, "src", src)
	return b, r, l
}

// CheckScatter checks Scatter: dst and src are Float32 and disjoint, idx is
// Int32; with dst read as R rows of L elements (R its first dimension) and
// B = idx.Len(), src has B·L elements. It returns B, R and L. The indices
// themselves are not checked.
func CheckScatter(dst, src, idx *Tensor) (b, r, l int) {
	const op = "Scatter"
	checkFloat32(op, []string{"dst", "src"}, dst, src)
	CheckDType(op, "idx", idx, Int32)
	r, l = rows(dst)
	b = idx.n
	if src.n != b*l {
		panic(fmt.Sprintf("engine: Scatter: src %v for %d indices (idx %v) into dst %v: want %d rows of %d = %d elements",
			src.shape, b, idx.shape, dst.shape, b, l, b*l))
	}
	CheckDisjoint(op, "dst", dst, "src", src)
	return b, r, l
}

// lastDim reads t as rows of its last dimension: the product of the leading
// dimensions and the last one.
func lastDim(t *Tensor) (r, n int) {
	r = 1
	for _, d := range t.shape[:len(t.shape)-1] {
		r *= d
	}
	return r, t.shape[len(t.shape)-1]
}

// CheckCopyCols checks CopyCols: dst and src are Float32 and disjoint; read
// as rows of their last dimension, dst [R, Nd] and src [R, Ns] have the same
// number of rows; cols ≥ 0 and the column ranges [dstCol, dstCol+cols) and
// [srcCol, srcCol+cols) lie inside them. It returns R, Nd and Ns.
func CheckCopyCols(dst *Tensor, dstCol int, src *Tensor, srcCol, cols int) (r, nd, ns int) {
	const op = "CopyCols"
	checkFloat32(op, []string{"dst", "src"}, dst, src)
	r, nd = lastDim(dst)
	rs, ns := lastDim(src)
	if r != rs {
		panic(fmt.Sprintf("engine: CopyCols: dst %v and src %v: row counts %d and %d differ", dst.shape, src.shape, r, rs))
	}
	if cols < 0 {
		panic(fmt.Sprintf("engine: CopyCols: negative column count %d", cols))
	}
	if dstCol < 0 || dstCol+cols > nd {
		panic(fmt.Sprintf("engine: CopyCols: columns [%d, %d) out of range for dst %v", dstCol, dstCol+cols, dst.shape))
	}
	if srcCol < 0 || srcCol+cols > ns {
		panic(fmt.Sprintf("engine: CopyCols: columns [%d, %d) out of range for src %v", srcCol, srcCol+cols, src.shape))
	}
	CheckDisjoint(op, "dst", dst, "src", src)
	return r, nd, ns
}

// CheckAdam checks Adam: p, g, m and v are Float32 of the same length and
// pairwise disjoint, and step ≥ 1. It returns the length.
func CheckAdam(p, g, m, v *Tensor, step int) int {
	const op = "Adam"
	names := []string{"p", "g", "m", "v"}
	ts := []*Tensor{p, g, m, v}
	checkFloat32(op, names, ts...)
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			CheckSameLen(op, names[i], ts[i], names[j], ts[j])
			CheckDisjoint(op, names[i], ts[i], names[j], ts[j])
		}
	}
	if step < 1 {
		panic(fmt.Sprintf("engine: Adam: step %d, want ≥ 1 (it is 1-based)", step))
	}
	return p.n
}

// CheckRand checks RandUniform and RandNormal (dtype Float32) and RandInt
// (dtype Int32): dst has the dtype and rng is not nil. It returns dst's
// length.
func CheckRand(op string, dst *Tensor, rng *RNG, dtype DType) int {
	CheckDType(op, "dst", dst, dtype)
	if rng == nil {
		panic(fmt.Sprintf("engine: %s: nil RNG", op))
	}
	return dst.n
}

// CheckRandInt checks RandInt: dst is Int32, rng is not nil and
// 0 < n ≤ 2³¹. It returns dst's length.
func CheckRandInt(dst *Tensor, rng *RNG, n int) int {
	if n <= 0 || n > 1<<31 {
		panic(fmt.Sprintf("engine: RandInt: n = %d out of range (0, 2³¹]", n))
	}
	return CheckRand("RandInt", dst, rng, Int32)
}
