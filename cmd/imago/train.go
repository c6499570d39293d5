package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/algos/checkpoint"
	"github.com/imago-rl/imago/algos/config"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/env"
	"github.com/imago-rl/imago/internal/tensorboard"
)

// Run-level defaults. defaultSteps is the flagship run's budget: `imago
// train` with no flags must finish in a few minutes on a two-core machine
// with the pure-Go CPU engine, where a gradient step of SAC's 256-256
// networks on a batch of 256 costs about 50 ms of CPU. SAC's Pendulum-v1
// preset learns from step 1000 and `imago train --steps 8000` (seed 0)
// evaluates −264 at 4000 steps, −220 ± 117 at 5000 and −219 ± 115 at 8000;
// SB3's reference is −157 ± 89 after 20000. 5000 steps took 215 s of wall
// time on a shared two-core machine.
const (
	defaultSteps        = 5000
	defaultEvalEvery    = 1000
	defaultEvalEpisodes = 10
	// A checkpoint holds the replay buffer (36 bytes a transition for
	// Pendulum, under 40 MB at SAC's 10⁶), and writing one takes well under
	// a second where 5000 steps take minutes.
	defaultCheckpointEvery = 5000
)

// trainOptions is what the train command's flags say.
type trainOptions struct {
	algo         string
	env          string
	steps        int
	seed         int64
	engine       string
	evalEvery    int
	evalEpisodes int
	ckptEvery    int    // --checkpoint-every
	resume       string // --resume DIR, or ""
	out          string // "" for defaultOutDir
	force        bool
	sets         []string // key=value, in the order given
	config       string   // --config FILE, or ""
	// given holds the flags set on the command line or by their
	// environment variable: with a config file, only they override it.
	given map[string]bool
}

// The flags of train that a config file's settings may come from instead.
var fileFlags = []string{"algo", "env", "steps", "seed", "engine", "eval-every", "eval-episodes", "checkpoint-every"}

