package ppo

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// smallConfig is a quick configuration for tests that do not need to learn.
func smallConfig(envName string) Config {
	c := DefaultConfig()
	c.Env = envName
	c.TrainBatchSize = 256
	c.MinibatchSize = 64
	c.Epochs = 2
	c.Hidden = []int{16, 16}
	c.Seed = 7
	return c
}

// train runs iterations of cfg and returns the algorithm.
func train(t *testing.T, cfg Config, iterations int) *Algorithm {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	for range iterations {
		if _, err := a.Train(); err != nil {
			t.Fatalf("Train: %v", err)
		}
	}
	return a
}

// TestDeterminism trains twice with the same seed and compares the weights
// bit for bit, for both action-space kinds and one and two runners.
func TestDeterminism(t *testing.T) {
	tests := []struct {
		env     string
		runners int
	}{
		{"CartPole-v1", 1},
		{"CartPole-v1", 2},
		{"Pendulum-v1", 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/runners=%d", tt.env, tt.runners), func(t *testing.T) {
			cfg := smallConfig(tt.env)
			cfg.EnvRunners = tt.runners
			a, b := train(t, cfg, 2), train(t, cfg, 2)
			if !bytes.Equal(a.Weights(), b.Weights()) {
				t.Fatalf("seed %d, %d runners: weights differ after 2 iterations", cfg.Seed, tt.runners)
			}
			cfg.Seed++
			if c := train(t, cfg, 2); bytes.Equal(a.Weights(), c.Weights()) {
				t.Errorf("seeds %d and %d gave the same weights", cfg.Seed-1, cfg.Seed)
			}
		})
	}
}

func TestTrainMetrics(t *testing.T) {
	cfg := smallConfig("CartPole-v1")
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m Metrics
	for range 3 {
		if m, err = a.Train(); err != nil {
			t.Fatal(err)
		}
	}
	// 256 steps over 2 runners × 4 copies is 32 steps per copy.
	if m.Iteration != 3 || m.TimestepsTotal != 3*256 {
		t.Errorf("after 3 iterations: Iteration %d, TimestepsTotal %d; want 3, 768", m.Iteration, m.TimestepsTotal)
	}
	if m.EpisodesTotal == 0 || m.EpisodeReturnMean <= 0 || m.EpisodeReturnMax < m.EpisodeReturnMean {
		t.Errorf("episode metrics %+v", m)
	}
	// 256 steps in minibatches of 64, 2 epochs.
	if m.Learner.Minibatches != 8 {
		t.Errorf("Minibatches = %d, want 8", m.Learner.Minibatches)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := smallConfig("CartPole-v1")
	a := train(t, cfg, 2)
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(path); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Weights(), b.Weights()) {
		t.Errorf("restored weights differ")
	}
	if a.Iteration() != b.Iteration() || a.timesteps != b.timesteps {
		t.Errorf("restored counters %d/%d, want %d/%d", b.Iteration(), b.timesteps, a.Iteration(), a.timesteps)
	}
	ea, err := a.Evaluate(3)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := b.Evaluate(3)
	if ea.Mean != eb.Mean {
		t.Errorf("Evaluate after restore = %v, want %v", eb.Mean, ea.Mean)
	}
	// The learner's full state is restored, so one more update on the same
	// batch gives the same weights.
	batches, err := a.sample(a.Weights())
	if err != nil {
		t.Fatal(err)
	}
	batch := Concat(batches...)
	wa, _, _ := a.learner.Update(batch)
	wb, _, _ := b.learner.Update(batch)
	if !bytes.Equal(wa, wb) {
		t.Errorf("updates after restore differ")
	}

	other := smallConfig("Pendulum-v1")
	c, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(path); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("Restore of a CartPole checkpoint into Pendulum: %v, want ErrCheckpoint", err)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"unknown env", func(c *Config) { c.Env = "Nope-v0" }},
		{"no runners", func(c *Config) { c.EnvRunners = 0 }},
		{"no hidden", func(c *Config) { c.Hidden = nil }},
		{"gamma", func(c *Config) { c.Gamma = 1.5 }},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New error = %v, want ErrConfig", tt.name, err)
		}
	}
}

