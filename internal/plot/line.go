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
	"strings"
)

// LineSeries is one curve of a LineChart: the points (X[i], Y[i]) joined in
// order. A NaN in X or Y leaves a gap in the curve.
type LineSeries struct {
	Name  string    // the legend's label; a series without one is not listed
	X, Y  []float64 // of equal length
	Color color.RGBA
}

// LineChart is a line chart of one or more series on linear axes, drawn
// with the standard library only: axes with a few ticks and their values,
// the title, the axis labels and a legend, in a built-in 5×7 bitmap font
// of digits, capital letters and a little punctuation (lower case is drawn
// in capitals; any other character as '?').
//
// The zero value of a field means its default: a 640×400 image, axes
// fitted to the data and widened to whole ticks, colours from a ten-colour
// palette in series order.
type LineChart struct {
	Title, XLabel, YLabel string
	Width, Height         int // in pixels; at least 160×120
	Series                []LineSeries
	// YMin and YMax fix the vertical range when YMin < YMax; otherwise it
	// is fitted to the data. Points outside a fixed range are clipped.
	YMin, YMax float64
	// LegendLeft puts the legend at the top left of the plot area instead
	// of the top right, for curves that end high on the right.
	LegendLeft bool
}

// The layout of a chart, in pixels, and its colours.
const (
	lineDefaultWidth, lineDefaultHeight = 640, 400
	lineMarginLeft                      = 64 // tick labels of the y axis
	lineMarginRight                     = 16
	lineMarginTop                       = 40 // the title and the y axis label
	lineMarginBottom                    = 44 // tick labels and label of the x axis
	lineTickLength                      = 5
	lineTargetTicks                     = 6
)

var (
	lineBackground = color.RGBA{255, 255, 255, 255}
	lineInk        = color.RGBA{0, 0, 0, 255}
	lineGrid       = color.RGBA{225, 225, 225, 255}
	// linePalette is matplotlib's "tab10", whose colours stay apart for
	// readers with the common colour-vision deficiencies.
	linePalette = []color.RGBA{
		{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
		{188, 189, 34, 255}, {23, 190, 207, 255},
	}
)

// lineFrame maps data coordinates to pixels: the plot area is [x0, x1] ×
// [y0, y1] in pixels (y0 at the top) showing [xMin, xMax] × [yMin, yMax].
type lineFrame struct {
	width, height          int     // of the image
	x0, x1, y0, y1         int     // the plot area
	xMin, xMax, yMin, yMax float64 // the data range it shows
	xStep, yStep           float64 // the tick spacing of each axis
	xTicksFrom, yTicksFrom float64 // the first tick of each axis
	xTicks, yTicks         int     // the number of ticks of each axis
	xDecimals, yDecimals   int     // of the tick labels
	fixedY                 bool    // the y range is the chart's YMin, YMax
}

// Render draws the chart. It returns an error, naming what is wrong, for a
// chart without series, a series without points or with X and Y of
// different lengths, an infinite value, no finite point at all, a size
// below 160×120, or a fixed range with YMin ≥ YMax that is not the zero
// "fit" value.
func (c LineChart) Render() (*image.RGBA, error) {
	f, err := c.frame()
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, f.width, f.height))
	for i := range img.Pix {
		img.Pix[i] = 255
	}

	// Grid lines, axes and ticks with their values.
	for k := range f.xTicks {
		v := f.xTicksFrom + float64(k)*f.xStep
		px := f.px(v)
		lineVLine(img, px, f.y0, f.y1, lineGrid)
		lineVLine(img, px, f.y1, f.y1+lineTickLength, lineInk)
		label := lineFormat(v, f.xDecimals)
		w := lineTextWidth(label, 1)
		lx := min(max(px-w/2, 0), f.width-w) // centred, kept inside the image
		lineText(img, lx, f.y1+lineTickLength+4, label, 1, lineInk)
	}
	for k := range f.yTicks {
		v := f.yTicksFrom + float64(k)*f.yStep
		py := f.py(v)
		lineHLine(img, f.x0, f.x1, py, lineGrid)
		lineHLine(img, f.x0-lineTickLength, f.x0, py, lineInk)
		label := lineFormat(v, f.yDecimals)
		lineText(img, f.x0-lineTickLength-3-lineTextWidth(label, 1), py-3, label, 1, lineInk)
	}
	lineHLine(img, f.x0, f.x1, f.y1, lineInk)
	lineVLine(img, f.x0, f.y0, f.y1, lineInk)

	// Title and axis labels.
	lineText(img, (f.width-lineTextWidth(c.Title, 2))/2, 6, c.Title, 2, lineInk)
	lineText(img, 6, f.y0-12, c.YLabel, 1, lineInk)
	lineText(img, f.x0+(f.x1-f.x0-lineTextWidth(c.XLabel, 1))/2, f.height-12, c.XLabel, 1, lineInk)

	// The series, clipped to the plot area.
	clip := image.Rect(f.x0, f.y0, f.x1+1, f.y1+1)
	for i, s := range c.Series {
		col := lineColor(s, i)
		havePrev := false
		var px0, py0 int
		for j := range s.X {
			if math.IsNaN(s.X[j]) || math.IsNaN(s.Y[j]) {
				havePrev = false
				continue
			}
			px, py := f.px(s.X[j]), f.py(s.Y[j])
			if havePrev {
				lineSegment(img, clip, px0, py0, px, py, col)
			} else {
				lineDot(img, clip, px, py, col)
			}
			px0, py0, havePrev = px, py, true
		}
	}
	lineLegend(img, f, c.Series, c.LegendLeft)
	return img, nil
}

