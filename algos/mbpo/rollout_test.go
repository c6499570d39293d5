package mbpo

import (
	"math"
	"slices"
	"testing"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// rolloutFixture is a small model and policy on an engine, with fitted,
// non-trivial standardisers so that the rollout's unit conversions are
// exercised.
type rolloutFixture struct {
	eng      engine.Engine
	model    *nn.Ensemble
	policy   *nn.Policy
	obs, act int
}

const (
	rolloutTestObs     = 5
	rolloutTestAct     = 2
	rolloutTestMembers = 7
)

func newRolloutFixture(t *testing.T, eng engine.Engine, seed uint64) *rolloutFixture {
	t.Helper()
	o, a := rolloutTestObs, rolloutTestAct
	model, err := nn.NewEnsemble(eng, nn.EnsembleConfig{
		In: o + a, Out: o + 1, Members: rolloutTestMembers,
		Hidden: []int{16, 16}, WeightDecay: []float32{0, 0, 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := nn.NewPolicy(eng, nn.PolicyConfig{Obs: o, Act: a, Hidden: []int{16}})
	if err != nil {
		t.Fatal(err)
	}
	rng := engine.NewRNG(seed)
	model.Init(rng)
	policy.Init(nn.FanInUniform, rng)
	// Standardisers fitted to data of means 0.5 and standard deviations 2
	// (inputs) and 0.1 (targets).
	const n = 512
	in, tg := eng.New(engine.Float32, n, o+a), eng.New(engine.Float32, n, o+1)
	eng.RandNormal(in, rng, 0.5, 2)
	eng.RandNormal(tg, rng, 0.5, 0.1)
	model.Fit(in, tg)
	eng.Free(in)
	eng.Free(tg)
	t.Cleanup(func() {
		model.Params.Free()
		model.Norm.Free()
		policy.Params.Free()
	})
	return &rolloutFixture{eng: eng, model: model, policy: policy, obs: o, act: a}
}

func (f *rolloutFixture) rollout(t *testing.T, term env.Termination, maxBatch int) *Rollout {
	t.Helper()
	r := NewRollout(f.eng, f.model, f.policy, RolloutSpec{Obs: f.obs, Act: f.act, Termination: term, MaxBatch: maxBatch})
	t.Cleanup(r.Free)
	return r
}

// starts returns b start states drawn from N(0, 0.5²).
func (f *rolloutFixture) starts(t *testing.T, b int, seed uint64) *engine.Tensor {
	t.Helper()
	s := f.eng.New(engine.Float32, b, f.obs)
	f.eng.RandNormal(s, engine.NewRNG(seed), 0, 0.5)
	t.Cleanup(func() { f.eng.Free(s) })
	return s
}

func (f *rolloutFixture) buffer(t *testing.T, capacity int) *replay.Buffer {
	t.Helper()
	b := replay.New(f.eng, capacity, f.obs, f.act)
	t.Cleanup(b.Free)
	return b
}

// rolloutData is the first n transitions of a buffer, on the host.
type rolloutData struct {
	obs, act, reward, next, term []float32
}

func downloadRollout(eng engine.Engine, b *replay.Buffer, n int) rolloutData {
	get := func(t *engine.Tensor) []float32 {
		v := make([]float32, t.Len())
		eng.Download(v, t)
		return v[:n*t.Dim(-1)]
	}
	return rolloutData{get(b.Obs), get(b.Act), get(b.Reward), get(b.NextObs), get(b.Terminated)}
}

// cartPoleLike is a box that a fair share of the test model's rows leave
// within a few steps: |obs[0]| ≤ 1 and obs[3] ≤ 1.2.
var cartPoleLike = env.Termination{
	Kind: env.TerminatesOutside, Dims: []int{0, 3},
	Low: []float64{-1, math.Inf(-1)}, High: []float64{1, 1.2},
}

// countingEngine counts the multiply-adds of Gemm and hides the fused ops
// of the engine it wraps, so that engine.Linear and
// engine.EnsembleRowForward take their generic paths, made of Gemm.
type countingEngine struct {
	engine.Engine
	macs int
}

func (c *countingEngine) Gemm(transA, transB bool, alpha float32, a, b *engine.Tensor, beta float32, out *engine.Tensor) {
	e, m, n, k, _, _ := engine.CheckGemm(transA, transB, a, b, out)
	c.macs += e * m * n * k
	c.Engine.Gemm(transA, transB, alpha, a, b, beta, out)
}

// TestRolloutEvaluatesOnlyTheChosenMember counts the work of a rollout
// through the generic path: each row costs one member's multiply-adds and
// the policy's, not the ensemble's seven.
func TestRolloutEvaluatesOnlyTheChosenMember(t *testing.T) {
	eng := &countingEngine{Engine: cpu.New()}
	f := newRolloutFixture(t, eng, 1)
	const b, horizon = 100, 3
	r := f.rollout(t, env.Termination{}, b)
	starts := f.starts(t, b, 2)
	into := f.buffer(t, b*horizon)
	eng.macs = 0
	added := r.Run(starts, horizon, []int{6, 2, 4}, engine.NewRNG(3), into)
	if added != b*horizon {
		t.Fatalf("added %d transitions, want %d", added, b*horizon)
	}
	perRow := 0
	for _, l := range f.model.MLP.Layers {
		perRow += l.In * l.Out // one member
	}
	for _, l := range f.policy.MLP.Layers {
		perRow += l.In * l.Out
	}
	if want := added * perRow; eng.macs != want {
		t.Errorf("Gemm did %d multiply-adds, want %d (%d rows × %d: one member and the policy)", eng.macs, want, added, perRow)
	}
}

// TestRolloutMembersFollowThePicks gives each member an output that names
// it (zero weights, a last-layer bias of m+1 on every mean, a log-variance
// at −40) and checks that each row's successor came from the member its
// pick chose: elites[IntAt(...)] at the counter the documented stream order
// puts the picks at. It runs the engine's fused op.
func TestRolloutMembersFollowThePicks(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 4)
	m := f.model
	eng.Fill(m.Params.Data, 0)
	eng.Fill(m.MaxLogVar, nn.MaxLogVarInit)
	eng.Fill(m.MinLogVar, -40)
	eng.Fill(m.InputNorm.Mean, 0)
	eng.Fill(m.InputNorm.Std, 1)
	eng.Fill(m.TargetNorm.Mean, 0)
	eng.Fill(m.TargetNorm.Std, 1)
	last := m.MLP.Layers[len(m.MLP.Layers)-1]
	d := m.Config.Out
	bias := make([]float32, last.Bias.Len())
	for mem := range m.Config.Members {
		for j := range d {
			bias[mem*2*d+j] = float32(mem + 1)
			bias[mem*2*d+d+j] = -100
		}
	}
	eng.Upload(last.Bias, bias)

	const b, horizon, seed = 257, 2, 5
	elites := []int{5, 1, 3}
	r := f.rollout(t, env.Termination{}, b)
	into := f.buffer(t, b*horizon)
	r.Run(f.starts(t, b, 6), horizon, elites, engine.NewRNG(seed), into)
	got := downloadRollout(eng, into, b*horizon)

	ceil4 := func(n int) uint64 { return uint64(n+3) / 4 }
	counter := uint64(0)
	for s := range horizon {
		counter += ceil4(b * f.act) // the policy's noise
		for i := range b {
			row := s*b + i
			want := float32(elites[engine.IntAt(seed, counter, i, len(elites))] + 1)
			for j := range f.obs {
				delta := got.next[row*f.obs+j] - got.obs[row*f.obs+j]
				if math.Abs(float64(delta-want)) > 1e-5*float64(want) {
					t.Fatalf("step %d row %d: Δobs[%d] = %g, want %g (member %g)", s, i, j, delta, want, want-1)
				}
			}
			if got.reward[row] != want {
				t.Fatalf("step %d row %d: reward %g, want %g", s, i, got.reward[row], want)
			}
		}
		counter += ceil4(b) + ceil4(b*d) // the picks, the model's noise
	}
}

// TestRolloutIsDeterministic runs the same rollout twice from one seed, with
// terminations, and requires identical transitions; another seed differs.
func TestRolloutIsDeterministic(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 7)
	const b, horizon = 300, 4
	r := f.rollout(t, cartPoleLike, b)
	starts := f.starts(t, b, 8)
	run := func(seed uint64) (int, rolloutData) {
		into := f.buffer(t, b*horizon)
		n := r.Run(starts, horizon, []int{0, 3, 5, 6}, engine.NewRNG(seed), into)
		return n, downloadRollout(eng, into, n)
	}
	n1, d1 := run(9)
	n2, d2 := run(9)
	if n1 != n2 {
		t.Fatalf("added %d then %d transitions", n1, n2)
	}
	for name, p := range map[string][2][]float32{
		"obs": {d1.obs, d2.obs}, "act": {d1.act, d2.act}, "reward": {d1.reward, d2.reward},
		"next": {d1.next, d2.next}, "terminated": {d1.term, d2.term},
	} {
		if !slices.Equal(p[0], p[1]) {
			t.Errorf("%s differs between two runs of one seed", name)
		}
	}
	_, d3 := run(10)
	if slices.Equal(d1.next[:b*f.obs], d3.next[:b*f.obs]) {
		t.Error("seeds 9 and 10 gave the same first step")
	}
}

// TestRolloutTerminatedRowsStop checks, step by step, that the states of a
// step are exactly the successors of the previous step's rows that did not
// terminate, in order; that the terminal flags are the environment's rule
// (Termination.Eval in float64); and that Run counts what it added.
func TestRolloutTerminatedRowsStop(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 11)
	const b, horizon = 400, 5
	r := f.rollout(t, cartPoleLike, b)
	into := f.buffer(t, b*horizon)
	added := r.Run(f.starts(t, b, 12), horizon, []int{1, 2, 4, 5, 6}, engine.NewRNG(13), into)
	got := downloadRollout(eng, into, added)

	o := f.obs
	at, n, steps := 0, b, 0
	for n > 0 && steps < horizon {
		steps++
		next := got.next[at*o : (at+n)*o]
		flags := make([]bool, n)
		cartPoleLike.Eval(rolloutTo64(next), o, n, flags)
		var live []float32
		ended := 0
		for i, done := range flags {
			if got.term[at+i] != rolloutFlag(done) {
				t.Fatalf("step %d row %d: terminated %g, the rule says %t for %v", steps, i, got.term[at+i], done, next[i*o:(i+1)*o])
			}
			if done {
				ended++
			} else {
				live = append(live, next[i*o:(i+1)*o]...)
			}
		}
		if steps == 1 && (ended == 0 || ended == n) {
			t.Fatalf("%d of %d rows terminated at the first step: the test needs some of each", ended, n)
		}
		at += n
		n -= ended
		if steps < horizon && n > 0 && !slices.Equal(got.obs[at*o:(at+n)*o], live) {
			t.Fatalf("step %d: the states are not the live successors of step %d", steps+1, steps)
		}
	}
	if added != at {
		t.Errorf("Run returned %d, the steps add up to %d", added, at)
	}
	if into.Len() != added {
		t.Errorf("buffer holds %d transitions, Run added %d", into.Len(), added)
	}
}

func rolloutTo64(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

func rolloutFlag(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// TestRolloutTerminationMatchesEval evaluates the device termination on
// rows at and around float32 roundings of the bounds, at ±Inf and NaN, for
// every kind of box rule, against Termination.Eval.
func TestRolloutTerminationMatchesEval(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 14)
	third := 1.0 / 3 // not a float32: its roundings fall on either side
	values := []float32{
		0, float32(third), math.Nextafter32(float32(third), 1), math.Nextafter32(float32(third), -1),
		-float32(third), math.Nextafter32(-float32(third), 1), math.Nextafter32(-float32(third), -1),
		2, -2, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	}
	// Every pair of values in elements 1 and 4.
	var next []float32
	for _, u := range values {
		for _, v := range values {
			next = append(next, 9, u, 9, 9, v)
		}
	}
	n := len(next) / f.obs
	dims, low, high := []int{1, 4}, []float64{-third, math.Inf(-1)}, []float64{third, third}
	for _, rule := range []env.Termination{
		{},
		{Kind: env.TerminatesOutside, Dims: dims, Low: low, High: high},
		{Kind: env.TerminatesInside, Dims: dims, Low: low, High: high},
		{Kind: env.TerminatesOutside},
		{Kind: env.TerminatesInside},
	} {
		t.Run(rule.Kind.String(), func(t *testing.T) {
			r := f.rollout(t, rule, n)
			nt, term, live := eng.New(engine.Float32, n, f.obs), eng.New(engine.Float32, n, 1), eng.New(engine.Float32, n, f.obs)
			cur := eng.New(engine.Int32, 4)
			defer func() {
				for _, x := range []*engine.Tensor{nt, term, live, cur} {
					eng.Free(x)
				}
			}()
			eng.Upload(nt, next)
			eng.UploadInt32(cur, []int32{int32(n), 0, 0, 0})
			r.terminate(term, live, nt, cur)
			got, gotLive, counts := make([]float32, n), make([]float32, n*f.obs), make([]int32, 4)
			eng.Download(got, term)
			eng.Download(gotLive, live)
			eng.DownloadInt32(counts, cur)
			want := make([]bool, n)
			rule.Eval(rolloutTo64(next), f.obs, n, want)
			var wantLive []float32
			for i := range n {
				if got[i] != rolloutFlag(want[i]) {
					t.Errorf("row %v: terminated %g, Eval says %t", next[i*f.obs:(i+1)*f.obs], got[i], want[i])
				}
				if !want[i] {
					wantLive = append(wantLive, next[i*f.obs:(i+1)*f.obs]...)
				}
			}
			kept := len(wantLive) / f.obs
			if int(counts[2]) != kept || !slices.EqualFunc(gotLive[:kept*f.obs], wantLive, func(x, y float32) bool { return x == y || x != x && y != y }) {
				t.Errorf("%d rows go on, want %d: the rows that did not terminate, in order", counts[2], kept)
			}
		})
	}
}

// TestRolloutSamplesTheMembersGaussian checks the imagined transitions
// against the member's Gaussian as nn.Ensemble.Predict gives it: for each
// row, with the member its pick chose and the action it took, the
// standardised residual z = (y − μ)/exp(lv/2) of every target (Δobs and
// reward) must be N(0, 1). Over n = 4000·6 values, the mean of z has a
// standard error of 0.0065 and the variance one of 0.0091; the bounds are
// about five of them.
func TestRolloutSamplesTheMembersGaussian(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 15)
	const b, seed = 4000, 16
	elites := []int{4, 0, 2, 6, 5}
	r := f.rollout(t, env.Termination{}, b)
	into := f.buffer(t, b)
	r.Run(f.starts(t, b, 17), 1, elites, engine.NewRNG(seed), into)
	got := downloadRollout(eng, into, b)

	o, a, d := f.obs, f.act, f.obs+1
	x := make([]float32, 0, b*(o+a))
	for i := range b {
		x = append(x, got.obs[i*o:(i+1)*o]...)
		x = append(x, got.act[i*a:(i+1)*a]...)
	}
	xt := eng.New(engine.Float32, b, o+a)
	defer eng.Free(xt)
	eng.Upload(xt, x)
	meanT, lvT := f.model.Predict(xt)
	mean, lv := make([]float32, meanT.Len()), make([]float32, lvT.Len())
	eng.Download(mean, meanT)
	eng.Download(lv, lvT)

	pickStart := uint64(b*a+3) / 4 // after the policy's noise
	var sum, sumSq float64
	within1 := 0
	for i := range b {
		mem := elites[engine.IntAt(seed, pickStart, i, len(elites))]
		for j := range d {
			y := float64(got.reward[i])
			if j < o {
				y = float64(got.next[i*o+j]) - float64(got.obs[i*o+j])
			}
			k := (mem*b+i)*d + j
			z := (y - float64(mean[k])) / math.Exp(float64(lv[k])/2)
			sum += z
			sumSq += z * z
			if math.Abs(z) < 1 {
				within1++
			}
		}
	}
	n := float64(b * d)
	zMean := sum / n
	zVar := sumSq/n - zMean*zMean
	frac := float64(within1) / n
	t.Logf("z: mean %.4f, variance %.4f, P(|z| < 1) = %.4f (normal: 0.6827)", zMean, zVar, frac)
	if math.Abs(zMean) > 0.035 {
		t.Errorf("mean of z = %.4f, want 0 ± 0.035", zMean)
	}
	if math.Abs(zVar-1) > 0.05 {
		t.Errorf("variance of z = %.4f, want 1 ± 0.05", zVar)
	}
	if math.Abs(frac-0.6827) > 0.015 { // standard error 0.003
		t.Errorf("P(|z| < 1) = %.4f, want 0.6827 ± 0.015", frac)
	}
}

// TestRolloutActionsAreThePolicys checks the first step's actions against
// nn.Policy.Sample from the same seed (it draws its noise first, as the
// rollout does), without and with rescaling to bounds.
func TestRolloutActionsAreThePolicys(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 18)
	const b, seed = 64, 19
	starts := f.starts(t, b, 20)
	act, _ := f.policy.Sample(starts, engine.NewRNG(seed))
	want := make([]float32, b*f.act)
	eng.Download(want, act)

	low, high := []float64{-2, 0}, []float64{2, 0.5}
	for _, rescale := range []bool{false, true} {
		spec := RolloutSpec{Obs: f.obs, Act: f.act, MaxBatch: b}
		if rescale {
			spec.ActLow, spec.ActHigh = low, high
		}
		r := NewRollout(eng, f.model, f.policy, spec)
		into := f.buffer(t, b)
		r.Run(starts, 1, []int{0}, engine.NewRNG(seed), into)
		got := downloadRollout(eng, into, b).act
		r.Free()
		for i, w := range want {
			if rescale {
				lo, hi := low[i%f.act], high[i%f.act]
				w = float32((hi+lo)/2 + (hi-lo)/2*float64(w))
			}
			if math.Abs(float64(got[i]-w)) > 1e-6 {
				t.Errorf("rescale %t: action %d = %g, Policy.Sample gives %g", rescale, i, got[i], w)
				break
			}
		}
	}
}

