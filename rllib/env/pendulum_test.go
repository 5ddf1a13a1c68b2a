package env

import (
	"math"
	"testing"
)

func TestPendulumStep(t *testing.T) {
	tests := []struct {
		name            string
		theta, thetaDot float64
		u               float64
		wantTheta       float64
		wantThetaDot    float64
		wantReward      float64
	}{
		{
			// θ = π/2, θ̇ = 0, u = 1:
			//   θ̇' = 0 + (3·10/2·sin(π/2) + 3/(1·1)·1)·0.05 = (15 + 3)·0.05 = 0.9,
			//   θ' = π/2 + 0.9·0.05 = π/2 + 0.045,
			//   reward = −((π/2)² + 0 + 0.001·1²).
			name: "quarter turn", theta: math.Pi / 2, thetaDot: 0, u: 1,
			wantTheta: math.Pi/2 + 0.045, wantThetaDot: 0.9,
			wantReward: -(math.Pi*math.Pi/4 + 0.001),
		},
		{
			// u = 5 is clipped to 2: θ̇' = (15 + 6)·0.05 = 1.05,
			//   reward = −((π/2)² + 0.001·4).
			name: "torque clipped", theta: math.Pi / 2, thetaDot: 0, u: 5,
			wantTheta: math.Pi/2 + 1.05*0.05, wantThetaDot: 1.05,
			wantReward: -(math.Pi*math.Pi/4 + 0.004),
		},
		{
			// θ̇ = 7.9: θ̇' = 7.9 + 1.05 = 8.95, clipped to 8,
			//   reward = −((π/2)² + 0.1·7.9² + 0.004).
			name: "speed clipped", theta: math.Pi / 2, thetaDot: 7.9, u: 2,
			wantTheta: math.Pi/2 + 8*0.05, wantThetaDot: 8,
			wantReward: -(math.Pi*math.Pi/4 + 0.1*7.9*7.9 + 0.004),
		},
		{
			// θ = 3π/2 normalises to −π/2, so the angle cost is (π/2)²;
			//   θ̇' = (15·sin(3π/2) + 0)·0.05 = −0.75.
			name: "angle normalised", theta: 3 * math.Pi / 2, thetaDot: 0, u: 0,
			wantTheta: 3*math.Pi/2 - 0.75*0.05, wantThetaDot: -0.75,
			wantReward: -(math.Pi * math.Pi / 4),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPendulum()
			p.Reset(1)
			p.SetState(tt.theta, tt.thetaDot)
			obs, rew, term, trunc := p.Step([]float64{tt.u})
			want := []float64{math.Cos(tt.wantTheta), math.Sin(tt.wantTheta), tt.wantThetaDot}
			for i := range want {
				if math.Abs(obs[i]-want[i]) > 1e-12 {
					t.Errorf("obs[%d] = %.17g, want %.17g", i, obs[i], want[i])
				}
			}
			if math.Abs(rew-tt.wantReward) > 1e-12 {
				t.Errorf("reward = %.17g, want %.17g", rew, tt.wantReward)
			}
			if term || trunc {
				t.Errorf("terminated %v, truncated %v; want false, false", term, trunc)
			}
		})
	}
}

func TestPendulumTruncation(t *testing.T) {
	p := NewPendulum()
	p.Reset(3)
	for i := 1; i <= 200; i++ {
		_, _, term, trunc := p.Step([]float64{0.5})
		if term {
			t.Fatalf("step %d: terminated", i)
		}
		if want := i == 200; trunc != want {
			t.Fatalf("step %d: truncated = %v, want %v", i, trunc, want)
		}
	}
}

func TestAngleNormalize(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{0, 0},
		{math.Pi, -math.Pi},
		{-math.Pi, -math.Pi},
		{3 * math.Pi / 2, -math.Pi / 2},
		{-3 * math.Pi / 2, math.Pi / 2},
		{5 * math.Pi / 2, math.Pi / 2},
	}
	for _, tt := range tests {
		if got := angleNormalize(tt.x); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("angleNormalize(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}
