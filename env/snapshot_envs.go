package env

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// The Snapshot and Restore methods of each environment. Every snapshot
// starts its body with the Episode's MaxSteps, Steps and whether the
// episode has started and ended; each Snapshot's doc comment lists what
// follows. The classic-control environments draw their initial state from
// a generator that Reset seeds afresh and drops, so they have no generator
// state to keep.

// Snapshot returns the episode's counters and [θ, θ̇].
func (p *Pendulum) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(p.ID)
	w.episode(&p.Episode)
	w.float64(p.th)
	w.float64(p.thdot)
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot; see Snapshotter.
func (p *Pendulum) Restore(data []byte) error { return restoreWith(p, data) }

func (p *Pendulum) decodeSnapshot(data []byte) (func(), error) {
	r, err := openSnapshot(p.ID, data)
	if err != nil {
		return nil, err
	}
	ep := r.episode()
	th, thdot := r.float64("θ"), r.float64("θ̇")
	if err := r.close(p.ID); err != nil {
		return nil, err
	}
	return func() { p.setEpisode(ep); p.th, p.thdot = th, thdot }, nil
}

// Snapshot returns the episode's counters and [x, ẋ, θ, θ̇].
func (c *CartPole) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(c.ID)
	w.episode(&c.Episode)
	w.floats(c.state[:])
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot; see Snapshotter.
func (c *CartPole) Restore(data []byte) error { return restoreWith(c, data) }

func (c *CartPole) decodeSnapshot(data []byte) (func(), error) {
	ep, state, err := decodeState4(c.ID, data)
	if err != nil {
		return nil, err
	}
	return func() { c.setEpisode(ep); c.state = state }, nil
}

// Snapshot returns the episode's counters and [x, ẋ, θ, θ̇].
func (c *ContinuousCartPole) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(c.ID)
	w.episode(&c.Episode)
	w.floats(c.state[:])
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot; see Snapshotter.
func (c *ContinuousCartPole) Restore(data []byte) error { return restoreWith(c, data) }

func (c *ContinuousCartPole) decodeSnapshot(data []byte) (func(), error) {
	ep, state, err := decodeState4(c.ID, data)
	if err != nil {
		return nil, err
	}
	return func() { c.setEpisode(ep); c.state = state }, nil
}

// Snapshot returns the episode's counters and [θ1, θ2, θ̇1, θ̇2].
func (a *Acrobot) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(a.ID)
	w.episode(&a.Episode)
	w.floats(a.state[:])
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot; see Snapshotter.
func (a *Acrobot) Restore(data []byte) error { return restoreWith(a, data) }

func (a *Acrobot) decodeSnapshot(data []byte) (func(), error) {
	ep, state, err := decodeState4(a.ID, data)
	if err != nil {
		return nil, err
	}
	return func() { a.setEpisode(ep); a.state = state }, nil
}

// decodeState4 decodes the snapshot of an environment whose state is four
// float64s.
func decodeState4(id string, data []byte) (Episode, [4]float64, error) {
	var state [4]float64
	r, err := openSnapshot(id, data)
	if err != nil {
		return Episode{}, state, err
	}
	ep := r.episode()
	r.floats(state[:], "state")
	if err := r.close(id); err != nil {
		return Episode{}, state, err
	}
	return ep, state, nil
}

// Snapshot returns the episode's counters and [position, velocity].
func (m *MountainCarContinuous) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(m.ID)
	w.episode(&m.Episode)
	w.float64(m.position)
	w.float64(m.velocity)
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot; see Snapshotter.
func (m *MountainCarContinuous) Restore(data []byte) error { return restoreWith(m, data) }

func (m *MountainCarContinuous) decodeSnapshot(data []byte) (func(), error) {
	r, err := openSnapshot(m.ID, data)
	if err != nil {
		return nil, err
	}
	ep := r.episode()
	pos, vel := r.float64("position"), r.float64("velocity")
	if err := r.close(m.ID); err != nil {
		return nil, err
	}
	return func() { m.setEpisode(ep); m.position, m.velocity = pos, vel }, nil
}

// Snapshot returns the episode's counters, the steps over the
// environment's life (TotalSteps, which decides the layout of the blocking
// and shortcut mazes) and the agent's cell.
func (m *Maze) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(m.ID)
	w.episode(&m.Episode)
	w.int(m.total)
	w.int(m.pos)
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot, the layout included: a snapshot taken before the change of
// layout puts the old walls back. See Snapshotter.
func (m *Maze) Restore(data []byte) error { return restoreWith(m, data) }

