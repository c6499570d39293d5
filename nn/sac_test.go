package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// policyRef is the float64 reference of Policy's Sample for fixed noise.
type policyRef struct {
	cfg PolicyConfig
	eps []float64 // [B, Act]
}

// sample returns a = tanh(μ + σ·ε) and the log-density of a computed
// directly: the Gaussian log-density of u plus the change of variables
// −Σ log(1 − tanh²u), written naively (fine for |u| ≲ 10 in float64).
func (r policyRef) sample(h hostParams, obs []float64, batch int) (a, logp []float64) {
	na := r.cfg.Act
	sizes := append(append([]int{r.cfg.Obs}, r.cfg.Hidden...), 2*na)
	out := refMLP(h, "", 1, sizes, r.cfg.Activation, obs, 1, batch)
	lo, hi := float64(r.cfg.LogStdMin), float64(r.cfg.LogStdMax)
	a = make([]float64, batch*na)
	logp = make([]float64, batch)
	for b := 0; b < batch; b++ {
		for i := 0; i < na; i++ {
			mu := out[b*2*na+i]
			ls := lo + (hi-lo)*(math.Tanh(out[b*2*na+na+i])+1)/2
			sigma := math.Exp(ls)
			u := mu + sigma*r.eps[b*na+i]
			a[b*na+i] = math.Tanh(u)
			logp[b] += -(u-mu)*(u-mu)/(2*sigma*sigma) - math.Log(sigma) - 0.5*math.Log(2*math.Pi) -
				math.Log(1-math.Tanh(u)*math.Tanh(u))
		}
	}
	return a, logp
}

// TestPolicy checks the policy's actions and log-probabilities against a
// direct float64 density computation with the same Philox noise, the
// deterministic mode, and the gradients of L = Σ ca⊙a + Σ cl⊙logp with
// respect to every parameter against central differences, for two action
// elements and for one (where the log-probability and its gradient skip
// the sum and the broadcast over elements). The gradients are taken with
// OverwriteGrad into gradients that hold NaN, which must not survive.
func TestPolicy(t *testing.T) {
	const batch, no = 4, 3
	for _, tc := range []struct {
		name        string
		na          int
		dAct, dLogp bool
	}{
		{"both", 2, true, true}, {"action", 2, true, false}, {"logp", 2, false, true},
		{"both/act=1", 1, true, true}, {"logp/act=1", 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			na := tc.na
			eng := newEngine(t)
			rng := rand.New(rand.NewPCG(6, 0))
			// Tanh hidden units: the reference is smooth, so central
			// differences hold everywhere (ReLU has kinks).
			pol, err := NewPolicy(eng, PolicyConfig{Obs: no, Act: na, Hidden: []int{5}, Activation: engine.Tanh})
			if err != nil {
				t.Fatal(err)
			}
			hp := randomize(pol.Params, rng, 0.8)
			obs, hobs := upload(eng, rng, 1, batch, no)
			ca, hca := upload(eng, rng, 1, batch, na)
			cl, hcl := upload(eng, rng, 1, batch, 1)

			noise := engine.NewRNG(99)
			noise.Counter = 12
			ref := policyRef{cfg: pol.Config, eps: make([]float64, batch*na)}
			for i := range ref.eps {
				ref.eps[i] = float64(engine.NormalAt(99, 12, i, 0, 1))
			}
			a, logp := pol.Sample(obs, noise)
			if want := uint64(12 + (batch*na+3)/4); noise.Counter != want {
				t.Errorf("noise counter %d after Sample, want %d", noise.Counter, want)
			}
			wantA, wantLogp := ref.sample(hp, hobs, batch)
			checkClose(t, "action", download(eng, a), wantA, forwardTol)
			checkClose(t, "log-probability", download(eng, logp), wantLogp, forwardTol)

			var dAct, dLogp *engine.Tensor
			loss := func(h hostParams) float64 {
				a, lp := ref.sample(h, hobs, batch)
				var l float64
				if tc.dAct {
					l += dot(hca, a)
				}
				if tc.dLogp {
					l += dot(hcl, lp)
				}
				return l
			}
			if tc.dAct {
				dAct = ca
			}
			if tc.dLogp {
				dLogp = cl
			}
			eng.Fill(pol.Params.Grad, float32(math.NaN()))
			pol.Backward(dAct, dLogp, ParamGrad|OverwriteGrad)
			checkParamGrads(t, pol.Params, hp, loss)

			// Without OverwriteGrad the gradients add up.
			g1 := f64(pol.Params.Gradient("layers.0.weight"))
			pol.Backward(dAct, dLogp, ParamGrad)
			g2 := f64(pol.Params.Gradient("layers.0.weight"))
			for i := range g1 {
				g1[i] *= 2
			}
			checkClose(t, "accumulated gradient", g2, g1, 1e-6)

			// The deterministic mode is tanh(μ).
			sizes := []int{no, 5, 2 * na}
			out := refMLP(hp, "", 1, sizes, engine.Tanh, hobs, 1, batch)
			want := make([]float64, batch*na)
			for b := 0; b < batch; b++ {
				for i := 0; i < na; i++ {
					want[b*na+i] = math.Tanh(out[b*2*na+i])
				}
			}
			checkClose(t, "mode", download(eng, pol.Mode(obs)), want, forwardTol)
		})
	}
}

