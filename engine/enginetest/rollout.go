package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// rolloutCases are the operand sizes of the rollout ops: R rows of which
// the cursor makes n live. They cover operands of no rows, no live row,
// every row live, one row, and batches over several blocks of a GPU's 256
// threads (1031), so that a compaction's counts of earlier blocks are
// exercised.
var rolloutCases = []struct{ r, n int }{
	{0, 0}, {1, 1}, {17, 0}, {17, 17}, {257, 200}, {1031, 1000},
}

// unwritten is the value the tests put in the rows an op must not write.
const unwritten = 777

// testRollout checks the rollout ops of engine/rollout.go, on the engine's
// fused ops where it has them and on the generic paths through the
// primitives: each against a float64 reference that draws its noise with
// engine.NormalAt and engine.IntAt at the cursor's counter (so a fill from
// another counter or in another order fails by O(1)), the cursor's second
// pair exactly, and the rows past the live ones untouched. Chain runs the
// four ops of a rollout step through one cursor tensor on both paths and
// compares them with each other.
func (s *suite) testRollout(t *testing.T) {
	paths := []struct {
		name string
		e    engine.Engine
	}{{"engine", s.e}, {"generic", primitives{s.e}}}
	for ci, c := range rolloutCases {
		for pi, p := range paths {
			l := layouts[(ci+pi)%2] // each path sees both layouts
			name := fmt.Sprintf("R=%d,n=%d/%s/%v", c.r, c.n, p.name, l)
			t.Run("SampleAction/"+name, func(t *testing.T) { s.sampleActionCase(t, p.e, l, c.r, c.n) })
			t.Run("PickMembers/"+name, func(t *testing.T) { s.pickMembersCase(t, p.e, l, c.r, c.n) })
			t.Run("SampleTransition/"+name, func(t *testing.T) { s.sampleTransitionCase(t, p.e, l, c.r, c.n) })
			for _, box := range terminationBoxes {
				t.Run(fmt.Sprintf("TerminateCompact/%s/%s", box.name, name), func(t *testing.T) {
					s.terminateCompactCase(t, p.e, l, c.r, c.n, box.dims, box.inside)
				})
			}
		}
	}
	t.Run("Chain", s.rolloutChain)
	for _, p := range paths {
		t.Run("panics/"+p.name, func(t *testing.T) { s.rolloutPanics(t, p.e) })
	}
	t.Run("panics/generic-cursor", s.rolloutCursorPanics)
}

// rolloutRNG returns a stream at a random counter and a cursor offset, and
// the counter the cursor's fill starts at.
func rolloutRNG(r *rand.Rand) (rng *engine.RNG, c int, start uint64) {
	rng = &engine.RNG{Seed: r.Uint64(), Counter: r.Uint64N(1 << 40)}
	c = r.IntN(1000)
	return rng, c, rng.Counter + uint64(c)
}

// cursor allocates a cursor holding (n, c) and a second pair that the op
// must overwrite.
func (s *suite) cursor(t *testing.T, r *rand.Rand, l layout, n, c int) *buf {
	b := s.alloc(t, r, l, engine.Int32, 4)
	b.setInt32([]int32{int32(n), int32(c), -7, -9})
	return b
}

// checkCursor reports an error unless the cursor holds the pair it was
// given and then (n, c).
func checkCursor(t *testing.T, cur *buf, n, c int) {
	t.Helper()
	in := cur.hostInt32()
	sameInt32(t, "cursor (n, c, n', c')", cur.readInt32(t), []int32{in[0], in[1], int32(n), int32(c)})
}

// checkRNG reports an error if an op changed rng: the rollout ops read it.
func checkRNG(t *testing.T, rng *engine.RNG, seed, counter uint64) {
	t.Helper()
	if rng.Seed != seed || rng.Counter != counter {
		t.Errorf("RNG changed from {%d %d} to {%d %d}; the rollout ops must not advance it", seed, counter, rng.Seed, rng.Counter)
	}
}

