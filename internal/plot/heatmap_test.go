package plot

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cellCentre returns the pixel at the centre of cell (r, c) of panel i of
// a figure rendered from maps with cell size cell, found the way the
// renderer lays panels out.
func cellCentre(img *image.RGBA, maps []Heatmap, i, r, c, cell int) color.RGBA {
	top := heatMargin + heatLineHeight // every test figure has titles
	x := heatMargin
	for _, m := range maps[:i] {
		x += max(m.Cols*cell, heatTextWidth(m.Title)) + heatGap
	}
	return img.RGBAAt(x+c*cell+cell/2, top+r*cell+cell/2)
}

// TestRenderColours checks that every cell of two panels has the colour of
// its value on the shared scale: the smallest value of either panel the
// first colour of viridis, the largest the last, a value at 3/8 of the
// range the stop there, and NaN grey.
func TestRenderColours(t *testing.T) {
	maps := []Heatmap{
		{Title: "left", Rows: 2, Cols: 3, Values: []float64{0, 1, 2, 3, 4, 5}},
		{Title: "right", Rows: 3, Cols: 2, Values: []float64{8, 3, math.NaN(), -8, 0, 1}},
	}
	const cell = 10
	img, err := RenderHeatmaps(maps, HeatmapOptions{CellSize: cell})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range maps {
		for r := range m.Rows {
			for c := range m.Cols {
				v := m.Values[r*m.Cols+c]
				want := heatMissing
				if !math.IsNaN(v) {
					want = heatViridis((v + 8) / 16)
				}
				if got := cellCentre(img, maps, i, r, c, cell); got != want {
					t.Errorf("panel %d cell (%d, %d) = %v: colour %v, want %v", i, r, c, v, got, want)
				}
			}
		}
	}
	// The ends and a stop of the scale, by value: −8 (min), 8 (max), and
	// −2 at 3/8 of the way.
	for _, tc := range []struct {
		got  color.RGBA
		want color.RGBA
	}{
		{cellCentre(img, maps, 1, 1, 1, cell), color.RGBA{68, 1, 84, 255}},
		{cellCentre(img, maps, 1, 0, 0, cell), color.RGBA{253, 231, 37, 255}},
	} {
		if tc.got != tc.want {
			t.Errorf("scale end: colour %v, want %v", tc.got, tc.want)
		}
	}
	if got := heatViridis(3.0 / 8); got != (color.RGBA{44, 113, 142, 255}) {
		t.Errorf("viridis(3/8) = %v, want the stop (44, 113, 142)", got)
	}
	if got := heatViridis(1.0 / 16); got != (color.RGBA{70, 23, 103, 255}) {
		t.Errorf("viridis(1/16) = %v, want the midpoint of the first two stops (70, 23, 103)", got)
	}
}

// TestFixedScale checks that a fixed scale clamps: values below Lo get the
// first colour and above Hi the last, whatever the data's range.
func TestFixedScale(t *testing.T) {
	maps := []Heatmap{{Title: "x", Rows: 1, Cols: 4, Values: []float64{-5, 0, 0.5, 7}}}
	img, err := RenderHeatmaps(maps, HeatmapOptions{CellSize: 8, Lo: 0, Hi: 1})
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range []color.RGBA{heatViridis(0), heatViridis(0), heatViridis(0.5), heatViridis(1)} {
		if got := cellCentre(img, maps, 0, 0, c, 8); got != want {
			t.Errorf("cell %d = %v on the scale [0, 1]: colour %v, want %v", c, maps[0].Values[c], got, want)
		}
	}
}

