package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "time imago's hot paths on an engine",
		Subcommands: []*cli.Command{
			benchRolloutCommand(),
			benchSACUpdateCommand(),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("bench: %w; run 'imago bench --help' for the subcommands", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("bench: unknown subcommand %q; run 'imago bench --help' for the subcommands", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
	}
}

// rolloutBenchOptions is what the bench rollout command's flags say. The
// defaults are MBPO's (jannerm/mbpo): 100,000 rollouts, 7 members of which
// 5 are elites, four hidden layers of 200, SAC's 256-256 policy, on
// Hopper's 11 observations and 3 actions, for 5 steps.
type rolloutBenchOptions struct {
	engine       string
	batch        int
	horizon      int
	ensemble     int
	elites       int
	hidden       int
	layers       int
	obs, act     int
	policyHidden []int
	repeats      int
	seed         uint64
	peakGFLOPS   float64 // --peak-gflops; 0 when not given
}

// rolloutBenchResult is what bench rollout reports, and its JSON form.
type rolloutBenchResult struct {
	Engine       string `json:"engine"`
	Description  string `json:"description"`
	Batch        int    `json:"batch"`
	Horizon      int    `json:"horizon"`
	Ensemble     int    `json:"ensemble"`
	Elites       int    `json:"elites"`
	ModelLayers  []int  `json:"model_layers"`  // [in, hidden..., out]
	PolicyLayers []int  `json:"policy_layers"` // [in, hidden..., out]
	Repeats      int    `json:"repeats"`
	// Transitions is the number a rollout adds: batch·horizon, since the
	// benchmark's rule never terminates.
	Transitions int `json:"transitions"`
	// FLOPPerTransition counts the multiply-adds (as 2 FLOPs) of the one
	// member evaluated for a row and of the policy, for one step.
	FLOPPerTransition    float64   `json:"flop_per_transition"`
	Seconds              []float64 `json:"seconds"`        // each timed rollout
	MedianSeconds        float64   `json:"median_seconds"` // the figures below use it
	RowsPerSecond        float64   `json:"rows_per_second"`
	TransitionsPerSecond float64   `json:"transitions_per_second"`
	GFLOPPerSecond       float64   `json:"gflop_per_second"`
	StepSeconds          float64   `json:"step_seconds"`
	// PeakGFLOPPerSecond is the device's FP32 peak, from --peak-gflops or
	// else from the engine (see peakReporter), and PeakSource says which:
	// "flag" or "engine". FractionOfPeak is GFLOPPerSecond over it. All
	// three are absent when the peak is unknown.
	PeakGFLOPPerSecond float64 `json:"peak_gflop_per_second,omitempty"`
	PeakSource         string  `json:"peak_source,omitempty"`
	FractionOfPeak     float64 `json:"fraction_of_peak,omitempty"`
	// LaunchesPerRollout is the kernels launched per timed rollout, for
	// engines that count them (see launchCounter); absent otherwise.
	LaunchesPerRollout float64 `json:"launches_per_rollout,omitempty"`
}

// peakReporter is implemented by engines that know their device's FP32
// peak in FLOP/s, 0 when they do not: the CUDA engine, for the cards in its
// table. An interface of its own keeps the default build free of the cuda
// package.
type peakReporter interface{ PeakFLOPS() float64 }

// launchCounter is implemented by engines that count the kernels they
// launch: the CUDA engine.
type launchCounter interface{ Launches() int64 }

func benchRolloutCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollout",
		Usage: "time MBPO's model rollouts on random weights",
		UsageText: "imago bench rollout [--engine NAME] [--batch N] [--horizon N] [--ensemble N] [--elites N]\n" +
			"   [--hidden N] [--layers N] [--obs N] [--act N] [--policy-hidden N,N,...] [--repeats N]\n" +
			"   [--peak-gflops X] [--json]",
		Description: "Builds an ensemble and a policy of the given sizes with random weights, runs one\n" +
			"rollout of --batch start states for --horizon steps to warm up, then times --repeats\n" +
			"more and reports the median: start rows per second, transitions per second, the\n" +
			"GFLOP/s of the products actually computed (one member and the policy per\n" +
			"transition), the fraction of the device's FP32 peak that is (when the engine\n" +
			"knows its peak or --peak-gflops gives it), the time per step and, on engines\n" +
			"that count them, the kernel launches per rollout. No row terminates.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "engine", Value: "auto", EnvVars: []string{"IMAGO_ENGINE"},
				Usage: "compute engine (see imago engines), or auto for the GPU if there is one, else the CPU"},
			&cli.IntFlag{Name: "batch", Value: 100_000, Usage: "start states per rollout (MBPO rollout_batch_size)"},
			&cli.IntFlag{Name: "horizon", Value: 5, Usage: "steps per rollout"},
			&cli.IntFlag{Name: "ensemble", Value: 7, Usage: "ensemble members"},
			&cli.IntFlag{Name: "elites", Value: 5, Usage: "elite members the rollout draws from"},
			&cli.IntFlag{Name: "hidden", Value: 200, Usage: "width of the model's hidden layers"},
			&cli.IntFlag{Name: "layers", Value: 4, Usage: "number of the model's hidden layers"},
			&cli.IntFlag{Name: "obs", Value: 11, Usage: "observation size"},
			&cli.IntFlag{Name: "act", Value: 3, Usage: "action size"},
			&cli.StringFlag{Name: "policy-hidden", Value: "256,256", Usage: "the policy's hidden layer sizes, comma-separated"},
			&cli.IntFlag{Name: "repeats", Value: 3, Usage: "timed rollouts after the warm-up"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of the weights, start states and rollouts"},
			&cli.Float64Flag{Name: "peak-gflops", Usage: "the device's FP32 peak in GFLOP/s, for the fraction of peak; overrides the engine's own figure"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("bench rollout: %w; run 'imago bench rollout --help' for the flags", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("bench rollout takes no arguments, got %q; run 'imago bench rollout --help' for the flags", c.Args().First())
			}
			ph, err := parseSizes(c.String("policy-hidden"))
			if err != nil {
				return fmt.Errorf("bench rollout: --policy-hidden: %w", err)
			}
			opts := rolloutBenchOptions{
				engine: c.String("engine"), batch: c.Int("batch"), horizon: c.Int("horizon"),
				ensemble: c.Int("ensemble"), elites: c.Int("elites"), hidden: c.Int("hidden"),
				layers: c.Int("layers"), obs: c.Int("obs"), act: c.Int("act"), policyHidden: ph,
				repeats: c.Int("repeats"), seed: c.Uint64("seed"), peakGFLOPS: c.Float64("peak-gflops"),
			}
			if err := opts.validate(); err != nil {
				return fmt.Errorf("bench rollout: %w", err)
			}
			res, err := benchRollout(opts)
			if err != nil {
				return fmt.Errorf("bench rollout: %w", err)
			}
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(res)
			}
			return res.print(c.App.Writer)
		},
	}
}