// checkUnwritten reports an error unless elements [from, len) of got hold
// the value unwritten.
func checkUnwritten(t *testing.T, what string, got []float32, from int) {
	t.Helper()
	same(t, what+" past the live rows (must not be written)", got[from:], constant(len(got)-from, unwritten))
}

func (s *suite) workspace(t *testing.T, rows, width int) *engine.RolloutWorkspace {
	ws := engine.NewRolloutWorkspace(s.e, rows+3, width+1) // larger than needed
	t.Cleanup(func() { ws.Free(s.e) })
	return ws
}

// sampleActionCase checks SampleAction with A = 3 without and then with a
// rescaling, with the log-std bounds of nn.Policy's default and of SAC's
// common [−20, 2].
func (s *suite) sampleActionCase(t *testing.T, eng engine.Engine, l layout, rows, n int) {
	r := s.rand(t)
	const a = 3
	ws := s.workspace(t, rows, a)
	for _, rescale := range []bool{false, true} {
		lo, hi := float32(-5), float32(2)
		if rescale {
			lo = -20
		}
		head := s.alloc(t, r, l, engine.Float32, rows, 2*a)
		hv := head.rand(r, -2, 2)
		p := engine.PolicyHead{LogStdMin: lo, LogStdMax: hi}
		var sc, sh []float32
		var scale, shift *buf
		if rescale {
			scale, shift = s.alloc(t, r, l, engine.Float32, 1, a), s.alloc(t, r, l, engine.Float32, 1, a)
			sc, sh = scale.rand(r, 0.5, 2), shift.rand(r, -1, 1)
			p.Scale, p.Shift = scale.t, shift.t
		}
		act := s.alloc(t, r, l, engine.Float32, rows, a)
		act.set(constant(rows*a, unwritten))
		rng, c, start := rolloutRNG(r)
		cur := s.cursor(t, r, l, n, c)
		seed, counter := rng.Seed, rng.Counter

		engine.SampleAction(eng, act.t, head.t, p, rng, cur.t, ws)

		want, mag := sampleActionRef(hv, n, a, lo, hi, sc, sh, seed, start)
		got := act.read(t)
		if n > 0 {
			near(t, fmt.Sprintf("act (rescale %t)", rescale), got[:n*a], want, mag)
		}
		checkUnwritten(t, "act", got, n*a)
		checkCursor(t, cur, n, c+engine.Counters(n*a))
		checkRNG(t, rng, seed, counter)
		head.unchanged(t, "head")
		if rescale {
			scale.unchanged(t, "Scale")
			shift.unchanged(t, "Shift")
		}
	}
}

// sampleActionRef is the float64 reference of SampleAction for the first n
// rows, with the magnitude of the terms of each value (see tol): the
// rounding of log σ is of the order of its terms |lo| + |hi| and reaches
// σ·ε relatively; tanh scales what reaches its argument by 1 − a².
func sampleActionRef(head []float32, n, a int, lo, hi float32, scale, shift []float32, seed, start uint64) (want, mag []float64) {
	want, mag = make([]float64, n*a), make([]float64, n*a)
	l, h := float64(lo), float64(hi)
	for i := range n {
		for j := range a {
			eps := float64(engine.NormalAt(seed, start, i*a+j, 0, 1))
			mu, raw := float64(head[i*2*a+j]), float64(head[i*2*a+a+j])
			sigma := math.Exp(l + (h-l)/2*(math.Tanh(raw)+1))
			v := math.Tanh(mu + sigma*eps)
			m := (1-v*v)*(math.Abs(mu)+math.Abs(sigma*eps)*(math.Abs(l)+math.Abs(h)+4)) + math.Abs(v)
			if scale != nil {
				sc, sh := float64(scale[j]), float64(shift[j])
				m = math.Abs(sc)*m + math.Abs(sh)
				v = v*sc + sh
			}
			want[i*a+j], mag[i*a+j] = v, m
		}
	}
	return want, mag
}

