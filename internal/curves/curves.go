// Package curves draws learning curves of imago runs with gonum.org/v1/plot:
// a column of metrics.csv (eval_return by default) against environment
// steps, the runs of one algorithm on one environment averaged over their
// seeds into one line with a shaded band of ±1 standard deviation.
//
// Runs are of one group when their algorithm, environment and the
// algorithm's settings in config.yaml (rundir.Run.Settings) are the same:
// `--algo mve --set horizon=0` is another line than `--algo mve`, and
// the legend names the settings that tell them apart.
//
// Runs of a group are compared only at the environment steps where every
// one of them has a value. Where their evaluation steps differ (another
// --eval-every, a run that is shorter or still going) the other steps are
// left out, and the group's legend entry says how many were.
package curves

import (
	"bytes"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/imago-rl/imago/internal/rundir"
)

// Group is the runs of one algorithm with the same settings on one
// environment and their mean and standard deviation of a column at the
// steps all of them share.
type Group struct {
	Algo, Env string
	Runs      []*rundir.Run // in the order given to Groups

	// Variant names the settings that set the group apart from the other
	// groups of its algorithm and environment, as "key=value" separated by
	// spaces, at most maxVariantKeys of them and then "+N more"; it is
	// empty where there is no other group of them.
	Variant string

	// Steps are the env_steps at which every run has a value, increasing;
	// Mean and Std are the mean and the population standard deviation
	// (dividing by len(Runs)) over the runs at each of them. Std is 0 for
	// a group of one run.
	Steps, Mean, Std []float64

	// Dropped counts the steps at which some runs of the group have a
	// value and others do not; they are not in Steps.
	Dropped int
}

// Name is "ALGO ENV", followed by the Variant where there is one.
func (g *Group) Name() string {
	if g.Variant == "" {
		return g.Algo + " " + g.Env
	}
	return g.Algo + " " + g.Env + " " + g.Variant
}

// Label is the group's legend entry: "NAME seed S" for one run, else
// "NAME (N seeds)", or "(N runs)" where two runs share a seed, with the
// number of steps left out where there are some; NAME is Name.
func (g *Group) Label() string {
	if len(g.Runs) == 1 {
		return fmt.Sprintf("%s seed %d", g.Name(), g.Runs[0].Seed)
	}
	n := fmt.Sprintf("%d seeds", len(g.Runs))
	if len(g.Seeds()) < len(g.Runs) {
		n = fmt.Sprintf("%d runs", len(g.Runs))
	}
	if g.Dropped > 0 {
		n += fmt.Sprintf("; %d unshared %s dropped", g.Dropped, plural(g.Dropped, "step", "steps"))
	}
	return fmt.Sprintf("%s (%s)", g.Name(), n)
}

