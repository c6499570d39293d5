package cpu

import (
	"math"

	"github.com/imago-rl/imago/engine"
)

var (
	_ engine.ActionSampler      = (*Engine)(nil)
	_ engine.MemberPicker       = (*Engine)(nil)
	_ engine.TransitionSampler  = (*Engine)(nil)
	_ engine.TerminateCompacter = (*Engine)(nil)
)

// The rollout ops (engine/rollout.go) as one parallel loop each over the
// live rows, in place of the generic path's dozen passes over the batch and
// its host round trips. The CPU engine's cursor is host memory, so it reads
// the live row count where it is. Each op computes every value with exactly
// the float32 and float64 operations, in the same order, that the
// primitives of its generic path apply on this engine (activate's tanh and
// softplus and unary's exp, called on blocks of rows; Scale's float64
// multiply-add; Binary's float32 arithmetic, each product rounded on its
// own; RandNormal's Box–Muller), so that the fused op and the generic path
// agree bit for bit (TestRolloutOpsMatchGenericBits).
//
// The transcendental functions are most of the time, so the gain over the
// generic path is modest (BenchmarkRolloutOps compares the two; on the
// development VM the four ops took about 10% less CPU time than their
// generic paths on 10⁵ rows). The stages run activate's and unary's own
// loops on blocks of rows because calling a helper per element for tanh
// or softplus measured twice as slow as those loops.

// cursor reads the first pair of cur and checks it against rows; it
// returns the pair and the second pair to write.
func (e *Engine) cursor(op string, cur *engine.Tensor, rows int) (n, c int, next []int32) {
	p := e.ints(op, cur)
	n, c = int(p[0]), int(p[1])
	engine.CheckCursor(op, n, c, rows)
	return n, c, p[2:4]
}

// Work estimates per element for parallelFor, in adds: a draw and the
// transcendentals that follow it.
const (
	costAction     = costPhiloxWord + 3*costTranscend // tanh, exp, tanh
	costTransition = costPhiloxWord + 3*costTranscend // softplus, softplus, exp
)

// normalPair returns the two draws of RandNormal(0, 1) that the words w0,
// w1 of a Philox block give, exactly as the engine's RandNormal computes
// them (and engine.NormalAt defines them).
func normalPair(w0, w1 uint32) (z0, z1 float32) {
	const mu, sigma = 0.0, 1.0
	u1 := (float64(w0) + 1) * 0x1p-32
	u2 := float64(w1) * 0x1p-32
	r := math.Sqrt(-2 * math.Log(u1))
	z0 = float32(mu + sigma*(r*math.Cos(2*math.Pi*u2)))
	z1 = float32(mu + sigma*(r*math.Sin(2*math.Pi*u2)))
	return z0, z1
}

// normalRange sets dst[k] to element from+k of a RandNormal(0, 1) fill
// from counter start under key, for every k < len(dst): the Philox blocks
// that cover those elements, each pair of draws as normalPair gives it. A
// block that straddles the range's ends is computed for the draws inside;
// a neighbouring range computes it again for its own.
func normalRange(dst []float32, key [2]uint32, start uint64, from int) {
	end := from + len(dst)
	for blk := from / 4; 4*blk < end; blk++ {
		b := philoxBlock(key, start+uint64(blk))
		for k := 0; k < 4; k += 2 {
			i := 4*blk + k
			if i+1 < from || i >= end {
				continue
			}
			z0, z1 := normalPair(b[k], b[k+1])
			if i >= from {
				dst[i-from] = z0
			}
			if i+1 >= from && i+1 < end {
				dst[i+1-from] = z1
			}
		}
	}
}

// rolloutBlock is the rows the fused ops take through their stages at a
// time, so that a block's values stay in cache between the stages.
const rolloutBlock = 256

// scaleInPlace is Scale on v: alpha·x + beta in float64, rounded.
func scaleInPlace(v []float32, alpha, beta float32) {
	al, be := float64(alpha), float64(beta)
	for i, x := range v {
		v[i] = float32(al*float64(x) + be)
	}
}

