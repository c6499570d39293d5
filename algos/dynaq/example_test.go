package dynaq_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/dynaq"
	"github.com/imago-rl/imago/env"
)

// grid is a user's own tabular environment: a 5×5 room of cells numbered
// row by row, the agent starting in the top-left cell 0 and moving up,
// down, right or left (env.MoveUp … env.MoveLeft; a move into the wall
// stays put). Reaching the bottom-right cell 24 ends the episode with
// reward 1; every other step gives 0. The shortest path is 8 steps, and an
// episode is cut after 200.
type grid struct {
	env.Episode // the step counter, the time limit and the action checks
	cell        int
}

const side = 5

func (g *grid) ObservationSpace() env.Space {
	return env.Box([]float64{0, 0}, []float64{side - 1, side - 1})
}
func (g *grid) ActionSpace() env.Space { return env.DiscreteSpace(4) }

func (g *grid) Reset(seed int64) []float64 {
	g.Begin()
	g.cell = 0
	return g.obs()
}

func (g *grid) Step(a []float64) (obs []float64, reward float64, terminated, truncated bool) {
	g.Check(g.ActionSpace(), a)
	row, col := g.cell/side, g.cell%side
	switch int(a[0]) {
	case env.MoveUp:
		row = max(row-1, 0)
	case env.MoveDown:
		row = min(row+1, side-1)
	case env.MoveRight:
		col = min(col+1, side-1)
	case env.MoveLeft:
		col = max(col-1, 0)
	}
	g.cell = row*side + col
	if g.cell == side*side-1 {
		reward, terminated = 1, true
	}
	return g.obs(), reward, terminated, g.End(terminated)
}

// obs is the (row, column) of the agent's cell.
func (g *grid) obs() []float64 { return []float64{float64(g.cell / side), float64(g.cell % side)} }

// The methods of env.Tabular, which Dyna-Q's tables are indexed by.

func (g *grid) NumStates() int { return side * side }
func (g *grid) StateID() int   { return g.cell }
func (g *grid) StateIDOf(obs []float64) int {
	return int(obs[0])*side + int(obs[1])
}

func init() {
	env.Register(env.Registration{
		ID:          "Grid5x5-v0",
		Description: "a 5×5 room; reach the far corner",
		New:         func() env.Env { return &grid{Episode: env.Episode{ID: "Grid5x5-v0", MaxSteps: 200}} },
	})
}

// Train Dyna-Q on a tabular environment of one's own: register it, take
// Dyna-Q's defaults (the book's Dyna maze values, five planning steps),
// train, and read the greedy policy's episodes. Dyna-Q runs on the host:
// Train takes no engine.
func Example() {
	run := algos.RunConfig{Env: "Grid5x5-v0", Steps: 2000, Seed: 1, EvalEvery: 1000, EvalEpisodes: 10}
	cfg := dynaq.Preset(run.Env) // the documented defaults: no preset for this environment

	var rows algos.Rows // keeps every evaluation in memory
	dir, _ := os.MkdirTemp("", "dynaq-example")
	defer os.RemoveAll(dir)
	// Checkpoints saves the agent into dir after the last step (and every
	// Every steps, and on an interrupt); checkpoint.Load reads it back.
	saved := &algos.Checkpoints{Reporter: &rows, Dir: dir, Algo: "dyna-q", Env: run.Env}
	if err := dynaq.Train(context.Background(), nil, run, cfg, saved); err != nil {
		log.Fatal(err)
	}
	last := rows.Rows[len(rows.Rows)-1]
	fmt.Printf("%d evaluations, the last after %d steps\n", len(rows.Rows), last.EnvSteps)
	fmt.Println("greedy episodes reach the goal:", last.Get("eval_return") == 1)
	fmt.Println("greedy episodes take the shortest path:", last.Get("eval_steps") == 8)
	steps, _ := checkpoint.List(dir)
	fmt.Println("saved after steps", steps)

	// Output:
	// 2 evaluations, the last after 2000 steps
	// greedy episodes reach the goal: true
	// greedy episodes take the shortest path: true
	// saved after steps [2000]
}
