package gray

import (
	"context"
	"fmt"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/registry"
)

// Multiple returns (Ray's num_returns). A task or an actor method
// registered with n returns gives n Refs per call, one per value its
// body returns (it must return exactly n): each is an object of its own,
// with its own lifetime, and can be read, passed on or released apart
// from the others — a large one goes through plasma while the small ones
// travel inline. A lost return is rebuilt by running the task again,
// like any task return.

// checkReturns panics at registration when n is out of range.
func checkReturns(name string, n int) {
	if n < 1 || n > proto.ReturnsMax {
		panic(fmt.Sprintf("gray: %s registered with %d returns, want 1..%d", name, n, proto.ReturnsMax))
	}
}

// Func0N is a registered task without arguments returning n values of R.
type Func0N[R any] struct {
	t taskFunc
	n int
}

// Func1N is a registered task of one argument returning n values of R.
type Func1N[A, R any] struct {
	t taskFunc
	n int
}

// Func2N is a registered task of two arguments returning n values of R.
type Func2N[A, B, R any] struct {
	t taskFunc
	n int
}

// Task0N registers f as the task name with n returns (Ray's
// num_returns=n): f returns exactly n values, and Remote gives n Refs.
// See Task0 for the registration contract.
func Task0N[R any](name string, n int, f func(context.Context) ([]R, error)) *Func0N[R] {
	checkReturns(name, n)
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		if err := checkArgs(args, 0); err != nil {
			return nil, err
		}
		return encodeResults[R](ctx, n)(f(ctx))
	})
	return &Func0N[R]{taskFunc{name: name}, n}
}

// Task1N registers f as the task name with n returns; see Task0N.
func Task1N[A, R any](name string, n int, f func(context.Context, A) ([]R, error)) *Func1N[A, R] {
	checkReturns(name, n)
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, err := args1[A](ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResults[R](ctx, n)(f(ctx, a))
	})
	return &Func1N[A, R]{taskFunc{name: name}, n}
}

// Task2N registers f as the task name with n returns; see Task0N.
func Task2N[A, B, R any](name string, n int, f func(context.Context, A, B) ([]R, error)) *Func2N[A, B, R] {
	checkReturns(name, n)
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, b, err := args2[A, B](ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResults[R](ctx, n)(f(ctx, a, b))
	})
	return &Func2N[A, B, R]{taskFunc{name: name}, n}
}

func submitTaskN[R any](ctx context.Context, t taskFunc, n int, args ...interface{ arg(*caller) (argVal, error) }) []Ref[R] {
	topts, err := newCallConfig(t.opts).taskOptions()
	if err != nil {
		return errRefs[R](n, err)
	}
	topts.NumReturns = n
	return remoteN[R](ctx, n, args, func(c *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return submitVia(c, cw, t.name, pargs, topts)
	})
}

// Remote submits the task and returns the references to its n results at
// once; see Func0.Remote.
func (f *Func0N[R]) Remote(ctx context.Context) []Ref[R] { return submitTaskN[R](ctx, f.t, f.n) }

// Remote submits the task; see Func0N.Remote.
func (f *Func1N[A, R]) Remote(ctx context.Context, a Arg[A]) []Ref[R] {
	return submitTaskN[R](ctx, f.t, f.n, a)
}

// Remote submits the task; see Func0N.Remote.
func (f *Func2N[A, B, R]) Remote(ctx context.Context, a Arg[A], b Arg[B]) []Ref[R] {
	return submitTaskN[R](ctx, f.t, f.n, a, b)
}

// Options returns a copy of the task handle that submits with opts.
func (f *Func0N[R]) Options(opts ...Option) *Func0N[R] { return &Func0N[R]{f.t.with(opts), f.n} }

// Options returns a copy of the task handle that submits with opts.
func (f *Func1N[A, R]) Options(opts ...Option) *Func1N[A, R] {
	return &Func1N[A, R]{f.t.with(opts), f.n}
}

// Options returns a copy of the task handle that submits with opts.
func (f *Func2N[A, B, R]) Options(opts ...Option) *Func2N[A, B, R] {
	return &Func2N[A, B, R]{f.t.with(opts), f.n}
}

// Name returns the name the task is registered under.
func (f *Func0N[R]) Name() string { return f.t.name }

// Name returns the name the task is registered under.
func (f *Func1N[A, R]) Name() string { return f.t.name }

// Name returns the name the task is registered under.
func (f *Func2N[A, B, R]) Name() string { return f.t.name }

// ActorMethod0N is a registered method of actor type T without arguments
// returning n values of R.
type ActorMethod0N[T, R any] struct {
	m actorMethod
	n int
}

// ActorMethod1N is a registered method of actor type T with one argument
// returning n values of R.
type ActorMethod1N[T, A, R any] struct {
	m actorMethod
	n int
}

// Method0N registers name as a method of actor type T with n returns;
// see Method0 and Task0N.
func Method0N[T, R any](name string, n int, f func(*T, context.Context) ([]R, error)) *ActorMethod0N[T, R] {
	key := methodKey[T](name)
	checkReturns(key, n)
	registerMethod0(key, func(ctx context.Context, t *T) ([][]byte, error) { return encodeResults[R](ctx, n)(f(t, ctx)) })
	return &ActorMethod0N[T, R]{actorMethod{key: key}, n}
}

// Method1N registers a method with one argument and n returns; see
// Method0N.
func Method1N[T, A, R any](name string, n int, f func(*T, context.Context, A) ([]R, error)) *ActorMethod1N[T, A, R] {
	key := methodKey[T](name)
	checkReturns(key, n)
	registerMethod1(key, func(ctx context.Context, t *T, a A) ([][]byte, error) {
		return encodeResults[R](ctx, n)(f(t, ctx, a))
	})
	return &ActorMethod1N[T, A, R]{actorMethod{key: key}, n}
}

func callMethodN[T, R any](ctx context.Context, m actorMethod, n int, a *ActorHandle[T], args ...interface{ arg(*caller) (argVal, error) }) []Ref[R] {
	if a == nil {
		return errRefs[R](n, fmt.Errorf("gray: call %s on a nil actor handle", m.key))
	}
	return remoteN[R](ctx, n, args, func(_ *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return cw.CallActor(a.h, m.key, pargs, worker.CallOptions{NumReturns: n, ConcurrencyGroup: m.group})
	})
}

// Remote calls the method on actor a and returns the references to its n
// results; see ActorMethod0.Remote.
func (m *ActorMethod0N[T, R]) Remote(ctx context.Context, a *ActorHandle[T]) []Ref[R] {
	return callMethodN[T, R](ctx, m.m, m.n, a)
}

// Remote calls the method; see ActorMethod0N.Remote.
func (m *ActorMethod1N[T, A, R]) Remote(ctx context.Context, a *ActorHandle[T], x Arg[A]) []Ref[R] {
	return callMethodN[T, R](ctx, m.m, m.n, a, x)
}

// InGroup returns a copy running in group name; see ActorMethod0.InGroup.
func (m *ActorMethod0N[T, R]) InGroup(name string) *ActorMethod0N[T, R] {
	return &ActorMethod0N[T, R]{actorMethod{m.m.key, name}, m.n}
}

// InGroup returns a copy running in group name; see ActorMethod0.InGroup.
func (m *ActorMethod1N[T, A, R]) InGroup(name string) *ActorMethod1N[T, A, R] {
	return &ActorMethod1N[T, A, R]{actorMethod{m.m.key, name}, m.n}
}
