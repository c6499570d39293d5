//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/algos/sac"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
)

// maxSACUpdateLaunches bounds the kernel launches of one SAC update at
// batch 256 with 2×256 ReLU networks on Pendulum's sizes (3 observations,
// 1 action), counted by TestSACUpdateLaunches. It is the count itself, so
// that a change that adds a launch fails here and has to account for it
// in this comment. The 111 launches, by part of the update
// (algos/sac/update.go):
//
//	30  critic target: the policy's sample of a' (3 Linear for the MLP,
//	    2 CopyCols to split μ and the raw log σ, 13 elementwise ops and
//	    1 RandNormal), the target critics' Q' (2 CopyCols for [s', a'],
//	    3 Linear) and y = r + γ(1 − d)(min Q' − α log π) (6)
//	19  critic step: Q (2 CopyCols, 3 Linear), Q − y, the logged loss (a
//	    Gemm) and the scaling of ∂L/∂Q (3), the backward pass (2
//	    ActivateGrad, 3 Gemm for the weight gradients, 3 for the bias
//	    gradients, 2 for the hidden layers' input gradients), Adam
//	54  policy step: the sample (19), Q (5), ∂L/∂Q of the minimum member
//	    (3), the critics' input gradient (2 ActivateGrad, 3 Gemm, 1
//	    ReduceCols to sum the members, 1 CopyCols for the action's
//	    columns), ∂L/∂log π = α/B (1), the policy's backward pass (8
//	    elementwise and copies back to the MLP's output, then 2
//	    ActivateGrad and 8 Gemm), Adam
//	 4  logging: mean log π, the actor loss as two dot products, and one
//	    Add for α and mean log π
//	 3  temperature: ∂L/∂log α, Adam, α = exp(log α)
//	 1  Polyak average of the target critics
//
// Before the launch cuts of issue 7 the same update took 151 launches and
// 2 device-to-device copies: each dense layer's forward was a Gemm, a bias
// Add and an activation, and its bias gradient a ReduceCols and an Axpby;
// the gradients were zeroed by a Fill before each backward pass; the
// critic target was copied once per Q member; the logged losses were
// reductions added into the metrics one by one.
const maxSACUpdateLaunches = 111

// pendulumBatch returns a replay batch of n transitions with Pendulum's
// sizes and random contents, the same on every engine for a seed: states
// from N(0, 1), actions from U[−1, 1), rewards from U[−16, 0) (Pendulum's
// range), one transition in eight terminal.
func pendulumBatch(e engine.Engine, n int, seed uint64) *replay.Batch {
	const obs, act = 3, 1
	d := replay.NewBatch(e, n, obs, act)
	rng := engine.NewRNG(seed)
	e.RandNormal(d.Obs, rng, 0, 1)
	e.RandNormal(d.NextObs, rng, 0, 1)
	e.RandUniform(d.Act, rng, -1, 1)
	e.RandUniform(d.Reward, rng, -16, 0)
	term := make([]float32, n)
	for i := 0; i < n; i += 8 {
		term[i] = 1
	}
	e.Upload(d.Terminated, term)
	return d
}

// TestSACUpdateLaunches counts the kernel launches and copies of one SAC
// update after a first one has allocated the workspaces, prints them by op
// (go test -v) and checks them: at most maxSACUpdateLaunches launches, none
// of them the zeroing of a new tensor, and no copy between host and device.
func TestSACUpdateLaunches(t *testing.T) {
	e := openEngine(t)
	const obs, act = 3, 1
	cfg := sac.Defaults() // batch 256, hidden 256, 256
	rng := engine.NewRNG(1)
	agent, err := sac.NewAgent(e, cfg, obs, act, rng)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Free()
	d := pendulumBatch(e, cfg.BatchSize, 2)
	defer d.Free(e)
	agent.Update(d, rng)
	e.Sync()

	e.ResetCounts()
	agent.Update(d, rng)
	c := e.Counts()
	t.Logf("one SAC update, batch %d, hidden %v, obs %d, act %d: %d launches", cfg.BatchSize, cfg.Hidden, obs, act, c.Launches)
	for _, op := range slices.Sorted(maps.Keys(c.ByOp)) {
		t.Logf("  %-14s %4d", op, c.ByOp[op])
	}
	t.Logf("copies: %d host→device, %d device→host, %d device→device (%d bytes)", c.HtoD, c.DtoH, c.DtoD, c.DtoDBytes)
	if c.Launches > maxSACUpdateLaunches {
		t.Errorf("one SAC update launched %d kernels, more than the %d of maxSACUpdateLaunches: a change added launches (see the comment there)",
			c.Launches, maxSACUpdateLaunches)
	}
	if n := c.ByOp["New"]; n != 0 {
		t.Errorf("a steady-state update zeroed %d new tensors: it allocates", n)
	}
	if c.HtoD != 0 || c.DtoH != 0 {
		t.Errorf("an update copied between host and device: %d uploads, %d downloads", c.HtoD, c.DtoH)
	}
	var sum int64
	for _, n := range c.ByOp {
		sum += n
	}
	if sum != c.Launches {
		t.Errorf("launches by op sum to %d, total %d", sum, c.Launches)
	}
}

