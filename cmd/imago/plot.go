package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot/vg"

	"github.com/imago-rl/imago/internal/curves"
	"github.com/imago-rl/imago/internal/rundir"
)

// The figure's defaults: a size that reads on a page and in a README.
const (
	defaultPlotFile   = "curves.png"
	defaultPlotWidth  = "16cm"
	defaultPlotHeight = "10cm"
	defaultPlotColumn = "eval_return"

	// runCurveFile is the picture of its own curve that a run directory
	// gets when `imago train` ends.
	runCurveFile = "curve.png"
)

// plotCommand is `imago plot`.
func plotCommand() *cli.Command {
	return &cli.Command{
		Name:      "plot",
		Usage:     "draw runs' evaluation return against environment steps, averaged over seeds",
		UsageText: "imago plot DIR... [-o curves.png] [--column eval_return] [--title T] [--width 16cm] [--height 10cm]",
		Description: "Each DIR is a run directory written by imago train (it holds metrics.csv), or a\n" +
			"directory of them: runs/ stands for every directory directly under it that holds a\n" +
			"metrics.csv, in name order. A run named twice is drawn once. Flags may come before\n" +
			"or after the directories.\n\n" +
			"Runs of the same algorithm, environment and settings (the algorithm's section of\n" +
			"config.yaml) are one line, the mean over their seeds, in a band of ±1 standard\n" +
			"deviation (over the seeds, not the evaluation episodes); a lone run is a line\n" +
			"without a band. Where runs of one algorithm differ in settings (--set horizon=0),\n" +
			"the legend names the settings that differ. Seeds are compared at the environment\n" +
			"steps where all of them were evaluated; the legend says how many other steps were\n" +
			"dropped. Rows of metrics.csv whose --column is NaN are not evaluations and are\n" +
			"skipped, and so is a run with no value yet, with a note on stderr.\n\n" +
			"The format follows -o's extension: " + strings.Join(curves.Formats, ", ") + ". Sizes take a unit:\n" +
			"cm, mm, in or pt. The command prints one line per curve with its last point, and\n" +
			"the file it wrote.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: defaultPlotFile, Usage: "the image to write, `FILE`.png, .svg or .pdf"},
			&cli.StringFlag{Name: "column", Value: defaultPlotColumn, Usage: "the `COLUMN` of metrics.csv to draw, e.g. success_rate"},
			&cli.StringFlag{Name: "title", Usage: "a `TITLE` above the plot"},
			&cli.StringFlag{Name: "width", Value: defaultPlotWidth, Usage: "the image's `WIDTH`"},
			&cli.StringFlag{Name: "height", Value: defaultPlotHeight, Usage: "the image's `HEIGHT`"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("plot: %w; run 'imago plot --help' for the flags", err)
		},
		Action: func(c *cli.Context) error {
			args, help, err := trailingFlags(c)
			if err != nil {
				return err
			}
			if help {
				// cli.ShowCommandHelp finds no "plot" from inside it.
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			}
			return plotRuns(c, args)
		},
	}
}

// trailingFlags returns the arguments of a command that are not flags. The
// cli package stops reading flags at the first argument, and `imago plot
// runs/A runs/B -o curves.png` or `imago eval runs/A --episodes 20` is the
// natural order, so trailingFlags reads flags that come after the
// arguments itself and sets them on c. Every flag takes a value (no
// booleans). "--" ends the flags. help reports a -h or --help among them.
func trailingFlags(c *cli.Context) (args []string, help bool, err error) {
	// The cli package keeps one value per name of a flag and copies
	// between them only as it parses; set the first name, which is the one
	// read.
	canonical := map[string]string{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			canonical[n] = f.Names()[0]
		}
	}
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			return append(args, rest[i+1:]...), help, nil
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if name == "h" || name == "help" {
			help = true
			continue
		}
		if _, ok := canonical[name]; !ok {
			return nil, false, fmt.Errorf("%s: flag provided but not defined: %s; run 'imago %s --help' for the flags", c.Command.Name, a, c.Command.Name)
		}
		if !hasValue {
			if i+1 == len(rest) {
				return nil, false, fmt.Errorf("%s: flag needs an argument: %s", c.Command.Name, a)
			}
			i++
			value = rest[i]
		}
		if err := c.Set(canonical[name], value); err != nil {
			return nil, false, fmt.Errorf("%s: %s %s: %w", c.Command.Name, a, value, err)
		}
	}
	return args, help, nil
}