// pickMembersCase checks PickMembers exactly: every one of the R picks is
// IntAt at the cursor's counter, and the cursor advances by the live rows'
// counters only.
func (s *suite) pickMembersCase(t *testing.T, eng engine.Engine, l layout, rows, n int) {
	r := s.rand(t)
	for _, k := range []int{1, 5, 7} {
		pick := s.alloc(t, r, l, engine.Int32, rows)
		rng, c, start := rolloutRNG(r)
		cur := s.cursor(t, r, l, n, c)
		seed, counter := rng.Seed, rng.Counter

		engine.PickMembers(eng, pick.t, k, rng, cur.t)

		want := make([]int32, rows)
		for i := range want {
			want[i] = engine.IntAt(seed, start, i, k)
		}
		sameInt32(t, fmt.Sprintf("pick (k = %d)", k), pick.readInt32(t), want)
		checkCursor(t, cur, n, c+engine.Counters(n))
		checkRNG(t, rng, seed, counter)
	}
}

// sampleTransitionCase checks SampleTransition with O = 5 observations:
// standardised means in [−1, 1], raw log-variances in [−4, 2] against
// bounds like nn.Ensemble's (max near 0.5, min near −10), target
// standardisers of scales 0.1 to 2.
func (s *suite) sampleTransitionCase(t *testing.T, eng engine.Engine, l layout, rows, n int) {
	r := s.rand(t)
	const o, d = 5, 6
	ws := s.workspace(t, rows, d)
	out := s.alloc(t, r, l, engine.Float32, rows, 2*d)
	ov := make([]float32, rows*2*d)
	for i := range rows {
		copy(ov[i*2*d:], uniform(r, d, -1, 1))
		copy(ov[i*2*d+d:], uniform(r, d, -4, 2))
	}
	out.set(ov)
	obs := s.alloc(t, r, l, engine.Float32, rows, o)
	xv := obs.rand(r, -2, 2)
	mx, mn := s.alloc(t, r, l, engine.Float32, 1, d), s.alloc(t, r, l, engine.Float32, 1, d)
	ym, ys := s.alloc(t, r, l, engine.Float32, 1, d), s.alloc(t, r, l, engine.Float32, 1, d)
	m := engine.ModelHead{MaxLogVar: mx.t, MinLogVar: mn.t, TargetMean: ym.t, TargetStd: ys.t}
	mxv, mnv, ymv, ysv := mx.rand(r, 0.2, 1), mn.rand(r, -10, -5), ym.rand(r, -1, 1), ys.rand(r, 0.1, 2)
	next, reward := s.alloc(t, r, l, engine.Float32, rows, o), s.alloc(t, r, l, engine.Float32, rows, 1)
	next.set(constant(rows*o, unwritten))
	reward.set(constant(rows, unwritten))
	rng, c, start := rolloutRNG(r)
	cur := s.cursor(t, r, l, n, c)
	seed, counter := rng.Seed, rng.Counter

	engine.SampleTransition(eng, next.t, reward.t, out.t, obs.t, m, rng, cur.t, ws)

	wantNext, magNext, wantReward, magReward := sampleTransitionRef(ov, xv, n, o, mxv, mnv, ymv, ysv, seed, start)
	gotNext, gotReward := next.read(t), reward.read(t)
	if n > 0 {
		near(t, "next", gotNext[:n*o], wantNext, magNext)
		near(t, "reward", gotReward[:n], wantReward, magReward)
	}
	checkUnwritten(t, "next", gotNext, n*o)
	checkUnwritten(t, "reward", gotReward, n)
	checkCursor(t, cur, n, c+engine.Counters(n*d))
	checkRNG(t, rng, seed, counter)
	for _, in := range []struct {
		name string
		b    *buf
	}{{"out", out}, {"obs", obs}, {"MaxLogVar", mx}, {"MinLogVar", mn}, {"TargetMean", ym}, {"TargetStd", ys}} {
		in.b.unchanged(t, in.name)
	}
}

