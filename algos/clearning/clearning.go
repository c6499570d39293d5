// Package clearning is C-learning (Eysenbach, Salakhutdinov, Levine 2021,
// "C-Learning: Learning to Achieve Goals via Recursive Classification"):
// goal-conditioned reinforcement learning as learning, by classification,
// the density of the states a policy reaches in the future, and acting to
// make the goal likely.
//
// # The classifier and its fixed point
//
// A classifier C(s, a, g) ∈ (0, 1) learns to tell goals g drawn from the
// discounted future of (s, a) under the policy π,
//
//	p^π(s_{t+} = g | s, a) = (1−γ) Σ_{Δ≥1} γ^(Δ−1) p^π(s_{t+Δ} = g | s_t = s, a_t = a),
//
// from goals drawn from the replay buffer's states, p(g). At the optimum
// of a balanced cross-entropy, C/(1−C) = p^π(g | s, a)/p(g). Monte-Carlo
// positives are not available off-policy, but the density obeys a Bellman
// equation, p^π(g | s, a) = (1−γ)·p(s' = g | s, a) + γ·E_{s', a'~π(s')}
// [p^π(g | s', a')], and so the classifier can be trained by recursive
// classification ([CL] section 5): half of every batch has the next state
// as goal, label 1 and weight 1−γ; the other half a random goal, with the
// label γw/(1+γw) and weight 1+γw, where w = C̄/(1−C̄) at (s', a' ~ π(s'), g)
// from target classifiers estimates p^π(g | s', a')/p(g). The expected loss
// is minimised where C/(1−C) = (1−γ)p(s' = g)/p(g) + γ·E[w], the Bellman
// equation divided by p(g). Update (update.go) is that loss; Batch and
// Buffer (buffer.go) the relabelling.
//
// With a share f of future goals (Monte-Carlo positives of weight 1, [CL]
// appendix E) and n = ½ − f of next-state goals, the same argument gives
// the fixed point only if the bootstrapped term is scaled by λ = n/(n+f):
// labels λγw/(1+λγw), weights 1+λγw (Config.LambdaFix).
//
// # The policy
//
// The policy π(a | s, g) maximises min_e C_e(s, a, g) over the batch's
// relabelled goals (Agent). Acting towards a goal g is then choosing the
// action under which g is most likely in the future relative to its base
// rate.
//
// # The density check
//
// DensityCheck (density.go) demonstrates the fixed point: it trains the
// classifier alone for a fixed policy on a point maze and compares
// C/(1−C)·p(g) with a Monte-Carlo estimate of p^π(g | s, a) on a grid of
// goals, reporting their Pearson correlation and drawing both as a heat
// map (internal/plot).
//
// # Against the official implementation
//
// google-research/google-research c_learning (CLearningAgent.critic_loss
// and actor_loss, c_learning_utils.goal_fn, train_eval.py) is followed in
// the loss, the batch's layout (next, future, then random rows), the
// weights and labels, the clip of w at 1/(1−γ), the critic loss weight ½,
// the random goals (states s_t of buffer transitions), the stochastic
// tanh-Gaussian policy without entropy term and its actor loss, and every
// default. The differences:
//
//   - the cross-entropy is computed from the logits ([Official] applies
//     Keras' cross-entropy to the sigmoid's output, clipped at 1e-7);
//   - labels of random goals are γw/(1+γw) always: [Official] computes
//     r + (1−r)·y with r = 1 where the random goal equals the next state
//     exactly, which happens with probability about 1/buffer size;
//   - future goals are s_{t+Δ} with Δ ≥ 1 (GeometricOffset), within the
//     episode; [Official] draws Δ ≥ 0, the current state included, and ends
//     an episode only at a terminal step;
//   - the numbers of next and future rows are ⌊·⌋ of the shares, and the
//     random rows exactly half the batch (SplitOf); [Official] counts them
//     with int() in goal_fn and round() in the loss, which can disagree by
//     a row;
//   - LambdaFix is on by default ([Official] lambda_fix is off); with the
//     default FutureShare 0 the two agree;
//   - initialisation is PyTorch's default rather than Glorot-uniform, and
//     the policy's log standard deviation is bounded (Agent).
//
// Determinism: a run is a pure function of its RunConfig, its Config, the
// engine and the build. The engine's Philox stream, seeded by RunConfig.Seed,
// initialises the networks and draws every minibatch, random goal and all
// policy noise; the random actions before learning starts and the future
// goals' offsets come from host-side Philox streams keyed by the seed XOR
// ExploreKey and RelabelKey. Apart from the wall_seconds column, two runs
// with the same inputs report the same numbers bit for bit.
package clearning

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// Columns are the names of the values of every Row that Train records, in
// order:
//
//   - eval_return, eval_return_std: the mean and standard deviation of the
//     undiscounted returns of RunConfig.EvalEpisodes episodes of the
//     deterministic policy tanh(μ) (on a point maze, the number of steps
//     spent within the goal radius);
//   - eval_success: the share of those episodes that end within the goal
//     radius (GoalEnv.Success after the last step);
//   - eval_final_distance, eval_min_distance: the mean over those episodes
//     of the distance to the goal after the last step and of the smallest
//     distance after any step;
//   - train_success: the share of the training episodes ended since the
//     previous evaluation that ended within the goal radius (NaN if none
//     did);
//   - critic_loss, actor_loss, c_positive, c_random, w: means over the
//     gradient steps since the previous evaluation (NaN before learning
//     starts) of the classifiers' loss, the policy's loss, C at positive
//     and at random goals, and the clipped weight w;
//   - wall_seconds: the time since Train started, the only column that
//     differs between two runs of the same seed.
var Columns = []string{
	"eval_return", "eval_return_std", "eval_success", "eval_final_distance", "eval_min_distance",
	"train_success", "critic_loss", "actor_loss", "c_positive", "c_random", "w", "wall_seconds",
}

