package plot

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// TestLineRenderPlacesPoints checks by hand-computed pixels that a series
// lands where the layout puts it. A 400×300 chart has its plot area at
// columns 64 to 400−1−16 = 383 and rows 40 to 300−1−44 = 255. The x data
// 0…10 fit to ticks of 2 (10/6 rounded up to a nice step), so x = 5 is
// column 64 + round(0.5·319) = 224; the fixed y range [0, 4] puts y = 2 at
// row 255 − round(0.5·215) = 147 and y = 3 at 255 − round(0.75·215) = 94.
func TestLineRenderPlacesPoints(t *testing.T) {
	red := color.RGBA{200, 0, 0, 255}
	c := LineChart{
		Width: 400, Height: 300, YMin: 0, YMax: 4,
		Series: []LineSeries{
			{X: []float64{0, 10}, Y: []float64{2, 2}, Color: red},
			{X: []float64{0, 5, 10}, Y: []float64{3, 3, 3}}, // palette colour 1
		},
	}
	img, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Fatalf("image %v, want 400×300", b)
	}
	if got := img.RGBAAt(224, 147); got != red {
		t.Errorf("pixel (224, 147) on the y = 2 series is %v, want %v", got, red)
	}
	if got := img.RGBAAt(224, 94); got != linePalette[1] {
		t.Errorf("pixel (224, 94) on the y = 3 series is %v, want palette colour %v", got, linePalette[1])
	}
	// The lines are two pixels thick: rows 147 and 148, nothing at 150.
	if got := img.RGBAAt(224, 150); got == red {
		t.Errorf("pixel (224, 150) is the series colour: the y = 2 line is too thick or misplaced")
	}
	// The axes: the x axis along row 255, the y axis along column 64.
	if got := img.RGBAAt(300, 255); got != lineInk {
		t.Errorf("pixel (300, 255) on the x axis is %v, want ink", got)
	}
	if got := img.RGBAAt(64, 200); got != lineInk {
		t.Errorf("pixel (64, 200) on the y axis is %v, want ink", got)
	}
	// Outside the plot area, right of it, the background.
	if got := img.RGBAAt(395, 150); got != lineBackground {
		t.Errorf("pixel (395, 150) right of the plot area is %v, want background", got)
	}
}

// TestLineRenderClipsAndGaps checks that a point outside a fixed range
// draws nothing outside the plot area and that a NaN breaks the curve.
func TestLineRenderClipsAndGaps(t *testing.T) {
	green := color.RGBA{0, 150, 0, 255}
	c := LineChart{
		Width: 400, Height: 300, YMin: 0, YMax: 1,
		Series: []LineSeries{{X: []float64{0, 4, 5, 6, 10}, Y: []float64{0.5, 0.5, math.NaN(), 0.5, 100}, Color: green}},
	}
	img, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 40; y++ {
		for x := range 400 {
			if img.RGBAAt(x, y) == green {
				t.Fatalf("series colour at (%d, %d), above the plot area", x, y)
			}
		}
	}
	// y = 0.5 is row 255 − round(0.5·215) = 147; x = 5, the NaN, is
	// column 224, between the ends of the gap at x = 4 (192) and 6 (256).
	if got := img.RGBAAt(180, 147); got != green {
		t.Errorf("pixel (180, 147) before the gap is %v, want the series colour", got)
	}
	if got := img.RGBAAt(224, 147); got == green {
		t.Errorf("pixel (224, 147) in the gap has the series colour")
	}
}

// TestLineAxis checks the tick choice on hand-worked ranges and, on random
// ranges, its invariants: the ticks cover the data, are 3 to 13 of them,
// and the step is 1, 2 or 5 times a power of ten.
func TestLineAxis(t *testing.T) {
	for _, tc := range []struct {
		lo, hi                float64
		from, to, step, first float64
		count, decimals       int
	}{
		{0.3, 9.7, 0, 10, 2, 0, 6, 0},           // 9.4/6 = 1.57 → 2
		{0, 1, 0, 1, 0.2, 0, 6, 1},              // 1/6 = 0.167 → 0.2
		{-3, 2000, -500, 2000, 500, -500, 6, 0}, // 2003/6 = 334 → 500
		{14, 14, 12.5, 15.5, 0.5, 12.5, 7, 1},   // one value: ±1.4, 2.8/6 → 0.5
		{0, 0, -1, 1, 0.5, -1, 5, 1},            // zero: ±1, 2/6 → 0.5
	} {
		from, to, step, first, count, decimals := lineAxis(tc.lo, tc.hi, false)
		if math.Abs(from-tc.from) > 1e-9 || math.Abs(to-tc.to) > 1e-9 || math.Abs(step-tc.step) > 1e-12 ||
			math.Abs(first-tc.first) > 1e-9 || count != tc.count || decimals != tc.decimals {
			t.Errorf("lineAxis(%g, %g) = %g, %g, step %g, first %g, %d ticks, %d decimals; want %g, %g, %g, %g, %d, %d",
				tc.lo, tc.hi, from, to, step, first, count, decimals, tc.from, tc.to, tc.step, tc.first, tc.count, tc.decimals)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		lo := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(12)-4))
		hi := lo + rng.Float64()*math.Pow(10, float64(rng.IntN(12)-4))
		from, to, step, first, count, _ := lineAxis(lo, hi, false)
		if from > lo || to < hi || count < 3 || count > 13 || first < from-1e-9*step {
			t.Fatalf("lineAxis(%g, %g) = %g, %g, step %g, first %g, %d ticks: does not cover the data with 3 to 13 ticks", lo, hi, from, to, step, first, count)
		}
		m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9))
		if math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
			t.Fatalf("lineAxis(%g, %g): step %g is not 1, 2 or 5 times a power of ten", lo, hi, step)
		}
	}
}

