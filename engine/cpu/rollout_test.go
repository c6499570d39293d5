package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// The conformance suite checks the rollout ops' values against float64
// references on every engine. This file checks what is the CPU engine's
// own: that its fused ops and the generic paths through its primitives
// agree bit for bit (the fused ops repeat the primitives' arithmetic, so a
// rollout on this engine does not depend on which path ran), and that a
// cursor or a box out of range panics, as its doc promises.

// hidden hides the engine's fused ops, so that the package-level functions
// take their generic paths.
type hidden struct{ engine.Engine }

// TestRolloutOpsMatchGenericBits runs one rollout step, the four ops
// chained through one cursor tensor, on the fused ops and on the generic
// path from the same inputs, with rescaled actions and a box that ends
// some rows, and requires identical bits in every output.
func TestRolloutOpsMatchGenericBits(t *testing.T) {
	e := New()
	defer e.Close()
	r := rand.New(rand.NewPCG(1, 2))
	const rows, n, o, a, d = 1000, 997, 4, 3, 5
	uni := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return v
	}
	head, out, obs := uni(rows*2*a, -3, 3), uni(rows*2*d, -3, 3), uni(rows*o, -1, 1)
	params := [6][]float32{uni(d, 0, 1), uni(d, -10, -5), uni(d, -0.2, 0.2), uni(d, 0.1, 0.6), uni(a, 0.5, 2), uni(a, -1, 1)}
	rng := &engine.RNG{Seed: 42, Counter: 1 << 33}

	type result struct {
		act, next, reward, term, live []float32
		pick, chain                   []int32
	}
	run := func(eng engine.Engine) result {
		up := func(v []float32, shape ...int) *engine.Tensor {
			x := e.New(engine.Float32, shape...)
			e.Upload(x, v)
			return x
		}
		policy := engine.PolicyHead{LogStdMin: -5, LogStdMax: 2, Scale: up(params[4], 1, a), Shift: up(params[5], 1, a)}
		model := engine.ModelHead{MaxLogVar: up(params[0], 1, d), MinLogVar: up(params[1], 1, d),
			TargetMean: up(params[2], 1, d), TargetStd: up(params[3], 1, d)}
		dims := e.New(engine.Int32, 2)
		e.UploadInt32(dims, []int32{1, 3})
		box := engine.TerminationBox{Dims: dims, Low: up([]float32{-1.2, float32(math.Inf(-1))}, 2), High: up([]float32{1.2, 0.8}, 2)}
		act, next, reward := e.New(engine.Float32, rows, a), e.New(engine.Float32, rows, o), e.New(engine.Float32, rows, 1)
		term, live := e.New(engine.Float32, rows, 1), e.New(engine.Float32, rows, o)
		pick, chain := e.New(engine.Int32, rows), e.New(engine.Int32, 10)
		e.UploadInt32(chain, []int32{n, 17, 0, 0, 0, 0, 0, 0, 0, 0})
		ws := engine.NewRolloutWorkspace(e, rows, d)

		engine.SampleAction(eng, act, up(head, rows, 2*a), policy, rng, engine.Cursor(chain, 0), ws)
		engine.PickMembers(eng, pick, 5, rng, engine.Cursor(chain, 1))
		engine.SampleTransition(eng, next, reward, up(out, rows, 2*d), up(obs, rows, o), model, rng, engine.Cursor(chain, 2), ws)
		engine.TerminateCompact(eng, term, live, next, box, engine.Cursor(chain, 3), ws)

		get := func(x *engine.Tensor) []float32 { return slices.Clone(e.floats("test", x)) }
		return result{
			act: get(act), next: get(next), reward: get(reward), term: get(term), live: get(live),
			pick: slices.Clone(e.ints("test", pick)), chain: slices.Clone(e.ints("test", chain)),
		}
	}
	fused, generic := run(e), run(hidden{e})
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"act", fused.act, generic.act}, {"next", fused.next, generic.next}, {"reward", fused.reward, generic.reward},
		{"term", fused.term, generic.term}, {"live", fused.live, generic.live},
	} {
		for i := range c.want {
			if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
				t.Errorf("%s[%d]: fused %g (%#08x), generic %g (%#08x)", c.name, i,
					c.got[i], math.Float32bits(c.got[i]), c.want[i], math.Float32bits(c.want[i]))
				break
			}
		}
	}
	if !slices.Equal(fused.pick, generic.pick) {
		t.Error("picks differ between the fused op and the generic path")
	}
	if !slices.Equal(fused.chain, generic.chain) {
		t.Errorf("cursor chain: fused %v, generic %v", fused.chain, generic.chain)
	}
	if kept := fused.chain[8]; kept == 0 || kept == n {
		t.Errorf("%d of %d rows go on: the test needs some of each", kept, n)
	}
}