// trainCommand is `imago train`.
func trainCommand() *cli.Command {
	sets := &setValues{}
	return &cli.Command{
		Name:      "train",
		Usage:     "train an agent, evaluating it as it goes, into a run directory",
		UsageText: "imago train [--config FILE] [--algo NAME] [--env ID] [--steps N] [--seed N] [--set key=value ...] [--out DIR]",
		Description: "With no flags, trains " + defaultAlgorithm + " on " + defaultEnv + " for " +
			strconv.Itoa(defaultSteps) + " steps on the best engine here.\n\n" +
			"Every --eval-every steps the policy runs --eval-episodes deterministic episodes on\n" +
			"environments of its own; each evaluation is a row of DIR/metrics.csv, flushed as it\n" +
			"is written. DIR/config.yaml holds the resolved configuration (the algorithm's\n" +
			"per-environment preset with the --config file and every --set applied) and the\n" +
			"commands that repeat the run.\n" +
			"On SIGINT or SIGTERM training stops and what was written stays.\n\n" +
			"--config FILE reads the settings from a file in the layout of a run's config.yaml:\n" +
			"the keys algo, engine, run (" + strings.Join(config.Keys(&algos.RunConfig{}), ", ") + ") and a\n" +
			"section named after the algorithm with its hyperparameters, all optional. The\n" +
			"algorithm's preset for the environment comes first, then the file, then the flags\n" +
			"given on the command line, then each --set in order. So\n" +
			"  imago train --config runs/X/config.yaml\n" +
			"repeats run X into a new run directory. `imago presets` lists the presets.\n\n" +
			"Environment variables:\n" +
			"  IMAGO_ENGINE    the engine when --engine is not given (over a --config file's)\n" +
			"  IMAGO_RUNS_DIR  where a run goes without --out (default: runs)\n\n" +
			"--set takes a hyperparameter's name in config.yaml, e.g. --set batch_size=128\n" +
			"--set hidden=64,64. The names of each algorithm:\n" + algorithmKeysHelp(),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "read the configuration from `FILE`, a run's config.yaml or one in its layout; flags override it"},
			&cli.StringFlag{Name: "algo", Value: defaultAlgorithm, Usage: "algorithm: " + strings.Join(algorithmNames(), ", ")},
			&cli.StringFlag{Name: "env", Value: defaultEnv, Usage: "environment id (see imago envs)"},
			&cli.IntFlag{Name: "steps", Value: defaultSteps, Usage: "environment steps of training"},
			&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the engine's generator and the environments"},
			&cli.StringFlag{Name: "seeds", Usage: "train one run per seed, all at once, e.g. `0,1,2` or 0-4 (each in its own run directory: seed-N under --out if given)"},
			&cli.StringFlag{Name: "engine", Value: "auto", EnvVars: []string{"IMAGO_ENGINE"},
				Usage: "compute engine (see imago engines), or auto for the GPU if there is one, else the CPU"},
			&cli.IntFlag{Name: "eval-every", Value: defaultEvalEvery, Usage: "environment steps between evaluations"},
			&cli.IntFlag{Name: "eval-episodes", Value: defaultEvalEpisodes, Usage: "deterministic episodes per evaluation"},
			&cli.IntFlag{Name: "checkpoint-every", Value: defaultCheckpointEvery,
				Usage: "environment steps between checkpoints in DIR/checkpoints, besides those after the last step and on SIGINT/SIGTERM; 0 for only those"},
			&cli.StringFlag{Name: "resume", Usage: "continue the interrupted run in `DIR` from its newest checkpoint, as its config.yaml says (only --engine may be given with it)"},
			&cli.StringFlag{Name: "out", Usage: "run directory (default: $IMAGO_RUNS_DIR/ALGO-ENV-SEED-TIMESTAMP, IMAGO_RUNS_DIR defaulting to runs)"},
			&cli.BoolFlag{Name: "force", Usage: "write into --out even if it is not empty, replacing the run there (its config.yaml, metrics.csv, events and checkpoints)"},
			&cli.GenericFlag{Name: "set", Value: sets, Usage: "set a hyperparameter of the algorithm by its name in config.yaml, as `key=value`; repeatable"},
		},
		// A mistyped flag is a one-line error, not a help page.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("train: %w; run 'imago train --help' for the flags", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("train takes no arguments, got %q; run 'imago train --help' for the flags", c.Args().First())
			}
			opts := trainOptions{
				algo:         c.String("algo"),
				env:          c.String("env"),
				steps:        c.Int("steps"),
				seed:         c.Int64("seed"),
				engine:       c.String("engine"),
				evalEvery:    c.Int("eval-every"),
				evalEpisodes: c.Int("eval-episodes"),
				ckptEvery:    c.Int("checkpoint-every"),
				resume:       c.String("resume"),
				out:          c.String("out"),
				force:        c.Bool("force"),
				sets:         *sets,
				config:       c.String("config"),
				given:        map[string]bool{},
			}
			for _, name := range fileFlags {
				opts.given[name] = c.IsSet(name)
			}
			if opts.resume != "" {
				for _, name := range append(fileFlags, "config", "out", "force", "set") {
					if name != "engine" && c.IsSet(name) {
						return fmt.Errorf("--resume continues %s as its %s says; --%s cannot be given with it", opts.resume, configFile, name)
					}
				}
			}
			var seeds []int64
			if c.IsSet("seeds") {
				if c.IsSet("seed") || opts.resume != "" {
					return fmt.Errorf("--seeds cannot be given with --seed or --resume")
				}
				s, err := parseSeeds(c.String("seeds"))
				if err != nil {
					return err
				}
				seeds = s
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal a second one kills at once.
			context.AfterFunc(ctx, stop)
			if seeds != nil {
				return trainSeeds(ctx, opts, seeds, c.App.Writer, c.App.ErrWriter, isTerminal(c.App.ErrWriter), time.Now)
			}
			return train(ctx, opts, c.App.Writer, c.App.ErrWriter, isTerminal(c.App.ErrWriter), time.Now)
		},
	}
}

