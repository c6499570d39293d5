package env

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// maxEpisodeSteps caps the episodes these tests run. The time limits are at
// most 999 steps; the Sutton and Barto mazes have none, and a random walk
// reaches their goal in a few hundred steps on average (the slowest, the
// shortcut maze before its shortcut, in well under 5000 with the seeds
// used), so hitting the cap means the environment is broken.
const maxEpisodeSteps = 20000

// packageEnvs returns the registrations of this package's environments:
// the tests' own registrations (example_test.go's corridor) are left out,
// since only this package's environments promise to be Snapshotters.
func packageEnvs() []Registration {
	pkg := reflect.TypeFor[Episode]().PkgPath()
	var regs []Registration
	for _, r := range List() {
		if t := reflect.TypeOf(r.New()); t.Kind() == reflect.Pointer && t.Elem().PkgPath() == pkg {
			regs = append(regs, r)
		}
	}
	return regs
}

// TestPackageEnvs guards packageEnvs against leaving out every environment.
func TestPackageEnvs(t *testing.T) {
	if n := len(packageEnvs()); n < 15 {
		t.Fatalf("packageEnvs returns %d registrations, want the 15 or more of this package", n)
	}
}

// snapshotAction draws an action of sp: a uniform discrete action, or a Box
// action drawn from the box widened by a fifth of its width on each side, so
// that the clipping of out-of-bounds actions is exercised too.
func snapshotAction(r *rand.Rand, sp Space) []float64 {
	if sp.Discrete {
		return []float64{float64(r.IntN(sp.N))}
	}
	a := make([]float64, len(sp.Low))
	for i := range a {
		w := sp.High[i] - sp.Low[i]
		a[i] = sp.Low[i] - w/5 + 1.4*w*r.Float64()
	}
	return a
}

func snapshotOf(t testing.TB, e any) []byte {
	t.Helper()
	s, ok := e.(Snapshotter)
	if !ok {
		t.Fatalf("%T is not a Snapshotter", e)
	}
	b, err := s.Snapshot()
	if err != nil {
		t.Fatalf("%T.Snapshot: %v", e, err)
	}
	return b
}