// sampleTransitionRef is the float64 reference of SampleTransition for the
// first n rows, with the magnitudes of the terms: the rounding of lv is of
// the order of |min| + |max| + |raw| + |lv| and reaches exp(lv/2)·ε
// relatively.
func sampleTransitionRef(out, obs []float32, n, o int, mx, mn, ym, ys []float32, seed, start uint64) (next, magNext, reward, magReward []float64) {
	d := o + 1
	next, magNext = make([]float64, n*o), make([]float64, n*o)
	reward, magReward = make([]float64, n), make([]float64, n)
	softplus := func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }
	for i := range n {
		for j := range d {
			eps := float64(engine.NormalAt(seed, start, i*d+j, 0, 1))
			mean, raw := float64(out[i*2*d+j]), float64(out[i*2*d+d+j])
			hi, lo := float64(mx[j]), float64(mn[j])
			lv := lo + softplus(hi-softplus(hi-raw)-lo)
			sd := math.Exp(lv / 2)
			y := float64(ys[j])*(mean+sd*eps) + float64(ym[j])
			magSd := sd * (1 + math.Abs(lo) + math.Abs(hi) + math.Abs(raw) + math.Abs(lv))
			magY := math.Abs(float64(ys[j]))*(math.Abs(mean)+math.Abs(eps)*magSd) + math.Abs(float64(ym[j])) + math.Abs(y)
			if j < o {
				x := float64(obs[i*o+j])
				next[i*o+j] = x + y
				magNext[i*o+j] = magY + math.Abs(x) + math.Abs(x+y)
			} else {
				reward[i], magReward[i] = y, magY
			}
		}
	}
	return next, magNext, reward, magReward
}

// terminationBoxes are the boxes of the TerminateCompact cases over O = 5
// observations: none (K = 0) leaving or entering, one bounded element, and
// three with a repeated one.
var terminationBoxes = []struct {
	name   string
	dims   []int32
	inside bool
}{
	{"K=0,outside", nil, false},
	{"K=0,inside", nil, true},
	{"K=1,outside", []int32{2}, false},
	{"K=3,outside", []int32{4, 0, 4}, false},
	{"K=3,inside", []int32{1, 3, 0}, true},
}

