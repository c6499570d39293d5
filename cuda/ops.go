//go:build cuda || cudaemu

package cuda

import (
	"math"

	"github.com/imago-rl/imago/engine"
)

// The ops below launch the kernels of kernels/*.cu, passing the parameters
// in the order of each kernel's signature; each kernel's comment there gives
// its launch shape and the meaning of its parameters. Op codes (activations,
// unary, binary and reduce ops, broadcast modes) are passed as the int value
// of the engine package's enums, which the kernels' enums follow. An op with
// no elements to write launches nothing: a grid of zero blocks is an invalid
// launch.

// maxBlocks caps the grid of the grid-stride kernels: 65535 blocks of 256
// threads are 60 times the threads an H100 (132 SMs of 2048) holds at once,
// so a larger grid would only add blocks that start after others finish.
const maxBlocks = 65535

// gridStride returns the launch shape of a grid-stride kernel over n work
// items: one thread per item up to the cap.
func gridStride(n int) (grid, block Dim3) {
	return Dim3{min(blocks(n, threads), maxBlocks), 1, 1}, Dim3{threads, 1, 1}
}

// elementwise launches a grid-stride kernel over n elements.
func (e *Engine) elementwise(op, kernel string, n int, args ...uint64) {
	if n == 0 {
		return
	}
	grid, block := gridStride(n)
	e.launch(op, kernel, grid, block, 0, args...)
}

// zero clears n 32-bit words at p. fill_f32 with 0.0f writes all-zero bits,
// which is 0 as an int32 too.
func (e *Engine) zero(p uintptr, n int) {
	e.elementwise("New", "fill_f32", n, ptrArg(p), u64Arg(uint64(n)), f32Arg(0))
}

// Fill sets every element of dst to v.
func (e *Engine) Fill(dst *engine.Tensor, v float32) {
	n := engine.CheckFill(dst)
	d := e.addr("Fill", dst)
	e.elementwise("Fill", "fill_f32", n, ptrArg(d), u64Arg(uint64(n)), f32Arg(v))
}