// TestRolloutGenericPathAgrees runs one rollout through the CPU engine's
// fused EnsembleRowForward and through the generic path (the engine behind
// a wrapper that hides it): the same draws, so the same transitions within
// float32 rounding. Relative errors of 1e-4 allow for rounding that the
// model's five layers and the exponentials amplify, far below the O(1)
// difference of a wrong member or a wrong row.
func TestRolloutGenericPathAgrees(t *testing.T) {
	base := cpu.New()
	const b, horizon = 200, 3
	var runs [2]rolloutData
	for i, eng := range []engine.Engine{base, &countingEngine{Engine: base}} {
		f := newRolloutFixture(t, eng, 21)
		r := f.rollout(t, env.Termination{}, b)
		into := f.buffer(t, b*horizon)
		r.Run(f.starts(t, b, 22), horizon, []int{3, 1, 6}, engine.NewRNG(23), into)
		runs[i] = downloadRollout(base, into, b*horizon)
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"obs", runs[1].obs, runs[0].obs}, {"act", runs[1].act, runs[0].act},
		{"reward", runs[1].reward, runs[0].reward}, {"next", runs[1].next, runs[0].next},
	} {
		for i := range c.want {
			if d := math.Abs(float64(c.got[i] - c.want[i])); d > 1e-4*(1+math.Abs(float64(c.want[i]))) {
				t.Errorf("%s[%d]: generic path %g, fused %g", c.name, i, c.got[i], c.want[i])
				break
			}
		}
	}
}

