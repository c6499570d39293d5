package clearning

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/internal/plot"
)

// DensityConfig configures DensityCheck. DefaultDensityConfig returns its
// defaults.
type DensityConfig struct {
	// Layout is the PointMaze layout (env.PointMazeLayouts). Default
	// "Open".
	Layout string `yaml:"layout"`
	// Seed seeds the engine's stream (initialisation, minibatches, the
	// next actions of the TD targets), the data's episodes and the fixed
	// policy's host streams.
	Seed int64 `yaml:"seed"`
	// Episodes is the number of episodes of the fixed policy collected
	// before training, each from a start drawn uniformly from free space
	// and EpisodeSteps long. Default 10,000 (100,000 transitions).
	Episodes int `yaml:"episodes"`
	// Updates is the number of gradient steps of the classifier. Default
	// 20,000.
	Updates int `yaml:"updates"`
	// Learner holds the classifier's hyperparameters: of a Config, Hidden,
	// BatchSize, Gamma, Tau, CriticLR, FutureShare and LambdaFix are used.
	// Default Defaults() but Gamma 0.9: a horizon of 10 steps, over which
	// the fixed policy's drift carries the point 3 units, most of the way
	// across the open room; with γ = 0.99 (100 steps) nearly all the future
	// would lie against the far wall, whatever (s, a).
	Learner Config `yaml:"learner"`
	// PolicyDrift and PolicyScale define the fixed policy: an action is
	// PolicyDrift plus noise uniform in [−PolicyScale, PolicyScale]²,
	// whatever the state and goal, with |PolicyDrift_i| + PolicyScale ≤ 1
	// so that actions stay in the maze's [−1, 1]². Default drift (0, 0.3)
	// and scale 0.3: the point drifts along the columns at 0.3 a step while
	// it wanders across the rows, so that the future-state density is a
	// plume from s' towards the far wall, whose shape a classifier that had
	// learnt only the next state, or a blob about it, would not match.
	PolicyDrift []float64 `yaml:"policy_drift"`
	PolicyScale float64   `yaml:"policy_scale"`
	// EpisodeSteps cuts the data's episodes at this many steps (at most
	// the maze's own limit, 50), each starting anew from a uniform draw of
	// free space. Truncation bootstraps, so p^π is unchanged; short
	// episodes keep the states, and so the random goals' p(g), spread over
	// the room instead of piling up against the wall the policy drifts to,
	// where p(g) would be so low elsewhere that the true ratio p^π/p(g)
	// exceeded the clip of w. Default 10.
	EpisodeSteps int `yaml:"episode_steps"`
	// ActionNoise is the standard deviation of the maze's action noise
	// (env.PointMaze.ActionNoise) in the data and the rollouts, in
	// [0, 1]. Default 0.2. With the maze's own 0.01 the next state is
	// nearly a point, so that the term (1−γ)·p(s' | s, a) of p^π is a point
	// mass of weight 1−γ = 0.1 in one cell, which neither a smooth
	// classifier nor a histogram resolves and which dominates a correlation
	// over cells: there, after the default training, r = 0.86 on the
	// 16×16 grid and 0.90 on 8×8 (seed 0). With 0.2 the next state has a
	// density as wide as a cell or two.
	ActionNoise float64 `yaml:"action_noise"`
	// State and Action are the query (s, a) whose future-state density is
	// compared. State must be in free space and Action in [−1, 1]²; the
	// classifier has seen only the fixed policy's actions, so Action should
	// be one of them. Default (2.1, 0.6) and (0, 0.3): halfway down the
	// left wall of the open room, taking the policy's mean action.
	State  []float64 `yaml:"state"`
	Action []float64 `yaml:"action"`
	// Cells is the number of grid cells per unit length of the maze: the
	// densities are compared on a grid of (rows·Cells) × (cols·Cells)
	// cells. Default 4 (16 × 16 on the open room).
	Cells int `yaml:"cells"`
	// Subcells is the number of points per cell side at which the
	// classifier is evaluated; a cell's predicted density is their mean.
	// Default 4.
	Subcells int `yaml:"subcells"`
	// Rollouts is the number of Monte-Carlo rollouts from (s, a). Default
	// 20,000.
	Rollouts int `yaml:"rollouts"`
	// PNG is the path of the heat map to write, predicted beside
	// Monte-Carlo density; empty for none.
	PNG string `yaml:"png"`
}

