package ddpg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/nn"
)

// Tolerances of the float32 engine against the float64 reference: forward
// values agree to a few float32 roundings per layer; gradients are compared
// with central differences of the float64 reference, whose own error at
// step fdStep is far below gradTol.
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

// mlp is the float64 reference of an ensemble ReLU MLP with a linear
// output layer: x [n, sizes[0]] shared by the e members; it returns
// [e, n, sizes[last]].
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

// ref is the float64 reference of DDPG's networks for observations of obs
// and actions of act elements with hidden layers hidden.
type ref struct {
	obs, act int
	hidden   []int
}

// policy returns tanh(f(x)) for n observations x.
func (r ref) policy(p hostParams, x []float64, n int) []float64 {
	y := mlp(p, 1, append(append([]int{r.obs}, r.hidden...), r.act), x, n)
	for i := range y {
		y[i] = math.Tanh(y[i])
	}
	return y
}

// q returns Q_e(s, a) for the e members, [e, n].
func (r ref) q(c hostParams, e int, obs, act []float64, n int) []float64 {
	x := make([]float64, 0, n*(r.obs+r.act))
	for b := range n {
		x = append(append(x, obs[b*r.obs:(b+1)*r.obs]...), act[b*r.act:(b+1)*r.act]...)
	}
	return mlp(c, e, append(append([]int{r.obs + r.act}, r.hidden...), 1), x, n)
}

// criticLoss is Σ_e (1/n) Σ_b w_b (Q_e(s_b, a_b) − y_b)², w = 1 when nil.
func (r ref) criticLoss(c hostParams, e int, obs, act, y, w []float64) float64 {
	n := len(y)
	q := r.q(c, e, obs, act, n)
	var l float64
	for m := range e {
		for b := range n {
			wb := 1.0
			if w != nil {
				wb = w[b]
			}
			d := q[m*n+b] - y[b]
			l += wb * d * d / float64(n)
		}
	}
	return l
}

