package engine

import "fmt"

// Fused ops. An engine may implement any of the optional interfaces below to
// run a hot path in fewer launches; the package-level function of the same
// name uses the engine's fused op when it has one and otherwise composes the
// primitives. Both must give the same result within float32 rounding, which
// enginetest checks.

// Linearer is implemented by engines with a fused dense-layer forward.
type Linearer interface {
	// Linear has the contract of the function Linear.
	Linear(f Activation, y, x, w, b *Tensor)
}

// Linear computes the forward pass of a dense layer batched over ensemble
// members, y = f(x·w + b): x is [E, B, In] (E may be 1, shared by every
// member), w is [E, In, Out], b is [E, 1, Out] and y is [E, B, Out]. y must
// not overlap x, w or b.
func Linear(e Engine, f Activation, y, x, w, b *Tensor) {
	if l, ok := e.(Linearer); ok {
		l.Linear(f, y, x, w, b)
		return
	}
	e.Gemm(false, false, 1, x, w, 0, y)
	e.Binary(Add, y, y, b)
	if f != Identity {
		e.Activate(f, y, y)
	}
}

// EnsembleLayer is one dense layer of an ensemble MLP as the per-row ops
// read it: weight W [E, In, Out], bias B with E·Out elements ([E, 1, Out])
// and activation Act, y = Act(x·W[m] + B[m]) for member m. nn.Dense holds
// its parameters in this layout.
type EnsembleLayer struct {
	W, B *Tensor
	Act  Activation
}

// EnsembleRowWorkspace is the scratch of EnsembleRowForward for up to
// MaxRows rows through layers at most Width wide: A and B hold a batch of
// hidden activations each, Perm the order of the rows sorted by member. Its
// contents are undefined after a call; between calls the caller may use A
// and B as scratch of its own (model rollouts run the policy through them).
// The host slices of the generic path live here too, so that no call
// allocates.
type EnsembleRowWorkspace struct {
	MaxRows, Width int
	Perm           *Tensor // Int32 [MaxRows]
	A, B           *Tensor // Float32 [MaxRows, Width]

	pick, table, perm []int32 // host scratch of the generic path
	counts            []int
}

// NewEnsembleRowWorkspace allocates a workspace on e for maxRows rows and
// layers at most width wide (the widest input or output of any layer). It
// panics unless both are positive.
func NewEnsembleRowWorkspace(e Engine, maxRows, width int) *EnsembleRowWorkspace {
	if maxRows <= 0 || width <= 0 {
		panic(fmt.Sprintf("engine: NewEnsembleRowWorkspace: %d rows of width %d, want both positive", maxRows, width))
	}
	return &EnsembleRowWorkspace{
		MaxRows: maxRows, Width: width,
		Perm: e.New(Int32, maxRows),
		A:    e.New(Float32, maxRows, width),
		B:    e.New(Float32, maxRows, width),
	}
}

// Free releases the workspace's device memory.
func (w *EnsembleRowWorkspace) Free(e Engine) {
	e.Free(w.Perm)
	e.Free(w.A)
	e.Free(w.B)
}

// EnsembleWidth returns the width a workspace needs for layers: the widest
// input or output among them.
func EnsembleWidth(layers []EnsembleLayer) int {
	w := 0
	for _, l := range layers {
		_, in, out := l.W.Batch3()
		w = max(w, in, out)
	}
	return w
}

// EnsembleRowForwarder is implemented by engines that evaluate an ensemble
// MLP with a member chosen per row without a host round trip.
type EnsembleRowForwarder interface {
	// EnsembleRowForward has the contract of the function
	// EnsembleRowForward.
	EnsembleRowForward(y, x, pick, members *Tensor, layers []EnsembleLayer, ws *EnsembleRowWorkspace)
}

