package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/clearning"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
)

// evalCommand is `imago eval`.
func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate the policy saved in a run's checkpoint",
		UsageText: "imago eval DIR [--episodes N] [--checkpoint STEP] [--seed N] [--engine NAME]",
		Description: "Rebuilds the agent of run DIR (its config.yaml) from its newest checkpoint, or the\n" +
			"one after --checkpoint STEP, and runs --episodes episodes of its deterministic\n" +
			"policy, printing the mean ± standard deviation of the return and, on goal tasks,\n" +
			"the success rate. Episode i starts from the seed the run's own evaluations used\n" +
			"(the run's seed + 2^40 + i) unless --seed moves it, so that --episodes equal to\n" +
			"the run's eval_episodes reproduces its last evaluation.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "episodes", Value: 20, Usage: "episodes to run"},
			&cli.IntFlag{Name: "checkpoint", Value: -1, Usage: "the `STEP` of the checkpoint to evaluate (see DIR/checkpoints); -1 for the newest"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the first episode's reset (default: the run's evaluation seed)"},
			&cli.StringFlag{Name: "engine", Value: "auto", EnvVars: []string{"IMAGO_ENGINE"}, Usage: "compute engine (see imago engines)"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("eval: %w; run 'imago eval --help' for the flags", err)
		},
		Action: func(c *cli.Context) error {
			args, help, err := trailingFlags(c)
			if err != nil {
				return err
			}
			if help {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("eval takes one run directory, got %d arguments; run 'imago eval --help'", len(args))
			}
			var seed *int64
			if c.IsSet("seed") {
				s := c.Int64("seed")
				seed = &s
			}
			return evaluate(c, args[0], c.Int("episodes"), c.Int("checkpoint"), seed, c.String("engine"), c.IsSet("engine"), c.App.Writer)
		},
	}
}

// evaluate runs `imago eval`.
func evaluate(c *cli.Context, dir string, episodes, step int, seed *int64, engineName string, engineGiven bool, stdout io.Writer) (err error) {
	if episodes <= 0 {
		return fmt.Errorf("--episodes %d: must be positive", episodes)
	}
	if _, err := os.Stat(filepath.Join(dir, configFile)); err != nil {
		return fmt.Errorf("%s: no %s there: not a run directory", dir, configFile)
	}
	tr, err := resolve(trainOptions{
		config: filepath.Join(dir, configFile), out: dir, force: true,
		engine: engineName, given: map[string]bool{"engine": engineGiven},
		steps: defaultSteps, evalEvery: defaultEvalEvery, evalEpisodes: defaultEvalEpisodes,
		ckptEvery: defaultCheckpointEvery,
	}, time.Now())
	if err != nil {
		return err
	}
	if tr.algo.policy == nil {
		return fmt.Errorf("%s: %s takes no checkpoints yet, so its runs cannot be evaluated", dir, tr.algo.name)
	}
	meta, state, err := checkpoint.Load(filepath.Join(dir, checkpointsDir), step, checkpoint.Meta{Algo: tr.algo.name, Env: tr.run.Env})
	if err != nil {
		return err
	}
	eng, err := engine.Open(tr.engine)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	policy, reset, free, err := tr.algo.policy(eng, tr.run, tr.cfg, state)
	if err != nil {
		return fmt.Errorf("%s: checkpoint of step %d: %w", dir, meta.Step, err)
	}
	defer free()
	e, err := env.Make(tr.run.Env)
	if err != nil {
		return err
	}
	if tr.algo.prepareEval != nil {
		if err := tr.algo.prepareEval(e, state); err != nil {
			return fmt.Errorf("%s: checkpoint of step %d: %w", dir, meta.Step, err)
		}
	}
	first := tr.run.Seed + algos.EvalSeedOffset
	if seed != nil {
		first = *seed
	}
	label := fmt.Sprintf("%s %s seed %d, checkpoint of step %d", tr.algo.name, tr.run.Env, tr.run.Seed, meta.Step)
	if g, ok := e.(env.GoalEnv); ok {
		ev, err := clearning.Evaluate(c.Context, g, policy, episodes, first)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: eval return %.4g ± %.4g, success rate %.3g, final distance %.3g over %d episodes\n",
			label, ev.Return, ev.ReturnStd, ev.Success, ev.FinalDistance, episodes)
		return nil
	}
	if reset != nil {
		e = algos.OnReset(e, reset)
	}
	mean, std, err := algos.Evaluate(c.Context, e, policy, episodes, first)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: eval return %.4g ± %.4g over %d episodes\n", label, mean, std, episodes)
	return nil
}
