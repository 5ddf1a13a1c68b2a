package gray

import (
	"context"
	"fmt"
	"github.com/grayrt/gray/internal/registry"
	goruntime "runtime"
	"slices"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
)

// Arg is an argument of type T to a task, an actor constructor or an
// actor method: an immediate value (V) or a Ref[T], whose value the
// executing worker fetches before the body runs (a failed Ref fails the
// task with its error).
type Arg[T any] interface {
	arg(c *caller) (argVal, error)
}

// argVal is an argument ready to submit: encoded bytes (with the
// references the value holds) or a reference.
type argVal struct {
	value encoded
	ref   *refState
}

type value[T any] struct{ v T }

func (v value[T]) arg(c *caller) (argVal, error) {
	e, err := encodeIn(c, v.v)
	return argVal{value: e}, err
}

// V makes an immediate argument from a value. Values larger than 100 KiB
// encoded are put into the object store first, as Ray does.
func V[T any](v T) Arg[T] { return value[T]{v} }

// collectArgs encodes the arguments on the caller's goroutine.
func collectArgs(c *caller, args ...interface{ arg(*caller) (argVal, error) }) ([]argVal, error) {
	out := make([]argVal, len(args))
	for i, a := range args {
		if a == nil {
			return nil, fmt.Errorf("gray: argument %d is nil", i+1)
		}
		v, err := a.arg(c)
		if err != nil {
			return nil, fmt.Errorf("gray: argument %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// withArgs turns argVals into proto.Args on the caller's loop, putting
// large immediate values into the object store first; then it calls
// done, after which the puts' own references are released (the
// submitted task holds them).
func withArgs(cw *worker.Worker, avs []argVal, done func([]proto.Arg, error)) {
	out := make([]proto.Arg, len(avs))
	var puts []proto.ObjectRef
	pending := 1
	var failed error
	finish := func() {
		pending--
		if pending > 0 {
			return
		}
		if failed != nil {
			done(nil, failed)
		} else {
			done(out, nil)
		}
		for _, r := range puts {
			cw.Release(r)
		}
	}
	for i, a := range avs {
		switch {
		case a.ref != nil:
			r := a.ref.ref
			out[i] = proto.Arg{Ref: &r}
		case len(a.value.data) > proto.InlineSizeMax:
			pending++
			cw.PutNested(a.value.data, a.value.nested, func(r proto.ObjectRef, err error) {
				if err != nil {
					failed = fmt.Errorf("gray: storing argument %d: %w", i+1, err)
				} else {
					puts = append(puts, r)
					out[i] = proto.Arg{Ref: &r}
				}
				finish()
			})
		default:
			out[i] = proto.Arg{Value: a.value.data, Nested: a.value.nested}
		}
	}
	finish()
}

// remote submits through the caller of ctx; submit runs on its loop.
func remote[R any](ctx context.Context, args []interface{ arg(*caller) (argVal, error) }, submit func(c *caller, cw *worker.Worker, args []proto.Arg) ([]proto.ObjectRef, error)) Ref[R] {
	return remoteN[R](ctx, 1, args, submit)[0]
}

// remoteN is remote of a submission with n returns: n Refs, each failing
// with the submission's error if it fails.
func remoteN[R any](ctx context.Context, n int, args []interface{ arg(*caller) (argVal, error) }, submit func(c *caller, cw *worker.Worker, args []proto.Arg) ([]proto.ObjectRef, error)) []Ref[R] {
	c, refs, err := submitRaw(ctx, n, args, submit)
	if err != nil {
		return errRefs[R](n, err)
	}
	out := make([]Ref[R], n)
	for i, r := range refs {
		out[i] = newRef[R](c, r)
	}
	return out
}

// submitRaw submits through the caller of ctx and returns the caller and
// the n references the submission made, each counted once by the core
// worker for the caller to bind.
func submitRaw(ctx context.Context, n int, args []interface{ arg(*caller) (argVal, error) }, submit func(c *caller, cw *worker.Worker, args []proto.Arg) ([]proto.ObjectRef, error)) (*caller, []proto.ObjectRef, error) {
	c, err := callerFor(ctx)
	if err != nil {
		return nil, nil, err
	}
	avs, err := collectArgs(c, args...)
	if err != nil {
		return nil, nil, err
	}
	refs, err := do(ctx, c, func(cw *worker.Worker, reply func([]proto.ObjectRef, error)) {
		withArgs(cw, avs, func(pargs []proto.Arg, err error) {
			if err != nil {
				reply(nil, err)
				return
			}
			reply(submit(c, cw, pargs))
		})
	})
	goruntime.KeepAlive(avs) // the argument Refs stay referenced until submitted
	if err == nil && len(refs) != n {
		err = fmt.Errorf("gray: submission made %d references, want %d", len(refs), n)
	}
	return c, refs, err
}

func errRefs[R any](n int, err error) []Ref[R] {
	out := make([]Ref[R], n)
	for i := range out {
		out[i] = errRef[R](err)
	}
	return out
}

// taskFunc is what every FuncN shares: the registered name and options.
type taskFunc struct {
	name string
	opts []Option
}

func (t taskFunc) with(opts []Option) taskFunc {
	return taskFunc{t.name, append(slices.Clip(t.opts), opts...)}
}

func submitTask[R any](ctx context.Context, t taskFunc, args ...interface{ arg(*caller) (argVal, error) }) Ref[R] {
	topts, err := newCallConfig(t.opts).taskOptions()
	if err != nil {
		return errRef[R](err)
	}
	return remote[R](ctx, args, func(c *caller, cw *worker.Worker, pargs []proto.Arg) ([]proto.ObjectRef, error) {
		return submitVia(c, cw, t.name, pargs, topts)
	})
}

// Func0 is a registered task without arguments returning R.
type Func0[R any] struct{ t taskFunc }

// Func1 is a registered task of one argument returning R.
type Func1[A, R any] struct{ t taskFunc }

// Func2 is a registered task of two arguments returning R.
type Func2[A, B, R any] struct{ t taskFunc }

// Func3 is a registered task of three arguments returning R.
type Func3[A, B, C, R any] struct{ t taskFunc }

// Task0 registers f as the task name and returns its handle. Call it at
// package init (a package-level var), identically in every process: the
// worker finds the code by name. It panics if name is taken.
func Task0[R any](name string, f func(context.Context) (R, error)) *Func0[R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		if err := checkArgs(args, 0); err != nil {
			return nil, err
		}
		return encodeResult[R](ctx)(f(ctx))
	})
	return &Func0[R]{taskFunc{name: name}}
}

// Task1 registers f as the task name; see Task0.
func Task1[A, R any](name string, f func(context.Context, A) (R, error)) *Func1[A, R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, err := args1[A](ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResult[R](ctx)(f(ctx, a))
	})
	return &Func1[A, R]{taskFunc{name: name}}
}

// Task2 registers f as the task name; see Task0.
func Task2[A, B, R any](name string, f func(context.Context, A, B) (R, error)) *Func2[A, B, R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, b, err := args2[A, B](ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResult[R](ctx)(f(ctx, a, b))
	})
	return &Func2[A, B, R]{taskFunc{name: name}}
}

