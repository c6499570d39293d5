package mbpo

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// RolloutSpec describes the model rollouts a Rollout runs.
type RolloutSpec struct {
	// Obs and Act are the observation and action sizes. The ensemble must
	// map Obs+Act inputs ([obs, action]) to Obs+1 targets ([next obs − obs,
	// reward], in that order), and the policy Obs observations to Act
	// actions. Required.
	Obs, Act int
	// ActLow and ActHigh, when set (Act finite values each, low < high),
	// rescale the policy's actions a ∈ (−1, 1) onto the box [low, high]
	// as the environment would get them, low + (a+1)·(high−low)/2, before
	// the model sees them and the buffer stores them. Leave them nil when
	// the model is trained on, and the buffers hold, the policy's own
	// (−1, 1) actions, as algos/sac stores them.
	ActLow, ActHigh []float64
	// Termination is the environment's true termination rule, which ends
	// an imagined rollout as jannerm/mbpo's static termination functions do
	// (mbpo/static). It must be a box (Termination.IsBox) over elements of
	// the observation; the zero value never terminates.
	Termination env.Termination
	// MaxBatch is the most start states a Run takes: the device workspaces
	// are allocated for it. Required.
	MaxBatch int
}

// Rollout runs MBPO's model rollouts (Janner et al. 2019, Algorithm 2;
// jannerm/mbpo, mbpo.py rollout_model and models/fake_env.py): from a batch
// of start states it steps the learned model under the current policy and
// adds every imagined transition to a replay buffer. All of it runs on the
// engine's device, in workspaces allocated once for MaxBatch rows; a step
// allocates no device memory.
//
// One step of n live rows:
//
//  1. the policy samples an action a = tanh(μ + σ·ε) for every row
//     (nn.Policy's tanh-squashed Gaussian), rescaled when the spec says;
//  2. each row picks one elite member uniformly at random, and only that
//     member is evaluated for the row (engine.EnsembleRowForward; the
//     official code evaluates all seven members and keeps one);
//  3. the member's Gaussian over the targets is sampled, in the targets'
//     own units: y = μ + exp(lv/2)·ε with μ and lv as nn.Ensemble.Predict
//     computes them; next obs = obs + y[:Obs], reward = y[Obs];
//  4. the environment's termination rule is evaluated on next obs, on the
//     device;
//  5. the n transitions are added to the buffer, terminal ones with
//     Terminated = 1.
//
// Rows that terminated stop: the live rows are compacted to the front of
// the state workspace (a stable Gather, so they keep their order) and only
// they take the next step, so that a terminated rollout adds no further
// transitions and costs nothing more. Finding the live rows downloads the
// step's n terminal flags (4·n bytes) and uploads the live rows' indices;
// the buffer's ring, kept on the host, needs the count anyway. Rules that
// never terminate skip this.
//
// The step is laid out for a later fusion into one or a few kernels:
// everything it reads is a device tensor (the networks' parameters as
// views, the standardisers, the log-variance bounds, the elite ids, the
// termination box as float32 thresholds) and its random numbers are fixed
// by the RNG's seed and counter in the order Run documents, so a fused
// kernel can draw them itself with Philox and reproduce Run; it could then
// compact the live rows on the device too (a prefix sum over the flags) and
// download only their count.
//
// A Rollout is not safe for concurrent use, as its engine is not. The model
// and policy may be trained between Runs: the Rollout reads their
// parameters, never copies them.
type Rollout struct {
	spec   RolloutSpec
	eng    engine.Engine
	model  *nn.Ensemble
	policy *nn.Policy
	layers []engine.EnsembleLayer // the model's MLP

	// ws is EnsembleRowForward's scratch; its A and B also carry the
	// policy's hidden layers, which are done with before the model runs.
	ws *engine.EnsembleRowWorkspace

	obs, next     *engine.Tensor // [MaxBatch, Obs]: the live rows' states and successors
	act           *engine.Tensor // [MaxBatch, Act]
	mu, std, eps  *engine.Tensor // [MaxBatch, Act]: the policy's Gaussian
	scale, shift  *engine.Tensor // [1, Act]: the action rescaling; nil for none
	x             *engine.Tensor // [MaxBatch, Obs+Act]: the model's input
	out           *engine.Tensor // [MaxBatch, 2·(Obs+1)]: the member's mean and raw log-variance
	mean, lv, tmp *engine.Tensor // [MaxBatch, Obs+1]
	reward, term  *engine.Tensor // [MaxBatch, 1]
	pick          *engine.Tensor // Int32 [MaxBatch]: each row's index into elites
	elites        *engine.Tensor // Int32 [Members]: the elite member ids
	live          *engine.Tensor // Int32 [MaxBatch]: the rows that did not terminate

	// The termination box on the device (nil when the rule never
	// terminates or bounds nothing): the bounded elements of next obs, the
	// bounds as float32 thresholds that decide exactly as the float64
	// bounds do, and the number of bounded elements less ½.
	bounded, within *engine.Tensor // [MaxBatch, K]
	low, negHigh    *engine.Tensor // [1, K]
	hits            *engine.Tensor // [MaxBatch, 1]
	allHit          *engine.Tensor // [1]

	termHost  []float32
	liveHost  []int32
	eliteHost []int32
	batch     replay.Batch
}