func mustMake(t testing.TB, id string) Env {
	t.Helper()
	e, err := Make(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// configure changes the settings a caller may change on an environment
// from their defaults, so that the tests see whether snapshots carry them:
// PointMaze's noise and goal radius, FourRooms' task, and a time limit for
// the mazes that have none (which also keeps their episodes short).
func configure(e Env) {
	switch e := e.(type) {
	case *PointMaze:
		e.ActionNoise, e.GoalRadius = 0.25, 1.5
	case *FourRooms:
		e.SetTask([]float64{0.5, -1, 2, 3})
	case *Maze:
		e.MaxSteps = 400
	}
}

// midEpisode is what a training loop may do to an episode in progress:
// relabel a point maze's goal.
func midEpisode(e Env, r *rand.Rand) {
	if g, ok := e.(GoalEnv); ok {
		sp := g.GoalSpace()
		g.SetGoal([]float64{sp.High[0] * r.Float64(), sp.High[1] * r.Float64()})
	}
}

// transcript records everything an environment returns, bit for bit.
type transcript struct {
	bits  []uint64
	flags []bool
}

func (tr *transcript) floats(x ...float64) {
	for _, v := range x {
		tr.bits = append(tr.bits, math.Float64bits(v))
	}
}

// observe records what the environment reports besides Step's results.
func (tr *transcript) observe(e Env) {
	switch e := e.(type) {
	case GoalEnv:
		tr.floats(e.Goal()...)
		tr.floats(e.Distance())
		tr.flags = append(tr.flags, e.Success())
	case *FourRooms:
		tr.floats(e.Features()...)
		tr.floats(float64(e.StateID()))
	case *Maze:
		tr.floats(float64(e.StateID()), float64(e.TotalSteps()))
	}
	if s, ok := e.(Stateful); ok {
		tr.floats(s.State()...)
	}
}

func (tr *transcript) equal(o *transcript) bool {
	if len(tr.bits) != len(o.bits) || len(tr.flags) != len(o.flags) {
		return false
	}
	for i := range tr.bits {
		if tr.bits[i] != o.bits[i] {
			return false
		}
	}
	for i := range tr.flags {
		if tr.flags[i] != o.flags[i] {
			return false
		}
	}
	return true
}

// runEpisodes steps e with actions from r until episodes more episodes have
// ended, resetting with seed, seed+1, … in between, and records it all. e's
// current episode counts as the first if it is in progress.
func runEpisodes(t *testing.T, e Env, r *rand.Rand, episodes int, seed int64) *transcript {
	t.Helper()
	tr := &transcript{}
	sp := e.ActionSpace()
	for range episodes {
		for steps := 0; ; steps++ {
			if steps == maxEpisodeSteps {
				t.Fatalf("%T: an episode ran past %d steps", e, maxEpisodeSteps)
			}
			obs, rew, term, trunc := e.Step(snapshotAction(r, sp))
			tr.floats(obs...)
			tr.floats(rew)
			tr.flags = append(tr.flags, term, trunc)
			tr.observe(e)
			if term || trunc {
				break
			}
		}
		tr.floats(e.Reset(seed)...)
		tr.observe(e)
		seed++
	}
	return tr
}

// episodeLength runs an episode of e from Reset(seed) with actions from r
// and returns its number of steps.
func episodeLength(t *testing.T, e Env, r *rand.Rand, seed int64) int {
	t.Helper()
	e.Reset(seed)
	sp := e.ActionSpace()
	for n := 1; n <= maxEpisodeSteps; n++ {
		if _, _, term, trunc := e.Step(snapshotAction(r, sp)); term || trunc {
			return n
		}
	}
	t.Fatalf("%T: an episode ran past %d steps", e, maxEpisodeSteps)
	return 0
}

// TestSnapshotContinuesExactly takes a snapshot at a random step of a
// random-action episode of every registered environment, runs the
// original on for the rest of the episode and one more, and requires a
// fresh environment restored from the snapshot, and the original restored
// from it after its run, to give bit-identical observations, rewards, flags,
// goals, features and states under the same actions, and to end in the
// same snapshot.
func TestSnapshotContinuesExactly(t *testing.T) {
	for k, reg := range packageEnvs() {
		t.Run(reg.ID, func(t *testing.T) {
			seed := int64(100 + 7*k)
			actSeed := uint64(k)

			// The length of the episode, to snapshot within it.
			probe := mustMake(t, reg.ID)
			configure(probe)
			n := episodeLength(t, probe, rand.New(rand.NewPCG(actSeed, 1)), seed)
			if n < 2 {
				t.Fatalf("episode of %d steps: no step inside it to snapshot at", n)
			}
			at := 1 + rand.New(rand.NewPCG(actSeed, 2)).IntN(n-1) // in [1, n-1]

			orig := mustMake(t, reg.ID)
			configure(orig)
			orig.Reset(seed)
			src := rand.NewPCG(actSeed, 1)
			r := rand.New(src)
			sp := orig.ActionSpace()
			for i := range at {
				if i == at/2 {
					midEpisode(orig, rand.New(rand.NewPCG(actSeed, 3)))
				}
				orig.Step(snapshotAction(r, sp))
			}
			snap := snapshotOf(t, orig)
			saved := *src // the action generator's state at the snapshot

			want := runEpisodes(t, orig, r, 2, seed+1)
			wantEnd := snapshotOf(t, orig)

			for _, c := range []struct {
				name string
				e    Env
			}{
				{"fresh", mustMake(t, reg.ID)},
				{"original after its run", orig},
			} {
				if err := c.e.(Snapshotter).Restore(snap); err != nil {
					t.Fatalf("%s: Restore: %v", c.name, err)
				}
				if got := snapshotOf(t, c.e); !bytes.Equal(got, snap) {
					t.Fatalf("%s: the snapshot of the restored environment differs from the one restored", c.name)
				}
				*src = saved
				got := runEpisodes(t, c.e, r, 2, seed+1)
				if !got.equal(want) {
					t.Errorf("%s: restored at step %d of %d, the run differs from the original's (%d and %d values recorded)",
						c.name, at, n, len(got.bits), len(want.bits))
				}
				if end := snapshotOf(t, c.e); !bytes.Equal(end, wantEnd) {
					t.Errorf("%s: the final snapshot differs from the original's", c.name)
				}
			}
		})
	}
}

// stepError returns the *StepError that f panics with, nil if it returns,
// and fails t on another panic.
func stepError(t *testing.T, f func()) (err *StepError) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			var ok bool
			if err, ok = r.(*StepError); !ok {
				t.Fatalf("panic that is not a *StepError: %v", r)
			}
		}
	}()
	f()
	return nil
}

