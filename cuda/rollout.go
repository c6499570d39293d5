//go:build cuda || cudaemu

package cuda

import "github.com/imago-rl/imago/engine"

var (
	_ engine.ActionSampler      = (*Engine)(nil)
	_ engine.MemberPicker       = (*Engine)(nil)
	_ engine.TransitionSampler  = (*Engine)(nil)
	_ engine.TerminateCompacter = (*Engine)(nil)
)

// The rollout ops of engine/rollout.go as the kernels of
// kernels/rollout_sample.cu and kernels/rollout_compact.cu: one launch
// each, two for TerminateCompact, and no transfer between host and device.
// The kernels read the cursor's live row count and stream offset on the
// device and write its second pair themselves, so a rollout's steps queue
// on the stream without the host waiting for any of them. A cursor out of
// range is clamped (n into [0, R], the offset to 0 or more) rather than
// checked: checking would need its value on the host.
//
// The grids are sized for all R rows of the operands, not the n live ones,
// which only the device knows; threads past the live rows do nothing.

// compactTile is the rows of one block of rollout_flags_f32 and
// rollout_compact_f32: a block's threads, one per row.
const compactTile = 256

// randomGrid returns the launch shape of a rollout fill over the Philox
// blocks of r rows of w draws: at least one thread, which writes the
// cursor.
func randomGrid(r, w int) (grid, block Dim3) { return gridStride(max(1, blocks(r*w, 4))) }

// SampleAction samples the policy's action for the cursor's live rows (see
// engine.SampleAction) in one launch of rollout_action_f32.
func (e *Engine) SampleAction(act, head *engine.Tensor, p engine.PolicyHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "SampleAction"
	rows, a := engine.CheckSampleAction(act, head, p, rng, cur, ws)
	ap, hp, cp := e.addr(op, act), e.addr(op, head), e.addr(op, cur)
	var sp, tp uintptr // null: no rescaling
	if p.Scale != nil {
		sp, tp = e.addr(op, p.Scale), e.addr(op, p.Shift)
	}
	lo, hi := p.LogStdMin, p.LogStdMax
	grid, block := randomGrid(rows, a)
	e.launch(op, "rollout_action_f32", grid, block, 0,
		ptrArg(ap), ptrArg(hp), ptrArg(sp), ptrArg(tp), ptrArg(cp),
		u64Arg(uint64(rows)), intArg(op, a), f32Arg((hi-lo)/2), f32Arg(lo+(hi-lo)/2),
		u64Arg(rng.Seed), u64Arg(rng.Counter))
}

// PickMembers draws every row's member pick (see engine.PickMembers) in
// one launch of rollout_pick_i32.
func (e *Engine) PickMembers(pick *engine.Tensor, k int, rng *engine.RNG, cur *engine.Tensor) {
	const op = "PickMembers"
	rows := engine.CheckPickMembers(pick, k, rng, cur)
	pp, cp := e.addr(op, pick), e.addr(op, cur)
	grid, block := randomGrid(rows, 1)
	e.launch(op, "rollout_pick_i32", grid, block, 0,
		ptrArg(pp), ptrArg(cp), u64Arg(uint64(rows)), u64Arg(uint64(k)), u64Arg(rng.Seed), u64Arg(rng.Counter))
}

// SampleTransition samples the model's Gaussian for the cursor's live rows
// (see engine.SampleTransition) in one launch of rollout_transition_f32.
func (e *Engine) SampleTransition(next, reward, out, obs *engine.Tensor, m engine.ModelHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "SampleTransition"
	rows, o := engine.CheckSampleTransition(next, reward, out, obs, m, rng, cur, ws)
	grid, block := randomGrid(rows, o+1)
	e.launch(op, "rollout_transition_f32", grid, block, 0,
		ptrArg(e.addr(op, next)), ptrArg(e.addr(op, reward)), ptrArg(e.addr(op, out)), ptrArg(e.addr(op, obs)),
		ptrArg(e.addr(op, m.MaxLogVar)), ptrArg(e.addr(op, m.MinLogVar)),
		ptrArg(e.addr(op, m.TargetMean)), ptrArg(e.addr(op, m.TargetStd)), ptrArg(e.addr(op, cur)),
		u64Arg(uint64(rows)), intArg(op, o), u64Arg(rng.Seed), u64Arg(rng.Counter))
}

// TerminateCompact sets the terminal flags of the cursor's live rows and
// gathers the rows that go on to the front of live, in order (see
// engine.TerminateCompact): rollout_flags_f32 flags the rows and counts
// each tile's survivors into ws.Idx, rollout_compact_f32 places each
// tile's survivors after those of the tiles before it.
func (e *Engine) TerminateCompact(term, live, next *engine.Tensor, box engine.TerminationBox, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "TerminateCompact"
	rows, o, k := engine.CheckTerminateCompact(term, live, next, box, cur, ws)
	tp, lp, np, cp := e.addr(op, term), e.addr(op, live), e.addr(op, next), e.addr(op, cur)
	var dp, lop, hip uintptr // null for the empty box
	if k > 0 {
		dp, lop, hip = e.addr(op, box.Dims), e.addr(op, box.Low), e.addr(op, box.High)
	}
	// One count per tile; ws holds at least rows ≥ tiles of them (and one
	// for no rows, where a single block still writes the cursor).
	counts := e.addr(op, ws.Idx)
	grid, block := Dim3{max(1, blocks(rows, compactTile)), 1, 1}, Dim3{compactTile, 1, 1}
	e.launch(op, "rollout_flags_f32", grid, block, 0,
		ptrArg(tp), ptrArg(counts), ptrArg(np), ptrArg(dp), ptrArg(lop), ptrArg(hip),
		intArg(op, k), boolArg(box.Inside), ptrArg(cp), u64Arg(uint64(rows)), intArg(op, o))
	e.launch(op, "rollout_compact_f32", grid, block, 0,
		ptrArg(lp), ptrArg(np), ptrArg(tp), ptrArg(counts), ptrArg(cp), u64Arg(uint64(rows)), intArg(op, o))
}
