package enginetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// GemmShapes are the M×K×N products of the networks imago trains: a
// minibatch of 256 through a first layer from a 17-dimensional input
// (HalfCheetah's observation), through a 256-wide hidden layer, and a large
// batch of 10⁴ (model rollouts) through a 200-wide hidden layer (the width
// of MBPO's ensemble).
var GemmShapes = [][3]int{{256, 17, 256}, {256, 256, 256}, {10000, 200, 200}}

// BenchmarkGemm times e.Gemm at GemmShapes, for one member and for an
// ensemble of 7, and for the transposed products of a layer's backward
// pass, reporting GFLOP/s. It calls e.Sync after the timed loop, so that
// asynchronous engines are timed to completion. Engines call it from a
// Benchmark function of their own:
//
//	func BenchmarkGemm(b *testing.B) { enginetest.BenchmarkGemm(b, New()) }
func BenchmarkGemm(b *testing.B, e engine.Engine) {
	r := rand.New(rand.NewPCG(1, 1))
	type variant struct {
		name           string
		ens            int
		transA, transB bool
	}
	variants := []variant{
		{"E1", 1, false, false},
		{"E7", 7, false, false},
		// The backward products of a layer: dW = xᵀ·dy and dx = dy·Wᵀ.
		{"E1/TN", 1, true, false},
		{"E1/NT", 1, false, true},
	}
	for _, sz := range GemmShapes {
		m, k, n := sz[0], sz[1], sz[2]
		for _, v := range variants {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, k, n, v.name), func(b *testing.B) {
				aShape, bShape := []int{v.ens, m, k}, []int{v.ens, k, n}
				if v.transA {
					aShape = []int{v.ens, k, m}
				}
				if v.transB {
					bShape = []int{v.ens, n, k}
				}
				x, w := benchTensor(e, r, aShape...), benchTensor(e, r, bShape...)
				c := e.New(engine.Float32, v.ens, m, n)
				defer func() { e.Free(x); e.Free(w); e.Free(c) }()
				e.Gemm(v.transA, v.transB, 1, x, w, 0, c) // warm up: module load, caches
				e.Sync()
				b.ResetTimer()
				for b.Loop() {
					e.Gemm(v.transA, v.transB, 1, x, w, 0, c)
				}
				e.Sync()
				flops := 2 * float64(v.ens) * float64(m) * float64(n) * float64(k)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// benchN is the length of the elementwise benchmarks' tensors.
const benchN = 1_000_000

// BenchmarkOps times the elementwise ops, reductions, Adam and the random
// fills on 10⁶ elements, calling e.Sync after each timed loop.
func BenchmarkOps(b *testing.B, e engine.Engine) {
	r := rand.New(rand.NewPCG(2, 2))
	x, y, z := benchTensor(e, r, 1000, 1000), benchTensor(e, r, 1000, 1000), e.New(engine.Float32, 1000, 1000)
	bias := benchTensor(e, r, 1000)
	cols := e.New(engine.Float32, 1000)
	m, v := e.New(engine.Float32, benchN), e.New(engine.Float32, benchN)
	idx := e.New(engine.Int32, benchN)
	defer func() {
		for _, t := range []*engine.Tensor{x, y, z, bias, cols, m, v, idx} {
			e.Free(t)
		}
	}()
	rng := engine.NewRNG(1)
	for _, bm := range []struct {
		name string
		f    func()
	}{
		{"Add", func() { e.Binary(engine.Add, z, x, y) }},
		{"AddBias", func() { e.Binary(engine.Add, z, x, bias) }},
		{"Scale", func() { e.Scale(z, x, 2, 1) }},
		{"ReLU", func() { e.Activate(engine.ReLU, z, x) }},
		{"SiLU", func() { e.Activate(engine.SiLU, z, x) }},
		{"Tanh", func() { e.Activate(engine.Tanh, z, x) }},
		{"Softplus", func() { e.Activate(engine.Softplus, z, x) }},
		{"SiLUGrad", func() { e.ActivateGrad(engine.SiLU, z, y, x, x) }},
		{"Exp", func() { e.Unary(engine.Exp, z, x) }},
		{"ReduceRowsSum", func() { e.ReduceRows(engine.Sum, cols, x) }},
		{"ReduceColsSum", func() { e.ReduceCols(engine.Sum, cols, x) }},
		{"Adam", func() { e.Adam(z, x, m, v, engine.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, 10) }},
		{"RandUniform", func() { e.RandUniform(z, rng, -1, 1) }},
		{"RandNormal", func() { e.RandNormal(z, rng, 0, 1) }},
		{"RandInt", func() { e.RandInt(idx, rng, 1000) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(4 * benchN) // per element of the output or the input
			bm.f()
			e.Sync()
			b.ResetTimer()
			for b.Loop() {
				bm.f()
			}
			e.Sync()
		})
	}
}

func benchTensor(e engine.Engine, r *rand.Rand, shape ...int) *engine.Tensor {
	t := e.New(engine.Float32, shape...)
	host := make([]float32, t.Len())
	for i := range host {
		host[i] = float32(r.NormFloat64())
	}
	e.Upload(t, host)
	return t
}
