package gray

import (
	"context"
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
)

// caller is a process whose core worker an API call goes through: the
// driver, or the worker running the task body whose ctx the call was
// given (then parent is that task, and submissions are nested).
type caller struct {
	host   *net.Host
	addr   core.Addr
	cw     func() *worker.Worker // only called on the process's loop
	gcs    func() *gcs.Client    // only called on the process's loop
	parent *proto.TaskSpec       // the running task, for a task body
	done   <-chan struct{}       // closed when the process stops
}

type callerKey struct{}

// callerFor returns the caller of an API call: the worker whose task body
// ctx came from, else the driver of the runtime Init started.
func callerFor(ctx context.Context) (*caller, error) {
	if c, ok := ctx.Value(callerKey{}).(*caller); ok {
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

// submit starts a task or actor call through the core worker: it runs on
// the process's loop (submit must never block).
func (c *caller) submitTask(cw *worker.Worker, fn string, args []proto.Arg, opts worker.TaskOptions) ([]proto.ObjectRef, error) {
	if c.parent != nil {
		return cw.SubmitNested(c.parent, fn, args, opts)
	}
	return cw.SubmitTask(fn, args, opts)
}

// onLoop runs f on the caller's event loop, unless the process stopped.
// A worker that exits is started again under the same address: checking
// done on the loop keeps a stopped worker's callers (its task bodies, its
// Refs) off its successor's loop.
func (c *caller) onLoop(f func()) error {
	select {
	case <-c.done:
		return ErrShutdown
	default:
	}
	return c.host.Do(c.addr, func() {
		select {
		case <-c.done:
		default:
			f()
		}
	})
}

// do runs f on the caller's event loop and waits for it to call reply.
// The core worker is only ever touched from its loop: API calls made on
// user goroutines hop onto it with Host.Do and wait on a channel.
func do[R any](ctx context.Context, c *caller, f func(cw *worker.Worker, reply func(R, error))) (R, error) {
	type result struct {
		v   R
		err error
	}
	ch := make(chan result, 1)
	err := c.onLoop(func() {
		f(c.cw(), func(v R, err error) {
			select {
			case ch <- result{v, err}:
			default: // replied twice: keep the first
			}
		})
	})
	var zero R
	if errors.Is(err, ErrShutdown) {
		return zero, err
	}
	if err != nil {
		return zero, fmt.Errorf("%w: %v", ErrShutdown, err)
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-c.done:
		return zero, ErrShutdown
	}
}