// TestSnapshotBeforeResetAndAfterEnd restores snapshots taken before the
// first Reset and after an episode ended: Step must refuse to run in the
// restored environment as in the original, and the next Reset and episode
// must be identical.
func TestSnapshotBeforeResetAndAfterEnd(t *testing.T) {
	for k, reg := range packageEnvs() {
		t.Run(reg.ID, func(t *testing.T) {
			seed := int64(200 + k)
			fresh := mustMake(t, reg.ID)
			configure(fresh)
			snap := snapshotOf(t, fresh)
			restored := mustMake(t, reg.ID)
			if err := restored.(Snapshotter).Restore(snap); err != nil {
				t.Fatalf("Restore of a snapshot before Reset: %v", err)
			}
			if !bytes.Equal(snapshotOf(t, restored), snap) {
				t.Fatal("snapshot before Reset does not round-trip")
			}
			act := snapshotAction(rand.New(rand.NewPCG(1, 2)), restored.ActionSpace())
			if err := stepError(t, func() { restored.Step(act) }); err == nil || !strings.Contains(err.Msg, "before Reset") {
				t.Fatalf("Step after restoring a snapshot before Reset: %v, want a StepError before Reset", err)
			}
			r1, r2 := rand.New(rand.NewPCG(uint64(k), 5)), rand.New(rand.NewPCG(uint64(k), 5))
			fresh.Reset(seed)
			restored.Reset(seed)
			if !runEpisodes(t, fresh, r1, 1, seed+1).equal(runEpisodes(t, restored, r2, 1, seed+1)) {
				t.Fatal("the first episode after restoring a snapshot before Reset differs")
			}

			// fresh has just ended an episode and been Reset; end another.
			ended := fresh
			for {
				if _, _, term, trunc := ended.Step(snapshotAction(r1, ended.ActionSpace())); term || trunc {
					break
				}
			}
			snap = snapshotOf(t, ended)
			restored = mustMake(t, reg.ID)
			if err := restored.(Snapshotter).Restore(snap); err != nil {
				t.Fatalf("Restore of a snapshot after the episode ended: %v", err)
			}
			if err := stepError(t, func() { restored.Step(act) }); err == nil || !strings.Contains(err.Msg, "after the episode ended") {
				t.Fatalf("Step after restoring a snapshot of an ended episode: %v, want a StepError after the episode ended", err)
			}
			r2 = rand.New(rand.NewPCG(uint64(k), 6))
			r1 = rand.New(rand.NewPCG(uint64(k), 6))
			ended.Reset(seed + 9)
			restored.Reset(seed + 9)
			if !runEpisodes(t, ended, r1, 1, seed+10).equal(runEpisodes(t, restored, r2, 1, seed+10)) {
				t.Fatal("the episode after restoring a snapshot of an ended episode differs")
			}
		})
	}
}

