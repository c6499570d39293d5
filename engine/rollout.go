package engine

import (
	"fmt"
	"math"
)

// Model-rollout ops. A model rollout (MBPO, Janner et al. 2019) steps a
// batch of imagined states through a policy and a learned dynamics model
// for H steps; a row whose transition terminates stops. The ops below are
// the parts of one step that are not matrix products: the policy's action
// sample, the member picks, the model's Gaussian sample and the
// termination with the compaction of the live rows. Like the fused ops of
// fused.go, each is a package-level function that uses the engine's own op
// when it implements the optional interface and otherwise composes the
// primitives; both give the same result within float32 rounding, which
// enginetest checks.
//
// How many rows are still live depends on the model's samples, so between
// the steps only the device knows it. So that the host need not wait for
// the device at every step, these ops take the live row count from the
// device, in a cursor, and so do the random fills, whose counters depend on
// it:
//
// A cursor is an Int32 tensor of four elements, two pairs (n, c). An op
// reads the first pair: it acts on the first n of its operands' R rows
// (0 ≤ n ≤ R), and its random fill, if it has one, starts at counter
// rng.Counter + c (0 ≤ c < 2³¹). It writes the second pair: the rows live
// after it and the offset after its fill. Ops chain through consecutive
// pairs of one Int32 tensor, op j of a chain taking Cursor(chain, j), so
// that no op writes what it reads (a kernel needs no grid-wide barrier) and
// the host reads every pair of a whole rollout in one download at its end.
//
// The fills draw exactly what the engine's RandNormal and RandInt would
// draw from &RNG{Seed: rng.Seed, Counter: rng.Counter + c} into a tensor of
// the n live rows: the stream of the primitives, from a counter only the
// device knows. They read rng and never advance it: the caller adds the
// chain's last offset to rng.Counter once it has downloaded it.
//
// A cursor whose n is outside [0, R] or whose c is negative is a programmer
// error: the CPU engine and the generic paths panic; other engines clamp n
// into [0, R] and c to 0 or more. An offset that would pass 2³¹−1 is one
// too: callers split a chain that long (mbpo.Rollout checks its worst
// case). The generic paths, for engines without the fused op, read
// the cursor's first pair on the host and write its second (8 bytes each
// way per op); TerminateCompact's also downloads the n terminal flags and
// uploads the live rows' indices. Fused implementations do no host
// transfer.

// Cursor returns the cursor of op j of a chain: elements [2j, 2j+4) of the
// Int32 tensor chain, which holds the pairs (n, c) of the chain's ops one
// after another.
func Cursor(chain *Tensor, j int) *Tensor { return chain.View(2*j, 4) }

// Counters returns the number of Philox counters a random fill of n
// elements takes, ⌈n/4⌉ (see RNG): how far a fill of n live rows of w
// elements advances a cursor's offset is Counters(n·w).
func Counters(n int) int { return (n + 3) / 4 }

// CheckCursor panics unless the pair (n, c) that op read from a cursor fits
// operands of rows rows: 0 ≤ n ≤ rows and c ≥ 0. Host-side implementations
// of the rollout ops call it on the values they read.
func CheckCursor(op string, n, c, rows int) {
	if n < 0 || n > rows {
		panic(fmt.Sprintf("engine: %s: cursor holds %d live rows, want 0 to %d (the operands' rows)", op, n, rows))
	}
	if c < 0 {
		panic(fmt.Sprintf("engine: %s: cursor holds stream offset %d, want ≥ 0", op, c))
	}
}

// CheckCursorAdvance panics if the offset c + taken does not fit the
// cursor's int32, and returns it.
func CheckCursorAdvance(op string, c, taken int) int {
	if c+taken > math.MaxInt32 {
		panic(fmt.Sprintf("engine: %s: stream offset %d + %d counters passes 2³¹−1; split the chain", op, c, taken))
	}
	return c + taken
}

// RolloutWorkspace is the scratch of the rollout ops for operands of up to
// MaxRows rows: A, B and C hold up to MaxRows rows of Width values each
// (the generic paths' intermediate values, the CPU engine's noise), Idx
// row indices (the generic compaction's) or per-block counts (the CUDA
// compaction's). Its contents are undefined after a call. The host slices
// of the generic paths live here too, so that no call allocates.
type RolloutWorkspace struct {
	MaxRows, Width int
	A, B, C        *Tensor // Float32 [MaxRows, Width]
	Idx            *Tensor // Int32 [MaxRows]

	// Slices of their own, not arrays in the struct: a cgo engine's copy
	// may not point into memory that holds Go pointers.
	pair  []int32 // a cursor pair on the host
	dims  []int32
	flags []float32
	live  []int32
}

