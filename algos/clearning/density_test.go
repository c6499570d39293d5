package clearning

import (
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/env"
)

// TestPearson checks the correlation on hand-computed cases.
func TestPearson(t *testing.T) {
	for _, tc := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{[]float64{1, 2, 3}, []float64{5, 3, 1}, -1},
		// x̄ = 2, ȳ = 1; Σdxdy = 1, Σdx² = 2, Σdy² = 2: r = 1/2.
		{[]float64{1, 2, 3}, []float64{1, 0, 2}, 0.5},
	} {
		if got := Pearson(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Pearson(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	for _, tc := range [][2][]float64{{{1}, {1}}, {{1, 1}, {1, 2}}, {{1, 2}, {1}}} {
		if got := Pearson(tc[0], tc[1]); !math.IsNaN(got) {
			t.Errorf("Pearson(%v, %v) = %v, want NaN", tc[0], tc[1], got)
		}
	}
}

// TestMonteCarloDensity checks the Monte-Carlo estimate. Without action
// noise and with γ = 0 the future is the next state: from (1.2, 0.55) the
// action (0.2, 0.4) lands at (1.4, 0.95), in cell (5, 3) of a grid of 4
// cells a unit, whose density is then 1 over the cell's area 1/16. With
// γ = 0.7 and the drifting policy, the estimate, which weights every state of
// a rollout by the probability (1−γ)γ^(k−1) of its offset, must agree
// with the literal one, the histogram of s_Δ for Δ drawn from
// Geom(1−γ), within 5 standard errors of the latter in every cell; and it
// integrates to 1.
func TestMonteCarloDensity(t *testing.T) {
	maze, err := env.NewPointMaze("Open")
	if err != nil {
		t.Fatal(err)
	}
	maze.ActionNoise = 0
	cfg := DefaultDensityConfig()
	cfg.State, cfg.Action = []float64{1.2, 0.55}, []float64{0.2, 0.4}
	cfg.Rollouts = 3
	cellOf := func(x, y float64) int { return min(int(x*4), 15)*16 + min(int(y*4), 15) }
	const area = 1.0 / 16

	cfg.Learner.Gamma = 0
	mc, err := densityMonteCarlo(context.Background(), maze, cfg, cellOf, 256, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 256)
	want[5*16+3] = 1 / area
	checkClose(t, "γ = 0", mc, want, 1e-12)

	// Unit cells, γ = 0.7, the maze's own noise.
	const rollouts, gamma = 20000, 0.7
	maze.ActionNoise = 0.01
	cfg.Learner.Gamma = gamma
	cfg.Rollouts = rollouts
	unit := func(x, y float64) int { return min(int(x), 3)*4 + min(int(y), 3) }
	mc, err = densityMonteCarlo(context.Background(), maze, cfg, unit, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mass float64
	for _, v := range mc {
		mass += v
	}
	if math.Abs(mass-1) > 1e-9 {
		t.Errorf("Monte-Carlo density integrates to %v, want 1", mass)
	}
	literal := make([]float64, 16)
	m, _ := env.NewPointMaze("Open")
	m.MaxSteps = 0
	pi := newDrift(cfg)
	policy, offsets := engine.NewRNG(11), engine.NewRNG(12)
	a := make([]float64, 2)
	for r := range rollouts {
		k := offsets.Take(1)
		delta := GeometricOffset(float64(engine.UniformAt(offsets.Seed, k, 0, 0, 1)), gamma, 1000)
		m.Reset(int64(r))
		m.SetState(cfg.State)
		copy(a, cfg.Action)
		var s []float64
		for range delta {
			s, _, _, _ = m.Step(a)
			pi.act(a, policy)
		}
		literal[unit(s[0], s[1])] += 1.0 / rollouts
	}
	for c := range literal {
		se := math.Sqrt(max(literal[c]*(1-literal[c]), 1.0/rollouts) / rollouts)
		if math.Abs(mc[c]-literal[c]) > 5*se {
			t.Errorf("unit cell %d: weighted estimate %.4f, literal %.4f ± %.4f", c, mc[c], literal[c], se)
		}
	}
}

// TestFixedPolicy checks the fixed policy's actions: the drift plus noise
// within its bound on the host, with a mean over 20,000 draws within 5
// standard errors of the drift, and the same on the device.
func TestFixedPolicy(t *testing.T) {
	cfg := DefaultDensityConfig()
	cfg.PolicyDrift, cfg.PolicyScale = []float64{-0.2, 0.5}, 0.4
	p := newDrift(cfg)
	const n = 20_000
	se := 0.4 / math.Sqrt(3) / math.Sqrt(n) // of the mean of U[−0.4, 0.4]
	check := func(what string, a []float64) {
		t.Helper()
		var mean [2]float64
		for k, v := range a {
			i := k % 2
			if d := v - cfg.PolicyDrift[i]; d < -0.4-1e-6 || d >= 0.4+1e-6 {
				t.Fatalf("%s: action element %d = %v outside drift %v ± 0.4", what, k, v, cfg.PolicyDrift[i])
			}
			mean[i] += v / n
		}
		for i := range mean {
			if math.Abs(mean[i]-cfg.PolicyDrift[i]) > 5*se {
				t.Errorf("%s: mean action[%d] %.4f, want the drift %g ± %.4f", what, i, mean[i], cfg.PolicyDrift[i], 5*se)
			}
		}
	}
	rng := engine.NewRNG(1)
	host := make([]float64, 0, 2*n)
	a := make([]float64, 2)
	for range n {
		p.act(a, rng)
		host = append(host, a...)
	}
	check("host", host)
	eng := cpu.New()
	dev := eng.New(engine.Float32, n, 2)
	d := newDriftDevice(eng, p)
	d.act(eng, dev, rng)
	check("device", download(eng, dev))
}

// TestDensityConfigErrors checks that bad configurations are one-line
// errors naming the problem.
func TestDensityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*DensityConfig)
		want string
	}{
		{func(c *DensityConfig) { c.Layout = "Nowhere" }, `unknown point maze layout "Nowhere"`},
		{func(c *DensityConfig) { c.Layout, c.State = "U", []float64{2.5, 1.5} }, "state = [2.5 1.5] is in a wall"},
		{func(c *DensityConfig) { c.State = []float64{-1, 1} }, "is in a wall or off the Open maze"},
		{func(c *DensityConfig) { c.State = []float64{1} }, "state = [1]: must be two finite numbers"},
		{func(c *DensityConfig) { c.Action = []float64{1.5, 0} }, "action = [1.5 0]"},
		{func(c *DensityConfig) { c.Episodes = 0 }, "episodes = 0"},
		{func(c *DensityConfig) { c.Updates = -1 }, "updates = -1"},
		{func(c *DensityConfig) { c.Cells = 0 }, "cells = 0"},
		{func(c *DensityConfig) { c.Subcells = 0 }, "subcells = 0"},
		{func(c *DensityConfig) { c.Rollouts = 0 }, "rollouts = 0"},
		{func(c *DensityConfig) { c.PolicyScale = 0 }, "policy_scale = 0"},
		{func(c *DensityConfig) { c.PolicyDrift = []float64{0, 0.8} }, "policy_drift = [0 0.8]"},
		{func(c *DensityConfig) { c.EpisodeSteps = 0 }, "episode_steps = 0"},
		{func(c *DensityConfig) { c.EpisodeSteps = 51 }, "episode_steps = 51: must be at most the Open maze's limit of 50"},
		{func(c *DensityConfig) { c.ActionNoise = -0.1 }, "action_noise = -0.1"},
		{func(c *DensityConfig) { c.Learner.Gamma = 1 }, "learner: gamma = 1"},
		{func(c *DensityConfig) { c.Learner.BatchSize = 3 }, "learner: batch_size = 3"},
	} {
		cfg := DefaultDensityConfig()
		tc.edit(&cfg)
		_, err := DensityCheck(context.Background(), cpu.New(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("DensityCheck: error %v, want one line containing %q", err, tc.want)
		}
	}
	if err := DefaultDensityConfig().Validate(); err != nil {
		t.Errorf("DefaultDensityConfig: %v", err)
	}
}

// smallDensity is DefaultDensityConfig made small enough for CI: networks
// of 64 units, batches of 128, 2000 updates on 1000 episodes, 3000
// rollouts, on the 8×8 grid.
func smallDensity() DensityConfig {
	c := DefaultDensityConfig()
	c.Learner.Hidden = []int{64, 64}
	c.Learner.BatchSize = 128
	c.Episodes = 1000
	c.Updates = 2000
	c.Rollouts = 3000
	c.Cells = 2
	return c
}

// smallDensityBound is the correlation TestDensityCheckSmall asks for. At
// smallDensity, seeds 0–5 gave 0.84 to 0.95 (pure-Go build, 5 to 10 s
// each). A classifier trained with the bootstrapped term removed (labels
// 0 and weights 1 on the random goals, so that it learns the next-state
// density alone) gave 0.45 to 0.50 on seeds 0–2: the bound lies between,
// with a margin from each.
const smallDensityBound = 0.7

// TestDensityCheckSmall runs the density check at a size for CI and checks
// the correlation against a weaker bound than the full check's 0.9, and
// the picture.
func TestDensityCheckSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about 6 seconds")
	}
	cfg := smallDensity()
	cfg.PNG = filepath.Join(t.TempDir(), "density.png")
	r, err := DensityCheck(context.Background(), cpu.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("correlation %.3f (ratio %.3f), predicted mass %.3f, %.1fs", r.Correlation, r.RatioCorrelation, r.PredictedMass, r.Seconds)
	if !(r.Correlation > smallDensityBound) {
		t.Errorf("correlation of predicted and Monte-Carlo densities %.3f, want > %g", r.Correlation, smallDensityBound)
	}
	if r.Rows != 8 || r.Cols != 8 || len(r.Predicted) != 64 || len(r.MonteCarlo) != 64 || len(r.Marginal) != 64 {
		t.Errorf("grid %d×%d with %d, %d and %d values, want 8×8", r.Rows, r.Cols, len(r.Predicted), len(r.MonteCarlo), len(r.Marginal))
	}
	f, err := os.Open(cfg.PNG)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the heat map: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 2*8*16 || b.Dy() < 8*16 {
		t.Errorf("heat map of %v, too small for two panels of 8×8 cells of 16 pixels", b)
	}
}

// TestDensityLong runs the full density check when IMAGO_LONG=1, with
// DefaultDensityConfig and the seed IMAGO_LONG_SEED (default 0), writes
// the heat map to IMAGO_DENSITY_PNG (default: a temporary directory,
// logged) and checks that the correlation exceeds 0.9. Build with -tags
// openblas for speed.
func TestDensityLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the long measurements")
	}
	cfg := DefaultDensityConfig()
	cfg.PNG = envOr("IMAGO_DENSITY_PNG", filepath.Join(t.TempDir(), "density.png"))
	if s := os.Getenv("IMAGO_LONG_SEED"); s != "" {
		var seed int64
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatal(err)
		}
		cfg.Seed = seed
	}
	r, err := DensityCheck(context.Background(), cpu.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RESULT density check seed %d: Pearson r %.4f (ratio %.4f), predicted mass %.3f, classifier loss %.4f, %.0f s; heat map %s",
		cfg.Seed, r.Correlation, r.RatioCorrelation, r.PredictedMass, r.Loss.Loss, r.Seconds, cfg.PNG)
	if !(r.Correlation > 0.9) {
		t.Errorf("correlation of predicted and Monte-Carlo densities %.4f, want > 0.9", r.Correlation)
	}
}
