package ppo

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// minibatch is the learner's view of a slice of a Batch, with advantages
// already normalised if configured.
type minibatch struct {
	obs       *mat.Dense // n×ObsDim.
	actions   []float64  // n×ActDim, row-major.
	oldLogp   []float64
	adv       []float64
	returns   []float64
	oldValues []float64
}

// lossCoefs are the coefficients of PPO's loss.
type lossCoefs struct {
	clip, vfClip, vfCoef, entCoef float64
}

// Losses are the terms of PPO's loss on one minibatch.
type Losses struct {
	// Total is Policy + VFCoef·Value − EntCoef·Entropy, the minimised loss.
	Total float64
	// Policy is −mean(min(ρ·A, clip(ρ, 1−ε, 1+ε)·A)) with ρ the probability
	// ratio of the new and the sampling policy.
	Policy float64
	// Value is 0.5·mean((V − R)²), with the clipped variant if VFClip > 0.
	Value float64
	// Entropy is the mean entropy of the action distribution.
	Entropy float64
	// ApproxKL is mean((ρ − 1) − log ρ), an estimate of KL(old ‖ new).
	ApproxKL float64
	// ClipFrac is the fraction of samples with |ρ − 1| > ε.
	ClipFrac float64
}

// lossAndGrad computes PPO's loss on mb, overwrites m.Grad with its gradient
// and returns the loss terms.
func (m *Model) lossAndGrad(mb minibatch, c lossCoefs) Losses {
	clear(m.Grad)
	n, _ := mb.obs.Dims()
	inv := 1 / float64(n)
	out, v := m.forward(mb.obs)
	outDim := m.ActDim
	if m.Discrete() {
		outDim = m.NumActions
	}
	dOut := mat.NewDense(n, outDim, nil)
	var ls Losses
	logp := make([]float64, outDim)
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		drow := dOut.RawRowView(i)
		act := mb.actions[i*m.ActDim : (i+1)*m.ActDim]
		var lp, ent float64
		if m.Discrete() {
			ent = softmax(row, logp)
			lp = logp[int(act[0])]
		} else {
			lp = gaussianLogp(act, row, m.logStd)
			ent = gaussianEntropy(m.logStd)
		}
		ratio := math.Exp(lp - mb.oldLogp[i])
		a := mb.adv[i]
		clipped := min(max(ratio, 1-c.clip), 1+c.clip)
		s1, s2 := ratio*a, clipped*a
		// dL/dlogp: the gradient flows through the unclipped term only when
		// min picks it (on a tie inside the clip range both are equal).
		var dLogp float64
		if s1 <= s2 {
			ls.Policy -= s1 * inv
			dLogp = -a * ratio * inv
		} else {
			ls.Policy -= s2 * inv
		}
		if math.Abs(ratio-1) > c.clip {
			ls.ClipFrac += inv
		}
		ls.ApproxKL += ((ratio - 1) - (lp - mb.oldLogp[i])) * inv
		ls.Entropy += ent * inv
		dEnt := -c.entCoef * inv // dL/dH_i.
		if m.Discrete() {
			a := int(act[0])
			for j := range drow {
				p := math.Exp(logp[j])
				g := -p * dLogp
				if j == a {
					g += dLogp
				}
				// dH/dl_j = −p_j·(log p_j + H).
				g += dEnt * (-p * (logp[j] + ent))
				drow[j] = g
			}
		} else {
			for k := range drow {
				sd := math.Exp(m.logStd[k])
				z := (act[k] - row[k]) / sd
				drow[k] = dLogp * z / sd          // dlogp/dμ = z/σ.
				m.gLogStd[k] += dLogp * (z*z - 1) // dlogp/dlogσ = z² − 1.
				m.gLogStd[k] += dEnt              // dH/dlogσ = 1.
			}
		}
	}
	m.pi.Backward(dOut)

	dv := mat.NewDense(n, 1, nil)
	for i := 0; i < n; i++ {
		r := mb.returns[i]
		d := v[i] - r
		l, g := d*d, d
		if c.vfClip > 0 {
			delta := v[i] - mb.oldValues[i]
			vc := mb.oldValues[i] + min(max(delta, -c.vfClip), c.vfClip)
			if dc := vc - r; dc*dc > l {
				l, g = dc*dc, 0
				if math.Abs(delta) < c.vfClip {
					g = dc
				}
			}
		}
		ls.Value += 0.5 * l * inv
		dv.Set(i, 0, c.vfCoef*g*inv)
	}
	m.vf.Backward(dv)
	ls.Total = ls.Policy + c.vfCoef*ls.Value - c.entCoef*ls.Entropy
	return ls
}
