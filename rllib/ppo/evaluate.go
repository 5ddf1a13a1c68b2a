package ppo

import (
	"math"
	"math/rand/v2"

	"github.com/grayrt/gray/rllib/env"
	"gonum.org/v1/gonum/mat"
)

// EvalResult summarises greedy evaluation episodes.
type EvalResult struct {
	// Returns holds each episode's undiscounted return, in episode order.
	Returns []float64
	// Mean, Min and Max summarise Returns.
	Mean, Min, Max float64
}

// Evaluate plays episodes full episodes with greedy actions (the most likely
// action, or the Gaussian's mean) on a fresh environment seeded from the
// config's seed, so repeated calls on the same weights give the same result.
// It does not count towards the training timesteps.
func (a *Algorithm) Evaluate(episodes int) (EvalResult, error) {
	e, err := env.Make(a.cfg.Env)
	if err != nil {
		return EvalResult{}, err
	}
	m := a.learner.model
	seeds := rand.New(rand.NewPCG(a.cfg.Seed, streamEval))
	res := EvalResult{Min: math.Inf(1), Max: math.Inf(-1)}
	x := mat.NewDense(1, m.ObsDim, nil)
	logp := make([]float64, m.NumActions)
	for range episodes {
		obs := e.Reset(seeds.Uint64())
		var ret float64
		for {
			x.SetRow(0, obs)
			out := m.pi.Forward(x).RawRowView(0)
			var act []float64
			if m.Discrete() {
				softmax(out, logp)
				act = []float64{float64(argmax(logp))}
			} else {
				act = append([]float64(nil), out...)
			}
			var r float64
			var term, trunc bool
			obs, r, term, trunc = e.Step(act)
			ret += r
			if term || trunc {
				break
			}
		}
		res.Returns = append(res.Returns, ret)
		res.Mean += ret / float64(episodes)
		res.Min = min(res.Min, ret)
		res.Max = max(res.Max, ret)
	}
	if episodes == 0 {
		res.Min, res.Max = 0, 0
	}
	return res, nil
}
