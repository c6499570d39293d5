package cpu

import (
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/engine/enginetest"
)

// The conformance suite (enginetest.Run, from engine/enginetest) checks
// EnsembleRowForward's values; this file checks what is the CPU engine's
// own: that a member id out of range panics, as its doc promises.

func TestEnsembleRowForwardBadMemberPanics(t *testing.T) {
	e := New()
	defer e.Close()
	layer := engine.EnsembleLayer{W: e.New(engine.Float32, 3, 2, 4), B: e.New(engine.Float32, 3, 1, 4), Act: engine.ReLU}
	x, y := e.New(engine.Float32, 5, 2), e.New(engine.Float32, 5, 4)
	pick, members := e.New(engine.Int32, 5), e.New(engine.Int32, 2)
	ws := engine.NewEnsembleRowWorkspace(e, 5, 4)
	for _, c := range []struct {
		name           string
		picks, members []int32
		table          bool
		want           string
	}{
		{"member", []int32{0, 1, 2, 3, 0}, nil, false, "member 3 of row 3 out of range [0, 3)"},
		{"negative", []int32{0, -1, 2, 0, 0}, nil, false, "member -1 of row 1"},
		{"pick", []int32{0, 1, 2, 0, 0}, []int32{2, 0}, true, "pick 2 of row 2 out of range [0, 2)"},
		{"table", []int32{0, 1, 1, 0, 0}, []int32{2, 7}, true, "member 7 of row 1 out of range [0, 3)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.UploadInt32(pick, c.picks)
			var mt *engine.Tensor
			if c.table {
				e.UploadInt32(members, c.members)
				mt = members
			}
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("did not panic")
				}
				if msg, _ := p.(string); !strings.Contains(msg, c.want) {
					t.Errorf("panic %q, want it to contain %q", p, c.want)
				}
			}()
			engine.EnsembleRowForward(e, y, x, pick, mt, []engine.EnsembleLayer{layer}, ws)
		})
	}
}

// BenchmarkEnsembleRowForward times MBPO's rollout shape (see
// enginetest.BenchmarkEnsembleRowForward).
func BenchmarkEnsembleRowForward(b *testing.B) { enginetest.BenchmarkEnsembleRowForward(b, New()) }
