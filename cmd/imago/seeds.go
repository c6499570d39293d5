package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// parseSeeds parses --seeds: comma-separated integers or ranges A-B, such
// as "0,1,2" or "0-4", each seed once.
func parseSeeds(s string) ([]int64, error) {
	var seeds []int64
	seen := map[int64]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if isRange && lo == "" { // a negative seed, not a range
			lo, hi, isRange = part, "", false
		}
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %q is not a seed; want integers or ranges such as 0,1,2 or 0-4", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a || b-a >= 1000 {
				return nil, fmt.Errorf("--seeds %q: %q is not a range A-B with A ≤ B and at most 1000 seeds", s, part)
			}
		}
		for x := a; x <= b; x++ {
			if seen[x] {
				return nil, fmt.Errorf("--seeds %q: seed %d given twice", s, x)
			}
			seen[x] = true
			seeds = append(seeds, x)
		}
	}
	return seeds, nil
}

// trainSeeds runs `imago train --seeds`: one run per seed, all at once in
// goroutines, each with its own engine and run directory (under --out, as
// seed-N, when --out is given). On a terminal each seed keeps one progress
// line, redrawn in place; elsewhere each logs its evaluations. It returns
// an error naming every seed that failed.
func trainSeeds(ctx context.Context, opts trainOptions, seeds []int64, stdout, stderr io.Writer, terminal bool, now func() time.Time) error {
	// Check every seed's options before starting any, so that a bad
	// invocation starts nothing.
	runs := make([]trainOptions, len(seeds))
	for i, s := range seeds {
		o := opts
		o.seed = s
		o.given = map[string]bool{}
		for k, v := range opts.given {
			o.given[k] = v
		}
		o.given["seed"] = true
		if opts.out != "" {
			o.out = filepath.Join(opts.out, fmt.Sprintf("seed-%d", s))
		}
		if _, err := resolve(o, now()); err != nil {
			return fmt.Errorf("seed %d: %w", s, err)
		}
		runs[i] = o
	}
	mu := new(sync.Mutex)
	var out io.Writer = &lockedWriter{w: stdout, mu: mu}
	var lines *progressLines
	if terminal {
		lines = newProgressLines(stderr, len(seeds))
		// What the runs print on stdout goes above the bars too, or the
		// bars' redrawing would write over it.
		out = lines.line(-1)
	}
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, o := range runs {
		wg.Go(func() {
			var w io.Writer = &lockedWriter{w: stderr, mu: mu}
			if lines != nil {
				w = lines.line(i)
			}
			errs[i] = train(ctx, o, out, w, terminal, now)
		})
	}
	wg.Wait()
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Errorf("seed %d: %w", seeds[i], err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d seeds failed: %w", len(failed), len(seeds), errors.Join(failed...))
	}
	return nil
}

// lockedWriter serialises the writes of several runs to one writer.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// progressLines shows n progress bars, one line each, on a terminal: each
// run's bar (what it writes after its last carriage return) is redrawn on
// its own line, and the complete lines a run writes are printed above the
// bars.
type progressLines struct {
	mu    sync.Mutex
	w     io.Writer
	bars  []string
	shown bool // the bars are on screen, below the cursor's line
}

func newProgressLines(w io.Writer, n int) *progressLines {
	return &progressLines{w: w, bars: make([]string, n)}
}

// line returns the writer of bar i; i = −1 for one whose lines are
// printed above the bars and which has no bar.
func (p *progressLines) line(i int) io.Writer { return &barWriter{p: p, i: i} }

type barWriter struct {
	p   *progressLines
	i   int
	buf []byte
}

func (b *barWriter) Write(data []byte) (int, error) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	b.buf = append(b.buf, data...)
	var done []string
	for {
		k := bytes.IndexByte(b.buf, '\n')
		if k < 0 {
			break
		}
		line := string(b.buf[:k])
		if r := strings.LastIndexByte(line, '\r'); r >= 0 && b.i >= 0 {
			// A bar's last state, ended by a newline: it stays as the
			// run's line.
			if bar := strings.TrimRight(line[r+1:], " "); bar != "" {
				b.p.bars[b.i] = bar
			}
		} else if strings.TrimSpace(line) != "" {
			done = append(done, line)
		}
		b.buf = b.buf[k+1:]
	}
	if r := bytes.LastIndexByte(b.buf, '\r'); r >= 0 && b.i >= 0 {
		b.p.bars[b.i] = strings.TrimRight(string(b.buf[r+1:]), " ")
		b.buf = b.buf[:0]
	}
	b.p.redraw(done)
	return len(data), nil
}

// redraw prints the complete lines above the bars, then the bars. The
// caller holds p.mu.
func (p *progressLines) redraw(done []string) {
	var b strings.Builder
	if p.shown {
		fmt.Fprintf(&b, "\x1b[%dA", len(p.bars)) // up to the first bar
	}
	for _, l := range done {
		fmt.Fprintf(&b, "\r\x1b[2K%s\n", l)
	}
	for _, bar := range p.bars {
		fmt.Fprintf(&b, "\r\x1b[2K%s\n", bar)
	}
	p.shown = true
	io.WriteString(p.w, b.String())
}
