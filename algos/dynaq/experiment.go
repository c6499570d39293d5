package dynaq

import (
	"context"
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/internal/plot"
)

// Seeds returns the seeds first, first+1, …, first+n−1 of n runs.
func Seeds(first uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

// maxEpisodeSteps bounds an episode of the experiments, whose mazes have no
// time limit: a configuration that never reaches the goal (ε = 0 with a
// greedy loop) is reported as an error instead of running for ever. The
// first episode of the Dyna maze takes some 1700 steps on average ([SB]
// section 8.2), so this is far beyond any episode of a learning agent.
const maxEpisodeSteps = 1_000_000

// DynaMazeResult is the measurement of [SB] Figure 8.2: the mean number of
// steps of each episode of Dyna-Q agents with different numbers of planning
// steps on DynaMaze-v0.
type DynaMazeResult struct {
	PlanningSteps []int       // n of each curve
	Seeds         []uint64    // the seeds of the runs averaged
	Steps         [][]float64 // Steps[i][k]: mean steps of episode k+1 with PlanningSteps[i]
}

// RunDynaMaze runs Dyna-Q with cfg, but for PlanningSteps, on DynaMaze-v0:
// for each n in planningSteps and each seed of seeds, a fresh agent of
// that seed (NewAgent) plays episodes episodes from the start
// ([SB] Example 8.1: 30 runs of 50 episodes, n = 0, 5 and 50, with
// Defaults). Every n sees the same seeds. It returns ctx.Err() when ctx is
// cancelled, or an error for an invalid cfg or counts, or an episode longer
// than a million steps.
func RunDynaMaze(ctx context.Context, cfg Config, planningSteps []int, episodes int, seeds []uint64) (DynaMazeResult, error) {
	if len(planningSteps) == 0 || episodes < 1 || len(seeds) < 1 {
		return DynaMazeResult{}, fmt.Errorf("dynaq: %d planning settings, %d episodes, %d seeds: need at least one of each", len(planningSteps), episodes, len(seeds))
	}
	res := DynaMazeResult{PlanningSteps: append([]int(nil), planningSteps...), Seeds: append([]uint64(nil), seeds...)}
	for _, n := range planningSteps {
		c := cfg
		c.PlanningSteps = n
		if err := c.Validate(); err != nil {
			return DynaMazeResult{}, fmt.Errorf("dynaq: %w", err)
		}
		mean := make([]float64, episodes)
		for _, seed := range seeds {
			maze := env.NewDynaMaze()
			agent, err := NewAgent(c, maze.NumStates(), 4, seed)
			if err != nil {
				return DynaMazeResult{}, fmt.Errorf("dynaq: %w", err)
			}
			for k := range episodes {
				if err := ctx.Err(); err != nil {
					return DynaMazeResult{}, err
				}
				steps, err := playEpisode(agent, maze)
				if err != nil {
					return DynaMazeResult{}, fmt.Errorf("dynaq: n = %d, seed %d, episode %d: %w", n, seed, k+1, err)
				}
				mean[k] += float64(steps) / float64(len(seeds))
			}
		}
		res.Steps = append(res.Steps, mean)
	}
	return res, nil
}

// playEpisode resets m and lets agent act and learn until the episode ends,
// returning its length.
func playEpisode(agent *Agent, m *env.Maze) (int, error) {
	m.Reset(0)
	s := m.StateID()
	action := []float64{0}
	for steps := 1; steps <= maxEpisodeSteps; steps++ {
		a := agent.Act(s)
		action[0] = float64(a)
		_, r, terminated, truncated := m.Step(action)
		next := m.StateID()
		agent.Learn(s, a, r, next, terminated)
		s = next
		if terminated || truncated {
			return steps, nil
		}
	}
	return 0, fmt.Errorf("no end after %d steps", maxEpisodeSteps)
}

// DynaMazeEpsilonOptimalSteps is the expected length of an episode of
// DynaMaze-v0 under the ε-greedy policy (ε = 0.1) of the optimal action
// values, ties among optimal actions broken uniformly: the best mean
// episode length an agent exploring as Example 8.1's do can reach. The
// optimal path is 14 steps; exploration adds the rest. Computed exactly by
// solving the linear equations of the expected steps to the goal under that
// policy (TestEpsilonOptimalSteps recomputes it).
const DynaMazeEpsilonOptimalSteps = 15.878

// NearOptimalFactor defines a near-optimal episode of the Dyna maze for
// EpisodesToReach: at most NearOptimalFactor·DynaMazeEpsilonOptimalSteps
// ≈ 19.8 steps on average, within 25% of the best that an ε-greedy agent
// can do.
const NearOptimalFactor = 1.25

// EpisodesToReach returns, for each curve, the first episode (from 1)
// whose mean length is at most threshold steps; len(Steps[i])+1 if none
// is. With threshold NearOptimalFactor·DynaMazeEpsilonOptimalSteps this is
// "the episodes to reach near-optimal paths" of [SB] section 8.2 ("about
// 25 episodes" for n = 0, five for n = 5, three for n = 50).
//
// The first crossing is used rather than the first episode from which the
// curve stays below: a mean of 30 runs still has a heavy tail (one run's
// ε-step into an unlearned corner can cost it a few hundred steps), so the
// last crossing of n = 0 wanders between episodes 28 and 49 over disjoint
// sets of 30 seeds while the first stays within 27 to 31.
func (r DynaMazeResult) EpisodesToReach(threshold float64) []int {
	out := make([]int, len(r.Steps))
	for i, curve := range r.Steps {
		out[i] = len(curve) + 1
		for k, steps := range curve {
			if steps <= threshold {
				out[i] = k + 1
				break
			}
		}
	}
	return out
}

// ChangingMaze describes one of the mazes of [SB] Examples 8.2 and 8.3 as
// the experiments use it; the numbers are those of the env package's
// documentation, which TestChangingMazes checks against the environments.
type ChangingMaze struct {
	SwitchAt   int // the real step at which the layout changes
	Steps      int // the length of the book's experiment: its figure's time axis
	PathBefore int // the shortest path from the start to the goal before the change
	PathAfter  int // and after it
}

// ChangingMazes are the blocking maze (Figure 8.4: the short path closes
// and a longer one opens) and the shortcut maze (Figure 8.5: a shorter
// path opens).
var ChangingMazes = map[string]ChangingMaze{
	"BlockingMaze-v0": {SwitchAt: 1000, Steps: 3000, PathBefore: 10, PathAfter: 16},
	"ShortcutMaze-v0": {SwitchAt: 3000, Steps: 6000, PathBefore: 16, PathAfter: 10},
}

// MazeRun is what one run on a changing maze records.
type MazeRun struct {
	Rewards     []float64 // Rewards[t]: the cumulative reward after t+1 steps
	EpisodeEnds []int     // the step (from 1) at which each episode ended
	EpisodeLens []int     // the length of each episode, in steps
}

// ChangingMazeResult is the measurement of [SB] Figures 8.4 and 8.5:
// Dyna-Q and Dyna-Q+ on a maze whose layout changes.
type ChangingMazeResult struct {
	Env     string
	Maze    ChangingMaze
	Methods []string    // "Dyna-Q", "Dyna-Q+"
	Runs    [][]MazeRun // Runs[m][seed]
}

// RunChangingMaze runs Dyna-Q (cfg with Plus false) and Dyna-Q+ (Plus
// true) on envID, one of ChangingMazes, for steps real steps (the book's
// experiment's Steps where steps is 0), one run per seed of seeds; both
// methods see the same seeds. The book averages 20 runs for Figure 8.4
// ([Zhang] too) and 5 for Figure 8.5 ([Zhang]; the book does not say);
// Preset(envID) holds [Zhang]'s parameters. It returns ctx.Err() when ctx
// is cancelled, or an error for an unknown maze, an invalid cfg or counts.
func RunChangingMaze(ctx context.Context, envID string, cfg Config, steps int, seeds []uint64) (ChangingMazeResult, error) {
	maze, ok := ChangingMazes[envID]
	if !ok {
		return ChangingMazeResult{}, fmt.Errorf("dynaq: %q is not a changing maze (BlockingMaze-v0 or ShortcutMaze-v0)", envID)
	}
	if steps == 0 {
		steps = maze.Steps
	}
	if steps < 1 || len(seeds) < 1 {
		return ChangingMazeResult{}, fmt.Errorf("dynaq: %d steps and %d seeds: need at least one of each", steps, len(seeds))
	}
	res := ChangingMazeResult{Env: envID, Maze: maze, Methods: []string{"Dyna-Q", "Dyna-Q+"}}
	for _, plus := range []bool{false, true} {
		c := cfg
		c.Plus = plus
		var runs []MazeRun
		for _, seed := range seeds {
			if err := ctx.Err(); err != nil {
				return ChangingMazeResult{}, err
			}
			run, err := runChangingMaze(envID, c, steps, seed)
			if err != nil {
				return ChangingMazeResult{}, err
			}
			runs = append(runs, run)
		}
		res.Runs = append(res.Runs, runs)
	}
	return res, nil
}

// runChangingMaze is one run of RunChangingMaze: steps real steps over as
// many episodes as they make, the maze's clock running across episodes.
func runChangingMaze(envID string, cfg Config, steps int, seed uint64) (MazeRun, error) {
	e, err := env.Make(envID)
	if err != nil {
		return MazeRun{}, fmt.Errorf("dynaq: %w", err)
	}
	m := e.(*env.Maze)
	agent, err := NewAgent(cfg, m.NumStates(), 4, seed)
	if err != nil {
		return MazeRun{}, fmt.Errorf("dynaq: %w", err)
	}
	run := MazeRun{Rewards: make([]float64, steps)}
	m.Reset(0)
	s, cumulative, length := m.StateID(), 0.0, 0
	action := []float64{0}
	for t := range steps {
		a := agent.Act(s)
		action[0] = float64(a)
		_, r, terminated, truncated := m.Step(action)
		next := m.StateID()
		agent.Learn(s, a, r, next, terminated)
		s = next
		cumulative += r
		run.Rewards[t] = cumulative
		length++
		if terminated || truncated {
			run.EpisodeEnds = append(run.EpisodeEnds, t+1)
			run.EpisodeLens = append(run.EpisodeLens, length)
			length = 0
			m.Reset(0)
			s = m.StateID()
		}
	}
	return run, nil
}

// MeanRewards returns the cumulative reward after each step, averaged over
// the runs of method m: the curve of the book's figure.
func (r ChangingMazeResult) MeanRewards(m int) []float64 {
	runs := r.Runs[m]
	mean := make([]float64, len(runs[0].Rewards))
	for _, run := range runs {
		for t, v := range run.Rewards {
			mean[t] += v / float64(len(runs))
		}
	}
	return mean
}

// RewardBetween returns, per run of method m, the reward gained in steps
// from+1 to to.
func (r ChangingMazeResult) RewardBetween(m, from, to int) []float64 {
	out := make([]float64, len(r.Runs[m]))
	for i, run := range r.Runs[m] {
		before := 0.0
		if from > 0 {
			before = run.Rewards[from-1]
		}
		out[i] = run.Rewards[to-1] - before
	}
	return out
}

// UsesNewPath reports, per run of method m, whether the run has taken to
// the new layout's path by its end: whether more than half of the episodes
// that ended in its last window steps were at most maxLen steps long (and
// at least one ended there). On the shortcut maze, with maxLen =
// PathBefore−1, such an episode cannot have gone round the left end of the
// barrier: it took the shortcut.
func (r ChangingMazeResult) UsesNewPath(m, window, maxLen int) []bool {
	out := make([]bool, len(r.Runs[m]))
	for i, run := range r.Runs[m] {
		end := len(run.Rewards)
		var n, short int
		for k, t := range run.EpisodeEnds {
			if t > end-window {
				n++
				if run.EpisodeLens[k] <= maxLen {
					short++
				}
			}
		}
		out[i] = n > 0 && 2*short > n
	}
	return out
}

// StepsToGoalAfterSwitch returns, per run of method m, the steps from the
// layout change to the end of the first episode begun after it: on the
// blocking maze, how long the agent takes to find the new path from the
// start (an episode under way at the change may already be past the
// barrier). A run with no such episode gets −1.
func (r ChangingMazeResult) StepsToGoalAfterSwitch(m int) []int {
	out := make([]int, len(r.Runs[m]))
	for i, run := range r.Runs[m] {
		out[i] = -1
		for k, t := range run.EpisodeEnds {
			if k > 0 && run.EpisodeEnds[k-1] >= r.Maze.SwitchAt {
				out[i] = t - r.Maze.SwitchAt
				break
			}
		}
	}
	return out
}

// BookResults are the three experiments of [SB] chapter 8 that Dyna-Q
// reproduces.
type BookResults struct {
	DynaMaze DynaMazeResult     // Figure 8.2: n = 0, 5, 50, 50 episodes
	Blocking ChangingMazeResult // Figure 8.4: Dyna-Q and Dyna-Q+, 3000 steps
	Shortcut ChangingMazeResult // Figure 8.5: Dyna-Q and Dyna-Q+, 6000 steps
}

// RunBook runs the three experiments on seeds with the book's parameters:
// Defaults for the Dyna maze, Preset for the changing mazes. With 30 seeds
// it takes a few seconds.
func RunBook(ctx context.Context, seeds []uint64) (BookResults, error) {
	var (
		res BookResults
		err error
	)
	res.DynaMaze, err = RunDynaMaze(ctx, Defaults(), []int{0, 5, 50}, 50, seeds)
	if err != nil {
		return res, err
	}
	res.Blocking, err = RunChangingMaze(ctx, "BlockingMaze-v0", Preset("BlockingMaze-v0"), 0, seeds)
	if err != nil {
		return res, err
	}
	res.Shortcut, err = RunChangingMaze(ctx, "ShortcutMaze-v0", Preset("ShortcutMaze-v0"), 0, seeds)
	return res, err
}

// Summary describes the results in a few lines of text, the figures that
// docs/RESULTS.md quotes.
func (r BookResults) Summary() string {
	var b strings.Builder
	th := NearOptimalFactor * DynaMazeEpsilonOptimalSteps
	reach := r.DynaMaze.EpisodesToReach(th)
	fmt.Fprintf(&b, "DynaMaze-v0, %d runs: first episode %.1f steps for every n; first episode of mean length ≤ %.2f steps:\n",
		len(r.DynaMaze.Seeds), r.DynaMaze.Steps[0][0], th)
	for i, n := range r.DynaMaze.PlanningSteps {
		curve := r.DynaMaze.Steps[i]
		fmt.Fprintf(&b, "  n = %2d: episode %d; mean of episodes 41-50 %.1f steps\n", n, reach[i], meanOf(curve[max(0, len(curve)-10):]))
	}
	for _, c := range []ChangingMazeResult{r.Blocking, r.Shortcut} {
		mz := c.Maze
		fmt.Fprintf(&b, "%s, %d runs, layout change at step %d:\n", c.Env, len(c.Runs[0]), mz.SwitchAt)
		for m, name := range c.Methods {
			mean := c.MeanRewards(m)
			last := c.RewardBetween(m, mz.Steps-1000, mz.Steps)
			reached := 0
			for _, v := range last {
				if v > 0 {
					reached++
				}
			}
			fmt.Fprintf(&b, "  %-7s cumulative reward %.1f at the change, %.1f at step %d; %.1f in the last 1000 steps; %d/%d runs reach the goal in them",
				name, mean[mz.SwitchAt-1], mean[len(mean)-1], mz.Steps, meanOf(last), reached, len(last))
			if mz.PathAfter < mz.PathBefore {
				used := 0
				for _, u := range c.UsesNewPath(m, 1000, mz.PathBefore-1) {
					if u {
						used++
					}
				}
				fmt.Fprintf(&b, ", %d/%d mostly by the new path (episodes under %d steps)", used, len(last), mz.PathBefore)
			} else {
				var found []int
				for _, k := range c.StepsToGoalAfterSwitch(m) {
					if k >= 0 {
						found = append(found, k)
					}
				}
				fmt.Fprintf(&b, "; %d/%d find the new path", len(found), len(last))
				if len(found) > 0 {
					fmt.Fprintf(&b, " (an episode begun after the change ends), a median %d steps after the change", median(found))
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// median returns the median of xs (the upper one of an even count).
func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// WritePNGs draws the three figures into dir, which must exist:
// dynaq-dynamaze-steps.png (Figure 8.2, episodes 2 to 50 as in the book),
// dynaq-blocking-cumulative.png (Figure 8.4) and
// dynaq-shortcut-cumulative.png (Figure 8.5). It returns the paths
// written.
func (r BookResults) WritePNGs(dir string) ([]string, error) {
	var paths []string
	steps := plot.LineChart{
		Title:  fmt.Sprintf("Dyna-Q on the Dyna maze, %d runs", len(r.DynaMaze.Seeds)),
		XLabel: "episodes", YLabel: "steps per episode",
	}
	for i, n := range r.DynaMaze.PlanningSteps {
		var x, y []float64
		for k := 1; k < len(r.DynaMaze.Steps[i]); k++ {
			x = append(x, float64(k+1))
			y = append(y, r.DynaMaze.Steps[i][k])
		}
		steps.Series = append(steps.Series, plot.LineSeries{Name: fmt.Sprintf("n = %d planning steps", n), X: x, Y: y})
	}
	path := filepath.Join(dir, "dynaq-dynamaze-steps.png")
	if err := steps.WriteFile(path); err != nil {
		return paths, err
	}
	paths = append(paths, path)

	for _, c := range []struct {
		res  ChangingMazeResult
		file string
	}{{r.Blocking, "dynaq-blocking-cumulative.png"}, {r.Shortcut, "dynaq-shortcut-cumulative.png"}} {
		chart := plot.LineChart{
			Title:  fmt.Sprintf("%s, %d runs", c.res.Env, len(c.res.Runs[0])),
			XLabel: "time steps", YLabel: "cumulative reward",
			LegendLeft: true,
		}
		top := 0.0
		for m, name := range c.res.Methods {
			mean := c.res.MeanRewards(m)
			x := make([]float64, len(mean))
			for t := range x {
				x[t] = float64(t + 1)
			}
			top = max(top, mean[len(mean)-1])
			chart.Series = append(chart.Series, plot.LineSeries{Name: name, X: x, Y: mean})
		}
		sw := float64(c.res.Maze.SwitchAt)
		chart.Series = append(chart.Series, plot.LineSeries{
			Name: "layout change", X: []float64{sw, sw}, Y: []float64{0, top},
			Color: color.RGBA{150, 150, 150, 255},
		})
		path := filepath.Join(dir, c.file)
		if err := chart.WriteFile(path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
