package mbpo

import (
	"fmt"
	"math"
	"slices"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// ActionSource is where a model rollout's actions come from: the "choose
// a" of the general Dyna recipe (see Config.RolloutActions and
// docs/dyna.md). The zero value is ActionsFromPolicy.
type ActionSource string

// The action sources of a model rollout.
const (
	// ActionsFromPolicy samples the policy at every imagined step:
	// MBPO's branched rollouts.
	ActionsFromPolicy ActionSource = "policy"
	// ActionsFromBuffer takes, at the first imagined step, the action
	// stored with each start state in the real buffer (which
	// Rollout.RunWithActions takes), and the policy's at the later steps.
	ActionsFromBuffer ActionSource = "buffer"
	// ActionsRandom takes, at every imagined step, an action uniform in
	// (−1, 1)^Act from the engine's random stream.
	ActionsRandom ActionSource = "random"
)

// ActionSources lists the valid action sources.
var ActionSources = []ActionSource{ActionsFromPolicy, ActionsFromBuffer, ActionsRandom}

// validate returns an error naming the allowed sources unless a is one of
// them or empty.
func (a ActionSource) validate() error {
	if a == "" || slices.Contains(ActionSources, a) {
		return nil
	}
	return fmt.Errorf("rollout_actions = %q: want one of %q, %q or %q", string(a), ActionsFromPolicy, ActionsFromBuffer, ActionsRandom)
}

// policyAt reports whether step s of a rollout samples the policy.
func (a ActionSource) policyAt(s int) bool {
	switch a {
	case ActionsFromBuffer:
		return s > 0
	case ActionsRandom:
		return false
	}
	return true
}

// opsAt returns the number of rollout ops, each with a cursor of the chain,
// of step s of a rollout: SampleAction where the step samples the policy,
// then PickMembers, SampleTransition and TerminateCompact.
func (a ActionSource) opsAt(s int) int {
	if a.policyAt(s) {
		return 4
	}
	return 3
}

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
	// Actions is where the rollouts' actions come from; the zero value is
	// ActionsFromPolicy. With ActionsFromBuffer the rollouts run through
	// RunWithActions, with the others through Run. ActionsRandom's uniform
	// (−1, 1) actions are rescaled onto [ActLow, ActHigh] as the policy's
	// are; ActionsFromBuffer's are taken as given, in the units the model
	// sees.
	Actions ActionSource
}

