package sim

import (
	"testing"
	"time"
)

// BenchmarkEchoEvents reports simulated events per wall second for the echo
// workload with swarm faults, encoding and decoding every message.
func BenchmarkEchoEvents(b *testing.B) {
	var events int64
	seed := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seed++
		wl, err := NewWorkload("echo", Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := Run(Config{Seed: seed, FaultSpec: "swarm", FaultPhase: 5 * time.Second}, wl, "echo")
		if !r.Passed {
			b.Fatalf("seed %d failed: %v", seed, r)
		}
		events += r.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/run")
}
