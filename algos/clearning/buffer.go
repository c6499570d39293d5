package clearning

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Layout says where the achieved state and the goal lie in an observation
// of a goal-conditioned environment: obs[Achieved : Achieved+GoalDim] is the
// state reached and obs[Goal : Goal+GoalDim] the goal aimed at. Relabelling
// a transition with the goal g writes g into the goal columns of its
// observation and of its next observation.
type Layout struct {
	Obs, Act int // observation and action sizes
	Achieved int // first column of the achieved state
	Goal     int // first column of the goal
	GoalDim  int // length of both
}

// LayoutOf returns the layout of a goal-conditioned environment, or an
// error naming the environment id if its achieved and goal slices cannot
// be relabelled: of different lengths, empty, outside the observation or
// overlapping.
func LayoutOf(id string, e env.GoalEnv) (Layout, error) {
	obsDim := e.ObservationSpace().Dim()
	a0, a1 := e.AchievedSlice()
	g0, g1 := e.GoalSlice()
	switch {
	case a1-a0 != g1-g0 || a1 <= a0:
		return Layout{}, fmt.Errorf("clearning: %s: achieved slice [%d, %d) and goal slice [%d, %d) must be non-empty and of one length", id, a0, a1, g0, g1)
	case a0 < 0 || g0 < 0 || a1 > obsDim || g1 > obsDim:
		return Layout{}, fmt.Errorf("clearning: %s: achieved slice [%d, %d) and goal slice [%d, %d) must lie in the observation's %d elements", id, a0, a1, g0, g1, obsDim)
	case a0 < g1 && g0 < a1:
		return Layout{}, fmt.Errorf("clearning: %s: achieved slice [%d, %d) and goal slice [%d, %d) overlap", id, a0, a1, g0, g1)
	}
	return Layout{Obs: obsDim, Act: e.ActionSpace().Dim(), Achieved: a0, Goal: g0, GoalDim: a1 - a0}, nil
}

// Buffer is C-learning's replay: a ring of the last Cap transitions
// (s, a, s') on an engine's device, like algos/replay's Buffer, that also
// keeps on the host where each transition's episode ends, so that a
// transition's goal can be relabelled with a later state of its own
// episode. Rewards and termination are not stored: C-learning's labels come
// from the goals alone, and, as in [Official] (c_learning_agent.py:
// "we assume that episodes never terminate"), every transition bootstraps.
//
// Transitions must be added in the order they happen, an episode's
// transitions one after the other; the episode's rows are then consecutive
// in the ring. The ring overwrites the oldest rows first, so a row's later
// states are never overwritten before the row itself.
//
// A Buffer is not safe for concurrent use, as its engine is not.
type Buffer struct {
	// Obs and NextObs are [Cap, Obs], Act [Cap, Act]; rows [0, Len) hold
	// data.
	Obs, Act, NextObs *engine.Tensor

	eng      engine.Engine
	layout   Layout
	capacity int
	size     int // rows holding data
	next     int // the row the next transition goes to

	// Host bookkeeping of episodes, per row: the number of the transition
	// it holds, counting every transition ever added from 0, and the number
	// of the last transition of its episode, −1 while that episode goes on.
	num, end     []int64
	added        int64 // transitions added
	episodeFirst int64 // the number of the first transition of the episode in progress

	row []float32 // scratch of one observation for Add
}

// NewBuffer allocates an empty buffer of capacity transitions of layout l
// on eng. It panics if a size is not positive.
func NewBuffer(eng engine.Engine, capacity int, l Layout) *Buffer {
	if capacity <= 0 || l.Obs <= 0 || l.Act <= 0 || l.GoalDim <= 0 {
		panic(fmt.Sprintf("clearning: NewBuffer: capacity %d, observation size %d, action size %d and goal size %d must be positive",
			capacity, l.Obs, l.Act, l.GoalDim))
	}
	return &Buffer{
		Obs:      eng.New(engine.Float32, capacity, l.Obs),
		Act:      eng.New(engine.Float32, capacity, l.Act),
		NextObs:  eng.New(engine.Float32, capacity, l.Obs),
		eng:      eng,
		layout:   l,
		capacity: capacity,
		num:      make([]int64, capacity),
		end:      make([]int64, capacity),
		row:      make([]float32, l.Obs),
	}
}

// Len returns the number of transitions held, at most Cap.
func (b *Buffer) Len() int { return b.size }

// Cap returns the capacity.
func (b *Buffer) Cap() int { return b.capacity }

// Free releases the buffer's device memory. The buffer is unusable
// afterwards.
func (b *Buffer) Free() {
	for _, t := range []*engine.Tensor{b.Obs, b.Act, b.NextObs} {
		b.eng.Free(t)
	}
}

