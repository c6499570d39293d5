package mbpo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// Tests of the general Dyna recipe's action sources (Config.RolloutActions,
// RolloutSpec.Actions): the default's output is unchanged, the buffer's
// first actions are the stored ones, the random ones are uniform, and
// neither adds a host round trip inside a rollout.

// rolloutWith returns a Rollout of the fixture's networks with the action
// source src and rescaling bounds low and high (nil for none).
func (f *rolloutFixture) rolloutWith(t *testing.T, src ActionSource, term env.Termination, maxBatch int, low, high []float64) *Rollout {
	t.Helper()
	r := NewRollout(f.eng, f.model, f.policy, RolloutSpec{
		Obs: f.obs, Act: f.act, Termination: term, MaxBatch: maxBatch,
		ActLow: low, ActHigh: high, Actions: src,
	})
	t.Cleanup(r.Free)
	return r
}

// startActions returns b actions uniform in [−0.9, 0.9), distinct from
// anything a rollout computes, as if stored with the start states.
func (f *rolloutFixture) startActions(t *testing.T, b int, seed uint64) *engine.Tensor {
	t.Helper()
	a := f.eng.New(engine.Float32, b, f.act)
	f.eng.RandUniform(a, engine.NewRNG(seed), -0.9, 0.9)
	t.Cleanup(func() { f.eng.Free(a) })
	return a
}

func download(eng engine.Engine, t *engine.Tensor) []float32 {
	v := make([]float32, t.Len())
	eng.Download(v, t)
	return v
}

func hashFloat32s(h hash.Hash, vs ...[]float32) {
	var b [4]byte
	for _, v := range vs {
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			h.Write(b[:])
		}
	}
}

// The golden digests of TestDefaultRolloutsUnchanged, computed on
// linux/amd64 with the default (gonum) build of the CPU engine from the
// code before the action sources were added (commit 04449ee).
const (
	goldenRolloutAdded   = 1312
	goldenRolloutCounter = 2955
	goldenRolloutSHA256  = "3382de5cf45eaf7a99dbb58ae7ec04318508bbcfc0e6f2957971e99e67e509a7"
	goldenTrainSHA256    = "323f41967a4bf669899ed4213e951847511bcfaaf6e579b08dd8f26d1599d341"
)

// TestDefaultRolloutsUnchanged checks that the default action source
// leaves MBPO as it was, bit for bit: two rollouts with terminations
// (their transitions and where the stream ends), and a short Train run (its
// rows but for the time columns), against SHA-256 digests recorded before
// the sources were added. The digests hold for one platform and build
// (floating-point sums in another BLAS or with fused multiply-adds round
// differently), so elsewhere the test only logs them.
func TestDefaultRolloutsUnchanged(t *testing.T) {
	exact := runtime.GOARCH == "amd64"
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 50)
	const b, horizon = 300, 4
	for _, src := range []ActionSource{"", ActionsFromPolicy} {
		r := f.rolloutWith(t, src, cartPoleLike, b, nil, nil)
		starts := f.starts(t, b, 51)
		into := f.buffer(t, 2*b*horizon)
		rng := engine.NewRNG(52)
		n := r.Run(starts, horizon, []int{0, 2, 5}, rng, into)
		n += r.Run(starts, horizon, []int{6, 1}, rng, into)
		d := downloadRollout(eng, into, n)
		h := sha256.New()
		hashFloat32s(h, d.obs, d.act, d.reward, d.next, d.term)
		sum := fmt.Sprintf("%x", h.Sum(nil))
		t.Logf("source %q: added %d, counter %d, sha256 %s", src, n, rng.Counter, sum)
		if exact && (n != goldenRolloutAdded || rng.Counter != goldenRolloutCounter || sum != goldenRolloutSHA256) {
			t.Errorf("source %q: added %d, counter %d, sha256 %s; want %d, %d, %s",
				src, n, rng.Counter, sum, goldenRolloutAdded, goldenRolloutCounter, goldenRolloutSHA256)
		}
	}

	rows := &algos.Rows{}
	run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 120, Seed: 3, EvalEvery: 60, EvalEpisodes: 2}
	if err := Train(context.Background(), cpu.New(), run, tiny(), rows); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var b8 [8]byte
	for _, row := range rows.Rows {
		for j, name := range Columns {
			if !slices.Contains(TimeColumns, name) {
				binary.LittleEndian.PutUint64(b8[:], math.Float64bits(row.Values[j]))
				h.Write(b8[:])
			}
		}
	}
	sum := fmt.Sprintf("%x", h.Sum(nil))
	t.Logf("Train: %d rows, sha256 %s", len(rows.Rows), sum)
	if exact && sum != goldenTrainSHA256 {
		t.Errorf("Train rows' sha256 %s, want %s", sum, goldenTrainSHA256)
	}
}