// Rollout runs MBPO's model rollouts (Janner et al. 2019, Algorithm 2;
// jannerm/mbpo, mbpo.py rollout_model and models/fake_env.py): from a batch
// of B start states it steps the learned model under the current policy and
// adds every imagined transition to a replay buffer. All of it runs on the
// engine's device, in workspaces allocated once for MaxBatch rows; a step
// allocates no device memory.
//
// One step of the n live rows is a few fused engine ops (engine/rollout.go)
// around the networks' matrix products:
//
//  1. the policy network runs on the states, and engine.SampleAction
//     samples an action a = tanh(μ + σ·ε) for every row (nn.Policy's
//     tanh-squashed Gaussian), rescaled when the spec says; a step whose
//     actions come from elsewhere (the spec's Actions: the start rows'
//     stored actions at the first step, or uniform random ones, both in
//     place before the steps run) skips this;
//  2. engine.PickMembers draws each row's elite member uniformly at random,
//     and engine.EnsembleRowForward evaluates only that member for the row,
//     on the standardised [obs, a] (the official code evaluates all seven
//     members and keeps one);
//  3. engine.SampleTransition samples the member's Gaussian over the
//     targets, in their own units: y = μ + exp(lv/2)·ε with μ and lv as
//     nn.Ensemble.Predict computes them; next obs = obs + y[:Obs], reward =
//     y[Obs];
//  4. engine.TerminateCompact evaluates the environment's termination rule
//     on next obs and gathers the rows that did not terminate, in their
//     order, as the next step's states (a prefix sum over the flags, on the
//     device), so that a terminated rollout adds no further transitions.
//
// How many rows are live after a step depends on the model's samples, so
// only the device knows it: the ops read it, and the offsets of their
// random fills in the stream, from a chain of cursors on the device
// (engine.Cursor), which TerminateCompact extends with the new count. The
// host neither waits for a step nor learns its count until the Run ends,
// and the H steps of a Run issue no transfer between host and device: one
// upload at the start (the elite ids and the first cursor), one download at
// the end (the cursor chain, at most 8·(4H+1) bytes, which holds every
// step's count and the stream's end). The cost of not knowing: the
// networks run over all B rows at every step, the dead ones included, so a
// Run whose rows terminate early takes the time of one where none does,
// instead of a round trip and a wait for the device at every step.
//
// The transitions are staged on the device, step s in rows [s·B, (s+1)·B)
// of staging tensors of horizon·MaxBatch rows (allocated by the first Run
// of each longer horizon: 4·(2·Obs + Act + 2)·MaxBatch bytes per step),
// and inserted into the buffer after the last step, when the counts are
// known: replay.Buffer.AddDevice copies each step's live rows into the ring
// on the device. The alternative, a cursor of the ring kept on the device,
// would save the staging but leave the buffer's host-side length stale
// until a download, which everything that samples the buffer reads.
//
// Randomness comes from the RNG in a fixed order that every engine
// reproduces (see Run), so CPU and GPU rollouts of the same seed agree.
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
	// policy's hidden layers and output, which are done with before the
	// model runs. rws is the rollout ops' scratch.
	ws  *engine.EnsembleRowWorkspace
	rws *engine.RolloutWorkspace

	x    *engine.Tensor // [MaxBatch, Obs+Act]: the model's input
	out  *engine.Tensor // [MaxBatch, 2·(Obs+1)]: the member's mean and raw log-variance
	pick *engine.Tensor // Int32 [MaxBatch]: each row's index into elites

	actions engine.PolicyHead     // the policy's log-std bounds and the action rescaling
	targets engine.ModelHead      // views of the model's bounds and target standardiser
	box     engine.TerminationBox // the termination rule on the device

	// The staged transitions of a Run: Obs has one step more than the
	// others, where the last step's compaction lands. state holds the
	// elite ids (Members) and then the cursor chain (2·(4·horizon+1)).
	horizon   int
	stage     replay.Batch
	state     *engine.Tensor // Int32
	stateHost []int32
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
	t := spec.Termination
	switch t.Kind {
	case env.NeverTerminates, env.TerminatesOutside, env.TerminatesInside:
	default:
		panic(fmt.Sprintf("mbpo: NewRollout: termination rule %v is not a box; model rollouts evaluate only boxes on the device", t.Kind))
	}
	k := 0
	if t.Kind != env.NeverTerminates {
		k = len(t.Dims)
		if len(t.Low) != k || len(t.High) != k {
			panic(fmt.Sprintf("mbpo: NewRollout: termination with %d dims, %d lows and %d highs", k, len(t.Low), len(t.High)))
		}
		for _, dim := range t.Dims {
			if dim < 0 || dim >= o {
				panic(fmt.Sprintf("mbpo: NewRollout: termination bounds element %d of a %d-element observation", dim, o))
			}
		}
	}
	var scale, shift []float32
	if spec.ActLow != nil || spec.ActHigh != nil {
		scale = actionAffine(spec, func(lo, hi float64) float64 { return (hi - lo) / 2 })
		shift = actionAffine(spec, func(lo, hi float64) float64 { return (hi + lo) / 2 })
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
	r.rws = engine.NewRolloutWorkspace(eng, b, max(a, d, k))
	r.x, r.out = eng.New(engine.Float32, b, o+a), eng.New(engine.Float32, b, 2*d)
	r.pick = eng.New(engine.Int32, b)

	r.actions = engine.PolicyHead{LogStdMin: policy.Config.LogStdMin, LogStdMax: policy.Config.LogStdMax}
	if scale != nil {
		r.actions.Scale, r.actions.Shift = eng.New(engine.Float32, 1, a), eng.New(engine.Float32, 1, a)
		eng.Upload(r.actions.Scale, scale)
		eng.Upload(r.actions.Shift, shift)
	}
	r.targets = engine.ModelHead{
		MaxLogVar: model.MaxLogVar, MinLogVar: model.MinLogVar,
		TargetMean: model.TargetNorm.Mean, TargetStd: model.TargetNorm.Std,
	}

	// The box as float32 thresholds that decide exactly as the float64
	// bounds do. An empty box bounds nothing, so every row is inside it:
	// a rule that never terminates is an empty box that ends rows leaving
	// it.
	r.box.Inside = t.Kind == env.TerminatesInside
	if k > 0 {
		dims, low, high := make([]int32, k), make([]float32, k), make([]float32, k)
		for j, dim := range t.Dims {
			dims[j], low[j], high[j] = int32(dim), ceil32(t.Low[j]), floor32(t.High[j])
		}
		r.box.Dims = eng.New(engine.Int32, k)
		r.box.Low, r.box.High = eng.New(engine.Float32, k), eng.New(engine.Float32, k)
		eng.UploadInt32(r.box.Dims, dims)
		eng.Upload(r.box.Low, low)
		eng.Upload(r.box.High, high)
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
	r.rws.Free(r.eng)
	r.freeStage()
	for _, t := range []*engine.Tensor{r.x, r.out, r.pick, r.actions.Scale, r.actions.Shift, r.box.Dims, r.box.Low, r.box.High} {
		if t != nil {
			r.eng.Free(t)
		}
	}
}

// reserve makes the staging hold horizon steps of MaxBatch rows.
func (r *Rollout) reserve(horizon int) {
	if horizon <= r.horizon {
		return
	}
	r.freeStage()
	e, b, o, a := r.eng, r.spec.MaxBatch, r.spec.Obs, r.spec.Act
	r.stage = replay.Batch{
		Obs:        e.New(engine.Float32, (horizon+1)*b, o),
		Act:        e.New(engine.Float32, horizon*b, a),
		Reward:     e.New(engine.Float32, horizon*b, 1),
		NextObs:    e.New(engine.Float32, horizon*b, o),
		Terminated: e.New(engine.Float32, horizon*b, 1),
	}
	n := r.model.Config.Members + 2*(4*horizon+1)
	r.state, r.stateHost = e.New(engine.Int32, n), make([]int32, n)
	r.horizon = horizon
}

func (r *Rollout) freeStage() {
	if r.horizon == 0 {
		return
	}
	r.stage.Free(r.eng)
	r.eng.Free(r.state)
	r.stage, r.state, r.stateHost, r.horizon = replay.Batch{}, nil, nil, 0
}

// stepRows returns the staged rows of step s of a Run of b start states:
// its states, actions, successors, rewards and terminal flags, b rows each,
// and the rows that receive the next step's states.
func (r *Rollout) stepRows(s, b int) (obs, act, next, reward, term, live *engine.Tensor) {
	o, a := r.spec.Obs, r.spec.Act
	return r.stage.Obs.View(s*b*o, b, o), r.stage.Act.View(s*b*a, b, a),
		r.stage.NextObs.View(s*b*o, b, o), r.stage.Reward.View(s*b, b, 1),
		r.stage.Terminated.View(s*b, b, 1), r.stage.Obs.View((s+1)*b*o, b, o)
}

// Run rolls the model out for horizon steps from the start states starts
// ([B, Obs], B ≤ MaxBatch, on the device: a batch drawn from the real
// buffer) with the members elites (ids into the ensemble, at least one),
// adds every imagined transition to into, and returns how many it added: B
// at the first step, then the rows still live at each later one (see
// Rollout). starts is not modified. The actions come from the spec's
// source, which must not be ActionsFromBuffer (see RunWithActions).
//
// Randomness comes from rng alone, in a fixed order that any engine
// reproduces: with ActionsRandom first one RandUniform of horizon·B·Act
// values (every step's actions, row-major, step after step); then at each
// step of n live rows, one RandNormal of n·Act values (the policy's noise,
// row-major; only at a step that samples the policy), one RandInt of n
// picks into elites, and one RandNormal of n·(Obs+1) values (the model's
// noise, row-major), each from where the one before left the counter, as
// if drawn by the primitives. rng ends past all of them. Runs from the same
// seed on the same engine are identical; the CPU and CUDA engines draw the
// same numbers, so their rollouts agree to rounding, up to a row whose
// termination is decided within rounding of a bound: it ends on one engine
// and goes on on the other, and the rows and draws after it shift.
func (r *Rollout) Run(starts *engine.Tensor, horizon int, elites []int, rng *engine.RNG, into *replay.Buffer) (added int) {
	if r.spec.Actions == ActionsFromBuffer {
		panic("mbpo: Rollout.Run: the spec's actions come from the buffer; call RunWithActions with the start states' actions")
	}
	return r.run(starts, nil, horizon, elites, rng, into)
}

// RunWithActions is Run for a spec whose Actions is ActionsFromBuffer:
// acts ([B, Act], on the device) holds the actions stored with the start
// states in the real buffer, row i with starts' row i, in the units the
// model sees, and the first step takes them instead of sampling the
// policy, so that at horizon 1 the rollout re-simulates the real
// transitions (s, a) with the model; the later steps sample the policy.
// The first step draws no policy noise. acts is not modified.
func (r *Rollout) RunWithActions(starts, acts *engine.Tensor, horizon int, elites []int, rng *engine.RNG, into *replay.Buffer) (added int) {
	if r.spec.Actions != ActionsFromBuffer {
		panic(fmt.Sprintf("mbpo: Rollout.RunWithActions: the spec's actions come from %q, not from the buffer; call Run", r.source()))
	}
	if acts == nil || acts.Rank() != 2 || acts.Dim(0) != starts.Dim(0) || acts.Dim(1) != r.spec.Act {
		shape := []int(nil)
		if acts != nil {
			shape = acts.Shape()
		}
		panic(fmt.Sprintf("mbpo: Rollout.RunWithActions: actions %v for start states %v, want [%d %d]", shape, starts.Shape(), starts.Dim(0), r.spec.Act))
	}
	return r.run(starts, acts, horizon, elites, rng, into)
}

// source returns the spec's action source, the zero value read as
// ActionsFromPolicy.
func (r *Rollout) source() ActionSource {
	if r.spec.Actions == "" {
		return ActionsFromPolicy
	}
	return r.spec.Actions
}

// run is Run and RunWithActions; acts is nil but for ActionsFromBuffer.
func (r *Rollout) run(starts, acts *engine.Tensor, horizon int, elites []int, rng *engine.RNG, into *replay.Buffer) (added int) {
	o, a, d, members := r.spec.Obs, r.spec.Act, r.spec.Obs+1, r.model.Config.Members
	if starts.Rank() != 2 || starts.Dim(1) != o || starts.Dim(0) > r.spec.MaxBatch {
		panic(fmt.Sprintf("mbpo: Rollout.Run: start states %v, want [B %d] with B ≤ %d", starts.Shape(), o, r.spec.MaxBatch))
	}
	if horizon < 0 {
		panic(fmt.Sprintf("mbpo: Rollout.Run: horizon %d", horizon))
	}
	if into.ObsDim() != o || into.ActDim() != a {
		panic(fmt.Sprintf("mbpo: Rollout.Run: buffer of %d observations and %d actions, want %d and %d",
			into.ObsDim(), into.ActDim(), o, a))
	}
	if len(elites) == 0 || len(elites) > members {
		panic(fmt.Sprintf("mbpo: Rollout.Run: %d elites of %d members", len(elites), members))
	}
	for _, m := range elites {
		if m < 0 || m >= members {
			panic(fmt.Sprintf("mbpo: Rollout.Run: elite %d out of range [0, %d)", m, members))
		}
	}
	b, k := starts.Dim(0), len(elites)
	if b == 0 || horizon == 0 {
		return 0
	}
	perStep := engine.Counters(b*a) + engine.Counters(b) + engine.Counters(b*d)
	if horizon > math.MaxInt32/perStep {
		panic(fmt.Sprintf("mbpo: Rollout.Run: %d steps of %d rows draw more than the device's stream offset holds (2³¹−1 counters); run fewer at a time",
			horizon, b))
	}
	r.reserve(horizon)
	src := r.source()
	ops := 0
	for s := range horizon {
		ops += src.opsAt(s)
	}

	// One upload: the elite ids and the first cursor, (B live rows, offset
	// 0 from rng.Counter).
	host := r.stateHost[:members+2]
	clear(host)
	for i, m := range elites {
		host[i] = int32(m)
	}
	host[members] = int32(b)
	r.eng.UploadInt32(r.state.View(0, members+2), host)
	chain := r.state.View(members, 2*(ops+1))
	obs0, act0, _, _, _, _ := r.stepRows(0, b)
	r.eng.Copy(obs0, starts)

	// Actions that do not come from the policy are in place before the
	// first step, on the device: the start rows' stored ones, or every
	// step's random ones, drawn from rng ahead of the steps' draws.
	switch src {
	case ActionsFromBuffer:
		r.eng.Copy(act0, acts)
	case ActionsRandom:
		r.randomActions(horizon, b, rng)
	}

	op := 0
	for s := range horizon {
		r.step(s, b, k, rng, chain, op)
		op += src.opsAt(s)
	}

	// One download: every step's live count, and how far the stream went.
	// Step s's count is the first pair of its first op's cursor.
	track := r.stateHost[:chain.Len()]
	r.eng.DownloadInt32(track, chain)
	drawn, prev := 0, b
	op = 0
	for s := range horizon {
		n := int(track[2*op])
		if n < 0 || n > prev {
			panic(fmt.Sprintf("mbpo: Rollout.Run: the device counted %d live rows at step %d of a rollout of %d (%v): the engine's rollout ops are broken", n, s, b, track))
		}
		if src.policyAt(s) {
			drawn += engine.Counters(n * a)
		}
		drawn += engine.Counters(n) + engine.Counters(n*d)
		op += src.opsAt(s)
		prev = n
		if n == 0 {
			continue
		}
		obs, act, next, reward, term, _ := r.stepRows(s, b)
		into.AddDevice(&replay.Batch{
			Obs: obs.View(0, n, o), Act: act.View(0, n, a), Reward: reward.View(0, n, 1),
			NextObs: next.View(0, n, o), Terminated: term.View(0, n, 1),
		})
		added += n
	}
	if end := int(track[len(track)-1]); end != drawn {
		panic(fmt.Sprintf("mbpo: Rollout.Run: the device's stream ended %d counters on, the counts say %d (%v): the engine's rollout ops are broken", end, drawn, track))
	}
	rng.Counter += uint64(drawn)
	return added
}

// randomActions fills the staged actions of all horizon steps of a Run of
// b start states with one RandUniform from rng, rescaled as the policy's
// actions are. Every step's b rows get draws, the rows that will not be
// live included: which those are only the device learns, and the fill
// must not wait for it. The live rows of a step, compacted to its first
// rows, take the first of them.
func (r *Rollout) randomActions(horizon, b int, rng *engine.RNG) {
	acts := r.stage.Act.View(0, horizon*b, r.spec.Act)
	// RandUniform draws from [lo, hi): lo one float32 above −1 keeps the
	// actions in the open (−1, 1) of the policy's tanh, where SAC's
	// actions live.
	r.eng.RandUniform(acts, rng, math.Nextafter32(-1, 0), 1)
	if r.actions.Scale != nil {
		r.eng.Binary(engine.Mul, acts, acts, r.actions.Scale)
		r.eng.Binary(engine.Add, acts, acts, r.actions.Shift)
	}
}

// step takes step s of a Run of b start states, whose first k elites are
// the members to pick from, through the cursors of chain from op on: the
// live rows of the step's staged states get actions (sampled from the
// policy here, unless the spec's source put them in place before the
// steps), successors, rewards and terminal flags, and those that go on
// become the next step's states.
func (r *Rollout) step(s, b, k int, rng *engine.RNG, chain *engine.Tensor, op int) {
	e, o, a := r.eng, r.spec.Obs, r.spec.Act
	obs, act, next, reward, term, live := r.stepRows(s, b)
	cur := func() *engine.Tensor { c := engine.Cursor(chain, op); op++; return c }

	// The policy's action: its MLP through the workspace, then the
	// squashed Gaussian's sample.
	if r.source().policyAt(s) {
		h := obs
		for i, l := range r.policy.MLP.Layers {
			buf := r.ws.A
			if i%2 == 1 {
				buf = r.ws.B
			}
			y := buf.View(0, b, l.Out)
			engine.Linear(e, l.Act, y, h, l.Weight, l.Bias)
			h = y
		}
		engine.SampleAction(e, act, h, r.actions, rng, cur(), r.rws)
	}

	// One elite member per row on the standardised [obs, action].
	x := r.x.View(0, b, o+a)
	e.CopyCols(x, 0, obs, 0, o)
	e.CopyCols(x, o, act, 0, a)
	r.model.InputNorm.Apply(x, x)
	pick := r.pick.View(0, b)
	engine.PickMembers(e, pick, k, rng, cur())
	out := r.out.View(0, b, 2*(o+1))
	engine.EnsembleRowForward(e, out, x, pick, r.state.View(0, k), r.layers, r.ws)

	// The member's Gaussian, the termination rule and the live rows.
	engine.SampleTransition(e, next, reward, out, obs, r.targets, rng, cur(), r.rws)
	r.terminate(term, live, next, cur())
}

// terminate sets term to 1 for the cursor's live rows of next whose
// transition ends the episode under the spec's rule, 0 for the others, and
// gathers the others into live. A bounded element is within its box when
// low ≤ x ≤ high, so NaN never is, as in Termination.Eval.
func (r *Rollout) terminate(term, live, next, cur *engine.Tensor) {
	engine.TerminateCompact(r.eng, term, live, next, r.box, cur, r.rws)
}
