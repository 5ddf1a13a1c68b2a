package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/grayrt/gray"
)

// Ray's object sizes do not fit gray's defaults: ray_perf.py puts one
// 800 MiB array, and ten tasks put ten 80 MiB arrays each, but gray's
// default object store holds 256 MiB and one message at most 64 MiB
// (core.DefaultMessageSizeMax), and a put travels to the raylet as one
// message. gray puts the largest round size that fits with room to
// spare, and reports gigabytes per second as Ray does.
const (
	singlePutBytes = 32 << 20
	multiPutBytes  = 8 << 20
	// plasmaBytesMin keeps shrunken sizes above the inline limit (100
	// KiB), so that large puts still go to plasma.
	plasmaBytesMin = 256 << 10
)

// sizes are a case's batch and object sizes: Ray's batches divided by
// shrink, gray's object sizes divided by shrinkBytes.
type sizes struct{ shrink, shrinkBytes int }

func (s sizes) n(ray int) int { return max(ray/s.shrink, 1) }

// per is the multiplier of a case whose operation is a whole batch of
// ray items, run with n: a shrunken batch counts as that share of an
// operation (an approximation where cost is not linear in the batch).
func (s sizes) per(n, ray int) float64 { return float64(n) / float64(ray) }

func (s sizes) bytes(size int) int { return max(size/s.shrinkBytes, plasmaBytesMin) }

// nCPU is ray_perf.py's n_cpu: half the machine's CPUs, at least one.
func nCPU() int { return max(runtime.NumCPU()/2, 1) }

// body is a case ready to time: fn is one call of Ray's timed function,
// worth mult operations (or gigabytes).
type body struct {
	fn   func() error
	mult float64
}

// caseDef is one of Ray's microbenchmark cases.
type caseDef struct {
	// name is the key in Ray's microbenchmark.json.
	name string
	// gigabytes: the figure is GB/s (compared with the setting's bytes
	// limit, caseLimit), else operations per second (compared with the
	// setting's round trip).
	gigabytes bool
	// onNode marks a gigabyte case whose bytes are made and put by tasks,
	// on the node that runs them: in the cluster setting they stay in the
	// head's process and never cross a libp2p stream, so memcpy bounds
	// them in every setting.
	onNode bool
	// actors is how many actors the case keeps alive at once.
	actors int
	// items, when set, is how many calls (tasks or waits) one of Ray's
	// operations makes, for cases whose operation is a whole batch: the
	// ratio to the limit is per call. noLimit marks a case no limit
	// bounds.
	items   int
	noLimit bool
	// note says how the case maps onto gray where it differs from Ray.
	note string
	// unavailable, when set, says why gray cannot run the case.
	unavailable string
	// setup prepares the case on the current runtime.
	setup func(ctx context.Context, s sizes) (body, error)
}