// TestRolloutActionsFromBuffer checks that with ActionsFromBuffer the
// first imagined transition of each row stores exactly its start state and
// the action given with it, and that the next step samples the policy
// with noise drawn where the documented order puts it: after the first
// step's picks and model noise, with no policy noise before them.
func TestRolloutActionsFromBuffer(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 60)
	const b, horizon, seed = 128, 2, 61
	r := f.rolloutWith(t, ActionsFromBuffer, env.Termination{}, b, nil, nil)
	starts, acts := f.starts(t, b, 62), f.startActions(t, b, 63)
	into := f.buffer(t, b*horizon)
	rng := engine.NewRNG(seed)
	added := r.RunWithActions(starts, acts, horizon, []int{1, 4}, rng, into)
	if added != b*horizon {
		t.Fatalf("added %d transitions, want %d (no row terminates)", added, b*horizon)
	}
	got := downloadRollout(eng, into, added)
	o, a, d := f.obs, f.act, f.obs+1
	if want := download(eng, starts); !slices.Equal(got.obs[:b*o], want) {
		t.Error("the first step's states are not the start states")
	}
	if want := download(eng, acts); !slices.Equal(got.act[:b*a], want) {
		t.Error("the first step's actions are not exactly the start states' stored actions")
	}

	// Step 1: the policy's sample on the step's states from the counter
	// past step 0's picks and model noise.
	obs1 := eng.New(engine.Float32, b, o)
	defer eng.Free(obs1)
	eng.Upload(obs1, got.obs[b*o:2*b*o])
	c := uint64(engine.Counters(b) + engine.Counters(b*d))
	want, _ := f.policy.Sample(obs1, &engine.RNG{Seed: seed, Counter: c})
	wantAct := download(eng, want)
	for i, w := range wantAct {
		if g := got.act[b*a+i]; math.Abs(float64(g-w)) > 1e-6 {
			t.Fatalf("step 1 action %d = %g, Policy.Sample from counter %d gives %g", i, g, c, w)
		}
	}
	if wantEnd := c + uint64(engine.Counters(b*a)+engine.Counters(b)+engine.Counters(b*d)); rng.Counter != wantEnd {
		t.Errorf("the stream ended at counter %d, want %d", rng.Counter, wantEnd)
	}
}

// TestStartsPairStatesWithTheirActions runs Train's draw of start rows from
// a real buffer whose rows are all different, with ActionsFromBuffer and
// rollouts of length 1 (the lecture's recipe re-simulating real
// transitions): every imagined transition must hold a real row's state
// together with that same row's action.
func TestStartsPairStatesWithTheirActions(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 64)
	const rows, b = 50, 200
	real := f.buffer(t, rows)
	var tr replay.Transitions
	for i := range rows {
		obs := make([]float64, f.obs)
		for j := range obs {
			obs[j] = float64(i) + float64(j)/10
		}
		act := []float32{float32(i) / 64, -float32(i) / 128}
		tr.Set(obs, act, 0, obs, false)
		real.Add(tr)
	}
	r := f.rolloutWith(t, ActionsFromBuffer, env.Termination{}, b, nil, nil)
	s := newStarts(eng, b, f.obs, f.act, true)
	defer s.free(eng)
	into := f.buffer(t, b)
	if added := s.rollout(eng, r, real, 1, []int{0, 3}, engine.NewRNG(65), into); added != b {
		t.Fatalf("added %d transitions, want %d", added, b)
	}
	got := downloadRollout(eng, into, b)
	seen := map[int]bool{}
	for i := range b {
		row := int(got.obs[i*f.obs])
		want := []float32{float32(row) / 64, -float32(row) / 128}
		if a := got.act[i*f.act : (i+1)*f.act]; !slices.Equal(a, want) {
			t.Fatalf("transition %d starts from real row %d but took action %v, want its stored %v", i, row, a, want)
		}
		seen[row] = true
	}
	if len(seen) < rows/2 {
		t.Errorf("%d start rows drew only %d of %d real rows", b, len(seen), rows)
	}
}

