package ppo

import (
	"fmt"
	"testing"
)

func TestRunnerSampleShape(t *testing.T) {
	tests := []struct {
		env            string
		obsDim, actDim int
	}{
		{"CartPole-v1", 4, 1},
		{"Pendulum-v1", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cfg := smallConfig(tt.env)
			cfg.EnvsPerRunner = 3
			l, err := NewLearner(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewEnvRunner(cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			// 250 steps over 3 copies round up to 84 steps per copy.
			b, err := r.Sample(l.Weights(), 250)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3 * 84
			if b.Len() != n || len(b.Obs) != n*tt.obsDim || len(b.Actions) != n*tt.actDim ||
				len(b.Values) != n || len(b.Advantages) != n || len(b.Returns) != n {
				t.Fatalf("Sample(250) lengths: steps %d, obs %d, actions %d; want %d, %d, %d",
					b.Len(), len(b.Obs), len(b.Actions), n, n*tt.obsDim, n*tt.actDim)
			}
			for i := range b.Returns {
				if b.Returns[i] != b.Advantages[i]+b.Values[i] {
					t.Fatalf("Returns[%d] = %v, want Advantages + Values = %v", i, b.Returns[i], b.Advantages[i]+b.Values[i])
				}
			}
		})
	}
}

func TestRunnerRejectsBadWeights(t *testing.T) {
	r, err := NewEnvRunner(smallConfig("CartPole-v1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sample([]byte("junk"), 10); err == nil {
		t.Errorf("Sample with junk weights succeeded")
	}
}

// BenchmarkSample measures env-runner throughput on CartPole-v1: env steps
// per second sampling with the 64×64 policy, over 1 and 2 runners of 4
// copies each, in parallel goroutines as in Train.
func BenchmarkSample(b *testing.B) {
	for _, runners := range []int{1, 2} {
		b.Run(fmt.Sprintf("runners=%d", runners), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.EnvRunners = runners
			cfg.TrainBatchSize = 2048 * runners
			a, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			w := a.Weights()
			steps := 0
			b.ResetTimer()
			for b.Loop() {
				batches, err := a.sample(w)
				if err != nil {
					b.Fatal(err)
				}
				for _, bt := range batches {
					steps += bt.Len()
				}
			}
			b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// BenchmarkUpdate measures one learner update on a 2048-step CartPole batch
// (10 epochs of minibatches of 128).
func BenchmarkUpdate(b *testing.B) {
	cfg := DefaultConfig()
	a, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	batches, err := a.sample(a.Weights())
	if err != nil {
		b.Fatal(err)
	}
	batch := Concat(batches...)
	for b.Loop() {
		if _, _, err := a.learner.Update(batch); err != nil {
			b.Fatal(err)
		}
	}
}