// cases are Ray's, in ray_perf.py's order.
func cases() []caseDef {
	return []caseDef{
		{name: "single_client_get_calls_Plasma_Store", setup: func(ctx context.Context, _ sizes) (body, error) {
			v := gray.Put(ctx, 0)
			if _, err := v.Get(ctx); err != nil {
				return body{}, err
			}
			return body{mult: 1, fn: func() error {
				_, err := v.Get(ctx)
				return err
			}}, nil
		}},
		{name: "single_client_put_calls_Plasma_Store", setup: func(ctx context.Context, _ sizes) (body, error) {
			return body{mult: 1, fn: func() error { return put(ctx, 0) }}, nil
		}},
		{name: "multi_client_put_calls_Plasma_Store", note: "clients are 10 tasks, each putting 100 values",
			setup: func(ctx context.Context, s sizes) (body, error) {
				puts := s.n(100)
				return body{mult: float64(10 * puts), fn: func() error {
					refs := make([]gray.Ref[int], 10)
					for i := range refs {
						refs[i] = doPutSmall.Remote(ctx, gray.V(puts))
					}
					return getAndRelease(ctx, refs)
				}}, nil
			}},
		{name: "single_client_put_gigabytes", gigabytes: true,
			note: fmt.Sprintf("puts of %d MiB (Ray: 800 MiB)", singlePutBytes>>20),
			setup: func(ctx context.Context, s sizes) (body, error) {
				// Ray makes its array once, outside the timed function.
				arr := make([]byte, s.bytes(singlePutBytes))
				return body{mult: float64(len(arr)) / 1e9, fn: func() error { return put(ctx, arr) }}, nil
			}},
		{name: "single_client_tasks_and_get_batch", items: 1000, setup: func(ctx context.Context, s sizes) (body, error) {
			n := s.n(1000)
			return body{mult: s.per(n, 1000), fn: func() error { return smallBatch(ctx, n) }}, nil
		}},
		{name: "multi_client_put_gigabytes", gigabytes: true, onNode: true,
			note: fmt.Sprintf("10 tasks each put 10 × %d MiB (Ray: 80 MiB) of one shared zero slice (Ray: a new np.zeros each, the kernel's zero page until written)", multiPutBytes>>20),
			setup: func(ctx context.Context, s sizes) (body, error) {
				size := s.bytes(multiPutBytes)
				return body{mult: float64(100*size) / 1e9, fn: func() error {
					refs := make([]gray.Ref[int], 10)
					for i := range refs {
						refs[i] = doPut.Remote(ctx, gray.V(10), gray.V(size))
					}
					return getAndRelease(ctx, refs)
				}}, nil
			}},
		{name: "single_client_get_object_containing_10k_refs", noLimit: true,
			setup: func(ctx context.Context, s sizes) (body, error) {
				n := s.n(10_000)
				ref := createObjectContainingRefs.Remote(ctx, gray.V(n))
				get := func() error {
					// Each Get decodes n Refs and borrows them from the
					// worker that owns them; they are dropped at once,
					// as Python drops the list.
					refs, err := ref.Get(ctx)
					for _, r := range refs {
						r.Release()
					}
					if err == nil && len(refs) != n {
						err = fmt.Errorf("%d refs, want %d", len(refs), n)
					}
					return err
				}
				if err := get(); err != nil {
					return body{}, err
				}
				return body{mult: s.per(n, 10_000), fn: get}, nil
			}},
		{name: "single_client_wait_1k_refs", items: 2000, note: "the ratio to the limit counts 1,000 tasks and 1,000 waits per operation", setup: func(ctx context.Context, s sizes) (body, error) {
			n := s.n(1000)
			return body{mult: s.per(n, 1000), fn: func() error {
				notReady := make([]gray.Ref[[]byte], n)
				for i := range notReady {
					notReady[i] = smallValue.Remote(ctx)
				}
				all := notReady
				for range n {
					var err error
					if _, notReady, err = gray.Wait(ctx, notReady, 1, -1); err != nil {
						return err
					}
				}
				for _, r := range all {
					r.Release()
				}
				return nil
			}}, nil
		}},
		{name: "single_client_tasks_sync", setup: func(ctx context.Context, _ sizes) (body, error) {
			return body{mult: 1, fn: func() error {
				r := smallValue.Remote(ctx)
				_, err := r.Get(ctx)
				r.Release()
				return err
			}}, nil
		}},
		{name: "single_client_tasks_async", setup: func(ctx context.Context, s sizes) (body, error) {
			n := s.n(1000)
			return body{mult: float64(n), fn: func() error { return smallBatch(ctx, n) }}, nil
		}},
		{name: "multi_client_tasks_async", actors: 4, note: "clients are 4 actors, each submitting 10,000 tasks",
			setup: func(ctx context.Context, s sizes) (body, error) {
				n, m := s.n(10_000), 4
				actors, err := newServers(ctx, m, "")
				if err != nil {
					return body{}, err
				}
				return body{mult: float64(n * m), fn: func() error {
					refs := make([]gray.Ref[int], m)
					for i, a := range actors {
						refs[i] = actorBatch.Remote(ctx, a, gray.V(n))
					}
					return getAndRelease(ctx, refs)
				}}, nil
			}},
		{name: "1_1_actor_calls_sync", actors: 1, setup: actorSync()},
		{name: "1_1_actor_calls_async", actors: 1, setup: actorAsync()},
		{name: "1_1_actor_calls_concurrent", actors: 1, setup: actorAsync(gray.WithMaxConcurrency(16)), note: "max_concurrency=16, as Ray's"},
		{name: "1_n_actor_calls_async", actors: nCPU() + 1, note: "the client is an actor that finds its servers by name", setup: oneToN("1n")},
		{name: "n_n_actor_calls_async", actors: nCPU(), note: "clients are 4 tasks that find the actors by name", setup: nToN("nn")},
		{name: "n_n_actor_calls_with_arg_async", actors: 2 * nCPU(), note: "clients are actors; the argument is a Ref each client puts",
			setup: func(ctx context.Context, s sizes) (body, error) {
				n := s.n(1000)
				names := serverNames(nCPU())
				servers, err := newServers(ctx, len(names), "arg")
				if err != nil {
					return body{}, err
				}
				clients := make([]*gray.ActorHandle[client], len(names))
				for i, name := range prefixed("arg", names) {
					c, err := clientClass.New(ctx, gray.V([]string{name}))
					if err != nil {
						return body{}, err
					}
					clients[i] = c
				}
				return body{mult: float64(n * len(clients)), fn: func() error {
					// The clients find the servers by name: the handles
					// made here keep them alive (an actor ends with its
					// last handle).
					defer runtime.KeepAlive(servers)
					refs := make([]gray.Ref[int], len(clients))
					for i, c := range clients {
						refs[i] = clientBatchArg.Remote(ctx, c, gray.V(n))
					}
					return getAndRelease(ctx, refs)
				}}, nil
			}},
		{name: "1_1_async_actor_calls_sync", actors: 1, note: asyncNote, setup: actorSync(asyncActor)},
		{name: "1_1_async_actor_calls_async", actors: 1, note: asyncNote, setup: actorAsync(asyncActor)},
		{name: "1_1_async_actor_calls_with_args_async", actors: 1, note: asyncNote, setup: func(ctx context.Context, s sizes) (body, error) {
			n := s.n(1000)
			as, err := newServers(ctx, 1, "", asyncActor)
			if err != nil {
				return body{}, err
			}
			return body{mult: float64(n), fn: func() error {
				refs := make([]gray.Ref[[]byte], n)
				for i := range refs {
					refs[i] = actorSmallArg.Remote(ctx, as[0], gray.V(i))
				}
				return getAndRelease(ctx, refs)
			}}, nil
		}},
		{name: "1_n_async_actor_calls_async", actors: nCPU() + 1, note: asyncNote + "; the client is an actor that finds its servers by name",
			setup: oneToN("1na", asyncActor)},
		{name: "n_n_async_actor_calls_async", actors: nCPU(), note: asyncNote + "; clients are 4 tasks that find the actors by name",
			setup: nToN("nna", asyncActor)},
		{name: "placement_group_create/removal", note: "bundles of {CPU: 0.001} (Ray: {custom: 0.001})", setup: func(ctx context.Context, s sizes) (body, error) {
			n := s.n(100)
			return body{mult: float64(n), fn: func() error { return groupsCreateRemove(ctx, n, 1) }}, nil
		}},
		groupCase(1), groupCase(10), groupCase(40),
	}
}

