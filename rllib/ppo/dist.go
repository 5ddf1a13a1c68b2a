package ppo

import (
	"math"
	"math/rand/v2"
)

// logSqrt2Pi is log √(2π), the normalising constant of a unit Gaussian.
var logSqrt2Pi = 0.5 * math.Log(2*math.Pi)

// softmax writes the log-probabilities of logits into logp and returns the
// entropy of the distribution.
func softmax(logits, logp []float64) (entropy float64) {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, l)
	}
	var s float64
	for _, l := range logits {
		s += math.Exp(l - mx)
	}
	lse := mx + math.Log(s)
	for j, l := range logits {
		logp[j] = l - lse
		entropy -= math.Exp(logp[j]) * logp[j]
	}
	return entropy
}

// sampleCategorical draws an index from the distribution with
// log-probabilities logp by inverting the cumulative distribution at one
// uniform draw.
func sampleCategorical(logp []float64, rng *rand.Rand) int {
	u := rng.Float64()
	var c float64
	for j, lp := range logp {
		c += math.Exp(lp)
		if u < c {
			return j
		}
	}
	return len(logp) - 1 // Rounding left u above the total mass.
}

// argmax returns the index of the largest element, the first on ties.
func argmax(x []float64) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

// gaussianLogp returns the log-density of a under the diagonal Gaussian with
// means mu and log standard deviations logStd.
func gaussianLogp(a, mu, logStd []float64) float64 {
	var lp float64
	for k := range a {
		z := (a[k] - mu[k]) / math.Exp(logStd[k])
		lp += -0.5*z*z - logStd[k] - logSqrt2Pi
	}
	return lp
}

// gaussianEntropy returns the entropy of a diagonal Gaussian with log
// standard deviations logStd.
func gaussianEntropy(logStd []float64) float64 {
	var h float64
	for _, s := range logStd {
		h += s + 0.5 + logSqrt2Pi
	}
	return h
}
