package env

import "testing"

// BenchmarkCartPoleStep measures raw environment steps, without a policy.
func BenchmarkCartPoleStep(b *testing.B) {
	c := NewCartPole()
	c.Reset(1)
	act := [][]float64{{0}, {1}}
	i := 0
	for b.Loop() {
		_, _, term, trunc := c.Step(act[i%2])
		if term || trunc {
			c.Reset(uint64(i))
		}
		i++
	}
}
