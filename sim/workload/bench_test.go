package workload

import (
	"testing"
	"time"

	"github.com/grayrt/gray/linearizability"
	"github.com/grayrt/gray/sim"
)

// BenchmarkGCSHistoryCheck10k records a GCS history of at least 10,000 KV
// operations from the gcs workload (swarm faults, 8 clients) and measures
// porcupine's check of it.
func BenchmarkGCSHistoryCheck10k(b *testing.B) {
	wl, err := sim.NewWorkload("gcs", sim.Options{Clients: 8})
	if err != nil {
		b.Fatal(err)
	}
	g := wl.(*gcsWorkload)
	r := sim.Run(sim.Config{Seed: 3, FaultSpec: "swarm", FaultPhase: 60 * time.Second}, wl, "gcs")
	if !r.Passed {
		b.Fatal(r)
	}
	ops := g.kv.Operations()
	if len(ops) < 10_000 {
		b.Fatalf("history has %d operations, want at least 10,000", len(ops))
	}
	b.ReportMetric(float64(len(ops)), "ops")
	b.ResetTimer()
	for b.Loop() {
		if res := linearizability.Check(linearizability.KVModel, ops, time.Minute); res.Outcome != linearizability.Ok {
			b.Fatalf("check = %v", res.Outcome)
		}
	}
}

// BenchmarkGCSWorkload reports simulated GCS operations per wall second.
func BenchmarkGCSWorkload(b *testing.B) {
	var ops, events int64
	seed := uint64(0)
	for b.Loop() {
		seed++
		wl, _ := sim.NewWorkload("gcs", sim.Options{})
		g := wl.(*gcsWorkload)
		r := sim.Run(sim.Config{Seed: seed, FaultSpec: "swarm"}, wl, "gcs")
		if !r.Passed {
			b.Fatal(r)
		}
		ops += int64(g.kv.Len() + g.actors.Len())
		events += r.Events
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "gcs-ops/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClusterWorkload reports simulated cluster throughput.
func BenchmarkClusterWorkload(b *testing.B) {
	var tasks, events int64
	seed := uint64(0)
	for b.Loop() {
		seed++
		wl, _ := sim.NewWorkload("cluster", sim.Options{})
		c := wl.(*cluster)
		r := sim.Run(sim.Config{Seed: seed, FaultSpec: "swarm"}, wl, "cluster")
		if !r.Passed {
			b.Fatal(r)
		}
		for _, n := range c.executions { //gray:unordered summing
			tasks += n
		}
		events += r.Events
	}
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