// TestSnapshotMazeLayoutChange snapshots the blocking and shortcut mazes
// two steps before their layout changes: the restored maze must change at
// the same step, and restoring the snapshot into a maze that has already
// changed must put the old walls back.
func TestSnapshotMazeLayoutChange(t *testing.T) {
	for _, c := range []struct {
		id       string
		switchAt int
	}{{"BlockingMaze-v0", 1000}, {"ShortcutMaze-v0", 3000}} {
		t.Run(c.id, func(t *testing.T) {
			m := mustMake(t, c.id).(*Maze)
			unchanged := mustMake(t, c.id).(*Maze)
			src := rand.NewPCG(3, 4)
			r := rand.New(src)
			m.Reset(0)
			for m.TotalSteps() < c.switchAt-2 {
				if _, _, term, _ := m.Step(snapshotAction(r, m.ActionSpace())); term {
					m.Reset(0)
				}
			}
			snap := snapshotOf(t, m)
			saved := *src
			// Ten steps, across the change.
			run := func(m *Maze) *transcript {
				tr := &transcript{}
				for range 10 {
					obs, rew, term, trunc := m.Step(snapshotAction(r, m.ActionSpace()))
					tr.floats(obs...)
					tr.floats(rew)
					tr.flags = append(tr.flags, term, trunc)
					tr.observe(m)
					if term {
						tr.floats(m.Reset(0)...)
					}
				}
				return tr
			}
			want := run(m)
			changed := mustMake(t, c.id).(*Maze)
			changed.walls = changed.after

			fresh := mustMake(t, c.id).(*Maze)
			for _, e := range []*Maze{fresh, m} {
				if err := e.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if !sameTransitions(e, unchanged) {
					t.Fatalf("restored two steps before the change, the maze does not have the old layout")
				}
				*src = saved
				if !run(e).equal(want) {
					t.Errorf("the run across the change differs from the original's")
				}
				if !sameTransitions(e, changed) {
					t.Errorf("after the run the restored maze does not have the new layout")
				}
			}

			// A snapshot taken after the change brings the new layout into
			// a fresh maze.
			after := mustMake(t, c.id).(*Maze)
			if err := after.Restore(snapshotOf(t, m)); err != nil {
				t.Fatal(err)
			}
			if !sameTransitions(after, changed) {
				t.Errorf("restored after the change, a fresh maze does not have the new layout")
			}
			saved = *src
			want = run(m)
			*src = saved
			if !run(after).equal(want) {
				t.Errorf("the run after the change differs from the original's")
			}
		})
	}
}

// sameTransitions reports whether two mazes have the same model.
func sameTransitions(a, b *Maze) bool {
	for s := range a.NumStates() {
		for act := range len(moves) {
			n1, r1, t1 := a.Transition(s, act)
			n2, r2, t2 := b.Transition(s, act)
			if n1 != n2 || r1 != r2 || t1 != t2 {
				return false
			}
		}
	}
	return true
}

// TestSnapshotConfiguration checks that the settings a caller may change
// travel with the snapshot.
func TestSnapshotConfiguration(t *testing.T) {
	p := mustMake(t, "PointMaze-U-v0").(*PointMaze)
	p.ActionNoise, p.GoalRadius, p.MaxSteps = 0.3, 0.75, 7
	p.Reset(1)
	q := mustMake(t, "PointMaze-U-v0").(*PointMaze)
	if err := q.Restore(snapshotOf(t, p)); err != nil {
		t.Fatal(err)
	}
	if q.ActionNoise != 0.3 || q.GoalRadius != 0.75 || q.MaxSteps != 7 {
		t.Errorf("restored ActionNoise, GoalRadius, MaxSteps = %v, %v, %v, want 0.3, 0.75, 7", q.ActionNoise, q.GoalRadius, q.MaxSteps)
	}

	f := NewFourRooms()
	f.SetTask([]float64{1, -2, 3, -4})
	g := NewFourRooms()
	if err := g.Restore(snapshotOf(t, f)); err != nil {
		t.Fatal(err)
	}
	if w := g.Task(); w[0] != 1 || w[1] != -2 || w[2] != 3 || w[3] != -4 {
		t.Errorf("restored task %v, want [1 -2 3 -4]", w)
	}

	// From the start (11,1), up and five steps right collects the '2' (class
	// 1) in the hallway (10,6): φ of that step is part of the state.
	f.Reset(0)
	for _, a := range []float64{MoveUp, MoveRight, MoveRight, MoveRight, MoveRight, MoveRight} {
		f.Step([]float64{a})
	}
	if phi := f.Features(); phi[1] != 1 {
		t.Fatalf("φ after collecting the hallway's object = %v, want class 1 set", phi)
	}
	g = NewFourRooms()
	if err := g.Restore(snapshotOf(t, f)); err != nil {
		t.Fatal(err)
	}
	if got, want := g.Features(), f.Features(); !slices.Equal(got, want) || g.StateID() != f.StateID() {
		t.Errorf("restored φ %v and state %d, want %v and %d", got, g.StateID(), want, f.StateID())
	}
}

