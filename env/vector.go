package env

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Vector steps N copies of an environment together, in parallel goroutines,
// and resets each copy as soon as its episode ends.
//
// Autoreset follows Gymnasium's SAME_STEP mode
// (gymnasium.vector.AutoresetMode.SAME_STEP): a step that ends a copy's
// episode returns that step's reward and flags, its last observation in
// VectorStep.FinalObs, and in VectorStep.Obs the first observation of the
// copy's next episode, so every row of Obs is one an action can be taken
// from. Gymnasium 1.x's default, NEXT_STEP, instead returns the last
// observation and resets on the following call, ignoring that call's action
// for the copy; a training loop would have to skip those rows. SAME_STEP
// never wastes a step and its transitions (obs, action, reward, FinalObs
// where done, else Obs) are all real.
//
// Seeds: Reset(seed) resets copy i with seed+i, as Gymnasium's vector
// reset(seed=seed) does. The episodes that autoreset starts take their
// seeds from a generator of copy i's own, math/rand/v2's PCG seeded with
// (seed, i), one Int64 per episode; so the stream of episodes of each copy
// depends only on seed and i, not on the number of copies, the number of
// goroutines or the order they run in.
//
// A Vector is not safe for concurrent use. The copies are stepped by
// min(Workers, N) goroutines, each taking a contiguous block of copies.
type Vector struct {
	// Workers is the number of goroutines a Step uses; 0 means
	// runtime.GOMAXPROCS(0). With 1 the copies are stepped in the calling
	// goroutine, which is fastest for cheap environments and few copies.
	Workers int

	name           string // the environment's id, or its type, for messages
	envs           []Env
	seeders        []*rand.Rand
	seedSrcs       []*rand.PCG // the seeders' sources, whose states Snapshot keeps
	obsDim, actDim int
	obsSpace       Space
	actSpace       Space
}

// VectorStep is the result of Vector.Step. Obs and FinalObs hold N rows of
// the observation dimension, row-major.
type VectorStep struct {
	// Obs[i] is copy i's next observation or, where its episode ended, the
	// first observation of its next episode.
	Obs        []float64
	Reward     []float64
	Terminated []bool
	Truncated  []bool
	// FinalObs[i] is the last observation of copy i's episode where
	// Terminated[i] or Truncated[i], and zeros elsewhere.
	FinalObs []float64
}

// Done reports whether copy i's episode ended in this step.
func (s *VectorStep) Done(i int) bool { return s.Terminated[i] || s.Truncated[i] }

// NewVector returns a Vector of n copies made by newEnv. It panics if n < 1
// or the copies' spaces differ in dimension.
func NewVector(n int, newEnv func() Env) *Vector {
	if n < 1 {
		panic(fmt.Sprintf("env: NewVector with %d copies", n))
	}
	v := &Vector{envs: make([]Env, n), seeders: make([]*rand.Rand, n), seedSrcs: make([]*rand.PCG, n)}
	for i := range v.envs {
		v.envs[i] = newEnv()
	}
	v.name = fmt.Sprintf("%T", v.envs[0])
	v.obsSpace, v.actSpace = v.envs[0].ObservationSpace(), v.envs[0].ActionSpace()
	v.obsDim, v.actDim = v.obsSpace.Dim(), v.actSpace.Dim()
	for i, e := range v.envs {
		if o, a := e.ObservationSpace().Dim(), e.ActionSpace().Dim(); o != v.obsDim || a != v.actDim {
			panic(fmt.Sprintf("env: NewVector copy %d has observation and action dimensions %d and %d, copy 0 %d and %d",
				i, o, a, v.obsDim, v.actDim))
		}
	}
	return v
}

// MakeVector returns a Vector of n copies of the registered environment id.
func MakeVector(id string, n int) (*Vector, error) {
	if _, err := Make(id); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("vector of %s: %d copies, want at least 1", id, n)
	}
	v := NewVector(n, func() Env { e, _ := Make(id); return e })
	v.name = id
	return v, nil
}

// Len returns the number of copies.
func (v *Vector) Len() int { return len(v.envs) }

// Env returns copy i, for inspection (a Stateful copy's State, for
// example). Stepping or resetting it directly breaks the Vector's
// bookkeeping.
func (v *Vector) Env(i int) Env { return v.envs[i] }

// ObservationSpace returns the observation space of one copy.
func (v *Vector) ObservationSpace() Space { return copySpace(v.obsSpace) }

// ActionSpace returns the action space of one copy.
func (v *Vector) ActionSpace() Space { return copySpace(v.actSpace) }

// Reset resets copy i with seed+i and returns the N first observations,
// row-major.
func (v *Vector) Reset(seed int64) []float64 {
	obs := make([]float64, len(v.envs)*v.obsDim)
	v.parallel(func(i int) {
		v.seedSrcs[i] = rand.NewPCG(uint64(seed), uint64(i))
		v.seeders[i] = rand.New(v.seedSrcs[i])
		copy(obs[i*v.obsDim:(i+1)*v.obsDim], v.reset(i, seed+int64(i)))
	})
	return obs
}

// Step applies actions, N rows of the action dimension, row-major, to the
// copies, and resets each copy whose episode ends. It panics as Env.Step
// does, with the copy's *StepError, on an invalid action or before Reset;
// after such a panic the copies are in an unspecified state and the Vector
// must be Reset.
func (v *Vector) Step(actions []float64) *VectorStep {
	if len(actions) != len(v.envs)*v.actDim {
		panic(&StepError{v.name, fmt.Sprintf("vector step with %d action elements, want %d copies × %d",
			len(actions), len(v.envs), v.actDim)})
	}
	n := len(v.envs)
	s := &VectorStep{
		Obs:        make([]float64, n*v.obsDim),
		Reward:     make([]float64, n),
		Terminated: make([]bool, n),
		Truncated:  make([]bool, n),
		FinalObs:   make([]float64, n*v.obsDim),
	}
	v.parallel(func(i int) {
		if v.seeders[i] == nil {
			panic(&StepError{v.name, "vector Step before Reset"})
		}
		obs, r, term, trunc := v.envs[i].Step(actions[i*v.actDim : (i+1)*v.actDim])
		s.Reward[i], s.Terminated[i], s.Truncated[i] = r, term, trunc
		row := s.Obs[i*v.obsDim : (i+1)*v.obsDim]
		if term || trunc {
			copy(s.FinalObs[i*v.obsDim:], v.checkObs(i, obs))
			obs = v.reset(i, v.seeders[i].Int64())
		}
		copy(row, v.checkObs(i, obs))
	})
	return s
}

func (v *Vector) reset(i int, seed int64) []float64 {
	return v.checkObs(i, v.envs[i].Reset(seed))
}

func (v *Vector) checkObs(i int, obs []float64) []float64 {
	if len(obs) != v.obsDim {
		panic(fmt.Sprintf("env: vector copy %d returned %d observation elements, want %d", i, len(obs), v.obsDim))
	}
	return obs
}

// parallel calls f(i) for every copy from min(Workers, N) goroutines and
// re-panics in the caller with the first panic of any of them.
func (v *Vector) parallel(f func(i int)) {
	n := len(v.envs)
	w := v.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = min(w, n)
	if w == 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		recovered any
		panicked  bool
	)
	for k := range w {
		lo, hi := k*n/w, (k+1)*n/w
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					if !panicked {
						recovered, panicked = r, true
					}
					mu.Unlock()
				}
			}()
			for i := lo; i < hi; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
	if panicked {
		panic(recovered)
	}
}
