package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/imago-rl/imago/algos"
)

// progress shows a training run's progress. On a terminal it is a bar
// redrawn in place with \r at most every redrawEvery: steps, steps per
// second, the last evaluation's return and the time left. Elsewhere (a CI
// log, a file) it stays quiet between evaluations and prints one line per
// evaluation, so that logs hold no carriage returns.
type progress struct {
	w        io.Writer
	terminal bool
	label    string // "sac Pendulum-v1 seed 0"
	total    int    // the run's environment steps
	now      func() time.Time

	start    time.Time
	steps    int
	lastDraw time.Time
	drawn    int // the length of the bar on screen, 0 for none

	// samples are (time, steps) pairs at most sampleEvery apart over the
	// last rateWindow, for a steps-per-second rate that follows the run's
	// current speed rather than its average since the start (SAC's first
	// steps, random actions without updates, are far faster than the rest).
	samples []sample

	evals      int
	evalReturn float64
	evalStd    float64
}

type sample struct {
	t     time.Time
	steps int
}

const (
	redrawEvery = 100 * time.Millisecond
	sampleEvery = 500 * time.Millisecond
	rateWindow  = 20 * time.Second
	barWidth    = 20
)

func newProgress(w io.Writer, terminal bool, label string, total int, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, terminal: terminal, label: label, total: total, now: now, start: t,
		samples: []sample{{t, 0}}}
}

// resumeAt starts the count at steps, those of the checkpoint a resumed
// run continues from.
func (p *progress) resumeAt(steps int) {
	p.steps = steps
	p.samples = []sample{{p.start, steps}}
}

// isTerminal reports whether w is a terminal (a character device), the
// test that keeps the bar out of CI logs and redirected output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update records the steps taken so far and redraws the bar when it is
// due. It is called every few hundred steps and costs a clock read.
func (p *progress) update(steps int) {
	p.steps = steps
	t := p.now()
	if last := p.samples[len(p.samples)-1]; t.Sub(last.t) >= sampleEvery {
		p.samples = append(p.samples, sample{t, steps})
		for len(p.samples) > 2 && t.Sub(p.samples[1].t) >= rateWindow {
			p.samples = p.samples[1:]
		}
	}
	if p.terminal && t.Sub(p.lastDraw) >= redrawEvery {
		p.draw(t)
	}
}

// evaluated shows an evaluation: on the bar at once, or as a log line.
func (p *progress) evaluated(row algos.Row) {
	p.evals++
	p.evalReturn = row.Get("eval_return")
	p.evalStd = row.Get("eval_return_std")
	if row.EnvSteps > p.steps {
		p.steps = row.EnvSteps
	}
	t := p.now()
	if p.terminal {
		p.draw(t)
		return
	}
	line := fmt.Sprintf("%s: %d/%d steps, eval return %.1f ± %.1f", p.label, row.EnvSteps, p.total, p.evalReturn, p.evalStd)
	if rate := p.rate(t); rate > 0 {
		line += fmt.Sprintf(", %.0f steps/s, %s left", rate, p.left(rate))
	}
	fmt.Fprintln(p.w, line)
}

// finish ends the bar's line, so that what is printed next starts on a
// line of its own.
func (p *progress) finish() {
	if p.terminal && p.drawn > 0 {
		p.draw(p.now())
		fmt.Fprintln(p.w)
		p.drawn = 0
	}
}

func (p *progress) draw(t time.Time) {
	p.lastDraw = t
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(p.steps)/float64(p.total), 1)
	}
	filled := int(frac * barWidth)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s] %d/%d", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), p.steps, p.total)
	rate := p.rate(t)
	if rate > 0 {
		fmt.Fprintf(&b, "  %.0f steps/s", rate)
	}
	if p.evals > 0 {
		fmt.Fprintf(&b, "  eval %.1f", p.evalReturn)
	}
	if rate > 0 && p.steps < p.total {
		fmt.Fprintf(&b, "  %s left", p.left(rate))
	}
	line := b.String()
	// Blank out what is left of a longer line drawn before.
	n := len([]rune(line))
	pad := max(p.drawn-n, 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.drawn = n
}

// rate is the steps per second over the sampling window, or 0 before a
// second of the run has passed.
func (p *progress) rate(t time.Time) float64 {
	first := p.samples[0]
	dt := t.Sub(first.t).Seconds()
	if dt < 1 || p.steps <= first.steps {
		return 0
	}
	return float64(p.steps-first.steps) / dt
}

// left is the time the remaining steps take at rate, to the second.
func (p *progress) left(rate float64) string {
	d := time.Duration(float64(p.total-p.steps) / rate * float64(time.Second))
	return max(d, 0).Round(time.Second).String()
}
