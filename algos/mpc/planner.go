package mpc

import (
	"fmt"
	"math"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/nn"
)

// Propagator steps the particles of a plan through a model of the
// dynamics, on the device. The rows of its tensors are the particles,
// candidate-major: row c·P + p is particle p of candidate sequence c.
type Propagator interface {
	// Begin is called before the horizon's steps of every scored
	// population, with the number of candidates and of particles per
	// candidate; a stochastic model fixes here whatever a particle keeps
	// for the whole horizon.
	Begin(candidates, particles int)
	// Step sets next [N, Obs] to a sample of the successors of the states
	// obs [N, Obs] under the actions act [N, Act], N = candidates ·
	// particles. next does not overlap obs or act.
	Step(next, obs, act *engine.Tensor)
}

// TSInf propagates particles through a probabilistic ensemble as PETS'
// TS∞ does (Chua et al. 2018, section 4.2; mbrl-lib's "fixed_model"
// propagation): at Begin each particle of a candidate is given one member,
// which it keeps for every step of the horizon; at every step its
// successor is a sample of that member's Gaussian,
//
//	y = μ + exp(lv/2)·ε,  ε ~ N(0, I),  next obs = obs + y[:Obs],
//
// with μ and lv the member's mean and log-variance of [Δobs, reward] in the
// targets' own units, computed as nn.Ensemble.Predict computes them. The
// members are spread evenly over each candidate's particles: particle p of
// candidate c gets Members[π_c(p) mod K] for a random permutation π_c of
// the P particles (PETS' TS∞ shuffles the particles onto the members the
// same way), so each of the K members carries ⌊P/K⌋ or ⌈P/K⌉ of them.
//
// A step runs on the device: the input [obs, act] standardised, one
// engine.EnsembleRowForward that evaluates for each row only its own
// member (the work of one N-row MLP, not K), the log-variance's soft
// bounds, the targets' de-standardisation and one RandNormal of N·(Obs+1)
// values. Begin draws the assignment on the host and uploads it, 4·N
// bytes. The learned reward head, y[Obs], is not used: the planner scores
// with the environment's reward function (see Planner).
type TSInf struct {
	eng     engine.Engine
	model   *nn.Ensemble
	layers  []engine.EnsembleLayer
	members []int32 // the ids particles are spread over
	obsDim  int

	ws                    *engine.EnsembleRowWorkspace
	x, out                *engine.Tensor // [N, Obs+Act], [N, 2·(Obs+1)]
	mean, lv, tmp, eps    *engine.Tensor // [N, Obs+1]
	twoLogStd             *engine.Tensor // [1, Obs+1]
	pick                  *engine.Tensor // Int32 [N]: each row's member
	pickHost, perm        []int32
	rng                   *engine.RNG // the device stream of the model noise
	host                  *engine.RNG // the host stream of the assignments
	maxRows, lastParticle int
}

// NewTSInf returns a propagator through model for up to maxRows particles
// of observations of obsDim elements, drawing the model's noise from the
// engine stream rng and the particles' members from the host Philox stream
// of seed. SetMembers chooses the members; all of them until then.
func NewTSInf(eng engine.Engine, model *nn.Ensemble, obsDim, maxRows int, rng *engine.RNG, seed uint64) *TSInf {
	if model.Config.Out != obsDim+1 || model.Config.In <= obsDim || maxRows <= 0 {
		panic(fmt.Sprintf("mpc: NewTSInf: ensemble of %d inputs and %d targets, %d observations, %d rows; want In > Obs, Out = Obs+1, rows > 0",
			model.Config.In, model.Config.Out, obsDim, maxRows))
	}
	in, d := model.Config.In, obsDim+1
	p := &TSInf{eng: eng, model: model, obsDim: obsDim, maxRows: maxRows, rng: rng, host: engine.NewRNG(seed)}
	for _, l := range model.MLP.Layers {
		p.layers = append(p.layers, engine.EnsembleLayer{W: l.Weight, B: l.Bias, Act: l.Act})
	}
	p.ws = engine.NewEnsembleRowWorkspace(eng, maxRows, engine.EnsembleWidth(p.layers))
	p.x, p.out = eng.New(engine.Float32, maxRows, in), eng.New(engine.Float32, maxRows, 2*d)
	p.mean, p.lv = eng.New(engine.Float32, maxRows, d), eng.New(engine.Float32, maxRows, d)
	p.tmp, p.eps = eng.New(engine.Float32, maxRows, d), eng.New(engine.Float32, maxRows, d)
	p.twoLogStd = eng.New(engine.Float32, 1, d)
	p.pick = eng.New(engine.Int32, maxRows)
	p.pickHost = make([]int32, maxRows)
	all := make([]int, model.Config.Members)
	for i := range all {
		all[i] = i
	}
	p.SetMembers(all)
	return p
}

