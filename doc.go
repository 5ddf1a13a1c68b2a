// Package gray is the public Go API of gray, Ray rebuilt in Go: remote
// tasks, objects and actors on a cluster of GCS, raylets, plasma stores
// and worker processes.
//
// # Starting
//
// Init starts an embedded cluster inside the program (Ray's ray.init()
// without an address): a GCS, one or more raylets each with a plasma store
// and a pool of worker processes, and a driver process through which the
// API submits work. Every process runs on a net.Host over the in-memory
// transport; they share no memory and talk only through messages, exactly
// as on a real cluster. Shutdown stops them all.
//
//	rt, err := gray.Init(ctx)
//	if err != nil { ... }
//	defer rt.Shutdown()
//
// # Tasks
//
// Go cannot ship closures, so remote functions are registered by name at
// package init, identically in every process of the program:
//
//	var Square = gray.Task1("square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	ref := Square.Remote(ctx, gray.V(3)) // a gray.Ref[int]
//	v, err := ref.Get(ctx)               // 9
//
// Arguments are Arg values: an immediate value (V) or the Ref of another
// task's result, which the worker resolves before the body runs. Values
// travel encoded with msgpack, so argument and result types must be
// msgpack-encodable. A task body may submit tasks and Get results itself,
// through the ctx it is given.
//
// # Actors
//
// An actor class is a Go type with a registered constructor and methods:
//
//	var CounterClass = gray.Actor("Counter", func(ctx context.Context) (*Counter, error) { return &Counter{}, nil })
//	var Add = gray.Method1("add", (*Counter).Add)
//
//	c, err := CounterClass.New(ctx)
//	n, err := Add.Remote(ctx, c, gray.V(5)).Get(ctx)
//
// The live Go object stays in the memory of the worker process hosting the
// actor; its calls run one at a time, in the order each caller made them.
//
// # Errors
//
// Failures surface from Get as errors matching the sentinels (ErrTaskFailed,
// ErrWorkerDied, ErrActorDied, ErrInfeasible, …) with errors.Is, and as a
// *TaskError carrying the message and, for a panic, the stack, with
// errors.As.
//
// See docs/api.md for the worker contract and what is not supported yet.
package gray