// Activate computes dst = f(x) elementwise. dst may be x.
func (e *Engine) Activate(f engine.Activation, dst, x *engine.Tensor) {
	const op = "Activate"
	n := engine.CheckActivate(f, dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	if f == engine.Identity && d == s {
		return
	}
	e.elementwise(op, "activate_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), intArg(op, int(f)))
}

// ActivateGrad computes dx = dy ⊙ f'(x). The kernel reads x, not y: the
// derivatives written in y lose their accuracy where f saturates. dx may be
// dy.
func (e *Engine) ActivateGrad(f engine.Activation, dx, dy, x, y *engine.Tensor) {
	const op = "ActivateGrad"
	n := engine.CheckActivateGrad(f, dx, dy, x, y)
	d, g, s := e.addr(op, dx), e.addr(op, dy), e.addr(op, x)
	e.memory(op, y) // unused, but must still be a live tensor of e's
	e.elementwise(op, "activate_grad_f32", n, ptrArg(d), ptrArg(g), ptrArg(s), u64Arg(uint64(n)), intArg(op, int(f)))
}

// Unary computes dst = op(x) elementwise. dst may be x.
func (e *Engine) Unary(uop engine.UnaryOp, dst, x *engine.Tensor) {
	const op = "Unary"
	n := engine.CheckUnary(uop, dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	e.elementwise(op, "unary_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), intArg(op, int(uop)))
}

// Binary computes dst = op(a, b) elementwise, b broadcasting as the
// interface describes. dst may be a or b.
func (e *Engine) Binary(bop engine.BinaryOp, dst, a, b *engine.Tensor) {
	const op = "Binary"
	_, m, n, mode := engine.CheckBinary(bop, dst, a, b)
	d, x, y := e.addr(op, dst), e.addr(op, a), e.addr(op, b)
	total := a.Len()
	e.elementwise(op, "binary_f32", total, ptrArg(d), ptrArg(x), ptrArg(y), u64Arg(uint64(total)),
		intArg(op, int(bop)), intArg(op, int(mode)), intArg(op, m), intArg(op, n))
}

// Scale computes dst = alpha·x + beta elementwise. dst may be x.
func (e *Engine) Scale(dst, x *engine.Tensor, alpha, beta float32) {
	const op = "Scale"
	n := engine.CheckScale(dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	e.elementwise(op, "scale_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), f32Arg(alpha), f32Arg(beta))
}

// Axpby computes dst = alpha·x + beta·dst elementwise. As in BLAS, dst is not
// read when beta is 0, so NaNs in it do not propagate.
func (e *Engine) Axpby(dst *engine.Tensor, alpha float32, x *engine.Tensor, beta float32) {
	const op = "Axpby"
	n := engine.CheckAxpby(dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	e.elementwise(op, "axpby_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), f32Arg(alpha), f32Arg(beta))
}

// Clamp computes dst = min(max(x, lo), hi) elementwise; NaN stays NaN. dst
// may be x.
func (e *Engine) Clamp(dst, x *engine.Tensor, lo, hi float32) {
	const op = "Clamp"
	n := engine.CheckClamp(dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	e.elementwise(op, "clamp_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), f32Arg(lo), f32Arg(hi))
}

// Polyak computes dst = (1−tau)·dst + tau·src.
func (e *Engine) Polyak(dst, src *engine.Tensor, tau float32) {
	const op = "Polyak"
	n := engine.CheckPolyak(dst, src)
	d, s := e.addr(op, dst), e.addr(op, src)
	e.elementwise(op, "polyak_f32", n, ptrArg(d), ptrArg(s), u64Arg(uint64(n)), f32Arg(tau))
}

// Adam applies one Adam or AdamW update to p, m and v in place. The bias
// corrections are computed on the host in float64, as the CPU engine
// computes them, and passed to the kernel rounded to float32.
func (e *Engine) Adam(p, g, m, v *engine.Tensor, cfg engine.AdamConfig, step int) {
	const op = "Adam"
	n := engine.CheckAdam(p, g, m, v, step)
	pp, gp, mp, vp := e.addr(op, p), e.addr(op, g), e.addr(op, m), e.addr(op, v)
	b1, b2 := float64(cfg.Beta1), float64(cfg.Beta2)
	lr, wd := float64(cfg.LR), float64(cfg.WeightDecay)
	stepSize := lr / (1 - math.Pow(b1, float64(step)))
	sqrtBC2 := math.Sqrt(1 - math.Pow(b2, float64(step)))
	l2, decay := wd, 0.0
	if cfg.Decoupled {
		l2, decay = 0, lr*wd
	}
	e.elementwise(op, "adam_f32", n, ptrArg(pp), ptrArg(gp), ptrArg(mp), ptrArg(vp), u64Arg(uint64(n)),
		f32Arg(cfg.Beta1), f32Arg(cfg.Beta2), f32Arg(cfg.Eps),
		f32Arg(float32(l2)), f32Arg(float32(decay)), f32Arg(float32(stepSize)), f32Arg(float32(sqrtBC2)))
}

// ReduceRows reduces x, folded to [G, M, N], along its last dimension into
// dst with G·M elements. Sums accumulate in float64.
func (e *Engine) ReduceRows(rop engine.ReduceOp, dst, x *engine.Tensor) {
	const op = "ReduceRows"
	g, m, n := engine.CheckReduceRows(rop, dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	rows := g * m
	if rows == 0 {
		return
	}
	// The bx threads of a block row share a row of x: as many warps as
	// the row has 32-element stretches, up to 1024 threads, and as many
	// rows per block as fill 256 threads.
	bx := min(max(32*blocks(n, 32), 32), 1024)
	by := max(1, threads/bx)
	e.launch(op, "reduce_rows_f32", Dim3{blocks(rows, by), 1, 1}, Dim3{bx, by, 1}, 0,
		ptrArg(d), ptrArg(s), u64Arg(uint64(rows)), intArg(op, n), intArg(op, int(rop)))
}

// ReduceCols reduces x, folded to [G, M, N], along its second-to-last
// dimension into dst with G·N elements. Sums accumulate in float64.
func (e *Engine) ReduceCols(rop engine.ReduceOp, dst, x *engine.Tensor) {
	const op = "ReduceCols"
	g, m, n := engine.CheckReduceCols(rop, dst, x)
	d, s := e.addr(op, dst), e.addr(op, x)
	if g*n == 0 {
		return
	}
	// Each block reduces width adjacent columns: the smallest power of two
	// that covers a row, up to a warp, so that narrow tensors keep all 256
	// threads of a block busy walking down the rows.
	width := 1
	for width < n && width < 32 {
		width *= 2
	}
	e.launch(op, "reduce_cols_f32", Dim3{g * blocks(n, width), 1, 1}, Dim3{threads, 1, 1}, 0,
		ptrArg(d), ptrArg(s), intArg(op, m), intArg(op, n), intArg(op, width), intArg(op, int(rop)))
}

// Gather copies rows: dst[i] = src[idx[i]]. A row whose index is out of
// range is left unwritten.
func (e *Engine) Gather(dst, src, idx *engine.Tensor) {
	const op = "Gather"
	b, r, l := engine.CheckGather(dst, src, idx)
	d, s, ix := e.addr(op, dst), e.addr(op, src), e.addr(op, idx)
	e.elementwise(op, "gather_f32", b*l, ptrArg(d), ptrArg(s), ptrArg(ix),
		u64Arg(uint64(b)), u64Arg(uint64(r)), u64Arg(uint64(l)))
}

// Scatter copies rows: dst[idx[i]] = src[i]. With duplicate indices, which
// write lands is unspecified; an index out of range is skipped.
func (e *Engine) Scatter(dst, src, idx *engine.Tensor) {
	const op = "Scatter"
	b, r, l := engine.CheckScatter(dst, src, idx)
	d, s, ix := e.addr(op, dst), e.addr(op, src), e.addr(op, idx)
	e.elementwise(op, "scatter_f32", b*l, ptrArg(d), ptrArg(s), ptrArg(ix),
		u64Arg(uint64(b)), u64Arg(uint64(r)), u64Arg(uint64(l)))
}

// CopyCols copies columns [srcCol, srcCol+cols) of every row of src into
// columns [dstCol, dstCol+cols) of dst.
func (e *Engine) CopyCols(dst *engine.Tensor, dstCol int, src *engine.Tensor, srcCol, cols int) {
	const op = "CopyCols"
	r, nd, ns := engine.CheckCopyCols(dst, dstCol, src, srcCol, cols)
	d, s := e.addr(op, dst), e.addr(op, src)
	e.elementwise(op, "copy_cols_f32", r*cols, ptrArg(d), ptrArg(s), u64Arg(uint64(r)), intArg(op, cols),
		intArg(op, nd), intArg(op, dstCol), intArg(op, ns), intArg(op, srcCol))
}

// The random fills take their counters from rng on the host, advancing it
// exactly as the CPU engine does, and pass the seed and the first counter to
// a kernel that computes each element as engine.UniformAt, NormalAt and
// IntAt do: every engine draws the same stream, bit for bit. One thread
// computes one Philox block of four elements.

// RandUniform fills dst with draws from U[lo, hi), advancing rng.
func (e *Engine) RandUniform(dst *engine.Tensor, rng *engine.RNG, lo, hi float32) {
	const op = "RandUniform"
	n := engine.CheckRand(op, dst, rng, engine.Float32)
	d := e.addr(op, dst)
	seed, start := rng.Seed, rng.Take(n)
	e.elementwise(op, "rand_uniform_f32", blocks(n, 4), ptrArg(d), u64Arg(uint64(n)), u64Arg(seed), u64Arg(start),
		f32Arg(lo), f32Arg(hi))
}

// RandNormal fills dst with draws from N(mean, std²), advancing rng.
func (e *Engine) RandNormal(dst *engine.Tensor, rng *engine.RNG, mean, std float32) {
	const op = "RandNormal"
	n := engine.CheckRand(op, dst, rng, engine.Float32)
	d := e.addr(op, dst)
	seed, start := rng.Seed, rng.Take(n)
	e.elementwise(op, "rand_normal_f32", blocks(n, 4), ptrArg(d), u64Arg(uint64(n)), u64Arg(seed), u64Arg(start),
		f32Arg(mean), f32Arg(std))
}

// RandInt fills the Int32 tensor dst with integers in [0, n), advancing rng.
func (e *Engine) RandInt(dst *engine.Tensor, rng *engine.RNG, n int) {
	const op = "RandInt"
	count := engine.CheckRandInt(dst, rng, n)
	d := e.addr(op, dst)
	seed, start := rng.Seed, rng.Take(count)
	e.elementwise(op, "rand_int_i32", blocks(count, 4), ptrArg(d), u64Arg(uint64(count)), u64Arg(seed), u64Arg(start),
		u64Arg(uint64(n)))
}