// TestRolloutActionsRandom checks ActionsRandom's actions: exactly the
// documented draws (one RandUniform of H·B·Act values on [−1+2⁻²⁴, 1)
// before the steps), inside (−1, 1), unlike the policy's, with the mean
// 0 and variance 1/3 of a uniform on (−1, 1); rescaled to bounds, the same
// draws mapped onto them. Over n = 2·3000·2 = 12,000 values the mean has a
// standard error of √(1/3/n) = 0.0053 and the variance one of
// √(4/45/n) = 0.0027; the bounds are about five of them.
func TestRolloutActionsRandom(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 66)
	const b, horizon, seed = 3000, 2, 67
	a, d := f.act, f.obs+1
	starts := f.starts(t, b, 68)
	elites := []int{2, 5}
	lo := math.Nextafter32(-1, 0)

	r := f.rolloutWith(t, ActionsRandom, env.Termination{}, b, nil, nil)
	into := f.buffer(t, b*horizon)
	rng := engine.NewRNG(seed)
	added := r.Run(starts, horizon, elites, rng, into)
	if added != b*horizon {
		t.Fatalf("added %d transitions, want %d (no row terminates)", added, b*horizon)
	}
	got := downloadRollout(eng, into, added).act
	var sum, sumSq float64
	for i, x := range got {
		if w := engine.UniformAt(seed, 0, i, lo, 1); x != w {
			t.Fatalf("action %d = %g, want the uniform draw %g", i, x, w)
		}
		if !(x > -1 && x < 1) {
			t.Fatalf("action %d = %g, outside (−1, 1)", i, x)
		}
		sum += float64(x)
		sumSq += float64(x) * float64(x)
	}
	n := float64(len(got))
	mean := sum / n
	variance := sumSq/n - mean*mean
	t.Logf("random actions: mean %.4f, variance %.4f (uniform on (−1, 1): 0, 0.3333)", mean, variance)
	if math.Abs(mean) > 0.027 {
		t.Errorf("mean %.4f, want 0 ± 0.027", mean)
	}
	if math.Abs(variance-1.0/3) > 0.014 {
		t.Errorf("variance %.4f, want 1/3 ± 0.014", variance)
	}
	drawn := engine.Counters(horizon * b * a)
	for range horizon {
		drawn += engine.Counters(b) + engine.Counters(b*d)
	}
	if rng.Counter != uint64(drawn) {
		t.Errorf("the stream ended at counter %d, want %d (the uniform fill, then picks and model noise only)", rng.Counter, drawn)
	}

	// The policy's actions from the same seed and states are another thing.
	pr := f.rolloutWith(t, ActionsFromPolicy, env.Termination{}, b, nil, nil)
	pinto := f.buffer(t, b*horizon)
	pr.Run(starts, horizon, elites, engine.NewRNG(seed), pinto)
	pol := downloadRollout(eng, pinto, b).act
	same := 0
	for i := range pol {
		if pol[i] == got[i] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of %d first-step actions equal the policy's", same, len(pol))
	}

	// Rescaled onto bounds as the policy's actions are.
	low, high := []float64{-2, 0}, []float64{2, 0.5}
	rr := f.rolloutWith(t, ActionsRandom, env.Termination{}, b, low, high)
	rinto := f.buffer(t, b*horizon)
	rr.Run(starts, horizon, elites, engine.NewRNG(seed), rinto)
	scaled := downloadRollout(eng, rinto, added).act
	for i, x := range scaled {
		l, h := low[i%a], high[i%a]
		w := (h+l)/2 + (h-l)/2*float64(got[i])
		if math.Abs(float64(x)-w) > 1e-6 || !(float64(x) > l && float64(x) < h) {
			t.Fatalf("rescaled action %d = %g, want %g in (%g, %g)", i, x, w, l, h)
		}
	}
}

