package gray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	goruntime "runtime"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/internal/registry"
)

// Streaming generators (Ray's num_returns="streaming" and its
// ObjectRefGenerator). A generator's body gets a yield function and
// calls it once per value; each value becomes an object of its own,
// owned by the caller, and the caller's Stream hands out a Ref per value
// as soon as it is yielded, while the body still runs:
//
//	var Count = gray.Generator1("count", func(ctx context.Context, n int, yield func(int) error) error {
//		for i := range n {
//			if err := yield(i); err != nil {
//				return err // the consumer closed the stream
//			}
//		}
//		return nil
//	})
//
//	s := Count.Remote(ctx, gray.V(3))
//	defer s.Close()
//	for ref, err := range s.All(ctx) { … }
//
// yield returns once the owner has the value (and, WithBackpressure(n),
// once the consumer is fewer than n values behind); it fails when the
// consumer closed the stream or the task was cancelled, and the body
// should then return. A body that returns an error after some values
// delivers those values, then its error in place of the next one (a Ref
// whose Get fails with it), then the end. A retried generator (its worker
// died; WithRetryExceptions) runs again from the start: the values it
// yields again are dropped and the stream goes on where it was, so a
// generator must yield the same values on every attempt, as in Ray.
// Values are not rebuilt when lost: a value whose only copy was on a node
// that died fails with ErrObjectLost.

// ErrStreamClosed is matched by the error yield returns when the
// consumer closed the stream or the generator task was cancelled: the
// body should return.
var ErrStreamClosed = errors.New("gray: the stream was closed by its consumer (or its task was cancelled)")

// Stream is the caller's side of a streaming generator: the Refs of the
// values its body yields, in order. Next and All may be called from any
// goroutine of the process that made the call. Close it when done (the
// garbage collector does it otherwise): values not taken are released
// and a body still running is cancelled.
type Stream[T any] struct{ s *refState }

// Next returns the Ref of the next value, waiting for the body to yield
// it; io.EOF once every value (and the body's error, if it failed) was
// taken or the stream was closed; ctx's error if ctx ends first; the
// submission's error if the call could not be made.
func (s *Stream[T]) Next(ctx context.Context) (Ref[T], error) {
	var zero Ref[T]
	st := s.state()
	switch {
	case st == nil:
		return zero, errors.New("gray: use of a zero Stream")
	case st.err != nil:
		return zero, st.err
	}
	task := st.ref.ID.Task()
	type took struct {
		ref   proto.ObjectRef
		state worker.StreamState
	}
	for {
		if st.rel.done.Load() {
			return zero, io.EOF
		}
		t, err := do(ctx, st.c, func(cw *worker.Worker, reply func(took, error)) {
			r, k := cw.StreamTake(task)
			reply(took{r, k}, nil)
		})
		if err != nil {
			goruntime.KeepAlive(st)
			return zero, err
		}
		switch t.state {
		case worker.StreamItem:
			goruntime.KeepAlive(st)
			return newRef[T](st.c, t.ref), nil
		case worker.StreamEnd:
			st.rel.release() // nothing more will come: let the owner forget it
			return zero, io.EOF
		}
		// Wait for the body's next value; a wait given up on (ctx)
		// leaves only a wake-up behind, never a taken value.
		_, err = do(ctx, st.c, func(cw *worker.Worker, reply func(struct{}, error)) {
			whileBlocked(st.c, cw, func(done func()) {
				cw.StreamWait(task, func() {
					done()
					reply(struct{}{}, nil)
				})
			})
		})
		if err != nil {
			goruntime.KeepAlive(st)
			return zero, err
		}
	}
}