func (m *Maze) decodeSnapshot(data []byte) (func(), error) {
	r, err := openSnapshot(m.ID, data)
	if err != nil {
		return nil, err
	}
	ep := r.episode()
	total, pos := r.int("the total step count"), r.int("the agent's cell")
	if r.err == nil && total < 0 {
		r.fail("the total step count is %d, want ≥ 0", total)
	}
	if r.err == nil && (pos < 0 || pos >= m.NumStates()) {
		r.fail("the agent's cell is %d, want one in [0, %d)", pos, m.NumStates())
	}
	if err := r.close(m.ID); err != nil {
		return nil, err
	}
	return func() {
		m.setEpisode(ep)
		m.total, m.pos = total, pos
		// Step swaps the layouts when total reaches switchAt, and total
		// only grows: the layout is the changed one from then on.
		if m.after != nil && total >= m.switchAt {
			m.walls = m.after
		} else {
			m.walls = m.grid.walls()
		}
	}, nil
}

// Snapshot returns the episode's counters, the task vector w, φ of the last
// step, the agent's cell and the set of objects collected.
func (f *FourRooms) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(f.ID)
	w.episode(&f.Episode)
	w.floats(f.w)
	w.floats(f.phi)
	w.int(f.pos)
	w.uint64(uint64(f.collected))
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot, the task vector included; see Snapshotter.
func (f *FourRooms) Restore(data []byte) error { return restoreWith(f, data) }

func (f *FourRooms) decodeSnapshot(data []byte) (func(), error) {
	r, err := openSnapshot(f.ID, data)
	if err != nil {
		return nil, err
	}
	ep := r.episode()
	task, phi := make([]float64, f.FeatureDim()), make([]float64, f.FeatureDim())
	r.finiteFloats(task, "the task w")
	r.floats(phi, "φ")
	pos, collected := r.int("the agent's cell"), r.uint64("the collected objects")
	for i, x := range phi {
		if r.err == nil && x != 0 && x != 1 {
			r.fail("φ[%d] = %v, want 0 or 1", i, x)
		}
	}
	if r.err == nil && (pos < 0 || pos >= len(f.grid.cells) || f.walls[pos]) {
		r.fail("the agent's cell %d is not a free cell of the %d×%d grid", pos, f.grid.rows, f.grid.cols)
	}
	if r.err == nil && bits.Len64(collected) > len(f.objects) {
		r.fail("the collected objects %#x name objects beyond the %d there are", collected, len(f.objects))
	}
	if err := r.close(f.ID); err != nil {
		return nil, err
	}
	return func() {
		f.setEpisode(ep)
		f.w, f.phi = task, phi
		f.pos, f.collected = pos, uint32(collected)
	}, nil
}

// Snapshot returns the episode's counters, GoalRadius, ActionNoise, the
// state of the episode's generator (which draws the action noise; Reset
// reseeds it), the point and the goal.
func (p *PointMaze) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(p.ID)
	w.episode(&p.Episode)
	w.float64(p.GoalRadius)
	w.float64(p.ActionNoise)
	w.pcg(p.src)
	w.floats(p.state[:])
	w.floats(p.goal[:])
	return w.finish(), nil
}

// Restore replaces the environment's state with a snapshot taken by
// Snapshot, GoalRadius and ActionNoise included; see Snapshotter.
func (p *PointMaze) Restore(data []byte) error { return restoreWith(p, data) }

func (p *PointMaze) decodeSnapshot(data []byte) (func(), error) {
	r, err := openSnapshot(p.ID, data)
	if err != nil {
		return nil, err
	}
	ep := r.episode()
	radius, noise := r.float64("GoalRadius"), r.float64("ActionNoise")
	src := r.pcg("the generator")
	var state, goal [2]float64
	r.finiteFloats(state[:], "the point")
	r.finiteFloats(goal[:], "the goal")
	if err := r.close(p.ID); err != nil {
		return nil, err
	}
	return func() {
		p.setEpisode(ep)
		p.GoalRadius, p.ActionNoise = radius, noise
		p.src, p.rng = src, rand.New(src)
		p.state, p.goal = state, goal
	}, nil
}

