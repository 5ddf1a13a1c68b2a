package distributed

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/rllib/ppo"
)

func testConfig() ppo.Config {
	cfg := ppo.DefaultConfig()
	cfg.EnvRunners = 2
	cfg.EnvsPerRunner = 2
	cfg.TrainBatchSize = 256
	cfg.MinibatchSize = 64
	cfg.Epochs = 2
	cfg.Hidden = []int{16}
	cfg.Seed = 7
	return cfg
}

func withRuntime(t *testing.T) context.Context {
	t.Helper()
	ctx := t.Context()
	rt, err := gray.Init(ctx, gray.WithCPUsPerNode(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Shutdown)
	return ctx
}

// train runs iters iterations and returns the final weights.
func train(t *testing.T, ctx context.Context, cfg ppo.Config, iters int) ([]byte, []Metrics) {
	t.Helper()
	a, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	var ms []Metrics
	for range iters {
		m, err := a.Train(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return a.Weights(), ms
}

func TestTrain(t *testing.T) {
	ctx := withRuntime(t)
	_, ms := train(t, ctx, testConfig(), 2)
	if ms[0].TimestepsTotal != 256 || ms[1].TimestepsTotal != 512 {
		t.Errorf("timesteps %d, %d; want 256, 512", ms[0].TimestepsTotal, ms[1].TimestepsTotal)
	}
	if ms[1].Iteration != 2 || ms[1].EpisodesTotal == 0 || ms[1].EnvStepsPerSec <= 0 {
		t.Errorf("metrics %+v", ms[1])
	}
}

// TestDeterminism checks that the actor runners produce exactly the
// weights of ppo.Algorithm's in-process runners, and that two runs with
// the same seed agree bit for bit.
func TestDeterminism(t *testing.T) {
	ctx := withRuntime(t)
	cfg := testConfig()
	w1, _ := train(t, ctx, cfg, 2)
	w2, _ := train(t, ctx, cfg, 2)
	if !bytes.Equal(w1, w2) {
		t.Fatal("same seed, different weights")
	}
	local, err := ppo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := local.Train(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(w1, local.Weights()) {
		t.Fatal("actor runners and local runners disagree")
	}
}

func TestRunnerKilled(t *testing.T) {
	ctx := withRuntime(t)
	a, err := New(ctx, testConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := a.Train(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.KillRunner(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var restarts int
	for range 2 {
		m, err := a.Train(ctx)
		if err != nil {
			t.Fatalf("training after a runner died: %v", err)
		}
		restarts += m.Restarts
	}
	if restarts != 1 || a.RestartsTotal() != 1 {
		t.Errorf("restarts %d (total %d), want 1", restarts, a.RestartsTotal())
	}
	if a.Iteration() != 3 {
		t.Errorf("iteration %d, want 3", a.Iteration())
	}
}

// TestCheckpointAndEvaluate saves a distributed run, restores it into a
// fresh one, and requires identical weights; Evaluate plays greedy episodes.
func TestCheckpointAndEvaluate(t *testing.T) {
	ctx := withRuntime(t)
	cfg := testConfig()
	a, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := a.Train(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ppo.ckpt")
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if err := b.Restore(path); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Weights(), b.Weights()) || b.Iteration() != a.Iteration() {
		t.Fatalf("restored run differs: iteration %d vs %d", b.Iteration(), a.Iteration())
	}
	res, err := b.Evaluate(2)
	if err != nil || len(res.Returns) != 2 {
		t.Fatalf("Evaluate(2) = %+v, %v", res, err)
	}
}
