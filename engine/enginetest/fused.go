package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imago-rl/imago/engine"
)

// primitives hides an engine's fused ops: through it, the package-level
// fused functions take their generic paths, composed of the primitives. The
// embedded engine still owns the tensors, so they pass its ownership checks.
type primitives struct{ engine.Engine }

// rowForwardCases are the cases of EnsembleRowForward: B rows, E members,
// K picks into a member table (0 for none: pick holds member ids), and the
// layer sizes [In, hidden..., Out].
var rowForwardCases = []struct {
	b, e, k int
	sizes   []int
}{
	{1, 1, 0, []int{3, 5}},
	{17, 7, 0, []int{3, 17, 1}},
	{257, 7, 5, []int{17, 33, 33, 24}}, // MBPO's shape, scaled down: 5 elites of 7
	{257, 7, 3, []int{1, 257, 3}},      // a layer wider than the input and the output
	{3, 2, 1, []int{257, 17}},          // every row the same member
}

// testEnsembleRowForward checks engine.EnsembleRowForward, the engine's
// fused op where it has one, and its generic path through the primitives,
// against a float64 reference that evaluates each row with its own member.
func (s *suite) testEnsembleRowForward(t *testing.T) {
	for ci, c := range rowForwardCases {
		for gi, generic := range []bool{false, true} {
			l := layouts[(ci+gi)%2] // each path sees both layouts
			path := "engine"
			if generic {
				path = "generic"
			}
			name := fmt.Sprintf("B=%d,E=%d,K=%d,sizes=%s/%s/%v", c.b, c.e, c.k, shapeName(c.sizes), path, l)
			t.Run(name, func(t *testing.T) {
				var e engine.Engine = s.e
				if generic {
					e = primitives{s.e}
				}
				s.rowForwardCase(t, e, l, c.b, c.e, c.k, c.sizes)
			})
		}
	}
	t.Run("panics/engine", func(t *testing.T) { s.rowForwardPanics(t, s.e) })
	t.Run("panics/generic", func(t *testing.T) { s.rowForwardPanics(t, primitives{s.e}) })
}

// rowForwardPanics checks that EnsembleRowForward rejects operands of the
// wrong shape, on the engine's path and the generic one, before touching
// any data.
func (s *suite) rowForwardPanics(t *testing.T, e engine.Engine) {
	var allocs []*engine.Tensor
	f32 := func(shape ...int) *engine.Tensor {
		x := s.e.New(engine.Float32, shape...)
		allocs = append(allocs, x)
		return x
	}
	i32 := func(n int) *engine.Tensor {
		x := s.e.New(engine.Int32, n)
		allocs = append(allocs, x)
		return x
	}
	ws := engine.NewEnsembleRowWorkspace(s.e, 5, 8)
	defer func() {
		for _, x := range allocs {
			s.e.Free(x)
		}
		ws.Free(s.e)
	}()
	layer := func(e, in, out int, f engine.Activation) engine.EnsembleLayer {
		return engine.EnsembleLayer{W: f32(e, in, out), B: f32(e, 1, out), Act: f}
	}
	two := []engine.EnsembleLayer{layer(3, 2, 4, engine.ReLU), layer(3, 4, 6, engine.Identity)}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"no-layers", func() { engine.EnsembleRowForward(e, f32(5, 6), f32(5, 2), i32(5), nil, nil, ws) }},
		{"chain", func() {
			engine.EnsembleRowForward(e, f32(5, 6), f32(5, 2), i32(5), nil,
				[]engine.EnsembleLayer{layer(3, 2, 4, engine.ReLU), layer(3, 5, 6, engine.Identity)}, ws)
		}},
		{"members", func() {
			engine.EnsembleRowForward(e, f32(5, 6), f32(5, 2), i32(5), nil,
				[]engine.EnsembleLayer{layer(3, 2, 4, engine.ReLU), layer(2, 4, 6, engine.Identity)}, ws)
		}},
		{"bias", func() {
			engine.EnsembleRowForward(e, f32(5, 4), f32(5, 2), i32(5), nil,
				[]engine.EnsembleLayer{{W: f32(3, 2, 4), B: f32(1, 1, 4)}}, ws)
		}},
		{"x", func() { engine.EnsembleRowForward(e, f32(5, 6), f32(5, 3), i32(5), nil, two, ws) }},
		{"y", func() { engine.EnsembleRowForward(e, f32(5, 4), f32(5, 2), i32(5), nil, two, ws) }},
		{"pick-length", func() { engine.EnsembleRowForward(e, f32(5, 6), f32(5, 2), i32(4), nil, two, ws) }},
		{"pick-dtype", func() { engine.EnsembleRowForward(e, f32(5, 6), f32(5, 2), f32(5), nil, two, ws) }},
		{"workspace-rows", func() { engine.EnsembleRowForward(e, f32(6, 6), f32(6, 2), i32(6), nil, two, ws) }},
		{"workspace-width", func() {
			engine.EnsembleRowForward(e, f32(5, 9), f32(5, 2), i32(5), nil, []engine.EnsembleLayer{layer(3, 2, 9, engine.ReLU)}, ws)
		}},
		{"y-is-x", func() {
			x := f32(5, 4)
			engine.EnsembleRowForward(e, x, x, i32(5), nil, []engine.EnsembleLayer{layer(3, 4, 4, engine.ReLU)}, ws)
		}},
		{"x-in-workspace", func() { engine.EnsembleRowForward(e, f32(5, 6), ws.A.View(0, 5, 2), i32(5), nil, two, ws) }},
	} {
		mustPanic(t, c.name, c.f)
	}
}

