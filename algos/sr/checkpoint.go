package sr

import (
	"errors"
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
)

// Save puts the learner's state into s under prefix, exactly: H, the
// rewards R(s, a) last observed and, for Load to check, the policy π.
func (l *Learner) Save(s *checkpoint.State, prefix string) {
	s.PutFloats(prefix+"h", l.h)
	s.PutFloats(prefix+"reward", l.reward)
	s.PutFloats(prefix+"policy", l.policy)
}

// Load restores what Save put into s under prefix. The learner must have
// been made by NewLearner with the same sizes and policy; otherwise Load
// returns an error naming the difference and leaves the learner as it was.
// γ and α are not stored: they are the caller's configuration.
func (l *Learner) Load(s *checkpoint.State, prefix string) error {
	policy, err := s.Floats(prefix + "policy")
	if err != nil {
		return err
	}
	if len(policy) != len(l.policy) {
		return fmt.Errorf("%spolicy has %d probabilities, want %d states × %d actions = %d", prefix, len(policy), l.numStates, l.numActions, len(l.policy))
	}
	for i, p := range policy {
		if math.Float64bits(p) != math.Float64bits(l.policy[i]) {
			return fmt.Errorf("%spolicy: π(%d|%d) = %v, but the learner's policy has %v: the checkpoint is the SR of another policy", prefix, i%l.numActions, i/l.numActions, p, l.policy[i])
		}
	}
	h, err := s.Floats(prefix + "h")
	if err != nil {
		return err
	}
	if len(h) != len(l.h) {
		return fmt.Errorf("%sh has %d values, want %d states² × %d actions = %d", prefix, len(h), l.numStates, l.numActions, len(l.h))
	}
	reward, err := s.Floats(prefix + "reward")
	if err != nil {
		return err
	}
	if len(reward) != len(l.reward) {
		return fmt.Errorf("%sreward has %d values, want %d states × %d actions = %d", prefix, len(reward), l.numStates, l.numActions, len(l.reward))
	}
	l.h, l.reward = h, reward
	return nil
}

// loopState is what Train counts besides the learner, saved in its
// checkpoints.
type loopState struct {
	Episode int64  `json:"episode"` // training episodes ended so far
	Visited []bool `json:"visited"` // the states acted from so far
}

// ErrNoPolicy is the error of CheckpointPolicy: the successor
// representation of a fixed policy has no policy of its own to evaluate.
var ErrNoPolicy = errors.New("sr learns the successor representation of a fixed policy (the uniform random one) and has no policy of its own: evaluating a checkpoint does not apply; its learned values are v_start and sr_error in metrics.csv")

// CheckpointPolicy returns ErrNoPolicy, whatever s holds. Train learns the
// successor representation of the uniform random policy, which does not
// change as it learns: the eval_return of its rows measures that fixed
// policy on the task, the same at every step, and a checkpoint holds no
// other policy to evaluate. What a checkpoint holds is the learned SR,
// whose quality Train reports as v_start and sr_error.
func CheckpointPolicy(eng engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	return nil, nil, ErrNoPolicy
}