// DefaultDensityConfig returns the documented defaults of DensityConfig.
func DefaultDensityConfig() DensityConfig {
	learner := Defaults()
	learner.Gamma = 0.9
	return DensityConfig{
		Layout:       "Open",
		Episodes:     10_000,
		Updates:      20_000,
		Learner:      learner,
		PolicyDrift:  []float64{0, 0.3},
		PolicyScale:  0.3,
		EpisodeSteps: 10,
		ActionNoise:  0.2,
		State:        []float64{2.1, 0.6},
		Action:       []float64{0, 0.3},
		Cells:        4,
		Subcells:     4,
		Rollouts:     20_000,
	}
}

// Validate reports the first field out of range, naming its key, its value
// and what is allowed. The maze-dependent checks (a known layout, a query
// state in free space) are DensityCheck's.
func (c DensityConfig) Validate() error {
	if err := c.Learner.Validate(); err != nil {
		return fmt.Errorf("learner: %w", err)
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"episodes", c.Episodes}, {"updates", c.Updates}, {"cells", c.Cells}, {"subcells", c.Subcells}, {"rollouts", c.Rollouts}} {
		if f.v < 1 {
			return fmt.Errorf("%s = %d: must be at least 1", f.key, f.v)
		}
	}
	if !(c.PolicyScale > 0 && c.PolicyScale <= 1) {
		return fmt.Errorf("policy_scale = %g: must be in (0, 1]", c.PolicyScale)
	}
	if len(c.PolicyDrift) != 2 || !finite(c.PolicyDrift) ||
		math.Abs(c.PolicyDrift[0])+c.PolicyScale > 1 || math.Abs(c.PolicyDrift[1])+c.PolicyScale > 1 {
		return fmt.Errorf("policy_drift = %v: must be two numbers with |drift| + policy_scale (%g) ≤ 1", c.PolicyDrift, c.PolicyScale)
	}
	if c.EpisodeSteps < 1 {
		return fmt.Errorf("episode_steps = %d: must be at least 1", c.EpisodeSteps)
	}
	if !(c.ActionNoise >= 0 && c.ActionNoise <= 1) {
		return fmt.Errorf("action_noise = %g: must be in [0, 1]", c.ActionNoise)
	}
	if len(c.State) != 2 || !finite(c.State) {
		return fmt.Errorf("state = %v: must be two finite numbers", c.State)
	}
	if len(c.Action) != 2 || !finite(c.Action) || math.Abs(c.Action[0]) > 1 || math.Abs(c.Action[1]) > 1 {
		return fmt.Errorf("action = %v: must be two numbers in [−1, 1]", c.Action)
	}
	return nil
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// DensityReport is what DensityCheck measured. The grids are Rows × Cols,
// row-major, row i and column j covering [i/Cells, (i+1)/Cells) ×
// [j/Cells, (j+1)/Cells) of the maze's (x, y); cells in walls are NaN and
// left out of the correlations.
type DensityReport struct {
	Rows, Cols int
	// Predicted is the classifier's density C/(1−C)·p(g), MonteCarlo the
	// Monte-Carlo estimate of p^π(s_{t+} = g | s, a), Marginal the density
	// p(g) of the random goals (the buffer's states), all per unit area.
	Predicted, MonteCarlo, Marginal []float64
	// Correlation is the Pearson correlation of Predicted and MonteCarlo
	// over the free cells: the check.
	Correlation float64
	// RatioCorrelation is the Pearson correlation of the classifier's
	// ratio C/(1−C) and MonteCarlo/Marginal over the free cells where
	// Marginal > 0: the same comparison without the shared factor p(g).
	RatioCorrelation float64
	// PredictedMass is Σ Predicted·(cell area) over the free cells, which
	// is 1 for a calibrated classifier.
	PredictedMass float64
	// Loss holds the classifier's metrics over the last tenth of the
	// updates.
	Loss ClassifierMetrics
	// Seconds is the wall time of the whole check.
	Seconds float64
}

// The host-side Philox keys of the fixed policy's actions in the data
// (seed XOR densityDataKey) and in the Monte-Carlo rollouts.
const (
	densityDataKey = 0xc1ea_de45_0001
	densityMCKey   = 0xc1ea_de45_0002
)