// All iterates over the stream's values, as Next gives them, until the
// end (which is not yielded) or an error (yielded once, with a zero Ref).
// Breaking out of the loop leaves the stream open.
func (s *Stream[T]) All(ctx context.Context) iter.Seq2[Ref[T], error] {
	return func(yield func(Ref[T], error) bool) {
		for {
			r, err := s.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// Close releases the values not taken yet and cancels the generator task
// if it still runs (its body's next yield fails with ErrStreamClosed);
// Next returns io.EOF afterwards. Refs already taken stay valid.
func (s *Stream[T]) Close() {
	if st := s.state(); st != nil && st.rel != nil {
		st.rel.release()
	}
}

// Cancel cancels the generator task as Cancel does a task: the values
// yielded so far stay readable, then the stream gives an ErrCancelled
// error in place of the next value, then the end.
func (s *Stream[T]) Cancel(ctx context.Context, opts ...CancelOption) error {
	st := s.state()
	if st == nil {
		return errors.New("gray: use of a zero Stream")
	}
	return Cancel(ctx, Ref[T]{st}, opts...)
}

func (s *Stream[T]) state() *refState {
	if s == nil {
		return nil
	}
	return s.s
}

// newStream makes the Stream of a generator call whose return ref c's
// core worker counts.
func newStream[T any](c *caller, ref proto.ObjectRef) *Stream[T] {
	st := &refState{c: c, ref: ref, rel: &releaser{c: c, ref: ref, stream: true}}
	bind(st)
	return &Stream[T]{st}
}

func errStream[T any](err error) *Stream[T] { return &Stream[T]{&refState{err: err}} }

// yielder returns the yield function of the generator body whose ctx is
// given.
func yielder[R any](ctx context.Context) func(R) error {
	c := process.CallerFrom(ctx)
	return func(v R) error {
		if c == nil || c.Parent == nil {
			return errors.New("gray: yield outside a generator body")
		}
		e, err := encodeIn(c, v)
		if err != nil {
			return err
		}
		_, err = do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) {
			cw.ReportItem(c.Parent, e.data, e.nested, func(err error) { reply(struct{}{}, err) })
		})
		goruntime.KeepAlive(e.keep) // the Refs inside are pinned by the value now
		switch {
		case errors.Is(err, worker.ErrStreamClosed):
			return ErrStreamClosed
		case err != nil && ctx.Err() != nil:
			// The task was cancelled (Close cancels a running body).
			return fmt.Errorf("%w: %w", ErrStreamClosed, err)
		}
		return err
	}
}

// streamBody runs a generator body: it yields its values itself and
// returns no value of its own.
func streamBody(err error) ([][]byte, error) { return nil, err }

// GenFunc0 is a registered streaming generator without arguments
// yielding values of R.
type GenFunc0[R any] struct{ t taskFunc }

// GenFunc1 is a registered streaming generator of one argument.
type GenFunc1[A, R any] struct{ t taskFunc }

// GenFunc2 is a registered streaming generator of two arguments.
type GenFunc2[A, B, R any] struct{ t taskFunc }

// Generator0 registers f as the streaming generator task name (see the
// package's Streaming generators and Task0 for the registration
// contract): f calls yield once per value and returns nil, or an error
// delivered after its values.
func Generator0[R any](name string, f func(ctx context.Context, yield func(R) error) error) *GenFunc0[R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		if err := checkArgs(args, 0); err != nil {
			return nil, err
		}
		return streamBody(f(ctx, yielder[R](ctx)))
	})
	return &GenFunc0[R]{taskFunc{name: name}}
}

// Generator1 registers a generator of one argument; see Generator0.
func Generator1[A, R any](name string, f func(ctx context.Context, a A, yield func(R) error) error) *GenFunc1[A, R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, err := args1[A](ctx, args)
		if err != nil {
			return nil, err
		}
		return streamBody(f(ctx, a, yielder[R](ctx)))
	})
	return &GenFunc1[A, R]{taskFunc{name: name}}
}

// Generator2 registers a generator of two arguments; see Generator0.
func Generator2[A, B, R any](name string, f func(ctx context.Context, a A, b B, yield func(R) error) error) *GenFunc2[A, B, R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, b, err := args2[A, B](ctx, args)
		if err != nil {
			return nil, err
		}
		return streamBody(f(ctx, a, b, yielder[R](ctx)))
	})
	return &GenFunc2[A, B, R]{taskFunc{name: name}}
}

func submitStream[R any](ctx context.Context, t taskFunc, args ...interface{ arg(*caller) (argVal, error) }) *Stream[R] {
	topts, err := newCallConfig(t.opts).taskOptions()
	if err != nil {
		return errStream[R](err)
	}
	topts.Streaming = true
	return remoteStream[R](ctx, args, func(c *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return submitVia(c, cw, t.name, pargs, topts)
	})
}

// remoteStream is remote of a streaming call.
func remoteStream[R any](ctx context.Context, args []interface{ arg(*caller) (argVal, error) }, submit func(c *caller, cw *worker.Worker, args []proto.Arg) ([]proto.ObjectRef, error)) *Stream[R] {
	c, refs, err := submitRaw(ctx, 1, args, submit)
	if err != nil {
		return errStream[R](err)
	}
	return newStream[R](c, refs[0])
}

// Remote calls the generator and returns its Stream at once. A
// submission error is returned by the Stream's Next.
func (f *GenFunc0[R]) Remote(ctx context.Context) *Stream[R] { return submitStream[R](ctx, f.t) }

// Remote calls the generator; see GenFunc0.Remote.
func (f *GenFunc1[A, R]) Remote(ctx context.Context, a Arg[A]) *Stream[R] {
	return submitStream[R](ctx, f.t, a)
}

// Remote calls the generator; see GenFunc0.Remote.
func (f *GenFunc2[A, B, R]) Remote(ctx context.Context, a Arg[A], b Arg[B]) *Stream[R] {
	return submitStream[R](ctx, f.t, a, b)
}

