package gray

import (
	"context"
	"errors"
	"fmt"
	"github.com/grayrt/gray/internal/registry"
	goruntime "runtime"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// ActorHandle names a live actor of Go type T. Call its methods with the
// MethodN handles; Kill it. A handle is a value: pass it to tasks and
// actor methods (as an argument, or inside one: a struct field, a slice)
// and return it from them. Every process calls through its own worker,
// and each caller's calls run in the order it made them.
//
// A handle keeps its actor alive, as in Ray: once no handle to a
// non-detached actor is left — none reachable in any process (the
// garbage collector releases them), none inside a value that is stored
// or in flight, no call through one still pending — the actor's owner
// kills it and its name is free again. Release drops a handle at once;
// in the simulator, where the garbage collector does not decide, a
// handle lives until Release, the end of the task body that made or
// received it, or the end of its process. Detached actors live until
// killed.
type ActorHandle[T any] struct {
	h worker.ActorHandle
	// s references the actor's handle object for this process (nil for a
	// handle that counts nothing: a detached actor's).
	s *refState
}

// newHandle wraps h, made for the process c: its handle object
// reference, if any, is released with the handle.
func newHandle[T any](c *caller, h worker.ActorHandle) *ActorHandle[T] {
	a := &ActorHandle[T]{h: h}
	if h.Ref.Owner != "" {
		a.s = &refState{c: c, ref: h.Ref}
		bind(a.s)
	}
	return a
}

// Release drops this handle's hold on the actor now rather than when the
// garbage collector finds it unreachable (or, in the simulator, when the
// task body ends): once no handle holds it, a non-detached actor is
// killed. Copies of the *ActorHandle share the hold. The handle still
// calls and kills the actor afterwards, without holding it.
func (a *ActorHandle[T]) Release() {
	if a != nil && a.s != nil && a.s.rel != nil {
		a.s.rel.release()
	}
}

// ID returns the actor's id, for logs.
func (a *ActorHandle[T]) ID() string { return a.h.ID.String() }

// Kill kills the actor through the GCS and returns once the GCS has
// taken the kill: its worker exits and its pending and later calls fail
// with ErrActorDied. With noRestart false it restarts instead, if its
// WithMaxRestarts allows. Any handle kills, wherever it came from (New,
// GetActor, a task's argument), through the caller of ctx.
func (a *ActorHandle[T]) Kill(ctx context.Context, noRestart bool) error {
	c, err := callerFor(ctx)
	if err != nil {
		return err
	}
	_, err = do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) {
		cw.KillActorThen(a.h, noRestart, func(err error) { reply(struct{}{}, err) })
	})
	return err
}

// actorClass is what every ActorClassN shares.
type actorClass struct{ name string }

func (c actorClass) create(ctx context.Context, opts []Option, args ...interface{ arg(*caller) (argVal, error) }) (worker.ActorHandle, *caller, error) {
	cl, err := callerFor(ctx)
	if err != nil {
		return worker.ActorHandle{}, nil, err
	}
	aopts, err := newCallConfig(opts).actorOptions()
	if err != nil {
		return worker.ActorHandle{}, nil, err
	}
	avs, err := collectArgs(cl, args...)
	if err != nil {
		return worker.ActorHandle{}, nil, err
	}
	h, err := do(ctx, cl, func(cw *worker.Worker, reply func(worker.ActorHandle, error)) {
		withArgs(cw, avs, func(pargs []proto.Arg, err error) {
			if err != nil {
				reply(worker.ActorHandle{}, err)
				return
			}
			if cl.Parent != nil {
				// Inside a task or an actor method: this worker owns it.
				aopts.Strategy = proto.Captured(aopts.Strategy, cl.Parent)
				cw.CreateActorNested(cl.Parent, c.name, pargs, aopts, reply)
				return
			}
			cw.CreateActor(c.name, pargs, aopts, reply)
		})
	})
	goruntime.KeepAlive(avs) // argument Refs stay referenced until submitted
	if err != nil {
		return h, cl, fmt.Errorf("gray: create actor %s: %w", c.name, err)
	}
	return h, cl, nil
}

// ActorClass0 is a registered actor class of Go type T whose constructor
// takes no argument.
type ActorClass0[T any] struct{ c actorClass }

// ActorClass1 is a registered actor class of Go type T whose constructor
// takes one argument.
type ActorClass1[T, A any] struct{ c actorClass }

// Actor registers the actor class name with constructor ctor and returns
// its handle. Call it at package init, identically in every process. It
// panics if name is taken.
func Actor[T any](name string, ctor func(context.Context) (*T, error)) *ActorClass0[T] {
	registry.RegisterCtor(name, func(ctx context.Context, args [][]byte) (any, error) {
		if err := checkArgs(args, 0); err != nil {
			return nil, err
		}
		return ctor(ctx)
	})
	return &ActorClass0[T]{actorClass{name}}
}

