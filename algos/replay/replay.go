// Package replay holds the experience replay of imago's off-policy
// algorithms: a ring buffer of transitions that lives on an engine's device,
// filled from the host (real environment steps) or from device tensors
// (model rollouts in MBPO), and minibatches drawn from one buffer, or from a
// mixture of a real and a model buffer, with the engine's Philox generator.
//
// A minibatch never leaves the device: its row indices are drawn by
// engine.RandInt into an Int32 tensor and its rows copied by engine.Gather
// into the preallocated tensors of a Batch. After the buffers and batches
// are made, adding and sampling allocate no device memory.
package replay

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// Buffer is a ring buffer of transitions (s, a, r, s', terminated) on an
// engine's device, holding the last Cap of them. Each field is one tensor of
// Cap rows; rows [0, Len) hold data. When the buffer is full, each new
// transition overwrites the oldest.
//
// Terminated is 1 where the transition ended the episode in a terminal state
// of the MDP (no bootstrapping from s') and 0 otherwise, including where the
// time limit truncated the episode: a truncated transition bootstraps.
//
// A Buffer is not safe for concurrent use, as its engine is not.
type Buffer struct {
	// Obs and NextObs are [Cap, ObsDim], Act [Cap, ActDim], Reward and
	// Terminated [Cap, 1].
	Obs, Act, Reward, NextObs, Terminated *engine.Tensor

	eng            engine.Engine
	obsDim, actDim int
	capacity       int
	size           int // rows holding data
	next           int // the row the next transition goes to
}

// New allocates an empty buffer of capacity transitions of observations of
// obsDim and actions of actDim elements on eng. It panics if a size is not
// positive.
func New(eng engine.Engine, capacity, obsDim, actDim int) *Buffer {
	if capacity <= 0 || obsDim <= 0 || actDim <= 0 {
		panic(fmt.Sprintf("replay: New: capacity %d, observation size %d and action size %d must be positive", capacity, obsDim, actDim))
	}
	return &Buffer{
		Obs:        eng.New(engine.Float32, capacity, obsDim),
		Act:        eng.New(engine.Float32, capacity, actDim),
		Reward:     eng.New(engine.Float32, capacity, 1),
		NextObs:    eng.New(engine.Float32, capacity, obsDim),
		Terminated: eng.New(engine.Float32, capacity, 1),
		eng:        eng,
		obsDim:     obsDim,
		actDim:     actDim,
		capacity:   capacity,
	}
}

// Len returns the number of transitions held, at most Cap.
func (b *Buffer) Len() int { return b.size }

// Cap returns the capacity.
func (b *Buffer) Cap() int { return b.capacity }

// ObsDim and ActDim return the observation and action sizes.
func (b *Buffer) ObsDim() int { return b.obsDim }
func (b *Buffer) ActDim() int { return b.actDim }

// Free releases the buffer's device memory. The buffer is unusable
// afterwards.
func (b *Buffer) Free() {
	for _, t := range b.fields() {
		b.eng.Free(t)
	}
}

func (b *Buffer) fields() [5]*engine.Tensor {
	return [5]*engine.Tensor{b.Obs, b.Act, b.Reward, b.NextObs, b.Terminated}
}

func (b *Buffer) widths() [5]int {
	return [5]int{b.obsDim, b.actDim, 1, b.obsDim, 1}
}

// Transitions are n transitions on the host, row-major: Obs and NextObs
// hold n·ObsDim values, Act n·ActDim, Reward and Terminated n (Terminated
// 1 for a terminal transition, 0 otherwise).
type Transitions struct {
	Obs, Act, Reward, NextObs, Terminated []float32
}

// Set makes t hold the one transition (obs, act, reward, next, terminated)
// of an environment step, reusing t's slices. terminated is stored as 1 or
// 0; a truncated episode's last step is stored as not terminated, so that
// it bootstraps.
func (t *Transitions) Set(obs []float64, act []float32, reward float64, next []float64, terminated bool) {
	t.Obs = appendFloat32(t.Obs[:0], obs)
	t.Act = append(t.Act[:0], act...)
	t.Reward = append(t.Reward[:0], float32(reward))
	t.NextObs = appendFloat32(t.NextObs[:0], next)
	t.Terminated = t.Terminated[:0]
	if terminated {
		t.Terminated = append(t.Terminated, 1)
	} else {
		t.Terminated = append(t.Terminated, 0)
	}
}

