package mbpg

import (
	"fmt"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/bptt"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// loopSums names the float64s that Train sums between evaluations, as its
// checkpoints store them; any may be NaN.
var loopSums = []string{"model_mse", "sum_model_return", "sum_value_loss"}

// loopState is the count of Train's loop besides its sums.
type loopState struct {
	Updates int `json:"updates"` // policy steps since the last evaluation
}

// CheckpointPolicy returns the deterministic policy of the agent saved in s
// by Train with cfg on run.Env, the one Train evaluates: the squashed mean
// of the Gaussian (bptt.GaussianPolicy.Mode). free does nothing: the
// policy lives on the host, and eng is not used.
func CheckpointPolicy(_ engine.Engine, run algos.RunConfig, cfg Config, s *checkpoint.State) (policy algos.Policy, free func(), err error) {
	e, err := env.Make(run.Env)
	if err != nil {
		return nil, nil, fmt.Errorf("mbpg: %w", err)
	}
	space := e.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, space); err != nil {
		return nil, nil, fmt.Errorf("mbpg: %w", err)
	}
	p, err := bptt.NewGaussianPolicy(e.ObservationSpace().Dim(), space.Dim(), cfg.PolicyHidden, cfg.InitLogStd, space.Low, space.High)
	if err != nil {
		return nil, nil, fmt.Errorf("mbpg: %w", err)
	}
	if err := p.Load(s, "policy"); err != nil {
		return nil, nil, fmt.Errorf("mbpg: %w", err)
	}
	return p.Mode, func() {}, nil
}
