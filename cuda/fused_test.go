//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/cpu"
	"github.com/imago-rl/imago/engine/enginetest"
)

// The conformance suite (TestConformance) checks EnsembleRowForward's
// values on small cases against a float64 reference. The tests below are the
// CUDA engine's own: agreement with the CPU engine and the float64
// reference on the shapes MBPO runs, down every path (the fused MLP kernel
// and the per-layer one, the sort in one chunk and in several), the order
// the sort leaves, bitwise reproducibility, rows with an out-of-range pick,
// and that a call neither moves data between host and device nor
// allocates.
//
// Inputs are fresh each run, drawn from a seed that each test logs; setting
// IMAGO_TEST_SEED to it reproduces a failure, as in enginetest.

// rowTol bounds the difference of each output from the CPU engine's and
// from the float64 reference, relative to the larger of its magnitude and
// the RMS of all outputs (an output near 0 has no relative accuracy to
// speak of). Both engines compute in float32 from the same inputs and differ
// only in the order of their sums (this engine's fmaf chain in k order, the
// CPU BLAS's blocking), a few u = 2⁻²⁴ ≈ 6e-8 times √K for the K ≤ 300
// terms of each sum: about 1e-6 per layer, which layers of weights scaled by
// 1/√In carry through without growth, so 1e-5 after MBPO's five. 1e-4 leaves
// a margin of 10 and is still far below what a wrong member, row or weight
// does to an output, which is of the order of the output itself.
const rowTol = 1e-4

// rowRand returns the source of t's inputs, keyed by t's name: fresh each
// run unless IMAGO_TEST_SEED sets the seed, which it logs.
func rowRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64() // math/rand/v2's global source is seeded from the OS, not the clock
	if v := os.Getenv(enginetest.SeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 0, 64); err != nil {
			t.Fatalf("%s=%q: %v", enginetest.SeedEnv, v, err)
		}
	}
	t.Logf("input seed %d (set %s=%d to reproduce)", seed, enginetest.SeedEnv, seed)
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// rowInputs is the host copy of one EnsembleRowForward problem.
type rowInputs struct {
	ens   int
	sizes []int // [In, hidden…, Out]
	acts  []engine.Activation
	w, b  [][]float32 // layer l: [ens, sizes[l], sizes[l+1]] and [ens, sizes[l+1]]
	x     []float32   // [rows, In]
	pick  []int32
	table []int32 // the members pick indexes, or nil: pick holds member ids
}

func (in *rowInputs) rows() int { return len(in.pick) }
func (in *rowInputs) out() int  { return in.sizes[len(in.sizes)-1] }

// member returns row i's member, or −1 when its pick or member is out of
// range.
func (in *rowInputs) member(i int) int {
	m := int(in.pick[i])
	if in.table != nil {
		if m < 0 || m >= len(in.table) {
			return -1
		}
		m = int(in.table[m])
	}
	if m < 0 || m >= in.ens {
		return -1
	}
	return m
}

// newRowInputs draws a problem: x uniform in [−1, 1], weights uniform in
// ±√(3/In), which keeps the variance of a linear layer's outputs that of
// its inputs, biases in [−0.5, 0.5], and picks uniform in [0, picks) (ens
// when picks is 0) unless draw is given. acts defaults to the hidden layers
// cycling through every activation and a linear last layer.
func newRowInputs(r *rand.Rand, rows, ens, picks int, sizes []int, acts []engine.Activation, draw func(r *rand.Rand) int32) *rowInputs {
	in := &rowInputs{ens: ens, sizes: sizes, acts: acts}
	nl := len(sizes) - 1
	if in.acts == nil {
		cycle := []engine.Activation{engine.SiLU, engine.Tanh, engine.ReLU, engine.Softplus, engine.Sigmoid, engine.Identity}
		for l := range nl {
			in.acts = append(in.acts, cycle[l%len(cycle)])
		}
		in.acts[nl-1] = engine.Identity
	}
	uniform := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return v
	}
	for l := range nl {
		s := math.Sqrt(3 / float64(sizes[l]))
		in.w = append(in.w, uniform(ens*sizes[l]*sizes[l+1], -s, s))
		in.b = append(in.b, uniform(ens*sizes[l+1], -0.5, 0.5))
	}
	in.x = uniform(rows*sizes[0], -1, 1)
	n := ens
	if picks > 0 {
		n = picks
		in.table = make([]int32, picks)
		for i, m := range r.Perm(ens)[:picks] {
			in.table[i] = int32(m)
		}
	}
	in.pick = make([]int32, rows)
	for i := range in.pick {
		if draw != nil {
			in.pick[i] = draw(r)
		} else {
			in.pick[i] = int32(r.IntN(n))
		}
	}
	return in
}