// NewRolloutWorkspace allocates a workspace on e for operands of up to
// maxRows rows, width at least the action size, the model's target size
// (observation + 1) and the number of bounded elements of a termination
// box. It panics unless both are positive.
func NewRolloutWorkspace(e Engine, maxRows, width int) *RolloutWorkspace {
	if maxRows <= 0 || width <= 0 {
		panic(fmt.Sprintf("engine: NewRolloutWorkspace: %d rows of width %d, want both positive", maxRows, width))
	}
	return &RolloutWorkspace{
		MaxRows: maxRows, Width: width,
		A:    e.New(Float32, maxRows, width),
		B:    e.New(Float32, maxRows, width),
		C:    e.New(Float32, maxRows, width),
		Idx:  e.New(Int32, maxRows),
		pair: make([]int32, 2),
	}
}

// Free releases the workspace's device memory.
func (w *RolloutWorkspace) Free(e Engine) {
	e.Free(w.A)
	e.Free(w.B)
	e.Free(w.C)
	e.Free(w.Idx)
}

// readCursor downloads the first pair of cur and checks it against rows.
func (w *RolloutWorkspace) readCursor(e Engine, op string, cur *Tensor, rows int) (n, c int) {
	n, c = readPair(e, w.pair, cur)
	CheckCursor(op, n, c, rows)
	return n, c
}

// writeCursor uploads (n, c) as the second pair of cur.
func (w *RolloutWorkspace) writeCursor(e Engine, cur *Tensor, n, c int) {
	w.pair[0], w.pair[1] = int32(n), int32(c)
	e.UploadInt32(cur.View(2, 2), w.pair)
}

func readPair(e Engine, host []int32, cur *Tensor) (n, c int) {
	e.DownloadInt32(host, cur.View(0, 2))
	return int(host[0]), int(host[1])
}

// checkWorkspace panics unless ws holds rows rows of width values.
func checkWorkspace(op string, ws *RolloutWorkspace, rows, width int) {
	if ws == nil {
		panic(fmt.Sprintf("engine: %s: nil workspace", op))
	}
	if rows > ws.MaxRows || width > ws.Width {
		panic(fmt.Sprintf("engine: %s: %d rows of %d values do not fit the workspace's %d rows of %d",
			op, rows, width, ws.MaxRows, ws.Width))
	}
}

// checkCursorTensor panics unless cur is an Int32 tensor of four elements
// disjoint from the outputs.
func checkCursorTensor(op string, cur *Tensor) {
	if cur == nil {
		panic(fmt.Sprintf("engine: %s: nil cursor", op))
	}
	CheckDType(op, "cursor", cur, Int32)
	if cur.n != 4 {
		panic(fmt.Sprintf("engine: %s: cursor %v has %d elements, want 4 (two (n, c) pairs)", op, cur.shape, cur.n))
	}
}

// checkDisjointFrom panics if out overlaps any of the named tensors (nil
// ones are skipped).
func checkDisjointFrom(op, outName string, out *Tensor, names []string, ts ...*Tensor) {
	for i, t := range ts {
		if t != nil {
			CheckDisjoint(op, outName, out, names[i], t)
		}
	}
}

// checkWorkspaceDisjoint panics if the workspace overlaps any of ts: the
// generic paths write it while they read and write the operands.
func checkWorkspaceDisjoint(op string, ws *RolloutWorkspace, names []string, ts ...*Tensor) {
	for _, w := range []struct {
		name string
		t    *Tensor
	}{{"workspace A", ws.A}, {"workspace B", ws.B}, {"workspace C", ws.C}, {"workspace Idx", ws.Idx}} {
		checkDisjointFrom(op, w.name, w.t, names, ts...)
	}
}

// checkRowVector panics unless t is a Float32 tensor of n elements (a
// [1, n] row broadcast over the rows of an operand).
func checkRowVector(op, name string, t *Tensor, n int) {
	if t == nil {
		panic(fmt.Sprintf("engine: %s: %s is nil", op, name))
	}
	CheckDType(op, name, t, Float32)
	if t.n != n {
		panic(fmt.Sprintf("engine: %s: %s %v has %d elements, want %d ([1 %d])", op, name, t.shape, t.n, n, n))
	}
}

