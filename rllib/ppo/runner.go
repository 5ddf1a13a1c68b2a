package ppo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/grayrt/gray/rllib/env"
	"gonum.org/v1/gonum/mat"
)

// Seed streams: every consumer of randomness gets its own PCG stream of the
// configured seed so that adding draws to one never shifts another.
const (
	streamLearner = 1 << 32
	streamEval    = 2 << 32
	streamRunner  = 3 << 32
)

// EnvRunner samples experience: it holds EnvsPerRunner vectorised copies of
// the environment and a local copy of the policy, and steps them with
// stochastic actions. Its state (episodes in progress, random sources) lives
// on between Sample calls, so consecutive batches continue the same
// episodes.
//
// An EnvRunner is meant to become a gray actor: its inputs (the config, its
// index, serialised weights) and its output (a Batch of plain numbers) all
// serialise. It is not safe for concurrent use.
type EnvRunner struct {
	index int
	cfg   Config
	vec   *env.Vector
	model *Model
	rng   *rand.Rand
	obs   [][]float64
}

// NewEnvRunner returns the runner with the given index for cfg. Runners with
// different indices use independent random streams derived from cfg.Seed.
func NewEnvRunner(cfg Config, index int) (*EnvRunner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	vec, err := env.MakeVector(cfg.Env, cfg.EnvsPerRunner)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, streamRunner+uint64(index)))
	r := &EnvRunner{
		index: index,
		cfg:   cfg,
		vec:   vec,
		// The initial parameters are overwritten by every Sample.
		model: NewModel(vec.ObservationSpace(), vec.ActionSpace(), cfg.Hidden, rng),
		rng:   rng,
	}
	r.obs = vec.Reset(rng.Uint64())
	return r, nil
}

// Index returns the runner's index.
func (r *EnvRunner) Index() int { return r.index }

// Sample loads weights (as produced by Model.Weights) and steps every copy
// ⌈steps/EnvsPerRunner⌉ times. The returned batch holds each copy's steps
// contiguously, in copy order, with GAE advantages computed with the
// sampling policy's values; it is owned by the caller.
func (r *EnvRunner) Sample(weights []byte, steps int) (*Batch, error) {
	if err := r.model.SetWeights(weights); err != nil {
		return nil, fmt.Errorf("ppo: runner %d: %w", r.index, err)
	}
	n := r.vec.Len()
	T := (steps + n - 1) / n
	m := r.model
	od, ad := m.ObsDim, m.ActDim
	type track struct {
		obs, act, logp, val, rew, next []float64
		ended                          []bool
	}
	tr := make([]track, n)
	for i := range tr {
		tr[i] = track{
			obs: make([]float64, 0, T*od), act: make([]float64, 0, T*ad),
			logp: make([]float64, 0, T), val: make([]float64, 0, T), rew: make([]float64, 0, T),
			next: make([]float64, T), ended: make([]bool, T),
		}
	}
	b := &Batch{ObsDim: od, ActDim: ad}
	x := mat.NewDense(n, od, nil)
	logp := make([]float64, m.NumActions)
	actions := make([][]float64, n)
	for t := 0; t < T; t++ {
		for i, o := range r.obs {
			x.SetRow(i, o)
		}
		out, v := m.forward(x)
		for i := range actions {
			row := out.RawRowView(i)
			var lp float64
			if m.Discrete() {
				softmax(row, logp)
				a := sampleCategorical(logp, r.rng)
				actions[i] = []float64{float64(a)}
				lp = logp[a]
			} else {
				a := make([]float64, ad)
				for k := range a {
					a[k] = row[k] + math.Exp(m.logStd[k])*r.rng.NormFloat64()
				}
				actions[i] = a
				lp = gaussianLogp(a, row, m.logStd)
			}
			tr[i].obs = append(tr[i].obs, r.obs[i]...)
			tr[i].act = append(tr[i].act, actions[i]...)
			tr[i].logp = append(tr[i].logp, lp)
			tr[i].val = append(tr[i].val, v[i])
		}
		res := r.vec.Step(actions)
		for i := range tr {
			tr[i].rew = append(tr[i].rew, res.Reward[i])
			tr[i].ended[t] = res.Terminated[i] || res.Truncated[i]
			if tr[i].ended[t] {
				b.EpisodeReturns = append(b.EpisodeReturns, res.EpisodeReturn[i])
				b.EpisodeLens = append(b.EpisodeLens, res.EpisodeLen[i])
			}
			if res.Truncated[i] {
				// Bootstrap from the value of the state the time limit cut.
				fx := mat.NewDense(1, od, append([]float64(nil), res.FinalObs[i]...))
				tr[i].next[t] = m.values(fx)[0]
			}
		}
		r.obs = res.Obs
	}
	for i, o := range r.obs {
		x.SetRow(i, o)
	}
	boot := m.values(x)
	for i := range tr {
		for t := 0; t < T; t++ {
			switch {
			case tr[i].ended[t]: // next[t] already holds 0 or V(final obs).
			case t+1 < T:
				tr[i].next[t] = tr[i].val[t+1]
			default:
				tr[i].next[t] = boot[i]
			}
		}
		adv := gae(tr[i].rew, tr[i].val, tr[i].next, tr[i].ended, r.cfg.Gamma, r.cfg.Lambda)
		b.Obs = append(b.Obs, tr[i].obs...)
		b.Actions = append(b.Actions, tr[i].act...)
		b.Logp = append(b.Logp, tr[i].logp...)
		b.Values = append(b.Values, tr[i].val...)
		b.Advantages = append(b.Advantages, adv...)
		for t, a := range adv {
			b.Returns = append(b.Returns, a+tr[i].val[t])
		}
	}
	return b, nil
}