// SetMembers sets the members particles go through (the model's elites).
// It panics unless there is at least one and every id is a member.
func (p *TSInf) SetMembers(ids []int) {
	e := p.model.Config.Members
	if len(ids) == 0 {
		panic("mpc: TSInf.SetMembers: no members")
	}
	p.members = p.members[:0]
	for _, m := range ids {
		if m < 0 || m >= e {
			panic(fmt.Sprintf("mpc: TSInf.SetMembers: member %d out of range [0, %d)", m, e))
		}
		p.members = append(p.members, int32(m))
	}
}

// Begin draws each particle's member for the coming horizon (see TSInf)
// and uploads them.
func (p *TSInf) Begin(candidates, particles int) {
	n := candidates * particles
	if n > p.maxRows || n <= 0 {
		panic(fmt.Sprintf("mpc: TSInf.Begin: %d candidates × %d particles, want 1 to %d rows", candidates, particles, p.maxRows))
	}
	if cap(p.perm) < particles {
		p.perm = make([]int32, particles)
	}
	perm, k := p.perm[:particles], len(p.members)
	for c := range candidates {
		// Fisher–Yates from the host stream: one fill of P−1 integers.
		for i := range perm {
			perm[i] = int32(i)
		}
		start := p.host.Take(particles)
		for i := particles - 1; i > 0; i-- {
			j := engine.IntAt(p.host.Seed, start, i, i+1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		for q, r := range perm {
			p.pickHost[c*particles+q] = p.members[int(r)%k]
		}
	}
	p.eng.UploadInt32(p.pick.View(0, n), p.pickHost[:n])
	p.lastParticle = n
}

// Assignment returns the members of the rows drawn by the last Begin.
func (p *TSInf) Assignment() []int32 { return p.pickHost[:p.lastParticle] }

// Step samples next from each row's member (see TSInf).
func (p *TSInf) Step(next, obs, act *engine.Tensor) {
	e, o := p.eng, p.obsDim
	n, a, d := obs.Dim(0), act.Dim(1), o+1
	if n != p.lastParticle || obs.Dim(1) != o || act.Dim(0) != n || o+a != p.model.Config.In {
		panic(fmt.Sprintf("mpc: TSInf.Step: obs %v and act %v for %d rows of the last Begin and an ensemble of %d inputs",
			obs.Shape(), act.Shape(), p.lastParticle, p.model.Config.In))
	}
	x := p.x.View(0, n, o+a)
	e.CopyCols(x, 0, obs, 0, o)
	e.CopyCols(x, o, act, 0, a)
	p.model.InputNorm.Apply(x, x)
	out := p.out.View(0, n, 2*d)
	engine.EnsembleRowForward(e, out, x, p.pick.View(0, n), nil, p.layers, p.ws)

	// The soft bounds of nn.Ensemble: lv = max − softplus(max − raw), then
	// lv = min + softplus(lv − min).
	mean, lv, tmp, eps := p.mean.View(0, n, d), p.lv.View(0, n, d), p.tmp.View(0, n, d), p.eps.View(0, n, d)
	e.CopyCols(mean, 0, out, 0, d)
	e.CopyCols(lv, 0, out, d, d)
	e.Binary(engine.Sub, tmp, lv, p.model.MaxLogVar)
	e.Scale(tmp, tmp, -1, 0)
	e.Activate(engine.Softplus, tmp, tmp)
	e.Binary(engine.Sub, tmp, tmp, p.model.MaxLogVar)
	e.Scale(tmp, tmp, -1, 0)
	e.Binary(engine.Sub, tmp, tmp, p.model.MinLogVar)
	e.Activate(engine.Softplus, tmp, tmp)
	e.Binary(engine.Add, lv, tmp, p.model.MinLogVar)

	// In the targets' units: μ·σ_y + m_y and lv + 2·log σ_y; then the
	// sample μ + exp(lv/2)·ε.
	p.model.TargetNorm.Invert(mean, mean)
	e.Unary(engine.Log, p.twoLogStd, p.model.TargetNorm.Std)
	e.Scale(p.twoLogStd, p.twoLogStd, 2, 0)
	e.Binary(engine.Add, lv, lv, p.twoLogStd)
	e.RandNormal(eps, p.rng, 0, 1)
	e.Scale(tmp, lv, 0.5, 0)
	e.Unary(engine.Exp, tmp, tmp)
	e.Binary(engine.Mul, tmp, tmp, eps)
	e.Binary(engine.Add, mean, mean, tmp)
	e.CopyCols(next, 0, mean, 0, o)
	e.Binary(engine.Add, next, next, obs)
}

// Free releases the propagator's device memory (not the model's).
func (p *TSInf) Free() {
	p.ws.Free(p.eng)
	for _, t := range []*engine.Tensor{p.x, p.out, p.mean, p.lv, p.tmp, p.eps, p.twoLogStd, p.pick} {
		p.eng.Free(t)
	}
}

// Planner is model-predictive control by CEM over action sequences (PETS,
// Chua et al. 2018; mbrl-lib's TrajectoryOptimizerAgent with a
// CEMOptimizer): at every environment step Plan optimises a sequence of
// Horizon actions from the current observation and returns its first
// action; the next Plan starts from the same sequence shifted by one step,
// its last step set to the middle of the action box (mbrl-lib's
// keep_last_solution).
//
// A candidate sequence is scored by Particles sampled trajectories through
// the Propagator (TS∞ for the learned ensemble), all candidates × particles
// at once: its value is the mean over its particles of the summed rewards,
// where a particle earns the reward of the transition that terminates it
// and nothing after (mbrl-lib's ModelEnv.evaluate_action_sequences).
//
// Rewards and termination are the environment's own functions (env.Model),
// not the model's learned reward head: PETS plans with the known reward
// (its cost functions), and so a plan's errors are the dynamics' alone.
// They are Go functions of the host, so each scored population's states go
// down to the host once, after the horizon's last step: 4·(H+1)·N·Obs bytes
// (about 1.2 MB for the defaults' N = 10,000 rows of Obs = 4 over H = 15),
// and the host then evaluates H·N rewards and terminations. Everything else
// of a step is on the device: the candidates' actions go up once per
// iteration (4·H·Population·Act bytes) and each row's action is gathered
// there; CEM's sampling and refitting are on the host (see CEM).
type Planner struct {
	eng         engine.Engine
	prop        Propagator
	model       env.Model
	cem         *CEM
	obsDim      int
	actDim      int
	horizon     int
	population  int
	particles   int
	rows        int
	low, high   []float64      // the action box
	mu          []float64      // the warm start, [H·Act]
	states      *engine.Tensor // [(H+1)·N, Obs]: every step's particle states
	acts        *engine.Tensor // [H·Population, Act]: candidates' actions, time-major
	rowAct      *engine.Tensor // [N, Act]
	candidate   *engine.Tensor // Int32 [N]: the candidate of each row
	actsHost    []float32
	start       []float32
	statesHost  []float32
	obs64, nx64 []float64
	act64       []float64
	reward      []float64
	term        []bool
	done        []bool
	total       []float64
}

// PlannerConfig sizes a Planner.
type PlannerConfig struct {
	Horizon, Population, Elites, Iterations, Particles int
	Alpha                                              float64
	// ActLow and ActHigh are the action box; the plans stay within it.
	ActLow, ActHigh []float64
	// Seed keys the CEM's host Philox stream.
	Seed uint64
}

// NewPlanner returns a planner for observations of obsDim elements that
// steps particles with prop and scores them with model's reward and
// termination. It returns an error for a configuration out of range.
func NewPlanner(eng engine.Engine, prop Propagator, model env.Model, obsDim int, cfg PlannerConfig) (*Planner, error) {
	a := len(cfg.ActLow)
	if obsDim <= 0 || a == 0 {
		return nil, fmt.Errorf("mpc: planner for %d observations and %d actions: need both positive", obsDim, a)
	}
	if cfg.Horizon < 1 || cfg.Particles < 1 {
		return nil, fmt.Errorf("mpc: planner horizon = %d, particles = %d: need both at least 1", cfg.Horizon, cfg.Particles)
	}
	low, high := make([]float64, cfg.Horizon*a), make([]float64, cfg.Horizon*a)
	for t := range cfg.Horizon {
		copy(low[t*a:], cfg.ActLow)
		copy(high[t*a:], cfg.ActHigh)
	}
	cem, err := NewCEM(cfg.Population, cfg.Elites, cfg.Iterations, cfg.Alpha, low, high, cfg.Seed)
	if err != nil {
		return nil, err
	}
	n := cfg.Population * cfg.Particles
	p := &Planner{
		eng: eng, prop: prop, model: model, cem: cem,
		obsDim: obsDim, actDim: a, horizon: cfg.Horizon, population: cfg.Population,
		particles: cfg.Particles, rows: n,
		low: cfg.ActLow, high: cfg.ActHigh,
		mu:         make([]float64, cfg.Horizon*a),
		states:     eng.New(engine.Float32, (cfg.Horizon+1)*n, obsDim),
		acts:       eng.New(engine.Float32, cfg.Horizon*cfg.Population, a),
		rowAct:     eng.New(engine.Float32, n, a),
		candidate:  eng.New(engine.Int32, n),
		actsHost:   make([]float32, cfg.Horizon*cfg.Population*a),
		start:      make([]float32, n*obsDim),
		statesHost: make([]float32, (cfg.Horizon+1)*n*obsDim),
		obs64:      make([]float64, n*obsDim),
		nx64:       make([]float64, n*obsDim),
		act64:      make([]float64, n*a),
		reward:     make([]float64, n),
		term:       make([]bool, n),
		done:       make([]bool, n),
		total:      make([]float64, n),
	}
	cand := make([]int32, n)
	for r := range cand {
		cand[r] = int32(r / cfg.Particles)
	}
	eng.UploadInt32(p.candidate, cand)
	p.Reset()
	return p, nil
}

// Reset forgets the warm start: the next plan starts from the middle of
// the action box at every step. Call it at the start of an episode.
func (p *Planner) Reset() {
	for t := range p.horizon {
		for j := range p.actDim {
			p.mu[t*p.actDim+j] = (p.low[j] + p.high[j]) / 2
		}
	}
}

// Plan returns the first action of the sequence that CEM finds from obs,
// within the action box, and keeps the sequence shifted by one step as the
// next plan's start.
func (p *Planner) Plan(obs []float64) []float64 {
	if len(obs) != p.obsDim {
		panic(fmt.Sprintf("mpc: Planner.Plan: observation of %d elements, want %d", len(obs), p.obsDim))
	}
	for r := range p.rows {
		for j, v := range obs {
			p.start[r*p.obsDim+j] = float32(v)
		}
	}
	p.eng.Upload(p.states.View(0, p.rows, p.obsDim), p.start)
	best := p.cem.Optimize(p.mu, p.score)
	a := p.actDim
	first := make([]float64, a)
	for j := range first {
		first[j] = min(max(best[j], p.low[j]), p.high[j])
	}
	copy(p.mu, best[a:])
	for j := range a {
		p.mu[(p.horizon-1)*a+j] = (p.low[j] + p.high[j]) / 2
	}
	return first
}

// score is the CEM's objective: the mean return of each candidate's
// particles (see Planner).
func (p *Planner) score(pop []float64, values []float64) {
	e, h, a, o, n, np := p.eng, p.horizon, p.actDim, p.obsDim, p.rows, p.population
	// Time-major on the device: step t's actions are rows [t·Pop, (t+1)·Pop).
	for c := range np {
		for t := range h {
			for j := range a {
				p.actsHost[(t*np+c)*a+j] = float32(pop[c*h*a+t*a+j])
			}
		}
	}
	e.Upload(p.acts, p.actsHost)
	p.prop.Begin(np, p.particles)
	for t := range h {
		e.Gather(p.rowAct, p.acts.View(t*np*a, np, a), p.candidate)
		p.prop.Step(p.states.View((t+1)*n*o, n, o), p.states.View(t*n*o, n, o), p.rowAct)
	}
	e.Download(p.statesHost, p.states)

	clear(p.total)
	clear(p.done)
	for t := range h {
		for i := range p.obs64 {
			p.obs64[i] = float64(p.statesHost[t*n*o+i])
			p.nx64[i] = float64(p.statesHost[(t+1)*n*o+i])
		}
		for r := range n {
			c := r / p.particles
			for j := range a {
				p.act64[r*a+j] = float64(p.actsHost[(t*np+c)*a+j])
			}
		}
		p.model.RewardBatch(p.obs64, p.act64, p.nx64, n, p.reward)
		p.model.TerminatedBatch(p.nx64, n, p.term)
		for r := range n {
			if p.done[r] {
				continue
			}
			p.total[r] += p.reward[r]
			p.done[r] = p.term[r]
		}
	}
	for c := range np {
		s := 0.0
		for _, v := range p.total[c*p.particles : (c+1)*p.particles] {
			s += v
		}
		values[c] = s / float64(p.particles)
		if math.IsInf(values[c], 0) {
			values[c] = math.NaN() // ranked last, as mbrl-lib's −1e10
		}
	}
}

// Free releases the planner's device memory (not the propagator's).
func (p *Planner) Free() {
	for _, t := range []*engine.Tensor{p.states, p.acts, p.rowAct, p.candidate} {
		p.eng.Free(t)
	}
}