// TestMarksAndText checks that a mark draws a red cross at its point, that
// a mark off the grid draws nothing and does not panic, and that a title's
// first glyph is inked where the font says.
func TestMarksAndText(t *testing.T) {
	const cell = 20
	maps := []Heatmap{{
		Title: "T", Rows: 4, Cols: 4, Values: make([]float64, 16),
		Marks: []HeatmapMark{{Row: 1, Col: 2.5}, {Row: -3, Col: 99}},
	}}
	img, err := RenderHeatmaps(maps, HeatmapOptions{CellSize: cell, Caption: "caption"})
	if err != nil {
		t.Fatal(err)
	}
	top := heatMargin + heatLineHeight
	if got := img.RGBAAt(heatMargin+50, top+20); got != heatMarkColor {
		t.Errorf("mark at row 1, column 2.5: pixel %v, want %v", got, heatMarkColor)
	}
	// 'T' is "#####" over "..#.." six times: ink across the top row, and
	// in the middle column only below it.
	x0, y0 := heatMargin, heatMargin
	for _, p := range []struct {
		col, row int
		ink      bool
	}{{0, 0, true}, {4, 0, true}, {2, 3, true}, {0, 3, false}, {4, 4, false}} {
		got := img.RGBAAt(x0+p.col*heatTextScale, y0+p.row*heatTextScale)
		if (got == heatInk) != p.ink {
			t.Errorf("glyph T at font pixel (%d, %d): %v, ink %v", p.col, p.row, got, p.ink)
		}
	}
}

// TestWritePNG checks that the PNG decodes to the rendered image, and that
// WriteHeatmapsFile writes the same bytes and reports a bad path.
func TestWritePNG(t *testing.T) {
	maps := []Heatmap{{Title: "a", Rows: 3, Cols: 5, Values: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}}
	opt := HeatmapOptions{Caption: "r = 0.95"}
	want, err := RenderHeatmaps(maps, opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteHeatmaps(&buf, maps, opt); err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != want.Bounds() {
		t.Fatalf("decoded bounds %v, rendered %v", got.Bounds(), want.Bounds())
	}
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			r, g, b, a := got.At(x, y).RGBA()
			if c := want.RGBAAt(x, y); uint8(r>>8) != c.R || uint8(g>>8) != c.G || uint8(b>>8) != c.B || uint8(a>>8) != c.A {
				t.Fatalf("pixel (%d, %d): decoded %v, rendered %v", x, y, got.At(x, y), c)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "map.png")
	if err := WriteHeatmapsFile(path, maps, opt); err != nil {
		t.Fatal(err)
	}
	if file, err := os.ReadFile(path); err != nil || !bytes.Equal(file, buf.Bytes()) {
		t.Errorf("file %s: %d bytes (%v), want the %d written to a buffer", path, len(file), err, buf.Len())
	}
	err = WriteHeatmapsFile(filepath.Join(t.TempDir(), "no", "such", "dir.png"), maps, opt)
	if err == nil || !strings.Contains(err.Error(), "dir.png") {
		t.Errorf("writing into a missing directory: %v, want an error naming the file", err)
	}
}

// TestHeatmapErrors checks that bad figures are one-line errors naming the
// problem.
func TestHeatmapErrors(t *testing.T) {
	ok := Heatmap{Title: "ok", Rows: 1, Cols: 2, Values: []float64{0, 1}}
	for _, tc := range []struct {
		maps []Heatmap
		opt  HeatmapOptions
		want string
	}{
		{nil, HeatmapOptions{}, "no panels"},
		{[]Heatmap{ok, {Title: "short", Rows: 2, Cols: 2, Values: []float64{1, 2, 3}}}, HeatmapOptions{}, `heat map 1 ("short") is 2×2 with 3 values`},
		{[]Heatmap{{Title: "empty", Rows: 0, Cols: 2, Values: nil}}, HeatmapOptions{}, "need positive sizes"},
		{[]Heatmap{{Title: "inf", Rows: 1, Cols: 2, Values: []float64{0, math.Inf(1)}}}, HeatmapOptions{}, "cell (0, 1) is +Inf"},
		{[]Heatmap{ok}, HeatmapOptions{CellSize: 65}, "cell size 65"},
		{[]Heatmap{ok}, HeatmapOptions{CellSize: -1}, "cell size -1"},
		{[]Heatmap{ok}, HeatmapOptions{Lo: 2, Hi: 1}, "colour scale [2, 1]"},
	} {
		_, err := RenderHeatmaps(tc.maps, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("RenderHeatmaps: error %v, want one line containing %q", err, tc.want)
		}
	}
	// All NaN, or one value throughout, is drawable.
	for _, v := range [][]float64{{math.NaN(), math.NaN()}, {3, 3}} {
		if _, err := RenderHeatmaps([]Heatmap{{Rows: 1, Cols: 2, Values: v}}, HeatmapOptions{}); err != nil {
			t.Errorf("values %v: %v", v, err)
		}
	}
}
