package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// BenchmarkMLPTrainStep times one training step of SAC's critic shape, a
// 17→256→256→1 ReLU MLP (HalfCheetah's 17 observation features) at batch
// 256: forward, MSE loss and backward, Adam. Each iteration ends with
// Sync.
func BenchmarkMLPTrainStep(b *testing.B) {
	eng := newEngine(b)
	rng := rand.New(rand.NewPCG(1, 0))
	m := NewMLPParams(eng, 1, []int{17, 256, 256, 1}, engine.ReLU)
	m.Init(FanInUniform, engine.NewRNG(1))
	opt := NewAdam(m.Params, engine.AdamConfig{LR: 3e-4})
	x, _ := upload(eng, rng, 1, 256, 17)
	y, _ := upload(eng, rng, 1, 1, 256, 1)
	loss := eng.New(engine.Float32, 1)
	dy := eng.New(engine.Float32, 1, 256, 1)
	step := func() {
		m.Params.ZeroGrad()
		MSE(eng, loss, dy, m.Forward(x), y)
		m.Backward(dy, ParamGrad)
		opt.Update()
	}
	step()
	eng.Sync()
	b.ResetTimer()
	for b.Loop() {
		step()
		eng.Sync()
	}
}

// BenchmarkEnsemblePredict times a model rollout step of MBPO's dynamics
// model: E = 7 members, four hidden layers of 200 SiLU units, input 17,
// 12 target dimensions (24 outputs: mean and log-variance), on a batch of
// 10 000 inputs shared by the members. Predict uses the engine's fused
// Linear where it has one.
func BenchmarkEnsemblePredict(b *testing.B) {
	eng := newEngine(b)
	rng := rand.New(rand.NewPCG(2, 0))
	m, err := NewEnsemble(eng, EnsembleConfig{In: 17, Out: 12})
	if err != nil {
		b.Fatal(err)
	}
	m.Init(engine.NewRNG(2))
	x, _ := upload(eng, rng, 1, 10000, 17)
	m.Predict(x)
	eng.Sync()
	b.ResetTimer()
	for b.Loop() {
		m.Predict(x)
		eng.Sync()
	}
}

// BenchmarkEnsembleTrainStep times one training step of the same model
// (E = 7, 4×200 SiLU, input 17, 12 targets) on MBPO's batch of 256 per
// member: forward, Gaussian NLL with bounds and decay, backward, Adam.
func BenchmarkEnsembleTrainStep(b *testing.B) {
	eng := newEngine(b)
	rng := rand.New(rand.NewPCG(3, 0))
	m, err := NewEnsemble(eng, EnsembleConfig{In: 17, Out: 12})
	if err != nil {
		b.Fatal(err)
	}
	m.Init(engine.NewRNG(3))
	opt := NewAdam(m.Params, engine.AdamConfig{})
	x, _ := upload(eng, rng, 1, 7, 256, 17)
	y, _ := upload(eng, rng, 1, 7, 256, 12)
	step := func() {
		m.Params.ZeroGrad()
		m.Forward(x)
		m.Loss(y)
		m.Backward()
		opt.Update()
	}
	step()
	eng.Sync()
	b.ResetTimer()
	for b.Loop() {
		step()
		eng.Sync()
	}
}
