package env_test

import (
	"fmt"
	"log"

	"github.com/imago-rl/imago/env"
)

// corridor is a user's own environment: five cells in a row, the agent
// starting in cell 0 and moving left (action 0) or right (action 1); the
// episode terminates with reward 1 on reaching cell 4, and is truncated
// after 10 steps.
type corridor struct {
	env.Episode // the step counter, the time limit and the action checks
	cell        int
}

func (c *corridor) ObservationSpace() env.Space { return env.Box([]float64{0}, []float64{4}) }
func (c *corridor) ActionSpace() env.Space      { return env.DiscreteSpace(2) }

// Reset starts in cell 0 whatever the seed: nothing here is random.
func (c *corridor) Reset(seed int64) []float64 {
	c.Begin()
	c.cell = 0
	return []float64{float64(c.cell)}
}

// Step takes a discrete action as a one-element slice holding its index.
func (c *corridor) Step(a []float64) (obs []float64, reward float64, terminated, truncated bool) {
	c.Check(c.ActionSpace(), a) // panics with an *env.StepError on an invalid action
	if a[0] == 1 {
		c.cell = min(c.cell+1, 4)
	} else {
		c.cell = max(c.cell-1, 0)
	}
	if c.cell == 4 {
		reward, terminated = 1, true
	}
	return []float64{float64(c.cell)}, reward, terminated, c.End(terminated)
}

// Register the environment once, from an init function: Register panics
// on an id that is taken.
func init() {
	env.Register(env.Registration{
		ID:          "Corridor-v0",
		Description: "five cells in a row; reach the last",
		New:         func() env.Env { return &corridor{Episode: env.Episode{ID: "Corridor-v0", MaxSteps: 10}} },
	})
}

// Implement env.Env, register it under an id, and every part of imago that
// takes an environment id (env.Make, the algorithms' RunConfig.Env) can use
// it.
func Example() {
	e, err := env.Make("Corridor-v0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("actions:", e.ActionSpace())
	obs := e.Reset(0)
	for _, a := range []float64{1, 1, 0, 1, 1, 1} {
		next, r, term, trunc := e.Step([]float64{a})
		fmt.Printf("cell %v, action %v: cell %v, reward %v, terminated %v, truncated %v\n", obs[0], a, next[0], r, term, trunc)
		if term || trunc {
			break
		}
		obs = next
	}
	fmt.Println(env.CheckAction("Corridor-v0", e.ActionSpace(), []float64{2}))

	// Output:
	// actions: Discrete(2)
	// cell 0, action 1: cell 1, reward 0, terminated false, truncated false
	// cell 1, action 1: cell 2, reward 0, terminated false, truncated false
	// cell 2, action 0: cell 1, reward 0, terminated false, truncated false
	// cell 1, action 1: cell 2, reward 0, terminated false, truncated false
	// cell 2, action 1: cell 3, reward 0, terminated false, truncated false
	// cell 3, action 1: cell 4, reward 1, terminated true, truncated false
	// env Corridor-v0: discrete action 2 is not an integer in [0, 2)
}