// EnsembleRowForward runs every row of x through one member of an ensemble
// MLP, the member chosen per row: with m = members[pick[i]] (m = pick[i]
// when members is nil),
//
//	h₀ = x[i],  h_{l+1} = layers[l].Act(h_l·layers[l].W[m] + layers[l].B[m]),  y[i] = h_L.
//
// x is [B, In] with In the first layer's input size, y [B, Out] with Out
// the last layer's output size, pick an Int32 tensor of B indices and
// members nil or an Int32 tensor of K member ids in [0, E) into which pick
// indexes (model rollouts pass the elite members and draw pick with
// RandInt(K)). The layers chain (each one's In is the previous one's Out)
// and share E. ws holds at least B rows of the widest layer. y must not
// overlap x, the layers or ws; x must not overlap ws. Only the chosen
// member is evaluated for a row: the work is that of one B-row MLP, not E.
//
// A pick or member id out of range is a programmer error: the CPU engine
// and the generic path panic, other engines leave the row undefined.
//
// The generic path, for engines without a fused op, sorts the rows by
// member on the host: it downloads pick and members (4·(B+K) bytes),
// uploads the permutation (4·B bytes), gathers x in member order, runs each
// member's contiguous block of rows through Linear layer by layer, and
// scatters the result into y. That is one host round trip per call (the
// only data this package's functions move off the device behind a call):
// for B = 10⁵ rows, 400 KB each way and a wait for the stream to drain,
// which on a GPU should cost well under a millisecond (an estimate, not yet
// measured) against the GEMMs of a 10⁵-row MLP, and which fused
// implementations avoid. The alternative without a round trip, evaluating
// every member on every row and selecting, does E times the work (7× in
// MBPO), which is what this op exists to avoid.
func EnsembleRowForward(e Engine, y, x, pick, members *Tensor, layers []EnsembleLayer, ws *EnsembleRowWorkspace) {
	if f, ok := e.(EnsembleRowForwarder); ok {
		f.EnsembleRowForward(y, x, pick, members, layers, ws)
		return
	}
	n, ens := CheckEnsembleRowForward(y, x, pick, members, layers, ws)
	if n == 0 {
		return
	}

	// Sort the rows by member on the host: a stable counting sort, so that
	// the order (and so the result) depends on the picks alone.
	p := grow(&ws.pick, n)
	e.DownloadInt32(p, pick)
	var table []int32
	if members != nil {
		table = grow(&ws.table, members.Len())
		e.DownloadInt32(table, members)
	}
	perm := grow(&ws.perm, n)
	starts := SortRowsByMember(perm, p, table, ens, growInts(&ws.counts, ens+1), "EnsembleRowForward")
	permT := ws.Perm.View(0, n)
	e.UploadInt32(permT, perm)

	in := layers[0].W.Dim(1)
	cur, nxt := ws.A, ws.B
	e.Gather(cur.View(0, n*in), x, permT)
	for _, l := range layers {
		_, lin, lout := l.W.Batch3()
		for m := range ens {
			lo, hi := starts[m], starts[m+1]
			if lo == hi {
				continue
			}
			Linear(e, l.Act,
				nxt.View(lo*lout, hi-lo, lout),
				cur.View(lo*lin, hi-lo, lin),
				l.W.View(m*lin*lout, lin, lout),
				l.B.View(m*lout, 1, lout))
		}
		cur, nxt = nxt, cur
	}
	out := layers[len(layers)-1].W.Dim(-1)
	e.Scatter(y, cur.View(0, n*out), permT)
}

// SortRowsByMember sets perm to the rows 0..len(pick)−1 ordered by their
// member, m = table[pick[i]] (pick[i] itself when table is nil), stably, and
// returns the boundaries: member m's rows are perm[starts[m]:starts[m+1]].
// counts has e+1 elements and becomes starts. It panics, naming op, if a
// pick or a member id is out of range for an ensemble of e members.
// Host-side implementations of EnsembleRowForward share it.
func SortRowsByMember(perm, pick, table []int32, e int, counts []int, op string) (starts []int) {
	member := func(i int) int {
		k := pick[i]
		m := k
		if table != nil {
			if k < 0 || int(k) >= len(table) {
				panic(fmt.Sprintf("engine: %s: pick %d of row %d out of range [0, %d)", op, k, i, len(table)))
			}
			m = table[k]
		}
		if m < 0 || int(m) >= e {
			panic(fmt.Sprintf("engine: %s: member %d of row %d out of range [0, %d)", op, m, i, e))
		}
		return int(m)
	}
	clear(counts)
	for i := range pick {
		counts[member(i)+1]++
	}
	for m := 1; m <= e; m++ {
		counts[m] += counts[m-1]
	}
	// counts[m] is where member m's next row goes; after the pass it is
	// where member m's rows end, that is where member m+1's start.
	for i := range pick {
		m := member(i)
		perm[counts[m]] = int32(i)
		counts[m]++
	}
	copy(counts[1:], counts[:e])
	counts[0] = 0
	return counts
}

func grow(s *[]int32, n int) []int32 {
	if cap(*s) < n {
		*s = make([]int32, n)
	}
	return (*s)[:n]
}

func growInts(s *[]int, n int) []int {
	if cap(*s) < n {
		*s = make([]int, n)
	}
	return (*s)[:n]
}

