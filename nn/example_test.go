package nn_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu" // registers the "cpu" engine
	"github.com/imago-rl/imago/nn"
)

// Build a multilayer perceptron, take one Adam step on a mean squared
// error, and save the network in the safetensors format and load it back.
func Example() {
	eng, err := engine.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	// A 2-16-1 tanh MLP (one ensemble member), PyTorch's default
	// initialisation drawn from a seeded Philox stream.
	sizes := []int{2, 16, 1}
	mlp := nn.NewMLPParams(eng, 1, sizes, engine.Tanh)
	mlp.Init(nn.FanInUniform, engine.NewRNG(1))
	fmt.Println(mlp.Params.Names(), mlp.Params.Count(), "parameters")

	// Four inputs and their targets, y = x₀·x₁.
	x := eng.New(engine.Float32, 4, 2)
	eng.Upload(x, []float32{-1, -1, -1, 1, 1, -1, 1, 1})
	y := eng.New(engine.Float32, 4, 1)
	eng.Upload(y, []float32{1, -1, -1, 1})

	// The loss and its gradient with respect to the prediction, then the
	// parameters' gradients, and one step of Adam.
	loss := eng.New(engine.Float32, 1)
	dpred := eng.New(engine.Float32, 4, 1)
	lossOf := func(pred *engine.Tensor) float32 {
		nn.MSE(eng, loss, dpred, pred, y)
		l := make([]float32, 1)
		eng.Download(l, loss)
		return l[0]
	}
	before := lossOf(mlp.Forward(x))
	mlp.Backward(dpred, nn.ParamGrad|nn.OverwriteGrad)
	adam := nn.NewAdam(mlp.Params, engine.AdamConfig{LR: 1e-2})
	defer adam.Free()
	adam.Update()
	fmt.Println("one step lowers the loss:", lossOf(mlp.Forward(x)) < before)

	// Save, and load into a fresh network of the same shape.
	dir, err := os.MkdirTemp("", "imago-nn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mlp.safetensors")
	if err := nn.Save(path, map[string]string{"sizes": fmt.Sprint(sizes)}, mlp.Params); err != nil {
		log.Fatal(err)
	}
	loaded := nn.NewMLPParams(eng, 1, sizes, engine.Tanh)
	meta, err := nn.Load(path, loaded.Params)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", meta["sizes"])
	fmt.Println("same predictions:", slices.Equal(predict(eng, mlp, x), predict(eng, loaded, x)))

	// Output:
	// [layers.0.weight layers.0.bias layers.1.weight layers.1.bias] 65 parameters
	// one step lowers the loss: true
	// metadata: [2 16 1]
	// same predictions: true
}

// predict runs m on x and downloads the result.
func predict(eng engine.Engine, m *nn.MLP, x *engine.Tensor) []float32 {
	y := m.Infer(x)
	out := make([]float32, y.Len())
	eng.Download(out, y)
	return out
}
