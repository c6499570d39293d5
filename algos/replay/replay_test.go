package replay

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

const obsDim, actDim = 3, 2

// transition returns the fields of transition number id, each value
// distinct and recoverable: obs[j] = id + j/10, act[j] = −id − j/10,
// reward = 1000 + id, next obs = obs + 0.5, terminated = id mod 2.
func transition(id int) (obs, act []float32, rew float32, next []float32, term float32) {
	for j := range obsDim {
		obs = append(obs, float32(id)+float32(j)/10)
		next = append(next, float32(id)+float32(j)/10+0.5)
	}
	for j := range actDim {
		act = append(act, -float32(id)-float32(j)/10)
	}
	return obs, act, 1000 + float32(id), next, float32(id % 2)
}

func transitions(ids []int) Transitions {
	var t Transitions
	for _, id := range ids {
		o, a, r, n, d := transition(id)
		t.Obs = append(t.Obs, o...)
		t.Act = append(t.Act, a...)
		t.Reward = append(t.Reward, r)
		t.NextObs = append(t.NextObs, n...)
		t.Terminated = append(t.Terminated, d)
	}
	if t.Reward == nil {
		t = Transitions{Obs: []float32{}, Act: []float32{}, Reward: []float32{}, NextObs: []float32{}, Terminated: []float32{}}
	}
	return t
}

func upload(eng engine.Engine, x []float32, shape ...int) *engine.Tensor {
	t := eng.New(engine.Float32, shape...)
	eng.Upload(t, x)
	return t
}

func download(eng engine.Engine, t *engine.Tensor) []float32 {
	x := make([]float32, t.Len())
	eng.Download(x, t)
	return x
}

// deviceBatch uploads the transitions ids into a Batch for AddDevice.
func deviceBatch(eng engine.Engine, ids []int) *Batch {
	t := transitions(ids)
	n := len(ids)
	return &Batch{
		Obs:        upload(eng, t.Obs, n, obsDim),
		Act:        upload(eng, t.Act, n, actDim),
		Reward:     upload(eng, t.Reward, n, 1),
		NextObs:    upload(eng, t.NextObs, n, obsDim),
		Terminated: upload(eng, t.Terminated, n, 1),
	}
}

// checkRows checks that the rows of the five tensors hold, row by row, the
// transitions ids.
func checkRows(t *testing.T, eng engine.Engine, what string, obs, act, rew, next, term *engine.Tensor, ids []int) {
	t.Helper()
	want := transitions(ids)
	for _, f := range []struct {
		name string
		got  *engine.Tensor
		want []float32
	}{{"Obs", obs, want.Obs}, {"Act", act, want.Act}, {"Reward", rew, want.Reward}, {"NextObs", next, want.NextObs}, {"Terminated", term, want.Terminated}} {
		got := download(eng, f.got)[:len(f.want)]
		if !slices.Equal(got, f.want) {
			t.Errorf("%s: %s = %v, want %v (transitions %v)", what, f.name, got, f.want, ids)
		}
	}
}

// TestAddWrapAround adds batches of random sizes, from the host and from
// device tensors, some larger than the capacity, and checks the ring
// against adding the same transitions one at a time on the host.
func TestAddWrapAround(t *testing.T) {
	const capacity = 7
	eng := cpu.New()
	b := New(eng, capacity, obsDim, actDim)
	ring := make([]int, capacity) // the transition id each row holds
	next, size, id := 0, 0, 0
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 40 {
		n := r.IntN(2*capacity + 2) // 0 … 2·capacity+1: empty adds and oversize ones too
		ids := make([]int, n)
		for i := range ids {
			ids[i] = id
			ring[next] = id
			next, size, id = (next+1)%capacity, min(size+1, capacity), id+1
		}
		if step%2 == 0 {
			b.Add(transitions(ids))
		} else {
			b.AddDevice(deviceBatch(eng, ids))
		}
		if b.Len() != size {
			t.Fatalf("step %d: Len %d after %d transitions, want %d", step, b.Len(), id, size)
		}
		if id > 0 {
			checkRows(t, eng, "ring", b.Obs, b.Act, b.Reward, b.NextObs, b.Terminated, ring[:size])
		}
	}
	if b.Cap() != capacity {
		t.Errorf("Cap %d, want %d", b.Cap(), capacity)
	}
}

// TestSample checks that Sample draws the indices of engine.IntAt over the
// rows that hold data, that every field of a sampled row comes from the
// same transition, and that the generator advances by one fill.
func TestSample(t *testing.T) {
	const capacity, batch = 50, 200
	eng := cpu.New()
	b := New(eng, capacity, obsDim, actDim)
	ids := make([]int, 30) // partly full: indices must stay below 30
	for i := range ids {
		ids[i] = 100 + i
	}
	b.Add(transitions(ids))
	dst := NewBatch(eng, batch, obsDim, actDim)
	rng := engine.NewRNG(5)
	rng.Counter = 17
	b.Sample(dst, rng)
	if want := uint64(17 + (batch+3)/4); rng.Counter != want {
		t.Errorf("counter %d after Sample, want %d", rng.Counter, want)
	}
	idx := make([]int32, batch)
	eng.DownloadInt32(idx, dst.Idx)
	sampled := make([]int, batch)
	seen := map[int32]bool{}
	for i, j := range idx {
		if want := engine.IntAt(5, 17, i, 30); j != want {
			t.Fatalf("index %d = %d, want IntAt %d", i, j, want)
		}
		sampled[i] = ids[j]
		seen[j] = true
	}
	checkRows(t, eng, "batch", dst.Obs, dst.Act, dst.Reward, dst.NextObs, dst.Terminated, sampled)
	// 200 uniform draws from 30 rows miss a given row with probability
	// (29/30)^200 ≈ 1e-3: seeing at least 25 distinct rows is certain
	// enough for this fixed stream and catches a sampler stuck on a few.
	if len(seen) < 25 {
		t.Errorf("%d distinct rows in %d draws from 30", len(seen), batch)
	}
}

