package bptt

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/imago-rl/imago/engine/cpu"
)

// TestGradientStats checks the statistics on hand-computed estimates:
// g = (1, 0), (0, 1), (1, 1), (2, 2) have mean (1, 1), squared deviations
// 1 + 1 + 0 + 2 = 4 and so variance 4/3; their six pairwise cosines are
// 0, 1/√2, 1/√2, 1/√2, 1/√2, 1, with mean (1 + 4/√2)/6.
func TestGradientStats(t *testing.T) {
	st := GradientStats([][]float64{{1, 0}, {0, 1}, {1, 1}, {2, 2}})
	want := Stats{Mean: []float64{1, 1}, MeanNorm: math.Sqrt2, Variance: 4.0 / 3, Cosine: (1 + 4/math.Sqrt2) / 6}
	const tol = 1e-12
	if math.Abs(st.Mean[0]-1) > tol || math.Abs(st.Mean[1]-1) > tol || math.Abs(st.MeanNorm-want.MeanNorm) > tol ||
		math.Abs(st.Variance-want.Variance) > tol || math.Abs(st.Cosine-want.Cosine) > tol {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// smallStudy is the CI version of the study: a small model on 600
// transitions and a few estimates per horizon.
func smallStudy() StudyConfig {
	c := DefaultStudy()
	c.Transitions = 600
	c.Model.Members, c.Model.Elites = 3, 2
	c.Model.ModelHidden = []int{32, 32}
	c.Model.ModelWeightDecay = []float64{0, 0, 0}
	c.Model.ModelMaxEpochs = 20
	c.PolicyHidden = []int{16}
	c.Horizons = []int{1, 5, 20}
	c.Estimates = 8
	c.Rollouts = 4
	return c
}

// TestStudySmall runs the study at CI size and checks its rows and files:
// two rows per horizon, finite positive variances, cosines in [−1, 1], and
// the CSV, the table and the three PNGs written. (That both estimators
// converge to the same gradient is TestEstimatorsMatchExactGradient's
// business: at this size the likelihood-ratio mean is mostly noise.)
func TestStudySmall(t *testing.T) {
	rows, err := Study(cpu.New(), smallStudy())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 6", len(rows))
	}
	for _, r := range rows {
		t.Logf("%+v", r)
		if !(r.Variance > 0) || math.IsInf(r.Variance, 0) || !(r.Cosine >= -1 && r.Cosine <= 1) {
			t.Errorf("row %+v: want a finite positive variance and a cosine in [−1, 1]", r)
		}
	}
	dir := t.TempDir()
	if err := WriteStudy(rows, dir, "study"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"study.csv", "study.md", "study.png", "study-cosine.png", "study-relative.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}

// TestStudyErrors checks bad study configurations are errors.
func TestStudyErrors(t *testing.T) {
	for name, mod := range map[string]func(*StudyConfig){
		"transitions": func(c *StudyConfig) { c.Transitions = 1 },
		"estimates":   func(c *StudyConfig) { c.Estimates = 1 },
		"horizon":     func(c *StudyConfig) { c.Horizons = []int{0} },
		"model":       func(c *StudyConfig) { c.Model.Elites = 99 },
	} {
		c := smallStudy()
		c.Transitions = max(c.Transitions, 10)
		mod(&c)
		if name == "horizon" {
			c.Transitions, c.Model.ModelMaxEpochs = 20, 1
		}
		if _, err := Study(cpu.New(), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestStudyLong runs the study of docs/RESULTS.md (DefaultStudy) when
// IMAGO_LONG=1, writing the CSV and the table to IMAGO_STUDY_DIR (a
// temporary directory if unset) and the plots there too, and logging the
// table. It checks nothing. Build with -tags openblas.
func TestStudyLong(t *testing.T) {
	if os.Getenv("IMAGO_LONG") == "" {
		t.Skip("set IMAGO_LONG=1 to run the full gradient study")
	}
	rows, err := Study(cpu.New(), DefaultStudy())
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("IMAGO_STUDY_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := WriteStudy(rows, dir, "gradient-study"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "gradient-study.md"))
	t.Logf("\n%s", md)
}