// Add uploads one transition (obs, act, next) into the ring, overwriting
// the oldest when the ring is full; episodeEnd says that it is the last
// transition of its episode (terminated or truncated). It makes three
// uploads and allocates nothing. It panics if a length is wrong.
func (b *Buffer) Add(obs []float64, act []float32, next []float64, episodeEnd bool) {
	l := b.layout
	if len(obs) != l.Obs || len(next) != l.Obs || len(act) != l.Act {
		panic(fmt.Sprintf("clearning: Buffer.Add: observation %d, action %d and next observation %d values, want %d, %d and %d",
			len(obs), len(act), len(next), l.Obs, l.Act, l.Obs))
	}
	r := b.next
	b.eng.Upload(b.Obs.View(r*l.Obs, 1, l.Obs), toFloat32(b.row, obs))
	b.eng.Upload(b.Act.View(r*l.Act, 1, l.Act), act)
	b.eng.Upload(b.NextObs.View(r*l.Obs, 1, l.Obs), toFloat32(b.row, next))
	b.num[r] = b.added
	b.end[r] = -1
	b.added++
	b.next = (b.next + 1) % b.capacity
	b.size = min(b.size+1, b.capacity)
	if episodeEnd {
		// Mark the episode's rows still in the ring, newest first.
		last := b.added - 1
		for n := last; n >= b.episodeFirst && n > b.added-1-int64(b.size); n-- {
			b.end[b.rowOf(n)] = last
		}
		b.episodeFirst = b.added
	}
}

// rowOf returns the row of transition number n, which must still be held.
func (b *Buffer) rowOf(n int64) int { return int(n % int64(b.capacity)) }

// remaining returns the number of transitions of row r's episode from r
// on, r included: those of the episode's future that the buffer holds.
func (b *Buffer) remaining(r int) int {
	last := b.end[r]
	if last < 0 {
		last = b.added - 1
	}
	return int(last - b.num[r] + 1)
}

// Batch is a relabelled minibatch on the device, laid out by Split: rows
// [0, Next) have the next state as goal, [Next, Next+Future) a later state
// of the transition's episode, and [Next+Future, Len) the achieved state of
// a transition drawn from the whole buffer. Obs and NextObs [Len, Obs] hold
// the relabelled goal in their goal columns, Act is [Len, Act].
type Batch struct {
	Split             Split
	Obs, Act, NextObs *engine.Tensor
	// Idx (Int32, Len) holds the buffer rows of the transitions. GoalIdx
	// (Int32, Future+Random) holds the rows the goals of the future and
	// random rows come from: a NextObs row for a future goal (s_{t+Δ} is
	// the next state of transition t+Δ−1), an Obs row for a random one.
	Idx, GoalIdx *engine.Tensor

	source *engine.Tensor // [Len, Obs]: per row, the observation whose achieved state is the goal
	rows   []int32        // host scratch of the future rows and their goal rows
	goals  []int32
}

// NewBatch allocates a batch of split's rows for layout l on eng. It
// panics unless the split has rows and l positive sizes.
func NewBatch(eng engine.Engine, split Split, l Layout) *Batch {
	n := split.Len()
	if n <= 0 || split.Next < 0 || split.Future < 0 || split.Random < 0 || l.Obs <= 0 || l.Act <= 0 {
		panic(fmt.Sprintf("clearning: NewBatch: split %+v for observations of %d and actions of %d elements", split, l.Obs, l.Act))
	}
	b := &Batch{
		Split:   split,
		Obs:     eng.New(engine.Float32, n, l.Obs),
		Act:     eng.New(engine.Float32, n, l.Act),
		NextObs: eng.New(engine.Float32, n, l.Obs),
		Idx:     eng.New(engine.Int32, n),
		source:  eng.New(engine.Float32, n, l.Obs),
		rows:    make([]int32, split.Future),
		goals:   make([]int32, split.Future),
	}
	if k := split.Future + split.Random; k > 0 {
		b.GoalIdx = eng.New(engine.Int32, k)
	}
	return b
}

// Free releases the batch's device memory.
func (b *Batch) Free(eng engine.Engine) {
	for _, t := range []*engine.Tensor{b.Obs, b.Act, b.NextObs, b.Idx, b.GoalIdx, b.source} {
		if t != nil {
			eng.Free(t)
		}
	}
}

