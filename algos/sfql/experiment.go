package sfql

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/internal/plot"
)

// TransferResult is the measurement of [SF] Figure 2 (left) on FourRooms:
// the cumulative reward of SFQL and of Q-learning restarted per task over a
// sequence of tasks, per seed.
type TransferResult struct {
	Tasks, TaskSteps int
	Every            int      // the steps between two points of Cumulative
	Seeds            []uint64 // the runs, each with its own task sequence
	Methods          []string // MethodSFQL, MethodQLearning
	// Cumulative[m][i][k] is the cumulative reward of method m in run i
	// after (k+1)·Every steps.
	Cumulative [][][]float64
	// TaskReward[m][i][t] is the reward method m collected during task t
	// of run i.
	TaskReward [][][]float64
}

// RunTransfer runs SFQL (cfg with Method MethodSFQL) and Q-learning (the
// same cfg with MethodQLearning) on FourRooms-v0 for tasks tasks of
// cfg.TaskSteps steps each, one run per seed; a seed draws the same task
// sequence for both methods. [SF] averages 30 runs of 20 tasks of 20,000
// steps; with Defaults a run of both methods takes about 2 seconds. It
// records the cumulative reward every `every` steps. It returns ctx.Err()
// when ctx is cancelled, or an error for an invalid cfg or counts.
func RunTransfer(ctx context.Context, cfg Config, tasks, every int, seeds []uint64) (TransferResult, error) {
	if tasks < 1 || every < 1 || len(seeds) < 1 {
		return TransferResult{}, fmt.Errorf("sfql: %d tasks, a point every %d steps, %d seeds: need at least one of each", tasks, every, len(seeds))
	}
	res := TransferResult{
		Tasks: tasks, TaskSteps: cfg.TaskSteps, Every: every,
		Seeds:   append([]uint64(nil), seeds...),
		Methods: []string{MethodSFQL, MethodQLearning},
	}
	for _, method := range res.Methods {
		c := cfg
		c.Method = method
		if err := c.Validate(); err != nil {
			return TransferResult{}, fmt.Errorf("sfql: %w", err)
		}
		var cumulative, taskReward [][]float64
		for _, seed := range seeds {
			r, err := newRunner(c, env.NewFourRooms(), int64(seed))
			if err != nil {
				return TransferResult{}, fmt.Errorf("sfql: %w", err)
			}
			var curve []float64
			perTask := make([]float64, tasks)
			steps := tasks * c.TaskSteps
			for step := 1; step <= steps; step++ {
				if step%1000 == 0 {
					if err := ctx.Err(); err != nil {
						return TransferResult{}, err
					}
				}
				reward, _, _ := r.step(step)
				perTask[(step-1)/c.TaskSteps] += reward
				if step%every == 0 {
					curve = append(curve, r.cumulative)
				}
			}
			cumulative = append(cumulative, curve)
			taskReward = append(taskReward, perTask)
		}
		res.Cumulative = append(res.Cumulative, cumulative)
		res.TaskReward = append(res.TaskReward, taskReward)
	}
	return res, nil
}

// Total returns, per run of method m, the reward collected over all tasks.
func (r TransferResult) Total(m int) []float64 {
	out := make([]float64, len(r.Seeds))
	for i, tasks := range r.TaskReward[m] {
		for _, v := range tasks {
			out[i] += v
		}
	}
	return out
}

// MeanCumulative returns the cumulative reward of method m averaged over
// the runs, one point per Every steps.
func (r TransferResult) MeanCumulative(m int) []float64 {
	runs := r.Cumulative[m]
	mean := make([]float64, len(runs[0]))
	for _, curve := range runs {
		for k, v := range curve {
			mean[k] += v / float64(len(runs))
		}
	}
	return mean
}

// Summary describes the result in a few lines of text: per method the mean
// and standard deviation over runs of the total reward, the reward per
// task over the first and the second half of the tasks; then in how many
// runs SFQL collected more than Q-learning, and by how much.
func (r TransferResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "FourRooms-v0, %d tasks of %d steps, %d runs (seeds %v):\n", r.Tasks, r.TaskSteps, len(r.Seeds), r.Seeds)
	half := r.Tasks / 2
	for m, name := range r.Methods {
		mean, sd := algos.MeanStd(r.Total(m))
		first, second := 0.0, 0.0
		for _, tasks := range r.TaskReward[m] {
			for t, v := range tasks {
				if t < half {
					first += v
				} else {
					second += v
				}
			}
		}
		n := float64(len(r.Seeds))
		fmt.Fprintf(&b, "  %-10s total reward %.0f ± %.0f; per task %.1f over tasks 1-%d, %.1f over tasks %d-%d\n",
			name, mean, sd, first/n/float64(max(half, 1)), half, second/n/float64(r.Tasks-half), half+1, r.Tasks)
	}
	sf, q := r.Total(0), r.Total(1)
	diff, ahead := make([]float64, len(sf)), 0
	for i := range sf {
		diff[i] = sf[i] - q[i]
		if diff[i] > 0 {
			ahead++
		}
	}
	mean, sd := algos.MeanStd(diff)
	fmt.Fprintf(&b, "  SFQL ahead of Q-learning in %d/%d runs, by %.0f ± %.0f reward\n", ahead, len(sf), mean, sd)
	return b.String()
}

// WritePNG draws the mean cumulative reward of each method against the
// steps, with the task boundaries marked, into dir as
// sfql-fourrooms-cumulative.png, and returns the path.
func (r TransferResult) WritePNG(dir string) (string, error) {
	chart := plot.LineChart{
		Title:      fmt.Sprintf("FourRooms-v0, %d tasks, %d runs", r.Tasks, len(r.Seeds)),
		XLabel:     "steps (a new task every " + fmt.Sprint(r.TaskSteps) + ")",
		YLabel:     "cumulative reward",
		LegendLeft: true,
	}
	names := map[string]string{MethodSFQL: "SFQL (GPI)", MethodQLearning: "Q-learning"}
	for m, method := range r.Methods {
		mean := r.MeanCumulative(m)
		x := make([]float64, len(mean))
		for k := range x {
			x[k] = float64((k + 1) * r.Every)
		}
		chart.Series = append(chart.Series, plot.LineSeries{Name: names[method], X: x, Y: mean})
	}
	path := filepath.Join(dir, "sfql-fourrooms-cumulative.png")
	return path, chart.WriteFile(path)
}