// Seeds returns the distinct seeds of the group's runs, increasing.
func (g *Group) Seeds() []int64 {
	s := make([]int64, len(g.Runs))
	for i, r := range g.Runs {
		s[i] = r.Seed
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Groups groups runs by algorithm, environment and settings, in the order
// each group's first run comes in runs, and computes each group's mean and
// standard deviation of column at the steps all its runs share. Rows
// where the column is NaN are not values (see rundir.Run.Column).
//
// It returns an error when runs is empty, a run lacks the column or has no
// value of it yet, a value is infinite, or the runs of a group share no
// step.
func Groups(runs []*rundir.Run, column string) ([]Group, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("no runs to draw")
	}
	type key struct{ algo, env, settings string }
	index := map[key]int{}
	var groups []Group
	var data [][]series // data[g][i] is the column of groups[g].Runs[i]
	for _, r := range runs {
		steps, values, err := r.Column(column)
		if err != nil {
			return nil, err
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("run %s has no value of %s yet", r.Dir, column)
		}
		for i, v := range values {
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("run %s: %s is %v at %v env steps", r.Dir, column, v, steps[i])
			}
		}
		k := key{r.Algo, r.Env, settingsKey(r.Settings)}
		g, ok := index[k]
		if !ok {
			g = len(groups)
			index[k] = g
			groups = append(groups, Group{Algo: r.Algo, Env: r.Env})
			data = append(data, nil)
		}
		groups[g].Runs = append(groups[g].Runs, r)
		data[g] = append(data[g], series{steps, values})
	}

	setVariants(groups)

	for gi := range groups {
		g := &groups[gi]
		// count[s] is how many runs have a value at step s.
		count := map[float64]int{}
		for _, s := range data[gi] {
			for _, step := range s.steps {
				count[step]++
			}
		}
		for step, n := range count {
			if n == len(g.Runs) {
				g.Steps = append(g.Steps, step)
			}
		}
		slices.Sort(g.Steps)
		g.Dropped = len(count) - len(g.Steps)
		if len(g.Steps) == 0 {
			return nil, fmt.Errorf("%s: its %d runs share no env_steps with a value of %s (%s)",
				g.Name(), len(g.Runs), column, stepRanges(g.Runs, data[gi]))
		}
		g.Mean = make([]float64, len(g.Steps))
		g.Std = make([]float64, len(g.Steps))
		vs := make([]float64, len(g.Runs))
		for j, step := range g.Steps {
			for i, s := range data[gi] {
				k, _ := slices.BinarySearch(s.steps, step) // present: step is common to all
				vs[i] = s.values[k]
			}
			g.Mean[j], g.Std[j] = meanStd(vs)
		}
	}
	return groups, nil
}

// settingsKey is one string that is the same for equal settings.
func settingsKey(settings map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%q=%q\n", k, settings[k])
	}
	return b.String()
}

// maxVariantKeys is the most settings a Variant names; more would not fit
// a legend.
const maxVariantKeys = 3

// setVariants sets the Variant of the groups that share their algorithm
// and environment with another: the settings, in key order, whose values
// are not the same in all of those groups.
func setVariants(groups []Group) {
	type ae struct{ algo, env string }
	same := map[ae][]*Group{}
	for i := range groups {
		g := &groups[i]
		same[ae{g.Algo, g.Env}] = append(same[ae{g.Algo, g.Env}], g)
	}
	for _, gs := range same {
		if len(gs) < 2 {
			continue
		}
		keys := map[string]bool{}
		for _, g := range gs {
			for k := range g.Runs[0].Settings {
				keys[k] = true
			}
		}
		var differ []string
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			v, ok := gs[0].Runs[0].Settings[k]
			for _, g := range gs[1:] {
				if w, has := g.Runs[0].Settings[k]; has != ok || w != v {
					differ = append(differ, k)
					break
				}
			}
		}
		for _, g := range gs {
			var parts []string
			for _, k := range differ {
				if v, ok := g.Runs[0].Settings[k]; ok {
					parts = append(parts, k+"="+v)
				}
			}
			if len(parts) > maxVariantKeys {
				parts = append(parts[:maxVariantKeys], fmt.Sprintf("+%d more", len(parts)-maxVariantKeys))
			}
			g.Variant = strings.Join(parts, " ")
		}
	}
}

// series is one run's values of a column and the steps they are at.
type series struct{ steps, values []float64 }

// stepRanges describes where each run has values, for the error of a
// group whose runs share none.
func stepRanges(runs []*rundir.Run, data []series) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		s := data[i]
		parts[i] = fmt.Sprintf("%s has %d from %v to %v", r.Dir, len(s.steps), s.steps[0], s.steps[len(s.steps)-1])
	}
	return strings.Join(parts, ", ")
}

// meanStd returns the mean and the population standard deviation of x,
// two-pass for accuracy.
func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(len(x)))
}

// Palette is the colours of the groups, in order: Tableau 10, whose
// colours stay distinct from each other for the usual forms of colour
// blindness and in grey scale print better than plotutil's soft set. The
// 11th group takes the 1st colour again with a dashed line.
var Palette = []color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// BandAlpha is the opacity of the ±1 std band, so that overlapping bands
// and the grid stay visible through it.
const BandAlpha = 0x40

// maxMarkers is the most points of a line that get a marker; a line with
// more is dense enough to read without.
const maxMarkers = 30