// SampleAction samples the policy's action for the cursor's live rows (see
// engine.SampleAction) in one parallel pass, the noise drawn into ws.A.
func (e *Engine) SampleAction(act, head *engine.Tensor, p engine.PolicyHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "SampleAction"
	rows, a := engine.CheckSampleAction(act, head, p, rng, cur, ws)
	n, c, after := e.cursor(op, cur, rows)
	next := engine.CheckCursorAdvance(op, c, engine.Counters(n*a))
	ad, hd := e.floats(op, act), e.floats(op, head)
	var scale, shift []float32
	if p.Scale != nil {
		scale, shift = e.floats(op, p.Scale), e.floats(op, p.Shift)
	}
	// The noise of rows [first, last) goes to the same rows of ws.A (host
	// memory here); then blocks of rows go through the stages of the
	// generic path with its own loops (activate, unary), σ in ws.B and the
	// action in act itself.
	eps, sig := e.floats(op, ws.A)[:n*a], e.floats(op, ws.B)[:n*a]
	key, start := philoxKey(rng.Seed), rng.Counter+uint64(c)
	lo, hi := p.LogStdMin, p.LogStdMax
	alpha, beta := (hi-lo)/2, lo+(hi-lo)/2
	parallelFor(n, n*a*costAction, func(first, last int) {
		normalRange(eps[first*a:last*a], key, start, first*a)
		for b0 := first; b0 < last; b0 += rolloutBlock {
			b1 := min(b0+rolloutBlock, last)
			s, z, y := sig[b0*a:b1*a], eps[b0*a:b1*a], ad[b0*a:b1*a]
			for i := b0; i < b1; i++ {
				copy(s[(i-b0)*a:(i-b0+1)*a], hd[i*2*a+a:(i+1)*2*a])
			}
			activate(engine.Tanh, s, s)
			scaleInPlace(s, alpha, beta)
			unary(engine.Exp, s, s)
			for i := b0; i < b1; i++ {
				k := (i - b0) * a
				for j, mu := range hd[i*2*a : i*2*a+a] {
					y[k+j] = float32(s[k+j]*z[k+j]) + mu
				}
			}
			activate(engine.Tanh, y, y)
			if scale != nil {
				for k := 0; k < len(y); k += a {
					for j, v := range y[k : k+a] {
						y[k+j] = float32(v*scale[j]) + shift[j]
					}
				}
			}
		}
	})
	after[0], after[1] = int32(n), int32(next)
}

// PickMembers draws every row's pick (see engine.PickMembers), as RandInt
// does, from the cursor's counter.
func (e *Engine) PickMembers(pick *engine.Tensor, k int, rng *engine.RNG, cur *engine.Tensor) {
	const op = "PickMembers"
	rows := engine.CheckPickMembers(pick, k, rng, cur)
	n, c, after := e.cursor(op, cur, rows)
	next := engine.CheckCursorAdvance(op, c, engine.Counters(n))
	d := e.ints(op, pick)
	fillBlocks(rows, rng.Seed, rng.Counter+uint64(c), func(j int, b [4]uint32) {
		for q := 0; q < 4 && 4*j+q < rows; q++ {
			d[4*j+q] = int32((uint64(b[q]) * uint64(k)) >> 32)
		}
	})
	after[0], after[1] = int32(n), int32(next)
}