// TestRecipeTransfersOnlyAtTheEnds runs rollouts with terminations from
// each action source through the log of host transfers and fused ops, on
// every engine compiled in (with -tags cudaemu, the emulated CUDA engine):
// as with the policy's actions, one upload before the first step and one
// download after the last, and steps that skip the policy's ops where the
// actions were put in place before them.
func TestRecipeTransfersOnlyAtTheEnds(t *testing.T) {
	full := []string{"Linear", "Linear", "SampleAction", "PickMembers", "EnsembleRowForward", "SampleTransition", "TerminateCompact"}
	model := full[3:]
	for _, eng := range compiledEngines(t) {
		for _, src := range []ActionSource{ActionsFromBuffer, ActionsRandom} {
			t.Run(eng.Name()+"/"+string(src), func(t *testing.T) {
				log := &transferLog{Engine: eng}
				f := newRolloutFixture(t, fusedLog{log}, 69)
				const b, horizon = 300, 5
				r := f.rolloutWith(t, src, cartPoleLike, b, nil, nil)
				starts := f.starts(t, b, 70)
				acts := f.startActions(t, b, 71)
				into := f.buffer(t, b*horizon)
				log.events = nil
				var added int
				if src == ActionsFromBuffer {
					added = r.RunWithActions(starts, acts, horizon, []int{0, 2, 4}, engine.NewRNG(72), into)
				} else {
					added = r.Run(starts, horizon, []int{0, 2, 4}, engine.NewRNG(72), into)
				}
				want := []string{"upload"}
				for s := range horizon {
					if src == ActionsFromBuffer && s > 0 {
						want = append(want, full...)
					} else {
						want = append(want, model...)
					}
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
}

// TestRecipeAgreesAcrossEngines runs rollouts from the buffer's and from
// random actions on every other engine compiled into the test and on the
// CPU engine: the same draws, so the same transitions within float32
// rounding (the tolerance of TestRolloutAgreesAcrossEngines). No row
// terminates.
func TestRecipeAgreesAcrossEngines(t *testing.T) {
	engines := compiledEngines(t)
	if len(engines) == 1 {
		t.Skip("no engine but cpu compiled in (build with -tags cudaemu to compare the CUDA engine's emulator)")
	}
	const b, horizon = 200, 3
	for _, src := range []ActionSource{ActionsFromBuffer, ActionsRandom} {
		run := func(eng engine.Engine) rolloutData {
			f := newRolloutFixture(t, eng, 73)
			r := f.rolloutWith(t, src, env.Termination{}, b, []float64{-2, 0}, []float64{2, 0.5})
			into := f.buffer(t, b*horizon)
			starts, rng := f.starts(t, b, 74), engine.NewRNG(75)
			if src == ActionsFromBuffer {
				r.RunWithActions(starts, f.startActions(t, b, 76), horizon, []int{2, 0, 5}, rng, into)
			} else {
				r.Run(starts, horizon, []int{2, 0, 5}, rng, into)
			}
			return downloadRollout(eng, into, b*horizon)
		}
		want := run(engines[0])
		for _, eng := range engines[1:] {
			t.Run(eng.Name()+"/"+string(src), func(t *testing.T) {
				got := run(eng)
				for _, c := range []struct {
					name    string
					got, ws []float32
				}{{"act", got.act, want.act}, {"reward", got.reward, want.reward}, {"next", got.next, want.next}} {
					for i := range c.ws {
						if d := math.Abs(float64(c.got[i] - c.ws[i])); !(d <= 1e-4*(1+math.Abs(float64(c.ws[i])))) {
							t.Errorf("%s[%d]: %s %g, cpu %g", c.name, i, eng.Name(), c.got[i], c.ws[i])
							break
						}
					}
				}
			})
		}
	}
}

// TestRolloutActionSourcePanics checks that a Run that cannot give the
// source its actions panics: Run with the buffer's source, RunWithActions
// with another, or actions of the wrong shape.
func TestRolloutActionSourcePanics(t *testing.T) {
	eng := cpu.New()
	f := newRolloutFixture(t, eng, 77)
	const b = 8
	starts, acts := f.starts(t, b, 78), f.startActions(t, b, 79)
	into := f.buffer(t, b)
	fromBuffer := f.rolloutWith(t, ActionsFromBuffer, env.Termination{}, b, nil, nil)
	fromPolicy := f.rolloutWith(t, ActionsFromPolicy, env.Termination{}, b, nil, nil)
	short := eng.New(engine.Float32, b-1, f.act)
	defer eng.Free(short)
	for _, c := range []struct {
		name string
		run  func()
	}{
		{"Run from the buffer", func() { fromBuffer.Run(starts, 1, []int{0}, engine.NewRNG(1), into) }},
		{"RunWithActions from the policy", func() { fromPolicy.RunWithActions(starts, acts, 1, []int{0}, engine.NewRNG(1), into) }},
		{"nil actions", func() { fromBuffer.RunWithActions(starts, nil, 1, []int{0}, engine.NewRNG(1), into) }},
		{"short actions", func() { fromBuffer.RunWithActions(starts, short, 1, []int{0}, engine.NewRNG(1), into) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			c.run()
		})
	}
}

// TestValidateRolloutActions checks that Validate takes the three sources
// and the empty string (the default) and rejects anything else with one
// line naming the key, the value and the allowed values.
func TestValidateRolloutActions(t *testing.T) {
	for _, v := range []ActionSource{"", ActionsFromPolicy, ActionsFromBuffer, ActionsRandom} {
		c := Defaults()
		c.RolloutActions = v
		if err := c.Validate(); err != nil {
			t.Errorf("rollout_actions %q: %v", v, err)
		}
	}
	for _, v := range []ActionSource{"Policy", "model", "uniform", " random"} {
		c := Defaults()
		c.RolloutActions = v
		err := c.Validate()
		if err == nil {
			t.Errorf("rollout_actions %q: no error", v)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "rollout_actions") || !strings.Contains(msg, fmt.Sprintf("%q", string(v))) {
			t.Errorf("rollout_actions %q: error %q does not name the key and the value on one line", v, msg)
		}
		for _, allowed := range ActionSources {
			if !strings.Contains(msg, string(allowed)) {
				t.Errorf("rollout_actions %q: error %q does not list %q", v, msg, allowed)
			}
		}
	}
	if got := Defaults().RolloutActions; got != ActionsFromPolicy {
		t.Errorf("default rollout_actions %q, want %q", got, ActionsFromPolicy)
	}
}

// TestTrainWithActionSources runs the whole loop briefly with each source
// that is not the default: it trains (finite losses, a filled model
// buffer), and the source changes the run, so that the setting reaches the
// rollouts.
func TestTrainWithActionSources(t *testing.T) {
	train := func(src ActionSource) *algos.Rows {
		c := tiny()
		c.RolloutActions = src
		r := &algos.Rows{}
		run := algos.RunConfig{Env: "ContinuousCartPole-v0", Steps: 120, Seed: 5, EvalEvery: 60, EvalEpisodes: 1}
		if err := Train(context.Background(), cpu.New(), run, c, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := train(ActionsFromPolicy).Rows[1]
	for _, src := range []ActionSource{ActionsFromBuffer, ActionsRandom} {
		t.Run(string(src), func(t *testing.T) {
			last := train(src).Rows[1]
			for _, name := range []string{"eval_return", "q_loss", "actor_loss", "alpha", "model_holdout_mse"} {
				if v := last.Get(name); math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v", name, v)
				}
			}
			if n := last.Get("model_buffer_size"); !(n > 0) {
				t.Errorf("model buffer holds %v transitions", n)
			}
			if last.Get("q_loss") == base.Get("q_loss") {
				t.Errorf("q_loss %v, the same as with the policy's actions", last.Get("q_loss"))
			}
			t.Logf("%s", formatRow(last))
		})
	}
}