// Draw draws column against environment steps for runs, one line per
// group (see Groups) in the colours of Palette, each with its ±1 std band
// over the seeds where it has more than one run and markers at its points
// where it has at most 30, and a legend (Group.Label) in the corner where
// it hides the least of them. The x axis starts at 0 and is labelled
// "environment steps", the y axis the column (AxisLabel); title, if not
// empty, is drawn above. Errors are those of Groups. The plot is ready
// for Save, or gonum's own Save and WriterTo.
func Draw(runs []*rundir.Run, column, title string) (*plot.Plot, error) {
	groups, err := Groups(runs, column)
	if err != nil {
		return nil, err
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "environment steps"
	p.Y.Label.Text = AxisLabel(column)
	p.X.Tick.Marker = roundTicks{}
	p.X.Min = 0 // a learning curve starts before any step
	p.Y.Tick.Marker = roundTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xdd}
	grid.Horizontal.Color = color.Gray{0xdd}
	p.Add(grid)

	for i, g := range groups {
		c := Palette[i%len(Palette)]
		line, err := plotter.NewLine(xys(g.Steps, g.Mean))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.Name(), err)
		}
		line.Color = c
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i / len(Palette))
		thumbs := []plot.Thumbnailer{}
		if len(g.Runs) > 1 {
			band, err := bandPolygon(g, c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", g.Name(), err)
			}
			p.Add(band)
			thumbs = append(thumbs, band)
		}
		p.Add(line)
		thumbs = append(thumbs, line)
		if len(g.Steps) <= maxMarkers {
			marks, err := plotter.NewScatter(xys(g.Steps, g.Mean))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", g.Name(), err)
			}
			marks.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(marks)
			thumbs = append(thumbs, marks)
		}
		p.Legend.Add(g.Label(), thumbs...)
	}
	// A little room above and below the bands, so that no line runs along
	// the frame.
	if r := p.Y.Max - p.Y.Min; r > 0 {
		p.Y.Min -= yMargin * r
		p.Y.Max += yMargin * r
	}
	placeLegend(p, groups)
	return p, nil
}

// bandPolygon is the region between mean−std and mean+std, filled with c
// made translucent and no outline.
func bandPolygon(g Group, c color.NRGBA) (*plotter.Polygon, error) {
	n := len(g.Steps)
	ring := make(plotter.XYs, 0, 2*n)
	for j := 0; j < n; j++ {
		ring = append(ring, plotter.XY{X: g.Steps[j], Y: g.Mean[j] + g.Std[j]})
	}
	for j := n - 1; j >= 0; j-- {
		ring = append(ring, plotter.XY{X: g.Steps[j], Y: g.Mean[j] - g.Std[j]})
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, err
	}
	c.A = BandAlpha
	band.Color = c
	band.LineStyle.Width = 0
	return band, nil
}

// xys pairs x with y.
func xys(x, y []float64) plotter.XYs {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return pts
}

// yMargin is the room above the highest band and below the lowest, a
// fraction of their range.
const yMargin = 0.03

// The data area of the default figure of imago plot, 16 cm × 10 cm less
// the room of the axes and their labels, against which placeLegend
// measures the legend.
const (
	legendDataWidth  = 14 * vg.Centimeter
	legendDataHeight = 8 * vg.Centimeter
)

// legendInset is the legend's distance from the corner of the data area.
const legendInset = 4 // points