// snapshotID is the id a Vector's snapshot carries in its header.
func (v *Vector) snapshotID() string { return "Vector(" + v.name + ")" }

// Snapshot returns the number of copies and, for each, the state of its
// seeder of autoreset episodes (or that the Vector has not been Reset) and
// its own snapshot. Workers is not part of it: it does not change the
// results. Snapshot returns an error if a copy is not a Snapshotter or its
// Snapshot fails.
func (v *Vector) Snapshot() ([]byte, error) {
	w := newSnapshotWriter(v.snapshotID())
	w.int(len(v.envs))
	for i, e := range v.envs {
		s, ok := e.(Snapshotter)
		if !ok {
			return nil, fmt.Errorf("vector %s: snapshot: copy %d, a %T, is not an env.Snapshotter", v.name, i, e)
		}
		b, err := s.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("vector %s: snapshot of copy %d: %w", v.name, i, err)
		}
		w.bool(v.seedSrcs[i] != nil)
		if v.seedSrcs[i] != nil {
			w.pcg(v.seedSrcs[i])
		}
		w.bytes(b)
	}
	return w.finish(), nil
}

// Restore replaces the state of the Vector and of every copy with a
// snapshot taken by Snapshot from a Vector of the same environment (the id
// MakeVector was given, or for NewVector the copies' type) and number of
// copies; Workers may differ. It restores every copy or, returning an error, none:
// the copies of this package's environments are all decoded before any is
// changed; copies of other Snapshotters are restored in turn and, should
// one fail, those already restored are put back from snapshots taken first.
func (v *Vector) Restore(data []byte) error {
	id := v.snapshotID()
	r, err := openSnapshot(id, data)
	if err != nil {
		return err
	}
	n := r.int("the number of copies")
	if r.err == nil && n != len(v.envs) {
		r.fail("the snapshot has %d copies, this vector %d", n, len(v.envs))
	}
	srcs := make([]*rand.PCG, len(v.envs))
	copies := make([][]byte, len(v.envs))
	for i := 0; i < len(v.envs) && r.err == nil; i++ {
		if r.bool(fmt.Sprintf("copy %d's seeder flag", i)) {
			srcs[i] = r.pcg(fmt.Sprintf("copy %d's seeder", i))
		}
		copies[i] = r.bytes(fmt.Sprintf("copy %d's snapshot", i))
	}
	if err := r.close(id); err != nil {
		return err
	}

	var (
		applies  []func()
		external []int // copies that are Snapshotters of other packages
	)
	for i, e := range v.envs {
		switch e := e.(type) {
		case snapshotDecoder:
			apply, err := e.decodeSnapshot(copies[i])
			if err != nil {
				return fmt.Errorf("vector %s: restore copy %d: %w", v.name, i, err)
			}
			applies = append(applies, apply)
		case Snapshotter:
			external = append(external, i)
		default:
			return fmt.Errorf("vector %s: restore: copy %d, a %T, is not an env.Snapshotter", v.name, i, e)
		}
	}
	if err := v.restoreExternal(external, copies); err != nil {
		return err
	}
	for _, apply := range applies {
		apply()
	}
	for i, src := range srcs {
		v.seedSrcs[i], v.seeders[i] = src, nil
		if src != nil {
			v.seeders[i] = rand.New(src)
		}
	}
	return nil
}

// restoreExternal restores the copies at idx, Snapshotters this package
// cannot decode ahead, from copies; if one fails it puts back those already
// restored and returns the error.
func (v *Vector) restoreExternal(idx []int, copies [][]byte) error {
	backups := make([][]byte, len(idx))
	for k, i := range idx {
		b, err := v.envs[i].(Snapshotter).Snapshot()
		if err != nil {
			return fmt.Errorf("vector %s: restore: snapshot of copy %d to roll back to: %w", v.name, i, err)
		}
		backups[k] = b
	}
	for k, i := range idx {
		err := v.envs[i].(Snapshotter).Restore(copies[i])
		if err == nil {
			continue
		}
		err = fmt.Errorf("vector %s: restore copy %d: %w", v.name, i, err)
		for j := range k {
			if rerr := v.envs[idx[j]].(Snapshotter).Restore(backups[j]); rerr != nil {
				return fmt.Errorf("%w; rolling back copy %d also failed, the vector must be Reset: %v", err, idx[j], rerr)
			}
		}
		return err
	}
	return nil
}
