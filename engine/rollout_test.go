package engine

import (
	"strings"
	"testing"
)

// The rollout ops' values are checked on every engine by enginetest; this
// file checks the engine-independent parts: the cursor helpers and the
// messages of the shared checks.

func TestCursorAndCounters(t *testing.T) {
	chain := i32(10)
	for j := range 4 {
		c := Cursor(chain, j)
		if c.Offset() != 2*j || c.Len() != 4 {
			t.Errorf("Cursor(chain, %d) views [%d, %d), want [%d, %d)", j, c.Offset(), c.Offset()+c.Len(), 2*j, 2*j+4)
		}
	}
	if msg := panicMessage(func() { Cursor(chain, 4) }); msg == "" {
		t.Error("Cursor past the chain's end did not panic")
	}
	// A fill of n elements takes ⌈n/4⌉ counters, as RNG.Take advances.
	for _, n := range []int{0, 1, 3, 4, 5, 8, 1<<20 + 1} {
		rng := NewRNG(1)
		rng.Take(n)
		if got := Counters(n); uint64(got) != rng.Counter {
			t.Errorf("Counters(%d) = %d, RNG.Take advances %d", n, got, rng.Counter)
		}
	}
}

func TestRolloutChecksPanic(t *testing.T) {
	rng := NewRNG(1)
	ws := &RolloutWorkspace{MaxRows: 5, Width: 6, A: f32(5, 6), B: f32(5, 6), C: f32(5, 6), Idx: i32(5)}
	head := PolicyHead{LogStdMin: -5, LogStdMax: 2}
	model := ModelHead{MaxLogVar: f32(1, 3), MinLogVar: f32(1, 3), TargetMean: f32(1, 3), TargetStd: f32(1, 3)}
	shared := f32(40)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"cursor rows", func() { CheckCursor("SampleAction", 6, 0, 5) },
			"engine: SampleAction: cursor holds 6 live rows, want 0 to 5 (the operands' rows)"},
		{"cursor offset", func() { CheckCursor("PickMembers", 1, -2, 5) },
			"engine: PickMembers: cursor holds stream offset -2, want ≥ 0"},
		{"cursor overflow", func() { CheckCursorAdvance("SampleTransition", 1<<31-10, 20) },
			"engine: SampleTransition: stream offset 2147483638 + 20 counters passes 2³¹−1; split the chain"},
		{"action head", func() { CheckSampleAction(f32(5, 2), f32(5, 3), head, rng, i32(4), ws) },
			"engine: SampleAction: head [5 3] for act [5 2]: want [5 4] (μ and r of each action)"},
		{"action scale", func() { CheckSampleAction(f32(5, 2), f32(5, 4), PolicyHead{Shift: f32(2)}, rng, i32(4), ws) },
			"engine: SampleAction: the head's Scale and Shift must both be set or both be nil"},
		{"action cursor", func() { CheckSampleAction(f32(5, 2), f32(5, 4), head, rng, i32(3), ws) },
			"engine: SampleAction: cursor [3] has 3 elements, want 4 (two (n, c) pairs)"},
		{"action workspace", func() { CheckSampleAction(f32(6, 2), f32(6, 4), head, rng, i32(4), ws) },
			"engine: SampleAction: 6 rows of 2 values do not fit the workspace's 5 rows of 6"},
		{"action overlap", func() { CheckSampleAction(shared.View(0, 5, 2), shared.View(8, 5, 4), head, rng, i32(4), ws) },
			"engine: SampleAction: act [5 2] at offset 0 overlaps head [5 4] at offset 8"},
		{"pick k", func() { CheckPickMembers(i32(5), 0, rng, i32(4)) },
			"engine: PickMembers: k = 0 members out of range (0, 2³¹]"},
		{"transition out", func() { CheckSampleTransition(f32(5, 2), f32(5, 1), f32(5, 4), f32(5, 2), model, rng, i32(4), ws) },
			"engine: SampleTransition: out [5 4] for obs [5 2]: want [5 6] (mean and log-variance of 3 targets)"},
		{"transition bounds", func() {
			m := model
			m.TargetStd = f32(1, 2)
			CheckSampleTransition(f32(5, 2), f32(5, 1), f32(5, 6), f32(5, 2), m, rng, i32(4), ws)
		}, "engine: SampleTransition: TargetStd [1 2] has 2 elements, want 3 ([1 3])"},
		{"terminate live", func() {
			CheckTerminateCompact(f32(5, 1), f32(4, 2), f32(5, 2), TerminationBox{}, i32(4), ws)
		}, "engine: TerminateCompact: live [4 2] for next [5 2]: want [5 2]"},
		{"terminate box", func() {
			CheckTerminateCompact(f32(5, 1), f32(5, 2), f32(5, 2), TerminationBox{High: f32(1)}, i32(4), ws)
		}, "engine: TerminateCompact: a box without Dims has bounds; want Low and High nil too"},
		{"terminate workspace", func() {
			CheckTerminateCompact(f32(5, 1), f32(5, 2), f32(5, 2), TerminationBox{Dims: i32(7), Low: f32(7), High: f32(7)}, i32(4), ws)
		}, "engine: TerminateCompact: 5 rows of 7 values do not fit the workspace's 5 rows of 6"},
		{"box dims", func() { CheckBoxDims("TerminateCompact", []int32{0, 3}, 3) },
			"engine: TerminateCompact: the box bounds element 3 (dims[1]) of a 3-element observation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := panicMessage(tc.f)
			if got != tc.want {
				t.Errorf("panic %q\nwant        %q", got, tc.want)
			}
		})
	}
	// Operands that pass every check.
	for name, f := range map[string]func(){
		"action":     func() { CheckSampleAction(f32(5, 2), f32(5, 4), head, rng, i32(4), ws) },
		"pick":       func() { CheckPickMembers(i32(5), 3, rng, i32(4)) },
		"transition": func() { CheckSampleTransition(f32(5, 2), f32(5, 1), f32(5, 6), f32(5, 2), model, rng, i32(4), ws) },
		"terminate": func() {
			CheckTerminateCompact(f32(5, 1), f32(5, 2), f32(5, 2), TerminationBox{Dims: i32(2), Low: f32(2), High: f32(2)}, i32(4), ws)
		},
	} {
		if msg := panicMessage(f); msg != "" {
			t.Errorf("%s: valid operands panicked: %s", name, msg)
		}
	}
	if msg := panicMessage(func() { NewRolloutWorkspace(nil, 0, 3) }); !strings.Contains(msg, "want both positive") {
		t.Errorf("NewRolloutWorkspace(0 rows): %q", msg)
	}
}
