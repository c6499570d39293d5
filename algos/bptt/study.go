package bptt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/internal/plot"
)

// StudyConfig configures Study, the comparison of the pathwise and the
// likelihood-ratio policy gradient on a learned Pendulum model as the
// horizon grows (issue 9, item 5; Parmas et al. 2018, "PIPPS", figure 1).
type StudyConfig struct {
	// Transitions is the number of random-action Pendulum-v1 transitions
	// the model trains on.
	Transitions int
	// Model is the learned model's configuration.
	Model ModelConfig
	// PolicyHidden and LogStd make the fixed policy: a tanh MLP initialised
	// with unit-scale output weights (so that its action depends on the
	// state) and log σ = LogStd.
	PolicyHidden []int
	LogStd       float64
	// Horizons are the H of the study; Estimates the number of independent
	// estimates per horizon and estimator, each from Rollouts rollouts;
	// Gamma the discount.
	Horizons            []int
	Estimates, Rollouts int
	Gamma               float64
	Seed                uint64
}

// DefaultStudy is the study of docs/RESULTS.md: 5000 random transitions,
// the default model, a 64-64 policy with σ = 0.5, horizons 1 to 100, 50
// estimates of 10 rollouts each, γ = 1.
func DefaultStudy() StudyConfig {
	return StudyConfig{
		Transitions:  5000,
		Model:        DefaultModel(),
		PolicyHidden: []int{64, 64},
		LogStd:       math.Log(0.5),
		Horizons:     []int{1, 2, 5, 10, 20, 50, 100},
		Estimates:    50,
		Rollouts:     10,
		Gamma:        1,
	}
}

// StudyRow is one line of the study: for a horizon and an estimator, the
// total variance of one estimate (the trace of the estimates' covariance),
// that variance relative to the squared norm of the mean estimate, the mean
// cosine between pairs of independent estimates, and the mean estimate's
// norm. MeanCosine is the cosine between this estimator's mean estimate and
// the other's (both estimate the same gradient).
type StudyRow struct {
	Horizon     int
	Estimator   string // "pathwise" or "likelihood-ratio"
	Variance    float64
	RelVariance float64
	Cosine      float64
	MeanNorm    float64
	MeanCosine  float64
}

// Study trains a model on random Pendulum-v1 transitions (on eng), fixes a
// random policy, and estimates the gradient of the H-step return of the
// model's rollouts (one elite member per rollout, start states drawn from
// the data) with both estimators, cfg.Estimates times each per horizon.
func Study(eng engine.Engine, cfg StudyConfig) ([]StudyRow, error) {
	switch {
	case cfg.Transitions < 10:
		return nil, fmt.Errorf("bptt: study: %d transitions: need at least 10", cfg.Transitions)
	case cfg.Estimates < 2:
		return nil, fmt.Errorf("bptt: study: %d estimates: need at least 2 for a variance", cfg.Estimates)
	case cfg.Rollouts < 1:
		return nil, fmt.Errorf("bptt: study: %d rollouts: need at least 1", cfg.Rollouts)
	case len(cfg.Horizons) == 0:
		return nil, fmt.Errorf("bptt: study: no horizons")
	}
	if err := cfg.Model.Validate(); err != nil {
		return nil, fmt.Errorf("bptt: study: model.%w", err)
	}
	e := env.NewPendulum()
	obsDim, actDim := 3, 1
	space := e.ActionSpace()
	host := rand.New(rand.NewPCG(cfg.Seed, HostKey))
	buffer := replay.New(eng, cfg.Transitions, obsDim, actDim)
	defer buffer.Free()
	starts := NewStartStates(cfg.Transitions)
	var tr replay.Transitions
	obs, episode := e.Reset(int64(cfg.Seed)), int64(0)
	for range cfg.Transitions {
		a := RandomAction(host, space)
		next, r, term, trunc := e.Step(a)
		tr.Set(obs, []float32{float32(a[0])}, r, next, term)
		buffer.Add(tr)
		starts.Add(obs)
		obs = next
		if term || trunc {
			episode++
			obs = e.Reset(int64(cfg.Seed) + episode)
		}
	}
	rng := engine.NewRNG(cfg.Seed)
	dyn, err := mbpo.NewDynamics(eng, cfg.Model.MBPO(), obsDim, actDim, cfg.Transitions, rng, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("bptt: study: %w", err)
	}
	defer dyn.Free()
	if _, err := dyn.Train(buffer, rng); err != nil {
		return nil, fmt.Errorf("bptt: study: %w", err)
	}
	elites, err := MembersFrom(eng, dyn.Model, obsDim, dyn.Elites)
	if err != nil {
		return nil, err
	}
	policy, err := NewGaussianPolicy(obsDim, actDim, cfg.PolicyHidden, cfg.LogStd, space.Low, space.High)
	if err != nil {
		return nil, fmt.Errorf("bptt: study: %w", err)
	}
	policy.Mean.Init(host, 1)

	var rows []StudyRow
	for _, h := range cfg.Horizons {
		if h < 1 {
			return nil, fmt.Errorf("bptt: study: horizon %d: must be at least 1", h)
		}
		var means [2][]float64
		var pair [2]StudyRow
		for k, est := range []struct {
			name string
			f    func(Problem, *rand.Rand) ([]float64, float64, error)
		}{{"pathwise", Pathwise}, {"likelihood-ratio", LikelihoodRatio}} {
			gs := make([][]float64, cfg.Estimates)
			for i := range gs {
				prob := Problem{
					Policy:  policy,
					Models:  RandomMembers(host, elites, cfg.Rollouts),
					Starts:  starts.Sample(host, cfg.Rollouts),
					Horizon: h,
					Gamma:   cfg.Gamma,
				}
				if gs[i], _, err = est.f(prob, host); err != nil {
					return nil, err
				}
			}
			st := GradientStats(gs)
			means[k] = st.Mean
			pair[k] = StudyRow{Horizon: h, Estimator: est.name, Variance: st.Variance,
				RelVariance: st.Variance / (st.MeanNorm * st.MeanNorm), Cosine: st.Cosine, MeanNorm: st.MeanNorm}
		}
		c := cosine(means[0], means[1])
		pair[0].MeanCosine, pair[1].MeanCosine = c, c
		rows = append(rows, pair[0], pair[1])
	}
	return rows, nil
}