// Actor1 registers an actor class whose constructor takes an argument;
// see Actor.
func Actor1[T, A any](name string, ctor func(context.Context, A) (*T, error)) *ActorClass1[T, A] {
	registry.RegisterCtor(name, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := args1[A](ctx, args)
		if err != nil {
			return nil, err
		}
		return ctor(ctx, a)
	})
	return &ActorClass1[T, A]{actorClass{name}}
}

// New creates an actor and returns its handle once the GCS registered it;
// the constructor runs on a worker afterwards, and calls made meanwhile
// wait for it. The caller of ctx owns it — the driver, or the worker
// whose task body or actor method creates it — and it dies with its owner
// and its job unless WithDetached. Options: WithName, WithNamespace,
// WithGetIfExists, WithDetached, WithMaxRestarts, WithMaxTaskRetries,
// WithMaxConcurrency, WithResources, WithSpread. A constructor error or
// an infeasible demand fails the actor's calls.
func (c *ActorClass0[T]) New(ctx context.Context, opts ...Option) (*ActorHandle[T], error) {
	h, cl, err := c.c.create(ctx, opts)
	if err != nil {
		return nil, err
	}
	return newHandle[T](cl, h), nil
}

// New creates an actor with constructor argument a; see ActorClass0.New.
func (c *ActorClass1[T, A]) New(ctx context.Context, a Arg[A], opts ...Option) (*ActorHandle[T], error) {
	h, cl, err := c.c.create(ctx, opts, a)
	if err != nil {
		return nil, err
	}
	return newHandle[T](cl, h), nil
}