// algorithmKeysHelp lists, for --help, the keys --set accepts for each
// algorithm.
func algorithmKeysHelp() string {
	var b strings.Builder
	for _, a := range algorithms {
		fmt.Fprintf(&b, "\n%s: %s\n", a.name, a.summary)
		line := " "
		for _, k := range config.Keys(a.config(defaultEnv)) {
			if len(line)+1+len(k) > 80 {
				b.WriteString(line + "\n")
				line = " "
			}
			line += " " + k
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// trainRun is a training run resolved from its options and checked, before
// anything is created.
type trainRun struct {
	algo     algorithm
	run      algos.RunConfig
	cfg      any    // pointer to the algorithm's Config
	engine   string // the engine to open, as requested (auto, cpu, ...)
	engineAt string // "file:line" where a config file named the engine, else ""
	out      string
	resumeAt int // the step of the checkpoint a resumed run continues from; 0 for a new run
}

// resolve checks every option and builds the run. It creates nothing, so
// that a bad invocation leaves no trace. With a config file, each setting
// comes from the flag where the flag was given, else from the file, else
// from the flag's default; the algorithm's Config is the preset for the
// environment, then the file's section, then each --set.
func resolve(opts trainOptions, now time.Time) (*trainRun, error) {
	if opts.resume != "" {
		// A resumed run is configured by its own config.yaml and goes on
		// writing into its directory.
		opts.config = filepath.Join(opts.resume, configFile)
		opts.out, opts.force = opts.resume, true
		if _, err := os.Stat(opts.config); err != nil {
			return nil, fmt.Errorf("--resume %s: no %s there: not a run directory", opts.resume, configFile)
		}
	}
	var file *runFile
	if opts.config != "" {
		f, err := readRunFile(opts.config)
		if err != nil {
			return nil, err
		}
		file = f
	}
	a, err := resolveAlgorithm(opts, file)
	if err != nil {
		return nil, err
	}
	run, err := resolveRun(opts, file)
	if err != nil {
		return nil, err
	}
	cfg, err := resolveConfig(a, run.Env, opts.sets, file)
	if err != nil {
		return nil, err
	}
	tr := &trainRun{algo: a, run: run, cfg: cfg, engine: opts.engine, out: opts.out}
	if file != nil && file.engine != nil && !opts.given["engine"] {
		tr.engine, tr.engineAt = file.engine.Value, file.at(file.engine)
	}
	if tr.out == "" {
		tr.out = defaultOutDir(a.name, run.Env, run.Seed, now)
	}
	if opts.resume != "" {
		if a.policy == nil {
			return nil, fmt.Errorf("--resume: %s takes no checkpoints yet, so its runs cannot be resumed", a.name)
		}
		steps, err := checkpoint.List(filepath.Join(opts.resume, checkpointsDir))
		if err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("--resume %s: no checkpoint in %s to resume from", opts.resume, filepath.Join(opts.resume, checkpointsDir))
		}
		tr.resumeAt = steps[len(steps)-1]
		if tr.resumeAt >= run.Steps {
			return nil, fmt.Errorf("--resume %s: its newest checkpoint is after step %d, the run's last: it is complete", opts.resume, tr.resumeAt)
		}
	}
	if err := checkOutDir(tr.out, opts.force); err != nil {
		return nil, err
	}
	return tr, nil
}

// resolveAlgorithm returns the algorithm of --algo where it was given, else
// the config file's, else the default, and checks that the file has no
// section for another algorithm.
func resolveAlgorithm(opts trainOptions, f *runFile) (algorithm, error) {
	fromFile := f != nil && f.algo != nil && !opts.given["algo"]
	if fromFile {
		a, err := lookupAlgorithm(f.algo.Value)
		if err != nil {
			return algorithm{}, fmt.Errorf("%s: algo: %w", f.at(f.algo), err)
		}
		return a, checkSections(a, f, "algo: "+a.name+" at "+f.at(f.algo))
	}
	a, err := lookupAlgorithm(opts.algo)
	if err != nil {
		return algorithm{}, err
	}
	from := "--algo " + a.name
	if !opts.given["algo"] {
		from = "the default; set algo: NAME or --algo NAME"
	}
	return a, checkSections(a, f, from)
}

// checkSections checks that the config file f, if any, has no section for
// another algorithm than a, whose choice from describes for errors.
func checkSections(a algorithm, f *runFile, from string) error {
	if f == nil {
		return nil
	}
	for _, s := range f.sections {
		if s.name != a.name {
			return fmt.Errorf("%s: section %q is for algorithm %s, but the run's algorithm is %s (%s)",
				f.at(s.key), s.name, s.name, a.name, from)
		}
	}
	return nil
}

// resolveRun returns the run settings: the defaults, then the config
// file's run section, then the flags given; where there is no file, the
// flags with their defaults.
func resolveRun(opts trainOptions, f *runFile) (algos.RunConfig, error) {
	for _, fl := range []struct {
		name string
		v    int
	}{{"steps", opts.steps}, {"eval-every", opts.evalEvery}, {"eval-episodes", opts.evalEpisodes}} {
		if fl.v <= 0 {
			return algos.RunConfig{}, fmt.Errorf("--%s %d: must be positive", fl.name, fl.v)
		}
	}
	run := algos.RunConfig{Env: defaultEnv, Steps: defaultSteps, EvalEvery: defaultEvalEvery, EvalEpisodes: defaultEvalEpisodes,
		CheckpointEvery: defaultCheckpointEvery}
	var section *yaml.Node
	if f != nil && f.run != nil {
		section = f.run
		if err := config.ApplySection(&run, section, f.path, "run"); err != nil {
			return run, err
		}
	}
	flag := func(name string) bool { return f == nil || opts.given[name] }
	if flag("env") {
		run.Env = opts.env
	}
	if flag("steps") {
		run.Steps = opts.steps
	}
	if flag("seed") {
		run.Seed = opts.seed
	}
	if flag("eval-every") {
		run.EvalEvery = opts.evalEvery
	}
	if flag("eval-episodes") {
		run.EvalEpisodes = opts.evalEpisodes
	}
	if flag("checkpoint-every") {
		run.CheckpointEvery = opts.ckptEvery
	}
	// An error of a value the file set names the file and line.
	overridden := func(key string) bool { return opts.given[runKeys[key]] }
	if _, err := env.Make(run.Env); err != nil {
		if line, ok := keyLines(section)["env"]; ok && !overridden("env") {
			return run, fmt.Errorf("%s:%d: run.env = %q: %w", f.path, line, run.Env, err)
		}
		return run, err
	}
	if err := run.Validate(); err != nil {
		if ferr := f.blame(err, "run", section, overridden); ferr != nil {
			return run, ferr
		}
		return run, err
	}
	return run, nil
}

// resolveConfig returns a pointer to the algorithm's Config for the
// environment envID: its preset, then the config file's section, then each
// --set in order, validated.
func resolveConfig(a algorithm, envID string, sets []string, f *runFile) (any, error) {
	cfg := a.config(envID)
	var section *yaml.Node
	if s := f.section(a.name); s != nil && s.value != nil {
		section = s.value
		if err := config.ApplySection(cfg, section, f.path, a.name); err != nil {
			return nil, err
		}
	}
	setKeys := map[string]bool{}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want key=value", s)
		}
		if flag, ok := runKeys[key]; ok {
			return nil, fmt.Errorf("--set %s: %s is a run setting; use --%s", s, key, flag)
		}
		if err := config.Set(cfg, key, value); err != nil {
			return nil, fmt.Errorf("--set for %s: %w", a.name, err)
		}
		setKeys[key] = true
	}
	if err := a.validate(cfg); err != nil {
		if ferr := f.blame(err, a.name, section, func(key string) bool { return setKeys[key] }); ferr != nil {
			return nil, ferr
		}
		return nil, fmt.Errorf("%s config: %w", a.name, err)
	}
	return cfg, nil
}

