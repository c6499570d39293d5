package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/bptt"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/clearning"
	"github.com/imago-rl/imago/algos/ddpg"
	"github.com/imago-rl/imago/algos/dynaq"
	"github.com/imago-rl/imago/algos/mbpg"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/mpc"
	"github.com/imago-rl/imago/algos/mve"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/algos/sfql"
	"github.com/imago-rl/imago/algos/sr"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// The flagship default of `imago train` with no flags: an algorithm and an
// environment that are compiled in and finish in a few minutes on a laptop.
const (
	defaultAlgorithm = "sac"
	defaultEnv       = "Pendulum-v1"
)

// algorithms is what `imago train --algo NAME` can run. Adding an algorithm
// is one entry: its package's Preset, Config.Validate and Train, and its
// PresetEnvs and PresetYAML where it has presets.
var algorithms = []algorithm{
	withCheckpoints(defineAlgorithm("sac", "Soft Actor-Critic (Haarnoja et al. 2018), model-free", sac.Preset, sac.Config.Validate, sac.Train).
		withPresets(sac.PresetEnvs, sac.PresetYAML), sac.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("mbpo", "Model-Based Policy Optimization (Janner et al. 2019), SAC on learned-model rollouts", mbpo.Preset, mbpo.Config.Validate, mbpo.Train).
		withPresets(mbpo.PresetEnvs, mbpo.PresetYAML), mbpo.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("ddpg", "Deep Deterministic Policy Gradient (Lillicrap et al. 2015), model-free; TD3's switches via --set", ddpg.Preset, ddpg.Config.Validate, ddpg.Train).
		withPresets(ddpg.PresetEnvs, ddpg.PresetYAML), ddpg.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("td3", "TD3 (Fujimoto et al. 2018): DDPG with twin critics, target smoothing and a delayed actor", ddpg.PresetTD3, ddpg.Config.Validate, ddpg.Train).
		withPresets(ddpg.PresetEnvs, ddpg.PresetYAML), ddpg.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("mve", "Model-based Value Expansion (Feinberg et al. 2018), DDPG with H-step model targets", mve.Preset, mve.Config.Validate, mve.Train).
		withPresets(mve.PresetEnvs, mve.PresetYAML), mve.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("steve", "Stochastic Ensemble Value Expansion (Buckman et al. 2018), uncertainty-weighted model targets", mve.PresetSTEVE, mve.Config.Validate, mve.Train).
		withPresets(mve.PresetEnvs, mve.PresetYAML), mve.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("clearning", "C-learning (Eysenbach, Salakhutdinov, Levine 2020), goal-conditioned classifier, point mazes", clearning.Preset, clearning.Config.Validate, clearning.Train).
		withPresets(clearning.PresetEnvs, clearning.PresetYAML), clearning.CheckpointPolicy),
	withCheckpointsPlanner(defineAlgorithm("mpc", "model-predictive control by CEM through the learned ensemble with TS-inf particles (PETS, Chua et al. 2018)", mpc.Preset, mpc.Config.Validate, mpc.Train).
		withPresets(mpc.PresetEnvs, mpc.PresetYAML), mpc.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("mbpg", "likelihood-ratio policy gradient with a value baseline on learned-model rollouts (\"version 2.5\"), on the host", mbpg.Preset, mbpg.Config.Validate, mbpg.Train).
		withPresets(mbpg.PresetEnvs, mbpg.PresetYAML), mbpg.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("bptt", "policy learning by backpropagation through learned-model rollouts, pathwise gradient (\"version 2.0\"), on the host", bptt.Preset, bptt.Config.Validate, bptt.Train).
		withPresets(bptt.PresetEnvs, bptt.PresetYAML), bptt.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("dyna-q", "Dyna-Q and Dyna-Q+ (Sutton and Barto 8.2-8.3), tabular, on the host", dynaq.Preset, dynaq.Config.Validate, dynaq.Train).
		withPresets(dynaq.PresetEnvs, dynaq.PresetYAML), dynaq.CheckpointPolicy),
	withCheckpoints(defineAlgorithm("sr", "successor representation of a fixed policy learned by TD (Dayan 1993), tabular, on the host", sr.Preset, sr.Config.Validate, sr.Train), sr.CheckpointPolicy),
	withEvalTask(withCheckpoints(defineAlgorithm("sfql", "successor features with generalised policy improvement (Barreto et al. 2017), tabular, on the host", sfql.Preset, sfql.Config.Validate, sfql.Train), sfql.CheckpointPolicy)),
}