// GetActor returns a handle to the live actor named name (in the
// namespace of WithNamespace, the only option it uses), from the driver or
// from inside a task. It fails with an error matching ErrActorNotFound if
// there is none. The actor's Go type is not checked here: calling a
// method of another type fails the call.
//
// The lookup is a read, so a GCS that does not answer in time (restarting,
// paused, cut off) is asked again until it does or ctx is done: give ctx a
// deadline to bound the wait.
func GetActor[T any](ctx context.Context, name string, opts ...Option) (*ActorHandle[T], error) {
	cl, err := callerFor(ctx)
	if err != nil {
		return nil, err
	}
	cfg := newCallConfig(opts)
	var info gcs.ActorInfo
	for {
		info, err = do(ctx, cl, func(_ *worker.Worker, reply func(gcs.ActorInfo, error)) {
			cl.GCS().GetNamedActor(cfg.namespace, name, func(r gcs.Reply, err error) {
				switch {
				case errors.Is(err, gcs.ErrNotFound):
					reply(gcs.ActorInfo{}, fmt.Errorf("%w: %q in namespace %q", ErrActorNotFound, name, cfg.namespace))
				case err != nil:
					reply(gcs.ActorInfo{}, fmt.Errorf("gray: look up actor %q: %w", name, err))
				case len(r.Actors) == 0:
					reply(gcs.ActorInfo{}, fmt.Errorf("%w: %q in namespace %q", ErrActorNotFound, name, cfg.namespace))
				default:
					reply(r.Actors[0], nil)
				}
			})
		})
		if !errors.Is(err, gcs.ErrTimeout) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	// The handle borrows the actor's handle object from its owner, so
	// that the actor lives while it does (registration is bounded by the
	// owner's timeout, not by ctx: a counted reference must get its
	// releaser).
	h, err := do(context.WithoutCancel(ctx), cl, func(cw *worker.Worker, reply func(worker.ActorHandle, error)) {
		cw.BorrowHandle(info, cfg.maxTaskRetries, func(h worker.ActorHandle) { reply(h, nil) })
	})
	if err != nil {
		return nil, err
	}
	return newHandle[T](cl, h), nil
}

// actorMethod is what every MethodN shares: its qualified name, and the
// concurrency group its calls run in ("" the default).
type actorMethod struct{ key, group string }

func callMethod[T, R any](ctx context.Context, m actorMethod, a *ActorHandle[T], args ...interface{ arg(*caller) (argVal, error) }) Ref[R] {
	if a == nil {
		return errRef[R](fmt.Errorf("gray: call %s on a nil actor handle", m.key))
	}
	return remote[R](ctx, args, func(_ *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return cw.CallActor(a.h, m.key, pargs, worker.CallOptions{NumReturns: 1, ConcurrencyGroup: m.group})
	})
}

// ActorMethod0 is a registered method of actor type T without arguments.
type ActorMethod0[T, R any] struct{ m actorMethod }

// ActorMethod1 is a registered method of actor type T with one argument.
type ActorMethod1[T, A, R any] struct{ m actorMethod }

// ActorMethod2 is a registered method of actor type T with two arguments.
type ActorMethod2[T, A, B, R any] struct{ m actorMethod }

func methodOf[T any](obj any) (*T, error) {
	t, ok := obj.(*T)
	if !ok {
		return nil, fmt.Errorf("gray: actor is a %T, not a *%T", obj, *new(T))
	}
	return t, nil
}

// registerMethod0 registers key as a method of actor type T without
// arguments: run gets the actor's object once the call checked out.
// Method0, Method0N and MethodGenerator0 differ only in run.
func registerMethod0[T any](key string, run func(ctx context.Context, t *T) ([][]byte, error)) {
	registry.RegisterMethod(key, func(ctx context.Context, obj any, args [][]byte) ([][]byte, error) {
		if err := checkArgs(args, 0); err != nil {
			return nil, err
		}
		t, err := methodOf[T](obj)
		if err != nil {
			return nil, err
		}
		return run(ctx, t)
	})
}

// registerMethod1 is registerMethod0 for methods of one argument.
func registerMethod1[T, A any](key string, run func(ctx context.Context, t *T, a A) ([][]byte, error)) {
	registry.RegisterMethod(key, func(ctx context.Context, obj any, args [][]byte) ([][]byte, error) {
		a, err := args1[A](ctx, args)
		if err != nil {
			return nil, err
		}
		t, err := methodOf[T](obj)
		if err != nil {
			return nil, err
		}
		return run(ctx, t, a)
	})
}

// Method0 registers name as a method of actor type T, typically a method
// expression such as (*Counter).Get. Call it at package init. Method
// names are per Go type: two types may both have a method "get".
func Method0[T, R any](name string, f func(*T, context.Context) (R, error)) *ActorMethod0[T, R] {
	key := methodKey[T](name)
	registerMethod0(key, func(ctx context.Context, t *T) ([][]byte, error) { return encodeResult[R](ctx)(f(t, ctx)) })
	return &ActorMethod0[T, R]{actorMethod{key: key}}
}

// Method1 registers a method with one argument; see Method0.
func Method1[T, A, R any](name string, f func(*T, context.Context, A) (R, error)) *ActorMethod1[T, A, R] {
	key := methodKey[T](name)
	registerMethod1(key, func(ctx context.Context, t *T, a A) ([][]byte, error) { return encodeResult[R](ctx)(f(t, ctx, a)) })
	return &ActorMethod1[T, A, R]{actorMethod{key: key}}
}

// Method2 registers a method with two arguments; see Method0.
func Method2[T, A, B, R any](name string, f func(*T, context.Context, A, B) (R, error)) *ActorMethod2[T, A, B, R] {
	key := methodKey[T](name)
	registry.RegisterMethod(key, func(ctx context.Context, obj any, args [][]byte) ([][]byte, error) {
		a, b, err := args2[A, B](ctx, args)
		if err != nil {
			return nil, err
		}
		t, err := methodOf[T](obj)
		if err != nil {
			return nil, err
		}
		return encodeResult[R](ctx)(f(t, ctx, a, b))
	})
	return &ActorMethod2[T, A, B, R]{actorMethod{key: key}}
}

// Remote calls the method on actor a and returns the reference to its
// result. Calls from one caller run in the order they were made, one at a
// time. A method that fails leaves the Go object as the method left it
// (unlike the core worker's byte state, a live object is not rolled back).
func (m *ActorMethod0[T, R]) Remote(ctx context.Context, a *ActorHandle[T]) Ref[R] {
	return callMethod[T, R](ctx, m.m, a)
}

// Remote calls the method; see ActorMethod0.Remote.
func (m *ActorMethod1[T, A, R]) Remote(ctx context.Context, a *ActorHandle[T], x Arg[A]) Ref[R] {
	return callMethod[T, R](ctx, m.m, a, x)
}

// Remote calls the method; see ActorMethod0.Remote.
func (m *ActorMethod2[T, A, B, R]) Remote(ctx context.Context, a *ActorHandle[T], x Arg[A], y Arg[B]) Ref[R] {
	return callMethod[T, R](ctx, m.m, a, x, y)
}

// InGroup returns a copy of the method handle whose calls run in the
// actor's concurrency group name (Ray's concurrency_group): created
// WithConcurrencyGroups, the actor runs each group's calls apart from the
// others', up to the group's limit, so a group's waiting calls never hold
// up another's. Calling an actor that lacks the group fails the call.
func (m *ActorMethod0[T, R]) InGroup(name string) *ActorMethod0[T, R] {
	return &ActorMethod0[T, R]{actorMethod{m.m.key, name}}
}

// InGroup returns a copy running in group name; see ActorMethod0.InGroup.
func (m *ActorMethod1[T, A, R]) InGroup(name string) *ActorMethod1[T, A, R] {
	return &ActorMethod1[T, A, R]{actorMethod{m.m.key, name}}
}

// InGroup returns a copy running in group name; see ActorMethod0.InGroup.
func (m *ActorMethod2[T, A, B, R]) InGroup(name string) *ActorMethod2[T, A, B, R] {
	return &ActorMethod2[T, A, B, R]{actorMethod{m.m.key, name}}
}