// TestPolicyBackwardMode checks that Policy.Backward panics for a mode
// without ParamGrad or with InputGrad: it has no input gradient to give.
func TestPolicyBackwardMode(t *testing.T) {
	eng := newEngine(t)
	pol, err := NewPolicy(eng, PolicyConfig{Obs: 2, Act: 1, Hidden: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	obs := eng.New(engine.Float32, 2, 2)
	dAct := eng.New(engine.Float32, 2, 1)
	pol.Sample(obs, engine.NewRNG(1))
	for _, mode := range []GradMode{0, InputGrad, ParamGrad | InputGrad, OverwriteGrad} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Backward with mode %#b did not panic", mode)
				} else if !strings.Contains(fmt.Sprint(r), "want ParamGrad") {
					t.Errorf("Backward with mode %#b: panic %q does not say what is allowed", mode, r)
				}
			}()
			pol.Backward(dAct, nil, mode)
		}()
	}
}

// TestPolicySaturated checks that the log-probability stays finite and
// accurate where the naive log(1 − tanh²u) underflows: at u ≈ 30,
// 1 − tanh²u rounds to 0 even in float64, while the stable form gives
// log(1 − tanh²u) = 2(log 2 − u − softplus(−2u)) ≈ 2 log 2 − 2u.
func TestPolicySaturated(t *testing.T) {
	eng := newEngine(t)
	pol, err := NewPolicy(eng, PolicyConfig{Obs: 1, Act: 1, Hidden: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	// Zero weights: μ = 30 and r = −∞ from the biases alone, so
	// log σ = LogStdMin = −5.
	pol.Params.Set("layers.1.bias", []float32{30, -50})
	obs := eng.New(engine.Float32, 1, 1)
	rng := engine.NewRNG(1)
	eps := float64(engine.NormalAt(1, 0, 0, 0, 1))
	_, logp := pol.Sample(obs, rng)
	u := 30 + math.Exp(-5)*eps
	want := -eps*eps/2 + 5 - 0.5*math.Log(2*math.Pi) - 2*(math.Ln2-u-softplus64(-2*u))
	got := download(eng, logp)[0]
	if math.IsInf(got, 0) || math.IsNaN(got) || math.Abs(got-want) > 1e-5*math.Abs(want) {
		t.Errorf("log-probability at u = %.4g: %v, want %.7g", u, got, want)
	}
}

// TestCritic checks the twin Q network (one E = 2 ensemble MLP over
// [obs, act]) against the float64 reference, its parameter and action
// gradients against central differences, and the target copy and Polyak
// update.
func TestCritic(t *testing.T) {
	const batch, no, na = 3, 3, 2
	eng := newEngine(t)
	rng := rand.New(rand.NewPCG(7, 0))
	c, err := NewCritic(eng, CriticConfig{Obs: no, Act: na, Hidden: []int{4}, Activation: engine.Tanh})
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Members != 2 {
		t.Fatalf("default members %d, want 2", c.Config.Members)
	}
	hp := randomize(c.Params, rng, 0.8)
	obs, hobs := upload(eng, rng, 1, batch, no)
	act, hact := upload(eng, rng, 1, batch, na)
	dq, hdq := upload(eng, rng, 1, 2, batch, 1)
	sizes := []int{no + na, 4, 1}
	ref := func(h hostParams, hact []float64) []float64 {
		x := make([]float64, 0, batch*(no+na))
		for b := 0; b < batch; b++ {
			x = append(append(x, hobs[b*no:(b+1)*no]...), hact[b*na:(b+1)*na]...)
		}
		return refMLP(h, "", 2, sizes, engine.Tanh, x, 1, batch)
	}
	checkClose(t, "Q", download(eng, c.Forward(obs, act)), ref(hp, hact), forwardTol)
	checkClose(t, "Q (Infer)", download(eng, c.Infer(obs, act)), ref(hp, hact), forwardTol)

	c.Params.ZeroGrad()
	dAct := c.Backward(dq, ParamGrad|InputGrad)
	checkParamGrads(t, c.Params, hp, func(h hostParams) float64 { return dot(hdq, ref(h, hact)) })
	wantDAct := fdGradient(func(v []float64) float64 { return dot(hdq, ref(hp, v)) }, hact)
	checkClose(t, "action gradient", download(eng, dAct), wantDAct, gradTol)

	// The target starts as a copy and moves by Polyak averaging.
	tgt := c.Target()
	for _, n := range c.Params.Names() {
		checkClose(t, "target "+n, f64(tgt.Params.Value(n)), hp[n], 0)
	}
	hp2 := randomize(c.Params, rng, 0.8)
	const tau = 0.25
	c.UpdateTarget(tgt, tau)
	for _, n := range c.Params.Names() {
		want := make([]float64, len(hp[n]))
		for i := range want {
			want[i] = (1-tau)*hp[n][i] + tau*hp2[n][i]
		}
		checkClose(t, "Polyak "+n, f64(tgt.Params.Value(n)), want, 1e-6)
	}
}

// TestSteadyStateAllocations checks that after a first call at each batch
// size, training and inference steps allocate no device memory.
func TestSteadyStateAllocations(t *testing.T) {
	ce := &countingEngine{Engine: newEngine(t)}
	rng := rand.New(rand.NewPCG(8, 0))
	noise := engine.NewRNG(3)

	model, err := NewEnsemble(ce, EnsembleConfig{In: 3, Out: 2, Members: 3, Hidden: []int{4, 4}, WeightDecay: []float32{1e-4, 1e-4, 1e-4}})
	if err != nil {
		t.Fatal(err)
	}
	model.Init(noise)
	mopt := NewAdam(model.Params, engine.AdamConfig{})
	pol, err := NewPolicy(ce, PolicyConfig{Obs: 3, Act: 2, Hidden: []int{4}})
	if err != nil {
		t.Fatal(err)
	}
	pol.Init(FanInUniform, noise)
	popt := NewAdam(pol.Params, engine.AdamConfig{LR: 3e-4})
	critic, err := NewCritic(ce, CriticConfig{Obs: 3, Act: 2, Hidden: []int{4}})
	if err != nil {
		t.Fatal(err)
	}
	critic.Init(FanInUniform, noise)
	target := critic.Target()
	copt := NewAdam(critic.Params, engine.AdamConfig{LR: 3e-4})

	xs, _ := upload(ce, rng, 1, 3, 8, 3)
	ys, _ := upload(ce, rng, 1, 3, 8, 2)
	xr, _ := upload(ce, rng, 1, 16, 3)
	obs, _ := upload(ce, rng, 1, 8, 3)
	dq, _ := upload(ce, rng, 1, 2, 8, 1)
	dl, _ := upload(ce, rng, 1, 8, 1)
	loss := ce.New(engine.Float32, 1)
	dpred := ce.New(engine.Float32, 2, 8, 1)
	step := func() {
		model.Params.ZeroGrad()
		model.Forward(xs)
		model.Loss(ys)
		model.Backward()
		mopt.Update()
		model.Predict(xr)

		a, _ := pol.Sample(obs, noise)
		target.Infer(obs, a)
		q := critic.Forward(obs, a)
		MSE(ce, loss, dpred, q, dq)
		critic.Params.ZeroGrad()
		critic.Backward(dpred, ParamGrad)
		copt.Update()
		critic.Forward(obs, a)
		da := critic.Backward(dq, InputGrad)
		pol.Params.ZeroGrad()
		pol.Backward(da, dl, ParamGrad)
		popt.Update()
		pol.Mode(obs)
		critic.UpdateTarget(target, 0.005)
	}
	step()
	before := ce.news
	step()
	step()
	if n := ce.news - before; n != 0 {
		t.Errorf("steady-state steps allocated %d tensors", n)
	}
}

// TestConfigErrors checks that bad policy and critic configs are errors.
func TestConfigErrors(t *testing.T) {
	eng := newEngine(t)
	for i, cfg := range []PolicyConfig{{Obs: 0, Act: 1}, {Obs: 1, Act: 1, LogStdMin: 2, LogStdMax: -5}, {Obs: 1, Act: 1, Hidden: []int{0}}} {
		if _, err := NewPolicy(eng, cfg); err == nil {
			t.Errorf("policy config %d %+v: no error", i, cfg)
		}
	}
	for i, cfg := range []CriticConfig{{Obs: 1, Act: 0}, {Obs: 1, Act: 1, Members: -1}} {
		if _, err := NewCritic(eng, cfg); err == nil {
			t.Errorf("critic config %d %+v: no error", i, cfg)
		}
	}
}
