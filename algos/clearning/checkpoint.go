package clearning

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
)

// Save puts the agent's whole state into s under prefix: the policy, its
// optimizer and the sum of its loss since the last TakeMetrics, and the
// classifier's state under prefix+"classifier." (Classifier.Save).
func (a *Agent) Save(s *checkpoint.State, prefix string) {
	s.PutParams(prefix+"actor", a.actor.Params)
	s.PutAdam(prefix+"actor_opt", a.opt)
	s.PutDevice(prefix+"actor_loss", a.eng, a.loss)
	a.clf.Save(s, prefix+"classifier.")
}

// Load restores what Save put into s under prefix. The agent must have
// been made by NewAgent with the same Config, split and sizes. On an error
// the agent may be partly restored.
func (a *Agent) Load(s *checkpoint.State, prefix string) error {
	for _, err := range []error{
		s.Params(prefix+"actor", a.actor.Params),
		s.Adam(prefix+"actor_opt", a.opt),
		s.Device(prefix+"actor_loss", a.eng, a.loss),
	} {
		if err != nil {
			return err
		}
	}
	return a.clf.Load(s, prefix+"classifier.")
}

// Save puts the classifier's whole state into s under prefix: the two
// classifiers, their targets, the optimizer, and the sums of the metrics
// and the number of updates since the last TakeMetrics.
func (c *Classifier) Save(s *checkpoint.State, prefix string) {
	s.PutParams(prefix+"critic", c.critic.Params)
	s.PutParams(prefix+"target", c.target.Params)
	s.PutAdam(prefix+"critic_opt", c.opt)
	s.PutDevice(prefix+"metrics", c.eng, c.metrics)
	// An int always marshals.
	_ = s.PutValue(prefix+"updates", c.updates)
}

// Load restores what Save put into s under prefix. The classifier must
// have been made by NewClassifier with the same Config, split and sizes.
// On an error the classifier may be partly restored.
func (c *Classifier) Load(s *checkpoint.State, prefix string) error {
	var updates int
	for _, err := range []error{
		s.Params(prefix+"critic", c.critic.Params),
		s.Params(prefix+"target", c.target.Params),
		s.Adam(prefix+"critic_opt", c.opt),
		s.Device(prefix+"metrics", c.eng, c.metrics),
		s.Value(prefix+"updates", &updates),
	} {
		if err != nil {
			return err
		}
	}
	if updates < 0 {
		return fmt.Errorf("checkpoint value %q is %d, a negative number of updates", prefix+"updates", updates)
	}
	c.updates = updates
	return nil
}

// bufferState is the host part of a Buffer's checkpoint. The per-row
// episode bookkeeping follows from it: the rows hold transitions
// Added−Size to Added−1, transition n in row n mod Capacity, and a row's
// episode ends at the first of Ends at or after it, or goes on if it is at
// or after EpisodeFirst. Ends is therefore short, one number per ended
// episode still in the ring, where the rows' own numbers would be two per
// row.
type bufferState struct {
	Layout       Layout  `json:"layout"`
	Capacity     int     `json:"capacity"`
	Size         int     `json:"size"`
	Next         int     `json:"next"`
	Added        int64   `json:"added"`
	EpisodeFirst int64   `json:"episode_first"`
	Ends         []int64 `json:"ends"` // the last transitions of the ended episodes held, ascending
}

var bufferFields = [3]string{"obs", "act", "next_obs"}

func (b *Buffer) fields() [3]*engine.Tensor { return [3]*engine.Tensor{b.Obs, b.Act, b.NextObs} }

// Save puts the buffer's contents, its ring position and its episode
// bookkeeping into s under name: the tensors name+".obs", name+".act" and
// name+".next_obs" (all Cap rows) and the value name.
func (b *Buffer) Save(s *checkpoint.State, name string) {
	for i, t := range b.fields() {
		s.PutDevice(name+"."+bufferFields[i], b.eng, t)
	}
	st := bufferState{Layout: b.layout, Capacity: b.capacity, Size: b.size, Next: b.next, Added: b.added, EpisodeFirst: b.episodeFirst, Ends: []int64{}}
	for n := b.added - int64(b.size); n < b.episodeFirst; n++ {
		if e := b.end[b.rowOf(n)]; len(st.Ends) == 0 || st.Ends[len(st.Ends)-1] != e {
			st.Ends = append(st.Ends, e)
		}
	}
	// A bufferState of ints always marshals.
	_ = s.PutValue(name, st)
}

