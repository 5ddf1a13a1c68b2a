package gray_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/gcs"
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

// BenchmarkPlacementGroup measures gray bench's
// placement_group_create_bundles_N case on an embedded cluster: one
// group of N {CPU: 0.001} bundles created, waited for and removed per
// operation, after as many groups as the GCS keeps removed
// (gcs.RemovedGroupsMax), so that the table is in its steady state.
func BenchmarkPlacementGroup(b *testing.B) {
	for _, n := range []int{1, 10, 40} {
		b.Run(fmt.Sprintf("bundles=%d", n), func(b *testing.B) {
			ctx := start(b)
			shape := make([]map[string]float64, n)
			for i := range shape {
				shape[i] = map[string]float64{"CPU": 0.001}
			}
			one := func() {
				g, err := gray.CreatePlacementGroup(ctx, shape)
				if err != nil {
					b.Fatal(err)
				}
				if ok, err := g.Wait(ctx, 30*time.Second); err != nil || !ok {
					b.Fatalf("Wait(%s) = %v, %v; want true, nil", g.ID, ok, err)
				}
				if err := gray.RemovePlacementGroup(ctx, g); err != nil {
					b.Fatal(err)
				}
			}
			for range gcs.RemovedGroupsMax + 100 {
				one()
			}
			b.ReportAllocs()
			for b.Loop() {
				one()
			}
		})
	}
}
