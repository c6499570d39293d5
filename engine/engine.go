// Package engine defines the interface through which imago computes: device
// tensors, a small set of primitive ops, and optional fused ops for the hot
// paths. Every number imago computes goes through an Engine; engine/cpu and
// cuda implement it, and engine/enginetest is the conformance suite both pass.
//
// The design follows gonum's blas and ggml's backend interface: a few
// primitives with precise contracts, destination first, and shapes checked
// on entry. Passing tensors of the wrong shape or dtype is a programmer error
// and panics with a message naming the shapes. No op copies data to the host
// behind the caller's back: only Download and DownloadInt32 move data off
// the device.
//
// An Engine is not safe for concurrent use: ops run in the order they are
// called, as on one CUDA stream. Implementations may run asynchronously; the
// downloads wait for all earlier work.
package engine

// Activation names an elementwise nonlinearity.
type Activation uint8

const (
	Identity Activation = iota // f(x) = x
	ReLU                       // f(x) = max(x, 0); f'(0) = 0
	SiLU                       // f(x) = x·σ(x), also called swish
	Tanh                       // f(x) = tanh(x)
	Sigmoid                    // f(x) = σ(x) = 1/(1+e^-x)
	Softplus                   // f(x) = log(1+e^x), computed without overflow
)

var activationNames = [...]string{"identity", "relu", "silu", "tanh", "sigmoid", "softplus"}

func (a Activation) String() string {
	if int(a) < len(activationNames) {
		return activationNames[a]
	}
	return "Activation(?)"
}

// ParseActivation returns the activation with the given name (as printed by
// String).
func ParseActivation(name string) (Activation, bool) {
	for i, n := range activationNames {
		if n == name {
			return Activation(i), true
		}
	}
	return 0, false
}

// UnaryOp names an elementwise function of one tensor.
type UnaryOp uint8

const (
	Exp    UnaryOp = iota // e^x
	Log                   // natural log; -Inf at 0, NaN below
	Sqrt                  // square root; NaN below 0
	Square                // x²
	Abs                   // |x|
)

// BinaryOp names an elementwise function of two tensors.
type BinaryOp uint8

const (
	Add BinaryOp = iota // a + b
	Sub                 // a − b
	Mul                 // a · b
	Div                 // a / b
	Min                 // min(a, b)
	Max                 // max(a, b)
	GE                  // 1 where a ≥ b, else 0 (the mask for min/max backward)
)

// ReduceOp names a reduction.
type ReduceOp uint8

const (
	Sum ReduceOp = iota
	Mean
	MaxOf // the maximum; named MaxOf to keep Max free for the binary op
)

// AdamConfig holds the hyperparameters of one Adam or AdamW update. The
// update at step t (1-based) with gradient g is, as in PyTorch:
//
//	g ← g + WeightDecay·p               (L2, when !Decoupled)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − LR·WeightDecay·p            (AdamW, when Decoupled)
//	p ← p − LR/(1−β1^t) · m / (√v/√(1−β2^t) + Eps)
type AdamConfig struct {
	LR, Beta1, Beta2, Eps float32
	WeightDecay           float32
	Decoupled             bool // AdamW's decoupled weight decay
}

