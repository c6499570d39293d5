package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int64
		err  string
	}{
		{"0,1,2", []int64{0, 1, 2}, ""},
		{"3-5", []int64{3, 4, 5}, ""},
		{"7, 0-1", []int64{7, 0, 1}, ""},
		{"-1,2", []int64{-1, 2}, ""},
		{"1,x", nil, `"x" is not a seed`},
		{"5-3", nil, "not a range"},
		{"1,1", nil, "seed 1 given twice"},
		{"0-2000", nil, "at most 1000"},
	} {
		got, err := parseSeeds(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parseSeeds(%q): %v, want an error with %q", c.in, err, c.err)
		case c.err == "" && (err != nil || !slices.Equal(got, c.want)):
			t.Errorf("parseSeeds(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// TestTrainSeeds checks that --seeds trains one run per seed, each the
// same as a run of that seed alone.
func TestTrainSeeds(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := run(t, append(fakeArgs, "--seeds", "0,4", "--out", filepath.Join(dir, "many"))...)
	if err != nil {
		t.Fatalf("--seeds: %v\n%s", err, stderr)
	}
	for _, seed := range []int{0, 4} {
		if !strings.Contains(stdout, fmt.Sprintf("seed %d: 300 steps", seed)) {
			t.Errorf("stdout lacks the summary of seed %d:\n%s", seed, stdout)
		}
		alone := filepath.Join(dir, fmt.Sprint("alone", seed))
		if _, errOut, err := run(t, append(fakeArgs, "--seed", fmt.Sprint(seed), "--out", alone)...); err != nil {
			t.Fatalf("seed %d alone: %v\n%s", seed, err, errOut)
		}
		compareMetrics(t, readMetrics(t, alone), readMetrics(t, filepath.Join(dir, "many", fmt.Sprintf("seed-%d", seed))))
	}
	// A bad seed list or a clash with --seed starts nothing.
	for _, args := range [][]string{{"--seeds", "0,0"}, {"--seeds", "1", "--seed", "1"}} {
		out := filepath.Join(dir, "bad")
		if _, _, err := run(t, append(append(fakeArgs, "--out", out), args...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
		if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) > 0 {
			t.Errorf("%v: wrote %v", args, m)
		}
	}
}

// TestProgressLines checks that each run keeps one line on a terminal and
// that complete lines go above the bars.
func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLines(&b, 2)
	a, c := p.line(0), p.line(1)
	fmt.Fprint(a, "\rrun A [==  ] 10/20")
	fmt.Fprint(c, "\rrun B [=   ] 5/20")
	fmt.Fprintln(a, "run A: a message")
	fmt.Fprint(a, "\rrun A [====] 20/20")
	fmt.Fprintln(a)
	if p.bars[0] != "run A [====] 20/20" || p.bars[1] != "run B [=   ] 5/20" {
		t.Errorf("bars %q", p.bars)
	}
	out := b.String()
	last := out[strings.LastIndex(out, "\x1b[2A"):]
	for _, w := range []string{"run A [====] 20/20\n", "run B [=   ] 5/20\n"} {
		if !strings.Contains(last, w) {
			t.Errorf("last redraw %q lacks %q", last, w)
		}
	}
	if strings.Count(out, "run A: a message") != 1 {
		t.Errorf("the message is printed %d times, want once:\n%q", strings.Count(out, "run A: a message"), out)
	}
}
