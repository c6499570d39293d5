package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// smallRollout is a bench rollout that takes milliseconds.
var smallRollout = []string{"bench", "rollout", "--engine", "cpu", "--batch", "50", "--horizon", "3",
	"--ensemble", "4", "--elites", "2", "--hidden", "8", "--layers", "2", "--obs", "3", "--act", "2",
	"--policy-hidden", "8,4", "--repeats", "2"}

func TestBenchRollout(t *testing.T) {
	out, _, err := run(t, smallRollout...)
	if err != nil {
		t.Fatalf("imago %s: %v", strings.Join(smallRollout, " "), err)
	}
	for _, want := range []string{
		"engine           cpu (CPU, ",
		"50 start states × 3 steps, 2 elites of 4 members",
		"model            5→8→8→8 (one member per row)",
		"policy           3→8→4→4",
		"median of 2", "rows/s", "transitions/s", "GFLOP/s", "per step",
		"of FP32 peak     unknown (the engine does not know its peak; give --peak-gflops)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchRolloutJSON(t *testing.T) {
	out, _, err := run(t, append(smallRollout, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("--json printed more than one line:\n%s", out)
	}
	var res rolloutBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not a JSON result: %v\n%s", err, out)
	}
	if res.Engine != "cpu" || res.Batch != 50 || res.Horizon != 3 || res.Repeats != 2 || len(res.Seconds) != 2 {
		t.Errorf("result does not describe the run: %+v", res)
	}
	if res.Transitions != 150 {
		t.Errorf("transitions = %d, want 50·3 = 150 (nothing terminates)", res.Transitions)
	}
	// One member and the policy per transition: 2·(5·8 + 8·8 + 8·8) and
	// 2·(3·8 + 8·4 + 4·4).
	if want := 2.0*(40+64+64) + 2.0*(24+32+16); res.FLOPPerTransition != want {
		t.Errorf("FLOP per transition = %g, want %g", res.FLOPPerTransition, want)
	}
	s := res.MedianSeconds
	if !(s > 0) || res.StepSeconds != s/3 || res.RowsPerSecond != 50/s || res.TransitionsPerSecond != 150/s ||
		res.GFLOPPerSecond != res.FLOPPerTransition*150/s/1e9 {
		t.Errorf("inconsistent rates: %+v", res)
	}
	// The CPU engine neither knows its peak nor counts launches: those
	// fields are absent.
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"peak_gflop_per_second", "peak_source", "fraction_of_peak", "launches_per_rollout"} {
		if v, ok := fields[k]; ok {
			t.Errorf("JSON has %s = %v for an engine without a peak", k, v)
		}
	}
}

// benchJSON runs a bench subcommand with --json and decodes its result
// into res, failing the test on an error.
func benchJSON(t *testing.T, res any, args ...string) {
	t.Helper()
	out, _, err := run(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("imago %s --json: %v", strings.Join(args, " "), err)
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("--json printed more than one line:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out), res); err != nil {
		t.Fatalf("output is not a JSON result: %v\n%s", err, out)
	}
}

// TestBenchRolloutPeak checks the fraction of the FP32 peak: from
// --peak-gflops, from an engine that reports its peak (testGPU), and the
// flag's precedence over the engine; and that the launches per rollout
// are reported for an engine that counts them (testGPU) and only then.
func TestBenchRolloutPeak(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		peak     float64
		source   string
		text     string
		launches bool
	}{
		{"flag", []string{"--peak-gflops", "250"}, 250, "flag", "of 250 GFLOP/s (--peak-gflops)", false},
		{"engine", []string{"--engine", testGPUName}, testGPUPeak / 1e9, "engine",
			"of 1.234e+04 GFLOP/s (the engine's figure for its device)", true},
		{"flag over engine", []string{"--engine", testGPUName, "--peak-gflops", "500"}, 500, "flag",
			"of 500 GFLOP/s (--peak-gflops)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(slices.Clone(smallRollout), tc.args...)
			var res rolloutBenchResult
			benchJSON(t, &res, args...)
			if counted := res.LaunchesPerRollout > 0; counted != tc.launches {
				t.Errorf("launches per rollout %g on engine %s", res.LaunchesPerRollout, res.Engine)
			}
			if res.PeakGFLOPPerSecond != tc.peak || res.PeakSource != tc.source || res.FractionOfPeak != res.GFLOPPerSecond/tc.peak {
				t.Errorf("peak %g from %q, fraction %g of %g GFLOP/s; want %g from %q",
					res.PeakGFLOPPerSecond, res.PeakSource, res.FractionOfPeak, res.GFLOPPerSecond, tc.peak, tc.source)
			}
			out, _, err := run(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.text) {
				t.Errorf("output lacks %q:\n%s", tc.text, out)
			}
		})
	}
}

// smallSACUpdate is a bench sac-update that takes milliseconds.
var smallSACUpdate = []string{"bench", "sac-update", "--engine", "cpu", "--batch", "8", "--hidden", "8,6",
	"--obs", "3", "--act", "2", "--warmup", "1", "--updates", "2", "--repeats", "3"}