// DensityCheck demonstrates that C-learning learns the discounted
// future-state density: for a fixed policy π on a point maze (a noisy
// drift, whatever the state and goal: PolicyDrift), it trains the
// classifier by the off-policy C-learning update (Classifier.Update) with
// next actions a' ~ π, policy evaluation only, on Episodes episodes of π's
// data; then it compares on a grid of goals the classifier's density
// C/(1−C)·p(g) at the query (s, a) with a Monte-Carlo estimate of
// p^π(s_{t+} = g | s, a), by their Pearson correlation over the cells.
//
// The prediction of a cell is the mean of exp((f₁+f₂)/2), the geometric
// mean of the two classifiers' ratios C/(1−C), over Subcells² points in the
// cell, times the cell's share of the buffer's states per unit area (the
// histogram estimate of p(g), the distribution random goals are drawn
// from). The Monte-Carlo estimate runs Rollouts rollouts without time
// limit, each taking a then following π; a rollout adds the weight
// (1−γ)γ^(k−1) to the cell of its k-th state s_k, k ≥ 1, the probability
// that the geometric offset Δ ~ Geom(1−γ) is k (the expectation over Δ of
// the histogram of s_Δ, with less variance than drawing Δ), up to the k at
// which γ^k < 10⁻⁴, and the sum is renormalised by the weight covered.
//
// It writes the heat map to cfg.PNG when that is set, and returns the
// report, or an error for an invalid configuration, an unknown layout, a
// query state off the free space, a failure to write the picture, or ctx's
// error when ctx is cancelled.
func DensityCheck(ctx context.Context, eng engine.Engine, cfg DensityConfig) (DensityReport, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return DensityReport{}, fmt.Errorf("clearning: density check: %w", err)
	}
	maze, err := env.NewPointMaze(cfg.Layout)
	if err != nil {
		return DensityReport{}, fmt.Errorf("clearning: density check: %w", err)
	}
	s0, a0 := cfg.State, cfg.Action
	if cfg.EpisodeSteps > maze.MaxSteps {
		return DensityReport{}, fmt.Errorf("clearning: density check: episode_steps = %d: must be at most the %s maze's limit of %d", cfg.EpisodeSteps, cfg.Layout, maze.MaxSteps)
	}
	maze.MaxSteps = cfg.EpisodeSteps
	if !maze.Free(s0[0], s0[1]) {
		return DensityReport{}, fmt.Errorf("clearning: density check: state = %v is in a wall or off the %s maze", s0, cfg.Layout)
	}
	maze.ActionNoise = cfg.ActionNoise
	layout, err := LayoutOf(maze.ID, maze)
	if err != nil {
		return DensityReport{}, err
	}
	space := maze.ObservationSpace()
	rows, cols := int(space.High[0])*cfg.Cells, int(space.High[1])*cfg.Cells
	cellSide := 1 / float64(cfg.Cells)
	cellOf := func(x, y float64) int {
		i := min(int(x*float64(cfg.Cells)), rows-1)
		j := min(int(y*float64(cfg.Cells)), cols-1)
		return i*cols + j
	}
	free := make([]bool, rows*cols)
	for i := range rows {
		for j := range cols {
			free[i*cols+j] = maze.Free((float64(i)+0.5)*cellSide, (float64(j)+0.5)*cellSide)
		}
	}

	// The fixed policy's data, and the histogram of its states: the
	// marginal p(g) of the random goals.
	lc := cfg.Learner
	rng := engine.NewRNG(uint64(cfg.Seed))
	split := SplitOf(lc.BatchSize, lc.FutureShare)
	clf, err := NewClassifier(eng, lc, split, layout.Obs, layout.Act, rng)
	if err != nil {
		return DensityReport{}, err
	}
	defer clf.Free()
	buffer := NewBuffer(eng, cfg.Episodes*cfg.EpisodeSteps, layout)
	defer buffer.Free()
	pi := newDrift(cfg)
	policy := engine.NewRNG(uint64(cfg.Seed) ^ densityDataKey)
	act := make([]float32, 2)
	envAct := make([]float64, 2)
	counts := make([]float64, rows*cols)
	for ep := range cfg.Episodes {
		if err := ctx.Err(); err != nil {
			return DensityReport{}, err
		}
		obs := maze.Reset(cfg.Seed + int64(ep))
		for done := false; !done; {
			pi.act(envAct, policy)
			for i := range act {
				act[i] = float32(envAct[i])
			}
			next, _, term, trunc := maze.Step(envAct)
			done = term || trunc
			buffer.Add(obs, act, next, done)
			counts[cellOf(obs[0], obs[1])]++
			obs = next
		}
	}
	marginal := make([]float64, rows*cols)
	for c, n := range counts {
		marginal[c] = n / float64(buffer.Len()) / (cellSide * cellSide)
	}

	// Policy evaluation: the C-learning update with a' ~ π, drawn on the
	// device.
	batch := NewBatch(eng, split, layout)
	defer batch.Free(eng)
	nextAct := eng.New(engine.Float32, split.Random, layout.Act)
	defer eng.Free(nextAct)
	piDevice := newDriftDevice(eng, pi)
	defer piDevice.free(eng)
	relabel := engine.NewRNG(uint64(cfg.Seed) ^ RelabelKey)
	var loss ClassifierMetrics
	tail := max(1, cfg.Updates/10)
	for u := range cfg.Updates {
		if u%100 == 0 {
			if err := ctx.Err(); err != nil {
				return DensityReport{}, err
			}
		}
		if u == cfg.Updates-tail {
			clf.TakeMetrics()
		}
		buffer.Sample(batch, rng, relabel, lc.Gamma)
		piDevice.act(eng, nextAct, rng)
		clf.Update(batch, nextAct)
	}
	loss = clf.TakeMetrics()

	ratio := densityRatio(eng, clf, layout, s0, a0, rows, cols, cfg.Subcells, cellSide)
	mc, err := densityMonteCarlo(ctx, maze, cfg, cellOf, rows*cols, cellSide)
	if err != nil {
		return DensityReport{}, err
	}

	r := DensityReport{
		Rows: rows, Cols: cols,
		Predicted:  make([]float64, rows*cols),
		MonteCarlo: mc,
		Marginal:   marginal,
		Loss:       loss,
	}
	var pred, want, ratioPred, ratioWant []float64
	for c := range r.Predicted {
		if !free[c] {
			r.Predicted[c], r.MonteCarlo[c], r.Marginal[c] = math.NaN(), math.NaN(), math.NaN()
			continue
		}
		r.Predicted[c] = ratio[c] * marginal[c]
		r.PredictedMass += r.Predicted[c] * cellSide * cellSide
		pred = append(pred, r.Predicted[c])
		want = append(want, mc[c])
		if marginal[c] > 0 {
			ratioPred = append(ratioPred, ratio[c])
			ratioWant = append(ratioWant, mc[c]/marginal[c])
		}
	}
	r.Correlation = Pearson(pred, want)
	r.RatioCorrelation = Pearson(ratioPred, ratioWant)
	r.Seconds = time.Since(start).Seconds()

	if cfg.PNG != "" {
		marks := []plot.HeatmapMark{
			{Row: s0[0] * float64(cfg.Cells), Col: s0[1] * float64(cfg.Cells)},
			{Row: (s0[0] + a0[0]) * float64(cfg.Cells), Col: (s0[1] + a0[1]) * float64(cfg.Cells)},
		}
		maps := []plot.Heatmap{
			{Title: "C-learning", Rows: rows, Cols: cols, Values: r.Predicted, Marks: marks},
			{Title: "Monte Carlo", Rows: rows, Cols: cols, Values: r.MonteCarlo, Marks: marks},
		}
		caption := fmt.Sprintf("%s gamma %g: Pearson r = %.3f", maze.ID, lc.Gamma, r.Correlation)
		if err := plot.WriteHeatmapsFile(cfg.PNG, maps, plot.HeatmapOptions{Caption: caption}); err != nil {
			return r, fmt.Errorf("clearning: density check: %w", err)
		}
	}
	return r, nil
}

