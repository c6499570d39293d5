package curves

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/imago-rl/imago/internal/rundir"
)

var nan = math.NaN()

// run builds a run in memory with the columns env_steps and eval_return.
func run(dir, algo, env string, seed int64, steps, returns []float64) *rundir.Run {
	r := &rundir.Run{Dir: dir, Algo: algo, Env: env, Seed: seed, Columns: []string{"env_steps", "eval_return"}}
	for i := range steps {
		r.Rows = append(r.Rows, []float64{steps[i], returns[i]})
	}
	return r
}

// testRuns are three seeds of sac on Pendulum-v1 whose evaluations share
// the steps 1000, 2000 and 3000; seed 1 also has 2500 and seed 2 4000,
// which are dropped. Seed 0 has an mpc-style row with eval_return NaN,
// which is not an evaluation. Then one run of mve.
//
// At 1000 the returns are −100, 0, 100: mean 0, population std
// √(20000/3) = 81.65; at 2000 −50, 50, 150: mean 50, the same std; at
// 3000 all are 200: std 0.
func testRuns() []*rundir.Run {
	return []*rundir.Run{
		run("a0", "sac", "Pendulum-v1", 0, []float64{500, 1000, 2000, 3000}, []float64{nan, -100, -50, 200}),
		run("b4", "mve", "Pendulum-v1", 4, []float64{1000, 2000}, []float64{-300, -200}),
		run("a1", "sac", "Pendulum-v1", 1, []float64{1000, 2000, 2500, 3000}, []float64{0, 50, 70, 200}),
		run("a2", "sac", "Pendulum-v1", 2, []float64{1000, 2000, 3000, 4000}, []float64{100, 150, 200, 210}),
	}
}

// tol is the tolerance of the means and standard deviations: a few ulps
// of numbers of order 100.
const tol = 1e-12

func TestGroups(t *testing.T) {
	groups, err := Groups(testRuns(), "eval_return")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	sac, mve := groups[0], groups[1]
	if sac.Algo != "sac" || sac.Env != "Pendulum-v1" || len(sac.Runs) != 3 || mve.Algo != "mve" || len(mve.Runs) != 1 {
		t.Fatalf("groups %s %s (%d runs), %s %s (%d runs); want sac (3 runs) first, mve (1 run)",
			sac.Algo, sac.Env, len(sac.Runs), mve.Algo, mve.Env, len(mve.Runs))
	}
	std := math.Sqrt(20000.0 / 3)
	check := func(name string, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > tol {
				t.Errorf("%s = %v, want %v within %g", name, got, want, tol)
				return
			}
		}
	}
	check("sac steps", sac.Steps, []float64{1000, 2000, 3000})
	check("sac mean", sac.Mean, []float64{0, 50, 200})
	check("sac std", sac.Std, []float64{std, std, 0})
	if sac.Dropped != 2 {
		t.Errorf("sac dropped %d steps, want 2 (2500 and 4000)", sac.Dropped)
	}
	check("mve steps", mve.Steps, []float64{1000, 2000})
	check("mve mean", mve.Mean, []float64{-300, -200})
	check("mve std", mve.Std, []float64{0, 0})

	if got, want := sac.Label(), "sac Pendulum-v1 (3 seeds; 2 unshared steps dropped)"; got != want {
		t.Errorf("label %q, want %q", got, want)
	}
	if got, want := mve.Label(), "mve Pendulum-v1 seed 4"; got != want {
		t.Errorf("label %q, want %q", got, want)
	}
	if got := sac.Seeds(); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Errorf("seeds %v, want [0 1 2]", got)
	}

	// Two runs with one seed are runs, not seeds; nothing dropped, nothing
	// said.
	same := Group{Algo: "sac", Env: "X", Runs: []*rundir.Run{{Seed: 3}, {Seed: 3}}}
	if got, want := same.Label(), "sac X (2 runs)"; got != want {
		t.Errorf("label %q, want %q", got, want)
	}
}

