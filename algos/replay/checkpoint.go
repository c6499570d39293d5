package replay

import (
	"fmt"

	"github.com/imago-rl/imago/algos/checkpoint"
)

// bufferState is the host part of a Buffer's checkpoint.
type bufferState struct {
	Capacity int `json:"capacity"`
	ObsDim   int `json:"obs_dim"`
	ActDim   int `json:"act_dim"`
	Size     int `json:"size"`
	Next     int `json:"next"`
}

var fieldNames = [5]string{"obs", "act", "reward", "next_obs", "terminated"}

// Save puts the buffer's contents and ring position into s under name.
func (b *Buffer) Save(s *checkpoint.State, name string) {
	for i, t := range b.fields() {
		s.PutDevice(name+"."+fieldNames[i], b.eng, t)
	}
	// A bufferState always marshals.
	_ = s.PutValue(name, bufferState{Capacity: b.capacity, ObsDim: b.obsDim, ActDim: b.actDim, Size: b.size, Next: b.next})
}

// Load restores what Save put into s under name into b, which must have the
// same capacity and sizes.
func (b *Buffer) Load(s *checkpoint.State, name string) error {
	var st bufferState
	if err := s.Value(name, &st); err != nil {
		return err
	}
	if st.Capacity != b.capacity || st.ObsDim != b.obsDim || st.ActDim != b.actDim {
		return fmt.Errorf("%s: a buffer of %d transitions of %d+%d values, not %d of %d+%d",
			name, st.Capacity, st.ObsDim, st.ActDim, b.capacity, b.obsDim, b.actDim)
	}
	if st.Size < 0 || st.Size > st.Capacity || st.Next < 0 || st.Next >= st.Capacity || (st.Size < st.Capacity && st.Next != st.Size) {
		return fmt.Errorf("%s: ring position size %d, next %d is impossible for capacity %d", name, st.Size, st.Next, st.Capacity)
	}
	for i, t := range b.fields() {
		if err := s.Device(name+"."+fieldNames[i], b.eng, t); err != nil {
			return err
		}
	}
	b.size, b.next = st.Size, st.Next
	return nil
}
