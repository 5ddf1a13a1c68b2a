package gray_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grayrt/gray"
)

// Tasks are registered by name at package init, identically in every
// process: Go cannot ship closures, so workers find the code by name.
var (
	Square = gray.Task1("example.square", func(_ context.Context, x int) (int, error) {
		return x * x, nil
	})
	Add = gray.Task2("example.add", func(_ context.Context, a, b int) (int, error) {
		return a + b, nil
	})
	Divide = gray.Task2("example.divide", func(_ context.Context, a, b int) (int, error) {
		if b == 0 {
			return 0, errors.New("division by zero")
		}
		return a / b, nil
	})
)

// Start an embedded cluster, run tasks and pass a task's result to
// another by reference.
func Example() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	a := Square.Remote(ctx, gray.V(3)) // a gray.Ref[int], at once
	b := Square.Remote(ctx, gray.V(4))
	sum, err := Add.Remote(ctx, a, b).Get(ctx) // a and b resolve on the worker
	fmt.Println(sum, err)
	// Output: 25 <nil>
}

// Account is an actor: a Go object living in one worker process.
type Account struct{ balance int }

// Deposit adds to the balance and returns it.
func (a *Account) Deposit(_ context.Context, amount int) (int, error) {
	a.balance += amount
	return a.balance, nil
}

// Balance returns the balance.
func (a *Account) Balance(context.Context) (int, error) { return a.balance, nil }

var (
	AccountClass = gray.Actor1("example.Account", func(_ context.Context, initial int) (*Account, error) {
		return &Account{balance: initial}, nil
	})
	Deposit = gray.Method1("deposit", (*Account).Deposit)
	Balance = gray.Method0("balance", (*Account).Balance)
)

// Create an actor and call its methods; one caller's calls run in order.
func ExampleActor1() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	acct, err := AccountClass.New(ctx, gray.V(100), gray.WithName("alice"))
	if err != nil {
		panic(err)
	}
	Deposit.Remote(ctx, acct, gray.V(20))
	Deposit.Remote(ctx, acct, gray.V(5))
	fmt.Println(Balance.Remote(ctx, acct).Get(ctx))

	// The same named actor, from anywhere in the cluster.
	same, _ := AccountClass.New(ctx, gray.V(0), gray.WithName("alice"), gray.WithGetIfExists())
	fmt.Println(Balance.Remote(ctx, same).Get(ctx))

	_ = acct.Kill(ctx, true)
	_, err = Balance.Remote(ctx, acct).Get(ctx)
	fmt.Println(errors.Is(err, gray.ErrActorDied))
	// Output:
	// 125 <nil>
	// 125 <nil>
	// true
}

// Errors of task bodies come back from Get as a *gray.TaskError matching
// gray.ErrTaskFailed.
func ExampleTaskError() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	_, err = Divide.Remote(ctx, gray.V(1), gray.V(0)).Get(ctx)
	var te *gray.TaskError
	fmt.Println(errors.Is(err, gray.ErrTaskFailed), errors.As(err, &te) && te.Message == "division by zero")

	// No node has a GPU: the task would wait for one to join; this one
	// gives up at once.
	_, err = Square.Options(gray.WithGPUs(1), gray.WithInfeasibleTimeout(0)).Remote(ctx, gray.V(2)).Get(ctx)
	fmt.Println(errors.Is(err, gray.ErrInfeasible))
	// Output:
	// true true
	// true
}

// Put stores a value in the cluster; its Ref is an argument like any other.
func ExamplePut() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	x := gray.Put(ctx, 20)
	fmt.Println(Add.Remote(ctx, x, gray.V(22)).Get(ctx))
	// Output: 42 <nil>
}

// Wait returns the refs that are ready first.
func ExampleWait() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	refs := []gray.Ref[int]{Square.Remote(ctx, gray.V(1)), Square.Remote(ctx, gray.V(2)), Square.Remote(ctx, gray.V(3))}
	ready, notReady, err := gray.Wait(ctx, refs, 3, time.Minute)
	fmt.Println(len(ready), len(notReady), err)
	// Output: 3 0 <nil>
}

// Where returns the runtime context it runs in.
var Where = gray.Task0("example.where", gray.GetRuntimeContext)

// ExampleGetRuntimeContext: a task runs for the driver's job, as a task
// of its own, on a worker of some node.
func ExampleGetRuntimeContext() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	driver, _ := gray.GetRuntimeContext(ctx)
	task, err := Where.Remote(ctx).Get(ctx)
	fmt.Println(driver.IsDriver(), task.IsDriver(), task.JobID == driver.JobID, task.NodeID != "", err)
	// Output: true false true true <nil>
}

// Tally is an actor whose methods run concurrently: they lock its state.
type Tally struct {
	mu   sync.Mutex
	seen int
}

var (
	TallyClass = gray.Actor("example.Tally", func(context.Context) (*Tally, error) { return &Tally{}, nil })
	TallyAdd   = gray.Method1("add", func(t *Tally, _ context.Context, n int) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.seen += n
		return t.seen, nil
	})
	TallyTotal = gray.Method0("total", func(t *Tally, _ context.Context) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.seen, nil
	})
)

// An actor created WithMaxConcurrency runs up to that many calls at once
// (Ray's max_concurrency; its async actors use 1,000).
func ExampleWithMaxConcurrency() {
	ctx := context.Background()
	rt, err := gray.Init(ctx)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown()

	t, err := TallyClass.New(ctx, gray.WithMaxConcurrency(16))
	if err != nil {
		panic(err)
	}
	refs := make([]gray.Ref[int], 100)
	for i := range refs {
		refs[i] = TallyAdd.Remote(ctx, t, gray.V(1))
	}
	if _, err := gray.GetAll(ctx, refs); err != nil {
		panic(err)
	}
	fmt.Println(TallyTotal.Remote(ctx, t).Get(ctx))
	// Output: 100 <nil>
}
