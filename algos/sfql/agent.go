package sfql

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/imago-rl/imago/algos/checkpoint"
)

// Table is a tabular function of state-action pairs with d values per
// pair: the successor features ψ(s, a) ∈ R^d of one policy, or (d = 1)
// action values Q(s, a). It is sparse in states: a state never written
// reads as zeros, the initial value, so that FourRooms' 692,224 states
// cost only those visited. ([Gimelfarb] starts every entry at a draw of
// U[−0.01, 0.01] to break ties; here GPI breaks exact ties at random
// instead, which leaves unvisited states free.) A Table is not safe for
// concurrent use.
type Table struct {
	numActions, d int
	index         map[int32]int32 // state → row
	rows          []float64       // row r at r·numActions·d, action a at +a·d
	zeros         []float64
}

// NewTable returns an all-zero table of numActions actions and d values
// per pair.
func NewTable(numActions, d int) *Table {
	return &Table{numActions: numActions, d: d, index: map[int32]int32{}, zeros: make([]float64, numActions*d)}
}

// Row returns the numActions·d values of state s, action a's at a·d. The
// slice must not be modified; it is valid until the next write.
func (t *Table) Row(s int) []float64 {
	if r, ok := t.index[int32(s)]; ok {
		n := t.numActions * t.d
		return t.rows[int(r)*n : int(r+1)*n]
	}
	return t.zeros
}

// writable returns the row of s, adding it (as zeros) if absent.
func (t *Table) writable(s int) []float64 {
	n := t.numActions * t.d
	r, ok := t.index[int32(s)]
	if !ok {
		r = int32(len(t.index))
		t.index[int32(s)] = r
		t.rows = append(t.rows, t.zeros...)
	}
	return t.rows[int(r)*n : int(r+1)*n]
}

// Clone returns an independent copy.
func (t *Table) Clone() *Table {
	c := NewTable(t.numActions, t.d)
	c.rows = slices.Clone(t.rows)
	for s, r := range t.index {
		c.index[s] = r
	}
	return c
}

// States is the number of states written.
func (t *Table) States() int { return len(t.index) }

// dot returns ψ(s, a)·w from a row of a Table.
func dot(row []float64, a int, w []float64) float64 {
	d := len(w)
	q := 0.0
	for k, x := range row[a*d : (a+1)*d] {
		q += x * w[k]
	}
	return q
}

// GPI is generalised policy improvement ([SF] section 4, theorem 1): in
// state s and for task w, the action maximising max_j ψ_j(s, a)·w over the
// successor features psis of the policies known, with that value and the
// index of the policy j attaining it. Ties between actions are broken
// uniformly with rng (nil: the first); among policies attaining the
// maximum the last is reported, the newest, so that a tie with the policy
// being learned counts as its own. It panics if psis is empty.
func GPI(psis []*Table, s int, w []float64, rng *rand.Rand) (action, policy int, value float64) {
	numActions := psis[0].numActions
	var qs [8]float64
	var bests, ties [8]int
	var q []float64 // each action's maximum over the policies
	var best []int  // the policy attaining it, the newest among equals
	if numActions <= len(qs) {
		q, best = qs[:numActions], bests[:numActions]
	} else {
		q, best = make([]float64, numActions), make([]int, numActions)
	}
	tied := ties[:0]
	for a := range q {
		q[a] = math.Inf(-1)
	}
	for j, psi := range psis {
		row := psi.Row(s)
		for a := range q {
			if v := dot(row, a, w); v >= q[a] {
				q[a], best[a] = v, j
			}
		}
	}
	value = math.Inf(-1)
	for a, v := range q {
		switch {
		case v > value:
			value = v
			tied = append(tied[:0], a)
		case v == value:
			tied = append(tied, a)
		}
	}
	action = tied[0]
	if rng != nil && len(tied) > 1 {
		action = tied[rng.IntN(len(tied))]
	}
	return action, best[action], value
}

// learner is what the training loop drives: SFQL or Q-learning.
type learner interface {
	// newTask starts task w (the true vector: SFQL uses it only with
	// KnownTask).
	newTask(w []float64)
	// act returns the ε-greedy action in state s.
	act(s int) int
	// greedy returns the greedy action in s, ties broken with rng.
	greedy(s int, rng *rand.Rand) int
	// learn takes the transition (s, a, φ, r, next); terminated: next is
	// terminal.
	learn(s, a int, phi []float64, r float64, next int, terminated bool)
	// task returns the task vector the learner acts on (NaN for
	// Q-learning, which has none).
	task() []float64
	// transfers returns the greedy steps of the current task so far and
	// how many of them took a previous task's policy's action (SFQL; 0, 0
	// for Q-learning).
	transfers() (greedy, transferred int)
	// save puts the learner's tables and counters into s under prefix
	// (not its generator: the runner owns the source); load restores them
	// for a run that has begun tasks tasks, leaving the learner as it was
	// on an error (checkpoint.go).
	save(s *checkpoint.State, prefix string)
	load(s *checkpoint.State, prefix string, tasks int) error
}

// sfAgent is SFQL ([SF] appendix, the SFQL pseudo-code; [Gimelfarb]
// agents/sfql.py): successor features ψ_j of every task's policy, one
// learned per task, acting ε-greedily on GPI over all of them with the
// current task's w.
type sfAgent struct {
	cfg                        Config
	numActions                 int
	d                          int
	rng                        *rand.Rand
	psis                       []*Table    // one per task so far; the last is the current
	ws                         [][]float64 // each task's w: the fit's when the task ended
	fit                        *TaskFit    // of the current task, unless KnownTask
	c                          int         // the policy that GPI took its action from at the last act
	greedySteps, transferSteps int
}

