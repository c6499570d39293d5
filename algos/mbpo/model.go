package mbpo

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/imago-rl/imago/algos/replay"
	"github.com/imago-rl/imago/engine"
	"github.com/imago-rl/imago/nn"
)

// Dynamics is MBPO's learned model of the environment and its training: a
// probabilistic ensemble (nn.Ensemble) mapping [obs, action] to a Gaussian
// over [next obs − obs, reward], trained on the real replay buffer as
// jannerm/mbpo's BNN.train does (mbpo/models/bnn.py):
//
//   - inputs and targets are standardised with statistics fitted on the
//     training split at every training (jannerm fits the inputs only; the
//     targets too here, so that every target dimension weighs alike in the
//     loss and the holdout MSE, whatever its units);
//   - a holdout of min(int(0.2·N), 5000) transitions is redrawn at every
//     training;
//   - each member trains on its own bootstrap of the training split
//     (indices drawn with replacement by the engine's RandInt), reshuffled
//     before every epoch after the first; one gradient step takes
//     ModelBatchSize rows per member, and an epoch ⌈N/B⌉ steps, the last
//     wrapping round to the start of the member's order (jannerm's last
//     batch is short instead, which would need a workspace per size);
//   - after every epoch each member's holdout MSE is measured; a member
//     whose MSE improved by more than ModelImprovement relative to its
//     best is snapshotted, and training stops once more than ModelPatience
//     epochs in a row improved no member (or at a cap);
//   - each member is then restored to its own snapshot (its slice of every
//     layer's [E, in, out] weight and [E, 1, out] bias; the learned
//     log-variance bounds are shared by the members and, as in jannerm's
//     _set_state, keep their last values), and the Elites members of lowest
//     holdout MSE become the elites.
//
// mbrl-lib's ModelTrainer differs in keeping one snapshot of the whole
// ensemble, taken when any member improves; the per-member snapshots of
// jannerm are followed here.
//
// Training is warm-started: the parameters and the Adam moments carry over
// from one training to the next, as jannerm's TensorFlow variables do.
//
// The holdout MSE is measured in standardised target units (the mean over
// target dimensions of ((μ − y)/σ_y)²), which is the normalised MSE: about
// 1 for a model that predicts the mean.
type Dynamics struct {
	Model *nn.Ensemble
	// Elites are the indices of the elite members in increasing order of
	// holdout MSE, set by Train (the first Elites members before it).
	Elites []int

	cfg            Config
	eng            engine.Engine
	obsDim, actDim int
	in, out        int
	opt            *nn.Adam
	perMember      []memberSlice // each member's slices of the flat parameters
	snapshot       *engine.Tensor
	shuffle        *engine.RNG // host-side Philox stream of permutations

	// Data of one training, allocated for the real buffer's capacity.
	capacity       int
	allX, allY     *engine.Tensor // [cap, In], [cap, Out]: the buffer as model data
	delta          *engine.Tensor // [cap, Obs]: next obs − obs
	trainX, trainY *engine.Tensor // [cap, In], [cap, Out]: the training split
	perm           *engine.Tensor // Int32 [cap]: the split's permutation
	boot           *engine.Tensor // Int32 [E·cap]: bootstrap draws
	epochIdx       *engine.Tensor // Int32 [E·(cap+B)]: one epoch's batches
	xb, yb         *engine.Tensor // [E, B, In], [E, B, Out]

	// Holdout, padded to whole chunks of B rows whose padding is masked.
	holdX     *engine.Tensor // [Hpad, In]
	holdY     *engine.Tensor // [Hpad, Out]
	holdYRep  *engine.Tensor // [Hpad/B, E, B, Out]: each chunk repeated per member
	holdMask  *engine.Tensor // [Hpad]: 1 for a holdout row, 0 for padding
	holdIdx   *engine.Tensor // Int32 [Hpad]: the holdout's rows of allX
	holdPad   int
	diff, sq  *engine.Tensor // [E, B, Out]
	rowErr    *engine.Tensor // [E, B]
	memErr    *engine.Tensor // [E]
	accMSE    *engine.Tensor // [E]
	accNLL    *engine.Tensor // [E]
	twoLogStd *engine.Tensor // [1, Out]

	hostBoot  []int32
	hostEpoch []int32
}

// memberSlice is one member's part of a per-member parameter: elements
// [off + e·n, off + (e+1)·n) of the flat buffer for member e.
type memberSlice struct{ off, n int }

// shuffleKey separates the Philox key of the host-side permutations (the
// holdout split and the epochs' reshuffles) from the engine's stream.
const shuffleKey = 0x3b90_5d1c_7e00_0002

