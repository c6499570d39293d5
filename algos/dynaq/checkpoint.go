package dynaq

import (
	"fmt"
	"math/rand/v2"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
)

// modelState is the model part of an Agent's checkpoint: row r of every
// per-pair slice holds the NumActions entries of state States[r], as in
// Agent. The rewards are stored apart, exactly (PutFloats).
type modelState struct {
	States    []int   `json:"states"`
	Tried     [][]int `json:"tried"`
	Next      []int   `json:"next"`
	Terminal  []bool  `json:"terminal"`
	Known     []bool  `json:"known"`
	LastTried []int   `json:"last_tried"`
	Time      int     `json:"time"`
}

// Save puts the agent's whole state into s under prefix: the Q table, the
// model (its pairs in the order first seen, the actions tried from each,
// their modelled transitions and when each was last tried), the real
// steps learned from, and the states of the two generators.
func (ag *Agent) Save(s *checkpoint.State, prefix string) {
	s.PutFloats(prefix+"q", ag.q)
	s.PutFloats(prefix+"model.reward", ag.reward)
	// Ints and bools always marshal.
	_ = s.PutValue(prefix+"model", modelState{
		States: ag.modelState, Tried: ag.tried, Next: ag.next,
		Terminal: ag.terminal, Known: ag.known, LastTried: ag.lastTried, Time: ag.time,
	})
	s.PutPCG(prefix+"act_rng", ag.actSrc)
	s.PutPCG(prefix+"plan_rng", ag.planSrc)
}

// Load restores what Save put into s under prefix. The agent must have been
// made by NewAgent with the same Config and sizes; a checkpoint of other
// sizes, or whose model is not one Learn could have built, is an error
// naming what is wrong, and leaves the agent as it was.
func (ag *Agent) Load(s *checkpoint.State, prefix string) error {
	q, err := s.Floats(prefix + "q")
	if err != nil {
		return err
	}
	if want := ag.numStates * ag.numActions; len(q) != want {
		return fmt.Errorf("%sq has %d values, want %d states × %d actions = %d", prefix, len(q), ag.numStates, ag.numActions, want)
	}
	reward, err := s.Floats(prefix + "model.reward")
	if err != nil {
		return err
	}
	var m modelState
	if err := s.Value(prefix+"model", &m); err != nil {
		return err
	}
	index, err := ag.checkModel(prefix, m, len(reward))
	if err != nil {
		return err
	}
	act, plan := *ag.actSrc, *ag.planSrc
	if err := s.PCG(prefix+"act_rng", &act); err != nil {
		return err
	}
	if err := s.PCG(prefix+"plan_rng", &plan); err != nil {
		return err
	}
	ag.q, ag.reward = q, reward
	ag.modelIndex, ag.modelState, ag.tried = index, m.States, m.Tried
	ag.next, ag.terminal, ag.known, ag.lastTried, ag.time = m.Next, m.Terminal, m.Known, m.LastTried, m.Time
	*ag.actSrc, *ag.planSrc = act, plan
	return nil
}

// checkModel checks a saved model against the agent's sizes and against
// what remember builds, so that no later Learn or planning update can index
// out of range, and returns the index of its states.
func (ag *Agent) checkModel(prefix string, m modelState, rewards int) ([]int32, error) {
	name := prefix + "model"
	rows := len(m.States)
	if rows > ag.numStates {
		return nil, fmt.Errorf("%s has %d states, more than the %d there are", name, rows, ag.numStates)
	}
	n := rows * ag.numActions
	for _, f := range []struct {
		what string
		len  int
	}{{"next states", len(m.Next)}, {"rewards", rewards}, {"terminal flags", len(m.Terminal)}, {"known flags", len(m.Known)}, {"last-tried steps", len(m.LastTried)}} {
		if f.len != n {
			return nil, fmt.Errorf("%s has %d %s, want %d states × %d actions = %d", name, f.len, f.what, rows, ag.numActions, n)
		}
	}
	if len(m.Tried) != rows {
		return nil, fmt.Errorf("%s has %d lists of tried actions for %d states", name, len(m.Tried), rows)
	}
	if m.Time < 0 {
		return nil, fmt.Errorf("%s: %d real steps learned from, want ≥ 0", name, m.Time)
	}
	index := make([]int32, ag.numStates)
	for i := range index {
		index[i] = -1
	}
	for r, st := range m.States {
		if st < 0 || st >= ag.numStates {
			return nil, fmt.Errorf("%s: state %d of row %d is out of range [0, %d)", name, st, r, ag.numStates)
		}
		if index[st] >= 0 {
			return nil, fmt.Errorf("%s: state %d has two rows, %d and %d", name, st, index[st], r)
		}
		index[st] = int32(r)
		// remember adds a row with the first action tried from it, and
		// Dyna-Q's sample draws from the tried ones.
		if len(m.Tried[r]) == 0 {
			return nil, fmt.Errorf("%s: state %d has a row but no action tried", name, st)
		}
		tried := 0
		for _, a := range m.Tried[r] {
			if a < 0 || a >= ag.numActions || !m.Known[r*ag.numActions+a] {
				return nil, fmt.Errorf("%s: state %d lists action %d as tried, which is not a known action of [0, %d)", name, st, a, ag.numActions)
			}
		}
		for a := range ag.numActions {
			i := r*ag.numActions + a
			if m.Known[i] {
				tried++
			}
			if m.Next[i] < 0 || m.Next[i] >= ag.numStates {
				return nil, fmt.Errorf("%s: next state %d of (%d, %d) is out of range [0, %d)", name, m.Next[i], st, a, ag.numStates)
			}
			if m.LastTried[i] < 0 || m.LastTried[i] > m.Time {
				return nil, fmt.Errorf("%s: (%d, %d) was last tried at step %d, want one in [0, %d]", name, st, a, m.LastTried[i], m.Time)
			}
		}
		// Every listed action is known; as many known as listed makes the
		// list those actions, each once.
		if tried != len(m.Tried[r]) {
			return nil, fmt.Errorf("%s: state %d lists %d tried actions but %d are known", name, st, len(m.Tried[r]), tried)
		}
	}
	return index, nil
}

// CheckpointPolicy returns the greedy policy of the Q table saved in s by
// Train with cfg on run.Env: the action of maximal Q in the state of the
// observation (env.Tabular's StateIDOf), ties broken uniformly at random by
// a generator of its own seeded from run.Seed, as Train's first evaluation
// episode breaks them. Train's evaluations reseed that generator for every
// episode and, on the mazes, walk the training environment's current
// layout; the policy here knows neither episodes nor layouts, so its
// returns on a fresh environment may differ from the eval_return of the
// checkpoint's step. free does nothing: the table lives on the host, and
// eng is not used.
func CheckpointPolicy(_ engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("dynaq: %w", err)
	}
	e, numActions, err := makeTabular(run.Env)
	if err != nil {
		return nil, nil, err
	}
	agent, err := NewAgent(cfg, e.NumStates(), numActions, uint64(run.Seed))
	if err != nil {
		return nil, nil, fmt.Errorf("dynaq: %w", err)
	}
	if err := agent.Load(s, "agent."); err != nil {
		return nil, nil, fmt.Errorf("dynaq: %w", err)
	}
	ties := rand.New(rand.NewPCG(uint64(run.Seed+algos.EvalSeedOffset), evalStream))
	action := make([]float64, 1)
	policy = func(obs []float64) []float64 {
		action[0] = float64(agent.Greedy(e.StateIDOf(obs), ties))
		return action
	}
	return policy, func() {}, nil
}
