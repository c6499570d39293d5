package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/algos"
)

// fakeClock is a clock the test advances by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func evalRow(steps int, ret float64) algos.Row {
	return algos.Row{EnvSteps: steps, Names: []string{"eval_return", "eval_return_std"}, Values: []float64{ret, 1}}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := newProgress(&buf, true, "sac Pendulum-v1 seed 0", 10000, clock.now)

	// 100 steps per 10 ms for 5 s: 100 steps/s... redrawn at most every
	// 100 ms, so 50 draws from 500 updates.
	for i := 1; i <= 500; i++ {
		clock.advance(10 * time.Millisecond)
		p.update(i * 10)
	}
	if n := strings.Count(buf.String(), "\r"); n < 45 || n > 51 {
		t.Errorf("%d redraws in 5 s of updates every 10 ms, want about 50 (at most 10 a second)", n)
	}
	p.evaluated(evalRow(5000, -812.34))
	frames := strings.Split(buf.String(), "\r")
	last := frames[len(frames)-1]
	for _, w := range []string{"sac Pendulum-v1 seed 0 [==========          ] 5000/10000  1000 steps/s  eval -812.3  5s left"} {
		if !strings.Contains(last, w) {
			t.Errorf("bar %q lacks %q", last, w)
		}
	}
	if strings.Contains(buf.String(), "\n") {
		t.Errorf("the bar wrote a newline before finishing: %q", buf.String())
	}
	p.finish()
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("finish did not end the line: %q", buf.String())
	}
}

func TestProgressPadsShorterLine(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := newProgress(&buf, true, "x", 100, clock.now)
	clock.advance(2 * time.Second)
	p.update(10) // with a rate and the time left
	first := strings.TrimPrefix(buf.String(), "\r")
	buf.Reset()
	clock.advance(time.Hour) // the rate falls to 0 steps/s: no rate shown
	p.samples = p.samples[:1]
	p.samples[0].t = clock.t
	p.update(10)
	second := strings.TrimPrefix(buf.String(), "\r")
	if len(second) != len(first) || strings.TrimRight(second, " ") == second {
		t.Errorf("shorter line %q not padded to cover %q", second, first)
	}
}

// The rate follows the recent speed: after fast random steps and slow
// learning, it is the slow rate, not the average.
func TestProgressRateIsRecent(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := newProgress(new(bytes.Buffer), false, "x", 100000, clock.now)
	steps := 0
	for range 10 { // 1 s at 5000 steps/s
		clock.advance(100 * time.Millisecond)
		steps += 500
		p.update(steps)
	}
	for range 600 { // 60 s at 100 steps/s
		clock.advance(100 * time.Millisecond)
		steps += 10
		p.update(steps)
	}
	if r := p.rate(clock.now()); r < 95 || r > 105 {
		t.Errorf("rate %.1f steps/s, want the recent 100", r)
	}
}

func TestProgressLog(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := newProgress(&buf, false, "sac Pendulum-v1 seed 0", 2000, clock.now)
	for i := 1; i <= 100; i++ {
		clock.advance(100 * time.Millisecond)
		p.update(i * 10)
	}
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q between evaluations to a non-terminal", buf.String())
	}
	p.evaluated(evalRow(1000, -153.21))
	p.finish()
	want := "sac Pendulum-v1 seed 0: 1000/2000 steps, eval return -153.2 ± 1.0, 100 steps/s, 10s left\n"
	if buf.String() != want {
		t.Errorf("log line\n%q, want\n%q", buf.String(), want)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(new(bytes.Buffer)) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}
