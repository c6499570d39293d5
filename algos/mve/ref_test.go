package mve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// The float64 references of the tests: networks, a linear fake model and
// a fake environment model, and value expansion's targets computed from
// them.

// Tolerances of the float32 engine against the float64 reference: forward
// values agree to a few float32 roundings per layer and step; gradients are
// compared with central differences of the float64 reference, whose own
// error at step fdStep is far below gradTol.
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

// nets is the float64 reference of the base learner's networks.
type nets struct {
	obs, act, critics int
	hidden            []int
}

// policy returns tanh(f(x)) for n observations x.
func (r nets) policy(p hostParams, x []float64, n int) []float64 {
	y := mlp(p, 1, append(append([]int{r.obs}, r.hidden...), r.act), x, n)
	for i := range y {
		y[i] = math.Tanh(y[i])
	}
	return y
}

// q returns Q_e(s, a) for every critic, [critics, n].
func (r nets) q(c hostParams, obs, act []float64, n int) []float64 {
	x := make([]float64, 0, n*(r.obs+r.act))
	for b := range n {
		x = append(append(x, obs[b*r.obs:(b+1)*r.obs]...), act[b*r.act:(b+1)*r.act]...)
	}
	return mlp(c, r.critics, append(append([]int{r.obs + r.act}, r.hidden...), 1), x, n)
}

// criticLoss is Σ_e (1/n) Σ_b w_b (Q_e(s_b, a_b) − y_b)², w = 1 when nil.
func (r nets) criticLoss(c hostParams, obs, act, y, w []float64) float64 {
	n := len(y)
	q := r.q(c, obs, act, n)
	var l float64
	for m := range r.critics {
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

// linearModel is a fake Model: hypothesis k's next observation is
// obs + act·W + table[k], with W [Act, Obs] and table [K, Obs].
type linearModel struct {
	eng      engine.Engine
	obs, act int
	w, table []float64
	wT, tabT *engine.Tensor
}

func newLinearModel(eng engine.Engine, obs, act int, w, table []float64) *linearModel {
	m := &linearModel{eng: eng, obs: obs, act: act, w: w, table: table}
	m.wT = upload(eng, w, act, obs)
	m.tabT = upload(eng, table, len(table)/obs, obs)
	return m
}

func (m *linearModel) Samples() int { return len(m.table) / m.obs }

func (m *linearModel) Next(next, obs, act, pick *engine.Tensor) {
	m.eng.Gather(next, m.tabT, pick)
	m.eng.Gemm(false, false, 1, act, m.wT, 1, next)
	m.eng.Binary(engine.Add, next, next, obs)
}

// next is the float64 reference of Next for one row.
func (m *linearModel) next(obs, act []float64, k int) []float64 {
	y := make([]float64, m.obs)
	for j := range y {
		y[j] = obs[j] + m.table[k*m.obs+j]
		for i := range m.act {
			y[j] += act[i] * m.w[i*m.obs+j]
		}
	}
	return y
}

// fakeEnv is a fake env.Model: reward obs[0] + ra·act[0] + rn·next[last]
// (act in the environment's units) and a box termination.
type fakeEnv struct {
	obs    int
	ra, rn float64
	term   env.Termination
}

func (f fakeEnv) Termination() env.Termination { return f.term }
func (f fakeEnv) TerminatedBatch(next []float64, n int, out []bool) {
	f.term.Eval(next, f.obs, n, out)
}
func (f fakeEnv) RewardBatch(obs, act, next []float64, n int, out []float64) {
	a := len(act) / n
	for i := range n {
		out[i] = obs[i*f.obs] + f.ra*act[i*a] + f.rn*next[(i+1)*f.obs-1]
	}
}

// reward is RewardBatch for one transition.
func (f fakeEnv) reward(obs, act, next []float64) float64 {
	out := []float64{0}
	f.RewardBatch(obs, act, next, 1, out)
	return out[0]
}

// terminal is Termination.Eval for one next observation.
func (f fakeEnv) terminal(next []float64) float64 {
	out := []bool{false}
	f.term.Eval(next, f.obs, 1, out)
	if out[0] {
		return 1
	}
	return 0
}

// rollout is the float64 reference of one imagined rollout: states
// x_0 … x_H, actions u_0 … u_{H−1} (policy units), rewards and terminal
// flags of the H steps.
type rollout struct {
	x, u     [][]float64
	rew, end []float64
}

// imagine rolls hypothesis k out h steps from x0 with the target actor
// tActor; the reward sees actions rescaled by the Box [low, high].
func imagine(r nets, tActor hostParams, m *linearModel, f fakeEnv, low, high []float64, x0 []float64, k, h int) rollout {
	ro := rollout{x: [][]float64{roundAll(x0)}}
	for t := range h {
		x := ro.x[t]
		u := roundAll(r.policy(tActor, x, 1))
		next := roundAll(m.next(x, u, k))
		env := make([]float64, len(u))
		for i := range u {
			env[i] = low[i] + (u[i]+1)*(high[i]-low[i])/2
		}
		ro.u = append(ro.u, u)
		ro.x = append(ro.x, next)
		ro.rew = append(ro.rew, float64(float32(f.reward(x, env, next))))
		ro.end = append(ro.end, f.terminal(next))
	}
	return ro
}

// roundAll rounds every value to float32, as the engine holds them, so
// that the reference's termination decisions see the device's states.
func roundAll(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(float32(v))
	}
	return y
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

// randoms returns n values uniform in [lo, hi), rounded to float32.
func randoms(r *rand.Rand, n int, lo, hi float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(float32(lo + (hi-lo)*r.Float64()))
	}
	return x
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