// rowReference returns the outputs in float64, NaN for rows whose pick or
// member is out of range.
func rowReference(in *rowInputs) []float64 {
	out := in.out()
	y := make([]float64, in.rows()*out)
	for i := range in.rows() {
		m := in.member(i)
		if m < 0 {
			for j := range out {
				y[i*out+j] = math.NaN()
			}
			continue
		}
		h := float64s(in.x[i*in.sizes[0] : (i+1)*in.sizes[0]])
		for l, f := range in.acts {
			ni, no := in.sizes[l], in.sizes[l+1]
			w, b := in.w[l][m*ni*no:(m+1)*ni*no], in.b[l][m*no:(m+1)*no]
			next := float64s(b)
			for k, hk := range h {
				for j, wkj := range w[k*no : (k+1)*no] {
					next[j] += hk * float64(wkj)
				}
			}
			for j, v := range next {
				next[j] = rowAct64(f, v)
			}
			h = next
		}
		copy(y[i*out:], h)
	}
	return y
}

func rowAct64(f engine.Activation, v float64) float64 {
	switch f {
	case engine.ReLU:
		return max(v, 0)
	case engine.SiLU:
		return v / (1 + math.Exp(-v))
	case engine.Tanh:
		return math.Tanh(v)
	case engine.Sigmoid:
		return 1 / (1 + math.Exp(-v))
	case engine.Softplus:
		return max(v, 0) + math.Log1p(math.Exp(-math.Abs(v)))
	}
	return v
}

// rowTensors holds a problem on an engine.
type rowTensors struct {
	y, x, pick, members *engine.Tensor
	layers              []engine.EnsembleLayer
	ws                  *engine.EnsembleRowWorkspace
	owned               []*engine.Tensor
}

// uploadRows puts in on e with y filled with yInit, in a workspace a little
// larger than needed, so that nothing relies on its exact size.
func uploadRows(e engine.Engine, in *rowInputs, yInit float32) *rowTensors {
	d := &rowTensors{}
	f32 := func(v []float32, shape ...int) *engine.Tensor {
		t := e.New(engine.Float32, shape...)
		if len(v) > 0 {
			e.Upload(t, v)
		}
		d.owned = append(d.owned, t)
		return t
	}
	i32 := func(v []int32) *engine.Tensor {
		t := e.New(engine.Int32, len(v))
		if len(v) > 0 {
			e.UploadInt32(t, v)
		}
		d.owned = append(d.owned, t)
		return t
	}
	n := in.rows()
	d.x = f32(in.x, n, in.sizes[0])
	d.y = f32(slices.Repeat([]float32{yInit}, n*in.out()), n, in.out())
	d.pick = i32(in.pick)
	if in.table != nil {
		d.members = i32(in.table)
	}
	for l, f := range in.acts {
		d.layers = append(d.layers, engine.EnsembleLayer{
			W:   f32(in.w[l], in.ens, in.sizes[l], in.sizes[l+1]),
			B:   f32(in.b[l], in.ens, 1, in.sizes[l+1]),
			Act: f,
		})
	}
	d.ws = engine.NewEnsembleRowWorkspace(e, n+5, engine.EnsembleWidth(d.layers)+3)
	return d
}

func (d *rowTensors) free(e engine.Engine) {
	for _, t := range d.owned {
		e.Free(t)
	}
	d.ws.Free(e)
}

// rowPath is one way through the CUDA engine's EnsembleRowForward.
type rowPath struct {
	name string
	run  func(g *Engine, d *rowTensors)
}