// densityRatio returns, per cell, the mean over subcells² points g in the
// cell of the classifier's ratio exp((f₁+f₂)/2) at (s0, a0, g). It runs
// one grid row of cells per inference, so that every call has the same
// batch size.
func densityRatio(eng engine.Engine, clf *Classifier, l Layout, s0, a0 []float64, rows, cols, subcells int, cellSide float64) []float64 {
	n := cols * subcells * subcells
	obs := eng.New(engine.Float32, n, l.Obs)
	defer eng.Free(obs)
	act := eng.New(engine.Float32, n, l.Act)
	defer eng.Free(act)
	obsHost := make([]float32, n*l.Obs)
	actHost := make([]float32, n*l.Act)
	for k := range n {
		for i := range l.GoalDim {
			obsHost[k*l.Obs+l.Achieved+i] = float32(s0[i])
		}
		for i := range l.Act {
			actHost[k*l.Act+i] = float32(a0[i])
		}
	}
	eng.Upload(act, actHost)
	logits := make([]float32, 2*n)
	ratio := make([]float64, rows*cols)
	step := cellSide / float64(subcells)
	for i := range rows {
		for j := range cols {
			for p := range subcells {
				for q := range subcells {
					k := (j*subcells+p)*subcells + q
					obsHost[k*l.Obs+l.Goal] = float32(float64(i)*cellSide + (float64(p)+0.5)*step)
					obsHost[k*l.Obs+l.Goal+1] = float32(float64(j)*cellSide + (float64(q)+0.5)*step)
				}
			}
		}
		eng.Upload(obs, obsHost)
		eng.Download(logits, clf.Logits(obs, act))
		for k := range n {
			j := k / (subcells * subcells)
			ratio[i*cols+j] += math.Exp((float64(logits[k])+float64(logits[n+k]))/2) / float64(subcells*subcells)
		}
	}
	clf.critic.ReleaseWorkspaces()
	return ratio
}