// parseSizes reads comma-separated positive layer sizes.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive sizes separated by commas, like 256,256", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func (o rolloutBenchOptions) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"batch", o.batch}, {"horizon", o.horizon}, {"ensemble", o.ensemble}, {"elites", o.elites},
		{"hidden", o.hidden}, {"layers", o.layers}, {"obs", o.obs}, {"act", o.act}, {"repeats", o.repeats}} {
		if f.v <= 0 {
			return fmt.Errorf("--%s %d: must be positive", f.name, f.v)
		}
	}
	if o.elites > o.ensemble {
		return fmt.Errorf("--elites %d exceeds --ensemble %d", o.elites, o.ensemble)
	}
	return checkPeak(o.peakGFLOPS)
}

// checkPeak checks --peak-gflops: 0 for not given, else positive and
// finite.
func checkPeak(gflops float64) error {
	if gflops < 0 || math.IsNaN(gflops) || math.IsInf(gflops, 0) {
		return fmt.Errorf("--peak-gflops %g: must be a positive number of GFLOP/s", gflops)
	}
	return nil
}

// engineDescription returns the registry's description of the engine eng
// was opened as.
func engineDescription(eng engine.Engine) string {
	for _, b := range engine.Backends() {
		if b.Name == eng.Name() {
			return b.Description
		}
	}
	return ""
}