// planned returns the path through the engine by plan.
func planned(name string, plan rowPlan) rowPath {
	return rowPath{name, func(g *Engine, d *rowTensors) {
		g.ensembleRowForward(d.y, d.x, d.pick, d.members, d.layers, d.ws, plan)
	}}
}

// rowPaths are the engine's choice (the fused kernel where the network fits
// it, the sort in one chunk up to 4096 rows), the per-layer kernel, and
// both with the sort in chunks of 64 rows.
var rowPaths = []rowPath{
	{"engine", func(g *Engine, d *rowTensors) {
		g.EnsembleRowForward(d.y, d.x, d.pick, d.members, d.layers, d.ws)
	}},
	planned("per-layer", rowPlan{}),
	planned("chunked", rowPlan{fusedLayers: rowMLPMaxLayers, fusedWidth: rowMLPMaxWidth, sortChunk: 64}),
	planned("chunked/per-layer", rowPlan{sortChunk: 64}),
}

// runRows runs in on g by path p and returns y, which starts as NaN, and
// the row order left in the workspace.
func runRows(g *Engine, p rowPath, in *rowInputs) (y []float32, perm []int32) {
	d := uploadRows(g, in, float32(math.NaN()))
	defer d.free(g)
	p.run(g, d)
	y = make([]float32, d.y.Len())
	g.Download(y, d.y)
	perm = make([]int32, in.rows())
	g.DownloadInt32(perm, d.ws.Perm.View(0, in.rows()))
	return y, perm
}

// runRowsCPU runs in on the CPU engine.
func runRowsCPU(in *rowInputs) []float32 {
	c := cpu.New()
	defer c.Close()
	d := uploadRows(c, in, float32(math.NaN()))
	defer d.free(c)
	engine.EnsembleRowForward(c, d.y, d.x, d.pick, d.members, d.layers, d.ws)
	y := make([]float32, d.y.Len())
	c.Download(y, d.y)
	return y
}

// checkRowsClose reports the outputs of got farther than rowTol from want
// (see rowTol). NaNs in want mark rows that are not checked.
func checkRowsClose(t *testing.T, what string, got []float32, want []float64, out int) {
	t.Helper()
	var ss float64
	n := 0
	for _, w := range want {
		if !math.IsNaN(w) {
			ss += w * w
			n++
		}
	}
	rms := math.Sqrt(ss / float64(max(n, 1)))
	var bad []string
	count, worst := 0, 0.0
	for i, w := range want {
		if math.IsNaN(w) {
			continue
		}
		scale := max(math.Abs(w), rms)
		d := math.Abs(float64(got[i])-w) / scale
		if !(d <= rowTol) { // NaN fails too
			count++
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("row %d column %d: %g, want %g", i/out, i%out, got[i], w))
			}
		}
		if !math.IsNaN(d) {
			worst = max(worst, d)
		}
	}
	if count > 0 {
		t.Errorf("%s: %d of %d outputs differ by more than %g: %s", what, count, n, rowTol, strings.Join(bad, "; "))
	} else {
		t.Logf("%s: largest relative difference %.2g", what, worst)
	}
}

func float64s(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

// sameRowBits reports the elements of got whose bits differ from want's.
func sameRowBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	count := 0
	var bad []string
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			count++
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("[%d] %g vs %g", i, got[i], want[i]))
			}
		}
	}
	if count > 0 {
		t.Errorf("%s: %d of %d elements differ: %s", what, count, len(want), strings.Join(bad, ", "))
	}
}

// sortedRows is the order ensemble_row_sort_i32 promises: the rows by
// member, stably, with the rows out of range last.
func sortedRows(in *rowInputs) []int32 {
	key := func(i int32) int {
		if m := in.member(int(i)); m >= 0 {
			return m
		}
		return in.ens
	}
	perm := make([]int32, in.rows())
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int { return key(a) - key(b) })
	return perm
}