// densityMonteCarlo returns the Monte-Carlo estimate of p^π(s_{t+} | s, a)
// per unit area on the cells (see DensityCheck).
func densityMonteCarlo(ctx context.Context, maze *env.PointMaze, cfg DensityConfig, cellOf func(x, y float64) int, cells int, cellSide float64) ([]float64, error) {
	gamma := cfg.Learner.Gamma
	horizon := 1
	if gamma > 0 {
		horizon = max(1, int(math.Ceil(math.Log(1e-4)/math.Log(gamma))))
	}
	covered := 1 - math.Pow(gamma, float64(horizon)) // Σ_{k=1..horizon} (1−γ)γ^(k−1)

	// A copy of the maze without time limit, so that rollouts run past 50
	// steps; its action noise comes from each rollout's Reset seed.
	m, err := env.NewPointMaze(cfg.Layout)
	if err != nil {
		return nil, err
	}
	m.ActionNoise = maze.ActionNoise
	m.MaxSteps = 0
	policy := engine.NewRNG(uint64(cfg.Seed) ^ densityMCKey)
	pi := newDrift(cfg)
	a := make([]float64, 2)
	mass := make([]float64, cells)
	for r := range cfg.Rollouts {
		if r%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		m.Reset(cfg.Seed + algos.EvalSeedOffset + int64(r))
		m.SetState(cfg.State)
		copy(a, cfg.Action)
		weight := 1 - gamma
		for range horizon {
			next, _, _, _ := m.Step(a)
			mass[cellOf(next[0], next[1])] += weight
			weight *= gamma
			pi.act(a, policy)
		}
	}
	for c := range mass {
		mass[c] /= float64(cfg.Rollouts) * covered * cellSide * cellSide
	}
	return mass, nil
}

// drift is DensityCheck's fixed policy (DensityConfig.PolicyDrift):
// a = drift + u, u uniform in [−scale, scale]².
type drift struct {
	mean  [2]float32
	scale float32
}

func newDrift(cfg DensityConfig) drift {
	return drift{mean: [2]float32{float32(cfg.PolicyDrift[0]), float32(cfg.PolicyDrift[1])}, scale: float32(cfg.PolicyScale)}
}

// act sets a to an action of the policy, with the noise from the host
// stream rng; the sums are float32's, as on the device.
func (p drift) act(a []float64, rng *engine.RNG) {
	k := rng.Take(2)
	for i := range a {
		a[i] = float64(p.mean[i] + engine.UniformAt(rng.Seed, k, i, -p.scale, p.scale))
	}
}

// driftDevice draws the policy's actions on the device, for the next
// actions of the TD targets.
type driftDevice struct {
	p    drift
	mean *engine.Tensor // [1, 2]
}

func newDriftDevice(eng engine.Engine, p drift) *driftDevice {
	d := &driftDevice{p: p, mean: eng.New(engine.Float32, 1, 2)}
	eng.Upload(d.mean, p.mean[:])
	return d
}

func (d *driftDevice) free(eng engine.Engine) { eng.Free(d.mean) }

// act fills a [rows, 2] with actions of the policy, with noise from rng.
func (d *driftDevice) act(eng engine.Engine, a *engine.Tensor, rng *engine.RNG) {
	eng.RandUniform(a, rng, -d.p.scale, d.p.scale)
	eng.Binary(engine.Add, a, a, d.mean)
}

// Pearson returns the Pearson correlation of x and y (of equal length), or
// NaN when there are fewer than two pairs or either has no variance.
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n != len(y) || n < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