// runKeys are the yaml names of algos.RunConfig, which --set does not
// reach, and the flags that set them.
var runKeys = map[string]string{
	"env": "env", "steps": "steps", "seed": "seed",
	"eval_every": "eval-every", "eval_episodes": "eval-episodes",
	"checkpoint_every": "checkpoint-every",
}

// train runs `imago train`: it resolves and checks the options, opens the
// engine, writes config.yaml, trains with metrics.csv and the progress
// shown on stderr, and prints the last evaluation on stdout. now is the
// clock (for the default run directory's name and wall_seconds).
func train(ctx context.Context, opts trainOptions, stdout, stderr io.Writer, terminal bool, now func() time.Time) (err error) {
	tr, err := resolve(opts, now())
	if err != nil {
		return err
	}
	eng, err := engine.Open(tr.engine)
	if err != nil {
		if tr.engineAt != "" {
			return fmt.Errorf("%s: engine: %w", tr.engineAt, err)
		}
		return err
	}
	defer func() {
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close engine %s: %w", eng.Name(), cerr)
		}
	}()

	// From here on the run directory exists, and errors say where it is.
	_, statErr := os.Stat(tr.out)
	created := statErr != nil
	if opts.force && tr.resumeAt == 0 {
		// A new run over an old one: nothing of the old may be mistaken
		// for the new run's (its events, a checkpoint to resume).
		removeRun(tr.out, false)
	}
	if err := os.MkdirAll(tr.out, 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	label := fmt.Sprintf("%s %s seed %d", tr.algo.name, tr.run.Env, tr.run.Seed)
	var (
		f       *os.File
		metrics *metricsCSV
	)
	if tr.resumeAt > 0 {
		metrics, err = resumeMetrics(filepath.Join(tr.out, metricsFile), tr.resumeAt)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		fmt.Fprintf(stderr, "%s: resuming after step %d of %d on engine %s, in %s\n", label, tr.resumeAt, tr.run.Steps, eng.Name(), tr.out)
	} else {
		rec := runRecord{
			Version:         version,
			Algo:            tr.algo.name,
			Engine:          eng.Name(),
			EngineRequested: tr.engine,
			Run:             tr.run,
			Config:          tr.cfg,
			Command:         repeatCommand(tr, eng.Name()),
		}
		text, err := rec.marshal()
		if err != nil {
			return fmt.Errorf("%s: %w", configFile, err)
		}
		if err := os.WriteFile(filepath.Join(tr.out, configFile), text, 0o644); err != nil {
			return err
		}
		if f, err = os.Create(filepath.Join(tr.out, metricsFile)); err != nil {
			return err
		}
		metrics = newMetricsCSV(f)
		fmt.Fprintf(stderr, "%s: %d steps on engine %s, writing %s\n", label, tr.run.Steps, eng.Name(), tr.out)
	}
	defer func() {
		cerr := metrics.Close()
		if f != nil {
			cerr = errors.Join(cerr, f.Close())
		}
		if cerr != nil && err == nil {
			err = cerr
		}
	}()
	events, err := tensorboard.Create(tr.out, now())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := events.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	start := now()
	rep := &runReporter{
		metrics:   metrics,
		events:    events,
		progress:  newProgress(stderr, terminal, label, tr.run.Steps, now),
		now:       now,
		start:     start,
		lastSteps: tr.resumeAt,
	}
	rep.progress.resumeAt(tr.resumeAt)
	var reporter algos.Reporter = rep
	ckpts := &algos.Checkpoints{
		Reporter: rep,
		Dir:      filepath.Join(tr.out, checkpointsDir),
		Every:    tr.run.CheckpointEvery,
		Resume:   tr.resumeAt > 0,
		Algo:     tr.algo.name,
		Env:      tr.run.Env,
		Imago:    version,
	}
	if tr.algo.policy != nil {
		reporter = ckpts
	}
	terr := tr.algo.train(ctx, eng, tr.run, tr.cfg, reporter)
	rep.progress.finish()
	elapsed := now().Sub(start).Seconds()
	var diverged *algos.DivergedError
	switch {
	case terr != nil && ctx.Err() != nil:
		if ckpts.Saved > 0 && tr.algo.policy != nil {
			return fmt.Errorf("interrupted after step %d of %d; checkpoint of step %d written; continue with: imago train --resume %s",
				rep.progress.steps, tr.run.Steps, ckpts.Saved, shellQuote(tr.out))
		}
		return fmt.Errorf("interrupted at %d of %d steps; the partial run (%s and %d evaluations in %s, no checkpoint to resume from) is in %s",
			rep.progress.steps, tr.run.Steps, configFile, rep.evals, metricsFile, tr.out)
	case errors.As(terr, &diverged):
		return fmt.Errorf("%s: %w", label, terr)
	case terr != nil && rep.evals == 0 && tr.resumeAt == 0:
		// Training failed before recording anything, most often because
		// the algorithm cannot run on the environment (SAC on a discrete
		// action space), which only its Train checks. The run directory
		// would hold nothing worth keeping, so it goes.
		events.Close()
		removeRun(tr.out, created)
		return terr
	case terr != nil:
		return fmt.Errorf("%s: %w (the partial run is in %s)", label, terr, tr.out)
	}
	if err := writeRunCurve(tr.out); err != nil {
		fmt.Fprintf(stderr, "%s: no curve.png: %v\n", label, err)
	}
	if rep.last.Names == nil {
		fmt.Fprintf(stdout, "%s: %d steps, no evaluation, %.0f s; run in %s\n", label, tr.run.Steps, elapsed, tr.out)
		return nil
	}
	episodes := "episodes"
	if tr.run.EvalEpisodes == 1 {
		episodes = "episode"
	}
	fmt.Fprintf(stdout, "%s: %d steps, eval return %.1f ± %.1f (%d %s), %.0f s; run in %s\n",
		label, rep.last.EnvSteps, rep.last.Get("eval_return"), rep.last.Get("eval_return_std"),
		tr.run.EvalEpisodes, episodes, elapsed, tr.out)
	return nil
}