// PolicyHead is how a tanh-squashed Gaussian policy (nn.Policy, as SAC's
// actor) turns its network's output into an action: the network gives
// μ and r for each action element, log σ = lo + (hi − lo)·(tanh r + 1)/2
// with lo = LogStdMin and hi = LogStdMax, and the action is
// tanh(μ + σ·ε), rescaled to a·Scale + Shift when Scale and Shift are set
// (Float32 tensors of A elements each, or both nil).
type PolicyHead struct {
	LogStdMin, LogStdMax float32
	Scale, Shift         *Tensor
}

// ActionSampler is implemented by engines with a fused action sample.
type ActionSampler interface {
	// SampleAction has the contract of the function SampleAction.
	SampleAction(act, head *Tensor, p PolicyHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace)
}

// SampleAction samples the policy's action for the n live rows given by
// the cursor cur: with head [R, 2A] the policy network's output (μ in
// columns [0, A), r in [A, 2A)) and ε one RandNormal(0, 1) fill of n·A
// values, row-major, from counter rng.Counter + c,
//
//	act[i, j] = tanh(μ + exp(lo + (hi−lo)/2 + (hi−lo)/2·tanh r)·ε) (·Scale[j] + Shift[j])
//
// for i < n, computed in float32 as the primitives Activate(Tanh), Scale,
// Unary(Exp), Binary(Mul, Add) and Activate(Tanh) compute it in that order
// (the generic path is that sequence). act is [R, A]; its rows from n on
// are not written. It writes (n, c + Counters(n·A)) to the cursor's second
// pair. act must not overlap head, the head's tensors, cur or ws.
func SampleAction(e Engine, act, head *Tensor, p PolicyHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace) {
	if s, ok := e.(ActionSampler); ok {
		s.SampleAction(act, head, p, rng, cur, ws)
		return
	}
	const op = "SampleAction"
	rows, a := CheckSampleAction(act, head, p, rng, cur, ws)
	n, c := ws.readCursor(e, op, cur, rows)
	next := CheckCursorAdvance(op, c, Counters(n*a))
	if n > 0 {
		h, out := head.View(0, n, 2*a), act.View(0, n, a)
		mu, eps := ws.A.View(0, n, a), ws.B.View(0, n, a)
		e.CopyCols(mu, 0, h, 0, a)
		e.CopyCols(out, 0, h, a, a) // r, then σ
		lo, hi := p.LogStdMin, p.LogStdMax
		e.Activate(Tanh, out, out)
		e.Scale(out, out, (hi-lo)/2, lo+(hi-lo)/2)
		e.Unary(Exp, out, out)
		e.RandNormal(eps, &RNG{Seed: rng.Seed, Counter: rng.Counter + uint64(c)}, 0, 1)
		e.Binary(Mul, eps, out, eps)
		e.Binary(Add, eps, eps, mu)
		e.Activate(Tanh, out, eps)
		if p.Scale != nil {
			e.Binary(Mul, out, out, p.Scale)
			e.Binary(Add, out, out, p.Shift)
		}
	}
	ws.writeCursor(e, cur, n, next)
}

// CheckSampleAction checks the operands of SampleAction and of an engine's
// ActionSampler: act is Float32 [R, A] with A ≥ 1, head Float32 [R, 2A];
// p.Scale and p.Shift are both nil or both Float32 with A elements; rng is
// not nil; cur is an Int32 cursor; ws holds R rows of A values; act is
// disjoint from head, p's tensors, cur and ws, and ws from head, p's
// tensors and cur. It returns R and A. The cursor's values are not
// checked.
func CheckSampleAction(act, head *Tensor, p PolicyHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace) (rows, a int) {
	const op = "SampleAction"
	checkFloat32(op, []string{"act", "head"}, act, head)
	if act.Rank() != 2 || act.shape[1] < 1 {
		panic(fmt.Sprintf("engine: SampleAction: act %v: want [R A] with A ≥ 1", act.shape))
	}
	rows, a = act.shape[0], act.shape[1]
	if head.Rank() != 2 || head.shape[0] != rows || head.shape[1] != 2*a {
		panic(fmt.Sprintf("engine: SampleAction: head %v for act %v: want [%d %d] (μ and r of each action)", head.shape, act.shape, rows, 2*a))
	}
	if (p.Scale == nil) != (p.Shift == nil) {
		panic("engine: SampleAction: the head's Scale and Shift must both be set or both be nil")
	}
	if p.Scale != nil {
		checkRowVector(op, "Scale", p.Scale, a)
		checkRowVector(op, "Shift", p.Shift, a)
	}
	if rng == nil {
		panic("engine: SampleAction: nil RNG")
	}
	checkCursorTensor(op, cur)
	checkWorkspace(op, ws, rows, a)
	names := []string{"head", "Scale", "Shift", "cursor"}
	checkDisjointFrom(op, "act", act, names, head, p.Scale, p.Shift, cur)
	checkWorkspaceDisjoint(op, ws, append(names, "act"), head, p.Scale, p.Shift, cur, act)
	return rows, a
}