// actorLoss is −mean_b Q_1(s_b, π(s_b)).
func (r ref) actorLoss(p, c hostParams, e int, obs []float64) float64 {
	n := len(obs) / r.obs
	q := r.q(c, e, obs, r.policy(p, obs, n), n)
	var l float64
	for b := range n {
		l -= q[b] / float64(n)
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

func upload(eng engine.Engine, x []float64, shape ...int) *engine.Tensor {
	t := eng.New(engine.Float32, shape...)
	eng.Upload(t, f32(x))
	return t
}

func download(eng engine.Engine, t *engine.Tensor) []float64 {
	v := make([]float32, t.Len())
	eng.Download(v, t)
	return f64(v)
}

// perturb moves every parameter of p by N(0, 0.2²), so that a target
// network differs from its source and using the wrong one shows.
func perturb(p *nn.Params, r *rand.Rand) {
	for _, name := range p.Names() {
		v := p.Value(name)
		for i := range v {
			v[i] += float32(0.2 * r.NormFloat64())
		}
		p.Set(name, v)
	}
}

// fixture is a small agent and a hand-made batch of transitions, two of
// them terminal, on fresh random inputs.
type fixture struct {
	eng   engine.Engine
	cfg   Config
	agent *Agent
	ref   ref
	batch *replay.Batch
	// host copies of the batch
	obs, act, rew, next, term []float64
}

const (
	fixObs, fixAct, fixBatch = 3, 2, 6
)

func newFixture(t *testing.T, cfg Config, seed uint64) *fixture {
	t.Helper()
	eng := cpu.New()
	cfg.Hidden = []int{5, 4}
	cfg.BatchSize = fixBatch
	a, err := NewAgent(eng, cfg, fixObs, fixAct, engine.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 9))
	perturb(a.targetActor.Params, r)
	perturb(a.targetCritic.Params, r)
	f := &fixture{
		eng: eng, cfg: cfg, agent: a, ref: ref{obs: fixObs, act: fixAct, hidden: cfg.Hidden},
		obs:  randoms(r, fixBatch*fixObs, -1, 1),
		act:  randoms(r, fixBatch*fixAct, -1, 1),
		rew:  randoms(r, fixBatch, -2, 1),
		next: randoms(r, fixBatch*fixObs, -1, 1),
		term: []float64{0, 1, 0, 0, 1, 0},
	}
	f.batch = &replay.Batch{
		Obs: upload(eng, f.obs, fixBatch, fixObs), Act: upload(eng, f.act, fixBatch, fixAct),
		Reward: upload(eng, f.rew, fixBatch, 1), NextObs: upload(eng, f.next, fixBatch, fixObs),
		Terminated: upload(eng, f.term, fixBatch, 1),
	}
	return f
}

// TestUpdateByHand checks one gradient step of DDPG and of TD3 against the
// float64 reference: the target actor's (smoothed) action, the critics'
// target y with terminal transitions not bootstrapping, the critic loss and
// its gradient, the actor loss through the updated critic and its gradient,
// and the Polyak move of both target networks.
func TestUpdateByHand(t *testing.T) {
	td3 := TD3Defaults()
	td3.PolicyNoise, td3.NoiseClip = 2, 0.9 // wide enough that both clips act in this draw
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"DDPG", Defaults()}, {"TD3", td3}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.PolicyFrequency = 1
			cfg.Gamma = 0.9
			cfg.Tau = 0.1
			f := newFixture(t, cfg, 11)
			a, e, n := f.agent, cfg.Critics(), fixBatch
			actor0, critic0 := snapshot(a.actor.Params), snapshot(a.critic.Params)
			tActor0, tCritic0 := snapshot(a.targetActor.Params), snapshot(a.targetCritic.Params)

			rng := engine.NewRNG(5)
			rng.Counter = 17
			a.Update(f.batch, rng)

			// The target: a' = π'(s') (+ clipped noise), y = r + γ(1−d)·min_e Q'_e(s', a').
			next := f.ref.policy(tActor0, f.next, n)
			if cfg.TargetPolicySmoothing {
				noiseClipped, actClipped := 0, 0
				for i := range next {
					eps := float64(engine.NormalAt(5, 17, i, 0, float32(cfg.PolicyNoise)))
					if math.Abs(eps) > cfg.NoiseClip {
						noiseClipped++
					}
					eps = min(max(eps, -cfg.NoiseClip), cfg.NoiseClip)
					u := next[i] + eps
					if u > 1 || u < -1 {
						actClipped++
					}
					next[i] = min(max(u, -1), 1)
				}
				if noiseClipped == 0 || actClipped == 0 || actClipped == len(next) {
					t.Fatalf("the draw clips %d noises and %d of %d actions: pick another seed so that both clips act on some", noiseClipped, actClipped, len(next))
				}
			}
			qn := f.ref.q(tCritic0, e, f.next, next, n)
			y := make([]float64, n)
			for b := range y {
				v := qn[b]
				if e == 2 {
					v = min(v, qn[n+b])
				}
				y[b] = f.rew[b] + cfg.Gamma*(1-f.term[b])*v
			}
			checkClose(t, "target y", download(f.eng, a.scratch[n].y), y, forwardTol)
			if math.Float32bits(float32(y[1])) != math.Float32bits(float32(f.rew[1])) {
				t.Errorf("terminal transition bootstraps: y = %v, reward %v", y[1], f.rew[1])
			}

			// Critic: loss (logged per critic) and gradient.
			var m [numMetrics]float32
			f.eng.Download(m[:], a.metrics)
			lq := f.ref.criticLoss(critic0, e, f.obs, f.act, y, nil)
			checkClose(t, "logged q_loss", []float64{float64(m[metricQLoss])}, []float64{lq / float64(e)}, forwardTol)
			checkGrads(t, "critic", a.critic.Params, critic0, func(c hostParams) float64 {
				return f.ref.criticLoss(c, e, f.obs, f.act, y, nil)
			})

			// Actor: loss through the updated critic, and gradient.
			critic1 := snapshot(a.critic.Params)
			checkClose(t, "logged actor_loss", []float64{float64(m[metricActorLoss])},
				[]float64{f.ref.actorLoss(actor0, critic1, e, f.obs)}, forwardTol)
			checkGrads(t, "actor", a.actor.Params, actor0, func(p hostParams) float64 {
				return f.ref.actorLoss(p, critic1, e, f.obs)
			})

			// Targets: θ' ← (1 − τ)θ' + τθ with the updated networks.
			actor1 := snapshot(a.actor.Params)
			for _, tg := range []struct {
				name      string
				p         *nn.Params
				old, live hostParams
			}{{"target actor", a.targetActor.Params, tActor0, actor1}, {"target critic", a.targetCritic.Params, tCritic0, critic1}} {
				for _, name := range tg.p.Names() {
					want := make([]float64, len(tg.old[name]))
					for i := range want {
						want[i] = (1-cfg.Tau)*tg.old[name][i] + cfg.Tau*tg.live[name][i]
					}
					checkClose(t, tg.name+" "+name, f64(tg.p.Value(name)), want, forwardTol)
				}
			}

			// The metrics are means and reset when taken.
			q, act := a.TakeMetrics()
			if q != float64(m[metricQLoss]) || act != float64(m[metricActorLoss]) {
				t.Errorf("TakeMetrics after one update = %v, %v; want the sums %v", q, act, m)
			}
			if q, act := a.TakeMetrics(); !math.IsNaN(q) || !math.IsNaN(act) {
				t.Errorf("TakeMetrics with no update since the last: %v, %v; want NaN", q, act)
			}
		})
	}
}