// midSnapshot returns a snapshot of id taken a few steps into an episode.
func midSnapshot(t testing.TB, id string, seed int64) []byte {
	e := mustMake(t, id)
	configure(e)
	e.Reset(seed)
	r := rand.New(rand.NewPCG(uint64(seed), 9))
	for range 3 {
		if _, _, term, trunc := e.Step(snapshotAction(r, e.ActionSpace())); term || trunc {
			break
		}
	}
	return snapshotOf(t, e)
}

// restoreErr calls Restore on e and fails t if it panics or, when it
// returns an error, changes e.
func restoreErr(t *testing.T, e Snapshotter, data []byte) (err error) {
	t.Helper()
	before := snapshotOf(t, e)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Restore of %d bytes panicked: %v", len(data), r)
			}
		}()
		err = e.Restore(data)
	}()
	if err != nil && !bytes.Equal(snapshotOf(t, e), before) {
		t.Fatalf("Restore of %d bytes failed (%v) but changed the environment", len(data), err)
	}
	return err
}

// reframe returns data with its checksum recomputed, so that a change to
// the body reaches the body's checks.
func reframe(data []byte) []byte {
	out := bytes.Clone(data)
	end := len(out) - 4
	binary.LittleEndian.PutUint32(out[end:], crc32.ChecksumIEEE(out[:end]))
	return out
}

// TestRestoreRejects requires Restore to refuse, with an error and without
// a panic or any change to the environment, every truncation of a
// snapshot, every single-byte corruption, appended bytes, every other
// environment's snapshot, another format version and bodies whose values
// cannot be a state of the environment.
func TestRestoreRejects(t *testing.T) {
	regs := packageEnvs()
	snaps := map[string][]byte{}
	for k, reg := range regs {
		snaps[reg.ID] = midSnapshot(t, reg.ID, int64(k))
	}
	for k, reg := range regs {
		t.Run(reg.ID, func(t *testing.T) {
			e := mustMake(t, reg.ID).(Snapshotter)
			// A state of its own, which every failed Restore must keep.
			if err := e.Restore(midSnapshot(t, reg.ID, int64(k+50))); err != nil {
				t.Fatal(err)
			}
			snap := snaps[reg.ID]
			for n := range len(snap) {
				if restoreErr(t, e, snap[:n]) == nil {
					t.Fatalf("Restore of the first %d of %d bytes succeeded", n, len(snap))
				}
			}
			for i := range snap {
				for _, x := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(snap)
					bad[i] ^= x
					if restoreErr(t, e, bad) == nil {
						t.Fatalf("Restore with byte %d xor %#x succeeded", i, x)
					}
				}
			}
			for _, extra := range [][]byte{{0}, {1, 2, 3, 4}, snap} {
				if restoreErr(t, e, append(bytes.Clone(snap), extra...)) == nil {
					t.Fatalf("Restore with %d bytes appended succeeded", len(extra))
				}
			}
			for _, other := range regs {
				if other.ID == reg.ID {
					continue
				}
				err := restoreErr(t, e, snaps[other.ID])
				if err == nil || !strings.Contains(err.Error(), `"`+other.ID+`"`) || !strings.Contains(err.Error(), `"`+reg.ID+`"`) {
					t.Fatalf("Restore of a %s snapshot: %v, want an error naming both ids", other.ID, err)
				}
			}
			v2 := bytes.Clone(snap)
			binary.LittleEndian.PutUint16(v2[len(snapshotMagic):], 2)
			if err := restoreErr(t, e, reframe(v2)); err == nil || !strings.Contains(err.Error(), "version 2, this build reads version 1") {
				t.Fatalf("Restore of format version 2: %v, want an error naming both versions", err)
			}
			if restoreErr(t, e, nil) == nil {
				t.Fatal("Restore of nil succeeded")
			}
			// With the checksum made right, a body one byte short or long
			// must still be refused.
			body := len(snapshotMagic) + 4 + len(reg.ID)
			short := append(bytes.Clone(snap[:len(snap)-5]), 0, 0, 0, 0)
			if restoreErr(t, e, reframe(short)) == nil {
				t.Fatal("Restore of a body one byte short succeeded")
			}
			long := append(append(bytes.Clone(snap[:len(snap)-4]), 0), 0, 0, 0, 0)
			if restoreErr(t, e, reframe(long)) == nil {
				t.Fatal("Restore of a body one byte long succeeded")
			}
			// The started flag, at body+16, must be 0 or 1.
			flag := bytes.Clone(snap)
			flag[body+16] = 2
			if err := restoreErr(t, e, reframe(flag)); err == nil || !strings.Contains(err.Error(), "started flag is byte 2") {
				t.Fatalf("Restore with the started flag 2: %v", err)
			}
		})
	}
}