// placeLegend puts p's legend in the corner of the data area where it
// hides the fewest points of the groups' lines and bands: bottom right,
// top left, top right or bottom left, the first of those where they tie.
// It measures the legend in its font against the default figure; the
// choice holds for figures of a similar shape. p's axis ranges must be
// set (all plotters added).
func placeLegend(p *plot.Plot, groups []Group) {
	sty := p.Legend.TextStyle
	var w, entry vg.Length
	for _, g := range groups {
		w = max(w, p.Legend.ThumbnailWidth+sty.Rectangle(" "+g.Label()).Max.X)
		entry = max(entry, sty.Rectangle(g.Label()).Max.Y)
	}
	inset := vg.Points(legendInset)
	bw := float64((w + 2*inset) / legendDataWidth)
	bh := float64((vg.Length(len(groups))*entry + 2*inset) / legendDataHeight)
	norm := func(v, lo, hi float64) float64 {
		if hi <= lo {
			return 0.5
		}
		return (v - lo) / (hi - lo)
	}
	// Points along each line and across its band, 8 per segment.
	const samples = 8
	var pts [][2]float64
	for _, g := range groups {
		for j := range g.Steps {
			for k := 0; k < samples; k++ {
				if j == len(g.Steps)-1 && k > 0 {
					break
				}
				x, m, sd := g.Steps[j], g.Mean[j], g.Std[j]
				if k > 0 {
					f := float64(k) / samples
					x += f * (g.Steps[j+1] - x)
					m += f * (g.Mean[j+1] - m)
					sd += f * (g.Std[j+1] - sd)
				}
				for _, d := range []float64{-1, -0.5, 0, 0.5, 1} {
					pts = append(pts, [2]float64{norm(x, p.X.Min, p.X.Max), norm(m+d*sd, p.Y.Min, p.Y.Max)})
				}
			}
		}
	}
	best, bestHidden := 0, -1
	corners := []struct{ top, left bool }{{false, false}, {true, true}, {true, false}, {false, true}}
	for i, c := range corners {
		x0, y0 := 1-bw, 0.0
		if c.left {
			x0 = 0
		}
		if c.top {
			y0 = 1 - bh
		}
		hidden := 0
		for _, pt := range pts {
			if pt[0] >= x0 && pt[0] <= x0+bw && pt[1] >= y0 && pt[1] <= y0+bh {
				hidden++
			}
		}
		if bestHidden < 0 || hidden < bestHidden {
			best, bestHidden = i, hidden
		}
	}
	c := corners[best]
	p.Legend.Top, p.Legend.Left = c.top, c.left
	p.Legend.XOffs, p.Legend.YOffs = -inset, inset
	if c.left {
		p.Legend.XOffs = inset
	}
	if c.top {
		p.Legend.YOffs = -inset
	}
	p.Add(legendBackdrop{width: w, height: vg.Length(len(groups)) * entry})
}

// legendBackdrop is a translucent white box with a grey edge behind the
// legend, so that its text reads over a line or a band it may cover, as
// matplotlib's legend frame does. It is added after every line so that it
// lies over them; the legend is drawn after all plotters. width and height
// are the legend's entries', without margins.
type legendBackdrop struct{ width, height vg.Length }

// legendBackdropMargin is how far the box reaches beyond the entries. It
// also covers the difference between the data area the box is drawn in
// and the slightly larger one gonum draws the legend in (by the markers'
// radius).
const legendBackdropMargin = 3 // points

