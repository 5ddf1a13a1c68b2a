package gray

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// Ref is a reference to an object: the future result of a task or actor
// call, or a value stored with Put. The process that made it (the driver,
// or the worker running a task body) owns the object and keeps it while
// references exist: when a Ref becomes unreachable the garbage collector
// releases it, and Release does so at once. Copies of a Ref share one
// reference. The zero Ref is invalid.
type Ref[T any] struct{ s *refState }

type refState struct {
	c   *caller
	ref proto.ObjectRef
	err error // the submission failed: Get returns it
	rel *releaser
}

// releaser drops the core worker's local reference once. It does not
// point back at its refState, so that the state can be collected.
type releaser struct {
	c    *caller
	ref  proto.ObjectRef
	done atomic.Bool
	// stream: ref is a streaming generator's return, whose stream is
	// closed with it (Stream).
	stream bool
}

func (r *releaser) release() {
	if r.done.CompareAndSwap(false, true) {
		// Fails harmlessly once the process stopped.
		r.c.Post(func(cw *worker.Worker) {
			if r.stream {
				cw.StreamClose(r.ref.ID.Task())
			}
			cw.Release(r.ref)
		})
	}
}

// newRef makes the Ref of ref, owned by c. Its reference is released
// when the Ref becomes unreachable, except in the simulator, where the
// garbage collector's timing is not the seed's (core.Lockstep): there a
// Ref lives until Release, the end of the task body that made or
// received it (see track), or the end of its process.
func newRef[T any](c *caller, ref proto.ObjectRef) Ref[T] {
	s := &refState{c: c, ref: ref}
	bind(s)
	return Ref[T]{s}
}

// bind gives s, whose reference c's core worker counts, its releaser:
// run by the garbage collector once s is unreachable, or, in the
// simulator, at the end of the task body (track).
func bind(s *refState) {
	if s.rel == nil {
		s.rel = &releaser{c: s.c, ref: s.ref}
	}
	if !s.c.Lockstep() {
		goruntime.AddCleanup(s, func(r *releaser) { r.release() }, s.rel)
		return
	}
	track(s.c, s.rel)
}

// track keeps, for a task body run by the simulator, the releasers of
// the Refs the body made or received (in its Caller's Held): they are
// released when the body returns (endBody), which is what the garbage
// collector does on hosts once nothing the body left behind reaches
// them. Refs the body's result holds are pinned by the return first, and
// arguments of tasks it submitted by those tasks. Actor methods and
// constructors are exempt: an actor's state may keep Refs; there, as in
// drivers, a Ref lives until Release.
func track(c *caller, r *releaser) {
	if c.Parent == nil || c.Parent.ActorCall || c.Parent.ActorCreation {
		return
	}
	held, _ := c.Held.([]*releaser)
	c.Held = append(held, r)
}

// endBody releases what track kept for the body whose ctx is given.
func endBody(ctx context.Context) {
	c := process.CallerFrom(ctx)
	if c == nil {
		return
	}
	held, _ := c.Held.([]*releaser)
	c.Held = nil
	for _, r := range held {
		r.release()
	}
}

func errRef[T any](err error) Ref[T] { return Ref[T]{&refState{err: err}} }

// AnyRef is implemented by every Ref[T], for calls that take references
// of mixed types (Wait, Cancel).
type AnyRef interface {
	state() *refState
}

func (r Ref[T]) state() *refState { return r.s }

// arg implements Arg.
func (r Ref[T]) arg(c *caller) (argVal, error) {
	switch {
	case r.s == nil:
		return argVal{}, errZeroRef
	case r.s.err != nil:
		return argVal{}, r.s.err
	case r.s.c != c:
		return argVal{}, fmt.Errorf("gray: Ref %v belongs to another process (a Ref is used by the process that made or received it: pass it to a task as an argument or inside one)", r.s.ref.ID)
	}
	return argVal{ref: r.s}, nil
}

var errZeroRef = errors.New("gray: use of a zero Ref")

// ID returns the object's id, for logs.
func (r Ref[T]) ID() string {
	if r.s == nil || r.s.err != nil {
		return ""
	}
	return r.s.ref.ID.String()
}

// Get waits for the object and returns its value, or the error of the
// task that should have made it (a *TaskError matching one of the Err
// sentinels), or ctx's error.
func (r Ref[T]) Get(ctx context.Context) (T, error) {
	var zero T
	s := r.s
	switch {
	case s == nil:
		return zero, errZeroRef
	case s.err != nil:
		return zero, s.err
	case s.rel.done.Load():
		return zero, ErrReleased
	}
	data, err := do(ctx, s.c, func(cw *worker.Worker, reply func([]byte, error)) {
		whileBlocked(s.c, cw, func(done func()) {
			cw.Get(s.ref, func(data []byte, err error) {
				done()
				reply(data, err)
			})
		})
	})
	if err != nil {
		goruntime.KeepAlive(s)
		return zero, err
	}
	// The object (this Ref) is held until the Refs inside the value are
	// registered: its owner keeps them while it keeps the object.
	v, err := decodeIn[T](ctx, s.c, data)
	goruntime.KeepAlive(s)
	return v, err
}

// Release drops this reference now rather than when the garbage collector
// finds it unreachable; Get fails afterwards with ErrReleased. Tasks
// already submitted with it as an argument keep the object alive.
func (r Ref[T]) Release() {
	if r.s != nil && r.s.rel != nil {
		r.s.rel.release()
	}
}

