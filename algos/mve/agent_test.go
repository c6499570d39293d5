package mve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// exactTol is the tolerance of the hand-computed cases, whose every value
// is a short binary fraction that float32 holds exactly; it allows for a
// final rounding where a weight is a quotient.
const exactTol = 1e-6

// setParams uploads values by name into p.
func setParams(p *nn.Params, values map[string][]float32) {
	for name, v := range values {
		p.Set(name, v)
	}
}

// handNets sets, for observations and actions of one element and hidden
// layers [1], the target actor to π′ = tanh(0) = 0 and the target critics
// to Q′_e(x, a) = slope_e·(x + 10) + bias_e, which is affine in x where
// x > −10 (the hidden unit is ReLU(x + 10)).
func handNets(a *ddpg.Agent, slope, bias []float32) {
	zero := func(n int) []float32 { return make([]float32, n) }
	setParams(a.TargetPolicy().Params, map[string][]float32{
		"layers.0.weight": zero(1), "layers.0.bias": zero(1),
		"layers.1.weight": zero(1), "layers.1.bias": zero(1),
	})
	e := len(slope)
	w0, b0 := make([]float32, 0, 2*e), make([]float32, 0, e)
	for range e {
		w0 = append(w0, 1, 0)
		b0 = append(b0, 10)
	}
	setParams(a.TargetCritic().Params, map[string][]float32{
		"layers.0.weight": w0, "layers.0.bias": b0,
		"layers.1.weight": slope, "layers.1.bias": bias,
	})
}

// handBatch is a minibatch of one-element observations and actions whose
// next observations, rewards and terminal flags are given; its
// observations and actions are zero.
func handBatch(eng engine.Engine, next, rew, term []float64) *replay.Batch {
	n := len(next)
	return &replay.Batch{
		Obs: upload(eng, make([]float64, n), n, 1), Act: upload(eng, make([]float64, n), n, 1),
		Reward: upload(eng, rew, n, 1), NextObs: upload(eng, next, n, 1), Terminated: upload(eng, term, n, 1),
	}
}

// unitBox is the action space of the hand-built cases.
var unitBox = env.Box([]float64{-1}, []float64{1})

// handEnv has reward x (the observation before the step) and terminates
// outside [−1, 1].
var handEnv = fakeEnv{obs: 1, term: env.Termination{Kind: env.TerminatesOutside, Dims: []int{0}, Low: []float64{-1}, High: []float64{1}}}

func handConfig(method string, h, batch int) Config {
	c := Defaults()
	c.Method, c.Horizon = method, h
	c.DDPG.Hidden = []int{1}
	c.DDPG.BatchSize = batch
	c.DDPG.TwinCritics = true
	c.DDPG.Gamma = 0.5
	return c
}