// NewDynamics allocates the ensemble of cfg for observations of obsDim and
// actions of actDim elements, and the scratch of training on a real buffer
// of up to capacity transitions, and initialises the ensemble from rng.
// seed keys the host-side permutations.
func NewDynamics(eng engine.Engine, cfg Config, obsDim, actDim, capacity int, rng *engine.RNG, seed uint64) (*Dynamics, error) {
	wd := make([]float32, len(cfg.ModelWeightDecay))
	for i, w := range cfg.ModelWeightDecay {
		wd[i] = float32(w)
	}
	in, out := obsDim+actDim, obsDim+1
	model, err := nn.NewEnsemble(eng, nn.EnsembleConfig{
		In: in, Out: out, Members: cfg.Members, Hidden: cfg.ModelHidden,
		Activation: engine.SiLU, WeightDecay: wd,
	})
	if err != nil {
		return nil, err
	}
	model.Init(rng)
	e, b := cfg.Members, cfg.ModelBatchSize
	d := &Dynamics{
		Model:     model,
		Elites:    make([]int, cfg.Elites),
		cfg:       cfg,
		eng:       eng,
		obsDim:    obsDim,
		actDim:    actDim,
		in:        in,
		out:       out,
		opt:       nn.NewAdam(model.Params, engine.AdamConfig{LR: float32(cfg.ModelLR)}),
		snapshot:  eng.New(engine.Float32, model.Params.Len()),
		shuffle:   engine.NewRNG(seed ^ shuffleKey),
		capacity:  capacity,
		allX:      eng.New(engine.Float32, capacity, in),
		allY:      eng.New(engine.Float32, capacity, out),
		delta:     eng.New(engine.Float32, capacity, obsDim),
		trainX:    eng.New(engine.Float32, capacity, in),
		trainY:    eng.New(engine.Float32, capacity, out),
		perm:      eng.New(engine.Int32, capacity),
		boot:      eng.New(engine.Int32, e*capacity),
		epochIdx:  eng.New(engine.Int32, e*(capacity+b)),
		xb:        eng.New(engine.Float32, e, b, in),
		yb:        eng.New(engine.Float32, e, b, out),
		diff:      eng.New(engine.Float32, e, b, out),
		sq:        eng.New(engine.Float32, e, b, out),
		rowErr:    eng.New(engine.Float32, e, b),
		memErr:    eng.New(engine.Float32, e),
		accMSE:    eng.New(engine.Float32, e),
		accNLL:    eng.New(engine.Float32, e),
		twoLogStd: eng.New(engine.Float32, 1, out),
	}
	for i := range d.Elites {
		d.Elites[i] = i
	}
	d.perMember = memberSlices(model.Params, e)
	return d, nil
}

// memberSlices returns the per-member slices of the parameters of p whose
// first dimension is the member: the layers' weights [E, in, out] and
// biases [E, 1, out], not the shared log-variance bounds [1, Out].
func memberSlices(p *nn.Params, members int) []memberSlice {
	var s []memberSlice
	for _, q := range p.All() {
		if strings.HasPrefix(q.Name, "layers.") && q.Shape[0] == members {
			s = append(s, memberSlice{off: q.Offset, n: q.Len() / members})
		}
	}
	return s
}

// saveMember copies member e's parameters into the snapshot, restoreMember
// copies them back.
func (d *Dynamics) saveMember(e int) {
	for _, s := range d.perMember {
		o := s.off + e*s.n
		d.eng.Copy(d.snapshot.View(o, s.n), d.Model.Params.Data.View(o, s.n))
	}
}

func (d *Dynamics) restoreMember(e int) {
	for _, s := range d.perMember {
		o := s.off + e*s.n
		d.eng.Copy(d.Model.Params.Data.View(o, s.n), d.snapshot.View(o, s.n))
	}
}

// ModelStats describe one training of the dynamics model.
type ModelStats struct {
	Train, Holdout int       // transitions in each split
	Epochs         int       // epochs run
	HoldoutMSE     []float64 // per member, after the restore
	HoldoutNLL     []float64 // per member, after the restore
	// EliteMSE and EliteNLL are the means over the elites: jannerm's
	// val_loss, and the Gaussian negative log-likelihood per target
	// dimension, ½[(μ−y)²/σ² + log σ² + log 2π], in standardised units.
	EliteMSE, EliteNLL float64
}