// NewRollout allocates the workspaces of rollouts of up to spec.MaxBatch
// start states through model and policy on eng. It panics if the spec
// disagrees with the networks' sizes, if its action bounds are not finite
// with low < high, or if its termination rule is not a box over the
// observation (TerminatesByRule): these are the caller's to check, where
// the environment is chosen.
func NewRollout(eng engine.Engine, model *nn.Ensemble, policy *nn.Policy, spec RolloutSpec) *Rollout {
	o, a, d := spec.Obs, spec.Act, spec.Obs+1
	switch {
	case o <= 0 || a <= 0 || spec.MaxBatch <= 0:
		panic(fmt.Sprintf("mbpo: NewRollout: observation size %d, action size %d and batch %d must be positive", o, a, spec.MaxBatch))
	case model.Config.In != o+a || model.Config.Out != d:
		panic(fmt.Sprintf("mbpo: NewRollout: ensemble maps %d inputs to %d targets; want %d+%d (obs, action) to %d+1 (Δobs, reward)",
			model.Config.In, model.Config.Out, o, a, o))
	case policy.Config.Obs != o || policy.Config.Act != a:
		panic(fmt.Sprintf("mbpo: NewRollout: policy maps %d observations to %d actions; want %d to %d",
			policy.Config.Obs, policy.Config.Act, o, a))
	}
	b := spec.MaxBatch
	r := &Rollout{spec: spec, eng: eng, model: model, policy: policy}
	for _, l := range model.MLP.Layers {
		r.layers = append(r.layers, engine.EnsembleLayer{W: l.Weight, B: l.Bias, Act: l.Act})
	}
	width := engine.EnsembleWidth(r.layers)
	for _, l := range policy.MLP.Layers {
		width = max(width, l.In, l.Out)
	}
	r.ws = engine.NewEnsembleRowWorkspace(eng, b, width)
	f32 := func(shape ...int) *engine.Tensor { return eng.New(engine.Float32, shape...) }
	r.obs, r.next = f32(b, o), f32(b, o)
	r.act, r.mu, r.std, r.eps = f32(b, a), f32(b, a), f32(b, a), f32(b, a)
	r.x, r.out = f32(b, o+a), f32(b, 2*d)
	r.mean, r.lv, r.tmp = f32(b, d), f32(b, d), f32(b, d)
	r.reward, r.term = f32(b, 1), f32(b, 1)
	r.pick, r.live = eng.New(engine.Int32, b), eng.New(engine.Int32, b)
	r.elites = eng.New(engine.Int32, model.Config.Members)
	r.termHost, r.liveHost = make([]float32, b), make([]int32, b)
	r.eliteHost = make([]int32, 0, model.Config.Members)

	if spec.ActLow != nil || spec.ActHigh != nil {
		r.scale, r.shift = f32(1, a), f32(1, a)
		eng.Upload(r.scale, actionAffine(spec, func(lo, hi float64) float64 { return (hi - lo) / 2 }))
		eng.Upload(r.shift, actionAffine(spec, func(lo, hi float64) float64 { return (hi + lo) / 2 }))
	}

	t := spec.Termination
	switch t.Kind {
	case env.NeverTerminates, env.TerminatesOutside, env.TerminatesInside:
	default:
		panic(fmt.Sprintf("mbpo: NewRollout: termination rule %v is not a box; model rollouts evaluate only boxes on the device", t.Kind))
	}
	if k := len(t.Dims); t.Kind != env.NeverTerminates && k > 0 {
		if len(t.Low) != k || len(t.High) != k {
			panic(fmt.Sprintf("mbpo: NewRollout: termination with %d dims, %d lows and %d highs", k, len(t.Low), len(t.High)))
		}
		low, negHigh := make([]float32, k), make([]float32, k)
		for j, dim := range t.Dims {
			if dim < 0 || dim >= o {
				panic(fmt.Sprintf("mbpo: NewRollout: termination bounds element %d of a %d-element observation", dim, o))
			}
			low[j], negHigh[j] = ceil32(t.Low[j]), -floor32(t.High[j])
		}
		r.bounded, r.within, r.hits = f32(b, k), f32(b, k), f32(b, 1)
		r.low, r.negHigh, r.allHit = f32(1, k), f32(1, k), f32(1)
		eng.Upload(r.low, low)
		eng.Upload(r.negHigh, negHigh)
		eng.Fill(r.allHit, float32(k)-0.5)
	}
	return r
}

