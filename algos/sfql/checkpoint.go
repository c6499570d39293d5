package sfql

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
	"gonum.org/v1/gonum/mat"
)

// runnerState is the runner's part of a checkpoint besides the learner, the
// environment, the generators and the task vector.
type runnerState struct {
	Task          int     `json:"task"`           // tasks begun so far
	EpisodeReturn float64 `json:"episode_return"` // of the episode in progress
	Cumulative    float64 `json:"cumulative"`     // every reward so far
}

// save puts the runner's whole state into s under prefix: the learner, the
// current task vector, the counters, the training environment (its task,
// cell and collected objects included) and the two generators.
func (r *runner) save(s *checkpoint.State, prefix string) error {
	r.learner.save(s, prefix+"learner.")
	s.PutFloats(prefix+"w", r.w)
	s.PutPCG(prefix+"task_rng", r.taskSrc)
	s.PutPCG(prefix+"agent_rng", r.agentSrc)
	if err := s.PutEnv(prefix+"env", r.env); err != nil {
		return err
	}
	return s.PutValue(prefix+"counters", runnerState{Task: r.task, EpisodeReturn: r.episodeReturn, Cumulative: r.cumulative})
}

// load restores what save put into s under prefix, into a runner made by
// newRunner with the same Config and environment.
func (r *runner) load(s *checkpoint.State, prefix string) error {
	var st runnerState
	if err := s.Value(prefix+"counters", &st); err != nil {
		return err
	}
	if st.Task < 0 {
		return fmt.Errorf("%scounters: %d tasks begun, want ≥ 0", prefix, st.Task)
	}
	w, err := s.Floats(prefix + "w")
	if err != nil {
		return err
	}
	if d := r.env.FeatureDim(); st.Task > 0 && len(w) != d {
		return fmt.Errorf("%sw has %d values, want the environment's %d features", prefix, len(w), d)
	}
	if !allFinite(w) {
		return fmt.Errorf("%sw = %v: a task vector must be finite", prefix, w)
	}
	task, agent := *r.taskSrc, *r.agentSrc
	if err := s.PCG(prefix+"task_rng", &task); err != nil {
		return err
	}
	if err := s.PCG(prefix+"agent_rng", &agent); err != nil {
		return err
	}
	if err := r.learner.load(s, prefix+"learner.", st.Task); err != nil {
		return err
	}
	if err := s.Env(prefix+"env", r.env); err != nil {
		return err
	}
	if st.Task == 0 {
		w = nil
	}
	r.w, r.task, r.episodeReturn, r.cumulative = w, st.Task, st.EpisodeReturn, st.Cumulative
	*r.taskSrc, *r.agentSrc = task, agent
	r.s = r.env.StateID()
	return nil
}

// sfState is SFQL's part of a checkpoint besides the values of its tables,
// task vectors and fit.
type sfState struct {
	// States[j] lists the state of each row of ψ_j, in row order.
	States      [][]int32 `json:"states"`
	C           int       `json:"c"` // the policy GPI took the last action from
	Greedy      int       `json:"greedy_steps"`
	Transferred int       `json:"transfer_steps"`
	FitSamples  int       `json:"fit_samples"`
	FitDirty    bool      `json:"fit_dirty"`
}

// save puts every ψ_j, every task's w, the current task's fit and the
// counters into s under prefix.
func (ag *sfAgent) save(s *checkpoint.State, prefix string) {
	st := sfState{C: ag.c, Greedy: ag.greedySteps, Transferred: ag.transferSteps}
	var rows, ws []float64
	for j, psi := range ag.psis {
		st.States = append(st.States, psi.rowStates())
		rows = append(rows, psi.rows...)
		ws = append(ws, ag.ws[j]...)
	}
	s.PutFloats(prefix+"psi", rows)
	s.PutFloats(prefix+"w", ws)
	if ag.fit != nil {
		st.FitSamples, st.FitDirty = ag.fit.samples, ag.fit.dirty
		s.PutFloats(prefix+"fit.gram", ag.fit.gram.RawSymmetric().Data)
		s.PutFloats(prefix+"fit.moment", ag.fit.moment.RawVector().Data)
		s.PutFloats(prefix+"fit.w", ag.fit.w)
	}
	// Ints and bools always marshal.
	_ = s.PutValue(prefix+"sf", st)
}