func FuzzRestore(f *testing.F) {
	a, err := New(smallConfig("CartPole-v1"))
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "ckpt")
	if err := a.Save(path); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add(a.Weights())
	f.Fuzz(func(t *testing.T, b []byte) {
		before := a.Weights()
		if err := a.restore(b); err != nil && !bytes.Equal(before, a.Weights()) {
			t.Errorf("failed restore changed the weights")
		}
	})
}

func FuzzSetWeights(f *testing.F) {
	a, err := New(smallConfig("CartPole-v1"))
	if err != nil {
		f.Fatal(err)
	}
	m := a.learner.model
	f.Add(m.Weights())
	f.Add([]byte("GRWT\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := m.Weights()
		if err := m.SetWeights(b); err != nil {
			if !errors.Is(err, ErrWeights) {
				t.Errorf("SetWeights error %v does not wrap ErrWeights", err)
			}
			if !bytes.Equal(before, m.Weights()) {
				t.Errorf("failed SetWeights changed the weights")
			}
			return
		}
		if !bytes.Equal(b, m.Weights()) {
			t.Errorf("SetWeights(b) then Weights() != b")
		}
	})
}

// TestLearnCartPole trains PPO on CartPole-v1 until the mean return of the
// last 100 episodes reaches 450, and reports the timesteps and wall time.
func TestLearnCartPole(t *testing.T) {
	if testing.Short() {
		t.Skip("learning CartPole takes tens of seconds; run without -short")
	}
	cfg := DefaultConfig()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const timestepsMax = 300_000
	start := time.Now()
	for {
		m, err := a.Train()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("iter %3d  steps %7d  return mean %6.1f max %5.0f  pi %+.4f vf %.3f ent %.3f kl %.4f  %6.0f steps/s",
			m.Iteration, m.TimestepsTotal, m.EpisodeReturnMean, m.EpisodeReturnMax,
			m.Learner.Policy, m.Learner.Value, m.Learner.Entropy, m.Learner.ApproxKL, m.EnvStepsPerSec)
		if m.EpisodeReturnMean >= 450 {
			t.Logf("CartPole-v1 solved: mean return %.1f over the last 100 episodes after %d timesteps, %d iterations, %v wall time (seed %d)",
				m.EpisodeReturnMean, m.TimestepsTotal, m.Iteration, time.Since(start).Round(time.Millisecond), cfg.Seed)
			break
		}
		if m.TimestepsTotal >= timestepsMax {
			t.Fatalf("mean return %.1f after %d timesteps, want >= 450 (seed %d)", m.EpisodeReturnMean, m.TimestepsTotal, cfg.Seed)
		}
	}
	ev, err := a.Evaluate(10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("greedy evaluation over 10 episodes: mean %.1f, min %.0f, max %.0f", ev.Mean, ev.Min, ev.Max)
}

// TestLearnPendulum trains the Gaussian policy on Pendulum-v1 until the mean
// return of the last 100 episodes reaches −250 (random play scores about
// −1200), and reports the timesteps and wall time.
func TestLearnPendulum(t *testing.T) {
	if testing.Short() {
		t.Skip("learning Pendulum takes tens of seconds; run without -short")
	}
	cfg := DefaultConfig()
	cfg.Env = "Pendulum-v1"
	cfg.TrainBatchSize = 4096
	cfg.Gamma = 0.95
	const timestepsMax = 400_000
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		m, err := a.Train()
		if err != nil {
			t.Fatal(err)
		}
		if m.EpisodeReturnMean >= -250 {
			t.Logf("Pendulum-v1: mean return %.1f over the last 100 episodes after %d timesteps, %v wall time (seed %d)",
				m.EpisodeReturnMean, m.TimestepsTotal, time.Since(start).Round(time.Millisecond), cfg.Seed)
			break
		}
		if m.TimestepsTotal >= timestepsMax {
			t.Fatalf("mean return %.1f after %d timesteps, want >= -250 (seed %d)", m.EpisodeReturnMean, m.TimestepsTotal, cfg.Seed)
		}
	}
}
