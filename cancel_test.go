package gray_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/grayrt/gray"
)

// A probe lets a test see a task body start and see its ctx end: the
// bodies below look theirs up by the tag they are given.
type probe struct {
	started chan struct{}
	stopped chan error // the body's ctx.Err() once its ctx is done
}

var probes sync.Map // tag -> *probe

func newProbe(t testing.TB, tag string) *probe {
	p := &probe{started: make(chan struct{}, 1), stopped: make(chan error, 1)}
	probes.Store(tag, p)
	t.Cleanup(func() { probes.Delete(tag) })
	return p
}

// blockUntilCancelled runs the body of a task that waits for its ctx.
func blockUntilCancelled(ctx context.Context, tag string) (int, error) {
	v, ok := probes.Load(tag)
	if !ok {
		return 0, fmt.Errorf("no probe %q", tag)
	}
	p := v.(*probe)
	p.started <- struct{}{}
	<-ctx.Done()
	p.stopped <- ctx.Err()
	return 0, ctx.Err()
}

var (
	// blocker waits until its ctx is cancelled.
	blocker = gray.Task1("test.blocker", blockUntilCancelled)
	// blockerParent submits blocker(tag+"/child") and then waits until
	// its own ctx is cancelled.
	blockerParent = gray.Task1("test.blockerParent", func(ctx context.Context, tag string) (int, error) {
		child := blocker.Remote(ctx, gray.V(tag+"/child"))
		defer child.Release()
		return blockUntilCancelled(ctx, tag)
	})
)

// wait receives from ch, failing the test if ctx ends first (the
// hangGuard: never a timing assertion).
func wait[T any](ctx context.Context, t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
		var zero T
		return zero
	}
}

func TestCancelInterruptsRunningTask(t *testing.T) {
	ctx := start(t)
	p := newProbe(t, t.Name())
	r := blocker.Remote(ctx, gray.V(t.Name()))
	wait(ctx, t, p.started, "the body to start")
	if err := gray.Cancel(ctx, r); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if err := wait(ctx, t, p.stopped, "the body's ctx to be cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled body's ctx.Err() = %v, want context.Canceled", err)
	}
	if _, err := r.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("Get of a cancelled running task = %v, want ErrCancelled", err)
	}
	// Cancelling again, or cancelling a finished task, does nothing.
	if err := gray.Cancel(ctx, r); err != nil {
		t.Fatalf("second Cancel = %v", err)
	}
	done := square.Remote(ctx, gray.V(5))
	if v, err := done.Get(ctx); err != nil || v != 25 {
		t.Fatalf("square(5) after a cancel = %v, %v", v, err)
	}
	if err := gray.Cancel(ctx, done, gray.WithForce()); err != nil {
		t.Fatalf("Cancel of a finished task = %v", err)
	}
	if v, err := done.Get(ctx); err != nil || v != 25 {
		t.Fatalf("Get after cancelling a finished task = %v, %v; want 25", v, err)
	}
}

func TestCancelRecursive(t *testing.T) {
	ctx := start(t)
	parent, child := newProbe(t, t.Name()), newProbe(t, t.Name()+"/child")
	r := blockerParent.Remote(ctx, gray.V(t.Name()))
	wait(ctx, t, parent.started, "the parent body to start")
	wait(ctx, t, child.started, "the child body to start")
	if err := gray.Cancel(ctx, r); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	for _, p := range []*probe{parent, child} {
		if err := wait(ctx, t, p.stopped, "a body's ctx to be cancelled"); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled body's ctx.Err() = %v, want context.Canceled", err)
		}
	}
	if _, err := r.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("Get of a cancelled parent = %v, want ErrCancelled", err)
	}
}

// TestCancelForce: a forced cancel stops the worker process (the body
// sees its ctx cancelled), and a new process takes its place: with two
// workers in all, two tasks can run at once afterwards.
func TestCancelForce(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(2))
	p := newProbe(t, t.Name())
	r := blocker.Remote(ctx, gray.V(t.Name()))
	wait(ctx, t, p.started, "the body to start")
	if err := gray.Cancel(ctx, r, gray.WithForce()); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if err := wait(ctx, t, p.stopped, "the body's ctx to be cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the body's ctx.Err() after a forced cancel = %v, want context.Canceled", err)
	}
	if _, err := r.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("Get of a task cancelled with force = %v, want ErrCancelled", err)
	}
	var refs []gray.Ref[int]
	var ps []*probe
	for i := range 2 {
		tag := fmt.Sprintf("%s/%d", t.Name(), i)
		ps = append(ps, newProbe(t, tag))
		refs = append(refs, blocker.Remote(ctx, gray.V(tag)))
	}
	for _, p := range ps {
		wait(ctx, t, p.started, "both workers to run a task")
	}
	for _, r := range refs {
		if err := gray.Cancel(ctx, r, gray.WithRecursive(false)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
			t.Fatalf("Get = %v, want ErrCancelled", err)
		}
	}
}

type callCounter struct{ quick int }

var (
	callCounterClass = gray.Actor("test.CallCounter", func(context.Context) (*callCounter, error) { return &callCounter{}, nil })
	// callBlock waits for its ctx, through the probe of its tag.
	callBlock = gray.Method1("block", func(_ *callCounter, ctx context.Context, tag string) (int, error) {
		return blockUntilCancelled(ctx, tag)
	})
	// callQuick counts the quick calls that ran.
	callQuick = gray.Method0("quick", func(c *callCounter, _ context.Context) (int, error) {
		c.quick++
		return c.quick, nil
	})
)

// TestCancelActorCalls: cancelling an actor call that waits its turn
// drops it (it never runs), cancelling the running one cancels its ctx;
// both Gets fail with ErrCancelled, and the caller's later call still
// runs, in order.
func TestCancelActorCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	rt, err := gray.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	a, err := callCounterClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := newProbe(t, "actor-call")
	running := callBlock.Remote(ctx, a, gray.V("actor-call"))
	wait(ctx, t, p.started, "the blocking call to start")
	queued := callQuick.Remote(ctx, a)
	later := callQuick.Remote(ctx, a)
	if err := gray.Cancel(ctx, queued); err != nil {
		t.Fatal(err)
	}
	if _, err := queued.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("queued call after Cancel: %v, want ErrCancelled", err)
	}
	if err := gray.Cancel(ctx, running); err != nil {
		t.Fatal(err)
	}
	if err := wait(ctx, t, p.stopped, "the running call's ctx to end"); !errors.Is(err, context.Canceled) {
		t.Fatalf("running call's ctx: %v, want context.Canceled", err)
	}
	if _, err := running.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("running call after Cancel: %v, want ErrCancelled", err)
	}
	if n, err := later.Get(ctx); err != nil || n != 1 {
		t.Fatalf("the call after the cancelled ones: %d, %v; want 1 (the cancelled quick call never ran)", n, err)
	}
}