// Train trains the model on the real buffer's transitions, warm-started,
// with the engine's generator rng drawing the bootstraps, and sets Elites.
// The buffer must hold at least two transitions and at most the capacity
// given to NewDynamics. A non-finite holdout MSE is an error (the model
// diverged).
func (d *Dynamics) Train(real *replay.Buffer, rng *engine.RNG) (ModelStats, error) {
	start := time.Now()
	n := real.Len()
	if n < 2 || n > d.capacity {
		return ModelStats{}, fmt.Errorf("mbpo: model training on %d transitions: need 2 to %d", n, d.capacity)
	}
	nHold := max(1, min(int(float64(n)*d.cfg.HoldoutRatio), d.cfg.MaxHoldout))
	nTrain := n - nHold
	d.loadData(real, n)
	d.split(n, nHold)
	d.Model.Fit(d.trainX.View(0, nTrain, d.in), d.trainY.View(0, nTrain, d.out))
	d.eng.Unary(engine.Log, d.twoLogStd, d.Model.TargetNorm.Std)
	d.eng.Scale(d.twoLogStd, d.twoLogStd, 2, 0)
	d.drawBootstraps(nTrain, rng)

	e := d.cfg.Members
	d.eng.Copy(d.snapshot, d.Model.Params.Data)
	stop := newEarlyStop(e, d.cfg.ModelImprovement, d.cfg.ModelPatience)
	epochs := 0
	for {
		if epochs > 0 {
			d.reshuffle(nTrain)
		}
		d.trainEpoch(nTrain)
		epochs++
		mse, _ := d.evalHoldout(nHold, false)
		improved, done := stop.observe(mse)
		for m, ok := range improved {
			if ok {
				d.saveMember(m)
			}
		}
		if done ||
			(d.cfg.ModelMaxEpochs > 0 && epochs >= d.cfg.ModelMaxEpochs) ||
			(d.cfg.ModelMaxSeconds > 0 && time.Since(start).Seconds() > d.cfg.ModelMaxSeconds) {
			break
		}
	}
	for m := range e {
		d.restoreMember(m)
	}
	mse, nll := d.evalHoldout(nHold, true)
	for m, v := range mse {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ModelStats{}, fmt.Errorf("mbpo: model member %d has holdout MSE %v after %d epochs: the model diverged", m, v, epochs)
		}
	}
	d.Elites = selectElites(mse, d.cfg.Elites)
	st := ModelStats{Train: nTrain, Holdout: nHold, Epochs: epochs, HoldoutMSE: mse, HoldoutNLL: nll}
	for _, m := range d.Elites {
		st.EliteMSE += mse[m] / float64(len(d.Elites))
		st.EliteNLL += nll[m] / float64(len(d.Elites))
	}
	return st, nil
}

// loadData writes the buffer's first n transitions as model inputs
// [obs, act] into allX and targets [next obs − obs, reward] into allY.
func (d *Dynamics) loadData(real *replay.Buffer, n int) {
	eng, o, a := d.eng, d.obsDim, d.actDim
	x, y := d.allX.View(0, n, d.in), d.allY.View(0, n, d.out)
	obs := real.Obs.View(0, n, o)
	delta := d.delta.View(0, n, o)
	eng.CopyCols(x, 0, obs, 0, o)
	eng.CopyCols(x, o, real.Act.View(0, n, a), 0, a)
	eng.Binary(engine.Sub, delta, real.NextObs.View(0, n, o), obs)
	eng.CopyCols(y, 0, delta, 0, o)
	eng.CopyCols(y, o, real.Reward.View(0, n, 1), 0, 1)
}

// split draws a permutation of the n transitions on the host and gathers
// its first nHold into the holdout, padded to whole chunks, and the rest
// into the training split (jannerm: np.random.permutation, holdout first).
func (d *Dynamics) split(n, nHold int) {
	eng, e, b := d.eng, d.cfg.Members, d.cfg.ModelBatchSize
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	d.permute(p)
	eng.UploadInt32(d.perm.View(0, n), p)
	nTrain := n - nHold
	eng.Gather(d.trainX.View(0, nTrain, d.in), d.allX.View(0, n, d.in), d.perm.View(nHold, nTrain))
	eng.Gather(d.trainY.View(0, nTrain, d.out), d.allY.View(0, n, d.out), d.perm.View(nHold, nTrain))

	pad := (nHold + b - 1) / b * b
	if pad != d.holdPad {
		for _, t := range []*engine.Tensor{d.holdX, d.holdY, d.holdYRep, d.holdMask, d.holdIdx} {
			if t != nil {
				eng.Free(t)
			}
		}
		d.holdX = eng.New(engine.Float32, pad, d.in)
		d.holdY = eng.New(engine.Float32, pad, d.out)
		d.holdYRep = eng.New(engine.Float32, pad/b, e, b, d.out)
		d.holdMask = eng.New(engine.Float32, pad)
		d.holdIdx = eng.New(engine.Int32, pad)
		d.holdPad = pad
	}
	// Padding rows repeat holdout row 0 with weight 0.
	hp := make([]int32, pad)
	mask := make([]float32, pad)
	copy(hp, p[:nHold])
	for i := range nHold {
		mask[i] = 1
	}
	eng.UploadInt32(d.holdIdx, hp)
	eng.Gather(d.holdX, d.allX.View(0, n, d.in), d.holdIdx)
	eng.Gather(d.holdY, d.allY.View(0, n, d.out), d.holdIdx)
	eng.Upload(d.holdMask, mask)
	for k := range pad / b {
		src := d.holdY.View(k*b*d.out, b, d.out)
		for m := range e {
			eng.Copy(d.holdYRep.View((k*e+m)*b*d.out, b, d.out), src)
		}
	}
}