func (b legendBackdrop) Plot(c draw.Canvas, plt *plot.Plot) {
	l := plt.Legend
	var r vg.Rectangle
	if l.Left {
		r.Min.X = c.Min.X + l.XOffs
		r.Max.X = r.Min.X + b.width
	} else {
		r.Max.X = c.Max.X + l.XOffs
		r.Min.X = r.Max.X - b.width
	}
	if l.Top {
		r.Max.Y = c.Max.Y + l.YOffs
		r.Min.Y = r.Max.Y - b.height
	} else {
		r.Min.Y = c.Min.Y + l.YOffs
		r.Max.Y = r.Min.Y + b.height
	}
	m := vg.Points(legendBackdropMargin)
	r.Min.X, r.Min.Y, r.Max.X, r.Max.Y = r.Min.X-m, r.Min.Y-m, r.Max.X+m, r.Max.Y+m
	c.SetColor(color.NRGBA{0xff, 0xff, 0xff, 0xcc})
	c.Fill(r.Path())
	c.StrokeLines(draw.LineStyle{Color: color.Gray{0xcc}, Width: vg.Points(0.5)},
		[]vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
}

// AxisLabel is the y axis label for a column of metrics.csv: its name in
// words, "eval_" spelled "evaluation ".
func AxisLabel(column string) string {
	if rest, ok := strings.CutPrefix(column, "eval_"); ok {
		column = "evaluation_" + rest
	}
	return strings.ReplaceAll(column, "_", " ")
}

// roundTicks marks 4 to 8 round numbers (multiples of 1, 2, 2.5 or 5
// times a power of ten) with minor ticks between, labelled in thousands
// (20k) or millions (1.5M) where the range reaches 10⁴ or 10⁶. gonum's
// default aims at 3 labels and writes 1.5e+06.
type roundTicks struct{}

func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 7 // the step is in [raw, 2·raw): 4 to 8 major ticks
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	var step float64
	minors := 5.0
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * pow; step >= raw {
			if m == 2 {
				minors = 4
			}
			break
		}
	}
	scale, suffix := 1.0, ""
	switch m := max(math.Abs(lo), math.Abs(hi)); {
	case m >= 1e6:
		scale, suffix = 1e6, "M"
	case m >= 1e4:
		scale, suffix = 1e3, "k"
	}
	var ticks []plot.Tick
	// In units of step, on a minor tick; the slack keeps -0.3/0.1 =
	// -2.9999999999999996 from losing the tick at -0.3.
	first := math.Ceil(lo/step*minors-1e-9) / minors
	for i := 0; ; i++ {
		// Multiply rather than accumulate, so that no rounding builds up.
		k := first + float64(i)/minors
		v := k * step
		if v > hi+step*1e-9 {
			break
		}
		t := plot.Tick{Value: v}
		if r := math.Round(k); math.Abs(k-r) < 1e-9 {
			t.Value = r * step
			t.Label = tickLabel(t.Value/scale) + suffix
			if t.Value == 0 {
				t.Label = "0"
			}
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// tickLabel writes v with at most six decimals and no trailing zeros,
// which rounds away the binary noise of a quotient (0.30000000000000004).
func tickLabel(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// Formats are the file extensions Save writes, lower case.
var Formats = []string{".png", ".svg", ".pdf"}

// PNGDPI is the resolution of PNG files: 150 dots per inch, so that a 16 cm
// wide figure is 945 pixels wide, sharp on a README page.
const PNGDPI = 150

// The least and the most that Save accepts as a width or a height: below
// the least, axes and legend do not fit; above the most, a PNG would take
// hundreds of megabytes of memory.
const (
	MinSize = 3 * vg.Centimeter
	MaxSize = 100 * vg.Centimeter
)

// Save writes p to path as a PNG (at PNGDPI), SVG or PDF image of width ×
// height, by path's extension, any case. An extension not in Formats or a
// size outside [MinSize, MaxSize] is an error, and then nothing is
// written. The image is drawn in memory first, so a failure leaves no
// partial file behind unless the write itself fails.
func Save(p *plot.Plot, path string, width, height vg.Length) error {
	ext := strings.ToLower(filepath.Ext(path))
	if !slices.Contains(Formats, ext) {
		if ext == "" {
			return fmt.Errorf("%s: no file extension; it must end in one of %s", path, strings.Join(Formats, ", "))
		}
		return fmt.Errorf("%s: unknown image format %s; use one of %s", path, ext, strings.Join(Formats, ", "))
	}
	for _, s := range []struct {
		name string
		v    vg.Length
	}{{"width", width}, {"height", height}} {
		if !(s.v >= MinSize && s.v <= MaxSize) {
			return fmt.Errorf("%s %s: must be between %s and %s", s.name, formatLength(s.v), formatLength(MinSize), formatLength(MaxSize))
		}
	}
	var c vg.CanvasWriterTo
	switch ext {
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(PNGDPI),
			vgimg.UseBackgroundColor(color.White))}
	case ".svg":
		c = vgsvg.New(width, height)
	case ".pdf":
		c = vgpdf.New(width, height)
	}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("draw %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

// formatLength writes l in centimetres, the unit of the defaults.
func formatLength(l vg.Length) string {
	return strconv.FormatFloat(float64(l/vg.Centimeter), 'g', 4, 64) + "cm"
}
