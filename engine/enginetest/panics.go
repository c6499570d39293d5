package enginetest

import (
	"testing"

	"github.com/imago-rl/imago/engine"
)

// testPanics checks that arguments of the wrong shape or dtype panic, as the
// engine package comment requires, before the op touches any data.
func (s *suite) testPanics(t *testing.T) {
	e := s.e
	var allocs []*engine.Tensor
	f32 := func(shape ...int) *engine.Tensor {
		x := e.New(engine.Float32, shape...)
		allocs = append(allocs, x)
		return x
	}
	i32 := func(shape ...int) *engine.Tensor {
		x := e.New(engine.Int32, shape...)
		allocs = append(allocs, x)
		return x
	}
	defer func() {
		for _, x := range allocs {
			e.Free(x)
		}
	}()
	rng := engine.NewRNG(1)
	cases := []struct {
		name string
		f    func()
	}{
		{"Upload/length", func() { e.Upload(f32(3), make([]float32, 4)) }},
		{"Upload/int32-tensor", func() { e.Upload(i32(3), make([]float32, 3)) }},
		{"Download/length", func() { e.Download(make([]float32, 2), f32(3)) }},
		{"UploadInt32/float32-tensor", func() { e.UploadInt32(f32(3), make([]int32, 3)) }},
		{"DownloadInt32/length", func() { e.DownloadInt32(make([]int32, 4), i32(3)) }},
		{"Copy/length", func() { e.Copy(f32(3), f32(4)) }},
		{"Copy/dtype", func() { e.Copy(f32(3), i32(3)) }},
		{"Fill/int32", func() { e.Fill(i32(3), 1) }},

		{"Gemm/inner-dimension", func() { e.Gemm(false, false, 1, f32(3, 4), f32(5, 6), 0, f32(3, 6)) }},
		{"Gemm/inner-dimension-transposed", func() { e.Gemm(true, false, 1, f32(3, 4), f32(4, 6), 0, f32(4, 6)) }},
		{"Gemm/c-shape", func() { e.Gemm(false, false, 1, f32(3, 4), f32(4, 5), 0, f32(3, 6)) }},
		{"Gemm/ensemble-size", func() { e.Gemm(false, false, 1, f32(2, 3, 4), f32(3, 4, 5), 0, f32(2, 3, 5)) }},
		{"Gemm/rank-1", func() { e.Gemm(false, false, 1, f32(4), f32(4, 5), 0, f32(1, 5)) }},
		{"Linear/input-size", func() {
			engine.Linear(e, engine.ReLU, f32(7, 17, 3), f32(7, 17, 4), f32(7, 5, 3), f32(7, 1, 3))
		}},

		{"Activate/length", func() { e.Activate(engine.Tanh, f32(3), f32(4)) }},
		{"ActivateGrad/length", func() { e.ActivateGrad(engine.Tanh, f32(3), f32(3), f32(4), f32(3)) }},
		{"Unary/length", func() { e.Unary(engine.Exp, f32(3), f32(4)) }},
		{"Binary/broadcast", func() { e.Binary(engine.Add, f32(7, 17, 3), f32(7, 17, 3), f32(5)) }},
		{"Binary/broadcast-rows", func() { e.Binary(engine.Add, f32(7, 17, 3), f32(7, 17, 3), f32(17)) }},
		{"Binary/dst-length", func() { e.Binary(engine.Mul, f32(3, 4), f32(3, 5), f32(5)) }},
		{"Binary/int32", func() { e.Binary(engine.Add, f32(3), f32(3), i32(3)) }},
		{"Scale/length", func() { e.Scale(f32(3), f32(4), 1, 0) }},
		{"Axpby/length", func() { e.Axpby(f32(3), 1, f32(4), 1) }},
		{"Clamp/length", func() { e.Clamp(f32(3), f32(4), 0, 1) }},

		{"ReduceRows/dst-length", func() { e.ReduceRows(engine.Sum, f32(3), f32(4, 3)) }},
		{"ReduceCols/dst-length", func() { e.ReduceCols(engine.Sum, f32(4), f32(4, 3)) }},

		{"Gather/dst-length", func() { e.Gather(f32(2, 4), f32(5, 3), i32(2)) }},
		{"Gather/float32-idx", func() { e.Gather(f32(2, 3), f32(5, 3), f32(2)) }},
		{"Scatter/src-length", func() { e.Scatter(f32(5, 3), f32(3, 3), i32(2)) }},
		{"CopyCols/dst-columns", func() { e.CopyCols(f32(4, 5), 3, f32(4, 6), 0, 3) }},
		{"CopyCols/src-columns", func() { e.CopyCols(f32(4, 5), 0, f32(4, 6), 4, 3) }},
		{"CopyCols/rows", func() { e.CopyCols(f32(4, 5), 0, f32(3, 5), 0, 2) }},

		{"Adam/length", func() { e.Adam(f32(3), f32(3), f32(4), f32(3), engine.AdamConfig{LR: 1e-3}, 1) }},
		{"Adam/step=0", func() { e.Adam(f32(3), f32(3), f32(3), f32(3), engine.AdamConfig{LR: 1e-3}, 0) }},
		{"Polyak/length", func() { e.Polyak(f32(3), f32(4), 0.5) }},

		{"RandUniform/int32", func() { e.RandUniform(i32(3), rng, 0, 1) }},
		{"RandNormal/int32", func() { e.RandNormal(i32(3), rng, 0, 1) }},
		{"RandInt/float32", func() { e.RandInt(f32(3), rng, 5) }},
		{"RandInt/n=0", func() { e.RandInt(i32(3), rng, 0) }},
		{"RandInt/n=2^31+1", func() { e.RandInt(i32(3), rng, 1<<31+1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustPanic(t, c.name, c.f) })
	}
	if rng.Counter != 0 {
		t.Errorf("random fills that panicked advanced the RNG to counter %d", rng.Counter)
	}
}