// terminateCompactCase checks TerminateCompact exactly against the rule in
// float64 on the same values (float32 comparisons are exact): observations
// from [−2, 2] with one element in five replaced by a bound, the float32
// next to it, NaN or ±Inf, bounds with an infinite side now and then.
func (s *suite) terminateCompactCase(t *testing.T, eng engine.Engine, l layout, rows, n int, dims []int32, inside bool) {
	r := s.rand(t)
	const o = 5
	k := len(dims)
	ws := s.workspace(t, rows, k)
	var box engine.TerminationBox
	box.Inside = inside
	low, high := make([]float32, k), make([]float32, k)
	if k > 0 {
		for j := range k {
			low[j], high[j] = float32(-1.5+r.Float64()), float32(0.5+r.Float64())
			switch r.IntN(5) {
			case 0:
				low[j] = float32(math.Inf(-1))
			case 1:
				high[j] = float32(math.Inf(1))
			}
		}
		db, lb, hb := s.alloc(t, r, l, engine.Int32, k), s.alloc(t, r, l, engine.Float32, 1, k), s.alloc(t, r, l, engine.Float32, 1, k)
		db.setInt32(dims)
		lb.set(low)
		hb.set(high)
		box.Dims, box.Low, box.High = db.t, lb.t, hb.t
	}
	nv := uniform(r, rows*o, -2, 2)
	for i := range nv {
		if r.IntN(5) != 0 {
			continue
		}
		col := i % o
		bound := float32(r.Float64())
		for j, dim := range dims {
			if int(dim) == col {
				bound = [2]float32{low[j], high[j]}[r.IntN(2)]
			}
		}
		nv[i] = [6]float32{
			bound, math.Nextafter32(bound, float32(math.Inf(1))), math.Nextafter32(bound, float32(math.Inf(-1))),
			float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		}[r.IntN(6)]
	}
	next := s.alloc(t, r, l, engine.Float32, rows, o)
	next.set(nv)
	term, live := s.alloc(t, r, l, engine.Float32, rows, 1), s.alloc(t, r, l, engine.Float32, rows, o)
	term.set(constant(rows, unwritten))
	live.set(constant(rows*o, unwritten))
	c := r.IntN(1000)
	cur := s.cursor(t, r, l, n, c)

	engine.TerminateCompact(eng, term.t, live.t, next.t, box, cur.t, ws)

	wantTerm := make([]float32, n)
	var wantLive []float32
	for i := range n {
		row := to64(nv[i*o : (i+1)*o])
		in := true
		for j, dim := range dims {
			if x := row[dim]; !(x >= float64(low[j]) && x <= float64(high[j])) {
				in = false
			}
		}
		if in == inside {
			wantTerm[i] = 1
		} else {
			wantLive = append(wantLive, nv[i*o:(i+1)*o]...)
		}
	}
	kept := len(wantLive) / o
	gotTerm, gotLive := term.read(t), live.read(t)
	same(t, "term", gotTerm[:n], wantTerm)
	checkUnwritten(t, "term", gotTerm, n)
	same(t, "live (the rows that go on, in order)", gotLive[:kept*o], wantLive)
	checkUnwritten(t, "live", gotLive, kept*o)
	checkCursor(t, cur, kept, c)
	next.unchanged(t, "next")
	// Each bounded element is within with a probability of about 0.3 or
	// more, so in 1000 rows some are inside every box and some outside.
	if n >= 1000 && k > 0 && (kept == 0 || kept == n) {
		t.Errorf("%d of %d rows go on: the case needs some of each", kept, n)
	}
}

