package process

import (
	"context"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// Caller is the process an API call of package gray goes through: a
// driver, or the worker whose task body or actor method was given the
// call's ctx (then Parent is that task, and submissions are nested).
type Caller struct {
	// Env is the process's environment: calls reach its event loop with
	// Env.Await and Env.Post.
	Env core.Env
	// Worker returns the process's core worker (nil while a joining
	// driver has not attached yet) and GCS its GCS client. Call them on
	// the process's loop only (inside Do's f).
	Worker func() *worker.Worker
	GCS    func() *gcs.Client
	// Parent is the running task of a body's caller; nil for a driver.
	Parent *proto.TaskSpec
	// Driver is the driver process of a driver's caller; nil in a body.
	Driver *Driver
	// Held is package gray's state of a body run by the simulator: the
	// releasers of the Refs the body made or received, released when it
	// returns. It lives and dies with the Caller (a body abandoned by a
	// crash leaves nothing behind), and only the body's coroutine and
	// its process's loop, which never run at once, touch it.
	Held any
}

type callerKey struct{}

// WithCaller returns ctx carrying c: API calls made with it go through c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Do runs f on c's event loop with its core worker and blocks until f
// (or a later callback) calls reply, ctx ends (ctx.Err()) or the process
// stops (core.ErrStopped). Only the first reply counts. It must be called
// off the loop: from user code.
func Do[R any](ctx context.Context, c *Caller, f func(cw *worker.Worker, reply func(R, error))) (R, error) {
	var (
		res     R
		resErr  error
		replied bool // touched on the loop only
	)
	err := c.Env.Await(ctx, func(wake func()) {
		f(c.Worker(), func(v R, err error) {
			if replied {
				return
			}
			replied = true
			res, resErr = v, err
			wake()
		})
	})
	if err != nil {
		var zero R
		return zero, err
	}
	return res, resErr
}

// Post runs f on c's loop with its core worker without waiting; it
// reports false if the process stopped.
func (c *Caller) Post(f func(cw *worker.Worker)) bool {
	return c.Env.Post(func() { f(c.Worker()) })
}

// Lockstep reports whether c's process runs in the simulator, where
// nothing but its own Go work may call it (core.Lockstep): references
// are then not released by garbage-collector cleanups.
func (c *Caller) Lockstep() bool { return core.InLockstep(c.Env) }
