package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// The cluster workload's task bodies, registered with gray's registry as
// a user program registers its functions: ordinary Go against the public
// API, deterministic functions of their arguments, so that the driver
// computes every expected result itself. A body finds the workload's
// checks in its ctx (clusterOf), which every worker process's bodies
// inherit from process.WorkerConfig.Context.
//
// Two things the public API cannot express go through the process layer
// (internal/process) of the worker running the body, never around it:
// waiting on the simulated clock (pause), and a body that hands a
// borrowed reference on and checks its child after it returned (relay).

// retried submits with unlimited retries after system failures: every
// result must arrive, however often workers and nodes die.
var retried = gray.WithMaxRetries(-1)

var (
	addTask = gray.Task2("workload.add", func(_ context.Context, a, b int64) (int64, error) { return a + b, nil })
	mulTask = gray.Task2("workload.mul", func(_ context.Context, a, b int64) (int64, error) { return a * b, nil })
	// bigTask returns n bytes derived from seed: above the 100 KiB inline
	// limit its result goes through plasma.
	bigTask = gray.Task2("workload.big", func(_ context.Context, seed, n int64) ([]byte, error) {
		if n < 0 || n > 64<<20 {
			return nil, fmt.Errorf("big: size %d out of range", n)
		}
		return bigBytes(seed, n), nil
	})
	sumTask  = gray.Task1("workload.sum", func(_ context.Context, b []byte) (int64, error) { return checksum(b), nil })
	failTask = gray.Task0("workload.fail", func(context.Context) (int64, error) { return 0, errors.New("intentional failure") })

	// fanoutTask(n, x) submits n children add(x, i) for i in 1..n from
	// inside its body, and a grandchild mul(add(x, 1), 1) that takes the
	// first child's result by reference (so the worker running it borrows
	// an object this worker owns), waits for them all and returns the
	// sum: n*x + n(n+1)/2 + x + 1. The worker owns the children's
	// returns.
	fanoutTask = gray.Task2("workload.fanout", func(ctx context.Context, n, x int64) (int64, error) {
		if n < 1 || n > 16 {
			return 0, fmt.Errorf("fanout: %d children, want 1..16", n)
		}
		sometimes(ctx, "nested task")
		add, mul := addTask.Options(retried), mulTask.Options(retried)
		refs := make([]gray.Ref[int64], 0, n+1)
		defer func() {
			for _, r := range refs {
				r.Release()
			}
		}()
		for i := int64(1); i <= n; i++ {
			refs = append(refs, add.Remote(ctx, gray.V(x), gray.V(i)))
		}
		refs = append(refs, mul.Remote(ctx, refs[0], gray.V(int64(1))))
		var sum int64
		for _, r := range refs {
			v, err := r.Get(ctx)
			if err != nil {
				return 0, fmt.Errorf("fanout child: %w", err)
			}
			sum += v
		}
		return sum, nil
	})

	// whereTask returns its runtime context (gray.GetRuntimeContext),
	// which the driver checks against its own job.
	whereTask = gray.Task0("workload.where", gray.GetRuntimeContext)

	// childWhereTask runs whereTask without options and returns the
	// node it ran on: in a group that captures child tasks, a node of
	// the group.
	childWhereTask = gray.Task0("workload.childWhere", func(ctx context.Context) (string, error) {
		r := whereTask.Options(gray.WithMaxRetries(-1)).Remote(ctx)
		defer r.Release()
		rc, err := r.Get(ctx)
		return rc.NodeID, err
	})

	// relayTask(ref) passes its borrowed argument on to a child sum(ref)
	// and returns at once, before the child runs: the worker still
	// references the object, so the owner must count it as a borrower and
	// keep the object until the child is done. The child's result is
	// checked on the worker after the body returned.
	//
	// Through the process layer: gray resolves a Ref argument to its
	// value before the body runs (the body cannot name the reference to
	// pass it on; Ray's refs nested in arguments are not supported yet),
	// and no code of a body runs after it returned.
	relayTask = gray.Task1("workload.relay", func(ctx context.Context, data []byte) (int64, error) {
		c := process.CallerFrom(ctx)
		if c == nil || c.Parent == nil || len(c.Parent.Args) != 1 || c.Parent.Args[0].Ref == nil {
			return 0, errors.New("relay takes one reference argument, in a task body")
		}
		want, ref, parent := checksum(data), *c.Parent.Args[0].Ref, c.Parent
		self, cl := c.Env.Self(), clusterOf(ctx)
		_, err := process.Do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) {
			child, err := cw.SubmitNested(parent, sumTask.Name(), []proto.Arg{{Ref: &ref}}, worker.TaskOptions{NumReturns: 1, MaxRetries: -1})
			if err != nil {
				reply(struct{}{}, err)
				return
			}
			cw.Get(child[0], func(v []byte, err error) {
				cw.Release(child[0])
				if cl == nil {
					return
				}
				if err != nil && errors.Is(err, proto.ErrOwnerDied) && cl.driverFinished(ref.Owner) {
					// The object's owner, a driver, returned from its
					// program meanwhile: its objects went with it, as in
					// Ray, and the borrower is told so.
					cl.w.Sometimes("relayed object's owner exited")
					return
				}
				if err != nil && storeFullExplained(err) {
					// The object never was: its task's result did not
					// fit next to the pinned data of its node.
					cl.w.Sometimes("object store full")
					return
				}
				if err != nil {
					cl.w.Fail("invariant", fmt.Sprintf("%s: relayed sum of a borrowed object failed: %v (the owner freed it under its borrower?)", self, err))
					return
				}
				var got int64
				if err := msgpack.Unmarshal(v, &got); err != nil || got != want {
					cl.w.Fail("invariant", fmt.Sprintf("%s: relayed sum = %d (%v), want %d", self, got, err, want))
					return
				}
				cl.w.Sometimes("borrowed object outlived its owner's references")
			})
			reply(struct{}{}, nil)
		})
		if err != nil {
			return 0, fmt.Errorf("relay: submit: %w", err)
		}
		return 1, nil
	})
)

