package ppo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/grayrt/gray/rllib/env"
	"github.com/grayrt/gray/rllib/nn"
	"gonum.org/v1/gonum/mat"
)

// ErrWeights is wrapped by the errors of SetWeights for bytes that do not
// encode weights of the model's shape.
var ErrWeights = errors.New("ppo: bad weights")

// weightsMagic and weightsVersion open every serialised weight vector.
const (
	weightsMagic   = "GRWT"
	weightsVersion = 1
)

// Model is PPO's actor-critic: a policy MLP (tanh hidden layers) whose output
// is the logits of a categorical distribution for a discrete action space or
// the mean of a diagonal Gaussian with a state-independent log standard
// deviation for a box action space, and a separate value MLP with the same
// hidden sizes.
//
// All parameters are in Params, laid out as policy MLP, log-std (continuous
// only), value MLP; Grad has the same layout. A Model caches activations
// between its forward and backward passes and is not safe for concurrent
// use.
type Model struct {
	// ObsDim is the observation length and ActDim the action length (1 for a
	// discrete space).
	ObsDim, ActDim int
	// NumActions is the number of discrete actions, or 0 for a box.
	NumActions int
	// Params and Grad are the flat parameter and gradient vectors.
	Params, Grad []float64

	pi, vf          *nn.MLP
	logStd, gLogStd []float64
	piN, vfN        int
}

// NewModel returns a Model for the given spaces and hidden layer sizes with
// parameters initialised from rng. It panics on an unsupported space.
func NewModel(obs, act env.Space, hidden []int, rng *rand.Rand) *Model {
	if obs.Kind != env.KindBox {
		panic("ppo: NewModel: observation space must be a Box")
	}
	m := &Model{ObsDim: obs.Dim()}
	outDim := 0
	switch act.Kind {
	case env.KindDiscrete:
		m.ActDim, m.NumActions, outDim = 1, act.N, act.N
	case env.KindBox:
		m.ActDim, outDim = act.Dim(), act.Dim()
	default:
		panic("ppo: NewModel: unsupported action space")
	}
	piSizes := append(append([]int{m.ObsDim}, hidden...), outDim)
	vfSizes := append(append([]int{m.ObsDim}, hidden...), 1)
	m.piN, m.vfN = nn.NumParams(piSizes), nn.NumParams(vfSizes)
	stdN := 0
	if m.NumActions == 0 {
		stdN = m.ActDim
	}
	n := m.piN + stdN + m.vfN
	m.Params, m.Grad = make([]float64, n), make([]float64, n)
	m.pi = nn.NewMLP(piSizes, m.Params[:m.piN:m.piN], m.Grad[:m.piN:m.piN])
	m.logStd = m.Params[m.piN : m.piN+stdN : m.piN+stdN]
	m.gLogStd = m.Grad[m.piN : m.piN+stdN : m.piN+stdN]
	m.vf = nn.NewMLP(vfSizes, m.Params[m.piN+stdN:], m.Grad[m.piN+stdN:])
	m.pi.Init(rng, 0.01)
	m.vf.Init(rng, 1)
	return m
}

// Discrete reports whether the policy is categorical.
func (m *Model) Discrete() bool { return m.NumActions > 0 }

// forward runs both networks on obs (one sample per row) and returns the
// policy outputs (logits or means) and the values.
func (m *Model) forward(obs *mat.Dense) (*mat.Dense, []float64) {
	out := m.pi.Forward(obs)
	v := m.vf.Forward(obs)
	return out, append([]float64(nil), v.RawMatrix().Data...)
}

// values returns the value estimates for obs without touching the cached
// activations of the policy network.
func (m *Model) values(obs *mat.Dense) []float64 {
	return append([]float64(nil), m.vf.Forward(obs).RawMatrix().Data...)
}

// Weights serialises the parameters: a 4-byte magic, a version byte, the
// parameter count as a uvarint, then each parameter as a little-endian
// IEEE-754 float64. The result is newly allocated; it is what travels from a
// learner to the env runners.
func (m *Model) Weights() []byte {
	b := make([]byte, 0, len(weightsMagic)+1+binary.MaxVarintLen64+8*len(m.Params))
	b = append(b, weightsMagic...)
	b = append(b, weightsVersion)
	b = binary.AppendUvarint(b, uint64(len(m.Params)))
	for _, p := range m.Params {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
	}
	return b
}

// SetWeights replaces the parameters with ones serialised by Weights. The
// error wraps ErrWeights if b is malformed or for a model of another shape;
// the parameters are unchanged then.
func (m *Model) SetWeights(b []byte) error {
	if len(b) < len(weightsMagic)+1 || string(b[:len(weightsMagic)]) != weightsMagic {
		return fmt.Errorf("missing magic %q: %w", weightsMagic, ErrWeights)
	}
	b = b[len(weightsMagic):]
	if b[0] != weightsVersion {
		return fmt.Errorf("version %d, want %d: %w", b[0], weightsVersion, ErrWeights)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("bad parameter count: %w", ErrWeights)
	}
	b = b[k:]
	if n != uint64(len(m.Params)) {
		return fmt.Errorf("%d parameters, model has %d: %w", n, len(m.Params), ErrWeights)
	}
	if uint64(len(b)) != 8*n {
		return fmt.Errorf("%d bytes of parameters, want %d: %w", len(b), 8*n, ErrWeights)
	}
	for i := range m.Params {
		m.Params[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return nil
}
