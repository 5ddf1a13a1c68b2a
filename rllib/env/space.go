package env

import "fmt"

// Kind says whether a space is discrete or continuous.
type Kind int

const (
	// KindDiscrete is a space of the integers 0..N-1.
	KindDiscrete Kind = iota + 1
	// KindBox is a space of real vectors bounded elementwise by Low and High.
	KindBox
)

// Space describes the observations or actions of an environment, like
// Gymnasium's spaces.Discrete and spaces.Box. Only one-dimensional boxes are
// supported.
type Space struct {
	// Kind is the kind of the space.
	Kind Kind
	// N is the number of actions of a discrete space.
	N int
	// Low and High bound a box elementwise; infinities are allowed.
	Low, High []float64
	// Shape is the shape of a box: {len(Low)}. It is nil for a discrete
	// space.
	Shape []int
}

// Discrete returns the space of the integers 0..n-1. It panics if n < 1.
func Discrete(n int) Space {
	if n < 1 {
		panic(fmt.Sprintf("env: Discrete(%d): n must be positive", n))
	}
	return Space{Kind: KindDiscrete, N: n}
}

// Box returns the space of real vectors x with low[i] <= x[i] <= high[i]. It
// copies low and high and panics if their lengths differ or are zero.
func Box(low, high []float64) Space {
	if len(low) != len(high) || len(low) == 0 {
		panic(fmt.Sprintf("env: Box: len(low) = %d, len(high) = %d; want equal and positive", len(low), len(high)))
	}
	return Space{
		Kind:  KindBox,
		Low:   append([]float64(nil), low...),
		High:  append([]float64(nil), high...),
		Shape: []int{len(low)},
	}
}

// Dim returns the length of the vector that carries an element of the space:
// 1 for a discrete space (the action index as a float64), Shape[0] for a
// box.
func (s Space) Dim() int {
	if s.Kind == KindDiscrete {
		return 1
	}
	return s.Shape[0]
}

// Contains reports whether x is an element of the space.
func (s Space) Contains(x []float64) bool {
	if len(x) != s.Dim() {
		return false
	}
	if s.Kind == KindDiscrete {
		a := int(x[0])
		return float64(a) == x[0] && a >= 0 && a < s.N
	}
	for i, v := range x {
		if v < s.Low[i] || v > s.High[i] {
			return false
		}
	}
	return true
}

// String returns the space in Gymnasium's notation, such as "Discrete(2)".
func (s Space) String() string {
	if s.Kind == KindDiscrete {
		return fmt.Sprintf("Discrete(%d)", s.N)
	}
	return fmt.Sprintf("Box(%v, %v, %v)", s.Low, s.High, s.Shape)
}
