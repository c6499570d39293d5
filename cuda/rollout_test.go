//go:build cuda || cudaemu

package cuda

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// The conformance suite (TestConformance) checks the rollout kernels
// against float64 references and the generic paths. This file checks them
// against the CPU engine's fused ops on one rollout step, and counts what
// they issue: one launch each (two for TerminateCompact), and no copy.

// rolloutStep holds the operands of one rollout step's four ops on an
// engine, uploaded from the same host values on every engine.
type rolloutStep struct {
	head, out, obs     *engine.Tensor
	act, next, reward  *engine.Tensor
	term, live         *engine.Tensor
	pick, chain        *engine.Tensor
	policy             engine.PolicyHead
	model              engine.ModelHead
	box                engine.TerminationBox
	ws                 *engine.RolloutWorkspace
	rows, live0, o, a  int
	freeList           []*engine.Tensor
	chainHost, pickOut []int32
}

// newRolloutStep uploads random operands for rows rows, live0 of them live,
// with Hopper's sizes (11 observations, 3 actions) and a box on elements 0
// and 5 that ends a fair share of the rows.
func newRolloutStep(e engine.Engine, seed uint64, rows, live0 int) *rolloutStep {
	r := rand.New(rand.NewPCG(seed, 7))
	const o, a, d = 11, 3, 12
	s := &rolloutStep{rows: rows, live0: live0, o: o, a: a}
	up := func(lo, hi float64, shape ...int) *engine.Tensor {
		n := 1
		for _, x := range shape {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		t := e.New(engine.Float32, shape...)
		e.Upload(t, v)
		s.freeList = append(s.freeList, t)
		return t
	}
	s.head, s.out, s.obs = up(-2, 2, rows, 2*a), up(-1.5, 1.5, rows, 2*d), up(-1, 1, rows, o)
	s.act, s.next, s.reward = up(0, 0, rows, a), up(0, 0, rows, o), up(0, 0, rows, 1)
	s.term, s.live = up(0, 0, rows, 1), up(0, 0, rows, o)
	s.policy = engine.PolicyHead{LogStdMin: -5, LogStdMax: 2, Scale: up(0.5, 2, 1, a), Shift: up(-1, 1, 1, a)}
	s.model = engine.ModelHead{MaxLogVar: up(0, 1, 1, d), MinLogVar: up(-10, -5, 1, d),
		TargetMean: up(-0.1, 0.1, 1, d), TargetStd: up(0.1, 0.5, 1, d)}
	dims := e.New(engine.Int32, 2)
	e.UploadInt32(dims, []int32{0, 5})
	s.box = engine.TerminationBox{Dims: dims, Low: up(-1, -1, 2), High: up(1, 1, 2)}
	s.pick, s.chain = e.New(engine.Int32, rows), e.New(engine.Int32, 10)
	s.chainHost = []int32{int32(live0), 3, 0, 0, 0, 0, 0, 0, 0, 0}
	e.UploadInt32(s.chain, s.chainHost)
	s.freeList = append(s.freeList, dims, s.pick, s.chain)
	s.ws = engine.NewRolloutWorkspace(e, max(rows, 1), d)
	return s
}

// run issues the four ops, chained through s.chain, drawing from rng.
func (s *rolloutStep) run(e engine.Engine, rng *engine.RNG) {
	engine.SampleAction(e, s.act, s.head, s.policy, rng, engine.Cursor(s.chain, 0), s.ws)
	engine.PickMembers(e, s.pick, 5, rng, engine.Cursor(s.chain, 1))
	engine.SampleTransition(e, s.next, s.reward, s.out, s.obs, s.model, rng, engine.Cursor(s.chain, 2), s.ws)
	engine.TerminateCompact(e, s.term, s.live, s.next, s.box, engine.Cursor(s.chain, 3), s.ws)
}

func (s *rolloutStep) free(e engine.Engine) {
	for _, t := range s.freeList {
		e.Free(t)
	}
	s.ws.Free(e)
}

// TestRolloutOpsMatchCPU runs one step on this engine and on the CPU
// engine from the same inputs and seed: the same draws, so actions,
// successors and rewards within float32 rounding of each other (1e-5 of
// |value| + 1: the kernels' tanhf, expf and log1pf are within a few ulps
// of the CPU's float64 functions, and a wrong draw or row is off by O(1)),
// the same picks, the same cursor counts, and each engine's compaction
// exactly the rows of its own successors that the box keeps.
func TestRolloutOpsMatchCPU(t *testing.T) {
	g, c := openEngine(t), cpu.New()
	defer c.Close()
	const rows, live0 = 1500, 1400
	type result struct {
		act, next, reward, term, live []float32
		pick, chain                   []int32
	}
	run := func(e engine.Engine) result {
		s := newRolloutStep(e, 3, rows, live0)
		defer s.free(e)
		s.run(e, &engine.RNG{Seed: 11, Counter: 1<<32 - 5})
		get := func(x *engine.Tensor) []float32 { v := make([]float32, x.Len()); e.Download(v, x); return v }
		res := result{act: get(s.act), next: get(s.next), reward: get(s.reward), term: get(s.term), live: get(s.live)}
		res.pick, res.chain = make([]int32, rows), make([]int32, 10)
		e.DownloadInt32(res.pick, s.pick)
		e.DownloadInt32(res.chain, s.chain)
		return res
	}
	got, want := run(g), run(c)
	const o, a = 11, 3
	for _, v := range []struct {
		name      string
		got, want []float32
	}{{"act", got.act[:live0*a], want.act[:live0*a]}, {"next", got.next[:live0*o], want.next[:live0*o]}, {"reward", got.reward[:live0], want.reward[:live0]}} {
		for i := range v.want {
			if d := math.Abs(float64(v.got[i] - v.want[i])); !(d <= 1e-5*(1+math.Abs(float64(v.want[i])))) {
				t.Errorf("%s[%d]: %s %g, cpu %g", v.name, i, g.Name(), v.got[i], v.want[i])
				break
			}
		}
	}
	if !slices.Equal(got.pick, want.pick) {
		t.Error("picks differ from the CPU engine's")
	}
	for _, res := range []struct {
		name string
		res  result
	}{{g.Name(), got}, {"cpu", want}} {
		var live []float32
		var term []float32
		for i := range live0 {
			row := res.res.next[i*o : (i+1)*o]
			if math.Abs(float64(row[0])) <= 1 && math.Abs(float64(row[5])) <= 1 {
				live = append(live, row...)
				term = append(term, 0)
			} else {
				term = append(term, 1)
			}
		}
		kept := len(live) / o
		if !slices.Equal(res.res.term[:live0], term) || !slices.Equal(res.res.live[:kept*o], live) || int(res.res.chain[8]) != kept {
			t.Errorf("%s: %d rows go on (cursor %v); its successors say %d", res.name, res.res.chain[8], res.res.chain, kept)
		}
		if kept == 0 || kept == live0 {
			t.Errorf("%s: %d of %d rows go on: the test needs some of each", res.name, kept, live0)
		}
	}
	if !slices.Equal(got.chain[:8], want.chain[:8]) || got.chain[9] != want.chain[9] {
		t.Errorf("cursor chain %v, cpu %v", got.chain, want.chain)
	}
}

// TestRolloutOpsNoTransfers checks with the engine's counts that each op
// launches the kernels it documents and copies nothing between host and
// device, for live rows, none, and operands of no rows, where a launch
// still writes the cursor.
func TestRolloutOpsNoTransfers(t *testing.T) {
	g := openEngine(t)
	want := map[string]int64{"SampleAction": 1, "PickMembers": 1, "SampleTransition": 1, "TerminateCompact": 2}
	for _, c := range []struct {
		name        string
		rows, live0 int
	}{{"live", 300, 290}, {"none-live", 300, 0}, {"no-rows", 0, 0}} {
		t.Run(c.name, func(t *testing.T) {
			s := newRolloutStep(g, 5, c.rows, c.live0)
			defer s.free(g)
			g.ResetCounts()
			s.run(g, engine.NewRNG(9))
			n := g.Counts()
			if n.HtoD != 0 || n.DtoH != 0 || n.DtoD != 0 || !maps.Equal(n.ByOp, want) {
				t.Errorf("copied %d times to the device, %d from it and %d within it, and launched %v; want no copy and %v",
					n.HtoD, n.DtoH, n.DtoD, n.ByOp, want)
			}
			chain := make([]int32, 10)
			g.DownloadInt32(chain, s.chain)
			if chain[2] != int32(c.live0) || chain[7] != chain[9] || c.live0 == 0 && chain[8] != 0 {
				t.Errorf("cursor chain %v after a step of %d live rows", chain, c.live0)
			}
		})
	}
}
