package gray_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/grayrt/gray"
)

// The programming model's idioms, one runnable example each: generators,
// several returns, Refs and handles inside values, actors made by tasks,
// detached actors, nested task trees, concurrency groups and cancelling
// an actor call.

var (
	// Countdown yields n, n-1, …, 1.
	Countdown = gray.Generator1("example.countdown", func(ctx context.Context, n int, yield func(int) error) error {
		for i := n; i > 0; i-- {
			if err := yield(i); err != nil {
				return err
			}
		}
		return nil
	})
	// MinMax returns two values, each its own object.
	MinMax = gray.Task1N("example.minmax", 2, func(_ context.Context, xs []int) ([]int, error) {
		lo, hi := xs[0], xs[0]
		for _, x := range xs {
			lo, hi = min(lo, x), max(hi, x)
		}
		return []int{lo, hi}, nil
	})
	// SumBatch reads the values its Batch's Refs name.
	SumBatch = gray.Task1("example.sumBatch", func(ctx context.Context, b Batch) (int, error) {
		vals, err := gray.GetAll(ctx, b.Parts)
		if err != nil {
			return 0, err
		}
		s := 0
		for _, v := range vals {
			s += v
		}
		return s, nil
	})
	// MakeCounter creates an actor inside a task and returns its handle:
	// the task's worker owns the actor.
	MakeCounter = gray.Task1("example.makeCounter", func(ctx context.Context, start int) (*gray.ActorHandle[Account], error) {
		return AccountClass.New(ctx, gray.V(start))
	})
	// AddVia calls the counter whose handle it was given.
	AddVia = gray.Task2("example.addVia", func(ctx context.Context, c *gray.ActorHandle[Account], n int) (int, error) {
		return Deposit.Remote(ctx, c, gray.V(n)).Get(ctx)
	})
	// Fib computes Fibonacci with one task per call: a body blocked in
	// Get lends its CPU out, so the tree never deadlocks on a small node.
	Fib *gray.Func1[int, int]
)

func init() {
	Fib = gray.Task1("example.fib", func(ctx context.Context, n int) (int, error) {
		if n < 2 {
			return n, nil
		}
		a, b := Fib.Remote(ctx, gray.V(n-1)), Fib.Remote(ctx, gray.V(n-2))
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, err := b.Get(ctx)
		return x + y, err
	})
}

// Batch holds Refs inside a value: whoever receives it borrows them.
type Batch struct {
	Parts []gray.Ref[int]
}

// A streaming generator's values arrive one by one, as the body yields
// them.
func ExampleGenerator1() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	s := Countdown.Options(gray.WithBackpressure(2)).Remote(ctx, gray.V(3))
	defer s.Close()
	for {
		ref, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(ref.Get(ctx))
	}
	// Output:
	// 3 <nil>
	// 2 <nil>
	// 1 <nil>
}

// A task with two returns gives two Refs.
func ExampleTask1N() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	r := MinMax.Remote(ctx, gray.V([]int{4, 1, 9, 7}))
	lo, _ := r[0].Get(ctx)
	hi, _ := r[1].Get(ctx)
	fmt.Println(lo, hi)
	// Output: 1 9
}

// Refs travel inside any value; the task that receives them borrows them
// from their owner, the driver.
func ExampleRef_insideValues() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	b := Batch{Parts: []gray.Ref[int]{gray.Put(ctx, 1), gray.Put(ctx, 2), Square.Remote(ctx, gray.V(3))}}
	fmt.Println(SumBatch.Remote(ctx, gray.V(b)).Get(ctx))
	// Output: 12 <nil>
}

// An actor created inside a task, its handle returned and passed to
// another task: every holder of a handle can call it.
func ExampleActorHandle() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	c, err := MakeCounter.Remote(ctx, gray.V(10)).Get(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(AddVia.Remote(ctx, gray.V(c), gray.V(5)).Get(ctx))
	fmt.Println(Deposit.Remote(ctx, c, gray.V(1)).Get(ctx))
	// Output:
	// 15 <nil>
	// 16 <nil>
}