// benchRollout builds the networks and times the rollouts.
func benchRollout(o rolloutBenchOptions) (*rolloutBenchResult, error) {
	eng, err := engine.Open(o.engine)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	desc := engineDescription(eng)

	hidden := slices.Repeat([]int{o.hidden}, o.layers)
	model, err := nn.NewEnsemble(eng, nn.EnsembleConfig{
		In: o.obs + o.act, Out: o.obs + 1, Members: o.ensemble, Hidden: hidden,
		WeightDecay: make([]float32, o.layers+1), // not trained here
	})
	if err != nil {
		return nil, err
	}
	policy, err := nn.NewPolicy(eng, nn.PolicyConfig{Obs: o.obs, Act: o.act, Hidden: o.policyHidden})
	if err != nil {
		return nil, err
	}
	rng := engine.NewRNG(o.seed)
	model.Init(rng)
	policy.Init(nn.FanInUniform, rng)

	r := mbpo.NewRollout(eng, model, policy, mbpo.RolloutSpec{Obs: o.obs, Act: o.act, MaxBatch: o.batch})
	starts := eng.New(engine.Float32, o.batch, o.obs)
	eng.RandNormal(starts, rng, 0, 1)
	into := replay.New(eng, o.batch*o.horizon, o.obs, o.act)
	elites := make([]int, o.elites)
	for i := range elites {
		elites[i] = i
	}

	res := &rolloutBenchResult{
		Engine: eng.Name(), Description: desc, Batch: o.batch, Horizon: o.horizon,
		Ensemble: o.ensemble, Elites: o.elites, Repeats: o.repeats,
		ModelLayers:  append(append([]int{o.obs + o.act}, hidden...), 2*(o.obs+1)),
		PolicyLayers: append(append([]int{o.obs}, o.policyHidden...), 2*o.act),
	}
	res.FLOPPerTransition = denseFLOPs(res.ModelLayers) + denseFLOPs(res.PolicyLayers)

	r.Run(starts, o.horizon, elites, rng, into) // warm up: caches, allocator, kernel loads
	eng.Sync()
	counter, counts := eng.(launchCounter)
	var launches0 int64
	if counts {
		launches0 = counter.Launches()
	}
	for range o.repeats {
		t0 := time.Now()
		res.Transitions = r.Run(starts, o.horizon, elites, rng, into)
		eng.Sync()
		res.Seconds = append(res.Seconds, time.Since(t0).Seconds())
	}
	if counts {
		res.LaunchesPerRollout = float64(counter.Launches()-launches0) / float64(o.repeats)
	}
	med := median(res.Seconds)
	res.MedianSeconds = med
	res.RowsPerSecond = float64(o.batch) / med
	res.TransitionsPerSecond = float64(res.Transitions) / med
	res.GFLOPPerSecond = res.FLOPPerTransition * float64(res.Transitions) / med / 1e9
	res.StepSeconds = med / float64(o.horizon)
	switch p, ok := eng.(peakReporter); {
	case o.peakGFLOPS > 0:
		res.PeakGFLOPPerSecond, res.PeakSource = o.peakGFLOPS, "flag"
	case ok && p.PeakFLOPS() > 0:
		res.PeakGFLOPPerSecond, res.PeakSource = p.PeakFLOPS()/1e9, "engine"
	}
	if res.PeakGFLOPPerSecond > 0 {
		res.FractionOfPeak = res.GFLOPPerSecond / res.PeakGFLOPPerSecond
	}
	return res, nil
}

// denseFLOPs is the FLOPs of one row through dense layers of the given
// sizes: a multiply and an add per weight.
func denseFLOPs(sizes []int) float64 {
	f := 0.0
	for i := 0; i+1 < len(sizes); i++ {
		f += 2 * float64(sizes[i]) * float64(sizes[i+1])
	}
	return f
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *rolloutBenchResult) print(w io.Writer) error {
	join := joinSizes
	secs := make([]string, len(r.Seconds))
	for i, s := range r.Seconds {
		secs[i] = fmt.Sprintf("%.3g", s)
	}
	_, err := fmt.Fprintf(w, `engine           %s (%s)
rollout          %d start states × %d steps, %d elites of %d members
model            %s (one member per row)
policy           %s
time             %.4g s median of %d (%s s)
rows/s           %.4g
transitions/s    %.4g
GFLOP/s          %.4g (%.3g MFLOP per transition)
of FP32 peak     %s
per step         %.4g ms
`, r.Engine, r.Description, r.Batch, r.Horizon, r.Elites, r.Ensemble,
		join(r.ModelLayers), join(r.PolicyLayers),
		r.MedianSeconds, r.Repeats, strings.Join(secs, ", "),
		r.RowsPerSecond, r.TransitionsPerSecond,
		r.GFLOPPerSecond, r.FLOPPerTransition/1e6, r.peak(), r.StepSeconds*1e3)
	if err == nil && r.LaunchesPerRollout > 0 {
		_, err = fmt.Fprintf(w, "launches         %.4g per rollout\n", r.LaunchesPerRollout)
	}
	return err
}