func newSFAgent(cfg Config, numActions, d int, rng *rand.Rand) *sfAgent {
	return &sfAgent{cfg: cfg, numActions: numActions, d: d, rng: rng}
}

func (ag *sfAgent) newTask(w []float64) {
	n := len(ag.psis)
	if n > 0 && !ag.cfg.KnownTask {
		ag.ws[n-1] = slices.Clone(ag.fit.W()) // freeze the last task's fit
	}
	if n > 0 && ag.cfg.CopyPrevious {
		ag.psis = append(ag.psis, ag.psis[n-1].Clone())
	} else {
		ag.psis = append(ag.psis, NewTable(ag.numActions, ag.d))
	}
	if ag.cfg.KnownTask {
		ag.ws = append(ag.ws, slices.Clone(w))
	} else {
		ag.fit = NewTaskFit(ag.d)
		ag.ws = append(ag.ws, ag.fit.W())
	}
	ag.greedySteps, ag.transferSteps = 0, 0
}

func (ag *sfAgent) task() []float64 {
	if ag.cfg.KnownTask {
		return ag.ws[len(ag.ws)-1]
	}
	return ag.fit.W()
}

func (ag *sfAgent) act(s int) int {
	a, c, _ := GPI(ag.psis, s, ag.task(), ag.rng)
	ag.c = c
	ag.greedySteps++
	if c != len(ag.psis)-1 {
		ag.transferSteps++
	}
	if ag.rng.Float64() < ag.cfg.Epsilon {
		return ag.rng.IntN(ag.numActions)
	}
	return a
}

func (ag *sfAgent) greedy(s int, rng *rand.Rand) int {
	a, _, _ := GPI(ag.psis, s, ag.task(), rng)
	return a
}

func (ag *sfAgent) transfers() (int, int) { return ag.greedySteps, ag.transferSteps }

// learn is [Gimelfarb]'s train_agent: fit w to the reward, update the
// current task's ψ towards φ + γψ(s', a') with a' the GPI action at s',
// and, when GPI's action at s came from an earlier policy c, update ψ_c
// too, towards φ + γψ_c(s', a'_c) with a'_c greedy for c's own task.
func (ag *sfAgent) learn(s, a int, phi []float64, r float64, next int, terminated bool) {
	if !ag.cfg.KnownTask {
		ag.fit.Add(phi, r)
	}
	w := ag.task()
	n := len(ag.psis) - 1
	nextAction := 0
	if !terminated {
		nextAction, _, _ = GPI(ag.psis, next, w, nil)
	}
	ag.update(ag.psis[n], s, a, phi, next, nextAction, terminated)
	if c := ag.c; c != n {
		if !terminated {
			nextAction, _, _ = GPI(ag.psis[c:c+1], next, ag.ws[c], nil)
		}
		ag.update(ag.psis[c], s, a, phi, next, nextAction, terminated)
	}
}

// update moves ψ(s, a) towards φ + γψ(next, nextAction), or φ alone when
// the transition terminates.
func (ag *sfAgent) update(psi *Table, s, a int, phi []float64, next, nextAction int, terminated bool) {
	d := ag.d
	var target [8]float64
	tgt := target[:d]
	if d > len(target) {
		tgt = make([]float64, d)
	}
	copy(tgt, phi)
	if !terminated {
		nextRow := psi.Row(next)[nextAction*d : (nextAction+1)*d]
		for k := range tgt {
			tgt[k] += ag.cfg.Gamma * nextRow[k]
		}
	}
	row := psi.writable(s)[a*d : (a+1)*d]
	for k := range row {
		row[k] += ag.cfg.Alpha * (tgt[k] - row[k])
	}
}

// qAgent is Q-learning restarted on every task ([SF]'s baseline;
// [Gimelfarb] agents/ql.py).
type qAgent struct {
	cfg        Config
	numActions int
	rng        *rand.Rand
	q          *Table // d = 1
	nan        []float64
}

func newQAgent(cfg Config, numActions, d int, rng *rand.Rand) *qAgent {
	nan := make([]float64, d)
	for i := range nan {
		nan[i] = math.NaN()
	}
	return &qAgent{cfg: cfg, numActions: numActions, rng: rng, nan: nan}
}

func (ag *qAgent) newTask([]float64)     { ag.q = NewTable(ag.numActions, 1) }
func (ag *qAgent) task() []float64       { return ag.nan }
func (ag *qAgent) transfers() (int, int) { return 0, 0 }
func (ag *qAgent) greedy(s int, rng *rand.Rand) int {
	a, _, _ := GPI([]*Table{ag.q}, s, []float64{1}, rng)
	return a
}

func (ag *qAgent) act(s int) int {
	if ag.rng.Float64() < ag.cfg.Epsilon {
		return ag.rng.IntN(ag.numActions)
	}
	return ag.greedy(s, ag.rng)
}

func (ag *qAgent) learn(s, a int, _ []float64, r float64, next int, terminated bool) {
	target := r
	if !terminated {
		_, _, best := GPI([]*Table{ag.q}, next, []float64{1}, nil)
		target += ag.cfg.Gamma * best
	}
	row := ag.q.writable(s)
	row[a] += ag.cfg.Alpha * (target - row[a])
}

// newLearner returns the learner of cfg.Method.
func newLearner(cfg Config, numActions, d int, rng *rand.Rand) (learner, error) {
	switch cfg.Method {
	case MethodSFQL:
		return newSFAgent(cfg, numActions, d, rng), nil
	case MethodQLearning:
		return newQAgent(cfg, numActions, d, rng), nil
	}
	return nil, fmt.Errorf("method = %q: must be %q or %q", cfg.Method, MethodSFQL, MethodQLearning)
}