// TestSACUpdateMatchesCPU runs two SAC updates at the size of
// TestSACUpdateLaunches on this engine and on the CPU engine from the same
// seed and compares what they log: the critic loss (the first update's is
// a forward pass through the initial networks, the second's through the
// networks after a step), the actor loss, α and the entropy estimate. The
// engines draw the same Philox noise, so they differ only by float32
// rounding, and by the summation order of their GEMMs; an Adam step moves
// each parameter by about the learning rate whatever the size of its
// gradient, so a rounding difference that flips a near-zero gradient's sign
// moves that one parameter by 2·lr, which changes the losses by far less
// than tol.
func TestSACUpdateMatchesCPU(t *testing.T) {
	const obs, act = 3, 1
	const tol = 1e-4 // relative, with an absolute floor of the same
	g, c := openEngine(t), cpu.New()
	defer c.Close()
	metrics := func(e engine.Engine) [4]float64 {
		cfg := sac.Defaults()
		rng := engine.NewRNG(5)
		agent, err := sac.NewAgent(e, cfg, obs, act, rng)
		if err != nil {
			t.Fatal(err)
		}
		defer agent.Free()
		d := pendulumBatch(e, cfg.BatchSize, 6)
		defer d.Free(e)
		agent.Update(d, rng)
		agent.Update(d, rng)
		q, pi, alpha, ent := agent.TakeMetrics()
		return [4]float64{q, pi, alpha, ent}
	}
	got, want := metrics(g), metrics(c)
	for i, name := range []string{"q_loss", "actor_loss", "alpha", "entropy"} {
		t.Logf("%-10s %s %.9g, cpu %.9g", name, g.Name(), got[i], want[i])
		if d := math.Abs(got[i] - want[i]); !(d <= tol*max(1, math.Abs(want[i]))) {
			t.Errorf("%s: %s engine %.9g, CPU engine %.9g (|Δ| %.3g > %g)", name, g.Name(), got[i], want[i], d, tol)
		}
	}
}

// TestFP32Peak checks the peak table on the names the CUDA driver gives.
func TestFP32Peak(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tflops float64
	}{
		{"NVIDIA H100 80GB HBM3", 66.9},
		{"NVIDIA H100 PCIe", 51.2},
		{"NVIDIA H100 NVL", 0},
		{"NVIDIA H200", 66.9},
		{"NVIDIA H200 NVL", 0},
		{"NVIDIA A100-SXM4-80GB", 19.5},
		{"NVIDIA A100 80GB PCIe", 19.5},
		{"NVIDIA L4", 30.3},
		{"NVIDIA L40S", 0},
		{"NVIDIA GeForce RTX 4090", 0},
		{"CUDA emulator (CPU)", 0},
		{"", 0},
	} {
		if got := fp32Peak(tc.name); got != tc.tflops*1e12 {
			t.Errorf("fp32Peak(%q) = %g, want %g", tc.name, got, tc.tflops*1e12)
		}
	}
	e := openEngine(t)
	if got, want := e.PeakFLOPS(), fp32Peak(e.Device().Name); got != want {
		t.Errorf("PeakFLOPS() = %g for %q, want %g", got, e.Device().Name, want)
	}
	t.Logf("device %q: FP32 peak %s", e.Device().Name, peakString(e.PeakFLOPS()))
}

func peakString(flops float64) string {
	if flops == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f TFLOP/s", flops/1e12)
}

// TestCounts checks the counts of launches and copies on a few ops whose
// launches are known: every op with elements launches one kernel, an op
// with none launches nothing, and copies count their bytes.
func TestCounts(t *testing.T) {
	e := openEngine(t)
	x := e.New(engine.Float32, 3, 4) // one launch: the zeroing
	y := e.New(engine.Float32, 3, 4)
	empty := e.New(engine.Float32, 0)
	e.ResetCounts()
	e.Upload(x, make([]float32, 12))
	e.Binary(engine.Add, y, x, x)
	e.Scale(y, y, 2, 1)
	e.Fill(empty, 1) // nothing to launch
	e.Copy(y, x)
	e.Download(make([]float32, 12), y)
	e.Download(nil, empty) // nothing to copy
	c := e.Counts()
	want := Counts{
		Launches: 2, ByOp: map[string]int64{"Binary": 1, "Scale": 1},
		HtoD: 1, DtoH: 1, DtoD: 1, HtoDBytes: 48, DtoHBytes: 48, DtoDBytes: 48,
	}
	if !countsEqual(c, want) {
		t.Errorf("counts %+v, want %+v", c, want)
	}
	if e.Launches() != 2 {
		t.Errorf("Launches() = %d, want 2", e.Launches())
	}
	c.ByOp["Binary"] = 100 // the map is the caller's
	if e.Counts().ByOp["Binary"] != 1 {
		t.Error("changing the map Counts returned changed the engine's counts")
	}
	e.ResetCounts()
	if c := e.Counts(); !countsEqual(c, Counts{ByOp: map[string]int64{}}) {
		t.Errorf("counts after ResetCounts: %+v", c)
	}
	e.New(engine.Float32, 5)
	if c := e.Counts(); c.Launches != 1 || c.ByOp["New"] != 1 {
		t.Errorf("counts after New: %+v, want one launch by New", c)
	}
}

func countsEqual(a, b Counts) bool {
	return a.Launches == b.Launches && maps.Equal(a.ByOp, b.ByOp) &&
		a.HtoD == b.HtoD && a.DtoH == b.DtoH && a.DtoD == b.DtoD &&
		a.HtoDBytes == b.HtoDBytes && a.DtoHBytes == b.DtoHBytes && a.DtoDBytes == b.DtoDBytes
}