// CheckEnsembleRowForward checks the operands of EnsembleRowForward and of
// an engine's EnsembleRowForwarder: layers is not empty; each W is Float32
// [E, In, Out] with positive sizes and the same E, each B Float32 with E·Out
// elements, the layers chain and their activations are known; x is Float32
// [B, In] and y Float32 [B, Out] for the first In and the last Out; pick is
// Int32 with B elements; members is nil or Int32 and not empty; ws has
// room for B rows of every layer; y is disjoint from x, the layers and ws,
// and x from ws. It returns B and E. Indices are not checked.
func CheckEnsembleRowForward(y, x, pick, members *Tensor, layers []EnsembleLayer, ws *EnsembleRowWorkspace) (rows, ens int) {
	const op = "EnsembleRowForward"
	if len(layers) == 0 {
		panic("engine: EnsembleRowForward: no layers")
	}
	if ws == nil {
		panic("engine: EnsembleRowForward: nil workspace")
	}
	var in0, prevOut int
	for i, l := range layers {
		checkActivation(op, l.Act)
		CheckDType(op, fmt.Sprintf("layers[%d].W", i), l.W, Float32)
		CheckDType(op, fmt.Sprintf("layers[%d].B", i), l.B, Float32)
		if l.W.Rank() != 3 {
			panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].W %v: want [E In Out]", i, l.W.shape))
		}
		e, in, out := l.W.Batch3()
		if e <= 0 || in <= 0 || out <= 0 {
			panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].W %v: sizes must be positive", i, l.W.shape))
		}
		if i == 0 {
			ens, in0 = e, in
		} else {
			if e != ens {
				panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].W %v and layers[0].W %v: ensemble sizes %d and %d differ",
					i, l.W.shape, layers[0].W.shape, e, ens))
			}
			if in != prevOut {
				panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].W %v does not follow layers[%d].W %v",
					i, l.W.shape, i-1, layers[i-1].W.shape))
			}
		}
		if l.B.n != e*out {
			panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].B %v for W %v: want %d elements ([%d 1 %d])",
				i, l.B.shape, l.W.shape, e*out, e, out))
		}
		if in > ws.Width || out > ws.Width {
			panic(fmt.Sprintf("engine: EnsembleRowForward: layers[%d].W %v is wider than the workspace's %d", i, l.W.shape, ws.Width))
		}
		prevOut = out
	}
	checkFloat32(op, []string{"y", "x"}, y, x)
	if x.Rank() != 2 || x.shape[1] != in0 {
		panic(fmt.Sprintf("engine: EnsembleRowForward: x %v for layers[0].W %v: want [B %d]", x.shape, layers[0].W.shape, in0))
	}
	rows = x.shape[0]
	if y.Rank() != 2 || y.shape[0] != rows || y.shape[1] != prevOut {
		panic(fmt.Sprintf("engine: EnsembleRowForward: y %v for x %v and layers[%d].W %v: want [%d %d]",
			y.shape, x.shape, len(layers)-1, layers[len(layers)-1].W.shape, rows, prevOut))
	}
	CheckDType(op, "pick", pick, Int32)
	if pick.n != rows {
		panic(fmt.Sprintf("engine: EnsembleRowForward: pick %v for x %v: want %d elements", pick.shape, x.shape, rows))
	}
	if members != nil {
		CheckDType(op, "members", members, Int32)
		if members.n == 0 {
			panic("engine: EnsembleRowForward: members is empty")
		}
	}
	if rows > ws.MaxRows {
		panic(fmt.Sprintf("engine: EnsembleRowForward: x %v has more rows than the workspace's %d", x.shape, ws.MaxRows))
	}
	CheckDisjoint(op, "y", y, "x", x)
	for i, l := range layers {
		CheckDisjoint(op, "y", y, fmt.Sprintf("layers[%d].W", i), l.W)
		CheckDisjoint(op, "y", y, fmt.Sprintf("layers[%d].B", i), l.B)
		CheckDisjoint(op, "workspace A", ws.A, fmt.Sprintf("layers[%d].W", i), l.W)
		CheckDisjoint(op, "workspace B", ws.B, fmt.Sprintf("layers[%d].W", i), l.W)
		CheckDisjoint(op, "workspace A", ws.A, fmt.Sprintf("layers[%d].B", i), l.B)
		CheckDisjoint(op, "workspace B", ws.B, fmt.Sprintf("layers[%d].B", i), l.B)
	}
	for _, t := range []struct {
		name string
		t    *Tensor
	}{{"workspace A", ws.A}, {"workspace B", ws.B}} {
		CheckDisjoint(op, "y", y, t.name, t.t)
		CheckDisjoint(op, "x", x, t.name, t.t)
	}
	CheckDisjoint(op, "pick", pick, "workspace Perm", ws.Perm)
	if members != nil {
		CheckDisjoint(op, "members", members, "workspace Perm", ws.Perm)
	}
	return rows, ens
}