// rowCases are the problems every path must solve: B rows, E members, a
// table of K elites (0: none), layer sizes, and optionally the activations
// and how picks are drawn.
var rowCases = []struct {
	name           string
	rows, ens, k   int
	sizes          []int
	acts           []engine.Activation
	draw           func(r *rand.Rand) int32
	paths          []rowPath // nil: all of rowPaths
	skipInShortRun bool
}{
	{name: "elites", rows: 300, ens: 7, k: 5, sizes: []int{14, 64, 64, 24}},
	{name: "no-table", rows: 200, ens: 3, sizes: []int{5, 40, 3}},
	// Member 1 gets no rows: the sort must leave it an empty range.
	{name: "idle-member", rows: 150, ens: 4, sizes: []int{6, 20, 4},
		draw: func(r *rand.Rand) int32 { return []int32{0, 2, 3}[r.IntN(3)] }},
	// Elites 2 and 4 of the table are never picked.
	{name: "idle-elites", rows: 150, ens: 7, k: 5, sizes: []int{6, 20, 4},
		draw: func(r *rand.Rand) int32 { return []int32{0, 1, 3}[r.IntN(3)] }},
	{name: "one-member", rows: 130, ens: 5, sizes: []int{9, 33, 2},
		draw: func(*rand.Rand) int32 { return 3 }},
	{name: "B=1", rows: 1, ens: 7, k: 5, sizes: []int{14, 200, 24}},
	// 77 rows fill neither kernel's tiles (32 and 64 rows) evenly.
	{name: "B=77", rows: 77, ens: 7, k: 5, sizes: []int{14, 50, 24}},
	{name: "In=1", rows: 100, ens: 3, sizes: []int{1, 17, 1}},
	// The widest network the fused kernel takes.
	{name: "width-256", rows: 70, ens: 3, k: 2, sizes: []int{16, 256, 256, 5}},
	// Wider than the fused kernel's 256 and the per-layer kernel's 64
	// columns: the engine takes the per-layer path.
	{name: "wide", rows: 90, ens: 4, k: 3, sizes: []int{20, 300, 130, 7}},
	// Deeper than the fused kernel's 8 layers: the per-layer path.
	{name: "deep", rows: 70, ens: 3, sizes: []int{4, 12, 12, 12, 12, 12, 12, 12, 12, 12, 3}},
	// MBPO's dynamics model: 14 inputs (Hopper's 11 observations and 3
	// actions), 4×200 SiLU, 24 outputs (the mean and log-variance of 12
	// targets), 5 elites of 7.
	{name: "MBPO", rows: 5000, ens: 7, k: 5, sizes: []int{14, 200, 200, 200, 200, 24},
		acts:  []engine.Activation{engine.SiLU, engine.SiLU, engine.SiLU, engine.SiLU, engine.Identity},
		paths: rowPaths[:2], skipInShortRun: true}, // 5000 rows are two chunks of the sort already
}

// TestFusedEnsembleRowMatchesCPU runs every case down every path and
// compares each with the CPU engine and the float64 reference, and the
// paths with each other bit for bit: they compute every output by the same
// chain of float32 operations. It also checks the order the sort leaves in
// the workspace.
func TestFusedEnsembleRowMatchesCPU(t *testing.T) {
	g := openEngine(t)
	for _, c := range rowCases {
		t.Run(c.name, func(t *testing.T) {
			if c.skipInShortRun && testing.Short() {
				t.Skip("-short")
			}
			r := rowRand(t)
			in := newRowInputs(r, c.rows, c.ens, c.k, c.sizes, c.acts, c.draw)
			ref, host := rowReference(in), float64s(runRowsCPU(in))
			paths := c.paths
			if paths == nil {
				paths = rowPaths
			}
			var first []float32
			for _, p := range paths {
				y, perm := runRows(g, p, in)
				checkRowsClose(t, p.name+" vs CPU engine", y, host, in.out())
				checkRowsClose(t, p.name+" vs float64", y, ref, in.out())
				if first == nil {
					first = y
				} else {
					sameRowBits(t, p.name+" vs "+rowPaths[0].name, y, first)
				}
				if want := sortedRows(in); !slices.Equal(perm, want) {
					t.Errorf("%s: workspace Perm holds %v…, want the stable order by member %v…", p.name, firstRows(perm), firstRows(want))
				}
			}
		})
	}
}

func firstRows(v []int32) []int32 { return v[:min(len(v), 12)] }

