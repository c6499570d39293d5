package clearning

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/nn"
)

// Tolerances of the float32 engine against the float64 references: forward
// values agree to a few float32 roundings per layer; gradients are compared
// with central differences of the float64 reference, whose own error at
// step fdStep is far below gradTol.
const (
	forwardTol = 1e-5 // relative, with the same absolute floor
	gradTol    = 1e-4 // relative, with the same absolute floor
	fdStep     = 1e-6
)

// pointLayout is the layout of a point maze's observation (x, y, gx, gy)
// and its two-element action.
var pointLayout = Layout{Obs: 4, Act: 2, Achieved: 0, Goal: 2, GoalDim: 2}

// hostParams is a host copy of a network's parameters in float64, by name.
type hostParams map[string][]float64

func snapshot(p *nn.Params) hostParams {
	h := hostParams{}
	for _, name := range p.Names() {
		h[name] = f64(p.Value(name))
	}
	return h
}

func (h hostParams) clone() hostParams {
	c := hostParams{}
	for k, v := range h {
		c[k] = append([]float64(nil), v...)
	}
	return c
}

// mlp is the float64 reference of an ensemble ReLU MLP: x [n, In] shared
// by the e members, layer sizes sizes; it returns [e, n, Out].
func mlp(h hostParams, e int, sizes []int, x []float64, n int) []float64 {
	out := make([]float64, 0, e*n*sizes[len(sizes)-1])
	for m := range e {
		cur := x
		for l := 0; l+1 < len(sizes); l++ {
			in, o := sizes[l], sizes[l+1]
			w := h[fmt.Sprintf("layers.%d.weight", l)][m*in*o : (m+1)*in*o]
			bias := h[fmt.Sprintf("layers.%d.bias", l)][m*o : (m+1)*o]
			next := make([]float64, n*o)
			for b := range n {
				for j := range o {
					s := bias[j]
					for i := range in {
						s += cur[b*in+i] * w[i*o+j]
					}
					if l+2 < len(sizes) {
						s = max(s, 0)
					}
					next[b*o+j] = s
				}
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}

func sigmoid(x float64) float64  { return 1 / (1 + math.Exp(-x)) }
func softplus(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// refCL is the float64 reference of one C-learning update on a fixed,
// already relabelled batch.
type refCL struct {
	split                 Split
	hidden                []int
	gamma, lambda         float64
	obs, act, next, nextA []float64 // nextA: the random rows' next actions
}

func (r refCL) batch() int { return r.split.Len() }

// logits returns f_e(obs, act) for both members, [2, n].
func (r refCL) logits(c hostParams, obs, act []float64, n int) []float64 {
	l := pointLayout
	x := make([]float64, 0, n*(l.Obs+l.Act))
	for b := range n {
		x = append(append(x, obs[b*l.Obs:(b+1)*l.Obs]...), act[b*l.Act:(b+1)*l.Act]...)
	}
	return mlp(c, 2, append(append([]int{l.Obs + l.Act}, r.hidden...), 1), x, n)
}

// targets returns the labels y, the weights c and the clipped w of the
// random rows from the target classifiers tgt.
func (r refCL) targets(tgt hostParams) (y, c, w []float64) {
	s, b := r.split, r.batch()
	y, c = make([]float64, b), make([]float64, b)
	for i := range s.Positive() {
		y[i] = 1
		c[i] = 1
		if i < s.Next {
			c[i] = 1 - r.gamma
		}
	}
	f := r.logits(tgt, r.next[s.Positive()*pointLayout.Obs:], r.nextA, s.Random)
	for k := range s.Random {
		wk := min(math.Exp(min(f[k], f[s.Random+k])), 1/(1-r.gamma))
		w = append(w, wk)
		t := r.lambda * r.gamma * wk
		y[s.Positive()+k] = t / (1 + t)
		c[s.Positive()+k] = 1 + t
	}
	return y, c, w
}

// loss is ½·(1/B) Σ_b c_b Σ_e [softplus(f_e) − y_b·f_e].
func (r refCL) loss(crit hostParams, y, c []float64) float64 {
	b := r.batch()
	f := r.logits(crit, r.obs, r.act, b)
	var l float64
	for e := range 2 {
		for i := range b {
			z := f[e*b+i]
			l += c[i] * (softplus(z) - y[i]*z)
		}
	}
	return l / (2 * float64(b))
}

// policy returns the tanh-Gaussian actions of nn.Policy for observations x
// [n, Obs] with noise eps, log σ in [−5, 2].
func (r refCL) policy(p hostParams, x, eps []float64, n int) []float64 {
	l := pointLayout
	out := mlp(p, 1, append(append([]int{l.Obs}, r.hidden...), 2*l.Act), x, n)
	a := make([]float64, n*l.Act)
	for b := range n {
		for i := range l.Act {
			mu := out[b*2*l.Act+i]
			ls := -5 + 7*(math.Tanh(out[b*2*l.Act+l.Act+i])+1)/2
			a[b*l.Act+i] = math.Tanh(mu + math.Exp(ls)*eps[b*l.Act+i])
		}
	}
	return a
}

// actorLoss is −(1/B) Σ_b min_e σ(f_e(s, ã, g)).
func (r refCL) actorLoss(actor, crit hostParams, eps []float64) float64 {
	b := r.batch()
	a := r.policy(actor, r.obs, eps, b)
	f := r.logits(crit, r.obs, a, b)
	var l float64
	for i := range b {
		l -= sigmoid(min(f[i], f[b+i])) / float64(b)
	}
	return l
}

func checkClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*max(1, math.Abs(want[i]))) {
			t.Errorf("%s[%d] = %.9g, want %.9g (|Δ| %.3g > tolerance %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

// checkGrads compares the gradients in p.Grad with central differences of
// loss at h.
func checkGrads(t *testing.T, what string, p *nn.Params, h hostParams, loss func(hostParams) float64) {
	t.Helper()
	for _, name := range p.Names() {
		got := f64(p.Gradient(name))
		want := make([]float64, len(got))
		for i := range want {
			hp, hm := h.clone(), h.clone()
			hp[name][i] += fdStep
			hm[name][i] -= fdStep
			want[i] = (loss(hp) - loss(hm)) / (2 * fdStep)
		}
		checkClose(t, what+" ∂L/∂"+name, got, want, gradTol)
	}
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// randoms returns n values uniform in [lo, hi), rounded to float32 as the
// engine holds them.
func randoms(r *rand.Rand, n int, lo, hi float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(float32(lo + (hi-lo)*r.Float64()))
	}
	return x
}

func download(eng engine.Engine, t *engine.Tensor) []float64 {
	v := make([]float32, t.Len())
	eng.Download(v, t)
	return f64(v)
}

// handBatch returns a batch of split for pointLayout holding obs, act and
// next.
func handBatch(eng engine.Engine, split Split, obs, act, next []float64) *Batch {
	d := NewBatch(eng, split, pointLayout)
	eng.Upload(d.Obs, f32(obs))
	eng.Upload(d.Act, f32(act))
	eng.Upload(d.NextObs, f32(next))
	return d
}

// TestLabelsWeightsAndClip checks the labels and weights of a tiny batch
// against values computed by hand. The target classifiers are set so that
// member 0's logit is relu(x') − 2 and member 1's relu(y') − 2 at a next
// state (x', y', ·, ·), whatever the goal and action; so w = exp(min) is
// e^{−2}, 1, 4 and e^{18} on the four random rows, the last clipped to
// 1/(1−γ) = 10 with γ = 0.9. The batch has 3 next-state rows (label 1,
// weight 1−γ = 0.1), 1 future row (label 1, weight 1) and 4 random rows,
// with λ = 1 (no fix) and λ = 3/4 (the fix: 3 next of 4 positive rows).
func TestLabelsWeightsAndClip(t *testing.T) {
	split := Split{Next: 3, Future: 1, Random: 4}
	// Next states of the random rows: (x', y', goal). x' = 2 + ln 4 in
	// float32 gives w = 4 to within a float32 rounding.
	ln4 := math.Log(4)
	next := make([]float64, 8*4)
	for k, xy := range [][2]float64{{0, 5}, {2, 3}, {4, 2 + ln4}, {30, 20}} {
		copy(next[(4+k)*4:], []float64{xy[0], xy[1], 1.5, 2.5})
	}
	e2 := math.Exp(-2)
	for _, tc := range []struct {
		fix  bool
		y, c []float64 // of the random rows
	}{
		// λ = 1: y = 0.9w/(1+0.9w), c = 1+0.9w.
		{false,
			[]float64{0.9 * e2 / (1 + 0.9*e2), 0.9 / 1.9, 3.6 / 4.6, 9.0 / 10},
			[]float64{1 + 0.9*e2, 1.9, 4.6, 10}},
		// λ = 3/4: λγ = 0.675.
		{true,
			[]float64{0.675 * e2 / (1 + 0.675*e2), 0.675 / 1.675, 2.7 / 3.7, 6.75 / 7.75},
			[]float64{1 + 0.675*e2, 1.675, 3.7, 7.75}},
	} {
		t.Run(fmt.Sprintf("lambda_fix=%v", tc.fix), func(t *testing.T) {
			eng := cpu.New()
			cfg := Defaults()
			cfg.Hidden = []int{1}
			cfg.Gamma = 0.9
			cfg.LambdaFix = tc.fix
			clf, err := NewClassifier(eng, cfg, split, 4, 2, engine.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			tp := clf.target.Params
			tp.Set("layers.0.weight", []float32{1, 0, 0, 0, 0, 0 /* member 1 */, 0, 1, 0, 0, 0, 0})
			tp.Set("layers.0.bias", []float32{0, 0})
			tp.Set("layers.1.weight", []float32{1, 1})
			tp.Set("layers.1.bias", []float32{-2, -2})
			d := handBatch(eng, split, make([]float64, 8*4), make([]float64, 8*2), next)
			nextAct := eng.New(engine.Float32, 4, 2)
			eng.Upload(nextAct, []float32{0.3, -0.2, 0.9, 0.1, -1, 1, 0.5, 0.5}) // ignored by the targets
			clf.Update(d, nextAct)

			wantY := append([]float64{1, 1, 1, 1}, tc.y...)
			wantC := append([]float64{0.1, 0.1, 0.1, 1}, tc.c...)
			checkClose(t, "labels", download(eng, clf.y), wantY, forwardTol)
			checkClose(t, "weights", download(eng, clf.c), wantC, forwardTol)
			m := clf.TakeMetrics()
			checkClose(t, "mean clipped w", []float64{m.W}, []float64{(e2 + 1 + 4 + 10) / 4}, forwardTol)
		})
	}
}

// TestClassifierUpdate checks one gradient step of the classifiers against
// the float64 reference on a random batch of 2 next-state, 1 future and 3
// random rows with λ = 2/3: the labels and weights from the target
// classifiers, the logged loss and mean C and w, the loss's gradient, and
// the Polyak move of the targets.
func TestClassifierUpdate(t *testing.T) {
	eng := cpu.New()
	split := Split{Next: 2, Future: 1, Random: 3}
	cfg := Defaults()
	cfg.Hidden = []int{5}
	cfg.Gamma = 0.8
	cfg.Tau = 0.1
	clf, err := NewClassifier(eng, cfg, split, 4, 2, engine.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	// Move the targets away from the classifiers, so that using the wrong
	// ones shows, and raise them so that some w reach the clip 1/(1−γ) = 5.
	for _, name := range clf.target.Params.Names() {
		v := clf.target.Params.Value(name)
		for i := range v {
			v[i] = 2*v[i] + float32(0.3*r.NormFloat64())
		}
		if name == "layers.1.bias" {
			v[0] += 0.9 // member 0's logits up, past the clip on some rows
			v[1] += 0.9
		}
		clf.target.Params.Set(name, v)
	}
	b := split.Len()
	ref := refCL{
		split: split, hidden: cfg.Hidden, gamma: cfg.Gamma, lambda: 2.0 / 3,
		obs:   randoms(r, b*4, 0, 4),
		act:   randoms(r, b*2, -1, 1),
		next:  randoms(r, b*4, 0, 4),
		nextA: randoms(r, split.Random*2, -1, 1),
	}
	d := handBatch(eng, split, ref.obs, ref.act, ref.next)
	nextAct := eng.New(engine.Float32, split.Random, 2)
	eng.Upload(nextAct, f32(ref.nextA))
	critic0, target0 := snapshot(clf.critic.Params), snapshot(clf.target.Params)
	clf.Update(d, nextAct)

	y, c, w := ref.targets(target0)
	checkClose(t, "labels", download(eng, clf.y), y, forwardTol)
	checkClose(t, "weights", download(eng, clf.c), c, forwardTol)
	clipped := 0
	for _, wk := range w {
		if wk == 1/(1-cfg.Gamma) {
			clipped++
		}
	}
	if clipped == 0 || clipped == len(w) {
		t.Errorf("w = %v: the test wants some clipped at %g and some not", w, 1/(1-cfg.Gamma))
	}

	// The logged metrics of the step.
	f := ref.logits(critic0, ref.obs, ref.act, b)
	var cPos, cRand, wMean float64
	for e := range 2 {
		for i := range b {
			if i < split.Positive() {
				cPos += sigmoid(f[e*b+i]) / float64(2*split.Positive())
			} else {
				cRand += sigmoid(f[e*b+i]) / float64(2*split.Random)
			}
		}
	}
	for _, wk := range w {
		wMean += wk / float64(len(w))
	}
	m := clf.TakeMetrics()
	checkClose(t, "logged loss, C, w", []float64{m.Loss, m.CPositive, m.CRandom, m.W},
		[]float64{ref.loss(critic0, y, c), cPos, cRand, wMean}, forwardTol)

	checkGrads(t, "classifier", clf.critic.Params, critic0, func(h hostParams) float64 { return ref.loss(h, y, c) })

	critic1 := snapshot(clf.critic.Params)
	for _, name := range clf.target.Params.Names() {
		want := make([]float64, len(target0[name]))
		for i := range want {
			want[i] = (1-cfg.Tau)*target0[name][i] + cfg.Tau*critic1[name][i]
		}
		checkClose(t, "target "+name, f64(clf.target.Params.Value(name)), want, forwardTol)
	}
}

// TestAgentUpdate checks the policy's step of one Agent update against the
// float64 reference: the actor loss through the classifiers just updated,
// its gradient, and that the classifiers' targets were computed with the
// policy's next actions (the labels).
func TestAgentUpdate(t *testing.T) {
	eng := cpu.New()
	split := Split{Next: 2, Future: 0, Random: 2}
	cfg := Defaults()
	cfg.Hidden = []int{5}
	cfg.Gamma = 0.9
	a, err := NewAgent(eng, cfg, split, 4, 2, engine.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	b := split.Len()
	ref := refCL{
		split: split, hidden: cfg.Hidden, gamma: cfg.Gamma, lambda: 1,
		obs:  randoms(r, b*4, 0, 4),
		act:  randoms(r, b*2, -1, 1),
		next: randoms(r, b*4, 0, 4),
	}
	d := handBatch(eng, split, ref.obs, ref.act, ref.next)
	actor0, target0 := snapshot(a.actor.Params), snapshot(a.clf.target.Params)

	// The update draws the next actions' noise, then the policy step's.
	rng := engine.NewRNG(7)
	rng.Counter = 11
	epsNext, epsPi := make([]float64, split.Random*2), make([]float64, b*2)
	for i := range epsNext {
		epsNext[i] = float64(engine.NormalAt(7, 11, i, 0, 1))
	}
	for i := range epsPi {
		epsPi[i] = float64(engine.NormalAt(7, 11+uint64(split.Random*2+3)/4, i, 0, 1))
	}
	a.Update(d, rng)

	ref.nextA = ref.policy(actor0, ref.next[split.Positive()*4:], epsNext, split.Random)
	y, _, _ := ref.targets(target0)
	checkClose(t, "labels from the policy's next actions", download(eng, a.clf.y), y, forwardTol)

	critic1 := snapshot(a.clf.critic.Params)
	m := a.TakeMetrics()
	checkClose(t, "logged actor loss", []float64{m.ActorLoss}, []float64{ref.actorLoss(actor0, critic1, epsPi)}, forwardTol)
	checkGrads(t, "policy", a.actor.Params, actor0, func(h hostParams) float64 { return ref.actorLoss(h, critic1, epsPi) })
	if n := a.TakeMetrics(); !math.IsNaN(n.ActorLoss) || !math.IsNaN(n.Loss) {
		t.Errorf("metrics with no update since the last: %+v, want NaN", n)
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

// TestSteadyStateAllocations checks that after the first step, adding,
// sampling with future goals and updating allocate no device memory.
func TestSteadyStateAllocations(t *testing.T) {
	ce := &countingEngine{Engine: cpu.New()}
	cfg := Defaults()
	cfg.Hidden = []int{4}
	cfg.BatchSize = 8
	cfg.FutureShare = 0.25
	split := SplitOf(cfg.BatchSize, cfg.FutureShare)
	rng, relabel := engine.NewRNG(1), engine.NewRNG(2)
	a, err := NewAgent(ce, cfg, split, 4, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	buf := NewBuffer(ce, 32, pointLayout)
	d := NewBatch(ce, split, pointLayout)
	act := newActor(ce, a.Policy(), envBox2(), 4)
	step := func(i int) {
		buf.Add([]float64{1, 2, 3, 4}, []float32{0.5, -0.5}, []float64{1.1, 2, 3, 4}, i%5 == 4)
		act.sample([]float64{1, 2, 3, 4}, rng)
		act.mode([]float64{1, 2, 3, 4})
		buf.Sample(d, rng, relabel, cfg.Gamma)
		a.Update(d, rng)
	}
	step(0)
	before := ce.news
	for i := 1; i < 40; i++ {
		step(i)
	}
	a.TakeMetrics()
	if n := ce.news - before; n != 0 {
		t.Errorf("steady-state steps allocated %d tensors", n)
	}
}

// TestUpdateAgreesAcrossEngines takes one Agent update, on a batch drawn
// from a buffer with future goals, on every other engine compiled into the
// test (the CUDA engine or its emulator, with -tags cuda or cudaemu) and on
// the CPU engine. The engines draw the same numbers, so the batch, the
// labels and weights, the metrics and the gradients of both networks agree
// within float32 rounding: 1e-4 relative with the same absolute floor, the
// tolerance of the MBPO rollouts' comparison, here on sums of at most 32
// rows.
func TestUpdateAgreesAcrossEngines(t *testing.T) {
	run := func(eng engine.Engine) [][]float64 {
		cfg := Defaults()
		cfg.Hidden = []int{16, 16}
		cfg.BatchSize = 32
		cfg.FutureShare = 0.25
		split := SplitOf(cfg.BatchSize, cfg.FutureShare)
		rng, relabel := engine.NewRNG(3), engine.NewRNG(4)
		a, err := NewAgent(eng, cfg, split, 4, 2, rng)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Free()
		buf := NewBuffer(eng, 64, pointLayout)
		defer buf.Free()
		r := rand.New(rand.NewPCG(5, 6))
		for k := range 100 {
			obs, next := randoms(r, 4, 0, 4), randoms(r, 4, 0, 4)
			buf.Add(obs, f32(randoms(r, 2, -1, 1)), next, k%10 == 9)
		}
		d := NewBatch(eng, split, pointLayout)
		defer d.Free(eng)
		buf.Sample(d, rng, relabel, cfg.Gamma)
		a.Update(d, rng)
		m := a.TakeMetrics()
		return [][]float64{
			download(eng, d.Obs), download(eng, d.NextObs),
			download(eng, a.clf.y), download(eng, a.clf.c),
			{m.Loss, m.CPositive, m.CRandom, m.W, m.ActorLoss},
			download(eng, a.clf.critic.Params.Grad), download(eng, a.actor.Params.Grad),
		}
	}
	names := []string{"obs", "next obs", "labels", "weights", "metrics", "classifier gradient", "policy gradient"}
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
			for i := range want {
				checkClose(t, names[i], got[i], want[i], 1e-4)
			}
		})
	}
	if others == 0 {
		t.Skip("no engine but cpu compiled in (build with -tags cudaemu to compare the CUDA engine's emulator)")
	}
}
