package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// MLP is a multilayer perceptron with tanh hidden layers and a linear output
// layer. Layer l computes Z = A·W + b with W of shape in×out, so a batch is
// a matrix with one sample per row.
//
// The weights and biases are views into a parameter slice and the gradients
// views into a gradient slice, both owned by the caller (see NewMLP).
// Forward caches the activations that Backward needs, so an MLP is not safe
// for concurrent use.
type MLP struct {
	sizes []int
	w, gw []*mat.Dense
	b, gb [][]float64
	// acts[l] is the input of layer l from the last Forward: acts[0] is the
	// batch, acts[l] for l > 0 the tanh output of hidden layer l-1.
	acts []*mat.Dense
}

// NumParams returns how many parameters an MLP with the given layer sizes
// (input, hidden..., output) has.
func NumParams(sizes []int) int {
	n := 0
	for l := 0; l+1 < len(sizes); l++ {
		n += sizes[l]*sizes[l+1] + sizes[l+1]
	}
	return n
}

// NewMLP returns an MLP with layer sizes (input, hidden..., output) whose
// parameters are params and whose gradients accumulate into grad. Both must
// have length NumParams(sizes); the MLP keeps views into them, so the caller
// must not reallocate them. It panics on fewer than two sizes, a size below
// one or a length mismatch.
func NewMLP(sizes []int, params, grad []float64) *MLP {
	if len(sizes) < 2 {
		panic(fmt.Sprintf("nn: NewMLP: %d sizes, want at least input and output", len(sizes)))
	}
	for _, s := range sizes {
		if s < 1 {
			panic(fmt.Sprintf("nn: NewMLP: sizes %v, want all positive", sizes))
		}
	}
	n := NumParams(sizes)
	if len(params) != n || len(grad) != n {
		panic(fmt.Sprintf("nn: NewMLP: len(params) = %d, len(grad) = %d, want %d", len(params), len(grad), n))
	}
	m := &MLP{sizes: append([]int(nil), sizes...)}
	off := 0
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		m.w = append(m.w, mat.NewDense(in, out, params[off:off+in*out:off+in*out]))
		m.gw = append(m.gw, mat.NewDense(in, out, grad[off:off+in*out:off+in*out]))
		off += in * out
		m.b = append(m.b, params[off:off+out:off+out])
		m.gb = append(m.gb, grad[off:off+out:off+out])
		off += out
	}
	return m
}

// Sizes returns the layer sizes; the slice is owned by the MLP.
func (m *MLP) Sizes() []int { return m.sizes }

// Init draws the weights from a normal distribution with standard deviation
// gain/√fan_in (gain √2 for hidden layers, outGain for the output layer) and
// zeroes the biases. A small outGain such as 0.01 for a policy head starts
// the policy near uniform, which PPO relies on.
func (m *MLP) Init(rng *rand.Rand, outGain float64) {
	for l, w := range m.w {
		in, out := w.Dims()
		gain := math.Sqrt2
		if l == len(m.w)-1 {
			gain = outGain
		}
		std := gain / math.Sqrt(float64(in))
		for i := 0; i < in; i++ {
			for j := 0; j < out; j++ {
				w.Set(i, j, std*rng.NormFloat64())
			}
		}
		clear(m.b[l])
	}
}

// Forward returns the outputs for the batch x (one sample per row) and
// caches the activations for Backward. The returned matrix is newly
// allocated and owned by the caller; x must not be modified before Backward.
func (m *MLP) Forward(x *mat.Dense) *mat.Dense {
	m.acts = m.acts[:0]
	a := x
	for l, w := range m.w {
		m.acts = append(m.acts, a)
		rows, _ := a.Dims()
		_, out := w.Dims()
		z := mat.NewDense(rows, out, nil)
		z.Mul(a, w)
		b := m.b[l]
		hidden := l < len(m.w)-1
		raw := z.RawMatrix()
		for i := 0; i < rows; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+out]
			for j := range row {
				row[j] += b[j]
				if hidden {
					row[j] = math.Tanh(row[j])
				}
			}
		}
		a = z
	}
	return a
}

// Backward adds to the gradient slice the gradient of a scalar loss with
// respect to the parameters, given dOut, the gradient of the loss with
// respect to the outputs of the last Forward. It panics if Forward was not
// called.
func (m *MLP) Backward(dOut *mat.Dense) {
	if len(m.acts) != len(m.w) {
		panic("nn: MLP.Backward without Forward")
	}
	dz := dOut
	for l := len(m.w) - 1; l >= 0; l-- {
		a := m.acts[l]
		var gw mat.Dense
		gw.Mul(a.T(), dz)
		m.gw[l].Add(m.gw[l], &gw)
		rows, out := dz.Dims()
		raw := dz.RawMatrix()
		for i := 0; i < rows; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+out]
			for j, v := range row {
				m.gb[l][j] += v
			}
		}
		if l == 0 {
			break
		}
		// Through the weights, then through the tanh that produced a:
		// d tanh(z)/dz = 1 − tanh(z)².
		in, _ := m.w[l].Dims()
		da := mat.NewDense(rows, in, nil)
		da.Mul(dz, m.w[l].T())
		draw, araw := da.RawMatrix(), a.RawMatrix()
		for i := 0; i < rows; i++ {
			for j := 0; j < in; j++ {
				t := araw.Data[i*araw.Stride+j]
				draw.Data[i*draw.Stride+j] *= 1 - t*t
			}
		}
		dz = da
	}
}
