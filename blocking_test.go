package gray_test

import (
	"context"
	"testing"

	"github.com/grayrt/gray"
)

// fib computes Fibonacci recursively with one task per call: every call
// above the leaves waits in Get for two child tasks.
var fib gray.Func1[int, int]

func init() {
	fib = *gray.Task1("test.fib", func(ctx context.Context, n int) (int, error) {
		if n < 2 {
			return n, nil
		}
		a := fib.Remote(ctx, gray.V(n-1))
		b := fib.Remote(ctx, gray.V(n-2))
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, err := b.Get(ctx)
		return x + y, err
	})
}

// TestBlockedTasksFreeTheirCPU: a task tree far deeper than the node's
// CPUs completes (fib(20): 21,891 tasks, 10,945 of them waiting for their
// children), because a body waiting in Get lends its CPU out and its
// worker takes other bodies. Without that, fib on one 2-CPU node waits
// forever once two bodies wait for children. Under -short or the race
// detector the tree is fib(16) (3,193 tasks).
func TestBlockedTasksFreeTheirCPU(t *testing.T) {
	ctx := start(t, gray.WithNodes(1), gray.WithCPUsPerNode(2))
	n, want := 20, 6765
	if testing.Short() || raceEnabled {
		n, want = 16, 987
	}
	got, err := fib.Remote(ctx, gray.V(n)).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("fib(%d) = %d, want %d", n, got, want)
	}
}