func TestGroupsVariants(t *testing.T) {
	withSettings := func(r *rundir.Run, kv ...string) *rundir.Run {
		r.Settings = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			r.Settings[kv[i]] = kv[i+1]
		}
		return r
	}
	steps, ret := []float64{1000}, []float64{1}
	runs := []*rundir.Run{
		withSettings(run("m0", "mve", "P", 0, steps, ret), "horizon", "5", "lr", "0.001", "ddpg.hidden", "[256, 256]"),
		withSettings(run("d0", "mve", "P", 0, steps, ret), "horizon", "0", "lr", "0.001", "ddpg.hidden", "[64, 64]"),
		withSettings(run("m1", "mve", "P", 1, steps, ret), "horizon", "5", "lr", "0.001", "ddpg.hidden", "[256, 256]"),
		withSettings(run("s0", "sac", "P", 0, steps, ret), "lr", "0.1"),
		withSettings(run("x0", "mve", "Q", 0, steps, ret), "horizon", "0"),
	}
	groups, err := Groups(runs, "eval_return")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, g := range groups {
		labels = append(labels, g.Label())
	}
	// The mve groups on P differ in horizon and ddpg.hidden, in key order;
	// sac and mve on Q have no other group to tell apart from.
	want := []string{
		"mve P ddpg.hidden=[256, 256] horizon=5 (2 seeds)",
		"mve P ddpg.hidden=[64, 64] horizon=0 seed 0",
		"sac P seed 0",
		"mve Q seed 0",
	}
	if !slices.Equal(labels, want) {
		t.Errorf("labels:\n%q\nwant:\n%q", labels, want)
	}

	// At most maxVariantKeys settings are named.
	many := []*rundir.Run{
		withSettings(run("a", "sac", "P", 0, steps, ret), "a", "1", "b", "1", "c", "1", "d", "1", "e", "1"),
		withSettings(run("b", "sac", "P", 0, steps, ret), "a", "2", "b", "2", "c", "2", "d", "2", "e", "2"),
	}
	groups, err = Groups(many, "eval_return")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := groups[1].Variant, "a=2 b=2 c=2 +2 more"; got != want {
		t.Errorf("variant %q, want %q", got, want)
	}
}

func TestGroupsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		runs   []*rundir.Run
		column string
		want   string
	}{
		{"no runs", nil, "eval_return", "no runs"},
		{"no column", testRuns(), "success_rate", `no column "success_rate"; its columns are env_steps, eval_return`},
		{"no values", []*rundir.Run{run("r", "sac", "X", 0, []float64{100}, []float64{nan})}, "eval_return", "run r has no value of eval_return yet"},
		{"infinite", []*rundir.Run{run("r", "sac", "X", 0, []float64{100}, []float64{math.Inf(-1)})}, "eval_return", "eval_return is -Inf at 100"},
		{"disjoint", []*rundir.Run{
			run("r0", "sac", "X", 0, []float64{100, 200}, []float64{1, 2}),
			run("r1", "sac", "X", 1, []float64{150}, []float64{1}),
		}, "eval_return", "sac X: its 2 runs share no env_steps"},
	} {
		_, err := Groups(tc.runs, tc.column)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, err := Draw(tc.runs, tc.column, ""); err == nil {
			t.Errorf("%s: Draw gave no error", tc.name)
		}
	}
}

func TestSavePNG(t *testing.T) {
	p, err := Draw(testRuns(), "eval_return", "Pendulum-v1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Label.Text != "evaluation return" || p.X.Label.Text != "environment steps" || p.Title.Text != "Pendulum-v1" {
		t.Errorf("labels x %q, y %q, title %q", p.X.Label.Text, p.Y.Label.Text, p.Title.Text)
	}
	w, h := 16*vg.Centimeter, 10*vg.Centimeter
	path := filepath.Join(t.TempDir(), "curves.PNG") // the extension in any case
	if err := Save(p, path, w, h); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	// 16 cm × 10 cm at 150 dpi, rounded as vgimg rounds.
	wantW, wantH := int(w/vg.Inch*PNGDPI+0.5), int(h/vg.Inch*PNGDPI+0.5)
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("image is %d×%d pixels, want %d×%d", b.Dx(), b.Dy(), wantW, wantH)
	}

	// The sac band, blue at BandAlpha over white, lies above its mean line
	// half way between the evaluations at 1000 and 2000: at 1250 steps the
	// line is at 12.5 and the band reaches 12.5 + 81.65. Find the pixel of
	// 12.5 + 0.6·81.65 as plot.Draw lays the plot out on this canvas.
	c := draw.New(vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PNGDPI)))
	dc := p.DataCanvas(c)
	tx, ty := p.Transforms(&dc)
	px := int(tx(1250).Dots(PNGDPI))
	py := wantH - 1 - int(ty(12.5+0.6*math.Sqrt(20000.0/3)).Dots(PNGDPI))
	want := over(Palette[0], BandAlpha)
	if got := img.At(px, py); !near(got, want, 3) {
		t.Errorf("pixel (%d, %d) in the band is %v, want %v within 3 per channel", px, py, got, want)
	}
	// The band spans a third of the data area's width and a third of its
	// height, tens of thousands of pixels (59298 when written); the legend's
	// thumbnail of it is about 40×30.
	if n := count(img, want); n < 10000 {
		t.Errorf("%d pixels of the band's colour %v, want at least 10000", n, want)
	}

	// One run has no band.
	p1, err := Draw(testRuns()[1:2], "eval_return", "")
	if err != nil {
		t.Fatal(err)
	}
	path1 := filepath.Join(t.TempDir(), "one.png")
	if err := Save(p1, path1, w, h); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path1)
	if err != nil {
		t.Fatal(err)
	}
	img1, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The line's antialiased edges pass through the band's colour in a few
	// pixels; a band covers thousands.
	if n := count(img1, over(Palette[0], BandAlpha)); n > 200 {
		t.Errorf("one run: %d pixels of a band's colour, want no band (at most 200 from the line's edges)", n)
	}
}