// craft returns a snapshot of id whose body body writes.
func craft(id string, body func(w *snapshotWriter)) []byte {
	w := newSnapshotWriter(id)
	body(w)
	return w.finish()
}

// TestRestoreRejectsImpossibleStates feeds well-formed snapshots whose
// values no environment could hold.
func TestRestoreRejectsImpossibleStates(t *testing.T) {
	ep := &Episode{MaxSteps: 200, Steps: 3, started: true}
	cells := func(w *snapshotWriter) { w.floats([]float64{1, 1, 1, 1}); w.floats([]float64{0, 0, 0, 0}) }
	for _, c := range []struct {
		id, want string
		body     func(w *snapshotWriter)
	}{
		{"FourRooms-v0", "not a free cell", func(w *snapshotWriter) { w.episode(ep); cells(w); w.int(0); w.uint64(0) }},
		{"FourRooms-v0", "not a free cell", func(w *snapshotWriter) { w.episode(ep); cells(w); w.int(169); w.uint64(0) }},
		{"FourRooms-v0", "beyond the 12", func(w *snapshotWriter) { w.episode(ep); cells(w); w.int(14); w.uint64(1 << 12) }},
		{"FourRooms-v0", "φ[1] = 0.5", func(w *snapshotWriter) {
			w.episode(ep)
			w.floats([]float64{1, 1, 1, 1, 0, 0.5, 0, 0})
			w.int(14)
			w.uint64(0)
		}},
		{"FourRooms-v0", "not finite", func(w *snapshotWriter) {
			w.episode(ep)
			w.floats([]float64{1, math.NaN(), 1, 1, 0, 0, 0, 0})
			w.int(14)
			w.uint64(0)
		}},
		{"DynaMaze-v0", "want one in [0, 54)", func(w *snapshotWriter) { w.episode(ep); w.int(5); w.int(54) }},
		{"DynaMaze-v0", "want one in [0, 54)", func(w *snapshotWriter) { w.episode(ep); w.int(5); w.int(-1) }},
		{"BlockingMaze-v0", "total step count is -1", func(w *snapshotWriter) { w.episode(ep); w.int(-1); w.int(3) }},
		{"PointMaze-Open-v0", "the goal[1] = +Inf is not finite", func(w *snapshotWriter) {
			w.episode(ep)
			w.floats([]float64{2, 0.01})
			w.pcg(rand.NewPCG(1, 2))
			w.floats([]float64{1, 1, 1, math.Inf(1)})
		}},
		{"PointMaze-Open-v0", "the generator", func(w *snapshotWriter) {
			w.episode(ep)
			w.floats([]float64{2, 0.01})
			w.bytes([]byte("pcg:0123456789abcdeX")[:19])
			w.floats([]float64{1, 1, 1, 1})
		}},
	} {
		e := mustMake(t, c.id).(Snapshotter)
		err := restoreErr(t, e, craft(c.id, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Restore: %v, want an error containing %q", c.id, err, c.want)
		}
	}
}

// TestVectorSnapshot restores a Vector's snapshot, taken after several
// autoresets, into a fresh Vector with another worker count and into the
// original after it ran on, and requires identical steps.
func TestVectorSnapshot(t *testing.T) {
	for _, id := range []string{"CartPole-v1", "PointMaze-Cross-v0"} {
		t.Run(id, func(t *testing.T) {
			v, err := MakeVector(id, 3)
			if err != nil {
				t.Fatal(err)
			}
			v.Workers = 2
			for i := range v.Len() {
				configure(v.Env(i))
			}
			v.Reset(11)
			src := rand.NewPCG(8, 8)
			r := rand.New(src)
			sp := v.ActionSpace()
			actions := func() []float64 {
				var a []float64
				for range v.Len() {
					a = append(a, snapshotAction(r, sp)...)
				}
				return a
			}
			for range 70 {
				v.Step(actions())
			}
			snap := snapshotOf(t, v)
			saved := *src

			run := func(v *Vector) *transcript {
				tr := &transcript{}
				for range 150 {
					s := v.Step(actions())
					tr.floats(s.Obs...)
					tr.floats(s.FinalObs...)
					tr.floats(s.Reward...)
					tr.flags = append(append(tr.flags, s.Terminated...), s.Truncated...)
				}
				return tr
			}
			want := run(v)

			fresh, _ := MakeVector(id, 3)
			fresh.Workers = 1
			for _, w := range []*Vector{fresh, v} {
				if err := w.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(snapshotOf(t, w), snap) {
					t.Fatal("the snapshot of the restored vector differs from the one restored")
				}
				*src = saved
				if !run(w).equal(want) {
					t.Error("the restored vector's steps differ from the original's")
				}
			}

			// Another number of copies and another environment are refused,
			// the vector unchanged.
			before := snapshotOf(t, v)
			four, _ := MakeVector(id, 4)
			if err := four.Restore(snap); err == nil || !strings.Contains(err.Error(), "3 copies, this vector 4") {
				t.Errorf("Restore into 4 copies: %v", err)
			}
			other, _ := MakeVector("Pendulum-v1", 3)
			if err := other.Restore(snap); err == nil || !strings.Contains(err.Error(), "Vector(Pendulum-v1)") {
				t.Errorf("Restore into a Pendulum vector: %v", err)
			}
			for n := range len(snap) {
				if err := v.Restore(snap[:n]); err == nil {
					t.Fatalf("Restore of the first %d of %d bytes succeeded", n, len(snap))
				}
			}
			if !bytes.Equal(snapshotOf(t, v), before) {
				t.Error("failed Restores changed the vector")
			}
		})
	}
}

func TestVectorSnapshotBeforeReset(t *testing.T) {
	v, _ := MakeVector("Acrobot-v1", 2)
	w, _ := MakeVector("Acrobot-v1", 2)
	w.Reset(3)
	if err := w.Restore(snapshotOf(t, v)); err != nil {
		t.Fatal(err)
	}
	if err := stepError(t, func() { w.Step([]float64{0, 1}) }); err == nil || !strings.Contains(err.Msg, "before Reset") {
		t.Fatalf("Step after restoring a vector that was never Reset: %v, want a StepError before Reset", err)
	}
}

// foreignEnv is a Snapshotter of another package: it wraps a CartPole
// without embedding it, so that it has none of this package's unexported
// methods, and can be told to fail its Restore.
type foreignEnv struct {
	c    *CartPole
	fail bool
}

func (f *foreignEnv) ObservationSpace() Space    { return f.c.ObservationSpace() }
func (f *foreignEnv) ActionSpace() Space         { return f.c.ActionSpace() }
func (f *foreignEnv) Reset(seed int64) []float64 { return f.c.Reset(seed) }
func (f *foreignEnv) Step(a []float64) ([]float64, float64, bool, bool) {
	return f.c.Step(a)
}
func (f *foreignEnv) Snapshot() ([]byte, error) { return f.c.Snapshot() }
func (f *foreignEnv) Restore(data []byte) error {
	if f.fail {
		return errors.New("told to fail")
	}
	return f.c.Restore(data)
}

// plainEnv is an Env that is not a Snapshotter.
type plainEnv struct{ Env }

// TestVectorSnapshotForeignCopies covers copies that this package cannot
// decode ahead: a failing copy rolls back those restored before it, and a
// copy that is not a Snapshotter is an error.
func TestVectorSnapshotForeignCopies(t *testing.T) {
	envs := []*foreignEnv{}
	v := NewVector(3, func() Env { e := &foreignEnv{c: NewCartPole()}; envs = append(envs, e); return e })
	v.Workers = 1
	v.Reset(1)
	snap := snapshotOf(t, v)
	v.Step([]float64{1, 1, 1})
	before := snapshotOf(t, v)
	envs[2].fail = true
	if err := v.Restore(snap); err == nil || !strings.Contains(err.Error(), "copy 2: told to fail") {
		t.Fatalf("Restore with a failing copy: %v", err)
	}
	if !bytes.Equal(snapshotOf(t, v), before) {
		t.Error("a failed Restore left the copies restored before the failing one changed")
	}
	envs[2].fail = false
	if err := v.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotOf(t, v), snap) {
		t.Error("restored foreign copies do not round-trip")
	}

	p := NewVector(2, func() Env { return plainEnv{NewCartPole()} })
	if _, err := p.Snapshot(); err == nil || !strings.Contains(err.Error(), "is not an env.Snapshotter") {
		t.Errorf("Snapshot of a vector of non-Snapshotters: %v", err)
	}
	if err := p.Restore(snap); err == nil {
		t.Error("Restore into a vector of non-Snapshotters succeeded")
	}
}