// peak describes the fraction of the FP32 peak for the text output.
func (r *rolloutBenchResult) peak() string {
	switch r.PeakSource {
	case "flag":
		return fmt.Sprintf("%.1f%% of %.4g GFLOP/s (--peak-gflops)", 100*r.FractionOfPeak, r.PeakGFLOPPerSecond)
	case "engine":
		return fmt.Sprintf("%.1f%% of %.4g GFLOP/s (the engine's figure for its device)", 100*r.FractionOfPeak, r.PeakGFLOPPerSecond)
	}
	return "unknown (the engine does not know its peak; give --peak-gflops)"
}

// joinSizes writes layer sizes as 3→256→256→2.
func joinSizes(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "→")
}

// sacUpdateBenchOptions is what the bench sac-update command's flags say.
// The defaults are SAC's (sac.Defaults: batch 256, two hidden layers of
// 256) on Pendulum-v1's 3 observations and 1 action.
type sacUpdateBenchOptions struct {
	engine   string
	batch    int
	hidden   []int
	obs, act int
	warmup   int // untimed updates first: the first allocates the workspaces
	updates  int // updates per timed repetition
	repeats  int
	seed     uint64
}

// sacUpdateBenchResult is what bench sac-update reports, and its JSON form.
type sacUpdateBenchResult struct {
	Engine       string `json:"engine"`
	Description  string `json:"description"`
	Batch        int    `json:"batch"`
	PolicyLayers []int  `json:"policy_layers"` // [in, hidden..., out]
	CriticLayers []int  `json:"critic_layers"` // [in, hidden..., out] of each of the two Q networks
	Warmup       int    `json:"warmup_updates"`
	Updates      int    `json:"updates_per_repeat"`
	Repeats      int    `json:"repeats"`
	// Seconds holds each repetition's time per update; MedianSeconds is
	// their median, which UpdatesPerSecond uses.
	Seconds          []float64 `json:"seconds"`
	MedianSeconds    float64   `json:"median_seconds"`
	UpdatesPerSecond float64   `json:"updates_per_second"`
	// LaunchesPerUpdate is the kernels launched per timed update, for
	// engines that count them (see launchCounter); absent otherwise.
	LaunchesPerUpdate float64 `json:"launches_per_update,omitempty"`
}

func benchSACUpdateCommand() *cli.Command {
	return &cli.Command{
		Name:  "sac-update",
		Usage: "time one SAC gradient step on a random minibatch",
		UsageText: "imago bench sac-update [--engine NAME] [--batch N] [--hidden N,N,...] [--obs N] [--act N]\n" +
			"   [--warmup N] [--updates N] [--repeats N] [--json]",
		Description: "Builds SAC's policy, twin critics and their targets with random weights and a\n" +
			"minibatch of random transitions, takes --warmup updates on it untimed (the first\n" +
			"allocates the workspaces), then times --repeats runs of --updates updates each and\n" +
			"reports the median time per update (algos/sac Agent.Update: critic, policy and\n" +
			"temperature steps and the target move; sampling the minibatch is not included)\n" +
			"and, on engines that count them, the kernel launches per update.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "engine", Value: "auto", EnvVars: []string{"IMAGO_ENGINE"},
				Usage: "compute engine (see imago engines), or auto for the GPU if there is one, else the CPU"},
			&cli.IntFlag{Name: "batch", Value: 256, Usage: "transitions per minibatch (SAC batch_size)"},
			&cli.StringFlag{Name: "hidden", Value: "256,256", Usage: "hidden layer sizes of the policy and of each critic, comma-separated"},
			&cli.IntFlag{Name: "obs", Value: 3, Usage: "observation size (Pendulum-v1's 3)"},
			&cli.IntFlag{Name: "act", Value: 1, Usage: "action size (Pendulum-v1's 1)"},
			&cli.IntFlag{Name: "warmup", Value: 3, Usage: "untimed updates before timing"},
			&cli.IntFlag{Name: "updates", Value: 20, Usage: "updates per timed repetition"},
			&cli.IntFlag{Name: "repeats", Value: 5, Usage: "timed repetitions"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of the weights, the minibatch and the policy noise"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("bench sac-update: %w; run 'imago bench sac-update --help' for the flags", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("bench sac-update takes no arguments, got %q; run 'imago bench sac-update --help' for the flags", c.Args().First())
			}
			hidden, err := parseSizes(c.String("hidden"))
			if err != nil {
				return fmt.Errorf("bench sac-update: --hidden: %w", err)
			}
			opts := sacUpdateBenchOptions{
				engine: c.String("engine"), batch: c.Int("batch"), hidden: hidden,
				obs: c.Int("obs"), act: c.Int("act"), warmup: c.Int("warmup"),
				updates: c.Int("updates"), repeats: c.Int("repeats"), seed: c.Uint64("seed"),
			}
			if err := opts.validate(); err != nil {
				return fmt.Errorf("bench sac-update: %w", err)
			}
			res, err := benchSACUpdate(opts)
			if err != nil {
				return fmt.Errorf("bench sac-update: %w", err)
			}
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(res)
			}
			return res.print(c.App.Writer)
		},
	}
}