func TestNewRolloutPanics(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 24)
	for _, c := range []struct {
		name string
		spec RolloutSpec
	}{
		{"obs", RolloutSpec{Obs: 4, Act: 2, MaxBatch: 1}},
		{"act", RolloutSpec{Obs: 5, Act: 3, MaxBatch: 1}},
		{"batch", RolloutSpec{Obs: 5, Act: 2}},
		{"by-rule", RolloutSpec{Obs: 5, Act: 2, MaxBatch: 1, Termination: env.Termination{Kind: env.TerminatesByRule}}},
		{"dim", RolloutSpec{Obs: 5, Act: 2, MaxBatch: 1, Termination: env.Termination{
			Kind: env.TerminatesOutside, Dims: []int{5}, Low: []float64{0}, High: []float64{1}}}},
		{"bounds", RolloutSpec{Obs: 5, Act: 2, MaxBatch: 1, ActLow: []float64{0, 1}, ActHigh: []float64{1, 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			NewRollout(eng, f.model, f.policy, c.spec)
		})
	}
}

// TestRolloutAgreesAcrossEngines runs one rollout on every other engine
// compiled into the test (the CUDA engine or its emulator, with -tags cuda
// or cudaemu) and on the CPU engine: the engines draw the same numbers, so
// the transitions agree within float32 rounding (the tolerance of
// TestRolloutGenericPathAgrees). No row terminates, so that no rounding can
// decide a termination differently.
func TestRolloutAgreesAcrossEngines(t *testing.T) {
	const b, horizon = 200, 3
	run := func(eng engine.Engine) rolloutData {
		f := newRolloutFixture(t, eng, 25)
		r := f.rollout(t, env.Termination{}, b)
		into := f.buffer(t, b*horizon)
		r.Run(f.starts(t, b, 26), horizon, []int{2, 0, 5}, engine.NewRNG(27), into)
		return downloadRollout(eng, into, b*horizon)
	}
	want := run(cpu.New())
	others := 0
	for _, be := range engine.Backends() {
		if be.Name == "cpu" || be.Available() != nil {
			continue
		}
		others++
		t.Run(be.Name, func(t *testing.T) {
			eng, err := be.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			got := run(eng)
			for _, c := range []struct {
				name    string
				got, ws []float32
			}{{"act", got.act, want.act}, {"reward", got.reward, want.reward}, {"next", got.next, want.next}} {
				for i := range c.ws {
					if d := math.Abs(float64(c.got[i] - c.ws[i])); d > 1e-4*(1+math.Abs(float64(c.ws[i]))) {
						t.Errorf("%s[%d]: %s %g, cpu %g", c.name, i, be.Name, c.got[i], c.ws[i])
						break
					}
				}
			}
		})
	}
	if others == 0 {
		t.Skip("no engine but cpu compiled in (build with -tags cudaemu to compare the CUDA engine's emulator)")
	}
}

