// Package cpu is the reference engine: it runs every op of engine.Engine on
// the host, in Go, with matrix products through a BLAS.
//
// The default build is pure Go: GEMM goes through gonum's blas32
// implementation and nothing links cgo. Building with the tag openblas routes
// GEMM through OpenBLAS instead (gonum.org/v1/netlib, which needs Debian's
// libopenblas-dev or equivalent at build time); everything else is the same
// Go code in both builds.
//
// Ops run synchronously on the calling goroutine; large elementwise ops,
// reductions and random fills split their work across runtime.GOMAXPROCS
// goroutines and return when all are done. Transcendental functions are
// computed in float64 and rounded, so that each result is within a rounding
// or two of the exact value. Importing the package registers the engine as
// "cpu".
package cpu

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

func init() {
	engine.Register(engine.Backend{
		Name:        "cpu",
		Description: "CPU, " + blasName,
		Available:   func() error { return nil },
		Open:        func() (engine.Engine, error) { return New(), nil },
	})
}

// Engine is the CPU engine. The zero value is not usable; call New.
//
// Like every engine it is not safe for concurrent use.
type Engine struct {
	closed bool
}

var _ engine.Engine = (*Engine)(nil)

// New returns a CPU engine.
func New() *Engine { return &Engine{} }

// Memory is an allocation of the CPU engine: a Go slice of float32 or int32.
type Memory struct {
	eng   *Engine
	dtype engine.DType
	n     int
	f32   []float32
	i32   []int32
	freed bool
}

var _ engine.Memory = (*Memory)(nil)

// Cap is the allocation's length in elements.
func (m *Memory) Cap() int { return m.n }

// DType is the allocation's element type.
func (m *Memory) DType() engine.DType { return m.dtype }

// memory returns the CPU memory t views, panicking if t is not usable by e:
// made by another engine, freed, or e closed.
func (e *Engine) memory(op string, t *engine.Tensor) *Memory {
	m, ok := t.Mem().(*Memory)
	switch {
	case !ok:
		panic(fmt.Sprintf("engine/cpu: %s: %v is not a CPU tensor", op, t))
	case m.eng != e:
		panic(fmt.Sprintf("engine/cpu: %s: %v belongs to another CPU engine", op, t))
	case e.closed:
		panic(fmt.Sprintf("engine/cpu: %s: engine is closed", op))
	case m.freed:
		panic(fmt.Sprintf("engine/cpu: %s: %v views freed memory", op, t))
	}
	return m
}

// floats returns the elements t views. The op's check has made sure t is
// Float32.
func (e *Engine) floats(op string, t *engine.Tensor) []float32 {
	m := e.memory(op, t)
	lo, hi := t.Offset(), t.Offset()+t.Len()
	return m.f32[lo:hi:hi]
}

// ints returns the elements the Int32 tensor t views.
func (e *Engine) ints(op string, t *engine.Tensor) []int32 {
	m := e.memory(op, t)
	lo, hi := t.Offset(), t.Offset()+t.Len()
	return m.i32[lo:hi:hi]
}

// Name returns "cpu".
func (e *Engine) Name() string { return "cpu" }

// New returns a zeroed tensor of the given dtype and shape in a fresh
// allocation.
func (e *Engine) New(dtype engine.DType, shape ...int) *engine.Tensor {
	if e.closed {
		panic("engine/cpu: New: engine is closed")
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("engine/cpu: New: negative dimension in shape %v", shape))
		}
		n *= d
	}
	m := &Memory{eng: e, dtype: dtype, n: n}
	switch dtype {
	case engine.Float32:
		m.f32 = make([]float32, n)
	case engine.Int32:
		m.i32 = make([]int32, n)
	default:
		panic(fmt.Sprintf("engine/cpu: New: unknown dtype %v", dtype))
	}
	return engine.NewTensor(m, 0, shape...)
}

// Free releases the memory t views; t and every other view of it become
// unusable, and using them panics. Freeing memory twice panics.
func (e *Engine) Free(t *engine.Tensor) {
	m, ok := t.Mem().(*Memory)
	switch {
	case !ok:
		panic(fmt.Sprintf("engine/cpu: Free: %v is not a CPU tensor", t))
	case m.eng != e:
		panic(fmt.Sprintf("engine/cpu: Free: %v belongs to another CPU engine", t))
	case m.freed:
		panic(fmt.Sprintf("engine/cpu: Free: memory of %v freed twice", t))
	}
	m.freed = true
	m.f32, m.i32 = nil, nil
}

// Upload copies src into dst.
func (e *Engine) Upload(dst *engine.Tensor, src []float32) {
	engine.CheckUpload("Upload", dst, len(src), engine.Float32)
	copy(e.floats("Upload", dst), src)
}

// Download copies src into dst.
func (e *Engine) Download(dst []float32, src *engine.Tensor) {
	engine.CheckDownload("Download", len(dst), src, engine.Float32)
	copy(dst, e.floats("Download", src))
}

// UploadInt32 copies src into the Int32 tensor dst.
func (e *Engine) UploadInt32(dst *engine.Tensor, src []int32) {
	engine.CheckUpload("UploadInt32", dst, len(src), engine.Int32)
	copy(e.ints("UploadInt32", dst), src)
}

// DownloadInt32 copies the Int32 tensor src into dst.
func (e *Engine) DownloadInt32(dst []int32, src *engine.Tensor) {
	engine.CheckDownload("DownloadInt32", len(dst), src, engine.Int32)
	copy(dst, e.ints("DownloadInt32", src))
}

// Copy copies src into dst.
func (e *Engine) Copy(dst, src *engine.Tensor) {
	engine.CheckCopy(dst, src)
	if dst.DType() == engine.Int32 {
		copy(e.ints("Copy", dst), e.ints("Copy", src))
		return
	}
	copy(e.floats("Copy", dst), e.floats("Copy", src))
}

// Fill sets every element of dst to v.
func (e *Engine) Fill(dst *engine.Tensor, v float32) {
	engine.CheckFill(dst)
	d := e.floats("Fill", dst)
	for i := range d {
		d[i] = v
	}
}

// Sync returns at once: every op has finished when it returns.
func (e *Engine) Sync() {}

// Close marks the engine closed; using it or its tensors afterwards panics.
// It never fails.
func (e *Engine) Close() error {
	e.closed = true
	return nil
}