// rolloutChain runs the four ops of one rollout step, chained through the
// cursors of one Int32 tensor, on the engine and on the generic path from
// the same inputs: the same draws, so the same values within float32
// rounding (tol, relative to the magnitude of the values), the same picks,
// and each path's compaction exactly that of its own successors.
func (s *suite) rolloutChain(t *testing.T) {
	r := s.rand(t)
	const rows, n, o, a, d = 300, 290, 5, 2, 6
	head := uniform(r, rows*2*a, -2, 2)
	out := uniform(r, rows*2*d, -1, 1)
	obs := uniform(r, rows*o, -1, 1)
	bounds := [4][]float32{uniform(r, d, 0.2, 1), uniform(r, d, -10, -5), uniform(r, d, -0.1, 0.1), uniform(r, d, 0.1, 0.5)}
	rng, c, _ := rolloutRNG(r)
	type result struct {
		act, next, reward, term, live []float32
		pick, chain                   []int32
	}
	run := func(eng engine.Engine) result {
		up := func(v []float32, shape ...int) *engine.Tensor {
			x := s.e.New(engine.Float32, shape...)
			s.e.Upload(x, v)
			t.Cleanup(func() { s.e.Free(x) })
			return x
		}
		ht, ot, xt := up(head, rows, 2*a), up(out, rows, 2*d), up(obs, rows, o)
		m := engine.ModelHead{
			MaxLogVar: up(bounds[0], 1, d), MinLogVar: up(bounds[1], 1, d),
			TargetMean: up(bounds[2], 1, d), TargetStd: up(bounds[3], 1, d),
		}
		dims := s.e.New(engine.Int32, 2)
		s.e.UploadInt32(dims, []int32{0, 3})
		t.Cleanup(func() { s.e.Free(dims) })
		box := engine.TerminationBox{Dims: dims, Low: up([]float32{-1, -1}, 2), High: up([]float32{1, 1}, 2)}
		act, nx, rw := up(make([]float32, rows*a), rows, a), up(make([]float32, rows*o), rows, o), up(make([]float32, rows), rows, 1)
		term, live := up(make([]float32, rows), rows, 1), up(make([]float32, rows*o), rows, o)
		pick := s.e.New(engine.Int32, rows)
		chain := s.e.New(engine.Int32, 10)
		s.e.UploadInt32(chain, []int32{n, int32(c), 0, 0, 0, 0, 0, 0, 0, 0})
		t.Cleanup(func() { s.e.Free(pick); s.e.Free(chain) })
		ws := s.workspace(t, rows, d)

		engine.SampleAction(eng, act, ht, engine.PolicyHead{LogStdMin: -5, LogStdMax: 2}, rng, engine.Cursor(chain, 0), ws)
		engine.PickMembers(eng, pick, 5, rng, engine.Cursor(chain, 1))
		engine.SampleTransition(eng, nx, rw, ot, xt, m, rng, engine.Cursor(chain, 2), ws)
		engine.TerminateCompact(eng, term, live, nx, box, engine.Cursor(chain, 3), ws)

		get := func(x *engine.Tensor) []float32 { v := make([]float32, x.Len()); s.e.Download(v, x); return v }
		res := result{act: get(act), next: get(nx), reward: get(rw), term: get(term), live: get(live)}
		res.pick, res.chain = make([]int32, rows), make([]int32, 10)
		s.e.DownloadInt32(res.pick, pick)
		s.e.DownloadInt32(res.chain, chain)
		return res
	}
	fused, generic := run(s.e), run(primitives{s.e})

	within := func(what string, got, want []float32) {
		t.Helper()
		mag := make([]float64, len(want))
		for i, v := range want {
			mag[i] = math.Abs(float64(v)) + 1 // values O(1); an error of order 1 is a wrong draw
		}
		near(t, what+": engine against the generic path", got, to64(want), mag)
	}
	within("act", fused.act[:n*a], generic.act[:n*a])
	within("next", fused.next[:n*o], generic.next[:n*o])
	within("reward", fused.reward[:n], generic.reward[:n])
	sameInt32(t, "pick: engine against the generic path", fused.pick, generic.pick)
	for _, res := range []struct {
		name string
		res  result
	}{{"engine", fused}, {"generic", generic}} {
		kept := 0
		var live []float32
		for i := range n {
			row := res.res.next[i*o : (i+1)*o]
			if math.Abs(float64(row[0])) <= 1 && math.Abs(float64(row[3])) <= 1 {
				live = append(live, row...)
				kept++
			}
		}
		c1 := c + engine.Counters(n*a)
		c2 := c1 + engine.Counters(n)
		c3 := c2 + engine.Counters(n*d)
		sameInt32(t, res.name+": the chain's cursor pairs", res.res.chain, []int32{n, int32(c), n, int32(c1), n, int32(c2), n, int32(c3), int32(kept), int32(c3)})
		same(t, res.name+": the live rows", res.res.live[:kept*o], live)
		if kept == 0 || kept == n {
			t.Errorf("%s: %d of %d rows go on: the chain needs some of each", res.name, kept, n)
		}
	}
}