// TestMixture checks that a mixed batch takes its first int(n·ratio) rows
// from the real buffer and the rest from the model buffer, including the
// ratios 0 and 1, where the unused buffer may be empty.
func TestMixture(t *testing.T) {
	const batch = 40
	eng := cpu.New()
	realBuf := New(eng, 20, obsDim, actDim)
	model := New(eng, 100, obsDim, actDim)
	empty := New(eng, 10, obsDim, actDim)
	var realIDs, modelIDs []int
	for i := range 20 {
		realIDs = append(realIDs, i) // ids below 1000: real
	}
	for i := range 100 {
		modelIDs = append(modelIDs, 5000+i)
	}
	realBuf.Add(transitions(realIDs))
	model.AddDevice(deviceBatch(eng, modelIDs))
	dst := NewBatch(eng, batch, obsDim, actDim)
	rng := engine.NewRNG(9)
	for _, tc := range []struct {
		ratio          float64
		realBuf, model *Buffer
		nReal          int
	}{
		{0.05, realBuf, model, 2}, // MBPO's real_ratio: int(40·0.05) = 2
		{0.25, realBuf, model, 10},
		{0.33, realBuf, model, 13}, // rounds down
		{0, empty, model, 0},
		{1, realBuf, empty, batch},
	} {
		m := Mixture{Real: tc.realBuf, Model: tc.model, RealRatio: tc.ratio}
		if r, mo := m.Split(batch); r != tc.nReal || mo != batch-tc.nReal {
			t.Errorf("ratio %g: Split(%d) = %d, %d, want %d, %d", tc.ratio, batch, r, mo, tc.nReal, batch-tc.nReal)
		}
		m.Sample(dst, rng)
		idx := make([]int32, batch)
		eng.DownloadInt32(idx, dst.Idx)
		ids := make([]int, batch)
		for i, j := range idx {
			if i < tc.nReal {
				ids[i] = realIDs[j]
			} else {
				ids[i] = modelIDs[j]
			}
		}
		checkRows(t, eng, "mixture", dst.Obs, dst.Act, dst.Reward, dst.NextObs, dst.Terminated, ids)
	}
}

// TestPanics checks the programmer errors: sampling an empty buffer,
// mismatched batch sizes and a ratio outside [0, 1].
func TestPanics(t *testing.T) {
	eng := cpu.New()
	b := New(eng, 4, obsDim, actDim)
	b.Add(transitions([]int{1}))
	dst := NewBatch(eng, 3, obsDim, actDim)
	rng := engine.NewRNG(1)
	for name, f := range map[string]func(){
		"empty":     func() { New(eng, 4, obsDim, actDim).Sample(dst, rng) },
		"mismatch":  func() { b.Sample(NewBatch(eng, 3, obsDim+1, actDim), rng) },
		"lengths":   func() { tr := transitions([]int{1, 2}); tr.Act = tr.Act[:3]; b.Add(tr) },
		"ratio":     func() { Mixture{Real: b, Model: b, RealRatio: 1.5}.Sample(dst, rng) },
		"ratio < 0": func() { Mixture{Real: b, Model: b, RealRatio: -0.1}.Sample(dst, rng) },
		"ratio NaN": func() { Mixture{Real: b, Model: b, RealRatio: math.NaN()}.Sample(dst, rng) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

type countingEngine struct {
	engine.Engine
	news int
}

func (c *countingEngine) New(d engine.DType, shape ...int) *engine.Tensor {
	c.news++
	return c.Engine.New(d, shape...)
}

// TestSteadyStateAllocations checks that adding and sampling allocate no
// device memory once the buffers and batches exist.
func TestSteadyStateAllocations(t *testing.T) {
	ce := &countingEngine{Engine: cpu.New()}
	realBuf := New(ce, 10, obsDim, actDim)
	model := New(ce, 30, obsDim, actDim)
	dst := NewBatch(ce, 16, obsDim, actDim)
	rollout := deviceBatch(ce, []int{1, 2, 3, 4, 5, 6, 7})
	host := transitions([]int{8, 9, 10})
	rng := engine.NewRNG(2)
	before := ce.news
	for range 5 {
		realBuf.Add(host)
		model.AddDevice(rollout)
		realBuf.Sample(dst, rng)
		Mixture{Real: realBuf, Model: model, RealRatio: 0.05}.Sample(dst, rng)
	}
	if n := ce.news - before; n != 0 {
		t.Errorf("adding and sampling allocated %d tensors", n)
	}
}