// MemberPicker is implemented by engines with a fused member pick.
type MemberPicker interface {
	// PickMembers has the contract of the function PickMembers.
	PickMembers(pick *Tensor, k int, rng *RNG, cur *Tensor)
}

// PickMembers draws each row's pick of one of k members, uniformly: the
// Int32 tensor pick of R elements gets, for every i < R, element i of a
// RandInt(k) fill from counter rng.Counter + c, IntAt(rng.Seed,
// rng.Counter + c, i, k). The rows from n on get draws too, so that every
// pick is in [0, k) for an op that reads all R (EnsembleRowForward); the
// fill takes the counters of the n live rows only, and the cursor's
// second pair becomes (n, c + Counters(n)). 0 < k ≤ 2³¹; pick must not
// overlap cur.
func PickMembers(e Engine, pick *Tensor, k int, rng *RNG, cur *Tensor) {
	if p, ok := e.(MemberPicker); ok {
		p.PickMembers(pick, k, rng, cur)
		return
	}
	const op = "PickMembers"
	rows := CheckPickMembers(pick, k, rng, cur)
	var pair [2]int32
	n, c := readPair(e, pair[:], cur)
	CheckCursor(op, n, c, rows)
	next := CheckCursorAdvance(op, c, Counters(n))
	if rows > 0 {
		e.RandInt(pick, &RNG{Seed: rng.Seed, Counter: rng.Counter + uint64(c)}, k)
	}
	pair = [2]int32{int32(n), int32(next)}
	e.UploadInt32(cur.View(2, 2), pair[:])
}

// CheckPickMembers checks the operands of PickMembers and of an engine's
// MemberPicker: pick is Int32, 0 < k ≤ 2³¹, rng is not nil, cur is an Int32
// cursor disjoint from pick. It returns R, pick's length.
func CheckPickMembers(pick *Tensor, k int, rng *RNG, cur *Tensor) (rows int) {
	const op = "PickMembers"
	CheckDType(op, "pick", pick, Int32)
	if k <= 0 || k > 1<<31 {
		panic(fmt.Sprintf("engine: PickMembers: k = %d members out of range (0, 2³¹]", k))
	}
	if rng == nil {
		panic("engine: PickMembers: nil RNG")
	}
	checkCursorTensor(op, cur)
	CheckDisjoint(op, "pick", pick, "cursor", cur)
	return pick.n
}

// ModelHead is how a probabilistic dynamics model (nn.Ensemble) turns one
// member's output into a Gaussian over its D targets, in the targets' own
// units: the soft log-variance bounds MaxLogVar and MinLogVar and the
// target standardiser's TargetMean and TargetStd, Float32 tensors of D
// elements each ([1, D]).
type ModelHead struct {
	MaxLogVar, MinLogVar  *Tensor
	TargetMean, TargetStd *Tensor
}

// TransitionSampler is implemented by engines with a fused sample of the
// model's transition.
type TransitionSampler interface {
	// SampleTransition has the contract of the function SampleTransition.
	SampleTransition(next, reward, out, obs *Tensor, m ModelHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace)
}

