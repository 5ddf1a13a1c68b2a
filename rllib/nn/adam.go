package nn

import (
	"fmt"
	"math"
)

// Adam is the Adam optimiser (Kingma and Ba, 2015) over a flat parameter
// vector. Its exported fields are its whole state, so checkpoints save and
// restore it by value.
type Adam struct {
	// LR is the learning rate.
	LR float64
	// Beta1 and Beta2 are the decay rates of the moment estimates.
	Beta1, Beta2 float64
	// Eps keeps the update finite when the second moment is zero.
	Eps float64
	// M and V are the first and second moment estimates.
	M, V []float64
	// T is the number of steps taken, for bias correction.
	T int
}

// NewAdam returns an Adam optimiser for n parameters with PyTorch's defaults
// (β1 0.9, β2 0.999, ε 1e-8) and learning rate lr.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, M: make([]float64, n), V: make([]float64, n)}
}

// Step updates params in place by one Adam step along grad. It panics if the
// lengths differ from the optimiser's.
func (a *Adam) Step(params, grad []float64) {
	if len(params) != len(a.M) || len(grad) != len(a.M) {
		panic(fmt.Sprintf("nn: Adam.Step: len(params) = %d, len(grad) = %d, want %d", len(params), len(grad), len(a.M)))
	}
	a.T++
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	for i, g := range grad {
		a.M[i] = a.Beta1*a.M[i] + (1-a.Beta1)*g
		a.V[i] = a.Beta2*a.V[i] + (1-a.Beta2)*g*g
		params[i] -= a.LR * (a.M[i] / c1) / (math.Sqrt(a.V[i]/c2) + a.Eps)
	}
}

// ClipGradNorm scales grad in place so that its Euclidean norm is at most
// maxNorm, and returns the norm before clipping. maxNorm <= 0 disables
// clipping.
func ClipGradNorm(grad []float64, maxNorm float64) float64 {
	var ss float64
	for _, g := range grad {
		ss += g * g
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm {
		s := maxNorm / norm
		for i := range grad {
			grad[i] *= s
		}
	}
	return norm
}