// ExploreKey and RelabelKey separate the Philox keys of the random actions
// taken before learning starts (seed XOR ExploreKey) and of the future
// goals' offsets (seed XOR RelabelKey) from the engine's stream, whose key
// is the seed itself.
const (
	ExploreKey = 0xc1ea_e4b1_0e00_0001
	RelabelKey = 0xc1ea_4e1a_be10_0002
)

// Train runs C-learning on run.Env, which must be a goal-conditioned
// environment (env.GoalEnv) with a bounded Box action space, for run.Steps
// environment steps with cfg, computing on eng, and reports to rep:
// Progress after every environment step, and Record with the columns of
// Columns after every run.EvalEvery steps and after the last step. It
// returns ctx.Err() as soon as ctx is cancelled, the first error of
// rep.Record, an algos.DivergedError when a loss turns NaN or infinite, or
// an error for an invalid configuration or an environment C-learning
// cannot run on.
//
// When rep is an algos.Checkpointer (algos.Checkpoints), Train saves its
// whole state when one is due, after the last step and when ctx is
// cancelled, and continues from the state rep resumes, if any: a run
// resumed from any of its checkpoints reports the same rows, wall_seconds
// apart, as the run that was never interrupted. The training environment
// must then be an env.Snapshotter, as every environment of package env is.
func Train(ctx context.Context, eng engine.Engine, run algos.RunConfig, cfg Config, rep algos.Reporter) error {
	if err := run.Validate(); err != nil {
		return fmt.Errorf("clearning: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("clearning: %w", err)
	}
	trainEnv, err := makeGoalEnv(run.Env)
	if err != nil {
		return err
	}
	evalEnv, err := makeGoalEnv(run.Env)
	if err != nil {
		return err
	}
	layout, err := LayoutOf(run.Env, trainEnv)
	if err != nil {
		return err
	}
	actSpace := trainEnv.ActionSpace()
	if err := checkActionSpace(run.Env, actSpace); err != nil {
		return err
	}

	// The networks, the replay buffer and the scratch of acting. One
	// Philox stream initialises the networks and then draws minibatches,
	// random goals and policy noise.
	rng := engine.NewRNG(uint64(run.Seed))
	split := SplitOf(cfg.BatchSize, cfg.FutureShare)
	agent, err := NewAgent(eng, cfg, split, layout.Obs, layout.Act, rng)
	if err != nil {
		return fmt.Errorf("clearning: %w", err)
	}
	defer agent.Free()
	buffer := NewBuffer(eng, min(cfg.BufferSize, run.Steps), layout)
	defer buffer.Free()
	batch := NewBatch(eng, split, layout)
	defer batch.Free(eng)
	explore := engine.NewRNG(uint64(run.Seed) ^ ExploreKey)
	relabel := engine.NewRNG(uint64(run.Seed) ^ RelabelKey)
	act := newActor(eng, agent.Policy(), actSpace, layout.Obs)
	defer act.free()

	episodes := algos.NewEpisodes(trainEnv, run.Seed)
	// The training episodes that ended, and those of them that ended
	// within the goal radius, since the last evaluation.
	var train trainCounts
	// save puts everything the loop carries from one step to the next
	// into a checkpoint; resuming loads it back.
	save := func(s *checkpoint.State) error {
		agent.Save(s, "agent.")
		buffer.Save(s, "replay")
		s.PutRNG("rng", rng)
		s.PutRNG("explore", explore)
		s.PutRNG("relabel", relabel)
		// A trainCounts of ints always marshals.
		_ = s.PutValue("train_success", train)
		return episodes.Save(s, "episodes")
	}
	saver := algos.NewSaver(rep)
	from := 0
	if s, step, err := saver.Resume(); err != nil {
		return fmt.Errorf("clearning: %w", err)
	} else if s != nil {
		if err := errors.Join(agent.Load(s, "agent."), buffer.Load(s, "replay"),
			s.RNG("rng", rng), s.RNG("explore", explore), s.RNG("relabel", relabel),
			train.load(s, "train_success"), episodes.Load(s, "episodes")); err != nil {
			return fmt.Errorf("clearning: resume: %w", err)
		}
		from = step
	}

	for step := from + 1; step <= run.Steps; step++ {
		if ctx.Err() != nil {
			return saver.Interrupted(ctx, step-1, save)
		}

		// Act: uniformly random actions until learning starts, then a
		// sample of the policy for the episode's own goal. a is in
		// (−1, 1); the environment gets it rescaled to its bounds.
		var a []float32
		if step <= cfg.LearningStarts {
			a = act.random(explore)
		} else {
			a = act.sample(episodes.Obs, rng)
		}
		if err := algos.CheckAction(step, a, rep); err != nil {
			return fmt.Errorf("clearning: %w", err)
		}
		next, reward, terminated, truncated := trainEnv.Step(act.rescale(a))

		// Store the transition; its goal is relabelled when sampled. An
		// episode's success is read before the next one resets the
		// environment.
		done := terminated || truncated
		buffer.Add(episodes.Obs, a, next, done)
		if done {
			if trainEnv.Success() {
				train.Successes++
			}
			train.Ended++
		}
		episodes.Step(next, reward, done)

		// Learn: UpdatesPerStep gradient steps on relabelled minibatches,
		// once LearningStarts random transitions are stored.
		if step > cfg.LearningStarts {
			for range cfg.UpdatesPerStep {
				buffer.Sample(batch, rng, relabel, cfg.Gamma)
				agent.Update(batch, rng)
			}
		}
		rep.Progress(step)

		// Evaluate and report. An evaluation runs to its end even when
		// ctx is cancelled during it, so that the checkpoint taken then
		// follows a complete step.
		if step%run.EvalEvery == 0 || step == run.Steps {
			ev, err := Evaluate(context.WithoutCancel(ctx), evalEnv, act.mode, run.EvalEpisodes, run.Seed+algos.EvalSeedOffset)
			if err != nil {
				return err
			}
			trainSuccess := nan()
			if train.Ended > 0 {
				trainSuccess = float64(train.Successes) / float64(train.Ended)
			}
			train = trainCounts{}
			m := agent.TakeMetrics()
			losses := []float64{m.Loss, m.ActorLoss, m.CPositive, m.CRandom, m.W}
			if step > cfg.LearningStarts {
				if err := algos.CheckFinite(step, Columns[6:11], losses, rep); err != nil {
					return fmt.Errorf("clearning: %w", err)
				}
			}
			row := algos.Row{EnvSteps: step, Names: Columns, Values: []float64{
				ev.Return, ev.ReturnStd, ev.Success, ev.FinalDistance, ev.MinDistance,
				trainSuccess, m.Loss, m.ActorLoss, m.CPositive, m.CRandom, m.W, saver.Elapsed(),
			}}
			if err := rep.Record(row); err != nil {
				return fmt.Errorf("clearning: record evaluation at step %d: %w", step, err)
			}
		}
		if err := saver.After(step, run.Steps, save); err != nil {
			return fmt.Errorf("clearning: %w", err)
		}
	}
	return nil
}

// trainCounts counts the training episodes that ended since the last
// evaluation, and those of them that ended within the goal radius.
type trainCounts struct {
	Ended     int `json:"ended"`
	Successes int `json:"successes"`
}

// load restores the counts saved as the value name.
func (t *trainCounts) load(s *checkpoint.State, name string) error {
	var v trainCounts
	if err := s.Value(name, &v); err != nil {
		return err
	}
	if v.Ended < 0 || v.Successes < 0 || v.Successes > v.Ended {
		return fmt.Errorf("%s: %d successes of %d training episodes is impossible", name, v.Successes, v.Ended)
	}
	*t = v
	return nil
}

// makeGoalEnv returns a new environment id, or an error if there is none or
// it is not goal-conditioned.
func makeGoalEnv(id string) (env.GoalEnv, error) {
	e, err := env.Make(id)
	if err != nil {
		return nil, fmt.Errorf("clearning: %w", err)
	}
	g, ok := e.(env.GoalEnv)
	if !ok {
		return nil, fmt.Errorf("clearning: %s is not a goal-conditioned environment (env.GoalEnv); C-learning needs one, such as PointMaze-Open-v0", id)
	}
	return g, nil
}

// checkActionSpace returns an error unless space is a Box with finite
// bounds, low < high, into which the policy's (−1, 1) can be rescaled.
func checkActionSpace(id string, space env.Space) error {
	if space.Discrete {
		return fmt.Errorf("clearning: %s has a discrete action space %v; C-learning needs a Box", id, space)
	}
	for i := range space.Low {
		lo, hi := space.Low[i], space.High[i]
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			return fmt.Errorf("clearning: %s: action bounds [%g, %g] of element %d must be finite with low < high to rescale the policy's (−1, 1)", id, lo, hi, i)
		}
	}
	return nil
}

