// Package nn holds imago's neural networks: dense layers batched over
// ensemble members, multilayer perceptrons, the probabilistic ensemble
// dynamics model of PETS and MBPO, SAC's tanh-squashed Gaussian policy and
// its twin Q critic, the Adam optimizer, and saving and loading parameters in
// the safetensors format.
//
// Everything here is written against engine.Engine: no code in nn touches a
// tensor's storage, and host data moves only through Upload and Download.
//
// # Parameters
//
// All parameters of a network live in one flat device buffer, Params.Data,
// and their gradients in a second flat buffer of the same layout,
// Params.Grad. Each named parameter ("layers.0.weight", "max_logvar") is a
// view into both. One engine call then updates a whole network: Adam over
// the flat buffers, Polyak between a network and its target, a Fill to zero
// the gradients; and one file saves it.
//
// # Workspaces
//
// Forward passes keep what their backward pass needs (layer inputs,
// pre-activations, outputs) in workspaces owned by the network, allocated
// the first time a batch size is seen and reused for every later call with
// that batch size. In steady state (training at a fixed batch size, rollouts
// at another) no call allocates device memory. The tensors a forward pass
// returns belong to the workspace: they stay valid until the next call of
// the same method with the same batch size, and must not be freed by the
// caller. A network that has seen many batch sizes can drop its workspaces
// with ReleaseWorkspaces.
//
// # Gradients
//
// Backward passes accumulate parameter gradients into Params.Grad (g ← g +
// ∂L/∂θ, as PyTorch does), so that the gradients of several losses add up;
// callers zero them with Params.ZeroGrad before a step, or pass
// OverwriteGrad to the step's first backward pass, which writes them and
// saves ZeroGrad's launch. Networks are not safe for concurrent use, as
// their engine is not.
package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imago-rl/imago/engine"
)

// ParamSpec names a parameter and gives its shape.
type ParamSpec struct {
	Name  string
	Shape []int
}

// Param is one named parameter: views of its values and of its gradient in
// the flat buffers of a Params.
type Param struct {
	Name   string
	Shape  []int
	Offset int            // element offset in Params.Data and Params.Grad
	Value  *engine.Tensor // view of Params.Data with shape Shape
	Grad   *engine.Tensor // view of Params.Grad with shape Shape; nil for buffers
}

// Len returns the number of elements of the parameter.
func (p *Param) Len() int { return p.Value.Len() }

// paramAlign is the alignment, in elements, of every parameter's offset in
// the flat buffer: 64 float32 values are 256 bytes, enough for any
// vectorised load on CPU or GPU. The padding between parameters is zero and
// stays zero under Adam (zero gradient) and Polyak.
const paramAlign = 64

// Params is the set of parameters of a network, stored in one flat buffer
// Data with the gradients in a second flat buffer Grad of the same layout.
// Parameters keep the order of their specs.
//
// Params made by NewBuffers hold state that is saved with a network but not
// trained (a standardiser's mean and standard deviation); their Grad is nil.
type Params struct {
	eng    engine.Engine
	Data   *engine.Tensor // flat [N]
	Grad   *engine.Tensor // flat [N]; nil for buffers
	list   []*Param
	byName map[string]*Param
}

// NewParams allocates zeroed parameters and gradients for specs on eng. It
// panics if a name is empty or repeated, or a shape is empty.
func NewParams(eng engine.Engine, specs ...ParamSpec) *Params {
	return newParams(eng, true, specs)
}

// NewBuffers is NewParams without gradients: for state that is saved but
// not trained.
func NewBuffers(eng engine.Engine, specs ...ParamSpec) *Params {
	return newParams(eng, false, specs)
}

func newParams(eng engine.Engine, grad bool, specs []ParamSpec) *Params {
	if len(specs) == 0 {
		panic("nn: NewParams: no parameters")
	}
	p := &Params{eng: eng, byName: make(map[string]*Param, len(specs))}
	n := 0
	for _, s := range specs {
		if s.Name == "" {
			panic("nn: NewParams: empty parameter name")
		}
		if _, dup := p.byName[s.Name]; dup {
			panic(fmt.Sprintf("nn: NewParams: parameter %q given twice", s.Name))
		}
		if len(s.Shape) == 0 {
			panic(fmt.Sprintf("nn: NewParams: parameter %q has an empty shape", s.Name))
		}
		l := 1
		for _, d := range s.Shape {
			if d <= 0 {
				panic(fmt.Sprintf("nn: NewParams: parameter %q has shape %v", s.Name, s.Shape))
			}
			l *= d
		}
		q := &Param{Name: s.Name, Shape: slices.Clone(s.Shape), Offset: n}
		p.list = append(p.list, q)
		p.byName[s.Name] = q
		n += (l + paramAlign - 1) / paramAlign * paramAlign
	}
	p.Data = eng.New(engine.Float32, n)
	if grad {
		p.Grad = eng.New(engine.Float32, n)
	}
	for _, q := range p.list {
		q.Value = p.Data.View(q.Offset, q.Shape...)
		if grad {
			q.Grad = p.Grad.View(q.Offset, q.Shape...)
		}
	}
	return p
}