// plotRuns runs `imago plot` on the directories args once the flags are
// set.
func plotRuns(c *cli.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("plot: no run directories; give one or more, e.g. imago plot runs/")
	}
	width, err := parseLength("width", c.String("width"))
	if err != nil {
		return err
	}
	height, err := parseLength("height", c.String("height"))
	if err != nil {
		return err
	}
	out, column := c.String("output"), c.String("column")
	// Check the format before reading any run, so that a mistyped -o is
	// the error rather than a problem with some run.
	if ext := strings.ToLower(filepath.Ext(out)); !slices.Contains(curves.Formats, ext) {
		return fmt.Errorf("-o %s: the file must end in %s", out, strings.Join(curves.Formats, ", "))
	}
	dirs, err := runDirs(args)
	if err != nil {
		return err
	}
	var runs []*rundir.Run
	for _, d := range dirs {
		r, err := rundir.Read(d)
		if err != nil {
			return err
		}
		// A run that has just started has no evaluation yet; the others
		// are still worth a look.
		steps, _, err := r.Column(column)
		if err != nil {
			return err
		}
		if len(steps) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "imago plot: skipping %s, which has no %s yet\n", d, column)
			continue
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return fmt.Errorf("plot: none of the %d runs has a value of %s yet", len(dirs), column)
	}
	groups, err := curves.Groups(runs, column)
	if err != nil {
		return err
	}
	p, err := curves.Draw(runs, column, c.String("title"))
	if err != nil {
		return err
	}
	if err := curves.Save(p, out, width, height); err != nil {
		return err
	}
	for _, g := range groups {
		fmt.Fprintln(c.App.Writer, groupSummary(&g, column))
	}
	fmt.Fprintf(c.App.Writer, "wrote %s\n", out)
	return nil
}

// parseLength reads --width or --height: a number with a unit, cm, mm, in
// or pt (points without one).
func parseLength(flag, s string) (vg.Length, error) {
	l, err := vg.ParseLength(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("--%s %q: not a length; give a number and a unit, cm, mm, in or pt, e.g. 16cm", flag, s)
	}
	if !(l >= curves.MinSize && l <= curves.MaxSize) {
		return 0, fmt.Errorf("--%s %s: must be between %.4gcm and %.4gcm", flag, s,
			float64(curves.MinSize/vg.Centimeter), float64(curves.MaxSize/vg.Centimeter))
	}
	return l, nil
}

// runDirs expands the arguments of `imago plot` into run directories. An
// argument that holds metrics.csv or config.yaml is a run (rundir.Read
// says what is missing); any other directory stands for the directories
// directly under it that hold a metrics.csv, in name order, and must have
// at least one. A directory named twice, the same after filepath.Clean,
// comes once, where it came first.
func runDirs(args []string) ([]string, error) {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if c := filepath.Clean(d); !seen[c] {
			seen[c] = true
			dirs = append(dirs, d)
		}
	}
	isRun := func(d string, names ...string) bool {
		for _, n := range names {
			if fi, err := os.Stat(filepath.Join(d, n)); err == nil && !fi.IsDir() {
				return true
			}
		}
		return false
	}
	for _, a := range args {
		fi, err := os.Stat(a)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("plot: %s: no such directory", a)
		}
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("plot: %s is not a directory; give run directories or directories of them", a)
		}
		if isRun(a, rundir.MetricsFile, rundir.ConfigFile) {
			add(a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		n := 0
		for _, e := range entries { // os.ReadDir sorts by name
			if d := filepath.Join(a, e.Name()); e.IsDir() && isRun(d, rundir.MetricsFile) {
				add(d)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("plot: %s holds no run: no %s in it or in a directory directly under it",
				a, rundir.MetricsFile)
		}
	}
	return dirs, nil
}

// groupSummary is the line `imago plot` prints for a curve: who it is and
// its last point.
func groupSummary(g *curves.Group, column string) string {
	last := len(g.Steps) - 1
	if len(g.Runs) == 1 {
		return fmt.Sprintf("%s seed %d: %s %s at %v steps", g.Name(), g.Runs[0].Seed,
			column, formatStat(g.Mean[last], math.Abs(g.Mean[last])), g.Steps[last])
	}
	seeds := make([]string, 0, len(g.Runs))
	for _, s := range g.Seeds() {
		seeds = append(seeds, fmt.Sprint(s))
	}
	scale := max(math.Abs(g.Mean[last]), g.Std[last])
	line := fmt.Sprintf("%s, %d runs (seeds %s): %s %s ± %s at %v steps, mean ± std over the runs",
		g.Name(), len(g.Runs), strings.Join(seeds, " "), column,
		formatStat(g.Mean[last], scale), formatStat(g.Std[last], scale), g.Steps[last])
	if g.Dropped > 0 {
		steps := "steps"
		if g.Dropped == 1 {
			steps = "step"
		}
		line += fmt.Sprintf("; %d %s not evaluated in every run dropped", g.Dropped, steps)
	}
	return line
}

// formatStat writes v with one decimal where the numbers it goes with
// (scale) reach 10, as `imago train` writes returns, and with three below
// that, for rates and small returns.
func formatStat(v, scale float64) string {
	if scale >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// writeRunCurve draws the evaluation return of the run in dir against
// environment steps to dir/curve.png at the default size, for `imago
// train` to call when a run ends. It is an error when the run cannot be
// read or has no evaluation yet (there is no curve to draw), and the
// error names dir.
func writeRunCurve(dir string) error {
	r, err := rundir.Read(dir)
	if err != nil {
		return err
	}
	p, err := curves.Draw([]*rundir.Run{r}, defaultPlotColumn, "")
	if err != nil {
		return err
	}
	w, err := parseLength("width", defaultPlotWidth)
	if err != nil {
		return err
	}
	h, err := parseLength("height", defaultPlotHeight)
	if err != nil {
		return err
	}
	return curves.Save(p, filepath.Join(dir, runCurveFile), w, h)
}
