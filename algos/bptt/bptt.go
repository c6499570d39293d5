// Package bptt is policy learning by backpropagation through a learned
// model ("version 2.0" of S. Levine's CS 285 lecture 12): real episodes and
// model fitting alternate, and between them the policy climbs the gradient
// of the H-step return of rollouts through the learned model, computed by
// backpropagating through the model's and the policy's Jacobians with the
// model's noise reparameterised (s' = μ + σ·ε, ε fixed) — the pathwise
// gradient.
//
// The model is algos/mbpo's probabilistic ensemble (mbpo.Dynamics), trained
// on the engine; after every training its elite members are copied to the
// host (Member) and the rollouts and their gradients run there in float64,
// one fixed elite per rollout. The reward is the model's reward head, which
// is differentiable in the state and the action.
//
// The package also holds what the gradient study needs (study.go): the
// likelihood-ratio estimator beside the pathwise one, on the same
// Problem, and Study, which compares their variance as the horizon grows.
// algos/mbpg builds on its host policy, models and rollouts.
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build; the engine's Philox stream (seed) trains the model,
// and a host PCG stream (seed, HostKey) draws the random actions, the
// policy's noise, the start states, the members and the model noise.
package bptt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// Columns are the names of the values of every Row that Train records, in
// order. model_mse is the elites' mean holdout MSE (standardised units) of
// the last model training; model_return the mean H-step return of the
// model rollouts and grad_norm the mean policy gradient norm before
// clipping, over the policy steps since the previous evaluation;
// policy_std the mean σ of the policy's Gaussian; train_return the mean
// return of the training episodes ended since the previous evaluation. Each
// is NaN when there is nothing to average.
var Columns = []string{
	"eval_return", "eval_return_std", "train_return",
	"model_mse", "model_return", "grad_norm", "policy_std", "wall_seconds",
}

// HostKey separates the host PCG stream's second word from the seed.
const HostKey = 0xb977_0000_2000_0001