// Evaluation is what Evaluate measures, as means over episodes.
type Evaluation struct {
	Return, ReturnStd float64 // undiscounted return: mean and population standard deviation
	Success           float64 // share of episodes ending within the goal radius
	FinalDistance     float64 // distance to the goal after the last step
	MinDistance       float64 // smallest distance to the goal after any step
}

// Evaluate runs episodes episodes of the goal-conditioned environment e
// with policy, seeding episode i's Reset with seed+i, and returns the
// means of its measures. It stops early, returning ctx's error, when ctx
// is cancelled.
func Evaluate(ctx context.Context, e env.GoalEnv, policy algos.Policy, episodes int, seed int64) (Evaluation, error) {
	if episodes <= 0 {
		return Evaluation{}, fmt.Errorf("clearning: evaluate: %d episodes; need at least 1", episodes)
	}
	var ev Evaluation
	returns := make([]float64, episodes)
	for i := range returns {
		if err := ctx.Err(); err != nil {
			return Evaluation{}, err
		}
		obs := e.Reset(seed + int64(i))
		minDist := math.Inf(1)
		for {
			a := policy(obs)
			if err := algos.FiniteAction(a); err != nil {
				return Evaluation{}, err
			}
			next, r, term, trunc := e.Step(a)
			returns[i] += r
			minDist = min(minDist, e.Distance())
			if term || trunc {
				break
			}
			obs = next
		}
		if e.Success() {
			ev.Success++
		}
		ev.FinalDistance += e.Distance()
		ev.MinDistance += minDist
	}
	n := float64(episodes)
	ev.Success /= n
	ev.FinalDistance /= n
	ev.MinDistance /= n
	ev.Return, ev.ReturnStd = algos.MeanStd(returns)
	return ev, nil
}