// SampleTransition samples the model's Gaussian for the cursor's live rows
// (see engine.SampleTransition) in one parallel pass, the noise drawn into
// ws.A.
func (e *Engine) SampleTransition(next, reward, out, obs *engine.Tensor, m engine.ModelHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "SampleTransition"
	rows, o := engine.CheckSampleTransition(next, reward, out, obs, m, rng, cur, ws)
	d := o + 1
	n, c, after := e.cursor(op, cur, rows)
	advanced := engine.CheckCursorAdvance(op, c, engine.Counters(n*d))
	nd, rd, od, xd := e.floats(op, next), e.floats(op, reward), e.floats(op, out), e.floats(op, obs)
	mx, mn := e.floats(op, m.MaxLogVar), e.floats(op, m.MinLogVar)
	ym, ys := e.floats(op, m.TargetMean), e.floats(op, m.TargetStd)
	// As SampleAction: the noise in ws.A, the log-variance in ws.B,
	// blocks of rows through the generic path's stages.
	eps, lv := e.floats(op, ws.A)[:n*d], e.floats(op, ws.B)[:n*d]
	key, start := philoxKey(rng.Seed), rng.Counter+uint64(c)
	parallelFor(n, n*d*costTransition, func(first, last int) {
		normalRange(eps[first*d:last*d], key, start, first*d)
		for b0 := first; b0 < last; b0 += rolloutBlock {
			b1 := min(b0+rolloutBlock, last)
			t := lv[b0*d : b1*d]
			// lv = min + softplus(max − softplus(max − raw) − min),
			// each negation a Scale(−1, 0) as in the generic path.
			for i := b0; i < b1; i++ {
				row, u := od[i*2*d+d:(i+1)*2*d], t[(i-b0)*d:(i-b0+1)*d]
				for j := range u {
					u[j] = row[j] - mx[j]
				}
			}
			scaleInPlace(t, -1, 0)
			activate(engine.Softplus, t, t)
			for k := 0; k < len(t); k += d {
				for j, v := range t[k : k+d] {
					t[k+j] = v - mx[j]
				}
			}
			scaleInPlace(t, -1, 0)
			for k := 0; k < len(t); k += d {
				for j, v := range t[k : k+d] {
					t[k+j] = v - mn[j]
				}
			}
			activate(engine.Softplus, t, t)
			for k := 0; k < len(t); k += d {
				for j, v := range t[k : k+d] {
					t[k+j] = v + mn[j]
				}
			}
			scaleInPlace(t, 0.5, 0)
			unary(engine.Exp, t, t)
			for i := b0; i < b1; i++ {
				k := (i - b0) * d
				z := eps[i*d : (i+1)*d]
				for j, mean := range od[i*2*d : i*2*d+d] {
					y := mean + float32(z[j]*t[k+j])
					y = float32(y*ys[j]) + ym[j]
					if j < o {
						nd[i*o+j] = y + xd[i*o+j]
					} else {
						rd[i] = y
					}
				}
			}
		}
	})
	after[0], after[1] = int32(n), int32(advanced)
}

// TerminateCompact sets the terminal flags of the cursor's live rows and
// copies the rows that go on to the front of live, in order (see
// engine.TerminateCompact), in one sequential pass: the copies are bound
// by memory bandwidth, which one core all but saturates.
func (e *Engine) TerminateCompact(term, live, next *engine.Tensor, box engine.TerminationBox, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	const op = "TerminateCompact"
	rows, o, k := engine.CheckTerminateCompact(term, live, next, box, cur, ws)
	n, c, after := e.cursor(op, cur, rows)
	var dims []int32
	var low, high []float32
	if k > 0 {
		dims, low, high = e.ints(op, box.Dims), e.floats(op, box.Low), e.floats(op, box.High)
		engine.CheckBoxDims(op, dims, o)
	}
	td, ld, nd := e.floats(op, term), e.floats(op, live), e.floats(op, next)
	kept := 0
	for i := range n {
		row := nd[i*o : (i+1)*o]
		inside := true
		for j, dim := range dims {
			if x := row[dim]; !(x >= low[j] && x <= high[j]) {
				inside = false
				break
			}
		}
		if inside == box.Inside {
			td[i] = 1
			continue
		}
		td[i] = 0
		copy(ld[kept*o:(kept+1)*o], row)
		kept++
	}
	after[0], after[1] = int32(kept), int32(c)
}