// actionAffine checks the spec's action bounds and returns f(low, high) for
// each element as float32.
func actionAffine(spec RolloutSpec, f func(lo, hi float64) float64) []float32 {
	if len(spec.ActLow) != spec.Act || len(spec.ActHigh) != spec.Act {
		panic(fmt.Sprintf("mbpo: NewRollout: %d action lows and %d highs for %d actions", len(spec.ActLow), len(spec.ActHigh), spec.Act))
	}
	v := make([]float32, spec.Act)
	for i, lo := range spec.ActLow {
		hi := spec.ActHigh[i]
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			panic(fmt.Sprintf("mbpo: NewRollout: action bounds [%g, %g] of element %d must be finite with low < high", lo, hi, i))
		}
		v[i] = float32(f(lo, hi))
	}
	return v
}

// ceil32 returns the smallest float32 ≥ v, so that for every float32 x,
// x ≥ ceil32(v) exactly when x ≥ v: the device compares float32
// observations with the rule's float64 bounds as Termination.Eval does.
func ceil32(v float64) float32 {
	f := float32(v)
	if float64(f) < v {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// floor32 returns the largest float32 ≤ v.
func floor32(v float64) float32 {
	f := float32(v)
	if float64(f) > v {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// Free releases the Rollout's device memory (not the model's or the
// policy's).
func (r *Rollout) Free() {
	r.ws.Free(r.eng)
	for _, t := range []*engine.Tensor{r.obs, r.next, r.act, r.mu, r.std, r.eps, r.scale, r.shift,
		r.x, r.out, r.mean, r.lv, r.tmp, r.reward, r.term, r.pick, r.elites, r.live,
		r.bounded, r.within, r.low, r.negHigh, r.hits, r.allHit} {
		if t != nil {
			r.eng.Free(t)
		}
	}
}

// Run rolls the model out for horizon steps from the start states starts
// ([B, Obs], B ≤ MaxBatch, on the device: a batch drawn from the real
// buffer) with the members elites (ids into the ensemble, at least one),
// adds every imagined transition to into, and returns how many it added: B
// at the first step, then the rows still live at each later one (see
// Rollout). starts is not modified.
//
// Randomness comes from rng alone, in a fixed order that any engine (and a
// future fused kernel) reproduces: at each step of n live rows, one
// RandNormal of n·Act values (the policy's noise, row-major), one RandInt
// of n picks into elites, and one RandNormal of n·(Obs+1) values (the
// model's noise, row-major). Runs from the same seed on the same engine
// are identical; the CPU and CUDA engines draw the same numbers, so their
// rollouts agree to rounding (up to a row whose termination is decided
// within rounding of a bound).
func (r *Rollout) Run(starts *engine.Tensor, horizon int, elites []int, rng *engine.RNG, into *replay.Buffer) (added int) {
	o := r.spec.Obs
	if starts.Rank() != 2 || starts.Dim(1) != o || starts.Dim(0) > r.spec.MaxBatch {
		panic(fmt.Sprintf("mbpo: Rollout.Run: start states %v, want [B %d] with B ≤ %d", starts.Shape(), o, r.spec.MaxBatch))
	}
	if horizon < 0 {
		panic(fmt.Sprintf("mbpo: Rollout.Run: horizon %d", horizon))
	}
	if into.ObsDim() != o || into.ActDim() != r.spec.Act {
		panic(fmt.Sprintf("mbpo: Rollout.Run: buffer of %d observations and %d actions, want %d and %d",
			into.ObsDim(), into.ActDim(), o, r.spec.Act))
	}
	if len(elites) == 0 || len(elites) > r.model.Config.Members {
		panic(fmt.Sprintf("mbpo: Rollout.Run: %d elites of %d members", len(elites), r.model.Config.Members))
	}
	r.eliteHost = r.eliteHost[:0]
	for _, m := range elites {
		if m < 0 || m >= r.model.Config.Members {
			panic(fmt.Sprintf("mbpo: Rollout.Run: elite %d out of range [0, %d)", m, r.model.Config.Members))
		}
		r.eliteHost = append(r.eliteHost, int32(m))
	}
	k := len(elites)
	r.eng.UploadInt32(r.elites.View(0, k), r.eliteHost)

	n := starts.Dim(0)
	if n == 0 {
		return 0
	}
	r.eng.Copy(r.obs.View(0, n*o), starts.View(0, n*o))
	for s := 0; s < horizon && n > 0; s++ {
		r.step(n, k, rng)
		r.batch = replay.Batch{
			Obs: headRows(r.obs, n), Act: headRows(r.act, n), Reward: headRows(r.reward, n),
			NextObs: headRows(r.next, n), Terminated: headRows(r.term, n),
		}
		into.AddDevice(&r.batch)
		added += n
		if s+1 < horizon {
			n = r.advance(n)
		}
	}
	return added
}

// headRows returns the first n rows of a workspace tensor.
func headRows(t *engine.Tensor, n int) *engine.Tensor { return t.View(0, n, t.Dim(-1)) }

// step takes one step of the n live rows in r.obs: actions into r.act,
// successors into r.next, rewards into r.reward and terminal flags into
// r.term, using the first k elites.
func (r *Rollout) step(n, k int, rng *engine.RNG) {
	r.sampleActions(n, rng)
	r.sampleModel(n, k, rng)
	r.terminate(n)
}

// sampleActions computes the policy's action for each of the n rows as
// nn.Policy.Sample does, a = tanh(μ + σ·ε) with log σ = lo + (hi − lo)·
// (tanh r + 1)/2, from one RandNormal of n·Act values, without the
// log-probability and the state Sample keeps for Backward (and without
// Sample's workspace per batch size: n shrinks as rows terminate).
func (r *Rollout) sampleActions(n int, rng *engine.RNG) {
	e, na := r.eng, r.spec.Act
	h := headRows(r.obs, n)
	for i, l := range r.policy.MLP.Layers {
		buf := r.ws.A
		if i%2 == 1 {
			buf = r.ws.B
		}
		y := buf.View(0, n, l.Out)
		engine.Linear(e, l.Act, y, h, l.Weight, l.Bias)
		h = y
	}
	mu, std, eps, act := headRows(r.mu, n), headRows(r.std, n), headRows(r.eps, n), headRows(r.act, n)
	e.CopyCols(mu, 0, h, 0, na)
	e.CopyCols(std, 0, h, na, na)
	lo, hi := r.policy.Config.LogStdMin, r.policy.Config.LogStdMax
	e.Activate(engine.Tanh, std, std)
	e.Scale(std, std, (hi-lo)/2, lo+(hi-lo)/2)
	e.Unary(engine.Exp, std, std)
	e.RandNormal(eps, rng, 0, 1)
	e.Binary(engine.Mul, eps, std, eps)
	e.Binary(engine.Add, eps, eps, mu)
	e.Activate(engine.Tanh, act, eps)
	if r.scale != nil {
		e.Binary(engine.Mul, act, act, r.scale)
		e.Binary(engine.Add, act, act, r.shift)
	}
}

// sampleModel evaluates one of the first k elites for each of the n rows
// and samples its Gaussian into r.next and r.reward.
func (r *Rollout) sampleModel(n, k int, rng *engine.RNG) {
	e, o, d := r.eng, r.spec.Obs, r.spec.Obs+1
	obs, x := headRows(r.obs, n), headRows(r.x, n)
	e.CopyCols(x, 0, obs, 0, o)
	e.CopyCols(x, o, headRows(r.act, n), 0, r.spec.Act)
	r.model.InputNorm.Apply(x, x)
	pick := r.pick.View(0, n)
	e.RandInt(pick, rng, k)
	out := headRows(r.out, n)
	engine.EnsembleRowForward(e, out, x, pick, r.elites.View(0, k), r.layers, r.ws)

	// The soft log-variance bounds, as nn.Ensemble.Predict computes them:
	// lv = max − softplus(max − raw), then min + softplus(lv − min).
	mean, lv, tmp := headRows(r.mean, n), headRows(r.lv, n), headRows(r.tmp, n)
	e.CopyCols(mean, 0, out, 0, d)
	e.CopyCols(lv, 0, out, d, d)
	mx, mn := r.model.MaxLogVar, r.model.MinLogVar
	e.Binary(engine.Sub, tmp, lv, mx)
	e.Scale(tmp, tmp, -1, 0)
	e.Activate(engine.Softplus, tmp, tmp)
	e.Binary(engine.Sub, tmp, tmp, mx)
	e.Scale(tmp, tmp, -1, 0)
	e.Binary(engine.Sub, tmp, tmp, mn)
	e.Activate(engine.Softplus, tmp, tmp)
	e.Binary(engine.Add, lv, tmp, mn)

	// y = μ + exp(lv/2)·ε in standardised units, then in the targets' own:
	// σ_y·(μ + exp(lv/2)·ε) + m_y is μ' + exp(lv'/2)·ε for Predict's
	// μ' = σ_y·μ + m_y and lv' = lv + 2·log σ_y.
	e.Scale(lv, lv, 0.5, 0)
	e.Unary(engine.Exp, lv, lv)
	e.RandNormal(tmp, rng, 0, 1)
	e.Binary(engine.Mul, tmp, tmp, lv)
	e.Binary(engine.Add, mean, mean, tmp)
	r.model.TargetNorm.Invert(mean, mean)

	next := headRows(r.next, n)
	e.CopyCols(next, 0, mean, 0, o)
	e.Binary(engine.Add, next, next, obs)
	e.CopyCols(headRows(r.reward, n), 0, mean, o, 1)
}

// terminate sets r.term to 1 for the rows of r.next whose transition ends
// the episode under the spec's rule, 0 for the others. A bounded element
// is within its box when x ≥ low and −x ≥ −high (so NaN never is, as in
// Termination.Eval); a row is inside when all K are, that is when the sum
// of the K indicators exceeds K − ½.
func (r *Rollout) terminate(n int) {
	e, t := r.eng, r.spec.Termination
	term := headRows(r.term, n)
	if t.Kind == env.NeverTerminates || len(t.Dims) == 0 {
		// An empty box bounds nothing, so every row is inside it: no row
		// leaves it, every row enters it.
		v := float32(0)
		if t.Kind == env.TerminatesInside {
			v = 1
		}
		e.Fill(term, v)
		return
	}
	next, bounded, within, hits := headRows(r.next, n), headRows(r.bounded, n), headRows(r.within, n), headRows(r.hits, n)
	for j, dim := range t.Dims {
		e.CopyCols(bounded, j, next, dim, 1)
	}
	e.Binary(engine.GE, within, bounded, r.low)
	e.Scale(bounded, bounded, -1, 0)
	e.Binary(engine.GE, bounded, bounded, r.negHigh)
	e.Binary(engine.Mul, within, within, bounded)
	e.ReduceRows(engine.Sum, hits, within)
	e.Binary(engine.GE, term, hits, r.allHit)
	if t.Kind == env.TerminatesOutside {
		e.Scale(term, term, -1, 1)
	}
}

// advance makes the rows of r.next that did not terminate the states of
// the next step, compacted to the front of r.obs in their order, and
// returns their number.
func (r *Rollout) advance(n int) int {
	if r.spec.Termination.Kind == env.NeverTerminates {
		r.obs, r.next = r.next, r.obs
		return n
	}
	flags := r.termHost[:n]
	r.eng.Download(flags, r.term.View(0, n))
	live := r.liveHost[:0]
	for i, f := range flags {
		if f == 0 {
			live = append(live, int32(i))
		}
	}
	switch m := len(live); m {
	case n:
		r.obs, r.next = r.next, r.obs
	case 0:
	default:
		idx := r.live.View(0, m)
		r.eng.UploadInt32(idx, live)
		r.eng.Gather(headRows(r.obs, m), headRows(r.next, n), idx)
	}
	return len(live)
}
