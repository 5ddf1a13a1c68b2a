package workload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/internal/process"
)

// Cancellation in the cluster workload. Every round a driver submits
// slow(ms) — or, every other round, slowparent(ms), whose body submits a
// slow(ms) child it owns — and cancels it soon after, well before the
// body could finish, with force every fourth round and without recursion
// every sixth.
//
// Invariants: the Get of a cancelled task fails with Cancelled (it was
// still pending when cancelled, so nothing else is allowed — unless a
// pause held the cancel back past the body's end, see cancel); the child of
// an interrupted slowparent yields its value or, when the cancel was
// recursive, Cancelled — nothing else. The workload's liveness check
// (the cluster goes idle) covers leases: an interrupted body must give its
// worker and CPU back, and so must a worker that exited on a forced
// cancel.

// slowTaskMs is how long slow bodies run unless interrupted; drivers
// cancel within cancelDelayMsMax of submitting, far less.
const (
	slowTaskMs       = 2_000
	cancelDelayMsMax = 300
)

var (
	// slowTask waits ms of (simulated) time, or returns at once with an
	// error when its ctx is cancelled: when the task is cancelled, as a
	// Go body should.
	slowTask = gray.Task1("workload.slow", func(ctx context.Context, ms int64) (int64, error) {
		if err := slowBody(ctx, ms); err != nil {
			return 0, err
		}
		return ms, nil
	})
	// slowParentTask submits slow(ms) as its child, then runs like slow.
	// When it ends it checks its child: the child's value, or Cancelled
	// if the parent was cancelled recursively.
	slowParentTask = gray.Task1("workload.slowparent", func(ctx context.Context, ms int64) (int64, error) {
		child := slowTask.Options(retried).Remote(ctx, gray.V(ms))
		defer child.Release()
		err := slowBody(ctx, ms)
		// The body's ctx is cancelled once it was interrupted; the check
		// waits for the child all the same.
		got, cerr := child.Get(context.WithoutCancel(ctx))
		switch {
		case errors.Is(cerr, gray.ErrShutdown):
			// The worker stopped (crashed): nobody can see the child.
		case errors.Is(cerr, gray.ErrCancelled):
			sometimes(ctx, "child of a cancelled task cancelled")
		case errors.Is(cerr, context.Canceled) && ctx.Err() != nil:
			// Interrupted before the child was submitted: there is none.
		case cerr != nil:
			failf(ctx, "child of %s (interrupted: %v) failed with %v, want its value or Cancelled", process.CallerFrom(ctx).Parent.Describe(), err, cerr)
		case got != ms:
			failf(ctx, "child of %s = %d, want %d", process.CallerFrom(ctx).Parent.Describe(), got, ms)
		}
		if err != nil {
			return 0, err
		}
		return ms, nil
	})
)

// slowBody waits ms, or until ctx ends.
func slowBody(ctx context.Context, ms int64) error {
	if ms < 0 || ms > 60_000 {
		return fmt.Errorf("slow: bad duration %d ms", ms)
	}
	err := pause(ctx, time.Duration(ms)*time.Millisecond)
	if errors.Is(err, context.Canceled) {
		sometimes(ctx, "running task interrupted")
	}
	if err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

// failf fails the run of the workload whose worker runs the body ctx was
// given, naming that worker.
func failf(ctx context.Context, format string, args ...any) {
	if c := clusterOf(ctx); c != nil {
		c.w.Fail("invariant", fmt.Sprintf("%s: %s", process.CallerFrom(ctx).Env.Self(), fmt.Sprintf(format, args...)))
	}
}

// slowRun is a round's slow task, submitted at when.
type slowRun struct {
	fn   *gray.Func1[int64, int64]
	ref  gray.Ref[int64]
	when time.Duration
}

// submitSlow submits this round's slow task.
func (d *driver) submitSlow(ctx context.Context, rs *roundRefs) slowRun {
	fn := slowTask
	if d.round%2 == 0 {
		fn = slowParentTask
	}
	r := fn.Options(retried).Remote(ctx, gray.V(int64(slowTaskMs)))
	rs.add(r)
	return slowRun{fn: fn, ref: r, when: d.cl.w.Now()}
}

// cancel waits (gray.Wait with a timeout) until a random delay of up to
// cancelDelayMsMax has passed since the slow task's submission, and
// cancels it. It returns the check to run later: the task's Get must fail
// with Cancelled.
func (d *driver) cancel(ctx context.Context, sr slowRun) (check func() error, err error) {
	fn, r := sr.fn, sr.ref
	force, recursive := d.round%4 == 3, d.round%6 != 0
	delay := time.Duration(d.rnd.IntN(cancelDelayMsMax))*time.Millisecond - (d.cl.w.Now() - sr.when)
	if _, _, err := gray.Wait(ctx, []gray.Ref[int64]{r}, 1, max(delay, 0)); err != nil {
		return nil, fmt.Errorf("wait for %s: %w", fn.Name(), err)
	}
	var opts []gray.CancelOption
	if force {
		opts = append(opts, gray.WithForce())
	}
	opts = append(opts, gray.WithRecursive(recursive))
	if err := gray.Cancel(ctx, r, opts...); err != nil {
		return nil, fmt.Errorf("cancel %s: %w", fn.Name(), err)
	}
	return func() error {
		got, err := r.Get(ctx)
		if err == nil && got == slowTaskMs && d.cl.w.Faults().Pause > 0 {
			// A pause (of the worker, its raylet or this driver) can hold
			// the cancel back until the body's own 2 s ran out: the task
			// finished first, and a cancel of a finished task changes
			// nothing, as in Ray. Only then may the value come back, and
			// only the right one.
			d.cl.w.Sometimes("cancel came after a paused task finished")
			return nil
		}
		if !errors.Is(err, gray.ErrCancelled) {
			return fmt.Errorf("get of %s cancelled while pending (force %v, recursive %v): %v, want Cancelled", fn.Name(), force, recursive, err)
		}
		d.cl.w.Sometimes("task cancelled")
		if force {
			d.cl.w.Sometimes("task cancelled with force")
		}
		return nil
	}, nil
}
