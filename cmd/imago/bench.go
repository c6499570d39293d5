package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imago-rl/imago/algos/mbpo"
	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "time imago's hot paths on an engine",
		Subcommands: []*cli.Command{
			benchRolloutCommand(),
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
}

func benchRolloutCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollout",
		Usage: "time MBPO's model rollouts on random weights",
		UsageText: "imago bench rollout [--engine NAME] [--batch N] [--horizon N] [--ensemble N] [--elites N]\n" +
			"   [--hidden N] [--layers N] [--obs N] [--act N] [--policy-hidden N,N,...] [--repeats N] [--json]",
		Description: "Builds an ensemble and a policy of the given sizes with random weights, runs one\n" +
			"rollout of --batch start states for --horizon steps to warm up, then times --repeats\n" +
			"more and reports the median: start rows per second, transitions per second, the\n" +
			"GFLOP/s of the products actually computed (one member and the policy per\n" +
			"transition), and the time per step. No row terminates.",
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
				repeats: c.Int("repeats"), seed: c.Uint64("seed"),
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
	return nil
}

// benchRollout builds the networks and times the rollouts.
func benchRollout(o rolloutBenchOptions) (*rolloutBenchResult, error) {
	eng, err := engine.Open(o.engine)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	desc := ""
	for _, b := range engine.Backends() {
		if b.Name == eng.Name() {
			desc = b.Description
		}
	}

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
	for range o.repeats {
		t0 := time.Now()
		res.Transitions = r.Run(starts, o.horizon, elites, rng, into)
		eng.Sync()
		res.Seconds = append(res.Seconds, time.Since(t0).Seconds())
	}
	med := median(res.Seconds)
	res.MedianSeconds = med
	res.RowsPerSecond = float64(o.batch) / med
	res.TransitionsPerSecond = float64(res.Transitions) / med
	res.GFLOPPerSecond = res.FLOPPerTransition * float64(res.Transitions) / med / 1e9
	res.StepSeconds = med / float64(o.horizon)
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
	join := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, "→")
	}
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
per step         %.4g ms
`, r.Engine, r.Description, r.Batch, r.Horizon, r.Elites, r.Ensemble,
		join(r.ModelLayers), join(r.PolicyLayers),
		r.MedianSeconds, r.Repeats, strings.Join(secs, ", "),
		r.RowsPerSecond, r.TransitionsPerSecond,
		r.GFLOPPerSecond, r.FLOPPerTransition/1e6, r.StepSeconds*1e3)
	return err
}