func (ag *sfAgent) load(s *checkpoint.State, prefix string, tasks int) error {
	var st sfState
	if err := s.Value(prefix+"sf", &st); err != nil {
		return err
	}
	d := ag.d
	switch {
	case len(st.States) != tasks:
		// newTask adds one ψ a task.
		return fmt.Errorf("%ssf: successor features of %d policies after %d tasks", prefix, len(st.States), tasks)
	case st.C < 0 || st.C >= max(tasks, 1):
		return fmt.Errorf("%ssf: GPI's last policy is %d of %d", prefix, st.C, tasks)
	case st.Greedy < 0 || st.Transferred < 0 || st.Transferred > st.Greedy:
		return fmt.Errorf("%ssf: %d of %d greedy steps transferred", prefix, st.Transferred, st.Greedy)
	}
	rows, err := s.Floats(prefix + "psi")
	if err != nil {
		return err
	}
	ws, err := s.Floats(prefix + "w")
	if err != nil {
		return err
	}
	if len(ws) != tasks*d {
		return fmt.Errorf("%sw has %d values, want %d tasks × %d features = %d", prefix, len(ws), tasks, d, tasks*d)
	}
	psis := make([]*Table, tasks)
	wList := make([][]float64, tasks)
	for j, states := range st.States {
		n := len(states) * ag.numActions * d
		if n > len(rows) {
			return fmt.Errorf("%spsi has too few values for the %d states of ψ_%d", prefix, len(states), j)
		}
		if psis[j], err = tableOf(states, rows[:n:n], ag.numActions, d); err != nil {
			return fmt.Errorf("%spsi: ψ_%d: %w", prefix, j, err)
		}
		rows = rows[n:]
		wList[j] = ws[j*d : (j+1)*d : (j+1)*d]
	}
	if len(rows) > 0 {
		return fmt.Errorf("%spsi has %d values beyond the tables' rows", prefix, len(rows))
	}
	var fit *TaskFit
	if tasks > 0 && !ag.cfg.KnownTask {
		if fit, err = loadFit(s, prefix+"fit.", d, st.FitSamples, st.FitDirty); err != nil {
			return err
		}
	}
	ag.psis, ag.ws, ag.fit = psis, wList, fit
	ag.c, ag.greedySteps, ag.transferSteps = st.C, st.Greedy, st.Transferred
	return nil
}

// loadFit returns the TaskFit of d features saved under prefix.
func loadFit(s *checkpoint.State, prefix string, d, samples int, dirty bool) (*TaskFit, error) {
	if samples < 0 {
		return nil, fmt.Errorf("%s: %d samples, want ≥ 0", prefix, samples)
	}
	floats := func(name string, n int) ([]float64, error) {
		x, err := s.Floats(prefix + name)
		if err == nil && len(x) != n {
			err = fmt.Errorf("%s%s has %d values, want %d", prefix, name, len(x), n)
		}
		return x, err
	}
	gram, err := floats("gram", d*d)
	if err != nil {
		return nil, err
	}
	moment, err := floats("moment", d)
	if err != nil {
		return nil, err
	}
	w, err := floats("w", d)
	if err != nil {
		return nil, err
	}
	return &TaskFit{
		d: d, gram: mat.NewSymDense(d, gram), moment: mat.NewVecDense(d, moment),
		samples: samples, w: w, dirty: dirty,
	}, nil
}

// qState is Q-learning's part of a checkpoint besides the values of its
// table.
type qState struct {
	// States lists the state of each row of Q, in row order; nil before
	// the first task.
	States []int32 `json:"states"`
}

func (ag *qAgent) save(s *checkpoint.State, prefix string) {
	var st qState
	var rows []float64
	if ag.q != nil {
		st.States, rows = ag.q.rowStates(), ag.q.rows
	}
	s.PutFloats(prefix+"q", rows)
	// Ints always marshal.
	_ = s.PutValue(prefix+"q.states", st)
}

