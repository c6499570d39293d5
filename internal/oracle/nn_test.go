package oracle

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/nn"
)

// TestEnsembleGradientsMatchGorgonia checks the hand-written backward pass
// of nn.Ensemble (forward, Loss, Backward on the CPU engine, in float32)
// against gorgonia's symbolic gradient of the same loss in float64, on the
// same weights and batch.
//
// With E = 1 the ensemble is one Gaussian MLP and its gradients are the
// oracle's. With E = 3 members of different weights and batches, the
// ensemble loss is the sum of the members' losses with the bound penalty
// counted once, so each member's weight gradients are that member's oracle
// gradients and the bound gradients are the sum over members, less the
// E−1 surplus copies of the penalty's ±boundCoef.
func TestEnsembleGradientsMatchGorgonia(t *testing.T) {
	const (
		// float32 carries about 7 significant digits; the loss sums a few
		// dozen terms and the gradients pass through three layers, so
		// errors near 1e-6 are expected. 1e-4 is the agreed bound.
		gradTol = 1e-4
		lossTol = 1e-5
	)
	for _, e := range []int{1, 3} {
		t.Run(fmt.Sprintf("E=%d", e), func(t *testing.T) {
			seed := testSeed + uint64(e)
			t.Logf("seed %d, sizes [%d %d %d %d], batch %d", seed, testIn, testHidden, testHidden, 2*testD, testN)
			rng := rand.New(rand.NewPCG(seed, 0))
			members := make([]MLP, e)
			var xs, ys [][]float64
			for i := range members {
				m, x, y := randomProblem(rng)
				if i > 0 {
					// The bounds are shared by the members.
					m.MaxLogVar, m.MinLogVar = members[0].MaxLogVar, members[0].MinLogVar
				}
				members[i] = m
				xs, ys = append(xs, x), append(ys, y)
			}

			// The oracle, member by member.
			wantLoss := -float64(e-1) * boundCoef * (sum(members[0].MaxLogVar) - sum(members[0].MinLogVar))
			var wantGrads []MLP
			for i := range members {
				l, g, err := GaussianNLL(&members[i], xs[i], ys[i], boundCoef)
				if err != nil {
					t.Fatal(err)
				}
				wantLoss += l
				wantGrads = append(wantGrads, g)
			}
			surplus := float64(e-1) * boundCoef
			wantMax := make([]float64, testD)
			wantMin := make([]float64, testD)
			for j := range testD {
				wantMax[j], wantMin[j] = -surplus, surplus
				for i := range members {
					wantMax[j] += wantGrads[i].MaxLogVar[j]
					wantMin[j] += wantGrads[i].MinLogVar[j]
				}
			}

			// nn, with every parameter set by name from the same values.
			eng := cpu.New()
			defer eng.Close()
			model, err := nn.NewEnsemble(eng, nn.EnsembleConfig{
				In: testIn, Out: testD, Members: e,
				Hidden:       []int{testHidden, testHidden},
				Activation:   engine.SiLU,
				WeightDecay:  []float32{0, 0, 0}, // not part of the oracle's loss
				BoundPenalty: boundCoef,
			})
			if err != nil {
				t.Fatal(err)
			}
			for l := range members[0].W {
				var w, b []float64
				for i := range members {
					w, b = append(w, members[i].W[l]...), append(b, members[i].B[l]...)
				}
				model.Params.Set(fmt.Sprintf("layers.%d.weight", l), f32(w))
				model.Params.Set(fmt.Sprintf("layers.%d.bias", l), f32(b))
			}
			model.Params.Set("max_logvar", f32(members[0].MaxLogVar))
			model.Params.Set("min_logvar", f32(members[0].MinLogVar))

			var x, y *engine.Tensor
			if e == 1 {
				// A batch shared by the members: the [B, In] path.
				x, y = eng.New(engine.Float32, testN, testIn), eng.New(engine.Float32, testN, testD)
			} else {
				// One batch per member, as in bootstrapped training.
				x, y = eng.New(engine.Float32, e, testN, testIn), eng.New(engine.Float32, e, testN, testD)
			}
			eng.Upload(x, f32(concat(xs)))
			eng.Upload(y, f32(concat(ys)))
			model.Params.ZeroGrad()
			model.Forward(x)
			lossT := model.Loss(y)
			loss := make([]float32, 1)
			eng.Download(loss, lossT)
			model.Backward()

			if d := math.Abs(float64(loss[0])-wantLoss) / math.Abs(wantLoss); d > lossTol || math.IsNaN(d) {
				t.Errorf("loss: nn %.9g, gorgonia %.9g (rel err %.2e > %.0e)", loss[0], wantLoss, d, lossTol)
			}
			check := func(name string, got []float32, want []float64) {
				t.Helper()
				err := relErr(f64(got), want)
				t.Logf("%-16s rel err %.2e", name, err)
				if err > gradTol || math.IsNaN(err) {
					t.Errorf("gradient of %s: nn %v, gorgonia %v (rel err %.2e > %.0e)", name, got, want, err, gradTol)
				}
			}
			for l := range members[0].W {
				var w, b []float64
				for i := range members {
					w, b = append(w, wantGrads[i].W[l]...), append(b, wantGrads[i].B[l]...)
				}
				name := fmt.Sprintf("layers.%d.weight", l)
				check(name, model.Params.Gradient(name), w)
				name = fmt.Sprintf("layers.%d.bias", l)
				check(name, model.Params.Gradient(name), b)
			}
			check("max_logvar", model.Params.Gradient("max_logvar"), wantMax)
			check("min_logvar", model.Params.Gradient("min_logvar"), wantMin)
		})
	}
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func concat(vs [][]float64) []float64 {
	var c []float64
	for _, v := range vs {
		c = append(c, v...)
	}
	return c
}

func f32(v []float64) []float32 {
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = float32(x)
	}
	return w
}

func f64(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}
