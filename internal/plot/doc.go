// Package plot draws the figures of imago's results as PNG images with the
// standard library alone (image, image/png), so that a command or a test
// that measures something can also show it without a plotting dependency:
// heat maps of values on a grid, side by side on one colour scale
// (heatmap.go), and line charts of series against steps (line.go).
//
// Text is drawn in small built-in bitmap fonts of capital letters, digits
// and a little punctuation; figures carry titles and captions, not
// typography. Bad input (no data, mismatched lengths, sizes out of range)
// is an error naming what was wrong, never a panic.
package plot