// transferLog records, in order, the host transfers issued through it and
// the names of the ops in its events; embedding the engine hides its fused
// ops, so through a bare transferLog the package-level ops take their
// generic paths, whose transfers it records too.
type transferLog struct {
	engine.Engine
	events []string
}

func (l *transferLog) Upload(dst *engine.Tensor, src []float32) {
	l.events = append(l.events, "upload")
	l.Engine.Upload(dst, src)
}

func (l *transferLog) UploadInt32(dst *engine.Tensor, src []int32) {
	l.events = append(l.events, "upload")
	l.Engine.UploadInt32(dst, src)
}

func (l *transferLog) Download(dst []float32, src *engine.Tensor) {
	l.events = append(l.events, "download")
	l.Engine.Download(dst, src)
}

func (l *transferLog) DownloadInt32(dst []int32, src *engine.Tensor) {
	l.events = append(l.events, "download")
	l.Engine.DownloadInt32(dst, src)
}

// fusedLog is a transferLog that has the fused ops of a rollout step: each
// records its name and runs the wrapped engine's own op, or, where the
// engine has none, the generic path through the transferLog, so that its
// transfers are recorded.
type fusedLog struct{ *transferLog }

func (l fusedLog) Linear(f engine.Activation, y, x, w, b *engine.Tensor) {
	l.events = append(l.events, "Linear")
	if op, ok := l.Engine.(engine.Linearer); ok {
		op.Linear(f, y, x, w, b)
		return
	}
	engine.Linear(l.transferLog, f, y, x, w, b)
}