// TestRolloutOpsBadCursorPanics checks that the CPU engine's fused ops
// panic, before writing anything, on a cursor with more live rows than the
// operands, fewer than none, or a negative stream offset, and on a box
// that bounds an element past the observation.
func TestRolloutOpsBadCursorPanics(t *testing.T) {
	e := New()
	defer e.Close()
	const rows = 4
	ws := engine.NewRolloutWorkspace(e, rows, 4)
	rng := engine.NewRNG(1)
	head := engine.PolicyHead{LogStdMin: -5, LogStdMax: 2}
	model := engine.ModelHead{MaxLogVar: e.New(engine.Float32, 1, 3), MinLogVar: e.New(engine.Float32, 1, 3),
		TargetMean: e.New(engine.Float32, 1, 3), TargetStd: e.New(engine.Float32, 1, 3)}
	dims := e.New(engine.Int32, 1)
	e.UploadInt32(dims, []int32{2})
	box := engine.TerminationBox{Dims: dims, Low: e.New(engine.Float32, 1), High: e.New(engine.Float32, 1)}
	cursor := func(n, c int32) *engine.Tensor {
		x := e.New(engine.Int32, 4)
		e.UploadInt32(x, []int32{n, c, -7, -9})
		return x
	}
	for _, c := range []struct {
		name, want string
		f          func(cur *engine.Tensor)
		n, c       int32
	}{
		{"action/rows", "cursor holds 5 live rows, want 0 to 4", func(cur *engine.Tensor) {
			e.SampleAction(e.New(engine.Float32, rows, 2), e.New(engine.Float32, rows, 4), head, rng, cur, ws)
		}, 5, 0},
		{"pick/negative", "cursor holds -1 live rows", func(cur *engine.Tensor) {
			e.PickMembers(e.New(engine.Int32, rows), 3, rng, cur)
		}, -1, 0},
		{"transition/offset", "cursor holds stream offset -3", func(cur *engine.Tensor) {
			e.SampleTransition(e.New(engine.Float32, rows, 2), e.New(engine.Float32, rows, 1), e.New(engine.Float32, rows, 6),
				e.New(engine.Float32, rows, 2), model, rng, cur, ws)
		}, 2, -3},
		{"transition/overflow", "passes 2³¹−1", func(cur *engine.Tensor) {
			e.SampleTransition(e.New(engine.Float32, rows, 2), e.New(engine.Float32, rows, 1), e.New(engine.Float32, rows, 6),
				e.New(engine.Float32, rows, 2), model, rng, cur, ws)
		}, 4, math.MaxInt32 - 2},
		{"terminate/dims", "the box bounds element 2 (dims[0]) of a 2-element observation", func(cur *engine.Tensor) {
			e.TerminateCompact(e.New(engine.Float32, rows, 1), e.New(engine.Float32, rows, 2), e.New(engine.Float32, rows, 2), box, cur, ws)
		}, 4, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := cursor(c.n, c.c)
			func() {
				defer func() {
					p := recover()
					if p == nil {
						t.Fatal("did not panic")
					}
					if msg, _ := p.(string); !strings.Contains(msg, c.want) {
						t.Errorf("panic %q, want it to contain %q", p, c.want)
					}
				}()
				c.f(cur)
			}()
			if got := e.ints("test", cur); !slices.Equal(got, []int32{c.n, c.c, -7, -9}) {
				t.Errorf("cursor %v after the panic: the op wrote it", got)
			}
		})
	}
}

// BenchmarkRolloutOps times the four rollout ops of one step (everything
// but the networks' matrix products) on MBPO's default batch of 10⁵ rows
// with Hopper's sizes (11 observations, 3 actions) and a box on two
// elements, through the fused ops and through the generic path of
// primitives that they replace:
//
//	go test -run '^$' -bench RolloutOps ./engine/cpu
func BenchmarkRolloutOps(b *testing.B) {
	const rows, o, a, d = 100_000, 11, 3, 12
	e := New()
	defer e.Close()
	r := rand.New(rand.NewPCG(3, 4))
	up := func(lo, hi float64, shape ...int) *engine.Tensor {
		x := e.New(engine.Float32, shape...)
		v := e.floats("bench", x)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return x
	}
	head, out, obs := up(-2, 2, rows, 2*a), up(-1, 1, rows, 2*d), up(-1, 1, rows, o)
	act, next, reward := e.New(engine.Float32, rows, a), e.New(engine.Float32, rows, o), e.New(engine.Float32, rows, 1)
	term, live := e.New(engine.Float32, rows, 1), e.New(engine.Float32, rows, o)
	pick, chain := e.New(engine.Int32, rows), e.New(engine.Int32, 10)
	policy := engine.PolicyHead{LogStdMin: -5, LogStdMax: 2}
	model := engine.ModelHead{MaxLogVar: up(0, 1, 1, d), MinLogVar: up(-10, -5, 1, d), TargetMean: up(-0.1, 0.1, 1, d), TargetStd: up(0.1, 0.5, 1, d)}
	dims := e.New(engine.Int32, 2)
	copy(e.ints("bench", dims), []int32{0, 5})
	box := engine.TerminationBox{Dims: dims, Low: up(-1, -1, 2), High: up(1, 1, 2)}
	ws := engine.NewRolloutWorkspace(e, rows, d)
	rng := engine.NewRNG(5)
	for _, path := range []struct {
		name string
		e    engine.Engine
	}{{"fused", e}, {"generic", hidden{e}}} {
		b.Run(path.name, func(b *testing.B) {
			for b.Loop() {
				copy(e.ints("bench", chain), []int32{rows, 0})
				engine.SampleAction(path.e, act, head, policy, rng, engine.Cursor(chain, 0), ws)
				engine.PickMembers(path.e, pick, 5, rng, engine.Cursor(chain, 1))
				engine.SampleTransition(path.e, next, reward, out, obs, model, rng, engine.Cursor(chain, 2), ws)
				engine.TerminateCompact(path.e, term, live, next, box, engine.Cursor(chain, 3), ws)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
		})
	}
}
