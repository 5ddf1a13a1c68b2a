package worker

import (
	"testing"

	"github.com/grayrt/gray/core/proto"
)

// BenchmarkSubmitTask measures one task's life through two core workers
// and the harness's fake raylet, without a transport: SubmitTask on the
// owner, lease, push to the executor, execute, reply, Get and Release.
// Messages are handed over in memory (the rpc layer still encodes
// request and response bodies), so this is the core worker's own cost
// per task. Compare runs with benchstat.
func BenchmarkSubmitTask(b *testing.B) {
	c := newCluster(b)
	args := []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}
	b.ReportAllocs()
	for b.Loop() {
		refs, err := c.owner.SubmitTask("add", args, TaskOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.get(c.owner, refs[0]); err != nil {
			b.Fatal(err)
		}
		c.owner.Release(refs[0])
	}
}

// BenchmarkSubmitTaskBatch submits batches of 100 tasks before getting
// them, so leases and pushes pile up as in Ray's "tasks async" case;
// ns/op is per batch, tasks/s the throughput.
func BenchmarkSubmitTaskBatch(b *testing.B) {
	const batch = 100
	c := newCluster(b)
	args := []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}
	refs := make([]proto.ObjectRef, batch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range refs {
			r, err := c.owner.SubmitTask("add", args, TaskOptions{})
			if err != nil {
				b.Fatal(err)
			}
			refs[i] = r[0]
		}
		for _, r := range refs {
			if _, err := c.get(c.owner, r); err != nil {
				b.Fatal(err)
			}
			c.owner.Release(r)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tasks/s")
}
