package clearning

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/algostest"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// TestResume checks that a run interrupted at a random step, or killed,
// and resumed from its checkpoint reports what the uninterrupted run does.
// Future goals are on, so that the relabelling stream and the buffer's
// episode bookkeeping matter, and the ring of 128 wraps after the first
// learning steps, so that its ends are cut into episodes.
func TestResume(t *testing.T) {
	cfg := small()
	cfg.FutureShare = 0.25
	cfg.BufferSize = 128
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 300, Seed: 5, EvalEvery: 100, EvalEpisodes: 1}
	algostest.Resume(t, "clearning", run, 70, func(ctx context.Context, run algos.RunConfig, rep algos.Reporter) error {
		return Train(ctx, cpu.New(), run, cfg, rep)
	})
}

// fillBuffer adds n transitions to b in episodes of the given lengths,
// repeated, the last possibly unfinished; the values of transition k are k.
func fillBuffer(b *Buffer, n int, lengths []int) {
	l := b.layout
	obs, next, act := make([]float64, l.Obs), make([]float64, l.Obs), make([]float32, l.Act)
	ep, inEp := 0, 0
	for k := range n {
		for i := range obs {
			obs[i], next[i] = float64(k), float64(k+1)
		}
		for i := range act {
			act[i] = float32(k)
		}
		inEp++
		end := inEp == lengths[ep%len(lengths)]
		if end {
			ep, inEp = ep+1, 0
		}
		b.Add(obs, act, next, end)
	}
}

// TestBufferSaveLoad checks that a loaded buffer has the saved one's
// contents, ring position and episode bookkeeping, row by row, before the
// ring fills, when it has wrapped with an episode in progress, and when an
// episode in progress fills the ring; and that a state no sequence of Adds
// produces is refused with an error naming it.
func TestBufferSaveLoad(t *testing.T) {
	eng := cpu.New()
	for _, tc := range []struct {
		n       int
		lengths []int
	}{
		{5, []int{3}},        // not full, one episode ended
		{37, []int{7, 5, 9}}, // wrapped, cut episodes at both ends
		{40, []int{6, 4}},    // wrapped, the newest transition ends an episode
		{30, []int{100}},     // one long episode overflows the ring
		{0, []int{3}},        // empty
	} {
		b := NewBuffer(eng, 16, pointLayout)
		fillBuffer(b, tc.n, tc.lengths)
		s := checkpoint.NewState()
		b.Save(s, "replay")
		c := NewBuffer(eng, 16, pointLayout)
		fillBuffer(c, 21, []int{4}) // to be overwritten
		if err := c.Load(s, "replay"); err != nil {
			t.Fatalf("%d transitions in episodes of %v: %v", tc.n, tc.lengths, err)
		}
		if c.size != b.size || c.next != b.next || c.added != b.added || c.episodeFirst != b.episodeFirst ||
			!slices.Equal(c.num, b.num) || !slices.Equal(c.end, b.end) {
			t.Errorf("%d transitions in episodes of %v: loaded size %d, next %d, added %d, episode from %d, numbers %v, ends %v; saved %d, %d, %d, %d, %v, %v",
				tc.n, tc.lengths, c.size, c.next, c.added, c.episodeFirst, c.num, c.end, b.size, b.next, b.added, b.episodeFirst, b.num, b.end)
		}
		for i, x := range b.fields() {
			if got, want := download(eng, c.fields()[i]), download(eng, x); !slices.Equal(got, want) {
				t.Errorf("%d transitions: %s differs after Load", tc.n, bufferFields[i])
			}
		}
	}

	// Refusals: each edits the state saved from a wrapped buffer.
	b := NewBuffer(eng, 16, pointLayout)
	fillBuffer(b, 37, []int{7, 5, 9}) // held 21…36; ends 27, 32; in progress from 33
	for _, tc := range []struct {
		edit func(*bufferState)
		want string
	}{
		{func(st *bufferState) { st.Capacity = 32 }, "a buffer of 32 transitions"},
		{func(st *bufferState) { st.Layout.Goal = 1 }, "of layout"},
		{func(st *bufferState) { st.Next = 3 }, "ring position size 16, next 3 is impossible after 37"},
		{func(st *bufferState) { st.Size = 15 }, "ring position size 15"},
		{func(st *bufferState) { st.Added = -1 }, "impossible after -1"},
		{func(st *bufferState) { st.EpisodeFirst = 38 }, "starts at transition 38, outside [0, 37]"},
		{func(st *bufferState) { st.Ends = []int64{32, 27} }, "must ascend"},
		{func(st *bufferState) { st.Ends = []int64{20, 27, 32} }, "must ascend within [21, 33)"},
		{func(st *bufferState) { st.Ends = []int64{27} }, "must end with 32"},
		{func(st *bufferState) { st.Ends = nil }, "must end with 32"},
	} {
		s := checkpoint.NewState()
		b.Save(s, "replay")
		var st bufferState
		if err := s.Value("replay", &st); err != nil {
			t.Fatal(err)
		}
		tc.edit(&st)
		if err := s.PutValue("replay", st); err != nil {
			t.Fatal(err)
		}
		c := NewBuffer(eng, 16, pointLayout)
		if err := c.Load(s, "replay"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load of an edited state: %v, want an error containing %q", err, tc.want)
		} else if c.added != 0 || c.size != 0 {
			t.Errorf("Load refused a state (%v) but changed the buffer", err)
		}
	}
}

// TestCheckpointPolicy checks that the policy of a saved agent acts as the
// agent's own deterministic policy, and that a checkpoint of another
// network size is refused.
func TestCheckpointPolicy(t *testing.T) {
	eng := cpu.New()
	cfg := small()
	run := algos.RunConfig{Env: "PointMaze-Open-v0", Steps: 10, Seed: 2, EvalEvery: 10, EvalEpisodes: 1}
	split := SplitOf(cfg.BatchSize, cfg.FutureShare)
	agent, err := NewAgent(eng, cfg, split, pointLayout.Obs, pointLayout.Act, engine.NewRNG(99))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Free()
	s := checkpoint.NewState()
	agent.Save(s, "agent.")

	policy, free, err := CheckpointPolicy(eng, run, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	e, _ := makeGoalEnv(run.Env)
	act := newActor(eng, agent.Policy(), e.ActionSpace(), pointLayout.Obs)
	defer act.free()
	obs := e.Reset(3)
	want := slices.Clone(act.mode(obs))
	if got := policy(obs); !slices.Equal(got, want) {
		t.Errorf("checkpoint policy acts %v, the saved agent %v", got, want)
	}

	other := cfg
	other.Hidden = []int{8, 8}
	if _, _, err := CheckpointPolicy(eng, run, other, s); err == nil || !strings.Contains(err.Error(), "agent.actor") {
		t.Errorf("CheckpointPolicy with other hidden sizes: %v, want an error naming agent.actor", err)
	}
}