func (s *suite) rowForwardCase(t *testing.T, eng engine.Engine, l layout, b, e, k int, sizes []int) {
	r := s.rand(t)
	nl := len(sizes) - 1
	// Activations cycle through the list so every one is exercised; the
	// last layer is linear, as in an MLP.
	acts := make([]engine.Activation, nl)
	for j := range acts {
		acts[j] = activations[(b+j)%len(activations)]
	}
	acts[nl-1] = engine.Identity

	x := s.alloc(t, r, l, engine.Float32, b, sizes[0])
	xv := x.rand(r, -1, 1)
	layers := make([]engine.EnsembleLayer, nl)
	ws, bs := make([]*buf, nl), make([]*buf, nl)
	wv, bv := make([][]float32, nl), make([][]float32, nl)
	for j := range nl {
		ws[j] = s.alloc(t, r, l, engine.Float32, e, sizes[j], sizes[j+1])
		bs[j] = s.alloc(t, r, l, engine.Float32, e, 1, sizes[j+1])
		// Weights of scale 1/√In keep the hidden values O(1) layer after
		// layer.
		sc := 1 / math.Sqrt(float64(sizes[j]))
		wv[j] = ws[j].rand(r, -sc, sc)
		bv[j] = bs[j].rand(r, -0.5, 0.5)
		layers[j] = engine.EnsembleLayer{W: ws[j].t, B: bs[j].t, Act: acts[j]}
	}

	// Picks and the member table: every member of the table appears, and
	// with a table some members of the ensemble are never picked.
	pick := s.alloc(t, r, l, engine.Int32, b)
	n := e
	if k > 0 {
		n = k
	}
	pv := make([]int32, b)
	for i := range pv {
		pv[i] = int32(r.IntN(n))
	}
	pick.setInt32(pv)
	var members *buf
	var table []int32
	if k > 0 {
		members = s.alloc(t, r, l, engine.Int32, k)
		table = distinctIndices(r, e, k)
		members.setInt32(table)
	}

	y := s.alloc(t, r, l, engine.Float32, b, sizes[nl])
	y.set(constant(y.t.Len(), float32(math.NaN()))) // written, never read
	widest := 0
	for _, sz := range sizes {
		widest = max(widest, sz)
	}
	work := engine.NewEnsembleRowWorkspace(s.e, b+3, widest+1) // larger than needed
	t.Cleanup(func() { work.Free(s.e) })

	want, mag := rowForwardRef(xv, pv, table, wv, bv, acts, sizes)
	var mt *engine.Tensor
	if members != nil {
		mt = members.t
	}
	engine.EnsembleRowForward(eng, y.t, x.t, pick.t, mt, layers, work)
	near(t, "y", y.read(t), want, mag)
	x.unchanged(t, "x")
	for j := range nl {
		ws[j].unchanged(t, fmt.Sprintf("layers[%d].W", j))
		bs[j].unchanged(t, fmt.Sprintf("layers[%d].B", j))
	}
	sameInt32(t, "pick (an input, must not change)", pick.readInt32(t), pv)
	if members != nil {
		sameInt32(t, "members (an input, must not change)", members.readInt32(t), table)
	}
}

