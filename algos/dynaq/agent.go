package dynaq

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Agent is the tabular Dyna-Q (or Dyna-Q+) agent of [SB] section 8.2: a Q
// table, a deterministic table model of the transitions seen so far, and
// the generators of its exploration, tie-breaking and planning samples.
// Learn is steps (d) to (f) of the book's Tabular Dyna-Q box; Act is step
// (b).
//
// States are the ids of an env.Tabular environment, in [0, NumStates);
// actions are in [0, NumActions). The Q table is dense (NumStates ×
// NumActions values, all starting at 0); the model holds only the states an
// action was taken from. An Agent is not safe for concurrent use.
type Agent struct {
	cfg                   Config
	numStates, numActions int
	act, plan             *rand.Rand // the generators of acting and of planning
	actSrc, planSrc       *rand.PCG  // their sources, whose state a checkpoint keeps

	q []float64 // q[s·numActions + a]

	// The model: modelIndex[s] is the row of state s in the tables below,
	// or -1 while no action has been taken from s. Row i holds
	// numActions entries, entry i·numActions + a for action a.
	modelIndex []int32
	modelState []int     // the state of each row, in the order first seen
	tried      [][]int   // per row, the actions tried for real, in order
	next       []int     // the modelled next state
	reward     []float64 // the modelled reward
	terminal   []bool    // whether the modelled transition terminates
	known      []bool    // whether the action was tried for real
	lastTried  []int     // the real step it was last tried; 0 if never (Dyna-Q+)
	time       int       // real steps learned from so far

	ties []int // scratch of argmax
}

// The PCG streams of an agent's two generators, both keyed by its seed.
const (
	actStream  = 0xac7
	planStream = 0x91a7
)

// NewAgent returns an agent with Q = 0 and an empty model for an
// environment of numStates states and numActions actions. Its random
// numbers come from two PCG generators seeded with seed: one draws the
// exploration and the tie-breaking of Act, the other the planning samples.
// Keeping them apart makes the first episode of a maze the same whatever
// the number of planning steps (planning on an all-zero model changes
// nothing), as in [SB] Figure 8.2, where "the initial seed for the random
// number generator was held constant across algorithms" and "the first
// episode was exactly the same ... for all values of n". It returns an
// error for an invalid cfg or sizes.
func NewAgent(cfg Config, numStates, numActions int, seed uint64) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if numStates < 1 || numActions < 1 {
		return nil, fmt.Errorf("%d states and %d actions: need at least one of each", numStates, numActions)
	}
	if numStates > math.MaxInt32 {
		return nil, fmt.Errorf("%d states: at most %d are supported", numStates, math.MaxInt32)
	}
	idx := make([]int32, numStates)
	for i := range idx {
		idx[i] = -1
	}
	actSrc, planSrc := rand.NewPCG(seed, actStream), rand.NewPCG(seed, planStream)
	return &Agent{
		cfg:        cfg,
		numStates:  numStates,
		numActions: numActions,
		act:        rand.New(actSrc),
		plan:       rand.New(planSrc),
		actSrc:     actSrc,
		planSrc:    planSrc,
		q:          make([]float64, numStates*numActions),
		modelIndex: idx,
		ties:       make([]int, 0, numActions),
	}, nil
}

// Q returns the action value Q(s, a). It panics if s or a is out of range.
func (ag *Agent) Q(s, a int) float64 {
	ag.check(s, a)
	return ag.q[s*ag.numActions+a]
}

// Act returns the ε-greedy action in state s ([SB] section 8.2 step (b)):
// with probability Epsilon a uniformly random action, else Greedy(s). It
// panics if s is out of range.
func (ag *Agent) Act(s int) int {
	ag.check(s, 0)
	if ag.act.Float64() < ag.cfg.Epsilon {
		return ag.act.IntN(ag.numActions)
	}
	return ag.Greedy(s, ag.act)
}

// Greedy returns an action of maximal Q(s, ·), ties broken uniformly at
// random with rng, as [Zhang]'s choose_action does: with all values 0 at
// first, taking the first maximal action would send the agent the same way
// every time and lengthen the first episodes far beyond the book's. It
// panics if s is out of range.
func (ag *Agent) Greedy(s int, rng *rand.Rand) int {
	ag.check(s, 0)
	row := ag.q[s*ag.numActions : (s+1)*ag.numActions]
	best := math.Inf(-1)
	ag.ties = ag.ties[:0]
	for a, v := range row {
		switch {
		case v > best:
			best = v
			ag.ties = append(ag.ties[:0], a)
		case v == best:
			ag.ties = append(ag.ties, a)
		}
	}
	if len(ag.ties) == 1 {
		return ag.ties[0]
	}
	return ag.ties[rng.IntN(len(ag.ties))]
}