// SampleTransition samples a transition from the model's Gaussian for the
// n live rows of the cursor cur: with out [R, 2D] the chosen member's
// output (the standardised mean μ in columns [0, D), the raw log-variance
// in [D, 2D)), obs [R, O] the states and D = O + 1 targets (Δobs, reward),
// and ε one RandNormal(0, 1) fill of n·D values, row-major, from counter
// rng.Counter + c, it computes for each row i < n and target j, as
// nn.Ensemble.Predict bounds the log-variance,
//
//	lv = min + softplus(max − softplus(max − raw) − min)
//	y  = σ_y·(μ + exp(lv/2)·ε) + m_y
//
// and writes next[i] = obs[i] + y[:O] and reward[i] = y[O]. Everything is
// float32, in the order of the primitives of the generic path: Binary(Sub),
// Scale(−1), Activate(Softplus), Binary(Sub), Scale(−1), Binary(Sub),
// Activate(Softplus), Binary(Add), Scale(½), Unary(Exp), Binary(Mul, Add)
// with the noise, Binary(Mul, Add) with σ_y and m_y, Binary(Add) with obs.
// next is [R, O] and reward has R elements ([R, 1]); their rows from n on
// are not written. The cursor's second pair becomes (n, c + Counters(n·D)).
// next and reward must not overlap each other or any input; ws must not
// overlap any operand.
func SampleTransition(e Engine, next, reward, out, obs *Tensor, m ModelHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace) {
	if s, ok := e.(TransitionSampler); ok {
		s.SampleTransition(next, reward, out, obs, m, rng, cur, ws)
		return
	}
	const op = "SampleTransition"
	rows, o := CheckSampleTransition(next, reward, out, obs, m, rng, cur, ws)
	d := o + 1
	n, c := ws.readCursor(e, op, cur, rows)
	after := CheckCursorAdvance(op, c, Counters(n*d))
	if n > 0 {
		h := out.View(0, n, 2*d)
		mean, lv, tmp := ws.A.View(0, n, d), ws.B.View(0, n, d), ws.C.View(0, n, d)
		e.CopyCols(mean, 0, h, 0, d)
		e.CopyCols(lv, 0, h, d, d)
		mx, mn := m.MaxLogVar, m.MinLogVar
		e.Binary(Sub, tmp, lv, mx)
		e.Scale(tmp, tmp, -1, 0)
		e.Activate(Softplus, tmp, tmp)
		e.Binary(Sub, tmp, tmp, mx)
		e.Scale(tmp, tmp, -1, 0)
		e.Binary(Sub, tmp, tmp, mn)
		e.Activate(Softplus, tmp, tmp)
		e.Binary(Add, lv, tmp, mn)

		e.Scale(lv, lv, 0.5, 0)
		e.Unary(Exp, lv, lv)
		e.RandNormal(tmp, &RNG{Seed: rng.Seed, Counter: rng.Counter + uint64(c)}, 0, 1)
		e.Binary(Mul, tmp, tmp, lv)
		e.Binary(Add, mean, mean, tmp)
		e.Binary(Mul, mean, mean, m.TargetStd)
		e.Binary(Add, mean, mean, m.TargetMean)

		nx := next.View(0, n, o)
		e.CopyCols(nx, 0, mean, 0, o)
		e.Binary(Add, nx, nx, obs.View(0, n, o))
		e.CopyCols(reward.View(0, n, 1), 0, mean, o, 1)
	}
	ws.writeCursor(e, cur, n, after)
}