// Engine returns the engine the parameters live on.
func (p *Params) Engine() engine.Engine { return p.eng }

// Len returns the length of the flat buffers, padding included.
func (p *Params) Len() int { return p.Data.Len() }

// Count returns the number of scalar parameters, padding excluded.
func (p *Params) Count() int {
	n := 0
	for _, q := range p.list {
		n += q.Len()
	}
	return n
}

// All returns the parameters in layout order. The slice is the caller's;
// the Params it points to are shared.
func (p *Params) All() []*Param { return slices.Clone(p.list) }

// Names returns the parameter names in layout order.
func (p *Params) Names() []string {
	names := make([]string, len(p.list))
	for i, q := range p.list {
		names[i] = q.Name
	}
	return names
}

// Lookup returns the parameter called name, or nil.
func (p *Params) Lookup(name string) *Param { return p.byName[name] }

// Param returns the parameter called name. It panics if there is none,
// naming the parameters that exist.
func (p *Params) Param(name string) *Param {
	q := p.byName[name]
	if q == nil {
		panic(fmt.Sprintf("nn: no parameter %q (have %s)", name, strings.Join(p.Names(), ", ")))
	}
	return q
}

// Set uploads values, row-major in the parameter's shape, into the parameter
// called name. It panics if there is no such parameter or the length is
// wrong.
func (p *Params) Set(name string, values []float32) {
	q := p.Param(name)
	if len(values) != q.Len() {
		panic(fmt.Sprintf("nn: Set %q %v: %d values, want %d", name, q.Shape, len(values), q.Len()))
	}
	p.eng.Upload(q.Value, values)
}

// Value downloads the parameter called name.
func (p *Params) Value(name string) []float32 {
	q := p.Param(name)
	v := make([]float32, q.Len())
	p.eng.Download(v, q.Value)
	return v
}

// Gradient downloads the gradient of the parameter called name. It panics
// for buffers, which have none.
func (p *Params) Gradient(name string) []float32 {
	q := p.Param(name)
	if q.Grad == nil {
		panic(fmt.Sprintf("nn: Gradient %q: buffers have no gradient", name))
	}
	v := make([]float32, q.Len())
	p.eng.Download(v, q.Grad)
	return v
}

// ZeroGrad sets every gradient to zero (one Fill of the flat buffer).
func (p *Params) ZeroGrad() {
	if p.Grad != nil {
		p.eng.Fill(p.Grad, 0)
	}
}

// SameLayout reports whether p and q have the same parameter names, shapes
// and order.
func (p *Params) SameLayout(q *Params) bool {
	if len(p.list) != len(q.list) || p.Len() != q.Len() {
		return false
	}
	for i, a := range p.list {
		b := q.list[i]
		if a.Name != b.Name || !slices.Equal(a.Shape, b.Shape) {
			return false
		}
	}
	return true
}

func (p *Params) mustMatch(op string, src *Params) {
	if !p.SameLayout(src) {
		panic(fmt.Sprintf("nn: %s: parameter layouts differ: [%s] and [%s]", op,
			strings.Join(p.Names(), " "), strings.Join(src.Names(), " ")))
	}
}

// CopyFrom copies the values of src, which must have the same layout, into
// p (one device Copy): how a target network starts.
func (p *Params) CopyFrom(src *Params) {
	p.mustMatch("CopyFrom", src)
	p.eng.Copy(p.Data, src.Data)
}

// Polyak moves p towards src, which must have the same layout:
// p ← (1−tau)·p + tau·src, the soft update of a target network (one engine
// Polyak call).
func (p *Params) Polyak(src *Params, tau float32) {
	p.mustMatch("Polyak", src)
	p.eng.Polyak(p.Data, src.Data, tau)
}

// Free releases the device memory of the values and gradients. p and every
// layer bound to it become unusable.
func (p *Params) Free() {
	p.eng.Free(p.Data)
	if p.Grad != nil {
		p.eng.Free(p.Grad)
	}
	p.Data, p.Grad = nil, nil
}