// pause waits d on the clock of the process ctx reaches (virtual in the
// simulator), or until ctx ends. The public API has no sleep: a program
// on a host sleeps with a timer, which the simulator cannot run (a body
// blocked outside gray is a hang), so pause parks in the process layer
// on a timer of the caller's Env.
func pause(ctx context.Context, d time.Duration) error {
	c := process.CallerFrom(ctx)
	if c == nil {
		return errors.New("workload: pause outside a gray process")
	}
	var t core.Timer
	_, err := process.Do(ctx, c, func(_ *worker.Worker, reply func(struct{}, error)) {
		t = c.Env.AfterFunc(d, func() { reply(struct{}{}, nil) })
	})
	if err != nil {
		// On the loop, which set t: the timer need not fire for nothing.
		c.Post(func(*worker.Worker) {
			if t != nil {
				t.Stop()
			}
		})
	}
	return err
}

// clusterKey is the ctx key of the workload whose worker runs a body.
type clusterKey struct{}

// clusterOf returns the workload whose process runs the body ctx was
// given, or nil outside one.
func clusterOf(ctx context.Context) *cluster {
	c, _ := ctx.Value(clusterKey{}).(*cluster)
	return c
}

// sometimes counts a path for the workload running the body, if any.
func sometimes(ctx context.Context, name string) {
	if c := clusterOf(ctx); c != nil {
		c.w.Sometimes(name)
	}
}

// bigBytes returns n bytes derived from seed.
func bigBytes(seed, n int64) []byte {
	out := make([]byte, n+7) // whole words, trimmed below
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := 0; i+8 <= len(out); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(out[i:], x)
	}
	return out[:n]
}

// checksum folds bytes into an integer, a word at a time.
func checksum(b []byte) int64 {
	var h uint64 = 14695981039346656037
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 1099511628211
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h >> 1)
}
