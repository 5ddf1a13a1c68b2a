package ppo

import (
	"math"
	"testing"
)

func TestGAE(t *testing.T) {
	tests := []struct {
		name          string
		rewards       []float64
		values        []float64
		next          []float64
		ended         []bool
		gamma, lambda float64
		want          []float64
	}{
		{
			// λ = 0 gives the one-step TD errors δ_t = r + γ·next − V.
			name:    "td0",
			rewards: []float64{1, 1}, values: []float64{0.5, 0.25}, next: []float64{0.25, 2},
			ended: []bool{false, false}, gamma: 0.5, lambda: 0,
			want: []float64{1 + 0.125 - 0.5, 1 + 1 - 0.25},
		},
		{
			// λ = 1, V = 0: discounted reward-to-go, bootstrapped at the end:
			// A_1 = 1 + 0.5·4 = 3, A_0 = 1 + 0.5·3 = 2.5.
			name:    "monte carlo bootstrapped",
			rewards: []float64{1, 1}, values: []float64{0, 0}, next: []float64{0, 4},
			ended: []bool{false, false}, gamma: 0.5, lambda: 1,
			want: []float64{2.5, 3},
		},
		{
			// The episode terminates at step 0: A_0 = 1 + 0 − 0 = 1, and
			// step 1's advantage does not flow back into it.
			name:    "termination cuts",
			rewards: []float64{1, 5}, values: []float64{0, 0}, next: []float64{0, 0},
			ended: []bool{true, false}, gamma: 0.9, lambda: 0.95,
			want: []float64{1, 5},
		},
		{
			// Truncation at step 0 bootstraps from V(final obs) = 10:
			// A_0 = 1 + 0.9·10 − 2 = 8.
			name:    "truncation bootstraps",
			rewards: []float64{1, 0}, values: []float64{2, 0}, next: []float64{10, 0},
			ended: []bool{true, false}, gamma: 0.9, lambda: 0.95,
			want: []float64{8, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gae(tt.rewards, tt.values, tt.next, tt.ended, tt.gamma, tt.lambda)
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("gae(...) = %v, want %v", got, tt.want)
					break
				}
			}
		})
	}
}