// removeRun removes the files train wrote into dir, and dir itself if
// train created it and it is now empty.
func removeRun(dir string, created bool) {
	for _, name := range []string{configFile, metricsFile} {
		os.Remove(filepath.Join(dir, name))
	}
	events, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	for _, name := range events {
		os.Remove(name)
	}
	os.RemoveAll(filepath.Join(dir, checkpointsDir))
	if created {
		os.Remove(dir) // fails, keeping dir, if anything else is in it
	}
}

// repeatCommand is an imago train command line that repeats the run
// without its config.yaml: every run-level flag explicit, the engine as
// resolved, and a --set for each key whose value differs from the
// algorithm's preset for the environment (which the preset of the same
// imago version turns back into the same configuration).
func repeatCommand(tr *trainRun, engineName string) string {
	args := []string{"imago", "train",
		"--algo", tr.algo.name,
		"--env", tr.run.Env,
		"--steps", strconv.Itoa(tr.run.Steps),
		"--seed", strconv.FormatInt(tr.run.Seed, 10),
		"--engine", engineName,
		"--eval-every", strconv.Itoa(tr.run.EvalEvery),
		"--eval-episodes", strconv.Itoa(tr.run.EvalEpisodes),
		"--checkpoint-every", strconv.Itoa(tr.run.CheckpointEvery),
	}
	for _, kv := range changedKeys(tr.algo.config(tr.run.Env), tr.cfg) {
		args = append(args, "--set", kv)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// changedKeys returns key=value, as --set takes it, for each key whose
// value in cfg differs from its value in base (two pointers to Configs of
// the same type), in the order of config.Keys.
func changedKeys(base, cfg any) []string {
	var out []string
	for _, k := range config.Keys(cfg) {
		v, _ := config.Get(cfg, k)
		if b, _ := config.Get(base, k); b != v {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,=/:+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