// CheckSampleTransition checks the operands of SampleTransition and of an
// engine's TransitionSampler: obs is Float32 [R, O] with O ≥ 1, next
// Float32 [R, O], reward Float32 with R elements, out Float32 [R, 2(O+1)];
// m's four tensors are Float32 with O+1 elements; rng is not nil; cur is an
// Int32 cursor; ws holds R rows of O+1 values; next and reward are disjoint
// from each other and from every input, ws from every operand. It returns
// R and O.
func CheckSampleTransition(next, reward, out, obs *Tensor, m ModelHead, rng *RNG, cur *Tensor, ws *RolloutWorkspace) (rows, o int) {
	const op = "SampleTransition"
	checkFloat32(op, []string{"next", "reward", "out", "obs"}, next, reward, out, obs)
	if obs.Rank() != 2 || obs.shape[1] < 1 {
		panic(fmt.Sprintf("engine: SampleTransition: obs %v: want [R O] with O ≥ 1", obs.shape))
	}
	rows, o = obs.shape[0], obs.shape[1]
	d := o + 1
	if next.Rank() != 2 || next.shape[0] != rows || next.shape[1] != o {
		panic(fmt.Sprintf("engine: SampleTransition: next %v for obs %v: want [%d %d]", next.shape, obs.shape, rows, o))
	}
	if reward.n != rows {
		panic(fmt.Sprintf("engine: SampleTransition: reward %v for obs %v: want %d elements ([%d 1])", reward.shape, obs.shape, rows, rows))
	}
	if out.Rank() != 2 || out.shape[0] != rows || out.shape[1] != 2*d {
		panic(fmt.Sprintf("engine: SampleTransition: out %v for obs %v: want [%d %d] (mean and log-variance of %d targets)",
			out.shape, obs.shape, rows, 2*d, d))
	}
	checkRowVector(op, "MaxLogVar", m.MaxLogVar, d)
	checkRowVector(op, "MinLogVar", m.MinLogVar, d)
	checkRowVector(op, "TargetMean", m.TargetMean, d)
	checkRowVector(op, "TargetStd", m.TargetStd, d)
	if rng == nil {
		panic("engine: SampleTransition: nil RNG")
	}
	checkCursorTensor(op, cur)
	checkWorkspace(op, ws, rows, d)
	inputs := []string{"out", "obs", "MaxLogVar", "MinLogVar", "TargetMean", "TargetStd", "cursor"}
	in := []*Tensor{out, obs, m.MaxLogVar, m.MinLogVar, m.TargetMean, m.TargetStd, cur}
	checkDisjointFrom(op, "next", next, append([]string{"reward"}, inputs...), append([]*Tensor{reward}, in...)...)
	checkDisjointFrom(op, "reward", reward, inputs, in...)
	checkWorkspaceDisjoint(op, ws, append([]string{"next", "reward"}, inputs...), append([]*Tensor{next, reward}, in...)...)
	return rows, o
}

// TerminationBox is a termination rule as a box over K elements of the
// observation (env.Termination's boxes): element Dims[j] is within when
// Low[j] ≤ x ≤ High[j] (NaN never is), and a row is inside the box when
// all K are within. With Inside false a transition terminates when its
// next observation is not inside the box (it left it: CartPole), with
// Inside true when it is (it reached it: MountainCar's goal). Dims is an
// Int32 tensor of K element indices in [0, O), Low and High Float32 tensors
// of K bounds; all three are nil for K = 0, a box that bounds nothing and
// that every row is inside, so that Inside false never terminates.
type TerminationBox struct {
	Dims, Low, High *Tensor
	Inside          bool
}

// TerminateCompacter is implemented by engines with a fused termination
// and compaction of the live rows.
type TerminateCompacter interface {
	// TerminateCompact has the contract of the function TerminateCompact.
	TerminateCompact(term, live, next *Tensor, box TerminationBox, cur *Tensor, ws *RolloutWorkspace)
}

// TerminateCompact ends the rows whose transition terminates and gathers
// the others: for each of the n live rows of the cursor cur it sets
// term[i] to 1 where next[i] (of [R, O]) terminates under box and 0 where
// it does not, and copies the n' rows that do not terminate to the front
// of live ([R, O]) in their order, live[r] = next[i_r] with i_0 < i_1 < …
// The cursor's second pair becomes (n', c). Rows of term from n on and of
// live from n' on are not written. term has R elements ([R, 1]); live must
// not overlap next, and neither term nor live may overlap any other
// operand.
//
// The generic path finds the flags with the primitives (CopyCols of the
// bounded elements, Binary(GE) against the bounds, a sum of the K
// indicators per row), downloads the dims and the n flags, and uploads the
// live rows' indices for a Gather. A fused implementation computes the
// flags and a prefix sum over them on the device.
func TerminateCompact(e Engine, term, live, next *Tensor, box TerminationBox, cur *Tensor, ws *RolloutWorkspace) {
	if t, ok := e.(TerminateCompacter); ok {
		t.TerminateCompact(term, live, next, box, cur, ws)
		return
	}
	const op = "TerminateCompact"
	rows, o, k := CheckTerminateCompact(term, live, next, box, cur, ws)
	n, c := ws.readCursor(e, op, cur, rows)
	kept := 0
	if n > 0 {
		flags := term.View(0, n, 1)
		if k == 0 {
			v := float32(0)
			if box.Inside {
				v = 1
			}
			e.Fill(flags, v)
		} else {
			dims := grow(&ws.dims, k)
			e.DownloadInt32(dims, box.Dims)
			CheckBoxDims(op, dims, o)
			nx := next.View(0, n, o)
			bounded, within, negHigh := ws.A.View(0, n, k), ws.B.View(0, n, k), ws.C.View(0, 1, k)
			for j, d := range dims {
				e.CopyCols(bounded, j, nx, int(d), 1)
			}
			// x ≤ high as −x ≥ −high, both negations exact: GE is the
			// only comparison among the primitives.
			e.Binary(GE, within, bounded, box.Low)
			e.Scale(negHigh, box.High, -1, 0)
			e.Scale(bounded, bounded, -1, 0)
			e.Binary(GE, bounded, bounded, negHigh)
			e.Binary(Mul, within, within, bounded)
			// The sum of the K indicators less K − 1, clamped to [0, 1]:
			// 1 exactly where all K are within.
			e.ReduceRows(Sum, flags, within)
			e.Scale(flags, flags, 1, float32(1-k))
			e.Clamp(flags, flags, 0, 1)
			if !box.Inside {
				e.Scale(flags, flags, -1, 1)
			}
		}
		f := growFloat32(&ws.flags, n)
		e.Download(f, flags)
		idx := ws.live[:0]
		for i, v := range f {
			if v == 0 {
				idx = append(idx, int32(i))
			}
		}
		ws.live = idx
		if kept = len(idx); kept > 0 {
			it := ws.Idx.View(0, kept)
			e.UploadInt32(it, idx)
			e.Gather(live.View(0, kept, o), next, it)
		}
	}
	ws.writeCursor(e, cur, kept, c)
}