// rowForwardRef is the float64 reference of EnsembleRowForward, with the
// magnitude of the terms of each output (see tol). The magnitude is carried
// through the layers: an error in a hidden value reaches the next layer
// through |W|, and an error in a pre-activation reaches the output scaled
// by |f'|, so layer l+1's magnitude is |f'(pre)|·(Σ_k (|h_k| + g_k)·|W_kj| +
// |b_j|) + |h_{l+1,j}| for layer l's values h and magnitudes g.
func rowForwardRef(x []float32, pick, table []int32, w, b [][]float32, acts []engine.Activation, sizes []int) (out, mag []float64) {
	nb := len(pick)
	last := sizes[len(sizes)-1]
	out, mag = make([]float64, nb*last), make([]float64, nb*last)
	for i := range nb {
		m := int(pick[i])
		if table != nil {
			m = int(table[m])
		}
		h := to64(x[i*sizes[0] : (i+1)*sizes[0]])
		g := make([]float64, len(h))
		for l, f := range acts {
			in, o := sizes[l], sizes[l+1]
			wm, bm := w[l][m*in*o:(m+1)*in*o], b[l][m*o:(m+1)*o]
			nh, ng := make([]float64, o), make([]float64, o)
			for j := range o {
				pre, abs := float64(bm[j]), math.Abs(float64(bm[j]))
				for p := range in {
					wv := float64(wm[p*o+j])
					pre += h[p] * wv
					abs += (math.Abs(h[p]) + g[p]) * math.Abs(wv)
				}
				nh[j] = act64(f, pre)
				ng[j] = math.Abs(deriv64(f, pre))*abs + math.Abs(nh[j])
			}
			h, g = nh, ng
		}
		copy(out[i*last:], h)
		copy(mag[i*last:], g)
	}
	return out, mag
}

// BenchmarkEnsembleRowForward times engine.EnsembleRowForward on MBPO's
// model rollout shape, 10⁴ rows (of 14 inputs: Hopper's 11 observations and
// 3 actions) through 4×200 SiLU layers and 24 outputs, each row through one
// of 5 elite members of 7, reporting GFLOP/s of the members evaluated.
func BenchmarkEnsembleRowForward(b *testing.B, e engine.Engine) {
	r := rand.New(rand.NewPCG(1, 2))
	const rows, ens, elites = 10000, 7, 5
	sizes := []int{14, 200, 200, 200, 200, 24}
	var layers []engine.EnsembleLayer
	var free []*engine.Tensor
	flops := 0.0
	for j := 0; j+1 < len(sizes); j++ {
		w := benchTensor(e, r, ens, sizes[j], sizes[j+1])
		bias := benchTensor(e, r, ens, 1, sizes[j+1])
		act := engine.SiLU
		if j+2 == len(sizes) {
			act = engine.Identity
		}
		layers = append(layers, engine.EnsembleLayer{W: w, B: bias, Act: act})
		free = append(free, w, bias)
		flops += 2 * float64(sizes[j]*sizes[j+1])
	}
	x := benchTensor(e, r, rows, sizes[0])
	y := e.New(engine.Float32, rows, sizes[len(sizes)-1])
	pick, members := e.New(engine.Int32, rows), e.New(engine.Int32, elites)
	e.UploadInt32(members, []int32{0, 2, 3, 5, 6})
	e.RandInt(pick, engine.NewRNG(3), elites)
	ws := engine.NewEnsembleRowWorkspace(e, rows, engine.EnsembleWidth(layers))
	defer func() {
		for _, t := range append(free, x, y, pick, members) {
			e.Free(t)
		}
		ws.Free(e)
	}()
	engine.EnsembleRowForward(e, y, x, pick, members, layers, ws) // warm up
	e.Sync()
	b.ResetTimer()
	for b.Loop() {
		engine.EnsembleRowForward(e, y, x, pick, members, layers, ws)
	}
	e.Sync()
	b.ReportMetric(flops*rows*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