func (l fusedLog) EnsembleRowForward(y, x, pick, members *engine.Tensor, layers []engine.EnsembleLayer, ws *engine.EnsembleRowWorkspace) {
	l.events = append(l.events, "EnsembleRowForward")
	if op, ok := l.Engine.(engine.EnsembleRowForwarder); ok {
		op.EnsembleRowForward(y, x, pick, members, layers, ws)
		return
	}
	engine.EnsembleRowForward(l.transferLog, y, x, pick, members, layers, ws)
}

func (l fusedLog) SampleAction(act, head *engine.Tensor, p engine.PolicyHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	l.events = append(l.events, "SampleAction")
	if op, ok := l.Engine.(engine.ActionSampler); ok {
		op.SampleAction(act, head, p, rng, cur, ws)
		return
	}
	engine.SampleAction(l.transferLog, act, head, p, rng, cur, ws)
}

func (l fusedLog) PickMembers(pick *engine.Tensor, k int, rng *engine.RNG, cur *engine.Tensor) {
	l.events = append(l.events, "PickMembers")
	if op, ok := l.Engine.(engine.MemberPicker); ok {
		op.PickMembers(pick, k, rng, cur)
		return
	}
	engine.PickMembers(l.transferLog, pick, k, rng, cur)
}

func (l fusedLog) SampleTransition(next, reward, out, obs *engine.Tensor, m engine.ModelHead, rng *engine.RNG, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	l.events = append(l.events, "SampleTransition")
	if op, ok := l.Engine.(engine.TransitionSampler); ok {
		op.SampleTransition(next, reward, out, obs, m, rng, cur, ws)
		return
	}
	engine.SampleTransition(l.transferLog, next, reward, out, obs, m, rng, cur, ws)
}