// actor is how the training loop acts with the policy: the observation
// goes up to the device and the action comes back, one upload and one
// download per step.
type actor struct {
	eng       engine.Engine
	policy    *nn.Policy
	obs       *engine.Tensor // [1, Obs]
	obsHost   []float32
	a         []float32
	scale     []float64 // (high − low)/2
	bias      []float64 // (high + low)/2
	envAction []float64
}

func newActor(eng engine.Engine, p *nn.Policy, space env.Space, obsDim int) *actor {
	n := space.Dim()
	x := &actor{
		eng:       eng,
		policy:    p,
		obs:       eng.New(engine.Float32, 1, obsDim),
		obsHost:   make([]float32, obsDim),
		a:         make([]float32, n),
		scale:     make([]float64, n),
		bias:      make([]float64, n),
		envAction: make([]float64, n),
	}
	for i := range n {
		x.scale[i] = (space.High[i] - space.Low[i]) / 2
		x.bias[i] = (space.High[i] + space.Low[i]) / 2
	}
	return x
}

func (x *actor) free() { x.eng.Free(x.obs) }

// random returns an action uniform in [−1, 1)^|A| from the host-side
// Philox stream explore, which it advances.
func (x *actor) random(explore *engine.RNG) []float32 {
	start := explore.Take(len(x.a))
	for i := range x.a {
		x.a[i] = engine.UniformAt(explore.Seed, start, i, -1, 1)
	}
	return x.a
}

// sample returns a = tanh(μ + σ·ε) for obs, with ε from rng.
func (x *actor) sample(obs []float64, rng *engine.RNG) []float32 {
	x.eng.Upload(x.obs, toFloat32(x.obsHost, obs))
	a, _ := x.policy.Sample(x.obs, rng)
	x.eng.Download(x.a, a)
	return x.a
}

// mode is the deterministic evaluation policy: tanh(μ), rescaled to the
// environment's bounds.
func (x *actor) mode(obs []float64) []float64 {
	x.eng.Upload(x.obs, toFloat32(x.obsHost, obs))
	x.eng.Download(x.a, x.policy.Mode(x.obs))
	return x.rescale(x.a)
}

// rescale maps a ∈ (−1, 1)^|A| affinely onto the Box [low, high].
func (x *actor) rescale(a []float32) []float64 {
	for i, v := range a {
		x.envAction[i] = x.bias[i] + x.scale[i]*float64(v)
	}
	return x.envAction
}

func nan() float64 { return math.NaN() }