// Task3 registers f as the task name; see Task0.
func Task3[A, B, C, R any](name string, f func(context.Context, A, B, C) (R, error)) *Func3[A, B, C, R] {
	registry.RegisterTask(name, func(ctx context.Context, args [][]byte) ([][]byte, error) {
		defer endBody(ctx)
		a, b, c, err := args3[A, B, C](ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResult[R](ctx)(f(ctx, a, b, c))
	})
	return &Func3[A, B, C, R]{taskFunc{name: name}}
}

// Options returns a copy of the task handle that submits with opts.
func (f *Func0[R]) Options(opts ...Option) *Func0[R] { return &Func0[R]{f.t.with(opts)} }

// Options returns a copy of the task handle that submits with opts.
func (f *Func1[A, R]) Options(opts ...Option) *Func1[A, R] { return &Func1[A, R]{f.t.with(opts)} }

// Options returns a copy of the task handle that submits with opts.
func (f *Func2[A, B, R]) Options(opts ...Option) *Func2[A, B, R] {
	return &Func2[A, B, R]{f.t.with(opts)}
}

// Options returns a copy of the task handle that submits with opts.
func (f *Func3[A, B, C, R]) Options(opts ...Option) *Func3[A, B, C, R] {
	return &Func3[A, B, C, R]{f.t.with(opts)}
}

// Remote submits the task and returns the reference to its result at
// once. It goes through the caller of ctx: the driver, or the worker
// whose task body was given ctx (a nested task, owned by that worker).
// A submission error is returned by the Ref's Get.
func (f *Func0[R]) Remote(ctx context.Context) Ref[R] { return submitTask[R](ctx, f.t) }

// Remote submits the task; see Func0.Remote.
func (f *Func1[A, R]) Remote(ctx context.Context, a Arg[A]) Ref[R] {
	return submitTask[R](ctx, f.t, a)
}

// Remote submits the task; see Func0.Remote.
func (f *Func2[A, B, R]) Remote(ctx context.Context, a Arg[A], b Arg[B]) Ref[R] {
	return submitTask[R](ctx, f.t, a, b)
}

// Remote submits the task; see Func0.Remote.
func (f *Func3[A, B, C, R]) Remote(ctx context.Context, a Arg[A], b Arg[B], c Arg[C]) Ref[R] {
	return submitTask[R](ctx, f.t, a, b, c)
}

// Name returns the name the task is registered under.
func (f *Func0[R]) Name() string { return f.t.name }

// Name returns the name the task is registered under.
func (f *Func1[A, R]) Name() string { return f.t.name }

// Name returns the name the task is registered under.
func (f *Func2[A, B, R]) Name() string { return f.t.name }

// Name returns the name the task is registered under.
func (f *Func3[A, B, C, R]) Name() string { return f.t.name }