// permute shuffles p in place (Fisher–Yates) with the host-side stream.
func (d *Dynamics) permute(p []int32) {
	if len(p) < 2 {
		return
	}
	start := d.shuffle.Take(len(p))
	for i := len(p) - 1; i > 0; i-- {
		j := engine.IntAt(d.shuffle.Seed, start, i, i+1)
		p[i], p[j] = p[j], p[i]
	}
}

// drawBootstraps draws each member's nTrain bootstrap indices with the
// engine's RandInt (jannerm: np.random.randint(N, size=[E, N])) and keeps
// them on the host for the reshuffles.
func (d *Dynamics) drawBootstraps(nTrain int, rng *engine.RNG) {
	e := d.cfg.Members
	boot := d.boot.View(0, e*nTrain)
	d.eng.RandInt(boot, rng, nTrain)
	d.hostBoot = slices.Grow(d.hostBoot[:0], e*nTrain)[:e*nTrain]
	d.eng.DownloadInt32(d.hostBoot, boot)
}

// reshuffle permutes each member's bootstrap order independently
// (jannerm's shuffle_rows after every epoch).
func (d *Dynamics) reshuffle(nTrain int) {
	for m := range d.cfg.Members {
		d.permute(d.hostBoot[m*nTrain : (m+1)*nTrain])
	}
}

// trainEpoch takes ⌈nTrain/B⌉ gradient steps, step k giving member m rows
// k·B … k·B+B−1 (mod nTrain) of its bootstrap order.
func (d *Dynamics) trainEpoch(nTrain int) {
	eng, e, b := d.eng, d.cfg.Members, d.cfg.ModelBatchSize
	steps := (nTrain + b - 1) / b
	need := steps * e * b
	d.hostEpoch = slices.Grow(d.hostEpoch[:0], need)[:need]
	for k := range steps {
		for m := range e {
			order := d.hostBoot[m*nTrain : (m+1)*nTrain]
			row := d.hostEpoch[(k*e+m)*b : (k*e+m+1)*b]
			for j := range row {
				row[j] = order[(k*b+j)%nTrain]
			}
		}
	}
	eng.UploadInt32(d.epochIdx.View(0, need), d.hostEpoch)
	x := d.trainX.View(0, nTrain, d.in)
	y := d.trainY.View(0, nTrain, d.out)
	for k := range steps {
		idx := d.epochIdx.View(k*e*b, e*b)
		eng.Gather(d.xb, x, idx)
		eng.Gather(d.yb, y, idx)
		d.Model.Forward(d.xb)
		d.Model.Loss(d.yb)
		d.Model.Params.ZeroGrad()
		d.Model.Backward()
		d.opt.Update()
	}
}