func (l fusedLog) TerminateCompact(term, live, next *engine.Tensor, box engine.TerminationBox, cur *engine.Tensor, ws *engine.RolloutWorkspace) {
	l.events = append(l.events, "TerminateCompact")
	if op, ok := l.Engine.(engine.TerminateCompacter); ok {
		op.TerminateCompact(term, live, next, box, cur, ws)
		return
	}
	engine.TerminateCompact(l.transferLog, term, live, next, box, cur, ws)
}

// compiledEngines opens the CPU engine and every other engine compiled into
// the test (the CUDA engine or its emulator, with -tags cuda or cudaemu)
// that is available, closing them when t ends.
func compiledEngines(t *testing.T) []engine.Engine {
	t.Helper()
	engines := []engine.Engine{cpu.New()}
	for _, be := range engine.Backends() {
		if be.Name == "cpu" || be.Available() != nil {
			continue
		}
		eng, err := be.Open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		engines = append(engines, eng)
	}
	return engines
}

// TestRolloutTransfersOnlyAtTheEnds runs a rollout of H steps with
// terminations through a log of the host transfers and the fused ops, on
// every engine compiled in (with -tags cudaemu, the emulated CUDA engine):
// Run uploads once before the first step (the elite ids and the first
// cursor), downloads once after the last (the cursor chain with every
// step's count), and issues no transfer between, so its steps never wait
// for the device. It also checks that each step is the documented ops.
func TestRolloutTransfersOnlyAtTheEnds(t *testing.T) {
	for _, eng := range compiledEngines(t) {
		t.Run(eng.Name(), func(t *testing.T) {
			log := &transferLog{Engine: eng}
			f := newRolloutFixture(t, fusedLog{log}, 35)
			const b, horizon = 300, 5
			r := f.rollout(t, cartPoleLike, b)
			starts := f.starts(t, b, 36)
			into := f.buffer(t, b*horizon)
			log.events = nil
			added := r.Run(starts, horizon, []int{0, 2, 4}, engine.NewRNG(37), into)

			step := []string{"Linear", "Linear", "SampleAction", "PickMembers", "EnsembleRowForward", "SampleTransition", "TerminateCompact"}
			want := []string{"upload"}
			for range horizon {
				want = append(want, step...)
			}
			want = append(want, "download")
			if !slices.Equal(log.events, want) {
				t.Errorf("Run issued\n%v\nwant\n%v", log.events, want)
			}
			if added <= b || added >= b*horizon {
				t.Errorf("added %d transitions: the test needs rows that terminate and rows that go on", added)
			}
		})
	}
}

