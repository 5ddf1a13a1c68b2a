package gray_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray"
)

// TestDeepTaskQueue: 100,000 tasks of one kind submitted at once (10,000
// with -short). The owner keeps at most 10 lease requests of a
// scheduling class out and runs the rest on leases it reuses, so the
// raylet's queue, which its heartbeats report as pending demand, never
// holds more than 10 of them however deep the owner's backlog; the node
// stays alive (a raylet busy deciding 100,000 queued requests on every
// event once missed its heartbeats and was declared dead) and every
// task returns its result.
func TestDeepTaskQueue(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	rt, err := gray.Init(ctx, gray.WithCPUsPerNode(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()

	// Watch the node's pending demand while the tasks run.
	var (
		mu        sync.Mutex
		maxQueued int
		dead      []string
		samples   int
	)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			nodes, err := gray.Nodes(ctx)
			if err != nil {
				continue
			}
			mu.Lock()
			samples++
			for _, node := range nodes {
				if !node.Alive {
					dead = append(dead, node.ID)
				}
				queued := 0
				for _, d := range node.Demand {
					queued += d.Count
				}
				maxQueued = max(maxQueued, queued)
			}
			mu.Unlock()
		}
	}()

	refs := make([]gray.Ref[int], n)
	for i := range refs {
		refs[i] = square.Remote(ctx, gray.V(i%1000))
	}
	got, err := gray.GetAll(ctx, refs)
	close(done)
	<-watched
	if err != nil {
		t.Fatalf("%d tasks: %v", n, err)
	}
	for i, v := range got {
		if want := (i % 1000) * (i % 1000); v != want {
			t.Fatalf("task %d returned %d, want %d", i, v, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d tasks; %d samples of the node's demand, at most %d requests queued at its raylet", n, samples, maxQueued)
	if len(dead) > 0 {
		t.Errorf("nodes declared dead while the tasks ran: %v", dead)
	}
	if maxQueued > 10 {
		t.Errorf("the raylet queued up to %d lease requests of one owner's one class, want at most 10", maxQueued)
	}
}