// WritePNG renders the chart and writes it to w as a PNG.
func (c LineChart) WritePNG(w io.Writer) error {
	img, err := c.Render()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// WriteFile renders the chart and writes it as a PNG to the file path,
// creating or truncating it.
func (c LineChart) WriteFile(path string) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	w := bufio.NewWriter(file)
	err = c.WritePNG(w)
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

// frame checks the chart and lays it out.
func (c LineChart) frame() (lineFrame, error) {
	f := lineFrame{width: c.Width, height: c.Height}
	if f.width == 0 && f.height == 0 {
		f.width, f.height = lineDefaultWidth, lineDefaultHeight
	}
	if f.width < 160 || f.height < 120 {
		return f, fmt.Errorf("plot: chart size %d×%d: must be at least 160×120 (0×0 for the default %d×%d)", f.width, f.height, lineDefaultWidth, lineDefaultHeight)
	}
	if len(c.Series) == 0 {
		return f, errors.New("plot: line chart has no series")
	}
	xMin, xMax := math.Inf(1), math.Inf(-1)
	yMin, yMax := math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return f, fmt.Errorf("plot: series %d (%q) has %d x and %d y values: need the same number, at least one", i, s.Name, len(s.X), len(s.Y))
		}
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsInf(x, 0) || math.IsInf(y, 0) {
				return f, fmt.Errorf("plot: series %d (%q) point %d is (%g, %g): values must be finite (NaN for a gap)", i, s.Name, j, x, y)
			}
			if math.IsNaN(x) || math.IsNaN(y) {
				continue
			}
			xMin, xMax = min(xMin, x), max(xMax, x)
			yMin, yMax = min(yMin, y), max(yMax, y)
		}
	}
	if xMin > xMax {
		return f, errors.New("plot: line chart has no point without NaN")
	}
	switch {
	case c.YMin < c.YMax:
		yMin, yMax, f.fixedY = c.YMin, c.YMax, true
	case c.YMin != 0 || c.YMax != 0:
		return f, fmt.Errorf("plot: fixed y range [%g, %g]: need YMin < YMax (both 0 to fit the data)", c.YMin, c.YMax)
	}
	f.xMin, f.xMax, f.xStep, f.xTicksFrom, f.xTicks, f.xDecimals = lineAxis(xMin, xMax, false)
	f.yMin, f.yMax, f.yStep, f.yTicksFrom, f.yTicks, f.yDecimals = lineAxis(yMin, yMax, f.fixedY)
	f.x0, f.x1 = lineMarginLeft, f.width-1-lineMarginRight
	f.y0, f.y1 = lineMarginTop, f.height-1-lineMarginBottom
	return f, nil
}