// TestRolloutAgreesAcrossEnginesWithTerminations runs one rollout with
// terminations on every other engine compiled into the test and on the CPU
// engine, and compares them step by step: the engines draw the same numbers
// and compact the same rows, so the transitions agree within float32
// rounding (the tolerance of TestRolloutGenericPathAgrees) over the whole
// rollout. The exception is a row whose next observation lies within
// rounding of a bound, which one engine may end and the other not (see
// Run): from there on the rows and the draws shift, so the comparison
// stops at that step; the test requires that it covered most of the
// rollout, and with its seeds no such row occurs.
func TestRolloutAgreesAcrossEnginesWithTerminations(t *testing.T) {
	const b, horizon = 300, 5
	elites := []int{6, 1, 3}
	type run struct {
		n    int
		data rolloutData
	}
	do := func(eng engine.Engine) run {
		f := newRolloutFixture(t, eng, 38)
		r := f.rollout(t, cartPoleLike, b)
		into := f.buffer(t, b*horizon)
		n := r.Run(f.starts(t, b, 39), horizon, elites, engine.NewRNG(40), into)
		return run{n, downloadRollout(eng, into, n)}
	}
	engines := compiledEngines(t)
	want := do(engines[0])
	if len(engines) == 1 {
		t.Skip("no engine but cpu compiled in (build with -tags cudaemu to compare the CUDA engine's emulator)")
	}
	o, a := rolloutTestObs, rolloutTestAct
	for _, eng := range engines[1:] {
		t.Run(eng.Name(), func(t *testing.T) {
			got := do(eng)
			compared, at, n := 0, 0, b
			for s := 0; s < horizon && n > 0; s++ {
				for _, c := range []struct {
					name       string
					got, want  []float32
					rowLen, at int
				}{
					{"obs", got.data.obs, want.data.obs, o, at}, {"act", got.data.act, want.data.act, a, at},
					{"reward", got.data.reward, want.data.reward, 1, at}, {"next", got.data.next, want.data.next, o, at},
				} {
					for i := c.at * c.rowLen; i < (c.at+n)*c.rowLen; i++ {
						if d := math.Abs(float64(c.got[i] - c.want[i])); !(d <= 1e-4*(1+math.Abs(float64(c.want[i])))) {
							t.Fatalf("step %d, %s[%d]: %s %g, cpu %g", s, c.name, i-c.at*c.rowLen, eng.Name(), c.got[i], c.want[i])
						}
					}
				}
				compared += n
				ended := 0
				for i := at; i < at+n; i++ {
					if got.data.term[i] != want.data.term[i] {
						row := want.data.next[i*o : (i+1)*o]
						if !nearBound(row, cartPoleLike) {
							t.Fatalf("step %d row %d: terminated %g on %s, %g on cpu, for %v, not within rounding of a bound",
								s, i-at, got.data.term[i], eng.Name(), want.data.term[i], row)
						}
						t.Logf("step %d row %d: %v lies within rounding of a bound; the engines part there", s, i-at, row)
						n = 0
						break
					}
					if want.data.term[i] == 1 {
						ended++
					}
				}
				at += n
				n -= ended
				if n < 0 {
					n = 0
				}
			}
			if got.n == want.n && compared != want.n || compared < want.n/2 {
				t.Errorf("compared %d of %d transitions (%s added %d)", compared, want.n, eng.Name(), got.n)
			}
			if compared == want.n && (want.n <= b || want.n >= b*horizon) {
				t.Errorf("%d transitions: the test needs rows that terminate and rows that go on", want.n)
			}
			t.Logf("%d of %d transitions compared", compared, want.n)
		})
	}
}