// Stats describes a set of independent gradient estimates g_1 … g_M.
type Stats struct {
	Mean     []float64 // ḡ
	MeanNorm float64   // ‖ḡ‖
	// Variance is the trace of the sample covariance,
	// Σ_i ‖g_i − ḡ‖²/(M − 1): the expected squared distance of one estimate
	// from its mean.
	Variance float64
	// Cosine is the mean over pairs i < j of cos(g_i, g_j): near 1 when
	// estimates agree in direction, near 0 when noise swamps them.
	Cosine float64
}

// GradientStats returns the Stats of gs, at least two estimates of equal
// length.
func GradientStats(gs [][]float64) Stats {
	m, n := len(gs), len(gs[0])
	st := Stats{Mean: make([]float64, n)}
	for _, g := range gs {
		for j, v := range g {
			st.Mean[j] += v / float64(m)
		}
	}
	st.MeanNorm = Norm(st.Mean)
	for _, g := range gs {
		for j, v := range g {
			d := v - st.Mean[j]
			st.Variance += d * d
		}
	}
	st.Variance /= float64(m - 1)
	pairs := 0
	for i := range gs {
		for j := i + 1; j < m; j++ {
			st.Cosine += cosine(gs[i], gs[j])
			pairs++
		}
	}
	st.Cosine /= float64(pairs)
	return st
}

func cosine(a, b []float64) float64 {
	dot := 0.0
	for i := range a {
		dot += a[i] * b[i]
	}
	na, nb := Norm(a), Norm(b)
	if na == 0 || nb == 0 {
		return math.NaN()
	}
	return dot / (na * nb)
}

// WriteStudy writes the rows as dir/<name>.csv and dir/<name>.md (a
// markdown table) and the plots dir/<name>.png (log10 of the variance
// against H, both estimators; internal/plot's line chart has linear axes,
// so the values are log10'd and the axis says so) and dir/<name>-cosine.png
// (the cosine between independent estimates against H).
func WriteStudy(rows []StudyRow, dir, name string) error {
	var csv, md strings.Builder
	csv.WriteString("horizon,estimator,variance,rel_variance,cosine,mean_norm,mean_cosine\n")
	md.WriteString("| H | estimator | variance (tr Cov) | variance / ‖mean‖² | cosine between estimates | ‖mean‖ | cosine of the two means |\n|---|---|---|---|---|---|---|\n")
	series := map[string]*[3]plot.LineSeries{}
	for _, r := range rows {
		fmt.Fprintf(&csv, "%d,%s,%.6g,%.6g,%.4f,%.6g,%.4f\n", r.Horizon, r.Estimator, r.Variance, r.RelVariance, r.Cosine, r.MeanNorm, r.MeanCosine)
		fmt.Fprintf(&md, "| %d | %s | %.3g | %.3g | %.3f | %.3g | %.3f |\n", r.Horizon, r.Estimator, r.Variance, r.RelVariance, r.Cosine, r.MeanNorm, r.MeanCosine)
		s := series[r.Estimator]
		if s == nil {
			s = &[3]plot.LineSeries{{Name: r.Estimator}, {Name: r.Estimator}, {Name: r.Estimator}}
			series[r.Estimator] = s
		}
		x := math.Log10(float64(r.Horizon))
		s[0].X, s[0].Y = append(s[0].X, x), append(s[0].Y, math.Log10(r.Variance))
		s[1].X, s[1].Y = append(s[1].X, x), append(s[1].Y, r.Cosine)
		s[2].X, s[2].Y = append(s[2].X, x), append(s[2].Y, math.Log10(r.RelVariance))
	}
	if err := os.WriteFile(filepath.Join(dir, name+".csv"), []byte(csv.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	var variance, cos, rel []plot.LineSeries
	for _, est := range []string{"pathwise", "likelihood-ratio"} {
		if s := series[est]; s != nil {
			variance, cos, rel = append(variance, s[0]), append(cos, s[1]), append(rel, s[2])
		}
	}
	charts := map[string]plot.LineChart{
		name + ".png": {Title: "Policy gradient variance on a learned Pendulum model",
			XLabel: "log10 horizon H", YLabel: "log10 trace of covariance", Series: variance, LegendLeft: true},
		name + "-relative.png": {Title: "Relative variance, tr Cov / norm of mean squared",
			XLabel: "log10 horizon H", YLabel: "log10 relative variance", Series: rel, LegendLeft: true},
		name + "-cosine.png": {Title: "Cosine between independent gradient estimates",
			XLabel: "log10 horizon H", YLabel: "mean cosine", Series: cos, YMin: -0.2, YMax: 1},
	}
	for file, c := range charts {
		if err := c.WriteFile(filepath.Join(dir, file)); err != nil {
			return fmt.Errorf("bptt: plot %s: %w", file, err)
		}
	}
	return nil
}