// over is c with alpha a composited over white.
func over(c color.NRGBA, a uint8) color.RGBA {
	mix := func(v uint8) uint8 { return uint8((int(v)*int(a) + 255*(255-int(a)) + 127) / 255) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

func near(got color.Color, want color.RGBA, d int) bool {
	r, g, b, _ := got.RGBA()
	abs := func(x int) int { return max(x, -x) }
	return abs(int(r>>8)-int(want.R)) <= d && abs(int(g>>8)-int(want.G)) <= d && abs(int(b>>8)-int(want.B)) <= d
}

func count(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), c, 1) {
				n++
			}
		}
	}
	return n
}

func TestSaveFormats(t *testing.T) {
	p, err := Draw(testRuns(), "eval_return", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const w, h = 12 * vg.Centimeter, 8 * vg.Centimeter
	for ext, magic := range map[string]string{".svg": "<svg", ".pdf": "%PDF-"} {
		path := filepath.Join(dir, "curves"+ext)
		if err := Save(p, path, w, h); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b[:min(len(b), 512)], []byte(magic)) {
			t.Errorf("%s does not start with %q: %.40q", path, magic, b)
		}
	}

	for _, tc := range []struct {
		file string
		w, h vg.Length
		want string
	}{
		{"curves.jpg", w, h, "unknown image format .jpg; use one of .png, .svg, .pdf"},
		{"curves", w, h, "no file extension; it must end in one of .png, .svg, .pdf"},
		{"curves.png", 0, h, "width 0cm: must be between 3cm and 100cm"},
		{"curves.png", w, 200 * vg.Centimeter, "height 200cm: must be between 3cm and 100cm"},
		{"curves.png", w, vg.Length(math.NaN()), "height NaNcm"},
	} {
		path := filepath.Join(dir, "bad", tc.file)
		err := Save(p, path, tc.w, tc.h)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Save(%s, %v, %v): %v, want an error containing %q", tc.file, tc.w, tc.h, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Errorf("a failed Save created something")
	}
	// A directory that does not exist is the write's error, naming the file.
	if err := Save(p, filepath.Join(dir, "bad", "curves.png"), w, h); err == nil || !strings.Contains(err.Error(), "curves.png") {
		t.Errorf("Save into a missing directory: %v", err)
	}
}

func TestLegendCorner(t *testing.T) {
	steps := []float64{1000, 2000, 3000, 4000, 5000}
	for _, tc := range []struct {
		name      string
		returns   []float64
		top, left bool
	}{
		// A learning curve rises from the bottom left to the top right: the
		// bottom right is free.
		{"rising", []float64{-1500, -1000, -500, -200, -150}, false, false},
		// A loss falls from the top left to the bottom right: the top right
		// is the first free corner.
		{"falling", []float64{10, 5, 2, 1, 0.5}, true, false},
	} {
		p, err := Draw([]*rundir.Run{run("r", "sac", "Pendulum-v1", 0, steps, tc.returns)}, "eval_return", "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Legend.Top != tc.top || p.Legend.Left != tc.left {
			t.Errorf("%s: legend top %v left %v, want top %v left %v", tc.name, p.Legend.Top, p.Legend.Left, tc.top, tc.left)
		}
	}
}

func TestRoundTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var s []string
		for _, tk := range (roundTicks{}).Ticks(lo, hi) {
			if !tk.IsMinor() {
				s = append(s, tk.Label)
			}
		}
		return s
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 20000, []string{"0", "5k", "10k", "15k", "20k"}},
		{0, 3000, []string{"0", "500", "1000", "1500", "2000", "2500", "3000"}},
		{0, 1e6, []string{"0", "0.2M", "0.4M", "0.6M", "0.8M", "1M"}},
		{1000, 18000, []string{"2.5k", "5k", "7.5k", "10k", "12.5k", "15k", "17.5k"}},
		{-1700, 10, []string{"-1500", "-1250", "-1000", "-750", "-500", "-250", "0"}},
		{0, 1, []string{"0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{-0.3, 0.3, []string{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}},
	} {
		if got := labels(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("ticks on [%v, %v]: %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	// Minor ticks fall between the major ones, in order.
	ticks := (roundTicks{}).Ticks(0, 20000)
	if !slices.IsSortedFunc(ticks, func(a, b plot.Tick) int { return int(a.Value - b.Value) }) || len(ticks) != 21 {
		t.Errorf("ticks on [0, 20000]: %v, want 21 in order (5 minor per 5000)", ticks)
	}
}

func TestAxisLabel(t *testing.T) {
	for in, want := range map[string]string{
		"eval_return":     "evaluation return",
		"eval_return_std": "evaluation return std",
		"success_rate":    "success rate",
		"q_loss":          "q loss",
	} {
		if got := AxisLabel(in); got != want {
			t.Errorf("AxisLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
