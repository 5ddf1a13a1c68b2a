package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/grayrt/gray/rllib/env"
	"gonum.org/v1/gonum/mat"
)

// randomMinibatch returns a minibatch for m whose old log-probabilities and
// old values are perturbed so that some ratios and values fall outside the
// clip ranges.
func randomMinibatch(m *Model, rng *rand.Rand, n int) minibatch {
	mb := minibatch{
		obs:       mat.NewDense(n, m.ObsDim, nil),
		actions:   make([]float64, n*m.ActDim),
		oldLogp:   make([]float64, n),
		adv:       make([]float64, n),
		returns:   make([]float64, n),
		oldValues: make([]float64, n),
	}
	for i := 0; i < n; i++ {
		for j := 0; j < m.ObsDim; j++ {
			mb.obs.Set(i, j, rng.NormFloat64())
		}
	}
	out, v := m.forward(mb.obs)
	logp := make([]float64, m.NumActions)
	for i := 0; i < n; i++ {
		act := mb.actions[i*m.ActDim : (i+1)*m.ActDim]
		var lp float64
		if m.Discrete() {
			act[0] = float64(rng.IntN(m.NumActions))
			softmax(out.RawRowView(i), logp)
			lp = logp[int(act[0])]
		} else {
			for k := range act {
				act[k] = out.At(i, k) + rng.NormFloat64()
			}
			lp = gaussianLogp(act, out.RawRowView(i), m.logStd)
		}
		mb.oldLogp[i] = lp + 0.3*rng.NormFloat64()
		mb.adv[i] = rng.NormFloat64()
		mb.returns[i] = rng.NormFloat64()
		mb.oldValues[i] = v[i] + 0.5*rng.NormFloat64()
	}
	return mb
}

// TestLossGradient checks the backpropagated gradient of each term of PPO's
// loss against central finite differences.
func TestLossGradient(t *testing.T) {
	spaces := []struct {
		name string
		obs  env.Space
		act  env.Space
	}{
		{"categorical", env.Box([]float64{-1, -1, -1}, []float64{1, 1, 1}), env.Discrete(3)},
		{"gaussian", env.Box([]float64{-1, -1, -1}, []float64{1, 1, 1}), env.Box([]float64{-2, -2}, []float64{2, 2})},
	}
	coefs := []struct {
		name string
		c    lossCoefs
	}{
		{"policy", lossCoefs{clip: 0.2}},
		{"value", lossCoefs{clip: 0.2, vfCoef: 1}},
		{"clipped value", lossCoefs{clip: 0.2, vfCoef: 1, vfClip: 0.3}},
		{"entropy", lossCoefs{clip: 0.2, entCoef: 1}},
		{"all", lossCoefs{clip: 0.2, vfClip: 0.3, vfCoef: 0.5, entCoef: 0.01}},
	}
	for _, sp := range spaces {
		for _, cc := range coefs {
			t.Run(sp.name+"/"+cc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				m := NewModel(sp.obs, sp.act, []int{5, 4}, rng)
				for i := range m.Params {
					m.Params[i] += 0.3 * rng.NormFloat64() // Move away from the tiny output init.
				}
				mb := randomMinibatch(m, rng, 16)
				m.lossAndGrad(mb, cc.c)
				grad := append([]float64(nil), m.Grad...)
				const h = 1e-6
				for i := range m.Params {
					p := m.Params[i]
					m.Params[i] = p + h
					up := m.lossAndGrad(mb, cc.c).Total
					m.Params[i] = p - h
					down := m.lossAndGrad(mb, cc.c).Total
					m.Params[i] = p
					fd := (up - down) / (2 * h)
					if math.Abs(fd-grad[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("grad[%d] = %.10g, finite difference %.10g", i, grad[i], fd)
					}
				}
			})
		}
	}
}

// TestLossValues checks the loss terms on a case computed by hand: a model
// whose policy is uniform over two actions (zero output weights), so every
// log-probability is log ½ and the entropy log 2.
func TestLossValues(t *testing.T) {
	m := NewModel(env.Box([]float64{-1}, []float64{1}), env.Discrete(2), []int{2}, rand.New(rand.NewPCG(1, 1)))
	clear(m.Params)
	mb := minibatch{
		obs:     mat.NewDense(2, 1, []float64{0.5, -0.5}),
		actions: []float64{0, 1},
		// ρ = ½/old: sample 0 has ρ = ½/(1/3) = 1.5 and A = 1, so min(1.5,
		// 1.2) = 1.2; sample 1 has ρ = ½/1 = 0.5 and A = −1, so min(−0.5,
		// −0.8) = −0.8. Both ratios lie outside [0.8, 1.2].
		oldLogp:   []float64{math.Log(1.0 / 3), 0},
		adv:       []float64{1, -1},
		returns:   []float64{1, -2},
		oldValues: []float64{0, 0},
	}
	got := m.lossAndGrad(mb, lossCoefs{clip: 0.2, vfCoef: 1})
	// Policy: −mean(min(1.5, 1.2), min(−0.5, −0.8)) = −(1.2 − 0.8)/2 = −0.2.
	// Value: V = 0, so 0.5·mean(1², 2²) = 1.25.
	want := Losses{Policy: -0.2, Value: 1.25, Entropy: math.Ln2, ClipFrac: 1}
	want.Total = want.Policy + want.Value
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Policy", got.Policy, want.Policy},
		{"Value", got.Value, want.Value},
		{"Entropy", got.Entropy, want.Entropy},
		{"ClipFrac", got.ClipFrac, want.ClipFrac},
		{"Total", got.Total, want.Total},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