// nearBound reports whether a bounded element of the observation lies
// within float32 rounding (relative 1e-4, the comparison's tolerance) of
// one of its bounds.
func nearBound(obs []float32, rule env.Termination) bool {
	for j, dim := range rule.Dims {
		x := float64(obs[dim])
		for _, bound := range []float64{rule.Low[j], rule.High[j]} {
			if !math.IsInf(bound, 0) && math.Abs(x-bound) <= 1e-4*(1+math.Abs(bound)) {
				return true
			}
		}
	}
	return false
}

// BenchmarkRollout times one rollout of MBPO's default shape (see
// `imago bench rollout`) scaled down to 10,000 start states and 2 steps, on
// the CPU engine; with -cpuprofile it shows where a rollout's time goes:
//
//	go test -tags openblas -run '^$' -bench Rollout -benchtime 5x -cpuprofile cpu.prof ./algos/mbpo
func BenchmarkRollout(b *testing.B) {
	eng := cpu.New()
	const o, a, batch, horizon = 11, 3, 10_000, 2
	model, err := nn.NewEnsemble(eng, nn.EnsembleConfig{In: o + a, Out: o + 1})
	if err != nil {
		b.Fatal(err)
	}
	policy, err := nn.NewPolicy(eng, nn.PolicyConfig{Obs: o, Act: a})
	if err != nil {
		b.Fatal(err)
	}
	rng := engine.NewRNG(1)
	model.Init(rng)
	policy.Init(nn.FanInUniform, rng)
	r := NewRollout(eng, model, policy, RolloutSpec{Obs: o, Act: a, MaxBatch: batch})
	starts := eng.New(engine.Float32, batch, o)
	eng.RandNormal(starts, rng, 0, 1)
	into := replay.New(eng, batch*horizon, o, a)
	for b.Loop() {
		r.Run(starts, horizon, []int{0, 1, 2, 3, 4}, rng, into)
	}
}