// Put stores v as an object owned by the caller (the driver, or the task
// body whose ctx is given) and returns its reference. Values up to 100
// KiB encoded stay in the owner's memory; larger ones go to the node's
// plasma store. A failure is returned by the Ref's Get.
func Put[T any](ctx context.Context, v T) Ref[T] {
	c, err := callerFor(ctx)
	if err != nil {
		return errRef[T](err)
	}
	if b, ok := any(v).([]byte); ok && b != nil && uint64(len(b)) <= bytesValueMax {
		// Encoded straight into the store's memory where the put goes
		// through shared memory: one copy.
		ref, err := do(ctx, c, func(cw *worker.Worker, reply func(proto.ObjectRef, error)) {
			cw.PutFill(encodedBytesLen(b), func(dst []byte) { encodeBytesInto(dst, b) }, reply)
		})
		if err != nil {
			return errRef[T](err)
		}
		return newRef[T](c, ref)
	}
	e, err := encodeIn(c, v)
	if err != nil {
		return errRef[T](err)
	}
	ref, err := do(ctx, c, func(cw *worker.Worker, reply func(proto.ObjectRef, error)) { cw.PutNested(e.data, e.nested, reply) })
	goruntime.KeepAlive(e.keep) // the Refs inside are pinned by the object now
	if err != nil {
		return errRef[T](err)
	}
	return newRef[T](c, ref)
}

// GetAll gets every ref, in order, and returns the first error.
func GetAll[T any](ctx context.Context, refs []Ref[T]) ([]T, error) {
	out := make([]T, len(refs))
	for i, r := range refs {
		v, err := r.Get(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Wait waits until n of refs are ready (their task finished, well or
// not; a Ref whose submission failed is ready at once), timeout passed
// (negative: no timeout) or ctx is done, and splits refs into ready ones
// and the others, each in the order given; ready holds at most n refs
// unless more were ready already. Values are not fetched. It goes through
// the caller of ctx, which asks other owners about their objects. It
// returns ctx's error if ctx ends first.
func Wait[R AnyRef](ctx context.Context, refs []R, n int, timeout time.Duration) (ready, notReady []R, err error) {
	c, err := callerFor(ctx)
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[proto.ObjectRef]bool, len(refs))
	for _, r := range refs {
		if s := r.state(); s != nil && s.err == nil {
			if seen[s.ref] {
				return nil, nil, fmt.Errorf("gray: Wait: %v is given twice; Wait takes distinct refs (as Ray's ray.wait)", s.ref.ID)
			}
			seen[s.ref] = true
		}
	}
	n = min(max(n, 0), len(refs))
	isReady := make([]bool, len(refs))
	index := map[proto.ObjectRef][]int{}
	var pending []proto.ObjectRef
	for i, r := range refs {
		s := r.state()
		if s == nil || s.err != nil || s.rel.done.Load() {
			isReady[i] = true // Get returns at once (with an error)
			n--
			continue
		}
		if _, dup := index[s.ref]; !dup {
			pending = append(pending, s.ref)
		}
		index[s.ref] = append(index[s.ref], i)
	}
	if n > 0 {
		n = min(n, len(pending))
		got, err := do(ctx, c, func(cw *worker.Worker, reply func([]proto.ObjectRef, error)) {
			whileBlocked(c, cw, func(done func()) {
				if err := cw.Wait(pending, n, timeout, func(ready, _ []proto.ObjectRef) {
					done()
					reply(ready, nil)
				}); err != nil {
					done()
					reply(nil, err)
				}
			})
		})
		if err != nil {
			return nil, nil, err
		}
		for _, r := range got {
			for _, i := range index[r] {
				isReady[i] = true
			}
		}
	}
	for i, r := range refs {
		if isReady[i] {
			ready = append(ready, r)
		} else {
			notReady = append(notReady, r)
		}
	}
	goruntime.KeepAlive(refs)
	return ready, notReady, nil
}

// Cancel cancels the task behind ref, which must have been submitted by
// the caller of ref (its owner; else an error), as Ray's ray.cancel. A
// task still waiting for its arguments or a worker is dropped. A running
// task is interrupted: its body's ctx is cancelled (a body sees ctx.Done
// and ctx.Err, and should return), and once the body returns its worker
// takes other tasks. Go cannot stop a goroutine, so a body that ignores
// its ctx runs on and keeps its worker (and its CPUs) until it returns;
// WithForce makes the worker process exit instead (see WithForce). By
// default the tasks the body submitted are cancelled too
// (WithRecursive(false) leaves them). Either way Get fails with
// ErrCancelled at once and the task is not retried. An actor call is
// cancelled the same way: one waiting for its turn is dropped (it never
// runs, and the caller's later calls keep their order), a running one
// sees its ctx cancelled; WithForce does not apply to it (the actor's
// worker is not stopped for one call). Cancelling a finished task or
// call, or an actor creation (Kill the actor), does nothing.
func Cancel(ctx context.Context, ref AnyRef, opts ...CancelOption) error {
	var cfg cancelConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := ref.state()
	switch {
	case s == nil:
		return errZeroRef
	case s.err != nil:
		return nil // never submitted
	}
	_, err := do(ctx, s.c, func(cw *worker.Worker, reply func(struct{}, error)) {
		reply(struct{}{}, cw.Cancel(s.ref, worker.CancelOptions{Force: cfg.force, NoRecursive: cfg.noRecursive}))
	})
	goruntime.KeepAlive(s)
	return err
}