// TestFusedEnsembleRowPermutationInvariant shuffles the rows: each row's
// output must be bitwise the same wherever the row is, though the shuffle
// moves it to another place in the sorted order, another block and another
// run of its member.
func TestFusedEnsembleRowPermutationInvariant(t *testing.T) {
	g := openEngine(t)
	r := rowRand(t)
	for _, sizes := range [][]int{{14, 48, 24}, {9, 270, 5}} {
		in := newRowInputs(r, 333, 7, 5, sizes, nil, nil)
		sigma := r.Perm(in.rows())
		moved := *in
		moved.x = make([]float32, len(in.x))
		moved.pick = make([]int32, len(in.pick))
		for i, s := range sigma {
			copy(moved.x[s*sizes[0]:(s+1)*sizes[0]], in.x[i*sizes[0]:(i+1)*sizes[0]])
			moved.pick[s] = in.pick[i]
		}
		for _, p := range rowPaths {
			y, _ := runRows(g, p, in)
			ym, _ := runRows(g, p, &moved)
			back := make([]float32, len(y))
			out := in.out()
			for i, s := range sigma {
				copy(back[i*out:(i+1)*out], ym[s*out:(s+1)*out])
			}
			checkRowsClose(t, fmt.Sprintf("%v %s", sizes, p.name), y, rowReference(in), out)
			sameRowBits(t, fmt.Sprintf("%v %s: shuffled rows", sizes, p.name), back, y)
		}
	}
}

// TestFusedEnsembleRowBadPicks gives rows an out-of-range pick or member:
// the call must not fail, those rows of y keep what they held, and every
// other row is right.
func TestFusedEnsembleRowBadPicks(t *testing.T) {
	g := openEngine(t)
	r := rowRand(t)
	const sentinel = -1234.5
	for _, c := range []struct {
		name  string
		k     int
		table []int32
		picks []int32 // drawn from
	}{
		{"table", 3, []int32{4, 0, 9}, []int32{-1, 0, 1, 2, 3}},      // pick −1 and 3 past the table, member 9 past E
		{"no-table", 0, nil, []int32{-2, 0, 1, 2, 3, 4, 5, 1 << 30}}, // members −2, 5 and 2³⁰ past E
	} {
		in := newRowInputs(r, 150, 5, c.k, []int{6, 30, 4}, nil,
			func(r *rand.Rand) int32 { return c.picks[r.IntN(len(c.picks))] })
		if c.table != nil {
			in.table = c.table
		}
		ref := rowReference(in)
		for _, p := range rowPaths {
			t.Run(c.name+"/"+p.name, func(t *testing.T) {
				d := uploadRows(g, in, sentinel)
				defer d.free(g)
				p.run(g, d)
				y := make([]float32, d.y.Len())
				g.Download(y, d.y)
				checkRowsClose(t, "valid rows", y, ref, in.out())
				bad, written := 0, []string{}
				for i := range in.rows() {
					if in.member(i) >= 0 {
						continue
					}
					bad++
					if row := y[i*in.out() : (i+1)*in.out()]; slices.ContainsFunc(row, func(v float32) bool { return v != sentinel }) {
						written = append(written, fmt.Sprintf("row %d (pick %d): %v", i, in.pick[i], row))
					}
				}
				if bad == 0 {
					t.Fatal("no row has an out-of-range pick: the test tests nothing")
				}
				if len(written) > 0 {
					t.Errorf("%d of %d rows out of range were written, want them left at %g: %s",
						len(written), bad, float32(sentinel), strings.Join(written[:min(len(written), 3)], "; "))
				}
				perm := make([]int32, in.rows())
				g.DownloadInt32(perm, d.ws.Perm.View(0, in.rows()))
				if want := sortedRows(in); !slices.Equal(perm, want) {
					t.Errorf("workspace Perm holds %v, want %v (out-of-range rows last)", perm, want)
				}
			})
		}
	}
}

// tallyDevice counts what passes through a device: copies each way,
// allocations and the kernels launched.
type tallyDevice struct {
	device
	htod, dtoh, dtod, allocs int
	kernels                  []string
}