// fuzzVectorID is the environment of the vectors FuzzRestore restores.
const fuzzVectorID = "CartPole-v1"

// FuzzRestore restores arbitrary bytes, as they are and with their
// checksum made right, into every registered environment and a Vector.
// Restore must never panic; a failed Restore must leave the environment as
// it was; a successful one must make the environment's snapshot equal the
// bytes (the format has one encoding of each state), and the environment
// must then step or refuse to with a *StepError only.
func FuzzRestore(f *testing.F) {
	for k, reg := range packageEnvs() {
		e := mustMake(f, reg.ID)
		f.Add(snapshotOf(f, e))
		f.Add(midSnapshot(f, reg.ID, int64(k)))
	}
	v, _ := MakeVector(fuzzVectorID, 2)
	v.Reset(4)
	v.Step([]float64{0, 1})
	f.Add(snapshotOf(f, v))

	f.Fuzz(func(t *testing.T, data []byte) {
		inputs := [][]byte{data}
		if len(data) >= 4 {
			inputs = append(inputs, reframe(data))
		}
		for _, in := range inputs {
			for _, reg := range packageEnvs() {
				e := mustMake(t, reg.ID)
				if restoreErr(t, e.(Snapshotter), in) != nil {
					continue
				}
				if got := snapshotOf(t, e); !bytes.Equal(got, in) {
					t.Fatalf("%s: restored from %x, snapshot %x", reg.ID, in, got)
				}
				r := rand.New(rand.NewPCG(1, 1))
				for range 5 {
					if stepError(t, func() { e.Step(snapshotAction(r, e.ActionSpace())) }) != nil {
						break
					}
				}
			}
			v, _ := MakeVector(fuzzVectorID, 2)
			v.Workers = 1
			if restoreErr(t, v, in) != nil {
				continue
			}
			if got := snapshotOf(t, v); !bytes.Equal(got, in) {
				t.Fatalf("vector: restored from %x, snapshot %x", in, got)
			}
			stepError(t, func() { v.Step([]float64{1, 0}) })
		}
	})
}

// Example of the error a mismatched snapshot gives, for the doc.
func ExampleSnapshotter() {
	cp, pend := NewCartPole(), NewPendulum()
	cp.Reset(1)
	snap, _ := cp.Snapshot()
	fmt.Println(pend.Restore(snap))
	// Output: env Pendulum-v1: restore: snapshot is of environment "CartPole-v1", not "Pendulum-v1"
}
