package engine_test

import (
	"fmt"
	"log"

	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu" // registers the "cpu" engine
)

// Open an engine by name, upload two matrices, multiply them on the
// device, apply a ReLU, and download the result. Open("auto") would pick
// the GPU in a binary built with -tags cuda on a machine that has one.
func Example() {
	eng, err := engine.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	a := eng.New(engine.Float32, 2, 3) // zeroed, then overwritten
	b := eng.New(engine.Float32, 3, 2)
	c := eng.New(engine.Float32, 2, 2)
	defer eng.Free(a)
	defer eng.Free(b)
	defer eng.Free(c)
	eng.Upload(a, []float32{
		1, 2, 3,
		-4, -5, -6,
	})
	eng.Upload(b, []float32{
		1, 0,
		0, 1,
		1, -1,
	})

	eng.Gemm(false, false, 1, a, b, 0, c) // c ← a·b
	eng.Activate(engine.ReLU, c, c)       // in place

	out := make([]float32, c.Len())
	eng.Download(out, c) // waits for the ops before it
	fmt.Println(eng.Name(), out)

	// Output:
	// cpu [4 0 0 1]
}