func (d *tallyDevice) Alloc(bytes int) (uintptr, error) {
	d.allocs++
	return d.device.Alloc(bytes)
}

func (d *tallyDevice) CopyHtoD(dst uintptr, src unsafe.Pointer, bytes int) error {
	d.htod++
	return d.device.CopyHtoD(dst, src, bytes)
}

func (d *tallyDevice) CopyDtoH(dst unsafe.Pointer, src uintptr, bytes int) error {
	d.dtoh++
	return d.device.CopyDtoH(dst, src, bytes)
}

func (d *tallyDevice) CopyDtoD(dst, src uintptr, bytes int) error {
	d.dtod++
	return d.device.CopyDtoD(dst, src, bytes)
}

func (d *tallyDevice) Launch(kernel string, grid, block Dim3, sharedBytes int, args ...uint64) error {
	d.kernels = append(d.kernels, kernel)
	return d.device.Launch(kernel, grid, block, sharedBytes, args...)
}

func (d *tallyDevice) Close() error { return nil } // the engine that lent it closes it

// reset clears the counts.
func (d *tallyDevice) reset() { d.htod, d.dtoh, d.dtod, d.allocs, d.kernels = 0, 0, 0, 0, nil }

// TestFusedEnsembleRowNoTransfers checks that a call copies nothing
// between host and device (nor within it), allocates no device memory, not
// even from the engine's cache, and launches the kernels it documents: the
// sort (with its count when there are several chunks) and the fused MLP, or
// one kernel per layer.
func TestFusedEnsembleRowNoTransfers(t *testing.T) {
	base := openEngine(t)
	dev := &tallyDevice{device: base.dev}
	g := newEngine("counting", dev)
	defer g.Close()
	r := rowRand(t)
	const count, sort, mlp, layer = "ensemble_row_count_i32", "ensemble_row_sort_i32", "ensemble_row_mlp_f32", "ensemble_row_layer_f32"
	fused := []string{sort, mlp}
	perLayer := func(layers int) []string { return append([]string{sort}, slices.Repeat([]string{layer}, layers)...) }
	mbpo := []int{14, 40, 40, 24}
	for _, c := range []struct {
		name      string
		rows, ens int
		sizes     []int
		path      rowPath
		kernels   []string
	}{
		{"fused", 100, 7, mbpo, rowPaths[0], fused},
		{"per-layer", 100, 7, mbpo, rowPaths[1], perLayer(3)},
		{"chunked", 100, 7, mbpo, rowPaths[2], []string{count, sort, mlp}},
		// One chunk of the default size, 4096 rows, and two.
		{"4096-rows", 4096, 7, []int{3, 4, 2}, rowPaths[0], fused},
		{"4097-rows", 4097, 7, []int{3, 4, 2}, rowPaths[0], []string{count, sort, mlp}},
		// Chunks whose counts (32 of 2,001 members) overflow ws.A (1,005
		// rows of 4): the sort takes them in one.
		{"counts-past-workspace", 1000, 2000, []int{1, 1}, planned("chunked", rowPlan{fusedLayers: 1, fusedWidth: 1, sortChunk: 32}), fused},
		// The fused kernel's limits, 256 wide and 8 layers deep, and one
		// past each.
		{"width-256", 100, 7, []int{3, 256, 2}, rowPaths[0], fused},
		{"width-257", 100, 7, []int{3, 257, 2}, rowPaths[0], perLayer(2)},
		{"8-layers", 100, 7, slices.Repeat([]int{5}, 9), rowPaths[0], fused},
		{"9-layers", 100, 7, slices.Repeat([]int{5}, 10), rowPaths[0], perLayer(9)},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newRowInputs(r, c.rows, c.ens, 0, c.sizes, nil, nil)
			d := uploadRows(g, in, 0)
			defer d.free(g)
			for call := range 2 {
				before := g.Stats()
				dev.reset()
				c.path.run(g, d)
				if dev.htod != 0 || dev.dtoh != 0 || dev.dtod != 0 {
					t.Errorf("call %d copied %d times to the device, %d from it and %d within it; want no copies",
						call, dev.htod, dev.dtoh, dev.dtod)
				}
				if after := g.Stats(); dev.allocs != 0 || after != before {
					t.Errorf("call %d: %d device allocations, allocator stats went from %+v to %+v; want no allocation",
						call, dev.allocs, before, after)
				}
				if !slices.Equal(dev.kernels, c.kernels) {
					t.Errorf("call %d launched %v, want %v", call, dev.kernels, c.kernels)
				}
			}
			y := make([]float32, d.y.Len())
			g.Download(y, d.y)
			checkRowsClose(t, "y", y, rowReference(in), in.out())
			perm := make([]int32, in.rows())
			g.DownloadInt32(perm, d.ws.Perm.View(0, in.rows()))
			if want := sortedRows(in); !slices.Equal(perm, want) {
				t.Errorf("workspace Perm holds %v…, want the stable order by member %v…", firstRows(perm), firstRows(want))
			}
		})
	}

	// No rows: nothing to launch.
	t.Run("no-rows", func(t *testing.T) {
		in := newRowInputs(r, 0, 3, 0, []int{4, 8, 2}, nil, nil)
		d := uploadRows(g, in, 0)
		defer d.free(g)
		dev.reset()
		rowPaths[0].run(g, d)
		if dev.htod+dev.dtoh+dev.dtod+dev.allocs != 0 || len(dev.kernels) != 0 {
			t.Errorf("a call on 0 rows copied (%d, %d, %d), allocated %d and launched %v; want nothing",
				dev.htod, dev.dtoh, dev.dtod, dev.allocs, dev.kernels)
		}
	})
}