// Load restores what Save put into s under name into b, which must have
// the same capacity and layout. It returns an error, leaving b as it was,
// if the stored state is not one that a sequence of Adds can produce.
func (b *Buffer) Load(s *checkpoint.State, name string) error {
	var st bufferState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	if st.Capacity != b.capacity || st.Layout != b.layout {
		return fmt.Errorf("%s: a buffer of %d transitions of layout %+v, not %d of %+v", name, st.Capacity, st.Layout, b.capacity, b.layout)
	}
	if err := st.check(name); err != nil {
		return err
	}
	for i, t := range b.fields() {
		if _, err := s.Tensor(name+"."+bufferFields[i], t.Shape()); err != nil {
			return err
		}
	}
	for i, t := range b.fields() {
		if err := s.Device(name+"."+bufferFields[i], b.eng, t); err != nil {
			return err
		}
	}
	clear(b.num)
	clear(b.end)
	ends := st.Ends
	for n := st.Added - int64(st.Size); n < st.Added; n++ {
		r := b.rowOf(n)
		b.num[r], b.end[r] = n, -1
		if n < st.EpisodeFirst {
			for ends[0] < n {
				ends = ends[1:]
			}
			b.end[r] = ends[0]
		}
	}
	b.size, b.next, b.added, b.episodeFirst = st.Size, st.Next, st.Added, st.EpisodeFirst
	return nil
}

// check returns an error unless st's ring position and episode
// bookkeeping are consistent: the ones Adds produce.
func (st *bufferState) check(name string) error {
	oldest := st.Added - int64(st.Size)
	switch {
	case st.Added < 0 || int64(st.Size) != min(st.Added, int64(st.Capacity)) || int64(st.Next) != st.Added%int64(st.Capacity):
		return fmt.Errorf("%s: ring position size %d, next %d is impossible after %d transitions into a capacity of %d", name, st.Size, st.Next, st.Added, st.Capacity)
	case st.EpisodeFirst < 0 || st.EpisodeFirst > st.Added:
		return fmt.Errorf("%s: the episode in progress starts at transition %d, outside [0, %d]", name, st.EpisodeFirst, st.Added)
	}
	for i, e := range st.Ends {
		if e < oldest || e >= st.EpisodeFirst || i > 0 && e <= st.Ends[i-1] {
			return fmt.Errorf("%s: episode ends %v must ascend within [%d, %d), the transitions held before the episode in progress", name, st.Ends, oldest, st.EpisodeFirst)
		}
	}
	// The episode before the one in progress ended at EpisodeFirst−1; if
	// that transition is held, it is the last of Ends.
	if want := st.EpisodeFirst - 1; want >= oldest && (len(st.Ends) == 0 || st.Ends[len(st.Ends)-1] != want) {
		return fmt.Errorf("%s: episode ends %v must end with %d, the last transition before the episode in progress", name, st.Ends, want)
	}
	return nil
}

// CheckpointPolicy returns the policy that Train evaluates, of the agent
// saved in s by Train with cfg: the goal-conditioned deterministic policy
// tanh(μ(s, g)), rescaled to the action bounds of run.Env. Its
// observations carry their goal, as run.Env's do, so it is a plain
// algos.Policy; the goal-reaching measures of Train's rows (eval_success,
// eval_final_distance, eval_min_distance) come from Evaluate on a GoalEnv
// of run.Env with it. free releases its device memory.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("clearning: %w", err)
	}
	e, err := makeGoalEnv(run.Env)
	if err != nil {
		return nil, nil, err
	}
	layout, err := LayoutOf(run.Env, e)
	if err != nil {
		return nil, nil, err
	}
	if err := checkActionSpace(run.Env, e.ActionSpace()); err != nil {
		return nil, nil, err
	}
	split := SplitOf(cfg.BatchSize, cfg.FutureShare)
	agent, err := NewAgent(eng, cfg, split, layout.Obs, layout.Act, engine.NewRNG(uint64(run.Seed)))
	if err != nil {
		return nil, nil, fmt.Errorf("clearning: %w", err)
	}
	if err := agent.Load(s, "agent."); err != nil {
		agent.Free()
		return nil, nil, fmt.Errorf("clearning: %w", err)
	}
	act := newActor(eng, agent.Policy(), e.ActionSpace(), layout.Obs)
	return act.mode, func() { act.free(); agent.Free() }, nil
}
