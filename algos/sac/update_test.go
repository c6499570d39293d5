package sac

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// Tolerances of the float32 engine against the float64 reference: forward
// values agree to a few float32 roundings per layer; gradients are compared
// with central differences of the float64 reference, whose own error at
// step fdStep is far below these.
const (
	forwardTol = 1e-5 // relative, with the same absolute floor
	gradTol    = 1e-4 // relative, with the same absolute floor
	fdStep     = 1e-6
)

// hostParams is a host copy of a network's parameters in float64, by name.
type hostParams map[string][]float64

func snapshot(p *nn.Params) hostParams {
	h := hostParams{}
	for _, name := range p.Names() {
		for _, v := range p.Value(name) {
			h[name] = append(h[name], float64(v))
		}
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

// mlp is the float64 reference of an ensemble ReLU MLP: x [B, In] shared
// by the e members, layer sizes sizes; it returns [e, B, Out].
func mlp(h hostParams, e int, sizes []int, x []float64, batch int) []float64 {
	out := make([]float64, 0, e*batch*sizes[len(sizes)-1])
	for m := range e {
		cur := x
		for l := 0; l+1 < len(sizes); l++ {
			in, o := sizes[l], sizes[l+1]
			w := h[fmt.Sprintf("layers.%d.weight", l)][m*in*o : (m+1)*in*o]
			bias := h[fmt.Sprintf("layers.%d.bias", l)][m*o : (m+1)*o]
			next := make([]float64, batch*o)
			for b := range batch {
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

// refSAC is the float64 reference of one SAC update on a fixed batch with
// fixed policy noise.
type refSAC struct {
	obsDim, actDim, batch int
	hidden                []int
	lo, hi                float64 // the policy's log-std bounds
	gamma                 float64
	targetEntropy         float64
	obs, act, rew, next   []float64
	term                  []float64
}

// policy returns tanh-Gaussian actions and their log-probabilities for
// observations x with noise eps, as nn.Policy defines them.
func (r refSAC) policy(p hostParams, x, eps []float64) (a, logp []float64) {
	na := r.actDim
	out := mlp(p, 1, append(append([]int{r.obsDim}, r.hidden...), 2*na), x, r.batch)
	a = make([]float64, r.batch*na)
	logp = make([]float64, r.batch)
	for b := range r.batch {
		for i := range na {
			mu := out[b*2*na+i]
			ls := r.lo + (r.hi-r.lo)*(math.Tanh(out[b*2*na+na+i])+1)/2
			e := eps[b*na+i]
			u := mu + math.Exp(ls)*e
			a[b*na+i] = math.Tanh(u)
			softplus := math.Log1p(math.Exp(-2 * u))
			logp[b] += -e*e/2 - ls - 0.5*math.Log(2*math.Pi) - 2*(math.Ln2-u-softplus)
		}
	}
	return a, logp
}

// q returns Q_e(s, a) for both members, [2, B].
func (r refSAC) q(c hostParams, obs, act []float64) []float64 {
	x := make([]float64, 0, r.batch*(r.obsDim+r.actDim))
	for b := range r.batch {
		x = append(append(x, obs[b*r.obsDim:(b+1)*r.obsDim]...), act[b*r.actDim:(b+1)*r.actDim]...)
	}
	return mlp(c, 2, append(append([]int{r.obsDim + r.actDim}, r.hidden...), 1), x, r.batch)
}

// target is y = r + γ(1 − d)(min_e Q'_e(s', a') − α log π(a'|s')).
func (r refSAC) target(actor, tgt hostParams, alpha float64, eps []float64) []float64 {
	a, logp := r.policy(actor, r.next, eps)
	q := r.q(tgt, r.next, a)
	y := make([]float64, r.batch)
	for b := range y {
		y[b] = r.rew[b] + r.gamma*(1-r.term[b])*(min(q[b], q[r.batch+b])-alpha*logp[b])
	}
	return y
}

// criticLoss is Σ_e mean_b (Q_e(s, a) − y)².
func (r refSAC) criticLoss(c hostParams, y []float64) float64 {
	q := r.q(c, r.obs, r.act)
	var l float64
	for e := range 2 {
		for b := range r.batch {
			d := q[e*r.batch+b] - y[b]
			l += d * d / float64(r.batch)
		}
	}
	return l
}

// actorLoss is mean_b [α log π(ã|s) − min_e Q_e(s, ã)], and the mean log π.
func (r refSAC) actorLoss(actor, c hostParams, alpha float64, eps []float64) (loss, meanLogp float64) {
	a, logp := r.policy(actor, r.obs, eps)
	q := r.q(c, r.obs, a)
	for b := range r.batch {
		loss += (alpha*logp[b] - min(q[b], q[r.batch+b])) / float64(r.batch)
		meanLogp += logp[b] / float64(r.batch)
	}
	return loss, meanLogp
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

func randoms(r *rand.Rand, n int, lo, hi float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float64()
	}
	return x
}

func upload(eng engine.Engine, x []float64, shape ...int) *engine.Tensor {
	t := eng.New(engine.Float32, shape...)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	eng.Upload(t, x32)
	return t
}

// roundTo32 rounds every value to float32, as the engine holds them.
func roundTo32(x []float64) []float64 {
	for i, v := range x {
		x[i] = float64(float32(v))
	}
	return x
}

// TestUpdateByHand checks one gradient step against the float64 reference
// on a batch of four transitions, two of them terminal: the critic target
// y, the logged losses, α and entropy, the gradients of the critic, policy
// and temperature losses, the temperature's Adam step and the Polyak move
// of the target critics. It runs with two action elements and with one,
// for which the policy skips its sums over elements.
func TestUpdateByHand(t *testing.T) {
	for _, actDim := range []int{2, 1} {
		t.Run(fmt.Sprintf("act=%d", actDim), func(t *testing.T) { testUpdateByHand(t, actDim) })
	}
}

func testUpdateByHand(t *testing.T, actDim int) {
	const obsDim, batch = 3, 4
	eng := cpu.New()
	cfg := Defaults()
	cfg.Hidden = []int{5}
	cfg.BatchSize = batch
	cfg.Gamma = 0.9
	cfg.Tau = 0.1
	cfg.Alpha = 0.7
	cfg.AlphaLR = 0.01
	a, err := NewAgent(eng, cfg, obsDim, actDim, engine.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	// Move the target away from the critic, so that using the wrong one
	// shows.
	for _, name := range a.target.Params.Names() {
		v := a.target.Params.Value(name)
		for i := range v {
			v[i] += float32(0.2 * r.NormFloat64())
		}
		a.target.Params.Set(name, v)
	}
	ref := refSAC{
		obsDim: obsDim, actDim: actDim, batch: batch, hidden: cfg.Hidden,
		lo: float64(a.actor.Config.LogStdMin), hi: float64(a.actor.Config.LogStdMax),
		gamma: cfg.Gamma, targetEntropy: -float64(actDim),
		obs:  roundTo32(randoms(r, batch*obsDim, -1, 1)),
		act:  roundTo32(randoms(r, batch*actDim, -1, 1)),
		rew:  roundTo32(randoms(r, batch, -2, 1)),
		next: roundTo32(randoms(r, batch*obsDim, -1, 1)),
		term: []float64{0, 1, 0, 1},
	}
	d := &replay.Batch{
		Obs: upload(eng, ref.obs, batch, obsDim), Act: upload(eng, ref.act, batch, actDim),
		Reward: upload(eng, ref.rew, batch, 1), NextObs: upload(eng, ref.next, batch, obsDim),
		Terminated: upload(eng, ref.term, batch, 1),
	}
	actor0, critic0, target0 := snapshot(a.actor.Params), snapshot(a.critic.Params), snapshot(a.target.Params)
	alpha0 := float64(float32(math.Exp(float64(float32(math.Log(0.7))))))

	// The update draws the next actions' noise, then the policy step's.
	rng := engine.NewRNG(7)
	rng.Counter = 11
	epsNext, epsPi := make([]float64, batch*actDim), make([]float64, batch*actDim)
	for i := range epsNext {
		epsNext[i] = float64(engine.NormalAt(7, 11, i, 0, 1))
		epsPi[i] = float64(engine.NormalAt(7, 11+uint64(batch*actDim+3)/4, i, 0, 1))
	}
	a.Update(d, rng)

	// Critic: target, loss (logged as half of Σ_e MSE_e) and gradient.
	y := ref.target(actor0, target0, alpha0, epsNext)
	got := make([]float32, batch)
	eng.Download(got, a.y)
	checkClose(t, "critic target y", f64(got), y, forwardTol)
	if y[1] != ref.rew[1] || y[3] != ref.rew[3] {
		t.Errorf("terminal transitions bootstrap: y = %v, rewards %v", y, ref.rew)
	}
	var m [numMetrics]float32
	eng.Download(m[:], a.metrics)
	checkClose(t, "logged q_loss", []float64{float64(m[metricQLoss])}, []float64{ref.criticLoss(critic0, y) / 2}, forwardTol)
	checkGrads(t, "critic", a.critic.Params, critic0, func(c hostParams) float64 { return ref.criticLoss(c, y) })

	// Policy: loss through the updated critic, α fixed; gradient.
	critic1 := snapshot(a.critic.Params)
	actorLoss, meanLogp := ref.actorLoss(actor0, critic1, alpha0, epsPi)
	checkClose(t, "logged actor_loss", []float64{float64(m[metricActorLoss])}, []float64{actorLoss}, forwardTol)
	checkClose(t, "logged alpha", []float64{float64(m[metricAlpha])}, []float64{alpha0}, forwardTol)
	checkClose(t, "logged mean log π", []float64{float64(m[metricLogProb])}, []float64{meanLogp}, forwardTol)
	checkGrads(t, "actor", a.actor.Params, actor0, func(p hostParams) float64 {
		l, _ := ref.actorLoss(p, critic1, alpha0, epsPi)
		return l
	})

	// Temperature: ∂L/∂log α = −(mean log π + H̄), then Adam's first step,
	// which moves log α by −lr·g/(|g| + ε).
	g := -(meanLogp + ref.targetEntropy)
	checkClose(t, "∂L/∂log α", f64(a.logAlpha.Gradient("log_alpha")), []float64{g}, gradTol)
	logAlpha1 := math.Log(0.7) - cfg.AlphaLR*g/(math.Abs(g)+1e-8)
	checkClose(t, "log α after the step", f64(a.logAlpha.Value("log_alpha")), []float64{logAlpha1}, forwardTol)
	var alpha1 [1]float32
	eng.Download(alpha1[:], a.alpha)
	checkClose(t, "α after the step", f64(alpha1[:]), []float64{math.Exp(logAlpha1)}, forwardTol)

	// Target critics: θ' ← (1 − τ)θ' + τθ with the updated critic.
	for _, name := range a.target.Params.Names() {
		want := make([]float64, len(target0[name]))
		for i := range want {
			want[i] = (1-cfg.Tau)*target0[name][i] + cfg.Tau*critic1[name][i]
		}
		checkClose(t, "target "+name, f64(a.target.Params.Value(name)), want, forwardTol)
	}

	// The metrics are means over updates and reset when taken.
	qLoss, _, alpha, entropy := a.TakeMetrics()
	if qLoss != float64(m[metricQLoss]) || alpha != float64(m[metricAlpha]) || entropy != -float64(m[metricLogProb]) {
		t.Errorf("takeMetrics after one update = %v, %v, %v; want the sums %v", qLoss, alpha, entropy, m)
	}
	if q, _, _, _ := a.TakeMetrics(); !math.IsNaN(q) {
		t.Errorf("takeMetrics with no update since the last: q_loss %v, want NaN", q)
	}
}

// TestTemperatureDirection checks that α grows when the policy's entropy is
// below the target and shrinks when it is above: a policy with the
// smallest standard deviation (log σ = −5 per dimension, entropy about
// −3.6 per dimension) against the target −1 per dimension, and one with
// log σ at the middle of its range (−1.5, entropy about 0 per dimension).
func TestTemperatureDirection(t *testing.T) {
	const obsDim, actDim, batch = 3, 2, 16
	for _, tc := range []struct {
		name    string
		rawStd  float32 // bias of the raw log-std outputs; weights zero
		growing bool
	}{{"entropy below target", -50, true}, {"entropy above target", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			eng := cpu.New()
			cfg := Defaults()
			cfg.Hidden = []int{8}
			cfg.BatchSize = batch
			a, err := NewAgent(eng, cfg, obsDim, actDim, engine.NewRNG(2))
			if err != nil {
				t.Fatal(err)
			}
			w := a.actor.Params.Value("layers.1.weight")
			clear(w)
			a.actor.Params.Set("layers.1.weight", w)
			a.actor.Params.Set("layers.1.bias", []float32{0, 0, tc.rawStd, tc.rawStd})
			r := rand.New(rand.NewPCG(5, 6))
			buf := replay.New(eng, 64, obsDim, actDim)
			for range 64 {
				o, n := randoms(r, obsDim, -1, 1), randoms(r, obsDim, -1, 1)
				buf.Add(replay.Transitions{
					Obs: f32(o), Act: f32(randoms(r, actDim, -1, 1)),
					Reward: []float32{float32(r.NormFloat64())}, NextObs: f32(n), Terminated: []float32{0},
				})
			}
			d := replay.NewBatch(eng, batch, obsDim, actDim)
			rng := engine.NewRNG(3)
			buf.Sample(d, rng)
			a.Update(d, rng)
			_, _, alpha0, entropy := a.TakeMetrics()
			var alpha1 [1]float32
			eng.Download(alpha1[:], a.alpha)
			target := cfg.TargetEntropyPerDim * actDim
			if (entropy < target) != tc.growing {
				t.Fatalf("entropy %g, target %g: the test's policy is not on the intended side", entropy, target)
			}
			if grew := float64(alpha1[0]) > alpha0; grew != tc.growing {
				t.Errorf("entropy %.3g, target %g: α went from %g to %g", entropy, target, alpha0, alpha1[0])
			}
		})
	}
}

// TestUpdateWritesGradients checks that an update writes every gradient
// before it reads it: with NaN left in all gradients by whatever ran before
// (here put there on purpose), the update's parameters, gradients and
// metrics stay finite. An update that zeroed nothing and accumulated into
// the gradients, or skipped a parameter, would carry the NaN into Adam.
func TestUpdateWritesGradients(t *testing.T) {
	const obsDim, actDim, batch = 3, 1, 8
	eng := cpu.New()
	cfg := Defaults()
	cfg.Hidden = []int{6, 5}
	cfg.BatchSize = batch
	rng := engine.NewRNG(4)
	a, err := NewAgent(eng, cfg, obsDim, actDim, rng)
	if err != nil {
		t.Fatal(err)
	}
	d := replay.NewBatch(eng, batch, obsDim, actDim)
	eng.RandNormal(d.Obs, rng, 0, 1)
	eng.RandNormal(d.NextObs, rng, 0, 1)
	eng.RandUniform(d.Act, rng, -1, 1)
	eng.RandNormal(d.Reward, rng, 0, 1)
	nets := []*nn.Params{a.critic.Params, a.actor.Params, a.logAlpha}
	for _, p := range nets {
		eng.Fill(p.Grad, float32(math.NaN()))
	}
	a.Update(d, rng)
	for _, p := range nets {
		for _, name := range p.Names() {
			for what, v := range map[string][]float32{"value": p.Value(name), "gradient": p.Gradient(name)} {
				for i, x := range v {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						t.Fatalf("%s %s[%d] = %v after an update on NaN gradients", name, what, i, x)
					}
				}
			}
		}
	}
	q, pi, alpha, entropy := a.TakeMetrics()
	for i, m := range []float64{q, pi, alpha, entropy} {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			t.Errorf("metric %d of q_loss, actor_loss, alpha, entropy = %v", i, m)
		}
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

// TestSteadyStateAllocations checks that after the first update and the
// first action, sampling, updating and acting allocate no device memory.
func TestSteadyStateAllocations(t *testing.T) {
	const obsDim, actDim, batch = 3, 1, 8
	ce := &countingEngine{Engine: cpu.New()}
	cfg := Defaults()
	cfg.Hidden = []int{4}
	cfg.BatchSize = batch
	rng := engine.NewRNG(1)
	a, err := NewAgent(ce, cfg, obsDim, actDim, rng)
	if err != nil {
		t.Fatal(err)
	}
	buf := replay.New(ce, 32, obsDim, actDim)
	d := replay.NewBatch(ce, batch, obsDim, actDim)
	actor := NewActor(ce, a, env.Box([]float64{-2}, []float64{2}), obsDim)
	tr := replay.Transitions{Obs: []float32{1, 2, 3}, Act: []float32{0.5}, Reward: []float32{1}, NextObs: []float32{2, 3, 4}, Terminated: []float32{0}}
	step := func() {
		buf.Add(tr)
		actor.Sample([]float64{0.1, 0.2, 0.3}, rng)
		actor.Mode([]float64{0.1, 0.2, 0.3})
		buf.Sample(d, rng)
		a.Update(d, rng)
	}
	step()
	before := ce.news
	for range 3 {
		step()
	}
	a.TakeMetrics()
	if n := ce.news - before; n != 0 {
		t.Errorf("steady-state steps allocated %d tensors", n)
	}
}

// f32 returns v rounded to float32.
func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
