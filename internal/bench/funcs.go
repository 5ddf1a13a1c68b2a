package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/grayrt/gray"
)

// The tasks and actors of the cases, after ray_perf.py's. They are
// registered at init, as gray's worker contract requires.
var (
	// smallValue is ray_perf.py's small_value: a no-op task returning
	// b"ok".
	smallValue = gray.Task0("bench.small_value", func(context.Context) ([]byte, error) {
		return []byte("ok"), nil
	})

	// doPutSmall puts n small values (multi client put calls).
	doPutSmall = gray.Task1("bench.do_put_small", func(ctx context.Context, n int) (int, error) {
		for range n {
			if err := put(ctx, 0); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})

	// doPut puts n zeroed byte slices of size bytes (multi client put
	// gigabytes). ray_perf.py puts a new np.zeros each time, which costs
	// Python nothing: numpy's calloc maps lazily zeroed pages, all of
	// them the kernel's one zero page until written, so making it is
	// free and reading it hits the cache. A Go make clears its memory
	// (measured: 42% of the time of the copy into the store, and as
	// much again in the garbage collector), so the tasks put one shared
	// slice of zeros that nothing writes.
	doPut = gray.Task2("bench.do_put", func(ctx context.Context, n, size int) (int, error) {
		zeros := sharedZeros(size)
		for range n {
			if err := put(ctx, zeros); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})

	// createObjectContainingRefs puts n small values and returns their
	// Refs inside one value, as ray_perf.py's create_object_containing_ref.
	createObjectContainingRefs = gray.Task1("bench.create_object_containing_refs", func(ctx context.Context, n int) ([]gray.Ref[int], error) {
		refs := make([]gray.Ref[int], n)
		for i := range refs {
			refs[i] = gray.Put(ctx, 1)
			if refs[i].ID() == "" {
				_, err := refs[i].Get(ctx)
				return nil, err
			}
		}
		return refs, nil
	})

	// work is ray_perf.py's work(actors) of n:n actor calls: n calls
	// spread round robin over the named server actors.
	work = gray.Task2("bench.work", func(ctx context.Context, servers []string, n int) (int, error) {
		hs, err := lookup(ctx, servers)
		if err != nil {
			return 0, err
		}
		refs := make([]gray.Ref[[]byte], n)
		for i := range refs {
			refs[i] = actorSmallValue.Remote(ctx, hs[i%len(hs)])
		}
		return 0, getAndRelease(ctx, refs)
	})

	// actorClass is ray_perf.py's Actor (num_cpus=0: a gray actor holds
	// only an actor slot).
	actorClass      = gray.Actor("bench.Actor", func(context.Context) (*server, error) { return &server{}, nil })
	actorSmallValue = gray.Method0("small_value", (*server).smallValue)
	actorSmallArg   = gray.Method1("small_value_arg", (*server).smallValueArg)
	actorBatch      = gray.Method1("small_value_batch", (*server).smallValueBatch)

	// clientClass is ray_perf.py's Client: an actor that calls server
	// actors, named since gray cannot pass actor handles as arguments.
	clientClass    = gray.Actor1("bench.Client", func(_ context.Context, servers []string) (*client, error) { return &client{names: servers}, nil })
	clientBatch    = gray.Method1("small_value_batch", (*client).smallValueBatch)
	clientBatchArg = gray.Method1("small_value_batch_arg", (*client).smallValueBatchArg)
)

// server is the state of ray_perf.py's Actor: none.
type server struct{}

func (*server) smallValue(context.Context) ([]byte, error) { return []byte("ok"), nil }

func (*server) smallValueArg(context.Context, int) ([]byte, error) { return []byte("ok"), nil }

// smallValueBatch submits n small_value tasks from the actor and waits
// for them (multi client tasks async).
func (*server) smallValueBatch(ctx context.Context, n int) (int, error) {
	refs := make([]gray.Ref[[]byte], n)
	for i := range refs {
		refs[i] = smallValue.Remote(ctx)
	}
	return 0, getAndRelease(ctx, refs)
}

// client keeps the names of its servers and, after the first call, their
// handles.
type client struct {
	names   []string
	servers []*gray.ActorHandle[server]
}

func (c *client) handles(ctx context.Context) ([]*gray.ActorHandle[server], error) {
	if c.servers == nil {
		hs, err := lookup(ctx, c.names)
		if err != nil {
			return nil, err
		}
		c.servers = hs
	}
	return c.servers, nil
}

// smallValueBatch makes n small_value calls on each server.
func (c *client) smallValueBatch(ctx context.Context, n int) (int, error) {
	hs, err := c.handles(ctx)
	if err != nil {
		return 0, err
	}
	refs := make([]gray.Ref[[]byte], 0, n*len(hs))
	for _, h := range hs {
		for range n {
			refs = append(refs, actorSmallValue.Remote(ctx, h))
		}
	}
	return 0, getAndRelease(ctx, refs)
}

// smallValueBatchArg puts one value and makes n small_value_arg calls
// with it on each server.
func (c *client) smallValueBatchArg(ctx context.Context, n int) (int, error) {
	hs, err := c.handles(ctx)
	if err != nil {
		return 0, err
	}
	x := gray.Put(ctx, 0)
	defer x.Release()
	refs := make([]gray.Ref[[]byte], 0, n*len(hs))
	for _, h := range hs {
		for range n {
			refs = append(refs, actorSmallArg.Remote(ctx, h, x))
		}
	}
	return 0, getAndRelease(ctx, refs)
}

func lookup(ctx context.Context, names []string) ([]*gray.ActorHandle[server], error) {
	hs := make([]*gray.ActorHandle[server], len(names))
	for i, name := range names {
		h, err := gray.GetActor[server](ctx, name)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

// getAndRelease gets every ref and then drops them at once, as Python
// drops a list of ObjectRefs after ray.get.
func getAndRelease[T any](ctx context.Context, refs []gray.Ref[T]) error {
	_, err := gray.GetAll(ctx, refs)
	for _, r := range refs {
		r.Release()
	}
	return err
}

// put stores v and drops the reference once stored, as a Python
// ray.put(v) whose result is discarded. gray.Put returns once the value
// is stored; a failed put's Ref has no id, and its Get returns the error
// at once.
func put[T any](ctx context.Context, v T) error {
	r := gray.Put(ctx, v)
	if r.ID() == "" {
		_, err := r.Get(ctx)
		return fmt.Errorf("bench: put: %w", err)
	}
	r.Release()
	return nil
}

// zeroBuf backs sharedZeros.
var zeroBuf struct {
	sync.Mutex
	b []byte
}

// sharedZeros returns size zero bytes that every caller shares: they
// must only be read.
func sharedZeros(size int) []byte {
	zeroBuf.Lock()
	defer zeroBuf.Unlock()
	if len(zeroBuf.b) < size {
		zeroBuf.b = make([]byte, size)
	}
	return zeroBuf.b[:size:size]
}
