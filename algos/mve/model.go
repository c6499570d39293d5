package mve

import (
	"fmt"
	"math"
	"slices"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Model is a learned dynamics model as value expansion uses it:
// deterministic, with Samples() hypotheses of the dynamics (the members of
// an ensemble) of which each row of a batch picks one.
type Model interface {
	// Samples returns the number of hypotheses, at least 1.
	Samples() int
	// Next sets next [n, Obs] to the predicted next observations of
	// observations obs [n, Obs] under actions act [n, Act] (in the
	// policy's units, (−1, 1)), row i under hypothesis pick[i] (pick an
	// Int32 tensor of n values in [0, Samples())). next must not overlap
	// obs, act or pick.
	Next(next, obs, act, pick *engine.Tensor)
}

// EnsembleModel is an mbpo.Dynamics ensemble used as a deterministic Model:
// the hypotheses are its elites, and row i's next observation is obs plus
// the mean Δobs of member Elites[pick[i]]. Its reward head is not read
// (value expansion takes the environment's reward function).
//
// Only the picked member is evaluated for a row (engine.EnsembleRowForward,
// as mbpo.Rollout does): one member's work per row, not the ensemble's.
// The elites are uploaded again when Dynamics.Train changes them.
type EnsembleModel struct {
	dyn            *mbpo.Dynamics
	eng            engine.Engine
	obsDim, actDim int
	maxRows        int
	layers         []engine.EnsembleLayer
	ws             *engine.EnsembleRowWorkspace
	x              *engine.Tensor // [maxRows, Obs+Act]: the standardised input
	out            *engine.Tensor // [maxRows, 2·(Obs+1)]: the member's mean and raw log-variance
	mean           *engine.Tensor // [maxRows, Obs+1]
	elites         *engine.Tensor // Int32 [Elites]
	uploaded       []int          // the elites in elites
}

var _ Model = (*EnsembleModel)(nil)

// NewEnsembleModel returns dyn as a Model for observations of obsDim and
// actions of actDim elements and batches of up to maxRows rows. It panics
// if the ensemble does not map obsDim+actDim inputs to obsDim+1 targets.
func NewEnsembleModel(eng engine.Engine, dyn *mbpo.Dynamics, obsDim, actDim, maxRows int) *EnsembleModel {
	m := dyn.Model
	if m.Config.In != obsDim+actDim || m.Config.Out != obsDim+1 || maxRows <= 0 {
		panic(fmt.Sprintf("mve: NewEnsembleModel: ensemble maps %d inputs to %d targets; want %d+%d (obs, action) to %d+1 (Δobs, reward), for %d rows",
			m.Config.In, m.Config.Out, obsDim, actDim, obsDim, maxRows))
	}
	e := &EnsembleModel{dyn: dyn, eng: eng, obsDim: obsDim, actDim: actDim, maxRows: maxRows}
	for _, l := range m.MLP.Layers {
		e.layers = append(e.layers, engine.EnsembleLayer{W: l.Weight, B: l.Bias, Act: l.Act})
	}
	d := obsDim + 1
	e.ws = engine.NewEnsembleRowWorkspace(eng, maxRows, engine.EnsembleWidth(e.layers))
	e.x = eng.New(engine.Float32, maxRows, obsDim+actDim)
	e.out = eng.New(engine.Float32, maxRows, 2*d)
	e.mean = eng.New(engine.Float32, maxRows, d)
	e.elites = eng.New(engine.Int32, len(dyn.Elites))
	return e
}

// Samples returns the number of elites.
func (e *EnsembleModel) Samples() int { return len(e.dyn.Elites) }

// Next implements Model: next = obs + μ_Δ of member Elites[pick[i]].
func (e *EnsembleModel) Next(next, obs, act, pick *engine.Tensor) {
	n, o := obs.Dim(0), e.obsDim
	if n > e.maxRows || next.Len() != n*o || act.Len() != n*e.actDim || pick.Len() != n {
		panic(fmt.Sprintf("mve: EnsembleModel.Next: next %v, obs %v, act %v, pick %v for at most %d rows",
			next.Shape(), obs.Shape(), act.Shape(), pick.Shape(), e.maxRows))
	}
	if !slices.Equal(e.uploaded, e.dyn.Elites) {
		ids := make([]int32, len(e.dyn.Elites))
		for i, m := range e.dyn.Elites {
			ids[i] = int32(m)
		}
		e.eng.UploadInt32(e.elites, ids)
		e.uploaded = slices.Clone(e.dyn.Elites)
	}
	eng, model := e.eng, e.dyn.Model
	x, out, mean := e.x.View(0, n, o+e.actDim), e.out.View(0, n, e.out.Dim(1)), e.mean.View(0, n, o+1)
	eng.CopyCols(x, 0, obs, 0, o)
	eng.CopyCols(x, o, act, 0, e.actDim)
	model.InputNorm.Apply(x, x)
	engine.EnsembleRowForward(eng, out, x, pick, e.elites, e.layers, e.ws)
	eng.CopyCols(mean, 0, out, 0, o+1)
	model.TargetNorm.Invert(mean, mean)
	eng.CopyCols(next, 0, mean, 0, o)
	eng.Binary(engine.Add, next, next, obs)
}

// Free releases the Model's scratch (not the dynamics').
func (e *EnsembleModel) Free() {
	e.ws.Free(e.eng)
	for _, t := range []*engine.Tensor{e.x, e.out, e.mean, e.elites} {
		e.eng.Free(t)
	}
}

// terminationBox evaluates an environment's termination rule, a box on the
// next observation (env.Termination), on the device, as mbpo.Rollout does:
// a bounded element is within its box when x ≥ low and −x ≥ −high (so NaN
// never is, as in Termination.Eval), with the float64 bounds rounded
// outwards to float32 so that the float32 comparison decides exactly as
// the float64 one; a row is inside when the sum of its K indicators
// exceeds K − ½.
type terminationBox struct {
	eng             engine.Engine
	kind            env.TerminationKind
	dims            []int
	bounded, within *engine.Tensor // [maxRows, K]
	low, negHigh    *engine.Tensor // [1, K]
	hits            *engine.Tensor // [maxRows, 1]
	allHit          *engine.Tensor // [1]
}

// newTerminationBox returns t on the device for observations of obsDim
// elements and up to maxRows rows, or an error if t is not a box on them.
func newTerminationBox(eng engine.Engine, t env.Termination, obsDim, maxRows int) (*terminationBox, error) {
	if !t.IsBox() {
		return nil, fmt.Errorf("termination rule %v is not a box on the observation; value expansion evaluates only boxes", t.Kind)
	}
	b := &terminationBox{eng: eng, kind: t.Kind}
	k := len(t.Dims)
	if t.Kind == env.NeverTerminates || k == 0 {
		return b, nil
	}
	if len(t.Low) != k || len(t.High) != k {
		return nil, fmt.Errorf("termination box with %d elements, %d lows and %d highs", k, len(t.Low), len(t.High))
	}
	low, negHigh := make([]float32, k), make([]float32, k)
	for j, d := range t.Dims {
		if d < 0 || d >= obsDim {
			return nil, fmt.Errorf("termination box bounds element %d of a %d-element observation", d, obsDim)
		}
		low[j], negHigh[j] = ceil32(t.Low[j]), -floor32(t.High[j])
	}
	f32 := func(shape ...int) *engine.Tensor { return eng.New(engine.Float32, shape...) }
	b.dims = slices.Clone(t.Dims)
	b.bounded, b.within, b.hits = f32(maxRows, k), f32(maxRows, k), f32(maxRows, 1)
	b.low, b.negHigh, b.allHit = f32(1, k), f32(1, k), f32(1)
	eng.Upload(b.low, low)
	eng.Upload(b.negHigh, negHigh)
	eng.Fill(b.allHit, float32(k)-0.5)
	return b, nil
}

// eval sets term [n, 1] to 1 for the rows of next [n, Obs] whose
// transition ends the episode, 0 for the others.
func (b *terminationBox) eval(term, next *engine.Tensor) {
	eng, n := b.eng, next.Dim(0)
	if b.dims == nil {
		// An empty box bounds nothing, so every row is inside it: no row
		// leaves it, every row enters it.
		v := float32(0)
		if b.kind == env.TerminatesInside {
			v = 1
		}
		eng.Fill(term, v)
		return
	}
	k := len(b.dims)
	bounded, within, hits := b.bounded.View(0, n, k), b.within.View(0, n, k), b.hits.View(0, n, 1)
	for j, d := range b.dims {
		eng.CopyCols(bounded, j, next, d, 1)
	}
	eng.Binary(engine.GE, within, bounded, b.low)
	eng.Scale(bounded, bounded, -1, 0)
	eng.Binary(engine.GE, bounded, bounded, b.negHigh)
	eng.Binary(engine.Mul, within, within, bounded)
	eng.ReduceRows(engine.Sum, hits, within)
	eng.Binary(engine.GE, term, hits, b.allHit)
	if b.kind == env.TerminatesOutside {
		eng.Scale(term, term, -1, 1)
	}
}

func (b *terminationBox) free() {
	for _, t := range []*engine.Tensor{b.bounded, b.within, b.low, b.negHigh, b.hits, b.allHit} {
		if t != nil {
			b.eng.Free(t)
		}
	}
}

// ceil32 returns the smallest float32 ≥ v, floor32 the largest ≤ v.
func ceil32(v float64) float32 {
	f := float32(v)
	if float64(f) < v {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

func floor32(v float64) float32 {
	f := float32(v)
	if float64(f) > v {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// hostReward evaluates the environment's reward function (env.Model's
// RewardBatch, on host float64 slices) for imagined transitions on the
// device: one download of the states and actions and one upload of the
// rewards per call.
//
// This is the one host round trip of an update. The engine has no atan2,
// which Pendulum-v1's reward needs for the angle of (cos θ, sin θ); a
// Binary Atan2 op (with the rest of each reward written against engine
// ops, or the reward given as data like env.Termination) would keep it on
// the device. Its cost per update is a wait for the device's queue to
// drain, (H+1)·R·Obs + H·R·Act floats down and H·R up (R rows per step,
// B for MVE and Elites·B for STEVE): for MVE on Pendulum-v1 with B = 256
// and H = 5, 23 KB down and 5 KB up; the B·H reward evaluations are
// microseconds.
type hostReward struct {
	model          env.Model
	obsDim, actDim int
	scale, bias    []float64 // the policy's (−1, 1) to the environment's Box: bias + scale·a
	states, acts   []float32
	obs64, act64   []float64
	out            []float64
	out32          []float32
}

func newHostReward(model env.Model, obsDim, actDim int, low, high []float64) *hostReward {
	h := &hostReward{model: model, obsDim: obsDim, actDim: actDim}
	for i := range low {
		h.scale = append(h.scale, (high[i]-low[i])/2)
		h.bias = append(h.bias, (high[i]+low[i])/2)
	}
	return h
}

// compute sets rewards [m, 1] to the rewards of the m = steps·rows
// transitions of states [(steps+1)·rows, Obs], whose block t of rows rows
// holds the states of step t, and acts [steps·rows, Act]: transition i goes
// from state row i under action row i to state row rows+i.
func (h *hostReward) compute(eng engine.Engine, rewards, states, acts *engine.Tensor, steps, rows int) {
	m := steps * rows
	h.states = grow(h.states, states.Len())
	h.acts = grow(h.acts, acts.Len())
	eng.Download(h.states, states)
	eng.Download(h.acts, acts)
	h.obs64 = grow(h.obs64, len(h.states))
	for i, v := range h.states {
		h.obs64[i] = float64(v)
	}
	h.act64 = grow(h.act64, len(h.acts))
	for i, v := range h.acts {
		j := i % h.actDim
		h.act64[i] = h.bias[j] + h.scale[j]*float64(v)
	}
	h.out = grow(h.out, m)
	o := h.obsDim
	h.model.RewardBatch(h.obs64[:m*o], h.act64[:m*h.actDim], h.obs64[rows*o:(rows+m)*o], m, h.out)
	h.out32 = grow(h.out32, m)
	for i, v := range h.out {
		h.out32[i] = float32(v)
	}
	eng.Upload(rewards, h.out32)
}

// grow returns s resized to n elements, reusing its storage when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