func TestLineFormat(t *testing.T) {
	for _, tc := range []struct {
		v        float64
		decimals int
		want     string
	}{{0, 0, "0"}, {-0.0000001, 2, "0.00"}, {2.5, 1, "2.5"}, {-500, 0, "-500"}, {1e6, 0, "1000000"}} {
		if got := lineFormat(tc.v, tc.decimals); got != tc.want {
			t.Errorf("lineFormat(%g, %d) = %q, want %q", tc.v, tc.decimals, got, tc.want)
		}
	}
}

// TestLineFont checks every glyph's shape and that drawn text puts ink
// exactly on the glyph's cells.
func TestLineFont(t *testing.T) {
	for r, g := range lineFont {
		for i, row := range g {
			if len(row) != 5 || strings.Trim(row, ".#") != "" {
				t.Errorf("glyph %q row %d is %q: want five '.' or '#'", r, i, row)
			}
		}
	}
	for _, want := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-+:()/=%'_?" {
		if _, ok := lineFont[want]; !ok {
			t.Errorf("no glyph for %q", want)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	lineText(img, 1, 1, "7a", 1, lineInk) // 'a' is drawn as 'A'
	for gi, r := range "7A" {
		g := lineFont[r]
		for row := range 7 {
			for col := range 5 {
				inked := img.RGBAAt(1+6*gi+col, 1+row) == lineInk
				if inked != (g[row][col] == '#') {
					t.Errorf("glyph %q cell (%d, %d): inked %v, want %v", r, row, col, inked, !inked)
				}
			}
		}
	}
	if w := lineTextWidth("7a", 2); w != 22 {
		t.Errorf("width of two characters at scale 2 is %d, want (12−1)·2 = 22", w)
	}
}

// TestLineLegend checks that named series get a stroke of their colour in
// the legend box at the top right, and that a chart without names has no
// legend.
func TestLineLegend(t *testing.T) {
	blue := color.RGBA{0, 0, 220, 255}
	base := LineChart{Width: 400, Height: 300, Series: []LineSeries{{X: []float64{0, 1}, Y: []float64{0, 0}, Color: blue}}}
	named := base
	named.Series = []LineSeries{{Name: "ONE", X: []float64{0, 1}, Y: []float64{0, 0}, Color: blue}}
	// count counts the series colour's pixels near the top of the plot
	// area (rows 40 to 69), in its right part (columns 250 to 383) or its
	// left part (64 to 197).
	count := func(c LineChart, left bool) int {
		img, err := c.Render()
		if err != nil {
			t.Fatal(err)
		}
		x0 := 250
		if left {
			x0 = 64
		}
		n := 0
		for y := 40; y < 70; y++ {
			for x := x0; x < x0+134; x++ {
				if img.RGBAAt(x, y) == blue {
					n++
				}
			}
		}
		return n
	}
	if n := count(named, false); n < 2*16 {
		t.Errorf("%d legend pixels of the series colour, want a stroke of at least 2×16", n)
	}
	if n := count(base, false); n != 0 {
		t.Errorf("%d pixels of the series colour in the legend area without a named series, want 0", n)
	}
	named.LegendLeft = true
	if l, r := count(named, true), count(named, false); l < 2*16 || r != 0 {
		t.Errorf("LegendLeft: %d stroke pixels on the left, %d on the right; want at least 2×16 and 0", l, r)
	}
}

func TestLineWritePNG(t *testing.T) {
	c := LineChart{Title: "t", Series: []LineSeries{{Name: "a", X: []float64{1, 2, 3}, Y: []float64{3, 1, 2}}}}
	var buf bytes.Buffer
	if err := c.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != lineDefaultWidth || b.Dy() != lineDefaultHeight {
		t.Errorf("decoded %v, want the default %d×%d", b, lineDefaultWidth, lineDefaultHeight)
	}
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.png")); err == nil {
		t.Error("WriteFile into a missing directory returned no error")
	}
}

func TestLineBadCharts(t *testing.T) {
	ok := LineSeries{X: []float64{0, 1}, Y: []float64{0, 1}}
	for _, tc := range []struct {
		name  string
		chart LineChart
		want  string
	}{
		{"no series", LineChart{}, "no series"},
		{"lengths", LineChart{Series: []LineSeries{{X: []float64{0, 1}, Y: []float64{0}}}}, "same number"},
		{"empty", LineChart{Series: []LineSeries{{}}}, "at least one"},
		{"infinite", LineChart{Series: []LineSeries{{X: []float64{0, 1}, Y: []float64{0, math.Inf(1)}}}}, "finite"},
		{"all NaN", LineChart{Series: []LineSeries{{X: []float64{math.NaN()}, Y: []float64{0}}}}, "no point"},
		{"small", LineChart{Width: 100, Height: 100, Series: []LineSeries{ok}}, "at least 160×120"},
		{"range", LineChart{YMin: 2, YMax: 1, Series: []LineSeries{ok}}, "YMin < YMax"},
	} {
		_, err := tc.chart.Render()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
