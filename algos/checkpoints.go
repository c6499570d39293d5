package algos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos/checkpoint"
)

// Checkpointer is implemented by a Reporter that wants a training loop's
// state saved, and restored when the run is resumed. A loop that supports
// checkpoints finds it with NewSaver(rep); Checkpoints is the implementation
// that `imago train` and library users take.
type Checkpointer interface {
	Reporter
	// ResumeState returns the state the loop continues from and the step
	// it was saved after, or nil when the run starts fresh.
	ResumeState() (*checkpoint.State, int, error)
	// CheckpointDue reports whether the loop saves its state after step,
	// of lastStep in all.
	CheckpointDue(step, lastStep int) bool
	// SaveCheckpoint saves state as of step (environment steps taken).
	SaveCheckpoint(step int, state *checkpoint.State) error
}

// Checkpoints is a Reporter that passes Progress and Record on to Reporter
// and saves a training loop's checkpoints into Dir: every Every steps (0 for
// none but the following), after the last step, and when the loop is
// interrupted. With Resume set, the loop continues from the newest
// checkpoint in Dir. A checkpoint whose tensors hold NaN or ±Inf is not
// written: SaveCheckpoint returns a DivergedError and the last good
// checkpoint stays.
type Checkpoints struct {
	Reporter
	Dir    string // the run's checkpoints folder
	Every  int    // environment steps between checkpoints; 0 for only the final and interrupt ones
	Keep   int    // complete checkpoints kept, newest first; 0 for 2
	Resume bool   // continue from the newest checkpoint in Dir

	Algo, Env string // what the checkpoints belong to; a resumed checkpoint must match
	Imago     string // the version of imago writing them (informational)

	// Saved is the step of the newest checkpoint in Dir, written or
	// resumed from; 0 for none.
	Saved int
}

var _ Checkpointer = (*Checkpoints)(nil)

func (c *Checkpoints) ResumeState() (*checkpoint.State, int, error) {
	if !c.Resume {
		return nil, 0, nil
	}
	meta, state, err := checkpoint.Load(c.Dir, -1, checkpoint.Meta{Algo: c.Algo, Env: c.Env})
	if err != nil {
		return nil, 0, err
	}
	c.Saved = meta.Step
	return state, meta.Step, nil
}

func (c *Checkpoints) CheckpointDue(step, lastStep int) bool {
	return step == lastStep || (c.Every > 0 && step%c.Every == 0)
}

func (c *Checkpoints) SaveCheckpoint(step int, state *checkpoint.State) error {
	if name, bad, ok := state.NonFinite(); ok {
		return &DivergedError{Step: step, Quantity: name, Value: bad, LastGood: c.Saved, Dir: c.Dir}
	}
	keep := c.Keep
	if keep <= 0 {
		keep = 2
	}
	meta := checkpoint.Meta{Format: checkpoint.Format, Imago: c.Imago, Algo: c.Algo, Env: c.Env, Step: step}
	if _, err := checkpoint.Save(c.Dir, meta, state, keep); err != nil {
		return err
	}
	c.Saved = step
	return nil
}

// DivergedError reports that training produced a NaN or infinite loss or
// parameter.
type DivergedError struct {
	Step     int     // the environment step at which it was seen
	Quantity string  // what held it: a metric's name or a tensor of the checkpoint
	Value    float64 // the value: NaN, +Inf or −Inf
	LastGood int     // the step of the last checkpoint written, 0 for none
	Dir      string  // where that checkpoint is
}

func (e *DivergedError) Error() string {
	msg := fmt.Sprintf("training diverged: %s is %v at step %d", e.Quantity, e.Value, e.Step)
	switch {
	case e.LastGood > 0:
		msg += fmt.Sprintf("; the last good checkpoint (step %d) is in %s", e.LastGood, e.Dir)
	case e.Dir != "":
		msg += "; no checkpoint was written before it"
	}
	return msg
}