// rolloutPanics checks that the rollout ops reject operands of the wrong
// shape or dtype, overlapping outputs and a workspace too small, on the
// path of e, before touching any data.
func (s *suite) rolloutPanics(t *testing.T, e engine.Engine) {
	var allocs []*engine.Tensor
	f32 := func(shape ...int) *engine.Tensor {
		x := s.e.New(engine.Float32, shape...)
		allocs = append(allocs, x)
		return x
	}
	i32 := func(n int) *engine.Tensor {
		x := s.e.New(engine.Int32, n)
		allocs = append(allocs, x)
		return x
	}
	ws := engine.NewRolloutWorkspace(s.e, 5, 6)
	defer func() {
		for _, x := range allocs {
			s.e.Free(x)
		}
		ws.Free(s.e)
	}()
	rng := engine.NewRNG(1)
	cur := func() *engine.Tensor {
		c := i32(4)
		s.e.UploadInt32(c, []int32{5, 0, 0, 0})
		return c
	}
	head := engine.PolicyHead{LogStdMin: -5, LogStdMax: 2}
	model := func() engine.ModelHead {
		return engine.ModelHead{MaxLogVar: f32(1, 3), MinLogVar: f32(1, 3), TargetMean: f32(1, 3), TargetStd: f32(1, 3)}
	}
	box := func() engine.TerminationBox {
		return engine.TerminationBox{Dims: i32(1), Low: f32(1), High: f32(1)}
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"action/act-rank", func() { engine.SampleAction(e, f32(10), f32(5, 4), head, rng, cur(), ws) }},
		{"action/head", func() { engine.SampleAction(e, f32(5, 2), f32(5, 3), head, rng, cur(), ws) }},
		{"action/head-rows", func() { engine.SampleAction(e, f32(5, 2), f32(4, 4), head, rng, cur(), ws) }},
		{"action/scale-only", func() {
			engine.SampleAction(e, f32(5, 2), f32(5, 4), engine.PolicyHead{Scale: f32(1, 2)}, rng, cur(), ws)
		}},
		{"action/shift-length", func() {
			engine.SampleAction(e, f32(5, 2), f32(5, 4), engine.PolicyHead{Scale: f32(1, 2), Shift: f32(1, 3)}, rng, cur(), ws)
		}},
		{"action/nil-rng", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, nil, cur(), ws) }},
		{"action/cursor-length", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, i32(2), ws) }},
		{"action/cursor-dtype", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, f32(4), ws) }},
		{"action/workspace-rows", func() { engine.SampleAction(e, f32(6, 2), f32(6, 4), head, rng, cur(), ws) }},
		{"action/workspace-width", func() { engine.SampleAction(e, f32(5, 7), f32(5, 14), head, rng, cur(), ws) }},
		{"action/act-in-head", func() {
			h := f32(5, 4)
			engine.SampleAction(e, h.View(0, 5, 2), h, head, rng, cur(), ws)
		}},
		{"action/head-in-workspace", func() { engine.SampleAction(e, f32(2, 2), ws.A.View(0, 2, 4), head, rng, cur(), ws) }},
		{"pick/dtype", func() { engine.PickMembers(e, f32(5), 3, rng, cur()) }},
		{"pick/k", func() { engine.PickMembers(e, i32(5), 0, rng, cur()) }},
		{"pick/nil-rng", func() { engine.PickMembers(e, i32(5), 3, nil, cur()) }},
		{"pick/in-cursor", func() { c := i32(8); engine.PickMembers(e, c.View(2, 5), 3, rng, c.View(0, 4)) }},
		{"transition/out", func() {
			engine.SampleTransition(e, f32(5, 2), f32(5, 1), f32(5, 5), f32(5, 2), model(), rng, cur(), ws)
		}},
		{"transition/next", func() {
			engine.SampleTransition(e, f32(5, 3), f32(5, 1), f32(5, 6), f32(5, 2), model(), rng, cur(), ws)
		}},
		{"transition/reward", func() {
			engine.SampleTransition(e, f32(5, 2), f32(4, 1), f32(5, 6), f32(5, 2), model(), rng, cur(), ws)
		}},
		{"transition/bounds", func() {
			m := model()
			m.MaxLogVar = f32(1, 2)
			engine.SampleTransition(e, f32(5, 2), f32(5, 1), f32(5, 6), f32(5, 2), m, rng, cur(), ws)
		}},
		{"transition/next-is-obs", func() {
			x := f32(5, 2)
			engine.SampleTransition(e, x, f32(5, 1), f32(5, 6), x, model(), rng, cur(), ws)
		}},
		{"transition/workspace-width", func() {
			m := engine.ModelHead{MaxLogVar: f32(7), MinLogVar: f32(7), TargetMean: f32(7), TargetStd: f32(7)}
			engine.SampleTransition(e, f32(5, 6), f32(5, 1), f32(5, 14), f32(5, 6), m, rng, cur(), ws)
		}},
		{"terminate/live", func() { engine.TerminateCompact(e, f32(5, 1), f32(5, 3), f32(5, 2), box(), cur(), ws) }},
		{"terminate/term", func() { engine.TerminateCompact(e, f32(4, 1), f32(5, 2), f32(5, 2), box(), cur(), ws) }},
		{"terminate/live-is-next", func() {
			x := f32(5, 2)
			engine.TerminateCompact(e, f32(5, 1), x, x, box(), cur(), ws)
		}},
		{"terminate/bounds-without-dims", func() {
			engine.TerminateCompact(e, f32(5, 1), f32(5, 2), f32(5, 2), engine.TerminationBox{Low: f32(1), High: f32(1)}, cur(), ws)
		}},
		{"terminate/high-length", func() {
			engine.TerminateCompact(e, f32(5, 1), f32(5, 2), f32(5, 2), engine.TerminationBox{Dims: i32(1), Low: f32(1), High: f32(2)}, cur(), ws)
		}},
		{"terminate/dims-dtype", func() {
			engine.TerminateCompact(e, f32(5, 1), f32(5, 2), f32(5, 2), engine.TerminationBox{Dims: f32(1), Low: f32(1), High: f32(1)}, cur(), ws)
		}},
	} {
		mustPanic(t, c.name, c.f)
	}
}