// TestDelayedActor checks TD3's delayed policy update: with
// PolicyFrequency 3 the critic moves at every update, and the actor and
// the target networks only at the third.
func TestDelayedActor(t *testing.T) {
	cfg := TD3Defaults()
	cfg.PolicyFrequency = 3
	f := newFixture(t, cfg, 3)
	a := f.agent
	rng := engine.NewRNG(1)
	for k := 1; k <= 3; k++ {
		c0, p0 := snapshot(a.critic.Params), snapshot(a.actor.Params)
		tc0, tp0 := snapshot(a.targetCritic.Params), snapshot(a.targetActor.Params)
		a.Update(f.batch, rng)
		moved := func(before hostParams, p *nn.Params) bool {
			return fmt.Sprint(before) != fmt.Sprint(snapshot(p))
		}
		if !moved(c0, a.critic.Params) {
			t.Errorf("update %d: the critic did not move", k)
		}
		want := k == 3
		for _, x := range []struct {
			name   string
			before hostParams
			p      *nn.Params
		}{{"actor", p0, a.actor.Params}, {"target critic", tc0, a.targetCritic.Params}, {"target actor", tp0, a.targetActor.Params}} {
			if got := moved(x.before, x.p); got != want {
				t.Errorf("update %d: %s moved = %v, want %v", k, x.name, got, want)
			}
		}
	}
	if _, actorLoss := a.TakeMetrics(); math.IsNaN(actorLoss) {
		t.Errorf("actor_loss NaN after an actor step")
	}
}

// TestCriticStepWeights checks CriticStep's weighted loss, with weights
// that include 0, against the float64 reference (value and gradient), and
// that weights of 1 give bit for bit the parameters of no weights, on which
// algos/mve's H = 0 rests.
func TestCriticStepWeights(t *testing.T) {
	cfg := TD3Defaults()
	f := newFixture(t, cfg, 7)
	a, e, n := f.agent, cfg.Critics(), fixBatch
	r := rand.New(rand.NewPCG(1, 2))
	y := randoms(r, n, -3, 3)
	w := []float64{1, 0, 0.5, 2, 0, 1}
	critic0 := snapshot(a.critic.Params)
	a.CriticStep(f.batch.Obs, f.batch.Act, upload(f.eng, y, n, 1), upload(f.eng, w, n, 1))
	var m [numMetrics]float32
	f.eng.Download(m[:], a.metrics)
	checkClose(t, "weighted q_loss", []float64{float64(m[metricQLoss])},
		[]float64{f.ref.criticLoss(critic0, e, f.obs, f.act, y, w) / float64(e)}, forwardTol)
	checkGrads(t, "weighted critic", a.critic.Params, critic0, func(c hostParams) float64 {
		return f.ref.criticLoss(c, e, f.obs, f.act, y, w)
	})

	// Ones against nil, from the same start.
	g := newFixture(t, cfg, 7)
	h := newFixture(t, cfg, 7)
	ones := []float64{1, 1, 1, 1, 1, 1}
	for range 3 {
		g.agent.CriticStep(g.batch.Obs, g.batch.Act, upload(g.eng, y, n, 1), nil)
		h.agent.CriticStep(h.batch.Obs, h.batch.Act, upload(h.eng, y, n, 1), upload(h.eng, ones, n, 1))
	}
	gp, hp := g.agent.critic.Params.Value("layers.0.weight"), h.agent.critic.Params.Value("layers.0.weight")
	for i := range gp {
		if math.Float32bits(gp[i]) != math.Float32bits(hp[i]) {
			t.Fatalf("weights of 1 and no weights differ after 3 steps: element %d %v and %v", i, gp[i], hp[i])
		}
	}
}

// TestBackup checks the one-step target on hand-computed values.
func TestBackup(t *testing.T) {
	eng := cpu.New()
	r := upload(eng, []float64{1, -2, 0.5}, 3, 1)
	d := upload(eng, []float64{0, 1, 0}, 3, 1)
	next := upload(eng, []float64{10, 10, -4}, 3, 1)
	tmp := eng.New(engine.Float32, 3, 1)
	Backup(eng, next, tmp, r, d, next, 0.5)
	checkClose(t, "backup", download(eng, next), []float64{1 + 5, -2, 0.5 - 2}, 0)
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
// first actions, sampling, updating and acting allocate no device memory.
func TestSteadyStateAllocations(t *testing.T) {
	const obsDim, actDim, batch = 3, 1, 8
	ce := &countingEngine{Engine: cpu.New()}
	cfg := TD3Defaults()
	cfg.Hidden = []int{4}
	cfg.BatchSize = batch
	rng := engine.NewRNG(1)
	a, err := NewAgent(ce, cfg, obsDim, actDim, rng)
	if err != nil {
		t.Fatal(err)
	}
	buf := replay.New(ce, 32, obsDim, actDim)
	d := replay.NewBatch(ce, batch, obsDim, actDim)
	actor := NewActor(ce, a.Policy(), lineAct, 0.1)
	tr := replay.Transitions{Obs: []float32{1, 2, 3}, Act: []float32{0.5}, Reward: []float32{1}, NextObs: []float32{2, 3, 4}, Terminated: []float32{0}}
	step := func() {
		buf.Add(tr)
		actor.Explore([]float64{0.1, 0.2, 0.3}, rng)
		actor.Mode([]float64{0.1, 0.2, 0.3})
		buf.Sample(d, rng)
		a.Update(d, rng)
	}
	step()
	step() // the first actor step
	before := ce.news
	for range 4 {
		step()
	}
	a.TakeMetrics()
	if n := ce.news - before; n != 0 {
		t.Errorf("steady-state steps allocated %d tensors", n)
	}
}
