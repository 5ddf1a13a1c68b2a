package gray

import (
	"context"
	"errors"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// caller is the process an API call goes through (see process.Caller):
// the driver, or the worker running the task body whose ctx the call was
// given.
type caller = process.Caller

// callerFor returns the caller of an API call: the process ctx carries
// (a task body's worker, or a driver program run by the simulator), else
// the driver of the runtime Init started.
func callerFor(ctx context.Context) (*caller, error) {
	if c := process.CallerFrom(ctx); c != nil {
		return c, nil
	}
	defaultMu.Lock()
	rt := defaultRT
	defaultMu.Unlock()
	if rt == nil {
		return nil, ErrNotInitialized
	}
	return rt.driver, nil
}

// submitVia starts a task through the core worker of c, on its loop:
// nested under the running task in a body.
func submitVia(c *caller, cw *worker.Worker, fn string, args []proto.Arg, opts worker.TaskOptions) ([]proto.ObjectRef, error) {
	if c.Parent != nil {
		opts.Strategy = proto.Captured(opts.Strategy, c.Parent)
		return cw.SubmitNested(c.Parent, fn, args, opts)
	}
	return cw.SubmitTask(fn, args, opts)
}

// whileBlocked runs start, a Get or Wait that calls done when it ends,
// as worker.WhileBlocked does for the task body c runs: the body's lease
// lends its CPUs out while it waits. Drivers and actor methods just wait.
func whileBlocked(c *caller, cw *worker.Worker, start func(done func())) {
	if p := c.Parent; p == nil || p.ActorCall || p.ActorCreation {
		start(func() {})
		return
	}
	cw.WhileBlocked(c.Parent.TaskID, start)
}

// do runs f on the caller's event loop and waits for it to call reply
// (process.Do): the core worker is only ever touched from its loop. A
// stopped process fails the call with ErrShutdown.
func do[R any](ctx context.Context, c *caller, f func(cw *worker.Worker, reply func(R, error))) (R, error) {
	v, err := process.Do(ctx, c, f)
	if errors.Is(err, core.ErrStopped) {
		return v, ErrShutdown
	}
	return v, err
}