// TestFusedEnsembleRowManyChunks sorts in chunks of one row, which the
// engine raises to the fewest rows that keep the chunks to 1024: each
// block of the sort then reads 1024 chunks' counts.
func TestFusedEnsembleRowManyChunks(t *testing.T) {
	g := openEngine(t)
	in := newRowInputs(rowRand(t), 3000, 7, 5, []int{5, 9, 3}, nil, nil)
	y, perm := runRows(g, planned("1-row-chunks", rowPlan{fusedLayers: 8, fusedWidth: 256, sortChunk: 1}), in)
	checkRowsClose(t, "y", y, rowReference(in), in.out())
	if want := sortedRows(in); !slices.Equal(perm, want) {
		t.Errorf("workspace Perm holds %v…, want the stable order by member %v…", firstRows(perm), firstRows(want))
	}
}

// TestFusedEnsembleRowLargeEnsemble runs the largest ensemble whose counts
// the sort's shared memory holds, and one member more, which takes the
// generic path with its host round trip. Both must be right; only the
// second may copy.
func TestFusedEnsembleRowLargeEnsemble(t *testing.T) {
	base := openEngine(t)
	dev := &tallyDevice{device: base.dev}
	g := newEngine("counting", dev)
	defer g.Close()
	largest := rowSortSharedInts/3 - 1 // a block of one warp: (1 + 2)·(E + 1) ints
	if rowSortWarps(largest) != 1 || rowSortWarps(largest+1) != 0 {
		t.Fatalf("rowSortWarps(%d) = %d and (%d) = %d, want 1 and 0",
			largest, rowSortWarps(largest), largest+1, rowSortWarps(largest+1))
	}
	r := rowRand(t)
	for _, ens := range []int{largest, largest + 1} {
		t.Run(fmt.Sprintf("E=%d", ens), func(t *testing.T) {
			in := newRowInputs(r, 64, ens, 0, []int{2, 3, 1}, nil, nil)
			in.pick[0], in.pick[1] = 0, int32(ens-1) // the first and the last member
			d := uploadRows(g, in, float32(math.NaN()))
			defer d.free(g)
			dev.reset()
			rowPaths[0].run(g, d)
			copies := dev.htod + dev.dtoh
			y := make([]float32, d.y.Len())
			g.Download(y, d.y)
			checkRowsClose(t, "y vs float64", y, rowReference(in), in.out())
			checkRowsClose(t, "y vs CPU engine", y, float64s(runRowsCPU(in)), in.out())
			if fallback := ens > largest; fallback != (copies > 0) {
				t.Errorf("%d members: %d copies between host and device, want them only past %d members", ens, copies, largest)
			}
		})
	}
}
