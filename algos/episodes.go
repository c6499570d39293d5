package algos

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/env"
)

// Episodes runs the training episodes of an off-policy loop: it resets the
// environment with seed+k for training episode k (counted from 0), holds the
// current observation and the return of the episode in progress, and
// averages the returns of the episodes that ended since the last
// TakeMeanReturn. Save and Load carry all of it, the environment's own
// state included, through a checkpoint.
type Episodes struct {
	Env  env.Env
	Seed int64
	// Obs is the observation the next action is taken in.
	Obs []float64
	// Ended is the number of training episodes ended so far.
	Ended int64
	// Return is the return of the episode in progress.
	Return float64

	sum   float64 // of the returns ended since the last TakeMeanReturn
	count int
}

// NewEpisodes resets e for training episode 0 of seed.
func NewEpisodes(e env.Env, seed int64) *Episodes {
	return &Episodes{Env: e, Seed: seed, Obs: e.Reset(seed)}
}

// Step records the outcome of the action taken in Obs: the reward, the next
// observation and whether the episode ended (terminated or truncated). An
// ended episode's return is kept for TakeMeanReturn and the next episode
// starts.
func (e *Episodes) Step(next []float64, reward float64, ended bool) {
	e.Return += reward
	if !ended {
		e.Obs = next
		return
	}
	e.sum += e.Return
	e.count++
	e.Ended++
	e.Return = 0
	e.Obs = e.Env.Reset(e.Seed + e.Ended)
}

// TakeMeanReturn returns the mean return of the episodes ended since its
// last call, NaN if none did, and starts a new average.
func (e *Episodes) TakeMeanReturn() float64 {
	mean := math.NaN()
	if e.count > 0 {
		mean = e.sum / float64(e.count)
	}
	e.sum, e.count = 0, 0
	return mean
}

// episodesState is the host part of Episodes' checkpoint.
type episodesState struct {
	Obs    []float64 `json:"obs"`
	Ended  int64     `json:"ended"`
	Return float64   `json:"return"`
	Sum    float64   `json:"sum"`
	Count  int       `json:"count"`
}

// Save puts the episodes' state and the environment's into s under name.
// An environment that is not an env.Snapshotter (one of a library user's
// own, say) cannot give its state: the checkpoint is still written, for
// evaluation and deployment, but Load refuses to resume from it
// (checkpoint.State.PutEnv).
func (e *Episodes) Save(s *checkpoint.State, name string) error {
	if err := s.PutEnv(name+".env", e.Env); err != nil {
		return err
	}
	return s.PutValue(name, episodesState{Obs: e.Obs, Ended: e.Ended, Return: e.Return, Sum: e.sum, Count: e.count})
}

// Load restores what Save put into s under name.
func (e *Episodes) Load(s *checkpoint.State, name string) error {
	var st episodesState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	if n := e.Env.ObservationSpace().Dim(); len(st.Obs) != n {
		return fmt.Errorf("%s: an observation of %d values, want %d", name, len(st.Obs), n)
	}
	if err := s.Env(name+".env", e.Env); err != nil {
		return err
	}
	e.Obs, e.Ended, e.Return, e.sum, e.count = st.Obs, st.Ended, st.Return, st.Sum, st.Count
	return nil
}