// Engine is a device and the ops that run on it. See the package comment for
// the conventions every op follows.
//
// Shapes: ops that work on batches over ensemble members read tensors as rank
// 3 [E, R, C], a rank-2 tensor being [1, R, C] (Tensor.Batch3). Elementwise
// ops need only equal lengths. Row-wise ops fold shapes to [G, M, N]
// (Tensor.Fold3). All tensors are Float32 unless a doc comment says Int32.
//
// Ownership: a tensor belongs to the engine that made it; passing it to
// another engine is a programmer error.
//
// Aliasing: unless a doc comment allows it, a destination must not overlap
// any input. Elementwise ops allow dst to be exactly the same view as an
// input (in place); partial overlaps are never allowed.
type Engine interface {
	// Name is the engine's registry name ("cpu", "cuda").
	Name() string

	// New returns a zeroed tensor of the given dtype and shape in a fresh
	// allocation.
	New(dtype DType, shape ...int) *Tensor
	// Free releases the memory that t views. t and every view of the same
	// memory become invalid. Freeing memory twice panics.
	Free(t *Tensor)
	// Upload copies len(src) = dst.Len() values from the host into dst.
	Upload(dst *Tensor, src []float32)
	// Download copies src into dst on the host, len(dst) = src.Len(), after
	// all earlier work on the engine has finished.
	Download(dst []float32, src *Tensor)
	// UploadInt32 and DownloadInt32 are Upload and Download for Int32
	// tensors.
	UploadInt32(dst *Tensor, src []int32)
	DownloadInt32(dst []int32, src *Tensor)
	// Copy copies src into dst on the device. They have the same dtype and
	// length; shapes may differ. They must be the same view or not overlap.
	Copy(dst, src *Tensor)
	// Fill sets every element of a Float32 tensor to v.
	Fill(dst *Tensor, v float32)
	// Sync waits until all work issued so far has finished. Benchmarks call
	// it; correctness never needs it, since downloads synchronise.
	Sync()
	// Close releases the engine's resources. The engine and its tensors are
	// unusable afterwards.
	Close() error

	// Gemm computes c ← alpha·op(a)·op(b) + beta·c for every ensemble member
	// e, where op(x) is x or its transpose. Read as rank 3: op(a) is
	// [E, M, K] (a is [E, K, M] when transA), op(b) is [E, K, N] (b is
	// [E, N, K] when transB), c is [E, M, N]. a or b may have E = 1, and is
	// then shared by every member of c. When beta is 0, c is not read (NaNs
	// in it do not propagate). c must not overlap a or b.
	Gemm(transA, transB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor)

	// Activate computes dst = f(x) elementwise. dst may be x.
	Activate(f Activation, dst, x *Tensor)
	// ActivateGrad computes the backward of Activate: dx = dy ⊙ f'(x), given
	// the input x and the output y = f(x) of the forward pass (engines use
	// whichever is cheaper). dx may be dy; x, y and dy have dx's length.
	ActivateGrad(f Activation, dx, dy, x, y *Tensor)

	// Unary computes dst = op(x) elementwise. dst may be x.
	Unary(op UnaryOp, dst, x *Tensor)
	// Binary computes dst = op(a, b) elementwise. dst has a's length and may
	// be a or b. b broadcasts: with a folded to [G, M, N], b has the same
	// length (elementwise), G·N elements (one row per group, repeated over
	// the M rows: the bias of an ensemble layer, [E, 1, N]) or N elements
	// (one row for all). Bias add is Binary(Add, y, x, bias); its backward
	// is ReduceCols(Sum, dbias, dy).
	Binary(op BinaryOp, dst, a, b *Tensor)
	// Scale computes dst = alpha·x + beta elementwise. dst may be x.
	Scale(dst, x *Tensor, alpha, beta float32)
	// Axpby computes dst = alpha·x + beta·dst elementwise; dst and x have the
	// same length and do not overlap. When beta is 0, dst is not read (NaNs
	// in it do not propagate), as in BLAS. Gradient accumulation and L2
	// weight decay use it.
	Axpby(dst *Tensor, alpha float32, x *Tensor, beta float32)
	// Clamp computes dst = min(max(x, lo), hi) elementwise. dst may be x.
	Clamp(dst, x *Tensor, lo, hi float32)

	// ReduceRows reduces along the last dimension: x folded to [G, M, N]
	// gives dst with G·M elements, dst[g, m] = op over n of x[g, m, n].
	ReduceRows(op ReduceOp, dst, x *Tensor)
	// ReduceCols reduces along the second-to-last dimension: x folded to
	// [G, M, N] gives dst with G·N elements (shape [G, 1, N]),
	// dst[g, n] = op over m of x[g, m, n].
	ReduceCols(op ReduceOp, dst, x *Tensor)

	// Gather copies rows: dst[i] = src[idx[i]] for i < B. src is read as R
	// rows of L elements (its first dimension is R), idx is an Int32 tensor
	// of B indices in [0, R), dst has B·L elements. An index out of range is
	// a programmer error: the CPU engine panics, others leave the row
	// undefined.
	Gather(dst, src, idx *Tensor)
	// Scatter is Gather's inverse: dst[idx[i]] = src[i] for i < B, with dst
	// read as R rows of L elements, src as B rows. Indices must be distinct
	// and in [0, R); with duplicates, which write lands is unspecified.
	Scatter(dst, src, idx *Tensor)
	// CopyCols copies a block of columns: with dst and src read as rows of
	// their last dimension (dst [R, Nd], src [R, Ns], leading dimensions
	// folded into R, the same R for both), dst[r, dstCol+j] =
	// src[r, srcCol+j] for j < cols. Concatenation and splitting of feature
	// blocks (and their backward) are made of it. dst and src do not
	// overlap.
	CopyCols(dst *Tensor, dstCol int, src *Tensor, srcCol, cols int)

	// Adam applies one Adam or AdamW update (see AdamConfig) in place to the
	// flat buffers p (parameters), m and v (moment estimates) given the
	// gradient g, all of the same length and pairwise disjoint. step is the
	// 1-based update count for bias correction. g is not modified.
	Adam(p, g, m, v *Tensor, cfg AdamConfig, step int)
	// Polyak computes dst = (1−tau)·dst + tau·src: the soft update of a
	// target network. dst and src have the same length and do not overlap.
	Polyak(dst, src *Tensor, tau float32)

	// RandUniform fills dst with draws from U[lo, hi), RandNormal with draws
	// from N(mean, std²), and RandInt fills the Int32 tensor dst with
	// integers in [0, n), 0 < n ≤ 2³¹. Each takes its counters from rng
	// (which it advances) and produces exactly the numbers that the
	// reference functions UniformAt, NormalAt and IntAt of this package
	// give, so that every engine draws the same stream.
	RandUniform(dst *Tensor, rng *RNG, lo, hi float32)
	RandNormal(dst *Tensor, rng *RNG, mean, std float32)
	RandInt(dst *Tensor, rng *RNG, n int)
}
