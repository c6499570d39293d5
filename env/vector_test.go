package env

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// sequentialVector is what a Vector is specified to be: n environments
// stepped one after another, copy i reset with seed+i and, after each of
// its episodes, with the next Int64 of a PCG seeded with (seed, i).
type sequentialVector struct {
	envs    []Env
	seeders []*rand.Rand
	dim     int
}

func newSequential(id string, n int, seed int64) (*sequentialVector, []float64) {
	s := &sequentialVector{}
	var obs []float64
	for i := range n {
		e, _ := Make(id)
		s.envs = append(s.envs, e)
		s.seeders = append(s.seeders, rand.New(rand.NewPCG(uint64(seed), uint64(i))))
		obs = append(obs, e.Reset(seed+int64(i))...)
		s.dim = e.ObservationSpace().Dim()
	}
	return s, obs
}

func (s *sequentialVector) step(actions []float64) *VectorStep {
	n, ad := len(s.envs), len(actions)/len(s.envs)
	out := &VectorStep{
		Obs: make([]float64, n*s.dim), FinalObs: make([]float64, n*s.dim),
		Reward: make([]float64, n), Terminated: make([]bool, n), Truncated: make([]bool, n),
	}
	for i, e := range s.envs {
		obs, r, term, trunc := e.Step(actions[i*ad : (i+1)*ad])
		out.Reward[i], out.Terminated[i], out.Truncated[i] = r, term, trunc
		if term || trunc {
			copy(out.FinalObs[i*s.dim:], obs)
			obs = e.Reset(s.seeders[i].Int64())
		}
		copy(out.Obs[i*s.dim:], obs)
	}
	return out
}

// randomActions draws n valid actions of space, row-major.
func randomActions(r *rand.Rand, sp Space, n int) []float64 {
	a := make([]float64, n*sp.Dim())
	for i := range a {
		if sp.Discrete {
			a[i] = float64(r.IntN(sp.N))
		} else {
			j := i % sp.Dim()
			a[i] = sp.Low[j] + (sp.High[j]-sp.Low[j])*r.Float64()
		}
	}
	return a
}

// TestVectorEqualsSequential steps Vectors with several worker counts and
// the sequential specification side by side, through many autoresets
// (CartPole's episodes under random actions last a few dozen steps;
// Pendulum's are all truncated at 200), and requires identical results.
func TestVectorEqualsSequential(t *testing.T) {
	for _, c := range []struct {
		id           string
		n, steps     int
		workers      int
		wantTrunc    bool
		wantTerminal bool
	}{
		{"CartPole-v1", 5, 300, 3, false, true},
		{"CartPole-v1", 4, 100, 1, false, true},
		{"Pendulum-v1", 3, 450, 0, true, false},
		{"MountainCarContinuous-v0", 2, 50, 2, false, false},
	} {
		const seed = 11
		v, err := MakeVector(c.id, c.n)
		if err != nil {
			t.Fatal(err)
		}
		v.Workers = c.workers
		seq, want := newSequential(c.id, c.n, seed)
		if got := v.Reset(seed); !slices.Equal(got, want) {
			t.Fatalf("%s: Reset %v, want %v", c.id, got, want)
		}
		r := rand.New(rand.NewPCG(3, 4))
		var sawTrunc, sawTerm bool
		for k := range c.steps {
			a := randomActions(r, v.ActionSpace(), c.n)
			got, want := v.Step(a), seq.step(a)
			if !slices.Equal(got.Obs, want.Obs) || !slices.Equal(got.FinalObs, want.FinalObs) ||
				!slices.Equal(got.Reward, want.Reward) || !slices.Equal(got.Terminated, want.Terminated) ||
				!slices.Equal(got.Truncated, want.Truncated) {
				t.Fatalf("%s with %d workers, step %d:\n got %+v\nwant %+v", c.id, c.workers, k, got, want)
			}
			for i := range c.n {
				sawTrunc = sawTrunc || got.Truncated[i]
				sawTerm = sawTerm || got.Terminated[i]
				if !got.Done(i) && slices.ContainsFunc(got.FinalObs[i*seq.dim:(i+1)*seq.dim], func(x float64) bool { return x != 0 }) {
					t.Fatalf("%s step %d: FinalObs of copy %d set though its episode did not end", c.id, k, i)
				}
			}
		}
		if sawTrunc != c.wantTrunc || sawTerm != c.wantTerminal {
			t.Errorf("%s: saw truncation %v termination %v, want %v %v", c.id, sawTrunc, sawTerm, c.wantTrunc, c.wantTerminal)
		}
	}
}

// TestVectorSameStep checks the SAME_STEP contract on one copy: the step
// that ends an episode reports its last observation in FinalObs and the
// next episode's first in Obs, and that episode can be stepped at once.
func TestVectorSameStep(t *testing.T) {
	v := NewVector(1, func() Env { return NewCartPole() })
	v.Reset(0)
	c := v.Env(0).(*CartPole)
	c.SetState([]float64{0, 0, 0.2, 0.5}) // one push right from here falls
	s := v.Step([]float64{1})
	if !s.Terminated[0] || s.Truncated[0] || s.Reward[0] != 1 {
		t.Fatalf("step %+v, want termination with reward 1", s)
	}
	if s.FinalObs[2] <= 0.2 {
		t.Errorf("final observation %v, want θ past 0.2", s.FinalObs[:4])
	}
	for i, x := range s.Obs {
		if x != asFloat32(c.State()[i]) || math.Abs(x) > 0.05 {
			t.Errorf("observation %v is not the new episode's first %v", s.Obs, c.State())
			break
		}
	}
	if s := v.Step([]float64{0}); s.Done(0) {
		t.Error("the new episode ended at once")
	}
}

func TestVectorPanics(t *testing.T) {
	v, err := MakeVector("Pendulum-v1", 4)
	if err != nil {
		t.Fatal(err)
	}
	v.Workers = 2
	expectStepErrorPanic(t, "vector step before reset", func() { v.Step(make([]float64, 4)) })
	v.Reset(0)
	expectStepErrorPanic(t, "vector step with 3 actions", func() { v.Step(make([]float64, 3)) })
	// A NaN for copy 3, stepped in the second goroutine, re-panics in ours.
	expectStepErrorPanic(t, "vector step with a NaN", func() { v.Step([]float64{0, 0, 0, math.NaN()}) })

	if _, err := MakeVector("NoSuchEnv-v0", 2); err == nil || !strings.Contains(err.Error(), "Pendulum-v1") {
		t.Errorf("MakeVector of an unknown id: %v, want an error listing the known ids", err)
	}
	if _, err := MakeVector("Pendulum-v1", 0); err == nil {
		t.Error("MakeVector of 0 copies: no error")
	}
}

// BenchmarkVectorStep steps 64 copies of a cheap (CartPole-v1) and a
// costlier (Acrobot-v1, four RK4 stages) environment with one goroutine and
// with the default of GOMAXPROCS.
func BenchmarkVectorStep(b *testing.B) {
	for _, id := range []string{"CartPole-v1", "Acrobot-v1"} {
		for _, workers := range []int{1, 0} {
			name := id + "/workers=1"
			if workers == 0 {
				name = id + "/workers=GOMAXPROCS"
			}
			b.Run(name, func(b *testing.B) {
				v, _ := MakeVector(id, 64)
				v.Workers = workers
				v.Reset(0)
				a := randomActions(rand.New(rand.NewPCG(1, 1)), v.ActionSpace(), 64)
				for b.Loop() {
					v.Step(a)
				}
			})
		}
	}
}
