package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestMLPGradient checks Backward against central finite differences of the
// loss Σ c∘MLP(x) for a fixed random c.
func TestMLPGradient(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"linear", []int{3, 2}},
		{"one hidden", []int{4, 5, 3}},
		{"two hidden", []int{4, 8, 6, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			n := NumParams(tt.sizes)
			params, grad := make([]float64, n), make([]float64, n)
			m := NewMLP(tt.sizes, params, grad)
			m.Init(rng, 1)
			for i := range params {
				params[i] += 0.1 * rng.NormFloat64() // Nonzero biases too.
			}
			const rows = 5
			x := mat.NewDense(rows, tt.sizes[0], nil)
			c := mat.NewDense(rows, tt.sizes[len(tt.sizes)-1], nil)
			for i := 0; i < rows; i++ {
				for j := 0; j < tt.sizes[0]; j++ {
					x.Set(i, j, rng.NormFloat64())
				}
				for j := 0; j < tt.sizes[len(tt.sizes)-1]; j++ {
					c.Set(i, j, rng.NormFloat64())
				}
			}
			loss := func() float64 {
				var out mat.Dense
				out.MulElem(m.Forward(x), c)
				return mat.Sum(&out)
			}
			loss()
			m.Backward(c)
			const h = 1e-6
			for i := range params {
				p := params[i]
				params[i] = p + h
				up := loss()
				params[i] = p - h
				down := loss()
				params[i] = p
				fd := (up - down) / (2 * h)
				if math.Abs(fd-grad[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
					t.Errorf("grad[%d] = %.10g, finite difference %.10g", i, grad[i], fd)
				}
			}
		})
	}
}

func TestAdamMinimisesQuadratic(t *testing.T) {
	params := []float64{3, -2}
	grad := make([]float64, 2)
	opt := NewAdam(2, 0.1)
	for range 500 {
		for i, p := range params {
			grad[i] = 2 * p // d/dp p².
		}
		opt.Step(params, grad)
	}
	for i, p := range params {
		if math.Abs(p) > 1e-2 {
			t.Errorf("params[%d] = %v after 500 steps on p², want ≈ 0", i, p)
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	tests := []struct {
		grad     []float64
		max      float64
		wantNorm float64
		want     []float64
	}{
		{[]float64{3, 4}, 1, 5, []float64{0.6, 0.8}},
		{[]float64{3, 4}, 10, 5, []float64{3, 4}},
		{[]float64{3, 4}, 0, 5, []float64{3, 4}},
	}
	for _, tt := range tests {
		g := append([]float64(nil), tt.grad...)
		norm := ClipGradNorm(g, tt.max)
		if math.Abs(norm-tt.wantNorm) > 1e-12 {
			t.Errorf("ClipGradNorm(%v, %v) = %v, want %v", tt.grad, tt.max, norm, tt.wantNorm)
		}
		for i := range g {
			if math.Abs(g[i]-tt.want[i]) > 1e-12 {
				t.Errorf("ClipGradNorm(%v, %v): grad = %v, want %v", tt.grad, tt.max, g, tt.want)
				break
			}
		}
	}
}