// TestMVEByHand checks MVE's targets, masks and expansion metric on a case
// computed by hand: a model that moves every state by +0.375, the target
// actor 0, twin target critics 2x and 3x (so the minimum is 2x above 0 and
// 3x below), reward x, termination outside [−1, 1] (bounds inclusive),
// γ = 1/2, H = 2, and five transitions:
//
//	s′      r   d  rollout x₀, x₁, x₂ (d̂₀, d̂₁)   G₂     G₁      G₀      T
//	0.25    1   0  .25, .625, 1 (0, 0)          2      1.625   1.0625  1.53125
//	0.5    −1   0  .5, .875, 1.25 (0, 1)        2.5    0.875   0.9375  −0.53125
//	0.25    2   1  as the first: not expanded   2      1.625   1.0625  2
//	0.875   0   0  .875, 1.25, 1.625 (1, 1)     3.25   1.25    0.875   0.4375
//	−1      0   0  −1, −.625, −.25 (0, 0)       −0.75  −1      −1.5    −0.75
//
// with G₂ = min(2x₂, 3x₂), G_k = r̂_k + γ(1 − d̂_k)G_{k+1}, r̂_k = x_k,
// T = r + γ(1 − d)G₀, and the imagined pairs (x₀, u₀), (x₁, u₁) alive but
// for the terminal real transition (both) and x₁ = 1.25 of the fourth.
func TestMVEByHand(t *testing.T) {
	eng := cpu.New()
	cfg := handConfig(MethodMVE, 2, 5)
	base, err := ddpg.NewAgent(eng, cfg.DDPG, 1, 1, engine.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	handNets(base, []float32{2, 3}, []float32{-20, -30})
	model := newLinearModel(eng, 1, 1, []float64{0}, []float64{0.375})
	a, err := NewAgent(eng, cfg, base, model, handEnv, unitBox)
	if err != nil {
		t.Fatal(err)
	}
	d := handBatch(eng, []float64{0.25, 0.5, 0.25, 0.875, -1}, []float64{1, -1, 2, 0, 0}, []float64{0, 0, 1, 0, 0})
	a.Update(d, engine.NewRNG(3))

	wantT := []float64{
		1.53125, -0.53125, 2, 0.4375, -0.75, // T
		1.0625, 0.9375, 1.0625, 0.875, -1.5, // G₀
		1.625, 0.875, 1.625, 1.25, -1, // G₁
	}
	wantMask := []float64{1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1}
	checkClose(t, "targets T, G₀, G₁", download(eng, a.tgtAll), wantT, exactTol)
	checkClose(t, "masks", download(eng, a.maskAll), wantMask, 0)
	checkClose(t, "imagined states x₀, x₁, x₂", download(eng, a.obsAll.View(5, 15, 1)),
		[]float64{0.25, 0.5, 0.25, 0.875, -1, 0.625, 0.875, 0.625, 1.25, -0.625, 1, 1.25, 1, 1.625, -0.25}, 0)
	checkClose(t, "terminal flags d̂₀, d̂₁", download(eng, a.done), []float64{0, 0, 0, 1, 0, 0, 1, 0, 1, 0}, 0)
	_, _, expansion := a.TakeMetrics()
	// Alive imagined pairs per real transition: (4 + 3)/5.
	checkClose(t, "expansion", []float64{expansion}, []float64{1.4}, exactTol)
}

// TestSTEVEWeightsByHand checks STEVE's weights and target on a case with
// known variances: two hypotheses moving the state by ±0.25, twin target
// critics Q′₁ = 2x and Q′₂ = 2x + 2, reward x, γ = 1/2, H = 1, and s′ = 0.5,
// r = 1. T⁰'s samples 1 + ½·{1, 3} (twice) have mean 2 and variance 1/4;
// T¹'s, 1 + ½·(0.5 + ½·Q′_l(x₁)) for x₁ ∈ {0.75, 0.25}, are 1.625, 2.125,
// 1.375 and 1.875, of mean 1.75 and variance 0.078125. The weights are
// 4 : 12.8, normalised 0.238… and 0.761…, and the target
// (4·2 + 12.8·1.75)/16.8 = 30.4/16.8. A second, terminal, transition
// (r = 3) has every candidate 3 with variance 0: equal weights, target 3.
func TestSTEVEWeightsByHand(t *testing.T) {
	eng := cpu.New()
	cfg := handConfig(MethodSTEVE, 1, 2)
	base, err := ddpg.NewAgent(eng, cfg.DDPG, 1, 1, engine.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	handNets(base, []float32{2, 2}, []float32{-20, -18})
	model := newLinearModel(eng, 1, 1, []float64{0}, []float64{0.25, -0.25})
	a, err := NewAgent(eng, cfg, base, model, handEnv, unitBox)
	if err != nil {
		t.Fatal(err)
	}
	d := handBatch(eng, []float64{0.5, 0.5}, []float64{1, 3}, []float64{0, 1})
	a.Update(d, engine.NewRNG(3))

	// [H+1, b] tensors: candidate i of transition b at i·2 + b.
	checkClose(t, "candidate means μ⁰, μ¹", download(eng, a.mu), []float64{2, 3, 1.75, 3}, exactTol)
	checkClose(t, "candidate variances σ²⁰, σ²¹", download(eng, a.vr), []float64{0.25, 0, 0.078125, 0}, exactTol)
	checkClose(t, "weights w⁰, w¹", download(eng, a.w), []float64{4 / 16.8, 0.5, 12.8 / 16.8, 0.5}, exactTol)
	checkClose(t, "targets", download(eng, a.y), []float64{30.4 / 16.8, 3}, exactTol)
	_, _, expansion := a.TakeMetrics()
	checkClose(t, "expansion Σ i·w_i", []float64{expansion}, []float64{(12.8/16.8 + 0.5) / 2}, exactTol)
}

// refCase is a value expansion agent on fresh random networks, a random
// linear fake model with two hypotheses that drift apart along the
// terminating element, a fake environment with an asymmetric action Box,
// and a random minibatch with two terminal transitions.
type refCase struct {
	eng            engine.Engine
	cfg            Config
	agent          *Agent
	model          *linearModel
	fenv           fakeEnv
	low, high      []float64
	nets           nets
	obs, act, rew  []float64
	next, term     []float64
	batch          *replay.Batch
	tActor, critic hostParams
	tCritic        hostParams
}

const (
	refObs, refAct, refBatch, refH = 3, 2, 6, 3
	refSeed, refCounter            = 5, 17 // of the update's rng
)

func newRefCase(t *testing.T, method string, seed uint64) *refCase {
	return newRefCaseTDK(t, method, seed, true)
}

// newRefCaseTDK is newRefCase with Config.TDK set to tdk.
func newRefCaseTDK(t *testing.T, method string, seed uint64, tdk bool) *refCase {
	t.Helper()
	eng := cpu.New()
	cfg := Defaults()
	if method == MethodSTEVE {
		cfg = DefaultsSTEVE()
	}
	cfg.TDK = tdk
	cfg.Horizon = refH
	cfg.DDPG = ddpg.TD3Defaults()
	cfg.DDPG.Hidden = []int{5, 4}
	cfg.DDPG.BatchSize = refBatch
	cfg.DDPG.Gamma = 0.9
	cfg.DDPG.PolicyFrequency = 1
	cfg.DDPG.PolicyNoise = 0.3
	base, err := ddpg.NewAgent(eng, cfg.DDPG, refObs, refAct, engine.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 77))
	for _, p := range []*nn.Params{base.TargetPolicy().Params, base.TargetCritic().Params} {
		for _, name := range p.Names() {
			v := p.Value(name)
			for i := range v {
				v[i] += float32(0.3 * r.NormFloat64())
			}
			p.Set(name, v)
		}
	}
	table := randoms(r, 2*refObs, -0.2, 0.2)
	table[0], table[refObs] = 0.4, -0.4 // the hypotheses drift apart along element 0
	c := &refCase{
		eng: eng, cfg: cfg,
		model: newLinearModel(eng, refObs, refAct, randoms(r, refAct*refObs, -0.3, 0.3), table),
		fenv: fakeEnv{obs: refObs, ra: -0.3, rn: 0.2, term: env.Termination{
			Kind: env.TerminatesOutside, Dims: []int{0}, Low: []float64{-1.5}, High: []float64{1.5}}},
		low: []float64{-1, -2}, high: []float64{3, 2},
		nets: nets{obs: refObs, act: refAct, critics: 2, hidden: cfg.DDPG.Hidden},
		obs:  randoms(r, refBatch*refObs, -1, 1),
		act:  randoms(r, refBatch*refAct, -1, 1),
		rew:  randoms(r, refBatch, -2, 1),
		next: randoms(r, refBatch*refObs, -1.4, 1.4),
		term: []float64{0, 1, 0, 0, 0, 1},
	}
	c.agent, err = NewAgent(eng, cfg, base, c.model, c.fenv, env.Box(c.low, c.high))
	if err != nil {
		t.Fatal(err)
	}
	c.batch = &replay.Batch{
		Obs: upload(eng, c.obs, refBatch, refObs), Act: upload(eng, c.act, refBatch, refAct),
		Reward: upload(eng, c.rew, refBatch, 1), NextObs: upload(eng, c.next, refBatch, refObs),
		Terminated: upload(eng, c.term, refBatch, 1),
	}
	c.tActor, c.tCritic = snapshot(base.TargetPolicy().Params), snapshot(base.TargetCritic().Params)
	c.critic = snapshot(base.Critic().Params)
	return c
}

// update runs one Update with the rng of refSeed and refCounter.
func (c *refCase) update() {
	rng := engine.NewRNG(refSeed)
	rng.Counter = refCounter
	c.agent.Update(c.batch, rng)
}

// rollout is the reference rollout of transition b under hypothesis k.
func (c *refCase) rollout(b, k int) rollout {
	return imagine(c.nets, c.tActor, c.model, c.fenv, c.low, c.high, c.next[b*refObs:(b+1)*refObs], k, refH)
}

// bootstrap returns min_l or each Q′_l(x, ã) for the smoothed target action
// ã at x, whose noise is row `row` of a RandNormal starting at counter.
func (c *refCase) bootstrap(x []float64, counter uint64, row int) []float64 {
	u := c.nets.policy(c.tActor, x, 1)
	cfg := c.cfg.DDPG
	for j := range u {
		eps := float64(engine.NormalAt(refSeed, counter, row*refAct+j, 0, float32(cfg.PolicyNoise)))
		eps = min(max(eps, -cfg.NoiseClip), cfg.NoiseClip)
		u[j] = min(max(float64(float32(u[j]))+eps, -1), 1)
	}
	return c.nets.q(c.tCritic, x, roundAll(u), 1)
}

// TestMVEAgainstReference checks an MVE update with H = 3 on TD3 (twin
// critics, smoothed bootstrap actions) against the float64 reference: the
// hypotheses drawn per transition, the targets T and G_k, the masks, and
// the critics' loss and its gradient: the TD-k loss over the real and the
// imagined pairs, or with td_k false the loss of the real pairs only.
// Some rollouts terminate (the reference counts them and the test fails
// if none or all do).
func TestMVEAgainstReference(t *testing.T) {
	for _, tdk := range []bool{true, false} {
		t.Run(fmt.Sprintf("td_k=%v", tdk), func(t *testing.T) { testMVEAgainstReference(t, tdk) })
	}
}

func testMVEAgainstReference(t *testing.T, tdk bool) {
	c := newRefCaseTDK(t, MethodMVE, 3, tdk)
	c.update()
	b, h, g := refBatch, refH, c.cfg.DDPG.Gamma
	k := c.model.Samples()
	noiseCounter := uint64(refCounter + (b+3)/4) // after the RandInt of b picks

	nRows := (h + 1) * b
	obsAll, actAll := append([]float64(nil), c.obs...), append([]float64(nil), c.act...)
	obsAll, actAll = append(obsAll, make([]float64, h*b*refObs)...), append(actAll, make([]float64, h*b*refAct)...)
	tgt, mask := make([]float64, nRows), make([]float64, nRows)
	terminated := 0
	for i := range b {
		pick := int(engine.IntAt(refSeed, refCounter, i, k))
		ro := c.rollout(i, pick)
		q := c.bootstrap(ro.x[h], noiseCounter, i)
		next := min(q[0], q[1])
		alive := 1 - c.term[i]
		for s := h - 1; s >= 0; s-- {
			next = ro.rew[s] + g*(1-ro.end[s])*next
			tgt[(s+1)*b+i] = next
		}
		tgt[i] = c.rew[i] + g*(1-c.term[i])*next
		mask[i] = 1
		for s := range h {
			mask[(s+1)*b+i] = alive
			alive *= 1 - ro.end[s]
			copy(obsAll[((s+1)*b+i)*refObs:], ro.x[s])
			copy(actAll[((s+1)*b+i)*refAct:], ro.u[s])
		}
		if alive == 0 && c.term[i] == 0 {
			terminated++
		}
	}
	if terminated == 0 || terminated == b-2 {
		t.Fatalf("%d of %d expanded rollouts terminate: the case should have some of each", terminated, b-2)
	}
	a := c.agent
	checkClose(t, "targets T, G_0 … G_2", download(c.eng, a.tgtAll), tgt, forwardTol)
	checkClose(t, "masks", download(c.eng, a.maskAll), mask, 0)
	checkClose(t, "regressed states", download(c.eng, a.obsAll.View(0, nRows*refObs)), obsAll, forwardTol)
	checkClose(t, "regressed actions", download(c.eng, a.actAll), actAll, forwardTol)

	loss := func(p hostParams) float64 { return c.nets.criticLoss(p, obsAll, actAll, tgt, mask) }
	if !tdk {
		loss = func(p hostParams) float64 {
			return c.nets.criticLoss(p, obsAll[:b*refObs], actAll[:b*refAct], tgt[:b], nil)
		}
	}
	qLoss, _, expansion := a.TakeMetrics()
	checkClose(t, "q_loss (TD-k, per critic)", []float64{qLoss}, []float64{loss(c.critic) / 2}, forwardTol)
	checkGrads(t, "critic", a.base.Critic().Params, c.critic, loss)
	var alive float64
	for _, m := range mask[b:] {
		alive += m
	}
	checkClose(t, "expansion", []float64{expansion}, []float64{alive / float64(b)}, forwardTol)
}

// TestSTEVEAgainstReference checks a STEVE update with H = 3 on TD3
// against the float64 reference: every candidate's mean and variance over
// the 2 hypotheses × 2 target critics, the normalised inverse-variance
// weights, the targets and the critics' loss.
func TestSTEVEAgainstReference(t *testing.T) {
	c := newRefCase(t, MethodSTEVE, 4)
	c.update()
	b, h, g := refBatch, refH, c.cfg.DDPG.Gamma
	k := c.model.Samples()
	r := k * b
	mu, vr, w := make([]float64, (h+1)*b), make([]float64, (h+1)*b), make([]float64, (h+1)*b)
	y := make([]float64, b)
	for i := range b {
		// samples[j] holds T^j's samples over hypotheses and critics.
		samples := make([][]float64, h+1)
		for s := range k {
			ro := c.rollout(i, s)
			prefix, cont := 0.0, 1.0
			for j := 0; j <= h; j++ {
				// The bootstrap at x_j, row j·r + s·b + i of one RandNormal.
				q := c.bootstrap(ro.x[j], refCounter, j*r+s*b+i)
				for _, ql := range q {
					v := prefix + math.Pow(g, float64(j))*cont*ql
					samples[j] = append(samples[j], c.rew[i]+g*(1-c.term[i])*v)
				}
				if j < h {
					prefix += math.Pow(g, float64(j)) * cont * ro.rew[j]
					cont *= 1 - ro.end[j]
				}
			}
		}
		var wsum float64
		for j, v := range samples {
			var m, s2 float64
			for _, x := range v {
				m += x / float64(len(v))
			}
			for _, x := range v {
				s2 += (x - m) * (x - m) / float64(len(v))
			}
			mu[j*b+i], vr[j*b+i] = m, s2
			w[j*b+i] = 1 / (s2 + c.cfg.STEVEEpsilon)
			wsum += w[j*b+i]
		}
		for j := range samples {
			w[j*b+i] /= wsum
			y[i] += w[j*b+i] * mu[j*b+i]
		}
	}
	a := c.agent
	checkClose(t, "candidate means", download(c.eng, a.mu), mu, forwardTol)
	// The variances are differences of nearby values, so their float32
	// error is relative to the values' scale, not theirs.
	checkClose(t, "candidate variances", download(c.eng, a.vr), vr, forwardTol*10)
	checkClose(t, "weights", download(c.eng, a.w), w, 1e-4)
	checkClose(t, "targets", download(c.eng, a.y), y, 1e-4)
	qLoss, _, expansion := a.TakeMetrics()
	checkClose(t, "q_loss", []float64{qLoss}, []float64{c.nets.criticLoss(c.critic, c.obs, c.act, y, nil) / 2}, 1e-4)
	var hs float64
	for i := range b {
		for j := 1; j <= h; j++ {
			hs += float64(j) * w[j*b+i] / float64(b)
		}
	}
	checkClose(t, "expansion", []float64{expansion}, []float64{hs}, 1e-4)
	if t.Failed() {
		return
	}
	// The weights must do something on this case: not all on one horizon.
	var spread int
	for i := range b {
		if c.term[i] == 0 && w[i] < 0.99 && w[i] > 0.01 {
			spread++
		}
	}
	if spread == 0 {
		t.Errorf("every weight of T⁰ is 0 or 1: the case does not exercise the combination")
	}
}

// TestHorizonZeroIsBase checks that MVE with H = 0 is its base learner
// exactly: a ddpg.Agent and an MVE agent on a ddpg.Agent of the same seed,
// fed the same minibatches and random streams, hold the same parameters
// bit for bit after 7 updates, for DDPG and for TD3 (whose smoothing noise
// and delayed actor exercise the random stream and the step counter).
// (STEVE with H = 0 is not its base learner: its one candidate averages
// the twin critics where TD3 takes their minimum.)
func TestHorizonZeroIsBase(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ddpg.Config
	}{{"DDPG", ddpg.Defaults()}, {"TD3", ddpg.TD3Defaults()}} {
		t.Run(tc.name, func(t *testing.T) {
			eng := cpu.New()
			cfg := Defaults()
			cfg.Horizon = 0
			cfg.DDPG = tc.cfg
			cfg.DDPG.Hidden = []int{8, 8}
			cfg.DDPG.BatchSize = 16
			want, err := ddpg.NewAgent(eng, cfg.DDPG, refObs, refAct, engine.NewRNG(9))
			if err != nil {
				t.Fatal(err)
			}
			base, err := ddpg.NewAgent(eng, cfg.DDPG, refObs, refAct, engine.NewRNG(9))
			if err != nil {
				t.Fatal(err)
			}
			space := env.Box([]float64{-1, -2}, []float64{3, 2})
			a, err := NewAgent(eng, cfg, base, nil, fakeEnv{obs: refObs}, space)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			buf := replay.New(eng, 64, refObs, refAct)
			for i := range 64 {
				term := float32(0)
				if i%7 == 3 {
					term = 1
				}
				buf.Add(replay.Transitions{
					Obs: f32(randoms(r, refObs, -1, 1)), Act: f32(randoms(r, refAct, -1, 1)),
					Reward: f32(randoms(r, 1, -1, 1)), NextObs: f32(randoms(r, refObs, -1, 1)), Terminated: []float32{term},
				})
			}
			bw, ba := replay.NewBatch(eng, 16, refObs, refAct), replay.NewBatch(eng, 16, refObs, refAct)
			rw, ra := engine.NewRNG(2), engine.NewRNG(2)
			for range 7 {
				buf.Sample(bw, rw)
				want.Update(bw, rw)
				buf.Sample(ba, ra)
				a.Update(ba, ra)
			}
			if *rw != *ra {
				t.Errorf("random streams at %v and %v after the updates", *rw, *ra)
			}
			for _, p := range []struct {
				name      string
				got, want *nn.Params
			}{
				{"actor", base.Policy().Params, want.Policy().Params},
				{"target actor", base.TargetPolicy().Params, want.TargetPolicy().Params},
				{"critic", base.Critic().Params, want.Critic().Params},
				{"target critic", base.TargetCritic().Params, want.TargetCritic().Params},
			} {
				g, w := download(eng, p.got.Data), download(eng, p.want.Data)
				for i := range g {
					if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
						t.Fatalf("%s element %d: %v with H = 0, %v for the base learner", p.name, i, g[i], w[i])
					}
				}
			}
			gq, ga, _ := a.TakeMetrics()
			wq, wa := want.TakeMetrics()
			if fmt.Sprint(gq, ga) != fmt.Sprint(wq, wa) {
				t.Errorf("metrics %v, %v with H = 0; %v, %v for the base learner", gq, ga, wq, wa)
			}
		})
	}
}