func (o sacUpdateBenchOptions) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"batch", o.batch}, {"obs", o.obs}, {"act", o.act}, {"warmup", o.warmup}, {"updates", o.updates}, {"repeats", o.repeats}} {
		if f.v <= 0 {
			return fmt.Errorf("--%s %d: must be positive", f.name, f.v)
		}
	}
	return nil
}

// benchSACUpdate builds the agent and the minibatch and times the updates.
func benchSACUpdate(o sacUpdateBenchOptions) (*sacUpdateBenchResult, error) {
	cfg := sac.Defaults()
	cfg.BatchSize = o.batch
	cfg.Hidden = o.hidden
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	eng, err := engine.Open(o.engine)
	if err != nil {
		return nil, err
	}
	defer eng.Close()

	rng := engine.NewRNG(o.seed)
	agent, err := sac.NewAgent(eng, cfg, o.obs, o.act, rng)
	if err != nil {
		return nil, err
	}
	defer agent.Free()
	// A minibatch of random transitions, none terminal: what the
	// transitions hold does not change the work of an update.
	d := replay.NewBatch(eng, o.batch, o.obs, o.act)
	defer d.Free(eng)
	eng.RandNormal(d.Obs, rng, 0, 1)
	eng.RandNormal(d.NextObs, rng, 0, 1)
	eng.RandUniform(d.Act, rng, -1, 1)
	eng.RandNormal(d.Reward, rng, 0, 1)

	res := &sacUpdateBenchResult{
		Engine: eng.Name(), Description: engineDescription(eng), Batch: o.batch,
		PolicyLayers: append(append([]int{o.obs}, o.hidden...), 2*o.act),
		CriticLayers: append(append([]int{o.obs + o.act}, o.hidden...), 1),
		Warmup:       o.warmup, Updates: o.updates, Repeats: o.repeats,
	}
	for range o.warmup {
		agent.Update(d, rng)
	}
	eng.Sync()
	counter, counts := eng.(launchCounter)
	var launches0 int64
	if counts {
		launches0 = counter.Launches()
	}
	for range o.repeats {
		t0 := time.Now()
		for range o.updates {
			agent.Update(d, rng)
		}
		eng.Sync()
		res.Seconds = append(res.Seconds, time.Since(t0).Seconds()/float64(o.updates))
	}
	if counts {
		res.LaunchesPerUpdate = float64(counter.Launches()-launches0) / float64(o.repeats*o.updates)
	}
	res.MedianSeconds = median(res.Seconds)
	res.UpdatesPerSecond = 1 / res.MedianSeconds
	return res, nil
}

func (r *sacUpdateBenchResult) print(w io.Writer) error {
	secs := make([]string, len(r.Seconds))
	for i, s := range r.Seconds {
		secs[i] = fmt.Sprintf("%.3g", s*1e3)
	}
	launches := "not counted by this engine"
	if r.LaunchesPerUpdate > 0 {
		launches = fmt.Sprintf("%.4g per update", r.LaunchesPerUpdate)
	}
	_, err := fmt.Fprintf(w, `engine           %s (%s)
sac update       batch %d, policy %s, critics 2 × %s
time             %.4g ms per update, median of %d repeats of %d updates (%s ms)
updates/s        %.4g
launches         %s
`, r.Engine, r.Description, r.Batch, joinSizes(r.PolicyLayers), joinSizes(r.CriticLayers),
		r.MedianSeconds*1e3, r.Repeats, r.Updates, strings.Join(secs, ", "),
		r.UpdatesPerSecond, launches)
	return err
}
