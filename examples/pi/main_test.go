package main

import (
	"context"
	"fmt"
	"github.com/grayrt/gray/simtest"
	"math"
	"testing"
	"time"
)

func TestEstimate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	pi, err := estimate(ctx, 8, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pi-math.Pi) > 0.05 {
		t.Fatalf("estimate(8, 100000) = %v, want within 0.05 of π", pi)
	}
}

// TestSimulated runs the program's estimate on a simulated 3-node
// cluster under swarm faults, round after round, for 200 seeds: every
// estimate must be exactly the one the darts give (the tasks are pure, so
// retries cannot change it), or fail with a documented error.
func TestSimulated(t *testing.T) {
	const tasks, samples = 8, 2000
	in := 0
	for i := range tasks {
		in += throw(uint64(i+1), samples)
	}
	want := 4 * float64(in) / float64(tasks*samples)
	simtest.Run(t, func(ctx context.Context) error {
		pi, err := estimate(ctx, tasks, samples)
		if err != nil {
			return err
		}
		if pi != want {
			return fmt.Errorf("estimate(%d, %d) = %v, want %v", tasks, samples, pi, want)
		}
		return nil
	}, simtest.Options{Seeds: "1..200", Repeat: true, FaultPhase: 3 * time.Second, CheckDeterminism: true})
}
