package plot

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"
)

// Heatmap is one panel of a heat-map figure: a grid of Rows × Cols values
// drawn as coloured square cells, row 0 at the top and column 0 at the
// left, under its title.
type Heatmap struct {
	// Title is drawn above the panel in a 3×5 font of capital letters,
	// digits and the marks . , - + = : ( ) / (lower case is drawn in
	// capitals, anything else as '?').
	Title      string
	Rows, Cols int
	// Values holds Rows·Cols values, row-major. A NaN cell is drawn grey;
	// an infinite value is an error.
	Values []float64
	// Marks are points drawn as small red crosses on top of the cells.
	Marks []HeatmapMark
}

// HeatmapMark is a point on a heat map in cell units: Row and Col measure
// from the top-left corner of the grid, so that the centre of cell (i, j)
// is (i+0.5, j+0.5). A mark off the grid is not drawn.
type HeatmapMark struct {
	Row, Col float64
}

// HeatmapOptions holds what a figure's panels share. The zero value of a
// field selects its default.
type HeatmapOptions struct {
	// CellSize is the side of a cell in pixels, 1 to 64. Default 16.
	CellSize int
	// Lo and Hi fix the colour scale: values at or below Lo get the
	// scale's first colour, at or above Hi its last. Default (both zero):
	// the smallest and largest finite values of all panels, so that the
	// panels can be compared colour for colour.
	Lo, Hi float64
	// Caption is one line drawn under the panels.
	Caption string
}

// The layout of a figure, in pixels. Text is line.go's 5×7 font at
// heatTextScale.
const (
	heatDefaultCell = 16
	heatMaxCell     = 64
	heatMargin      = 10
	heatGap         = 16 // between panels
	heatTextScale   = 1  // pixels per font pixel
	heatTextHeight  = 7 * heatTextScale
	heatLineHeight  = heatTextHeight + 6
	heatBarWidth    = 12
	heatBarGap      = 10
)

var (
	heatBackground = color.RGBA{255, 255, 255, 255}
	heatInk        = color.RGBA{0, 0, 0, 255}
	heatMissing    = color.RGBA{150, 150, 150, 255}
	heatMarkColor  = color.RGBA{228, 26, 28, 255}
)

// RenderHeatmaps draws maps side by side, left to right, on one colour
// scale (viridis: dark purple for low values through green to yellow for
// high ones), with a colour bar labelled with the scale's ends on the right
// and the caption below. It returns an error, naming the panel, for no
// panels, a panel without cells or whose Values do not hold Rows·Cols
// values, an infinite value, a cell size out of range, or a fixed scale
// with Lo ≥ Hi; all NaN values is not an error (every cell is grey).
func RenderHeatmaps(maps []Heatmap, opt HeatmapOptions) (*image.RGBA, error) {
	lo, hi, cell, err := heatCheck(maps, opt)
	if err != nil {
		return nil, err
	}

	// Lay the panels out on one baseline under their titles.
	titles := false
	height := 0
	for _, m := range maps {
		titles = titles || m.Title != ""
		height = max(height, m.Rows*cell)
	}
	top := heatMargin
	if titles {
		top += heatLineHeight
	}
	x := heatMargin
	lefts := make([]int, len(maps))
	for i, m := range maps {
		lefts[i] = x
		x += max(m.Cols*cell, heatTextWidth(m.Title)) + heatGap
	}
	barX := x - heatGap + heatBarGap
	loLabel, hiLabel := heatFormat(lo), heatFormat(hi)
	width := barX + heatBarWidth + 4 + max(heatTextWidth(loLabel), heatTextWidth(hiLabel)) + heatMargin
	bottom := top + height + 2
	total := bottom + heatMargin
	if opt.Caption != "" {
		total += heatLineHeight
		width = max(width, 2*heatMargin+heatTextWidth(opt.Caption))
	}

	img := image.NewRGBA(image.Rect(0, 0, width, total))
	heatFill(img, img.Rect, heatBackground)
	for i, m := range maps {
		x0 := lefts[i]
		heatText(img, x0, heatMargin, m.Title)
		for r := range m.Rows {
			for c := range m.Cols {
				v := m.Values[r*m.Cols+c]
				col := heatMissing
				if !math.IsNaN(v) {
					col = heatViridis(heatUnit(v, lo, hi))
				}
				heatFill(img, image.Rect(x0+c*cell, top+r*cell, x0+(c+1)*cell, top+(r+1)*cell), col)
			}
		}
		heatFrame(img, image.Rect(x0-1, top-1, x0+m.Cols*cell+1, top+m.Rows*cell+1))
		for _, mk := range m.Marks {
			if mk.Row >= 0 && mk.Row <= float64(m.Rows) && mk.Col >= 0 && mk.Col <= float64(m.Cols) {
				heatCross(img, x0+int(math.Round(mk.Col*float64(cell))), top+int(math.Round(mk.Row*float64(cell))))
			}
		}
	}

	// The colour bar: the scale from Hi at the top to Lo at the bottom,
	// with the two ends written beside it.
	for y := range height {
		t := 1 - (float64(y)+0.5)/float64(height)
		heatFill(img, image.Rect(barX, top+y, barX+heatBarWidth, top+y+1), heatViridis(t))
	}
	heatFrame(img, image.Rect(barX-1, top-1, barX+heatBarWidth+1, top+height+1))
	heatText(img, barX+heatBarWidth+4, top, hiLabel)
	heatText(img, barX+heatBarWidth+4, top+height-heatTextHeight, loLabel)

	if opt.Caption != "" {
		heatText(img, heatMargin, bottom+heatMargin, opt.Caption)
	}
	return img, nil
}