// groupCasePrefix names gray's own placement group cases: one group of
// N bundles created, waited for and removed per operation, to show that
// a group's creation time does not grow with its bundles (Ray's grew
// 70× from 1 to 40, ray-project/ray#20243).
const groupCasePrefix = "placement_group_create_bundles_"

func groupCase(bundles int) caseDef {
	return caseDef{name: fmt.Sprintf("%s%d", groupCasePrefix, bundles), note: "gray's case: one group of this many {CPU: 0.001} bundles created, waited for and removed",
		setup: func(ctx context.Context, _ sizes) (body, error) {
			return body{mult: 1, fn: func() error { return groupsCreateRemove(ctx, 1, bundles) }}, nil
		}}
}

// groupsCreateRemove is Ray's placement_group_create_removal: n groups
// of bundles {CPU: 0.001} bundles each, created, waited for, removed.
func groupsCreateRemove(ctx context.Context, n, bundles int) error {
	shape := make([]map[string]float64, bundles)
	for i := range shape {
		shape[i] = map[string]float64{"CPU": 0.001}
	}
	groups := make([]*gray.PlacementGroup, n)
	for i := range groups {
		g, err := gray.CreatePlacementGroup(ctx, shape)
		if err != nil {
			return err
		}
		groups[i] = g
	}
	for _, g := range groups {
		if ok, err := g.Wait(ctx, 30*time.Second); err != nil || !ok {
			return fmt.Errorf("placement group %s not created within 30s: %v", g.ID, err)
		}
	}
	for _, g := range groups {
		if err := gray.RemovePlacementGroup(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// Ray's async actors (asyncio) run up to 1,000 calls at once by default;
// gray's equivalent is an actor with that max concurrency.
var asyncActor = gray.WithMaxConcurrency(1000)

const asyncNote = "async actor: max concurrency 1,000, as Ray's asyncio actors"

// actorSync is 1:1 actor calls sync: one call, then its get.
func actorSync(opts ...gray.Option) func(context.Context, sizes) (body, error) {
	return func(ctx context.Context, _ sizes) (body, error) {
		as, err := newServers(ctx, 1, "", opts...)
		if err != nil {
			return body{}, err
		}
		return body{mult: 1, fn: func() error {
			r := actorSmallValue.Remote(ctx, as[0])
			_, err := r.Get(ctx)
			r.Release()
			return err
		}}, nil
	}
}

// oneToN is 1:n actor calls async: one client actor calls nCPU servers
// it finds by name.
func oneToN(prefix string, opts ...gray.Option) func(context.Context, sizes) (body, error) {
	return func(ctx context.Context, s sizes) (body, error) {
		n := s.n(5000)
		names := serverNames(nCPU())
		servers, err := newServers(ctx, len(names), prefix, opts...)
		if err != nil {
			return body{}, err
		}
		c, err := clientClass.New(ctx, gray.V(prefixed(prefix, names)))
		if err != nil {
			return body{}, err
		}
		return body{mult: float64(n * len(names)), fn: func() error {
			defer runtime.KeepAlive(servers) // found by name: keep them alive
			r := clientBatch.Remote(ctx, c, gray.V(n))
			_, err := r.Get(ctx)
			r.Release()
			return err
		}}, nil
	}
}

// nToN is n:n actor calls async: 4 client tasks call nCPU servers they
// find by name.
func nToN(prefix string, opts ...gray.Option) func(context.Context, sizes) (body, error) {
	return func(ctx context.Context, s sizes) (body, error) {
		n, m := s.n(5000), 4
		names := prefixed(prefix, serverNames(nCPU()))
		servers, err := newServers(ctx, len(names), prefix, opts...)
		if err != nil {
			return body{}, err
		}
		return body{mult: float64(n * m), fn: func() error {
			defer runtime.KeepAlive(servers) // found by name: keep them alive
			refs := make([]gray.Ref[int], m)
			for i := range refs {
				refs[i] = work.Remote(ctx, gray.V(names), gray.V(n))
			}
			return getAndRelease(ctx, refs)
		}}, nil
	}
}

// smallBatch submits n small_value tasks and gets them all.
func smallBatch(ctx context.Context, n int) error {
	refs := make([]gray.Ref[[]byte], n)
	for i := range refs {
		refs[i] = smallValue.Remote(ctx)
	}
	return getAndRelease(ctx, refs)
}

// actorAsync is 1:1 actor calls async: 1000 calls, then get them all.
func actorAsync(opts ...gray.Option) func(context.Context, sizes) (body, error) {
	return func(ctx context.Context, s sizes) (body, error) {
		n := s.n(1000)
		as, err := newServers(ctx, 1, "", opts...)
		if err != nil {
			return body{}, err
		}
		return body{mult: float64(n), fn: func() error {
			refs := make([]gray.Ref[[]byte], n)
			for i := range refs {
				refs[i] = actorSmallValue.Remote(ctx, as[0])
			}
			return getAndRelease(ctx, refs)
		}}, nil
	}
}

func serverNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("server-%d", i)
	}
	return names
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "bench-" + prefix + "-" + n
	}
	return out
}

// newServers creates n server actors, named after prefix when it is not
// empty, and waits until each answers a call, so that creation is not
// timed.
func newServers(ctx context.Context, n int, prefix string, extra ...gray.Option) ([]*gray.ActorHandle[server], error) {
	names := prefixed(prefix, serverNames(n))
	as := make([]*gray.ActorHandle[server], n)
	for i := range as {
		opts := slices.Clone(extra)
		if prefix != "" {
			opts = append(opts, gray.WithName(names[i]))
		}
		a, err := actorClass.New(ctx, opts...)
		if err != nil {
			return nil, err
		}
		as[i] = a
	}
	for _, a := range as {
		r := actorSmallValue.Remote(ctx, a)
		if _, err := r.Get(ctx); err != nil {
			return nil, fmt.Errorf("bench: starting actor: %w", err)
		}
		r.Release()
	}
	return as, nil
}

// caseTimeout bounds one case's setup and timing against hangs (never a
// performance judgement).
const caseTimeout = 5 * time.Minute