// px and py map data coordinates to pixel columns and rows.
func (f lineFrame) px(x float64) int {
	return f.x0 + int(math.Round((x-f.xMin)/(f.xMax-f.xMin)*float64(f.x1-f.x0)))
}

func (f lineFrame) py(y float64) int {
	// Far outside a fixed range the row is clamped, so that the int
	// conversion stays defined; the line is clipped anyway.
	t := math.Max(-4, math.Min(5, (y-f.yMin)/(f.yMax-f.yMin)))
	return f.y1 - int(math.Round(t*float64(f.y1-f.y0)))
}

// lineAxis chooses an axis range and ticks for data in [lo, hi]: a "nice"
// step (1, 2 or 5 times a power of ten) giving about lineTargetTicks
// ticks, and, unless fixed, the range widened to whole steps. A range of
// one value v is first widened by |v|/10 either side, or by 1 if v is 0.
func lineAxis(lo, hi float64, fixed bool) (from, to, step, first float64, count, decimals int) {
	if lo == hi {
		pad := math.Abs(lo) / 10
		if pad == 0 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	step = lineNiceStep((hi - lo) / lineTargetTicks)
	if !fixed {
		lo = math.Floor(lo/step) * step
		hi = math.Ceil(hi/step) * step
	}
	first = math.Ceil(lo/step-1e-9) * step
	count = int(math.Floor((hi-first)/step+1e-9)) + 1
	decimals = max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	return lo, hi, step, first, count, decimals
}

// lineNiceStep returns the smallest of 1, 2 and 5 times a power of ten that
// is at least raw (> 0).
func lineNiceStep(raw float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// lineFormat writes a tick value with the given decimals, without a
// negative zero.
func lineFormat(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// lineColor is the colour of series i: its own, or the palette's.
func lineColor(s LineSeries, i int) color.RGBA {
	if s.Color != (color.RGBA{}) {
		return s.Color
	}
	return linePalette[i%len(linePalette)]
}

// lineLegend draws the names of the named series in a box at the top
// right (or left) of the plot area, each after a short stroke of its
// colour.
func lineLegend(img *image.RGBA, f lineFrame, series []LineSeries, left bool) {
	width, rows := 0, 0
	for _, s := range series {
		if s.Name != "" {
			width = max(width, lineTextWidth(s.Name, 1))
			rows++
		}
	}
	if rows == 0 {
		return
	}
	const rowHeight, stroke, pad = 12, 16, 5
	boxW, boxH := pad+stroke+4+width+pad, pad+rows*rowHeight+pad-4
	bx, by := f.x1-boxW-6, f.y0+6
	if left {
		bx = f.x0 + 8
	}
	box := image.Rect(bx, by, bx+boxW, by+boxH)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			img.SetRGBA(x, y, lineBackground)
		}
	}
	lineHLine(img, box.Min.X, box.Max.X-1, box.Min.Y, lineInk)
	lineHLine(img, box.Min.X, box.Max.X-1, box.Max.Y-1, lineInk)
	lineVLine(img, box.Min.X, box.Min.Y, box.Max.Y-1, lineInk)
	lineVLine(img, box.Max.X-1, box.Min.Y, box.Max.Y-1, lineInk)
	row := 0
	for i, s := range series {
		if s.Name == "" {
			continue
		}
		y := by + pad + row*rowHeight
		col := lineColor(s, i)
		lineHLine(img, bx+pad, bx+pad+stroke, y+3, col)
		lineHLine(img, bx+pad, bx+pad+stroke, y+4, col)
		lineText(img, bx+pad+stroke+4, y, s.Name, 1, lineInk)
		row++
	}
}

// lineHLine and lineVLine draw one-pixel lines between the given ends,
// inclusive, clipped to the image.
func lineHLine(img *image.RGBA, xa, xb, y int, c color.RGBA) {
	for x := min(xa, xb); x <= max(xa, xb); x++ {
		lineSet(img, img.Rect, x, y, c)
	}
}

func lineVLine(img *image.RGBA, x, ya, yb int, c color.RGBA) {
	for y := min(ya, yb); y <= max(ya, yb); y++ {
		lineSet(img, img.Rect, x, y, c)
	}
}

// lineSegment draws a line two pixels wide from (xa, ya) to (xb, yb) with
// Bresenham's algorithm, clipped to clip.
func lineSegment(img *image.RGBA, clip image.Rectangle, xa, ya, xb, yb int, c color.RGBA) {
	dx, dy := lineAbs(xb-xa), -lineAbs(yb-ya)
	sx, sy := 1, 1
	if xa > xb {
		sx = -1
	}
	if ya > yb {
		sy = -1
	}
	e := dx + dy
	for {
		lineDot(img, clip, xa, ya, c)
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

// lineDot sets the 2×2 pixels at (x, y), (x+1, y), (x, y+1), (x+1, y+1)
// that are inside clip.
func lineDot(img *image.RGBA, clip image.Rectangle, x, y int, c color.RGBA) {
	lineSet(img, clip, x, y, c)
	lineSet(img, clip, x+1, y, c)
	lineSet(img, clip, x, y+1, c)
	lineSet(img, clip, x+1, y+1, c)
}

func lineSet(img *image.RGBA, clip image.Rectangle, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(clip) {
		img.SetRGBA(x, y, c)
	}
}

func lineAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// lineTextWidth is the width in pixels of s drawn at scale: 6 pixels a
// character (5 and a space), less the last space.
func lineTextWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (6*n - 1) * scale
}

// lineText draws s with its top-left corner at (x, y), each font pixel a
// scale×scale square, clipped to the image.
func lineText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for _, r := range s {
		g, ok := lineFont[r]
		if !ok {
			g, ok = lineFont[lineUpper(r)]
		}
		if !ok {
			g = lineFont['?']
		}
		for row, bits := range g {
			for col := range 5 {
				if bits[col] != '#' {
					continue
				}
				for dy := range scale {
					for dx := range scale {
						lineSet(img, img.Rect, x+col*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

func lineUpper(r rune) rune {
	if r >= 'a' && r <= 'z' {
		return r - 'a' + 'A'
	}
	return r
}

// lineFont is a 5×7 bitmap font: each glyph is seven rows of five
// columns, '#' for ink.
var lineFont = map[rune][7]string{
	' ':  {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'A':  {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B':  {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C':  {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D':  {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E':  {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F':  {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G':  {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H':  {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I':  {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J':  {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K':  {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L':  {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M':  {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N':  {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O':  {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P':  {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q':  {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R':  {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S':  {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T':  {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U':  {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V':  {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W':  {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X':  {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y':  {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z':  {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0':  {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1':  {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2':  {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3':  {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4':  {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5':  {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6':  {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7':  {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8':  {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9':  {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'.':  {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',':  {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	'-':  {".....", ".....", ".....", ".###.", ".....", ".....", "....."},
	'+':  {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	':':  {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'(':  {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')':  {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'/':  {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'=':  {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'%':  {"##..#", "##.#.", "...#.", "..#..", ".#...", ".#.##", "#..##"},
	'\'': {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."},
	'_':  {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	'?':  {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
	'#':  {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."},
	'<':  {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>':  {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
}