// Options returns a copy of the generator handle that calls with opts
// (WithBackpressure among them).
func (f *GenFunc0[R]) Options(opts ...Option) *GenFunc0[R] { return &GenFunc0[R]{f.t.with(opts)} }

// Options returns a copy of the generator handle that calls with opts.
func (f *GenFunc1[A, R]) Options(opts ...Option) *GenFunc1[A, R] {
	return &GenFunc1[A, R]{f.t.with(opts)}
}

// Options returns a copy of the generator handle that calls with opts.
func (f *GenFunc2[A, B, R]) Options(opts ...Option) *GenFunc2[A, B, R] {
	return &GenFunc2[A, B, R]{f.t.with(opts)}
}

// Name returns the name the generator is registered under.
func (f *GenFunc0[R]) Name() string { return f.t.name }

// Name returns the name the generator is registered under.
func (f *GenFunc1[A, R]) Name() string { return f.t.name }

// Name returns the name the generator is registered under.
func (f *GenFunc2[A, B, R]) Name() string { return f.t.name }

// ActorGenerator0 is a registered streaming generator method of actor
// type T without arguments.
type ActorGenerator0[T, R any] struct {
	m            actorMethod
	backpressure int
}

// ActorGenerator1 is a registered streaming generator method of actor
// type T with one argument.
type ActorGenerator1[T, A, R any] struct {
	m            actorMethod
	backpressure int
}

// MethodGenerator0 registers name as a streaming generator method of
// actor type T (see Generator0 and Method0): calls run in the actor like
// any method and stream their values to the caller.
func MethodGenerator0[T, R any](name string, f func(t *T, ctx context.Context, yield func(R) error) error) *ActorGenerator0[T, R] {
	key := methodKey[T](name)
	registerMethod0(key, func(ctx context.Context, t *T) ([][]byte, error) { return streamBody(f(t, ctx, yielder[R](ctx))) })
	return &ActorGenerator0[T, R]{m: actorMethod{key: key}}
}

// MethodGenerator1 registers a generator method with one argument; see
// MethodGenerator0.
func MethodGenerator1[T, A, R any](name string, f func(t *T, ctx context.Context, a A, yield func(R) error) error) *ActorGenerator1[T, A, R] {
	key := methodKey[T](name)
	registerMethod1(key, func(ctx context.Context, t *T, a A) ([][]byte, error) {
		return streamBody(f(t, ctx, a, yielder[R](ctx)))
	})
	return &ActorGenerator1[T, A, R]{m: actorMethod{key: key}}
}

func callStream[T, R any](ctx context.Context, m actorMethod, backpressure int, a *ActorHandle[T], args ...interface{ arg(*caller) (argVal, error) }) *Stream[R] {
	if a == nil {
		return errStream[R](fmt.Errorf("gray: call %s on a nil actor handle", m.key))
	}
	return remoteStream[R](ctx, args, func(_ *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return cw.CallActor(a.h, m.key, pargs, worker.CallOptions{NumReturns: 1, ConcurrencyGroup: m.group, Streaming: true, Backpressure: backpressure})
	})
}

// Remote calls the generator method on actor a and returns its Stream at
// once; see ActorMethod0.Remote for the calls' order.
func (m *ActorGenerator0[T, R]) Remote(ctx context.Context, a *ActorHandle[T]) *Stream[R] {
	return callStream[T, R](ctx, m.m, m.backpressure, a)
}

// Remote calls the generator method; see ActorGenerator0.Remote.
func (m *ActorGenerator1[T, A, R]) Remote(ctx context.Context, a *ActorHandle[T], x Arg[A]) *Stream[R] {
	return callStream[T, R](ctx, m.m, m.backpressure, a, x)
}

// WithBackpressure returns a copy of the method handle whose calls are
// bounded as WithBackpressure(n) bounds a generator task.
func (m *ActorGenerator0[T, R]) WithBackpressure(n int) *ActorGenerator0[T, R] {
	return &ActorGenerator0[T, R]{m.m, max(n, 0)}
}

// WithBackpressure returns a copy bounded by n; see
// ActorGenerator0.WithBackpressure.
func (m *ActorGenerator1[T, A, R]) WithBackpressure(n int) *ActorGenerator1[T, A, R] {
	return &ActorGenerator1[T, A, R]{m.m, max(n, 0)}
}

// InGroup returns a copy running in the actor's concurrency group name;
// see ActorMethod0.InGroup.
func (m *ActorGenerator0[T, R]) InGroup(name string) *ActorGenerator0[T, R] {
	return &ActorGenerator0[T, R]{actorMethod{m.m.key, name}, m.backpressure}
}

// InGroup returns a copy running in group name; see ActorMethod0.InGroup.
func (m *ActorGenerator1[T, A, R]) InGroup(name string) *ActorGenerator1[T, A, R] {
	return &ActorGenerator1[T, A, R]{actorMethod{m.m.key, name}, m.backpressure}
}