// CheckBoxDims panics, naming op, unless every bounded element index is in
// [0, o). Host-side implementations of TerminateCompact call it on the
// dims they read.
func CheckBoxDims(op string, dims []int32, o int) {
	for j, d := range dims {
		if d < 0 || int(d) >= o {
			panic(fmt.Sprintf("engine: %s: the box bounds element %d (dims[%d]) of a %d-element observation", op, d, j, o))
		}
	}
}

// CheckTerminateCompact checks the operands of TerminateCompact and of an
// engine's TerminateCompacter: next is Float32 [R, O] with O ≥ 1, live
// Float32 [R, O], term Float32 with R elements; box.Dims is nil (then Low
// and High are too) or Int32 with K elements, and Low and High Float32 with
// K; cur is an Int32 cursor; ws holds R rows of K values; term and live
// are disjoint from each other and from every other operand, ws from every
// operand. It returns R, O and K. The dims' values are not checked.
func CheckTerminateCompact(term, live, next *Tensor, box TerminationBox, cur *Tensor, ws *RolloutWorkspace) (rows, o, k int) {
	const op = "TerminateCompact"
	checkFloat32(op, []string{"term", "live", "next"}, term, live, next)
	if next.Rank() != 2 || next.shape[1] < 1 {
		panic(fmt.Sprintf("engine: TerminateCompact: next %v: want [R O] with O ≥ 1", next.shape))
	}
	rows, o = next.shape[0], next.shape[1]
	if live.Rank() != 2 || live.shape[0] != rows || live.shape[1] != o {
		panic(fmt.Sprintf("engine: TerminateCompact: live %v for next %v: want [%d %d]", live.shape, next.shape, rows, o))
	}
	if term.n != rows {
		panic(fmt.Sprintf("engine: TerminateCompact: term %v for next %v: want %d elements ([%d 1])", term.shape, next.shape, rows, rows))
	}
	if box.Dims == nil {
		if box.Low != nil || box.High != nil {
			panic("engine: TerminateCompact: a box without Dims has bounds; want Low and High nil too")
		}
	} else {
		CheckDType(op, "box Dims", box.Dims, Int32)
		k = box.Dims.n
		checkRowVector(op, "box Low", box.Low, k)
		checkRowVector(op, "box High", box.High, k)
	}
	checkCursorTensor(op, cur)
	checkWorkspace(op, ws, rows, k)
	inputs := []string{"next", "box Dims", "box Low", "box High", "cursor"}
	in := []*Tensor{next, box.Dims, box.Low, box.High, cur}
	checkDisjointFrom(op, "live", live, append([]string{"term"}, inputs...), append([]*Tensor{term}, in...)...)
	checkDisjointFrom(op, "term", term, inputs, in...)
	checkWorkspaceDisjoint(op, ws, append([]string{"term", "live"}, inputs...), append([]*Tensor{term, live}, in...)...)
	return rows, o, k
}

func growFloat32(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}
