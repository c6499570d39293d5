package checkpoint

import (
	"testing"
)

// BenchmarkSave writes a checkpoint of SAC's size on Pendulum-v1 after
// 10⁶ steps: a full replay buffer of 10⁶ transitions (9 float32 each) and
// about 0.6 M parameters with their Adam moments, about 43 MB.
func BenchmarkSave(b *testing.B) {
	s := NewState()
	s.PutTensor("replay", []int{1_000_000, 9}, make([]float32, 9_000_000))
	s.PutTensor("params", []int{600_000, 3}, make([]float32, 1_800_000))
	dir := b.TempDir()
	b.SetBytes(4 * 10_800_000)
	b.ResetTimer()
	for i := range b.N {
		if _, err := Save(dir, Meta{Algo: "sac", Env: "Pendulum-v1", Step: i + 1}, s, 2); err != nil {
			b.Fatal(err)
		}
	}
}
