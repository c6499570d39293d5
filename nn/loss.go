package nn

import (
	"fmt"

	"github.com/imago-rl/imago/engine"
)

// MSE computes the mean squared error of pred against target,
// loss = Σ(pred − target)²/n over their n elements, into the one-element
// tensor loss, and its gradient dpred = 2(pred − target)/n. pred, target and
// dpred have the same length; dpred may be pred or target, loss overlaps
// none of them. It allocates nothing: the sum of squares is a Gemm of the
// difference with itself.
func MSE(eng engine.Engine, loss, dpred, pred, target *engine.Tensor) {
	n := pred.Len()
	if target.Len() != n || dpred.Len() != n || loss.Len() != 1 {
		panic(fmt.Sprintf("nn: MSE: pred %v, target %v, dpred %v, loss %v", pred.Shape(), target.Shape(), dpred.Shape(), loss.Shape()))
	}
	eng.Binary(engine.Sub, dpred, pred, target)
	row := dpred.Reshape(1, n)
	eng.Gemm(false, true, 1/float32(n), row, row, 0, loss.Reshape(1, 1))
	eng.Scale(dpred, dpred, 2/float32(n), 0)
}