// WriteHeatmaps renders maps with opt and writes the figure to w as a PNG.
func WriteHeatmaps(w io.Writer, maps []Heatmap, opt HeatmapOptions) error {
	img, err := RenderHeatmaps(maps, opt)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// WriteHeatmapsFile renders maps with opt and writes the figure as a PNG to
// the file path, creating or truncating it.
func WriteHeatmapsFile(path string, maps []Heatmap, opt HeatmapOptions) error {
	img, err := RenderHeatmaps(maps, opt)
	if err != nil {
		return err
	}
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	w := bufio.NewWriter(file)
	err = png.Encode(w, img)
	if err == nil {
		err = w.Flush()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	return nil
}

// heatCheck checks the panels and options and returns the colour scale and
// the cell size.
func heatCheck(maps []Heatmap, opt HeatmapOptions) (lo, hi float64, cell int, err error) {
	if len(maps) == 0 {
		return 0, 0, 0, errors.New("plot: heat map figure has no panels")
	}
	cell = opt.CellSize
	if cell == 0 {
		cell = heatDefaultCell
	}
	if cell < 1 || cell > heatMaxCell {
		return 0, 0, 0, fmt.Errorf("plot: heat map cell size %d: must be 1 to %d pixels (0 for the default %d)", opt.CellSize, heatMaxCell, heatDefaultCell)
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for i, m := range maps {
		if m.Rows <= 0 || m.Cols <= 0 || len(m.Values) != m.Rows*m.Cols {
			return 0, 0, 0, fmt.Errorf("plot: heat map %d (%q) is %d×%d with %d values: need positive sizes and Rows·Cols values", i, m.Title, m.Rows, m.Cols, len(m.Values))
		}
		for j, v := range m.Values {
			if math.IsInf(v, 0) {
				return 0, 0, 0, fmt.Errorf("plot: heat map %d (%q) cell (%d, %d) is %g: values must be finite (NaN for a missing cell)", i, m.Title, j/m.Cols, j%m.Cols, v)
			}
			if !math.IsNaN(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	switch {
	case opt.Lo < opt.Hi:
		lo, hi = opt.Lo, opt.Hi
	case opt.Lo != 0 || opt.Hi != 0:
		return 0, 0, 0, fmt.Errorf("plot: heat map colour scale [%g, %g]: need Lo < Hi (both 0 to fit the data)", opt.Lo, opt.Hi)
	case lo > hi: // every value NaN
		lo, hi = 0, 1
	}
	return lo, hi, cell, nil
}

// heatUnit maps v onto [0, 1] along the scale [lo, hi], clamping; a scale
// of one value maps everything to its middle.
func heatUnit(v, lo, hi float64) float64 {
	if hi == lo {
		return 0.5
	}
	return math.Min(1, math.Max(0, (v-lo)/(hi-lo)))
}

// heatViridisStops are matplotlib's viridis colour map at t = 0, 1/8, …, 1;
// heatViridis interpolates linearly between them. Viridis is perceptually
// uniform and reads in grey and to the common colour-vision deficiencies.
var heatViridisStops = [...]color.RGBA{
	{68, 1, 84, 255}, {71, 44, 122, 255}, {59, 81, 139, 255}, {44, 113, 142, 255}, {33, 144, 141, 255},
	{39, 173, 129, 255}, {92, 200, 99, 255}, {170, 220, 50, 255}, {253, 231, 37, 255},
}

// heatViridis returns the colour of t ∈ [0, 1].
func heatViridis(t float64) color.RGBA {
	n := len(heatViridisStops) - 1
	f := math.Min(1, math.Max(0, t)) * float64(n)
	i := min(int(f), n-1)
	u := f - float64(i)
	a, b := heatViridisStops[i], heatViridisStops[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// heatFormat writes a scale end in at most four significant digits.
func heatFormat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// heatFill paints the rectangle r, clipped to the image.
func heatFill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// heatFrame draws the one-pixel outline of r in ink.
func heatFrame(img *image.RGBA, r image.Rectangle) {
	heatFill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), heatInk)
	heatFill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), heatInk)
	heatFill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), heatInk)
	heatFill(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), heatInk)
}

// heatCross draws a mark centred on (x, y): a cross 9 pixels across and 2
// wide.
func heatCross(img *image.RGBA, x, y int) {
	heatFill(img, image.Rect(x-4, y-1, x+5, y+1), heatMarkColor)
	heatFill(img, image.Rect(x-1, y-4, x+1, y+5), heatMarkColor)
}

// heatTextWidth is the width in pixels of s in the figure's text.
func heatTextWidth(s string) int { return lineTextWidth(s, heatTextScale) }

// heatText draws s with its top-left corner at (x, y) in the figure's text.
func heatText(img *image.RGBA, x, y int, s string) {
	lineText(img, x, y, s, heatTextScale, heatInk)
}