func appendFloat32(dst []float32, src []float64) []float32 {
	for _, v := range src {
		dst = append(dst, float32(v))
	}
	return dst
}

// Add uploads the transitions t into the ring, n = len(t.Reward) of them,
// in order. Where n exceeds the capacity only the last Cap are kept. It
// makes at most two uploads per field (two where the ring wraps) and
// allocates nothing. It panics if the slices' lengths disagree.
func (b *Buffer) Add(t Transitions) {
	n := len(t.Reward)
	src := [5][]float32{t.Obs, t.Act, t.Reward, t.NextObs, t.Terminated}
	names := [5]string{"Obs", "Act", "Reward", "NextObs", "Terminated"}
	for i, w := range b.widths() {
		if len(src[i]) != n*w {
			panic(fmt.Sprintf("replay: Add: %d rewards, so %s wants %d values (%d per transition), got %d", n, names[i], n*w, w, len(src[i])))
		}
	}
	dst := b.fields()
	b.insert(n, func(field, from, row, rows int) {
		w := b.widths()[field]
		b.eng.Upload(dst[field].View(row*w, rows, w), src[field][from*w:(from+rows)*w])
	})
}

// AddDevice copies the transitions of t, whose five tensors hold n rows
// each (Obs and NextObs [n, ObsDim], Act [n, ActDim], Reward and Terminated
// n values), into the ring in order. It is how model rollouts enter a
// buffer without leaving the device; t.Idx is not read. Where n exceeds the
// capacity only the last Cap are kept. It makes at most two device copies
// per field and allocates no device memory. It panics if the tensors'
// lengths disagree.
func (b *Buffer) AddDevice(t *Batch) {
	n := t.Reward.Len()
	src := [5]*engine.Tensor{t.Obs, t.Act, t.Reward, t.NextObs, t.Terminated}
	names := [5]string{"Obs", "Act", "Reward", "NextObs", "Terminated"}
	for i, w := range b.widths() {
		if src[i].Len() != n*w {
			panic(fmt.Sprintf("replay: AddDevice: %d rewards, so %s wants %d values (%d per transition), got %v", n, names[i], n*w, w, src[i].Shape()))
		}
	}
	dst := b.fields()
	b.insert(n, func(field, from, row, rows int) {
		w := b.widths()[field]
		b.eng.Copy(dst[field].View(row*w, rows, w), src[field].View(from*w, rows, w))
	})
}

// insert advances the ring by n transitions, calling put(field, from, row,
// rows) to write source rows [from, from+rows) into ring rows
// [row, row+rows) for each field: one call per field, or two where the
// write wraps around the end of the ring.
func (b *Buffer) insert(n int, put func(field, from, row, rows int)) {
	from := 0
	if n > b.capacity {
		// Rows that would be overwritten within this very call are never
		// written; the ring ends up as if all n had been added one by one.
		from = n - b.capacity
		b.next = (b.next + from) % b.capacity
		n = b.capacity
	}
	first := min(n, b.capacity-b.next)
	for f := range 5 {
		put(f, from, b.next, first)
		if first < n {
			put(f, from+first, 0, n-first)
		}
	}
	b.next = (b.next + n) % b.capacity
	b.size = min(b.size+n, b.capacity)
}

// Batch is a minibatch of n transitions on the device: Obs and NextObs
// [n, ObsDim], Act [n, ActDim], Reward and Terminated [n, 1], and Idx, an
// Int32 tensor of n elements, the rows Sample drew. A Batch made by
// NewBatch is the destination of Sample; one assembled by a caller (Idx may
// then be nil) is the source of AddDevice.
type Batch struct {
	Obs, Act, Reward, NextObs, Terminated *engine.Tensor
	Idx                                   *engine.Tensor
}

// NewBatch allocates a batch of n transitions on eng.
func NewBatch(eng engine.Engine, n, obsDim, actDim int) *Batch {
	if n <= 0 || obsDim <= 0 || actDim <= 0 {
		panic(fmt.Sprintf("replay: NewBatch: size %d, observation size %d and action size %d must be positive", n, obsDim, actDim))
	}
	return &Batch{
		Obs:        eng.New(engine.Float32, n, obsDim),
		Act:        eng.New(engine.Float32, n, actDim),
		Reward:     eng.New(engine.Float32, n, 1),
		NextObs:    eng.New(engine.Float32, n, obsDim),
		Terminated: eng.New(engine.Float32, n, 1),
		Idx:        eng.New(engine.Int32, n),
	}
}

