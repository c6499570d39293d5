package engine

import (
	"fmt"
	"slices"
)

// DType is the element type of a Tensor.
type DType uint8

const (
	// Float32 tensors hold data: activations, parameters, gradients, buffers.
	Float32 DType = iota
	// Int32 tensors hold row indices for Gather and Scatter and the draws of
	// RandInt.
	Int32
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	}
	return fmt.Sprintf("DType(%d)", d)
}

// Memory is one allocation on an engine's device. Only the engine that made
// it interprets it: the CPU engine keeps a Go slice, the CUDA engine a device
// pointer. Tensors are views into a Memory.
type Memory interface {
	// Cap is the allocation's length in elements.
	Cap() int
	// DType is the allocation's element type.
	DType() DType
}

// A Tensor is a dense, row-major view of Len() elements of one Memory,
// starting at element Offset(). Several tensors may view the same memory:
// that is how the layers of a network see their slices of one flat parameter
// buffer. A Tensor's shape and offset never change; View and Reshape return
// new tensors.
//
// Ops that take a tensor as rank 3 read a rank-2 tensor [R, C] as [1, R, C];
// ops that fold leading dimensions say so.
type Tensor struct {
	mem   Memory
	off   int
	shape []int
	n     int
}

// NewTensor returns a view of shape over mem starting at element off. It is
// for engines, which wrap their allocations with it; users get tensors from
// Engine.New and Tensor.View. It panics if the view does not fit in mem.
func NewTensor(mem Memory, off int, shape ...int) *Tensor {
	n := shapeLen(shape)
	if off < 0 || off+n > mem.Cap() {
		panic(fmt.Sprintf("engine: view of %v at offset %d exceeds memory of %d elements", shape, off, mem.Cap()))
	}
	return &Tensor{mem: mem, off: off, shape: slices.Clone(shape), n: n}
}

func shapeLen(shape []int) int {
	if len(shape) == 0 {
		panic("engine: empty shape")
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("engine: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Mem returns the memory the tensor views. Engines use it to reach their
// storage.
func (t *Tensor) Mem() Memory { return t.mem }

// Offset returns the element offset of the view in its memory.
func (t *Tensor) Offset() int { return t.off }

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return t.n }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.mem.DType() }

// View returns a tensor of the given shape viewing the elements of t starting
// at element off of t. It panics if the view does not fit inside t.
func (t *Tensor) View(off int, shape ...int) *Tensor {
	n := shapeLen(shape)
	if off < 0 || off+n > t.n {
		panic(fmt.Sprintf("engine: view of %v at offset %d exceeds tensor %v", shape, off, t.shape))
	}
	return &Tensor{mem: t.mem, off: t.off + off, shape: slices.Clone(shape), n: n}
}

// Reshape returns a view of all of t's elements with a new shape of the same
// length. It panics if the lengths differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if shapeLen(shape) != t.n {
		panic(fmt.Sprintf("engine: cannot reshape %v to %v", t.shape, shape))
	}
	return t.View(0, shape...)
}

// Overlaps reports whether t and u view any common element.
func (t *Tensor) Overlaps(u *Tensor) bool {
	return t.mem == u.mem && t.off < u.off+u.n && u.off < t.off+t.n
}

// Same reports whether t and u view exactly the same elements.
func (t *Tensor) Same(u *Tensor) bool {
	return t.mem == u.mem && t.off == u.off && t.n == u.n
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor(%s%v)", t.DType(), t.shape)
}

// Batch3 returns the tensor's shape read as rank 3 [E, R, C]: a rank-2 tensor
// is [1, R, C]. It panics for other ranks.
func (t *Tensor) Batch3() (e, r, c int) {
	switch len(t.shape) {
	case 2:
		return 1, t.shape[0], t.shape[1]
	case 3:
		return t.shape[0], t.shape[1], t.shape[2]
	}
	panic(fmt.Sprintf("engine: tensor %v: want rank 2 or 3", t.shape))
}

// Fold3 returns the tensor's shape folded to [G, M, N]: N is the last
// dimension, M the one before it (1 for a rank-1 tensor), G the product of
// the rest.
func (t *Tensor) Fold3() (g, m, n int) {
	s := t.shape
	n = s[len(s)-1]
	m = 1
	if len(s) >= 2 {
		m = s[len(s)-2]
	}
	g = 1
	for _, d := range s[:max(0, len(s)-2)] {
		g *= d
	}
	return g, m, n
}