// rolloutCursorPanics checks that the generic paths reject a cursor whose
// live rows exceed the operands' or whose offset is negative, and a box
// that bounds an element past the observation: the values the host reads.
// (Engines whose cursor stays on the device clamp instead; see
// engine/rollout.go.)
func (s *suite) rolloutCursorPanics(t *testing.T) {
	e := primitives{s.e}
	var allocs []*engine.Tensor
	f32 := func(shape ...int) *engine.Tensor {
		x := s.e.New(engine.Float32, shape...)
		allocs = append(allocs, x)
		return x
	}
	cur := func(n, c int32) *engine.Tensor {
		x := s.e.New(engine.Int32, 4)
		allocs = append(allocs, x)
		s.e.UploadInt32(x, []int32{n, c, 0, 0})
		return x
	}
	ws := engine.NewRolloutWorkspace(s.e, 5, 6)
	defer func() {
		for _, x := range allocs {
			s.e.Free(x)
		}
		ws.Free(s.e)
	}()
	rng := engine.NewRNG(1)
	head := engine.PolicyHead{LogStdMin: -5, LogStdMax: 2}
	dims := s.e.New(engine.Int32, 1)
	allocs = append(allocs, dims)
	s.e.UploadInt32(dims, []int32{2})
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"action/rows", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, cur(6, 0), ws) }},
		{"action/negative-rows", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, cur(-1, 0), ws) }},
		{"action/offset", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, cur(5, -4), ws) }},
		{"action/offset-overflow", func() { engine.SampleAction(e, f32(5, 2), f32(5, 4), head, rng, cur(5, math.MaxInt32), ws) }},
		{"pick/rows", func() { engine.PickMembers(e, dims, 3, rng, cur(2, 0)) }},
		{"terminate/dims", func() {
			engine.TerminateCompact(e, f32(5, 1), f32(5, 2), f32(5, 2), engine.TerminationBox{Dims: dims, Low: f32(1), High: f32(1)}, cur(5, 0), ws)
		}},
	} {
		mustPanic(t, c.name, c.f)
	}
}