// Learn takes one real transition from s by action a to next with reward r
// (terminated: next is terminal, so nothing is bootstrapped from it) and
// does steps (d) to (f) of the Tabular Dyna-Q box: the one-step Q-learning
// update, the model update Model(s, a) ← (r, next), and PlanningSteps
// planning updates on model transitions drawn at random (planOnce). A
// truncated episode's last transition is passed with terminated false. It
// panics if s, a or next is out of range.
func (ag *Agent) Learn(s, a int, r float64, next int, terminated bool) {
	ag.check(s, a)
	ag.check(next, 0)
	ag.time++
	ag.update(s, a, r, next, terminated)
	ag.remember(s, a, r, next, terminated)
	for range ag.cfg.PlanningSteps {
		ag.planOnce()
	}
}

// update is the one-step Q-learning update of (s, a) towards
// r + γ·max_a' Q(next, a'), or towards r alone when the transition
// terminates.
func (ag *Agent) update(s, a int, r float64, next int, terminated bool) {
	target := r
	if !terminated {
		row := ag.q[next*ag.numActions : (next+1)*ag.numActions]
		best := row[0]
		for _, v := range row[1:] {
			best = max(best, v)
		}
		target += ag.cfg.Gamma * best
	}
	i := s*ag.numActions + a
	ag.q[i] += ag.cfg.Alpha * (target - ag.q[i])
}

// remember stores the transition in the model. The first action taken
// from a state adds the state's row, whose other actions Dyna-Q+ models as
// staying in place with reward 0, never tried ([SB] section 8.3 footnote;
// [Zhang] TimeModel.feed).
func (ag *Agent) remember(s, a int, r float64, next int, terminated bool) {
	row := int(ag.modelIndex[s])
	if row < 0 {
		row = len(ag.modelState)
		ag.modelIndex[s] = int32(row)
		ag.modelState = append(ag.modelState, s)
		ag.tried = append(ag.tried, nil)
		for range ag.numActions {
			ag.next = append(ag.next, s)
			ag.reward = append(ag.reward, 0)
			ag.terminal = append(ag.terminal, false)
			ag.known = append(ag.known, false)
			ag.lastTried = append(ag.lastTried, 0)
		}
	}
	i := row*ag.numActions + a
	if !ag.known[i] {
		ag.known[i] = true
		ag.tried[row] = append(ag.tried[row], a)
	}
	ag.next[i], ag.reward[i], ag.terminal[i], ag.lastTried[i] = next, r, terminated, ag.time
}

// planOnce is one planning update, [SB] section 8.2 step (f): a pair drawn
// by sample and the Q-learning update on the model's transition
// (planUpdate).
func (ag *Agent) planOnce() {
	row, a := ag.sample()
	ag.planUpdate(row, a)
}

// sample draws a model row (a state) uniformly from those an action was
// taken from, then an action uniformly from those taken there, as the
// book's box says ("random previously observed state", "random action
// previously taken in S") and [Zhang]'s TrivialModel.sample does; Dyna-Q+
// draws the action from all of them. It needs at least one row.
func (ag *Agent) sample() (row, a int) {
	row = ag.plan.IntN(len(ag.modelState))
	if ag.cfg.Plus {
		return row, ag.plan.IntN(ag.numActions)
	}
	tried := ag.tried[row]
	return row, tried[ag.plan.IntN(len(tried))]
}

// planUpdate is the Q-learning update of model row row's action a on the
// modelled transition, whose reward Dyna-Q+ raises by κ√τ, τ being the
// real steps since the pair was last tried, or since the run started if
// never ([Zhang]'s TimeModel stamps untried actions with its first step,
// one step later).
func (ag *Agent) planUpdate(row, a int) {
	i := row*ag.numActions + a
	r := ag.reward[i]
	if ag.cfg.Plus {
		r += ag.cfg.Kappa * math.Sqrt(float64(ag.time-ag.lastTried[i]))
	}
	ag.update(ag.modelState[row], a, r, ag.next[i], ag.terminal[i])
}

// ModelTransition returns what the model holds for (s, a): the next state,
// the reward (without Dyna-Q+'s bonus) and whether it terminates, and
// whether (s, a) was tried for real. A pair never tried has ok false and,
// under Dyna-Q+ once s is visited, the modelled self-loop. It panics if s
// or a is out of range.
func (ag *Agent) ModelTransition(s, a int) (next int, r float64, terminated, ok bool) {
	ag.check(s, a)
	row := int(ag.modelIndex[s])
	if row < 0 {
		return s, 0, false, false
	}
	i := row*ag.numActions + a
	return ag.next[i], ag.reward[i], ag.terminal[i], ag.known[i]
}

func (ag *Agent) check(s, a int) {
	if s < 0 || s >= ag.numStates || a < 0 || a >= ag.numActions {
		panic(fmt.Sprintf("dynaq: state %d, action %d out of range (%d states, %d actions)", s, a, ag.numStates, ag.numActions))
	}
}