// CheckFinite returns a DivergedError naming the first of names whose value
// is NaN or infinite, or nil. Loops call it on the losses of an evaluation
// row once learning has started (before it, their losses are NaN by
// definition).
func CheckFinite(step int, names []string, values []float64, rep Reporter) error {
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			e := &DivergedError{Step: step, Quantity: names[i], Value: v}
			if c, ok := rep.(*Checkpoints); ok && c.Saved > 0 {
				e.LastGood, e.Dir = c.Saved, c.Dir
			}
			return e
		}
	}
	return nil
}

// CheckAction returns a DivergedError when the action a policy chose holds
// a NaN or an infinity (its parameters have diverged), before the action
// reaches an environment, which would refuse it.
func CheckAction(step int, a []float32, rep Reporter) error {
	for _, x := range a {
		if v := float64(x); math.IsNaN(v) || math.IsInf(v, 0) {
			return CheckFinite(step, []string{"the policy's action"}, []float64{v}, rep)
		}
	}
	return nil
}

// Saver is how a training loop uses its Reporter's checkpoints; every method
// does nothing when the Reporter is not a Checkpointer. A loop puts its
// state into a checkpoint only when a save is due, with a function it
// passes in.
//
// A Saver also keeps the run's clock: Elapsed counts the training time of
// the parts of a run before it was resumed too, so that a resumed run's
// wall_seconds continue where they stopped.
type Saver struct {
	c     Checkpointer
	last  int       // the step of the last save, to skip a repeat
	start time.Time // when training started, moved back by a resumed run's time
}

// NewSaver returns the Saver of rep, its clock started.
func NewSaver(rep Reporter) *Saver {
	c, _ := rep.(Checkpointer)
	return &Saver{c: c, start: time.Now()}
}

// Elapsed returns the seconds of training so far.
func (s *Saver) Elapsed() float64 { return time.Since(s.start).Seconds() }

// wallKey is the value of every checkpoint that holds Elapsed.
const wallKey = "wall_seconds"

// Enabled reports whether checkpoints are taken.
func (s *Saver) Enabled() bool { return s.c != nil }

// Resume returns the state to continue from and the step it was saved
// after, or nil to start fresh.
func (s *Saver) Resume() (*checkpoint.State, int, error) {
	if s.c == nil {
		return nil, 0, nil
	}
	st, step, err := s.c.ResumeState()
	if err != nil {
		return nil, 0, fmt.Errorf("resume: %w", err)
	}
	if st == nil {
		return nil, 0, nil
	}
	var elapsed float64
	if err := st.Value(wallKey, &elapsed); err != nil {
		return nil, 0, fmt.Errorf("resume: %w", err)
	}
	s.start = time.Now().Add(-time.Duration(elapsed * float64(time.Second)))
	s.last = step
	return st, step, nil
}

// After saves the state built by build if a checkpoint is due after step
// of lastStep.
func (s *Saver) After(step, lastStep int, build func(*checkpoint.State) error) error {
	if s.c == nil || !s.c.CheckpointDue(step, lastStep) || step == s.last {
		return nil
	}
	return s.save(step, build)
}

// Interrupted saves the state after step, if it is not saved already,
// and returns ctx's error (joined with the save's, if it failed). Loops call
// it where they find ctx cancelled between two steps.
func (s *Saver) Interrupted(ctx context.Context, step int, build func(*checkpoint.State) error) error {
	if s.c == nil || step == s.last || step == 0 {
		return ctx.Err()
	}
	return errors.Join(ctx.Err(), s.save(step, build))
}

func (s *Saver) save(step int, build func(*checkpoint.State) error) error {
	st := checkpoint.NewState()
	if err := build(st); err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", step, err)
	}
	// A float64 always marshals.
	_ = st.PutValue(wallKey, s.Elapsed())
	if err := s.c.SaveCheckpoint(step, st); err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", step, err)
	}
	s.last = step
	return nil
}