// Sample draws a relabelled minibatch into dst. The transitions of the
// next-state and random rows and the random goals are drawn uniformly with
// replacement by RandInt from rng on the device. The future rows need each
// transition's distance to its episode's end, which only the host knows:
// their transitions and offsets Δ ~ Geom(1−γ), truncated at the episode's
// end, are drawn on the host from the Philox stream relabel and uploaded
// (8 bytes per future row); with no future rows nothing moves between host
// and device. Then the goals are copied into the goal columns of Obs and
// NextObs. No device memory is allocated. It panics if the buffer is empty
// or dst's sizes do not match the buffer's.
func (b *Buffer) Sample(dst *Batch, rng, relabel *engine.RNG, gamma float64) {
	l, s := b.layout, dst.Split
	n := s.Len()
	if b.size == 0 {
		panic("clearning: Sample from an empty buffer")
	}
	if dst.Obs.Len() != n*l.Obs || dst.Act.Len() != n*l.Act {
		panic(fmt.Sprintf("clearning: Sample: batch of observations %v and actions %v for a buffer of [%d] observations and [%d] actions",
			dst.Obs.Shape(), dst.Act.Shape(), l.Obs, l.Act))
	}
	pos := s.Positive()
	rowsOf := func(t *engine.Tensor, from, count int) *engine.Tensor {
		w := t.Len() / n
		return t.View(from*w, count, w)
	}

	// The transitions: uniform rows, then the future rows' own draws over
	// theirs.
	b.eng.RandInt(dst.Idx, rng, b.size)
	if s.Future > 0 {
		start := relabel.Take(2 * s.Future)
		for k := range s.Future {
			r := int(engine.IntAt(relabel.Seed, start, 2*k, b.size))
			u := float64(engine.UniformAt(relabel.Seed, start, 2*k+1, 0, 1))
			delta := GeometricOffset(u, gamma, b.remaining(r))
			dst.rows[k] = int32(r)
			dst.goals[k] = int32((r + delta - 1) % b.capacity)
		}
		b.eng.UploadInt32(dst.Idx.View(s.Next, s.Future), dst.rows)
		b.eng.UploadInt32(dst.GoalIdx.View(0, s.Future), dst.goals)
	}
	b.eng.Gather(dst.Obs, b.Obs, dst.Idx)
	b.eng.Gather(dst.Act, b.Act, dst.Idx)
	b.eng.Gather(dst.NextObs, b.NextObs, dst.Idx)

	// The goals' source observations: the next state itself, a later next
	// state of the episode, or a state of a random transition.
	if s.Next > 0 {
		b.eng.Copy(rowsOf(dst.source, 0, s.Next), rowsOf(dst.NextObs, 0, s.Next))
	}
	if s.Future > 0 {
		b.eng.Gather(rowsOf(dst.source, s.Next, s.Future), b.NextObs, dst.GoalIdx.View(0, s.Future))
	}
	if s.Random > 0 {
		idx := dst.GoalIdx.View(s.Future, s.Random)
		b.eng.RandInt(idx, rng, b.size)
		b.eng.Gather(rowsOf(dst.source, pos, s.Random), b.Obs, idx)
	}
	b.eng.CopyCols(dst.Obs, l.Goal, dst.source, l.Achieved, l.GoalDim)
	b.eng.CopyCols(dst.NextObs, l.Goal, dst.source, l.Achieved, l.GoalDim)
}

// GeometricOffset returns the offset Δ ∈ {1, …, limit} drawn by inversion
// from u ∈ [0, 1) with P(Δ = k) ∝ γ^(k−1): the geometric distribution
// Geom(1−γ) of the discounted future-state distribution,
// p(s_{t+}) = (1−γ) Σ_{Δ≥1} γ^(Δ−1) p(s_{t+Δ}), truncated at the episode's
// end. Since P(Δ ≤ k) = (1 − γ^k)/(1 − γ^limit), Δ is the least k with
// γ^k < 1 − u·(1 − γ^limit). γ = 0 always gives 1. limit must be positive.
//
// [Official] (c_learning_utils.py, truncated_geometric) draws offsets from
// 0, so that a "future" goal is the current state itself with probability
// 1−γ; the offsets here start at 1, the next state, as [CL]'s definition of
// the future-state density does.
func GeometricOffset(u, gamma float64, limit int) int {
	if limit < 1 {
		panic(fmt.Sprintf("clearning: GeometricOffset: limit %d, want at least 1", limit))
	}
	if gamma == 0 || limit == 1 {
		return 1
	}
	c := 1 - math.Pow(gamma, float64(limit))
	k := int(math.Floor(math.Log1p(-u*c)/math.Log(gamma))) + 1
	return min(max(k, 1), limit)
}

func toFloat32(dst []float32, src []float64) []float32 {
	for i, v := range src {
		dst[i] = float32(v)
	}
	return dst
}