// evalHoldout returns each member's holdout MSE in standardised target
// units, and with nll its Gaussian NLL per target dimension (see
// ModelStats), over the nHold holdout rows. It downloads E values (2E with
// nll).
func (d *Dynamics) evalHoldout(nHold int, nll bool) (mse, nllOut []float64) {
	eng, e, b, o := d.eng, d.cfg.Members, d.cfg.ModelBatchSize, d.out
	eng.Fill(d.accMSE, 0)
	eng.Fill(d.accNLL, 0)
	for k := range d.holdPad / b {
		mean, lv := d.Model.Predict(d.holdX.View(k*b*d.in, b, d.in))
		y := d.holdYRep.View(k*e*b*o, e, b, o)
		mask := d.holdMask.View(k*b, b)
		eng.Binary(engine.Sub, d.diff, mean, y)
		eng.Binary(engine.Div, d.diff, d.diff, d.Model.TargetNorm.Std)
		eng.Unary(engine.Square, d.sq, d.diff)
		d.accumulate(d.accMSE, d.sq, mask)
		if nll {
			// In standardised units lv' = lv − 2 log σ_y; the NLL is
			// ½[(μ−y)'²·e^(−lv') + lv' + log 2π].
			lvn, t := lv, d.diff
			eng.Binary(engine.Sub, lvn, lv, d.twoLogStd)
			eng.Scale(t, lvn, -1, 0)
			eng.Unary(engine.Exp, t, t)
			eng.Binary(engine.Mul, t, t, d.sq)
			eng.Binary(engine.Add, t, t, lvn)
			eng.Scale(t, t, 0.5, float32(0.5*math.Log(2*math.Pi)))
			d.accumulate(d.accNLL, t, mask)
		}
	}
	denom := float64(nHold * o)
	host := make([]float32, e)
	mse = make([]float64, e)
	eng.Download(host, d.accMSE)
	for m, v := range host {
		mse[m] = float64(v) / denom
	}
	if nll {
		nllOut = make([]float64, e)
		eng.Download(host, d.accNLL)
		for m, v := range host {
			nllOut[m] = float64(v) / denom
		}
	}
	return mse, nllOut
}

// accumulate adds to acc [E] the sum over rows and target dimensions of
// x [E, B, Out], rows weighted by mask [B].
func (d *Dynamics) accumulate(acc, x, mask *engine.Tensor) {
	e, b := d.cfg.Members, d.cfg.ModelBatchSize
	d.eng.ReduceRows(engine.Sum, d.rowErr, x)
	d.eng.Binary(engine.Mul, d.rowErr, d.rowErr, mask)
	d.eng.ReduceRows(engine.Sum, d.memErr, d.rowErr.Reshape(e, b))
	d.eng.Axpby(acc, 1, d.memErr, 1)
}

// Free releases the model's and the training's device memory.
func (d *Dynamics) Free() {
	d.opt.Free()
	d.Model.ReleaseWorkspaces()
	d.Model.InputNorm.Free()
	d.Model.TargetNorm.Free()
	d.Model.Params.Free()
	d.Model.Norm.Free()
	for _, t := range []*engine.Tensor{
		d.snapshot, d.allX, d.allY, d.delta, d.trainX, d.trainY, d.perm, d.boot, d.epochIdx,
		d.xb, d.yb, d.diff, d.sq, d.rowErr, d.memErr, d.accMSE, d.accNLL, d.twoLogStd,
		d.holdX, d.holdY, d.holdYRep, d.holdMask, d.holdIdx,
	} {
		if t != nil {
			d.eng.Free(t)
		}
	}
}

// earlyStop is jannerm's per-member early stopping (bnn.py _save_best): a
// member improves when (best − current)/best exceeds the threshold, and
// training stops once more than patience epochs in a row improved none.
type earlyStop struct {
	best      []float64
	threshold float64
	patience  int
	sinceImpr int
}

func newEarlyStop(members int, threshold float64, patience int) *earlyStop {
	s := &earlyStop{best: make([]float64, members), threshold: threshold, patience: patience}
	for i := range s.best {
		s.best[i] = math.Inf(1) // jannerm starts at 1e10; any finite MSE improves on it
	}
	return s
}

// observe takes the members' holdout MSE after an epoch and returns which
// improved (and should be snapshotted) and whether training should stop.
func (s *earlyStop) observe(mse []float64) (improved []bool, stop bool) {
	improved = make([]bool, len(mse))
	any := false
	for i, cur := range mse {
		best := s.best[i]
		if (math.IsInf(best, 1) && !math.IsNaN(cur) && !math.IsInf(cur, 0)) || (best-cur)/best > s.threshold {
			s.best[i] = cur
			improved[i] = true
			any = true
		}
	}
	if any {
		s.sinceImpr = 0
	} else {
		s.sinceImpr++
	}
	return improved, s.sinceImpr > s.patience
}

// selectElites returns the indices of the k members of lowest MSE in
// increasing order of MSE, ties broken by index, NaN last (jannerm
// _end_train: np.argsort(holdout_losses)[:num_elites]).
func selectElites(mse []float64, k int) []int {
	idx := make([]int, len(mse))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := mse[a], mse[b]
		if math.IsNaN(x) || math.IsNaN(y) {
			return cmp.Compare(boolInt(math.IsNaN(x)), boolInt(math.IsNaN(y)))
		}
		return cmp.Compare(x, y)
	})
	return idx[:k]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