// Train runs bptt on run.Env for run.Steps environment steps with cfg, the
// model training on eng, and reports to rep like sac.Train: Progress after
// every environment step and Record with Columns after every run.EvalEvery
// steps and after the last, each evaluation being run.EvalEpisodes episodes
// of the deterministic policy (the squashed mean). It returns ctx.Err() as
// soon as ctx is cancelled, the first error of rep.Record, or an error for
// an invalid configuration, an environment without a bounded Box action
// space, or a diverged model (an algos.DivergedError when a column of the
// model or the policy steps, or the policy's action, turns NaN or
// infinite).
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, wall_seconds
// apart, as the run that was never interrupted.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	trainEnv, err := env.Make(run.Env)
	if err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	evalEnv, _ := env.Make(run.Env)
	space := trainEnv.ActionSpace()
	if err := sac.CheckActionSpace(run.Env, space); err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	obsDim, actDim := trainEnv.ObservationSpace().Dim(), space.Dim()

	hostSrc := rand.NewPCG(uint64(run.Seed), HostKey)
	host := rand.New(hostSrc)
	policy, err := NewGaussianPolicy(obsDim, actDim, cfg.PolicyHidden, cfg.InitLogStd, space.Low, space.High)
	if err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	policy.Init(host)
	opt := NewAdam64(len(policy.Params), cfg.PolicyLR)

	// The real data: the replay buffer the model trains on (actions in
	// the environment's units) and a host copy of its states, the rollouts'
	// start states.
	capacity := min(cfg.BufferSize, run.Steps)
	buffer := replay.New(eng, capacity, obsDim, actDim)
	defer buffer.Free()
	starts := NewStartStates(capacity)
	rng := engine.NewRNG(uint64(run.Seed))
	dyn, err := mbpo.NewDynamics(eng, cfg.Model.MBPO(), obsDim, actDim, capacity, rng, uint64(run.Seed))
	if err != nil {
		return fmt.Errorf("bptt: %w", err)
	}
	defer dyn.Free()

	var (
		episodes    = algos.NewEpisodes(trainEnv, run.Seed)
		modelMSE    = math.NaN()
		sumModelRet float64
		sumGradNorm float64
		updates     int
		tr          replay.Transitions
		act32       = make([]float32, actDim)
	)
	// save puts everything the loop carries from one step to the next
	// into a checkpoint: the policy and its optimizer, the learned model,
	// the real data, the generators, the training episodes (the
	// environment included) and the sums since the last evaluation.
	save := func(s *checkpoint.State) error {
		policy.Save(s, "policy")
		opt.Save(s, "policy_opt")
		dyn.Save(s, "model.")
		buffer.Save(s, "replay")
		starts.Save(s, "starts")
		s.PutPCG("host_rng", hostSrc)
		s.PutRNG("rng", rng)
		s.PutFloats("loop.sums", []float64{modelMSE, sumModelRet, sumGradNorm})
		if err := s.PutValue("loop", loopState{Updates: updates}); err != nil {
			return err
		}
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("bptt: %w", err)
	} else if s != nil {
		var loop loopState
		if err := errors.Join(policy.Load(s, "policy"), opt.Load(s, "policy_opt"), dyn.Load(s, "model."),
			buffer.Load(s, "replay"), starts.Load(s, "starts", obsDim), s.PCG("host_rng", hostSrc),
			s.RNG("rng", rng), s.Value("loop", &loop), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("bptt: resume: %w", err)
		}
		sums, err := s.Floats("loop.sums")
		if err != nil {
			return fmt.Errorf("bptt: resume: %w", err)
		}
		if len(sums) != len(loopSums) {
			return fmt.Errorf("bptt: resume: loop.sums holds %d values, want %d (%v)", len(sums), len(loopSums), loopSums)
		}
		modelMSE, sumModelRet, sumGradNorm, updates = sums[0], sums[1], sums[2], loop.Updates
		from = step
	}
	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}

		// Act: uniformly random until the first model training, then a
		// sample of the policy.
		obs := episodes.Obs
		var a []float64
		if step <= cfg.InitialSteps {
			a = RandomAction(host, space)
		} else {
			a, _ = policy.Act(obs, normals(host, actDim), false)
		}
		for i, v := range a {
			act32[i] = float32(v)
		}
		if err := algos.CheckAction(step, act32, rep); err != nil {
			return fmt.Errorf("bptt: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(a)
		tr.Set(obs, act32, reward, next, terminated)
		buffer.Add(tr)
		starts.Add(obs)
		episodes.Step(next, reward, terminated || truncated)

		// Learn: fit the model, then take PolicyUpdates pathwise gradient
		// steps on its rollouts.
		if step >= cfg.InitialSteps && (step-cfg.InitialSteps)%cfg.TrainEvery == 0 {
			st, err := dyn.Train(buffer, rng)
			if err != nil {
				return fmt.Errorf("bptt: step %d: %w", step, err)
			}
			modelMSE = st.EliteMSE
			elites, err := MembersFrom(eng, dyn.Model, obsDim, dyn.Elites)
			if err != nil {
				return fmt.Errorf("bptt: %w", err)
			}
			for range cfg.PolicyUpdates {
				prob := Problem{
					Policy:  policy,
					Models:  RandomMembers(host, elites, cfg.Rollouts),
					Starts:  starts.Sample(host, cfg.Rollouts),
					Horizon: cfg.Horizon,
					Gamma:   cfg.Gamma,
				}
				grad, ret, err := Pathwise(prob, host)
				if err != nil {
					return fmt.Errorf("bptt: %w", err)
				}
				if !finite(grad) {
					return fmt.Errorf("bptt: step %d: the pathwise gradient is not finite (model return %g)", step, ret)
				}
				// Adam descends; the gradient is of the return.
				for i := range grad {
					grad[i] = -grad[i]
				}
				sumGradNorm += ClipNorm(grad, cfg.MaxGradNorm)
				sumModelRet += ret
				updates++
				opt.Step(policy.Params, grad)
				policy.ClampLogStd(LogStdMin, LogStdMax)
			}
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			mean, std, err := algos.Evaluate(context.WithoutCancel(ctx), evalEnv, policy.Mode, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			modelRet, gradNorm := ratio(sumModelRet, updates), ratio(sumGradNorm, updates)
			if updates > 0 {
				// Without policy steps since the last evaluation the
				// means are NaN by definition.
				if err := algos.CheckFinite(step, Columns[3:6], []float64{modelMSE, modelRet, gradNorm}, rep); err != nil {
					return fmt.Errorf("bptt: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				mean, std, episodes.TakeMeanReturn(),
				modelMSE, modelRet, gradNorm,
				MeanStd(policy), saver.Elapsed(),
			}}
			sumModelRet, sumGradNorm, updates = 0, 0, 0
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("bptt: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("bptt: %w", err)
		}
	}
	return nil
}

// StartStates keeps the last capacity real observations on the host, the
// start states of model rollouts.
type StartStates struct {
	obs  [][]float64
	next int
}

// NewStartStates returns an empty store of capacity observations.
func NewStartStates(capacity int) *StartStates {
	return &StartStates{obs: make([][]float64, 0, capacity)}
}

// Add stores a copy of obs, overwriting the oldest when full.
func (s *StartStates) Add(obs []float64) {
	o := append([]float64(nil), obs...)
	if len(s.obs) < cap(s.obs) {
		s.obs = append(s.obs, o)
		return
	}
	s.obs[s.next] = o
	s.next = (s.next + 1) % len(s.obs)
}

// Sample returns n observations drawn uniformly with replacement. It
// panics when the store is empty (the training loops sample only after
// their initial steps).
func (s *StartStates) Sample(rng *rand.Rand, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = s.obs[rng.IntN(len(s.obs))]
	}
	return out
}

// RandomMembers returns, for n rollouts, each rollout's member drawn
// uniformly from members.
func RandomMembers(rng *rand.Rand, members []*Member, n int) func(int) Model {
	pick := make([]*Member, n)
	for i := range pick {
		pick[i] = members[rng.IntN(len(members))]
	}
	return func(i int) Model { return pick[i] }
}

// RandomAction returns an action uniform in the Box space.
func RandomAction(rng *rand.Rand, space env.Space) []float64 {
	a := make([]float64, space.Dim())
	for i := range a {
		a[i] = space.Low[i] + (space.High[i]-space.Low[i])*rng.Float64()
	}
	return a
}

// MeanStd returns the mean σ of the policy's Gaussian.
func MeanStd(p *GaussianPolicy) float64 {
	s := 0.0
	for _, v := range p.LogStd {
		s += math.Exp(v)
	}
	return s / float64(len(p.LogStd))
}

func ratio(sum float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