// algorithm is one entry of the table, with its Config type erased: config
// returns a pointer to a Config value, which --set modifies field by field
// and validate and train read.
type algorithm struct {
	name     string
	summary  string // one line for --help
	config   func(envID string) any
	validate func(cfg any) error
	train    func(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg any, rep algos.Reporter) error

	// presetEnvs lists the environments with a preset, sorted, and
	// presetYAML returns one as its package embeds it, with its comments
	// (see withPresets); both are nil for an algorithm without presets.
	presetEnvs func() []string
	presetYAML func(envID string) (string, bool)

	// policy rebuilds the evaluation policy of an agent saved in a
	// checkpoint, for imago eval; nil for an algorithm whose Train takes
	// no checkpoints (see withCheckpoints).
	// reset, where not nil, runs before each evaluation episode (a
	// planner's warm start).
	policy func(eng engine.Engine, run algos.RunConfig, cfg any, s *checkpoint.State) (p algos.Policy, reset, free func(), err error)
	// prepareEval, where not nil, readies the environment of imago eval
	// for the saved agent (sfql: the task it was learning).
	prepareEval func(e env.Env, s *checkpoint.State) error
}

// withCheckpoints returns a marked as taking checkpoints (its Train saves
// and resumes through an algos.Checkpointer) with policy, its package's
// CheckpointPolicy, for imago eval.
func withCheckpoints[C any](a algorithm, policy func(engine.Engine, algos.RunConfig, C, *checkpoint.State) (algos.Policy, func(), error)) algorithm {
	a.policy = func(eng engine.Engine, run algos.RunConfig, cfg any, s *checkpoint.State) (algos.Policy, func(), func(), error) {
		p, free, err := policy(eng, run, *cfg.(*C), s)
		return p, nil, free, err
	}
	return a
}

// withCheckpointsPlanner is withCheckpoints for an algorithm whose
// evaluation policy keeps state through an episode, which reset drops
// (mpc's planner).
func withCheckpointsPlanner[C any](a algorithm, policy func(engine.Engine, algos.RunConfig, C, *checkpoint.State) (algos.Policy, func(), func(), error)) algorithm {
	a.policy = func(eng engine.Engine, run algos.RunConfig, cfg any, s *checkpoint.State) (algos.Policy, func(), func(), error) {
		return policy(eng, run, *cfg.(*C), s)
	}
	return a
}

// defineAlgorithm makes a table entry from an algorithm package's API,
// which every algorithm shares whatever its Config type C.
func defineAlgorithm[C any](
	name, summary string,
	preset func(envID string) C,
	validate func(C) error,
	train func(context.Context, engine.Engine, algos.RunConfig, C, algos.Reporter) error,
) algorithm {
	return algorithm{
		name:     name,
		summary:  summary,
		config:   func(envID string) any { c := preset(envID); return &c },
		validate: func(cfg any) error { return validate(*cfg.(*C)) },
		train: func(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg any, rep algos.Reporter) error {
			return train(ctx, eng, run, *cfg.(*C), rep)
		},
	}
}

// withPresets returns a with the per-environment presets of its package:
// the environment ids that have one (sorted) and the text of one.
func (a algorithm) withPresets(envs func() []string, text func(envID string) (string, bool)) algorithm {
	a.presetEnvs, a.presetYAML = envs, text
	return a
}

// withEvalTask returns a (sfql) with the evaluation environment given the
// task of the saved agent, which a fresh FourRooms-v0 does not have.
func withEvalTask(a algorithm) algorithm {
	a.prepareEval = func(e env.Env, s *checkpoint.State) error {
		t, ok := e.(interface{ SetTask(w []float64) })
		if !ok {
			return fmt.Errorf("%T has no tasks to set", e)
		}
		w, err := sfql.CheckpointTask(s)
		if err != nil {
			return err
		}
		t.SetTask(w)
		return nil
	}
	return a
}

// lookupAlgorithm returns the entry named name, or an error listing the
// names there are.
func lookupAlgorithm(name string) (algorithm, error) {
	for _, a := range algorithms {
		if a.name == name {
			return a, nil
		}
	}
	return algorithm{}, fmt.Errorf("unknown algorithm %q (known: %s)", name, strings.Join(algorithmNames(), ", "))
}

func algorithmNames() []string {
	var names []string
	for _, a := range algorithms {
		names = append(names, a.name)
	}
	return names
}