// Len returns the number of transitions in the batch.
func (t *Batch) Len() int { return t.Reward.Len() }

// Free releases the batch's device memory.
func (t *Batch) Free(eng engine.Engine) {
	for _, x := range []*engine.Tensor{t.Obs, t.Act, t.Reward, t.NextObs, t.Terminated, t.Idx} {
		if x != nil {
			eng.Free(x)
		}
	}
}

// rows returns the view of rows [from, from+n) of the batch's tensors.
func (t *Batch) rows(from, n int) *Batch {
	view := func(x *engine.Tensor) *engine.Tensor {
		w := x.Len() / t.Len()
		return x.View(from*w, n, w)
	}
	return &Batch{
		Obs: view(t.Obs), Act: view(t.Act), Reward: view(t.Reward),
		NextObs: view(t.NextObs), Terminated: view(t.Terminated),
		Idx: t.Idx.View(from, n),
	}
}

// Sample draws dst.Len() transitions uniformly with replacement from the
// buffer into dst: one RandInt from rng into dst.Idx, then one Gather per
// field. Nothing is copied to the host and no device memory is allocated.
// It panics if the buffer is empty or dst's sizes do not match the
// buffer's.
func (b *Buffer) Sample(dst *Batch, rng *engine.RNG) {
	b.check("Sample", dst)
	b.sample(dst, rng)
}

func (b *Buffer) check(op string, dst *Batch) {
	if dst.Obs.Len() != dst.Len()*b.obsDim || dst.Act.Len() != dst.Len()*b.actDim || dst.Idx == nil {
		panic(fmt.Sprintf("replay: %s: batch of observations %v and actions %v (and index %v) for a buffer of [%d] observations and [%d] actions",
			op, dst.Obs.Shape(), dst.Act.Shape(), dst.Idx, b.obsDim, b.actDim))
	}
}

func (b *Buffer) sample(dst *Batch, rng *engine.RNG) {
	if b.size == 0 {
		panic("replay: Sample from an empty buffer")
	}
	b.eng.RandInt(dst.Idx, rng, b.size)
	b.eng.Gather(dst.Obs, b.Obs, dst.Idx)
	b.eng.Gather(dst.Act, b.Act, dst.Idx)
	b.eng.Gather(dst.Reward, b.Reward, dst.Idx)
	b.eng.Gather(dst.NextObs, b.NextObs, dst.Idx)
	b.eng.Gather(dst.Terminated, b.Terminated, dst.Idx)
}

// Mixture samples minibatches from two buffers of the same observation and
// action sizes at a fixed ratio: MBPO trains its policy on batches of which
// a fraction RealRatio comes from the environment (Real) and the rest from
// model rollouts (Model) (Janner et al. 2019; jannerm/mbpo, mbpo.py
// _train_policy, with real_ratio 0.05 in its configs).
type Mixture struct {
	Real, Model *Buffer
	RealRatio   float64 // in [0, 1]
}

// Split returns how many of n rows come from each buffer: nReal =
// int(n·RealRatio) rows (rounded down, as jannerm/mbpo computes env_batch_size) and the
// rest from the model buffer.
func (m Mixture) Split(n int) (nReal, nModel int) {
	nReal = int(float64(n) * m.RealRatio)
	return nReal, n - nReal
}

// Sample fills dst with a mixed minibatch: rows [0, nReal) drawn uniformly
// from Real and rows [nReal, n) from Model, with nReal, nModel = Split(n); each
// part is one RandInt from rng (skipped when its count is zero) and one
// Gather per field. dst.Idx holds each row's index into its own buffer. It
// panics if a buffer that must supply rows is empty, or if the ratio is
// outside [0, 1].
func (m Mixture) Sample(dst *Batch, rng *engine.RNG) {
	if !(m.RealRatio >= 0 && m.RealRatio <= 1) {
		panic(fmt.Sprintf("replay: Mixture.Sample: real ratio %g outside [0, 1]", m.RealRatio))
	}
	m.Real.check("Mixture.Sample", dst)
	m.Model.check("Mixture.Sample", dst)
	nReal, nModel := m.Split(dst.Len())
	if nReal > 0 {
		m.Real.sample(dst.rows(0, nReal), rng)
	}
	if nModel > 0 {
		m.Model.sample(dst.rows(nReal, nModel), rng)
	}
}