func TestBenchSACUpdate(t *testing.T) {
	out, _, err := run(t, smallSACUpdate...)
	if err != nil {
		t.Fatalf("imago %s: %v", strings.Join(smallSACUpdate, " "), err)
	}
	for _, want := range []string{
		"engine           cpu (CPU, ",
		"sac update       batch 8, policy 3→8→6→4, critics 2 × 5→8→6→1",
		"ms per update, median of 3 repeats of 2 updates",
		"updates/s",
		"launches         not counted by this engine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchSACUpdateJSON(t *testing.T) {
	var res sacUpdateBenchResult
	benchJSON(t, &res, smallSACUpdate...)
	if res.Engine != "cpu" || res.Batch != 8 || res.Warmup != 1 || res.Updates != 2 || res.Repeats != 3 ||
		!slices.Equal(res.PolicyLayers, []int{3, 8, 6, 4}) || !slices.Equal(res.CriticLayers, []int{5, 8, 6, 1}) {
		t.Errorf("result does not describe the run: %+v", res)
	}
	if len(res.Seconds) != 3 || res.MedianSeconds != median(res.Seconds) || !(res.MedianSeconds > 0) ||
		res.UpdatesPerSecond != 1/res.MedianSeconds {
		t.Errorf("inconsistent times: %+v", res)
	}
	if res.LaunchesPerUpdate != 0 {
		t.Errorf("launches per update %g from an engine that does not count them", res.LaunchesPerUpdate)
	}
}

// TestBenchSACUpdateLaunches checks the launches per update on an engine
// that counts them (testGPU, which counts its Gemm calls) against a count
// of one update's Gemm calls made here.
func TestBenchSACUpdateLaunches(t *testing.T) {
	args := slices.Clone(smallSACUpdate)
	args[3] = testGPUName
	var res sacUpdateBenchResult
	benchJSON(t, &res, args...)

	eng := &testGPU{Engine: cpu.New()}
	cfg := sac.Defaults()
	cfg.BatchSize, cfg.Hidden = 8, []int{8, 6}
	rng := engine.NewRNG(0)
	agent, err := sac.NewAgent(eng, cfg, 3, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	d := replay.NewBatch(eng, 8, 3, 2)
	agent.Update(d, rng)
	before := eng.Launches()
	agent.Update(d, rng)
	want := float64(eng.Launches() - before)
	if want == 0 || res.LaunchesPerUpdate != want {
		t.Errorf("launches per update %g, want %g", res.LaunchesPerUpdate, want)
	}
	out, _, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if line := fmt.Sprintf("launches         %g per update", want); !strings.Contains(out, line) {
		t.Errorf("output lacks %q:\n%s", line, out)
	}
}

// testGPU is a CPU engine that reports a peak and counts its Gemm calls as
// launches: the interfaces through which the bench commands read the CUDA
// engine's figures. It is registered as testGPUName.
type testGPU struct {
	engine.Engine
	gemms int64
}

const (
	testGPUName = "imago-test-gpu"
	testGPUPeak = 12.34e12 // FLOP/s
)

func (g *testGPU) PeakFLOPS() float64 { return testGPUPeak }
func (g *testGPU) Launches() int64    { return g.gemms }

func (g *testGPU) Gemm(transA, transB bool, alpha float32, a, b *engine.Tensor, beta float32, c *engine.Tensor) {
	g.gemms++
	g.Engine.Gemm(transA, transB, alpha, a, b, beta, c)
}

func init() {
	engine.Register(engine.Backend{
		Name:        testGPUName,
		Description: "CPU engine posing as a GPU (cmd/imago tests)",
		Available:   func() error { return nil },
		Open:        func() (engine.Engine, error) { return &testGPU{Engine: cpu.New()}, nil },
	})
}

func TestBenchBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "rollout", "--batch", "0"}, "--batch 0: must be positive"},
		{[]string{"bench", "rollout", "--elites", "8"}, "--elites 8 exceeds --ensemble 7"},
		{[]string{"bench", "rollout", "--policy-hidden", "256,"}, `--policy-hidden: "256,": want positive sizes`},
		{[]string{"bench", "rollout", "--engine", "abacus"}, `unknown engine "abacus"`},
		{[]string{"bench", "rollout", "--horizon", "many"}, "invalid value"},
		{[]string{"bench", "rollout", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"bench", "rollout", "extra"}, `takes no arguments, got "extra"`},
		{[]string{"bench", "rollout", "--peak-gflops", "-1"}, "--peak-gflops -1: must be a positive number of GFLOP/s"},
		{[]string{"bench", "rollout", "--peak-gflops", "NaN"}, "--peak-gflops NaN: must be a positive number"},
		{[]string{"bench", "sac-update", "--batch", "0"}, "--batch 0: must be positive"},
		{[]string{"bench", "sac-update", "--act", "-1"}, "--act -1: must be positive"},
		{[]string{"bench", "sac-update", "--warmup", "0"}, "--warmup 0: must be positive"},
		{[]string{"bench", "sac-update", "--updates", "0"}, "--updates 0: must be positive"},
		{[]string{"bench", "sac-update", "--repeats", "0"}, "--repeats 0: must be positive"},
		{[]string{"bench", "sac-update", "--hidden", "256,,256"}, `--hidden: "256,,256": want positive sizes`},
		{[]string{"bench", "sac-update", "--hidden", ""}, `--hidden: "": want positive sizes`},
		{[]string{"bench", "sac-update", "--engine", "abacus"}, `unknown engine "abacus"`},
		{[]string{"bench", "sac-update", "--batch", "many"}, "invalid value"},
		{[]string{"bench", "sac-update", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"bench", "sac-update", "extra"}, `takes no arguments, got "extra"`},
		{[]string{"bench", "nope"}, `unknown subcommand "nope"`},
	} {
		_, _, err := run(t, tc.args...)
		switch {
		case err == nil:
			t.Errorf("imago %s: no error", strings.Join(tc.args, " "))
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("imago %s: error %q, want it to contain %q", strings.Join(tc.args, " "), err, tc.want)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("imago %s: error of several lines: %q", strings.Join(tc.args, " "), err)
		}
	}
}
