package ppo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/grayrt/gray/rllib/env"
	"github.com/grayrt/gray/rllib/nn"
	"gonum.org/v1/gonum/mat"
)

// advEps keeps advantage normalisation finite on constant advantages.
const advEps = 1e-8

// Learner owns the authoritative policy and value parameters and the Adam
// state, and improves them with PPO's minibatch SGD on batches from the env
// runners. It is not safe for concurrent use.
type Learner struct {
	cfg   Config
	model *Model
	opt   *nn.Adam
	pcg   *rand.PCG // Kept to checkpoint the shuffling state.
	rng   *rand.Rand
}

// LearnerMetrics are the means of the loss terms over the minibatches of one
// Update.
type LearnerMetrics struct {
	Losses
	// GradNorm is the mean global gradient norm before clipping.
	GradNorm float64
	// Minibatches is the number of SGD steps taken.
	Minibatches int
}

// NewLearner returns a Learner for cfg with parameters initialised from
// cfg.Seed.
func NewLearner(cfg Config) (*Learner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e, err := env.Make(cfg.Env)
	if err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(cfg.Seed, streamLearner)
	rng := rand.New(pcg)
	m := NewModel(e.ObservationSpace(), e.ActionSpace(), cfg.Hidden, rng)
	return &Learner{cfg: cfg, model: m, opt: nn.NewAdam(len(m.Params), cfg.LR), pcg: pcg, rng: rng}, nil
}

// Model returns the learner's model; the caller must not modify it.
func (l *Learner) Model() *Model { return l.model }

// Weights returns the serialised current parameters.
func (l *Learner) Weights() []byte { return l.model.Weights() }

// Update runs Epochs passes of minibatch SGD over b, each over a fresh
// permutation, and returns the new serialised weights and the metrics.
// Advantages are normalised per minibatch and gradients clipped to
// GradClip.
func (l *Learner) Update(b *Batch) ([]byte, LearnerMetrics, error) {
	m := l.model
	if b.ObsDim != m.ObsDim || b.ActDim != m.ActDim {
		return nil, LearnerMetrics{}, fmt.Errorf("ppo: batch dims %d/%d, model %d/%d: %w", b.ObsDim, b.ActDim, m.ObsDim, m.ActDim, ErrConfig)
	}
	n := b.Len()
	c := lossCoefs{clip: l.cfg.Clip, vfClip: l.cfg.VFClip, vfCoef: l.cfg.VFCoef, entCoef: l.cfg.EntCoef}
	var lm LearnerMetrics
	for range l.cfg.Epochs {
		perm := l.rng.Perm(n)
		for start := 0; start < n; start += l.cfg.MinibatchSize {
			idx := perm[start:min(start+l.cfg.MinibatchSize, n)]
			ls := m.lossAndGrad(gather(b, idx), c)
			lm.GradNorm += nn.ClipGradNorm(m.Grad, l.cfg.GradClip)
			l.opt.Step(m.Params, m.Grad)
			lm.Policy += ls.Policy
			lm.Value += ls.Value
			lm.Entropy += ls.Entropy
			lm.Total += ls.Total
			lm.ApproxKL += ls.ApproxKL
			lm.ClipFrac += ls.ClipFrac
			lm.Minibatches++
		}
	}
	if k := float64(lm.Minibatches); k > 0 {
		lm.Policy /= k
		lm.Value /= k
		lm.Entropy /= k
		lm.Total /= k
		lm.ApproxKL /= k
		lm.ClipFrac /= k
		lm.GradNorm /= k
	}
	return m.Weights(), lm, nil
}

// gather copies the steps idx of b into a minibatch and normalises its
// advantages to zero mean and unit variance.
func gather(b *Batch, idx []int) minibatch {
	k := len(idx)
	mb := minibatch{
		obs:       mat.NewDense(k, b.ObsDim, nil),
		actions:   make([]float64, 0, k*b.ActDim),
		oldLogp:   make([]float64, k),
		adv:       make([]float64, k),
		returns:   make([]float64, k),
		oldValues: make([]float64, k),
	}
	var mean float64
	for j, i := range idx {
		mb.obs.SetRow(j, b.Obs[i*b.ObsDim:(i+1)*b.ObsDim])
		mb.actions = append(mb.actions, b.Actions[i*b.ActDim:(i+1)*b.ActDim]...)
		mb.oldLogp[j] = b.Logp[i]
		mb.adv[j] = b.Advantages[i]
		mb.returns[j] = b.Returns[i]
		mb.oldValues[j] = b.Values[i]
		mean += b.Advantages[i]
	}
	mean /= float64(k)
	var variance float64
	for _, a := range mb.adv {
		variance += (a - mean) * (a - mean)
	}
	std := math.Sqrt(variance / float64(k))
	for j := range mb.adv {
		mb.adv[j] = (mb.adv[j] - mean) / (std + advEps)
	}
	return mb
}
