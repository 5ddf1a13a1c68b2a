package env

import (
	"math"
	"testing"
)

func TestCartPoleStep(t *testing.T) {
	tests := []struct {
		name   string
		state  [4]float64
		action float64
		want   [4]float64
	}{
		{
			// From rest, pushing right: force = 10, cos θ = 1, sin θ = 0,
			//   temp = 10/1.1 = 100/11,
			//   θ̈ = (0 − 100/11) / (0.5·(4/3 − 0.1/1.1)) = −(100/11)·(66/41) = −600/41,
			//   ẍ = 100/11 + 0.05·(600/41)/1.1 = 4400/451.
			// Euler: x = 0 + 0.02·0, ẋ = 0.02·4400/451 = 88/451,
			//   θ = 0 + 0.02·0, θ̇ = 0.02·(−600/41) = −12/41.
			name:   "rest push right",
			state:  [4]float64{0, 0, 0, 0},
			action: 1,
			want:   [4]float64{0, 88.0 / 451, 0, -12.0 / 41},
		},
		{
			name:   "rest push left",
			state:  [4]float64{0, 0, 0, 0},
			action: 0,
			want:   [4]float64{0, -88.0 / 451, 0, 12.0 / 41},
		},
		{
			// State (0.1, 0.2, 0.05, −0.1), pushing left: force = −10,
			//   temp = (−10 + 0.05·0.01·sin 0.05)/1.1 = −9.090886373104876,
			//   θ̈ = (9.8·sin 0.05 − cos 0.05·temp) / (0.5·(4/3 − 0.1·cos²0.05/1.1))
			//      = 15.401457822277282,
			//   ẍ = temp − 0.05·θ̈·cos 0.05/1.1 = −9.790077737216764.
			// Euler: x = 0.1 + 0.02·0.2, ẋ = 0.2 + 0.02·ẍ,
			//   θ = 0.05 + 0.02·(−0.1), θ̇ = −0.1 + 0.02·θ̈.
			name:   "tilted push left",
			state:  [4]float64{0.1, 0.2, 0.05, -0.1},
			action: 0,
			want:   [4]float64{0.104, 0.0041984452556647345, 0.048, 0.20802915644554562},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCartPole()
			c.Reset(1)
			c.SetState(tt.state)
			obs, rew, term, trunc := c.Step([]float64{tt.action})
			for i := range obs {
				if math.Abs(obs[i]-tt.want[i]) > 1e-12 {
					t.Errorf("Step(%v) from %v: obs[%d] = %.17g, want %.17g", tt.action, tt.state, i, obs[i], tt.want[i])
				}
			}
			if rew != 1 || term || trunc {
				t.Errorf("Step = reward %v, terminated %v, truncated %v; want 1, false, false", rew, term, trunc)
			}
		})
	}
}

func TestCartPoleTermination(t *testing.T) {
	thr := CartPoleThetaThreshold
	tests := []struct {
		name  string
		state [4]float64
		want  bool
	}{
		// Positions advance with the old velocity: x' = x + 0.02·ẋ.
		{"x inside", [4]float64{2.39, 0.4, 0, 0}, false},           // x' = 2.398
		{"x beyond right", [4]float64{2.39, 1, 0, 0}, true},        // x' = 2.41
		{"x beyond left", [4]float64{-2.39, -1, 0, 0}, true},       // x' = −2.41
		{"theta inside", [4]float64{0, 0, thr - 0.01, 0.1}, false}, // θ' = thr − 0.008
		{"theta beyond", [4]float64{0, 0, thr - 0.001, 0.1}, true}, // θ' = thr + 0.001
		{"theta beyond left", [4]float64{0, 0, -thr + 0.001, -0.1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCartPole()
			c.Reset(1)
			c.SetState(tt.state)
			_, rew, term, trunc := c.Step([]float64{1})
			if term != tt.want || trunc {
				t.Errorf("Step from %v: terminated %v, truncated %v; want %v, false", tt.state, term, trunc, tt.want)
			}
			if rew != 1 {
				t.Errorf("Step from %v: reward %v, want 1 (also on the terminating step)", tt.state, rew)
			}
		})
	}
}

func TestCartPoleTruncation(t *testing.T) {
	c := NewCartPole()
	c.Reset(7)
	for i := 1; i <= 500; i++ {
		c.SetState([4]float64{}) // Keep the pole upright so it never terminates.
		_, _, term, trunc := c.Step([]float64{float64(i % 2)})
		if term {
			t.Fatalf("step %d: terminated", i)
		}
		if want := i == 500; trunc != want {
			t.Fatalf("step %d: truncated = %v, want %v", i, trunc, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Step after truncation did not panic")
		}
	}()
	c.Step([]float64{0})
}

func TestCartPoleResetDeterminism(t *testing.T) {
	run := func(seed uint64) []float64 {
		c := NewCartPole()
		var trace []float64
		trace = append(trace, c.Reset(seed)...)
		for i := 0; i < 20; i++ {
			obs, _, term, _ := c.Step([]float64{float64(i % 2)})
			trace = append(trace, obs...)
			if term {
				break
			}
		}
		return trace
	}
	a, b, other := run(42), run(42), run(43)
	if len(a) != len(b) {
		t.Fatalf("same seed: trace lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed: trace[%d] = %v and %v", i, a[i], b[i])
		}
	}
	if a[0] == other[0] {
		t.Errorf("seeds 42 and 43 gave the same first observation %v", a[:4])
	}
	for seed := range uint64(100) {
		obs := NewCartPole().Reset(seed)
		for i, v := range obs {
			if v < -0.05 || v >= 0.05 {
				t.Errorf("Reset(%d)[%d] = %v, want in [-0.05, 0.05)", seed, i, v)
			}
		}
	}
}
