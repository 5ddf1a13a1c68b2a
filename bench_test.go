package gray_test

import (
	"context"
	"testing"

	"github.com/grayrt/gray"
)

var noop = gray.Task1("bench.noop", func(_ context.Context, x int) (int, error) { return x, nil })

// BenchmarkTaskRoundTrip measures one small task submitted and waited for
// at a time on an embedded cluster: driver → raylet lease → worker →
// reply, all through the in-memory transport.
func BenchmarkTaskRoundTrip(b *testing.B) {
	ctx := start(b)
	if _, err := noop.Remote(ctx, gray.V(0)).Get(ctx); err != nil { // warm up leases
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := noop.Remote(ctx, gray.V(i)).Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTaskPipelined measures throughput: batches of small tasks
// submitted back to back, then waited for.
func BenchmarkTaskPipelined(b *testing.B) {
	ctx := start(b)
	const batch = 100
	refs := make([]gray.Ref[int], batch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range refs {
			refs[i] = noop.Remote(ctx, gray.V(i))
		}
		if _, err := gray.GetAll(ctx, refs); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/task")
}