// A detached actor is owned by the cluster: it outlives its creator and
// is found by name until it is killed.
func ExampleWithDetached() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	if _, err := AccountClass.New(ctx, gray.V(0), gray.WithName("registry"), gray.WithDetached()); err != nil {
		panic(err)
	}
	c, err := gray.GetActor[Account](ctx, "registry")
	if err != nil {
		panic(err)
	}
	fmt.Println(Deposit.Remote(ctx, c, gray.V(2)).Get(ctx))
	fmt.Println(c.Kill(ctx, true))
	// Output:
	// 2 <nil>
	// <nil>
}

// A task tree deeper than the node's CPUs: bodies blocked in Get give
// their CPU back while they wait.
func Example_nestedTaskTree() {
	ctx := context.Background()
	rt, err := gray.Init(ctx, gray.WithCPUsPerNode(2))
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	fmt.Println(Fib.Remote(ctx, gray.V(12)).Get(ctx))
	// Output: 144 <nil>
}

// Concurrency groups: the actor runs each group's calls apart, up to the
// group's limit, so slow calls in one never hold up another.
func ExampleWithConcurrencyGroups() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	t, err := TallyClass.New(ctx, gray.WithConcurrencyGroups(map[string]int{"io": 4}))
	if err != nil {
		panic(err)
	}
	refs := make([]gray.Ref[int], 10)
	for i := range refs {
		refs[i] = TallyAdd.InGroup("io").Remote(ctx, t, gray.V(1))
	}
	if _, err := gray.GetAll(ctx, refs); err != nil {
		panic(err)
	}
	fmt.Println(TallyTotal.Remote(ctx, t).Get(ctx))
	// Output: 10 <nil>
}

// Nodes carry labels; a label selector or a node affinity says where a
// task runs.
func ExampleWithLabelSelector() {
	ctx := context.Background()
	rt, err := gray.Init(ctx, gray.WithNodes(2),
		gray.WithNodeLabels(map[string]string{"zone": "a"}, map[string]string{"zone": "b", "gpu": "a100"}))
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	nodes, err := gray.Nodes(ctx)
	if err != nil {
		panic(err)
	}
	zoneOf := map[string]string{}
	var gpu string
	for _, n := range nodes {
		zoneOf[n.ID] = n.Labels["zone"]
		if n.Labels["gpu"] != "" {
			gpu = n.ID
		}
	}
	rc, _ := Where.Options(gray.WithLabelSelector(map[string]string{"zone": "!b"})).Remote(ctx).Get(ctx)
	fmt.Println("selector zone!=b ran in zone", zoneOf[rc.NodeID])
	rc, _ = Where.Options(gray.WithNodeAffinity(gpu, false)).Remote(ctx).Get(ctx)
	fmt.Println("affinity to the GPU node ran there:", rc.NodeID == gpu)
	// Output:
	// selector zone!=b ran in zone a
	// affinity to the GPU node ran there: true
}

// Cancelling an actor call: a call waiting for its turn is dropped (the
// caller's later calls keep their order); a running one sees its ctx
// cancelled.
func ExampleCancel() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	acct, err := AccountClass.New(ctx, gray.V(0))
	if err != nil {
		panic(err)
	}
	first := Deposit.Remote(ctx, acct, gray.V(1))
	second := Deposit.Remote(ctx, acct, gray.V(10))
	third := Deposit.Remote(ctx, acct, gray.V(100))
	_ = gray.Cancel(ctx, second)
	_, err = second.Get(ctx)
	fmt.Println(errors.Is(err, gray.ErrCancelled))
	a, _ := first.Get(ctx)
	c, _ := third.Get(ctx)
	fmt.Println(a == 1, c == 101 || c == 111) // 111 if the second ran before the cancel reached the actor
	// Output:
	// true
	// true true
}

// ErrNotFound is a sentinel a task body returns.
var ErrNotFound = errors.New("record not found")

// Lookup fails with ErrNotFound, wrapped, for a missing key.
var Lookup = gray.Task1("example.lookup", func(_ context.Context, key string) (string, error) {
	return "", fmt.Errorf("lookup %q: %w", key, ErrNotFound)
})

func init() { gray.RegisterError("example.ErrNotFound", ErrNotFound) }

// A registered error keeps its identity across processes: errors.Is
// matches it in the caller.
func ExampleRegisterError() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	_, err = Lookup.Options(gray.WithMaxRetries(0)).Remote(ctx, gray.V("alice")).Get(ctx)
	fmt.Println(errors.Is(err, ErrNotFound), errors.Is(err, gray.ErrTaskFailed))
	// Output: true true
}