func (ag *qAgent) load(s *checkpoint.State, prefix string, tasks int) error {
	var st qState
	if err := s.Value(prefix+"q.states", &st); err != nil {
		return err
	}
	// newTask makes the table; before the first task there is none.
	switch {
	case st.States == nil && tasks > 0:
		return fmt.Errorf("%sq: no table after %d tasks", prefix, tasks)
	case st.States != nil && tasks == 0:
		return fmt.Errorf("%sq: a table before the first task", prefix)
	}
	rows, err := s.Floats(prefix + "q")
	if err != nil {
		return err
	}
	if st.States == nil {
		if len(rows) > 0 {
			return fmt.Errorf("%sq has %d values and no states", prefix, len(rows))
		}
		ag.q = nil
		return nil
	}
	q, err := tableOf(st.States, rows, ag.numActions, 1)
	if err != nil {
		return fmt.Errorf("%sq: %w", prefix, err)
	}
	ag.q = q
	return nil
}

// rowStates returns the state of each row of t, in row order.
func (t *Table) rowStates() []int32 {
	states := make([]int32, len(t.index))
	for s, r := range t.index {
		states[r] = s
	}
	return states
}

// tableOf returns the Table of numActions actions and d values per pair
// whose row r is state states[r] with values rows[r·numActions·d:]. It
// returns an error if the lengths disagree or a state has two rows.
func tableOf(states []int32, rows []float64, numActions, d int) (*Table, error) {
	if n := len(states) * numActions * d; len(rows) != n {
		return nil, fmt.Errorf("%d values for %d states × %d actions × %d, want %d", len(rows), len(states), numActions, d, n)
	}
	t := NewTable(numActions, d)
	for r, s := range states {
		if _, ok := t.index[s]; ok {
			return nil, fmt.Errorf("state %d has two rows", s)
		}
		t.index[s] = int32(r)
	}
	t.rows = slices.Clip(rows)
	return t, nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// CheckpointPolicy returns the greedy policy of the learner saved in s by
// Train with cfg on run.Env, for the task that was current when it was
// saved: for SFQL, the GPI action max_j ψ_j(s, a)·w̃ over every task's
// successor features with the task vector it acts on (the fit of the
// rewards, or the true w with KnownTask); for Q-learning, argmax Q of the
// current task. The state is the observation's (env.Tabular's StateIDOf);
// ties are broken uniformly at random by a generator of its own seeded
// from run.Seed, as Train's first evaluation episode breaks them (Train
// reseeds it every episode).
//
// The returns of the policy are those of Train's eval_return only on an
// environment given the same task: a fresh FourRooms has another, so set
// the one CheckpointTask returns (SetTask) before evaluating. free does
// nothing: the tables live on the host, and eng is not used.
func CheckpointPolicy(_ engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("sfql: %w", err)
	}
	e, err := makeTaskEnv(run.Env)
	if err != nil {
		return nil, nil, err
	}
	r, err := newRunner(cfg, e, run.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("sfql: %s: %w", run.Env, err)
	}
	if err := r.load(s, "runner."); err != nil {
		return nil, nil, fmt.Errorf("sfql: %w", err)
	}
	if r.task == 0 {
		return nil, nil, fmt.Errorf("sfql: the checkpoint was saved before the first task began: there is no policy yet")
	}
	ties := rand.New(rand.NewPCG(uint64(run.Seed+algos.EvalSeedOffset), evalStream))
	action := make([]float64, 1)
	policy = func(obs []float64) []float64 {
		action[0] = float64(r.learner.greedy(e.StateIDOf(obs), ties))
		return action
	}
	return policy, func() {}, nil
}

// CheckpointTask returns the true task vector w of the task that was
// current when Train saved s: the task CheckpointPolicy's policy is for.
func CheckpointTask(s *checkpoint.State) ([]float64, error) {
	var st runnerState
	if err := s.Value("runner.counters", &st); err != nil {
		return nil, fmt.Errorf("sfql: %w", err)
	}
	w, err := s.Floats("runner.w")
	if err != nil {
		return nil, fmt.Errorf("sfql: %w", err)
	}
	if st.Task == 0 {
		return nil, fmt.Errorf("sfql: the checkpoint was saved before the first task began: there is no task yet")
	}
	if !allFinite(w) {
		return nil, fmt.Errorf("sfql: the checkpoint's task vector %v is not finite", w)
	}
	return w, nil
}
