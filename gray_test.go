package gray_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray"
	"go.uber.org/goleak"
)

// hangGuard bounds every test's waits. It guards against hangs and is
// never a performance assertion.
const hangGuard = 60 * time.Second

var (
	square = gray.Task1("test.square", func(_ context.Context, x int) (int, error) { return x * x, nil })
	add    = gray.Task2("test.add", func(_ context.Context, a, b int) (int, error) { return a + b, nil })
	fail   = gray.Task1("test.fail", func(_ context.Context, msg string) (int, error) { return 0, errors.New(msg) })
	boom   = gray.Task0("test.panic", func(context.Context) (int, error) { panic("kaboom") })
	// sumSquares submits nested tasks from its body and waits for them.
	sumSquares = gray.Task1("test.sumSquares", func(ctx context.Context, n int) (int, error) {
		refs := make([]gray.Ref[int], n)
		for i := range refs {
			refs[i] = square.Remote(ctx, gray.V(i+1))
		}
		vs, err := gray.GetAll(ctx, refs)
		if err != nil {
			return 0, err
		}
		s := 0
		for _, v := range vs {
			s += v
		}
		return s, nil
	})
	makeBig = gray.Task2("test.makeBig", func(_ context.Context, seed byte, n int) ([]byte, error) {
		return bytes.Repeat([]byte{seed}, n), nil
	})
	checksum = gray.Task1("test.checksum", func(_ context.Context, b []byte) (int, error) {
		s := 0
		for _, c := range b {
			s += int(c)
		}
		return s, nil
	})
	sleepy = gray.Task1("test.sleep", func(ctx context.Context, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		return 1, nil
	})
)

// Counter is the test actor.
type Counter struct{ n int }

var (
	counterClass = gray.Actor1("test.Counter", func(_ context.Context, start int) (*Counter, error) { return &Counter{n: start}, nil })
	counterAdd   = gray.Method1("add", func(c *Counter, _ context.Context, d int) (int, error) { c.n += d; return c.n, nil })
	counterGet   = gray.Method0("get", func(c *Counter, _ context.Context) (int, error) { return c.n, nil })
	// addToNamed calls the actor named name from inside a task.
	addToNamed = gray.Task2("test.addToNamed", func(ctx context.Context, name string, d int) (int, error) {
		c, err := gray.GetActor[Counter](ctx, name)
		if err != nil {
			return 0, err
		}
		return counterAdd.Remote(ctx, c, gray.V(d)).Get(ctx)
	})
	// createInTask creates a counter inside a task (owned by its worker)
	// and returns what a call on it gives.
	createInTask = gray.Task0("test.createInTask", func(ctx context.Context) (int, error) {
		c, err := counterClass.New(ctx, gray.V(1))
		if err != nil {
			return 0, err
		}
		return counterGet.Remote(ctx, c).Get(ctx)
	})
)

func start(t testing.TB, opts ...gray.InitOption) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	rt, err := gray.Init(ctx, opts...)
	if err != nil {
		cancel()
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		rt.Shutdown()
		cancel()
	})
	return ctx
}

func TestTasks(t *testing.T) {
	ctx := start(t)
	v, err := square.Remote(ctx, gray.V(7)).Get(ctx)
	if err != nil || v != 49 {
		t.Fatalf("square(7) = %v, %v; want 49", v, err)
	}
	// Refs as arguments.
	a := square.Remote(ctx, gray.V(3))
	b := square.Remote(ctx, gray.V(4))
	s, err := add.Remote(ctx, a, b).Get(ctx)
	if err != nil || s != 25 {
		t.Fatalf("add(square(3), square(4)) = %v, %v; want 25", s, err)
	}
	// Put and Get.
	p := gray.Put(ctx, 40)
	s, err = add.Remote(ctx, p, gray.V(2)).Get(ctx)
	if err != nil || s != 42 {
		t.Fatalf("add(put(40), 2) = %v, %v; want 42", s, err)
	}
	got, err := p.Get(ctx)
	if err != nil || got != 40 {
		t.Fatalf("put(40).Get = %v, %v", got, err)
	}
	// Many tasks.
	refs := make([]gray.Ref[int], 50)
	for i := range refs {
		refs[i] = square.Remote(ctx, gray.V(i))
	}
	vs, err := gray.GetAll(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
}

func TestNested(t *testing.T) {
	ctx := start(t)
	v, err := sumSquares.Remote(ctx, gray.V(5)).Get(ctx)
	if err != nil || v != 55 {
		t.Fatalf("sumSquares(5) = %v, %v; want 55", v, err)
	}
}

func TestWait(t *testing.T) {
	ctx := start(t)
	fast := square.Remote(ctx, gray.V(2))
	slow := sleepy.Remote(ctx, gray.V(time.Hour)) // ends with Shutdown
	ready, notReady, err := gray.Wait(ctx, []gray.Ref[int]{slow, fast}, 1, -1)
	if err != nil || len(ready) != 1 || len(notReady) != 1 || ready[0] != fast {
		t.Fatalf("Wait = %v, %v, %v; want [fast], [slow]", ready, notReady, err)
	}
	ready, notReady, err = gray.Wait(ctx, []gray.Ref[int]{slow, fast}, 2, 10*time.Millisecond)
	if err != nil || len(ready) != 1 || len(notReady) != 1 {
		t.Fatalf("Wait with timeout = %v, %v, %v; want 1 ready, 1 not", ready, notReady, err)
	}
	if err := gray.Cancel(ctx, slow); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if _, err := slow.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("Get of a cancelled running task: got %v, want ErrCancelled", err)
	}
}

func TestCancelQueued(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(2))
	// Two tasks take both CPUs; the third waits for a worker.
	busy := []gray.Ref[int]{sleepy.Remote(ctx, gray.V(time.Hour)), sleepy.Remote(ctx, gray.V(time.Hour))}
	queued := square.Remote(ctx, gray.V(3))
	if err := gray.Cancel(ctx, queued); err != nil {
		t.Fatal(err)
	}
	if _, err := queued.Get(ctx); !errors.Is(err, gray.ErrCancelled) {
		t.Fatalf("Get of a cancelled queued task: got %v, want ErrCancelled", err)
	}
	ready, _, err := gray.Wait(ctx, append(busy, queued), 1, -1)
	if err != nil || len(ready) != 1 || ready[0] != queued {
		t.Fatalf("Wait = %v, %v; want the cancelled task ready", ready, err)
	}
	for _, r := range busy {
		if err := gray.Cancel(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The CPUs are free again.
	if v, err := square.Remote(ctx, gray.V(4)).Get(ctx); err != nil || v != 16 {
		t.Fatalf("square(4) after cancelling = %v, %v", v, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := start(t)
	_, err := fail.Remote(ctx, gray.V("bad input")).Get(ctx)
	var te *gray.TaskError
	if !errors.Is(err, gray.ErrTaskFailed) || !errors.As(err, &te) || !strings.Contains(te.Message, "bad input") {
		t.Fatalf("fail: got %v, want a TaskFailed error with the user's message", err)
	}
	_, err = boom.Remote(ctx).Get(ctx)
	if !errors.As(err, &te) || !errors.Is(err, gray.ErrTaskFailed) || !strings.Contains(te.Message, "kaboom") || !strings.Contains(te.Stack, "gray_test") {
		t.Fatalf("panic: got %v (stack %q), want the panic message and stack", err, te.Stack)
	}
	// A ref of a failed task as an argument fails the dependent task.
	_, err = add.Remote(ctx, fail.Remote(ctx, gray.V("upstream")), gray.V(1)).Get(ctx)
	if !errors.As(err, &te) || !strings.Contains(te.Message, "upstream") {
		t.Fatalf("dependent of a failed task: got %v", err)
	}
	// Infeasible: no node has a GPU. By default the task waits for a
	// node that can run it (it is never ready here); with a timeout it
	// fails, naming the missing GPU; with 0 at once.
	pending := square.Options(gray.WithGPUs(1)).Remote(ctx, gray.V(1))
	if ready, _, err := gray.Wait(ctx, []gray.Ref[int]{pending}, 1, 300*time.Millisecond); err != nil || len(ready) != 0 {
		t.Fatalf("a GPU task on a CPU-only cluster: ready %d, %v; want it pending", len(ready), err)
	}
	// The node reports it as infeasible demand (gray status shows it).
	for {
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 1 && len(nodes[0].Demand) == 1 {
			d := nodes[0].Demand[0]
			if !d.Infeasible || d.Count != 1 || d.Resources["GPU"] != 1 || !strings.Contains(d.Reason, "GPU") {
				t.Fatalf("the node's demand: %+v, want one infeasible GPU task with its reason", d)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no node reported the GPU task as demand: %+v", nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := gray.Cancel(ctx, pending); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
		_, err = square.Options(gray.WithGPUs(1), gray.WithInfeasibleTimeout(wait)).Remote(ctx, gray.V(1)).Get(ctx)
		if !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "GPU") {
			t.Fatalf("GPU task on a CPU-only cluster, WithInfeasibleTimeout(%v): got %v, want ErrInfeasible naming the GPU", wait, err)
		}
	}
}

func TestLargeObjects(t *testing.T) {
	ctx := start(t, gray.WithNodes(2))
	const n = 300 << 10 // above the 100 KiB inline limit: through plasma
	big := makeBig.Remote(ctx, gray.V(byte(3)), gray.V(n))
	s, err := checksum.Options(gray.WithSpread()).Remote(ctx, big).Get(ctx)
	if err != nil || s != 3*n {
		t.Fatalf("checksum(makeBig) = %v, %v; want %d", s, err, 3*n)
	}
	b, err := big.Get(ctx)
	if err != nil || len(b) != n || b[n-1] != 3 {
		t.Fatalf("makeBig.Get: %d bytes, %v", len(b), err)
	}
	// A large Put and a large immediate argument.
	p := gray.Put(ctx, bytes.Repeat([]byte{1}, n))
	if s, err := checksum.Remote(ctx, p).Get(ctx); err != nil || s != n {
		t.Fatalf("checksum(put) = %v, %v", s, err)
	}
	if s, err := checksum.Remote(ctx, gray.V(bytes.Repeat([]byte{2}, n))).Get(ctx); err != nil || s != 2*n {
		t.Fatalf("checksum(large value) = %v, %v", s, err)
	}
}

func TestActors(t *testing.T) {
	ctx := start(t)
	c, err := counterClass.New(ctx, gray.V(10))
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]gray.Ref[int], 20)
	for i := range refs {
		refs[i] = counterAdd.Remote(ctx, c, gray.V(1))
	}
	vs, err := gray.GetAll(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != 11+i {
			t.Fatalf("call %d returned %d, want %d (calls in order)", i, v, 11+i)
		}
	}
	// Named, get-if-exists.
	n1, err := counterClass.New(ctx, gray.V(100), gray.WithName("shared"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counterClass.New(ctx, gray.V(0), gray.WithName("shared")); !errors.Is(err, gray.ErrActorNameTaken) {
		t.Fatalf("second actor named shared: got %v, want ErrActorNameTaken", err)
	}
	n2, err := counterClass.New(ctx, gray.V(0), gray.WithName("shared"), gray.WithGetIfExists())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counterAdd.Remote(ctx, n1, gray.V(5)).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := counterGet.Remote(ctx, n2).Get(ctx); err != nil || v != 105 {
		t.Fatalf("get through the second handle = %v, %v; want 105", v, err)
	}
	// Found by name from the driver and from inside a task.
	n3, err := gray.GetActor[Counter](ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := addToNamed.Remote(ctx, gray.V("shared"), gray.V(1)).Get(ctx); err != nil || v != 106 {
		t.Fatalf("call from a task = %v, %v; want 106", v, err)
	}
	if v, err := counterGet.Remote(ctx, n3).Get(ctx); err != nil || v != 106 {
		t.Fatalf("get through GetActor's handle = %v, %v; want 106", v, err)
	}
	if _, err := gray.GetActor[Counter](ctx, "nobody"); !errors.Is(err, gray.ErrActorNotFound) {
		t.Fatalf("GetActor(nobody): got %v, want ErrActorNotFound", err)
	}
	if v, err := createInTask.Remote(ctx).Get(ctx); err != nil || v != 1 {
		t.Fatalf("creating an actor in a task and calling it: got %v, %v; want 1", v, err)
	}
	// Kill.
	if err := c.Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := counterGet.Remote(ctx, c).Get(ctx); !errors.Is(err, gray.ErrActorDied) {
		t.Fatalf("call after kill: got %v, want ErrActorDied", err)
	}
	// The killed actor's worker is replaced: tasks and actors still run.
	for i := range 6 {
		c, err := counterClass.New(ctx, gray.V(i))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := counterGet.Remote(ctx, c).Get(ctx); err != nil || v != i {
			t.Fatalf("actor %d get = %v, %v", i, v, err)
		}
		if err := c.Kill(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
}

func TestActorRestart(t *testing.T) {
	ctx := start(t)
	c, err := counterClass.New(ctx, gray.V(0), gray.WithMaxRestarts(1), gray.WithMaxTaskRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := counterAdd.Remote(ctx, c, gray.V(5)).Get(ctx); err != nil || v != 5 {
		t.Fatalf("add = %v, %v; want 5", v, err)
	}
	if err := c.Kill(ctx, false); err != nil { // restart, not kill for good
		t.Fatal(err)
	}
	// The constructor runs again on a new worker: the object starts fresh.
	if v, err := counterAdd.Remote(ctx, c, gray.V(1)).Get(ctx); err != nil || v != 1 {
		t.Fatalf("add after restart = %v, %v; want 1 (a fresh object)", v, err)
	}
}

var brokenClass = gray.Actor("test.Broken", func(context.Context) (*Counter, error) { return nil, errors.New("no luck") })

func TestActorErrors(t *testing.T) {
	ctx := start(t)
	gpu, err := counterClass.New(ctx, gray.V(0), gray.WithGPUs(1), gray.WithInfeasibleTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	// Asked not to wait for a node that can host it, its creation fails
	// at once, so the actor is dead; the cause is in the message.
	if _, err := counterGet.Remote(ctx, gpu).Get(ctx); !errors.Is(err, gray.ErrActorDied) || !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "infeasible") {
		t.Fatalf("call on an actor no node can host: got %v, want ErrActorDied naming the infeasible demand", err)
	}
	b, err := brokenClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counterGet.Remote(ctx, b).Get(ctx); !errors.Is(err, gray.ErrActorDied) || !strings.Contains(err.Error(), "no luck") {
		t.Fatalf("call on an actor whose constructor failed: got %v, want ErrActorDied with the constructor's error", err)
	}
}

// TestConcurrentCallers submits from many goroutines at once, with
// nested tasks and actor calls, on two nodes.
func TestConcurrentCallers(t *testing.T) {
	ctx := start(t, gray.WithNodes(2))
	c, err := counterClass.New(ctx, gray.V(0))
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 20
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for i := range each {
				x := g*each + i
				if v, err := add.Options(gray.WithSpread()).Remote(ctx, square.Remote(ctx, gray.V(x)), gray.V(1)).Get(ctx); err != nil || v != x*x+1 {
					errs <- fmt.Errorf("add(square(%d), 1) = %v, %v", x, v, err)
					return
				}
				if _, err := counterAdd.Remote(ctx, c, gray.V(1)).Get(ctx); err != nil {
					errs <- err
					return
				}
			}
			v, err := sumSquares.Remote(ctx, gray.V(3)).Get(ctx)
			if err == nil && v != 14 {
				err = fmt.Errorf("sumSquares(3) = %d, want 14", v)
			}
			errs <- err
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if v, err := counterGet.Remote(ctx, c).Get(ctx); err != nil || v != goroutines*each {
		t.Fatalf("counter = %v, %v; want %d", v, err, goroutines*each)
	}
}

func TestNotInitialized(t *testing.T) {
	_, err := square.Remote(context.Background(), gray.V(1)).Get(context.Background())
	if !errors.Is(err, gray.ErrNotInitialized) {
		t.Fatalf("Remote before Init: got %v, want ErrNotInitialized", err)
	}
}

// TestJoinBadInput: a driver joining a cluster gets a clear error, not a
// hang, for an address without a peer id, a missing or unsafe secret
// file, and a cluster nobody serves.
func TestJoinBadInput(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.gray/head to fall back on
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open-secret")
	if err := os.WriteFile(open, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const nobody = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGBfvd3pAR7fj2PtQ2J9hjhnGHkTWxjngzHmrXSVB3rwk"
	cases := []struct {
		name string
		opts []gray.InitOption
		want string
	}{
		{"no peer id", []gray.InitOption{gray.WithAddress("/ip4/127.0.0.1/tcp/6380"), gray.WithSecretFile(secret)}, "does not end in /p2p/"},
		{"no secret", []gray.InitOption{gray.WithAddress(nobody)}, "GRAY_SECRET_FILE"},
		{"readable secret", []gray.InitOption{gray.WithAddress(nobody), gray.WithSecretFile(open)}, "chmod 600"},
		{"nobody there", []gray.InitOption{gray.WithAddress(nobody), gray.WithSecretFile(secret), gray.WithConnectTimeout(2 * time.Second)}, "cannot reach the cluster"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GRAY_SECRET_FILE", "")
			rt, err := gray.Init(context.Background(), c.opts...)
			if err == nil {
				rt.Shutdown()
				t.Fatalf("Init = nil error, want one containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Init = %v, want an error containing %q", err, c.want)
			}
		})
	}
	// The failed Inits left nothing behind: an embedded Init works.
	t.Setenv("GRAY_ADDRESS", "")
	rt, err := gray.Init(context.Background(), gray.WithCPUsPerNode(1))
	if err != nil {
		t.Fatalf("embedded Init after failed joins: %v", err)
	}
	rt.Shutdown()
}

func TestShutdownNoLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	rt, err := gray.Init(ctx, gray.WithNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sumSquares.Remote(ctx, gray.V(3)).Get(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := counterClass.New(ctx, gray.V(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counterGet.Remote(ctx, c).Get(ctx); err != nil {
		t.Fatal(err)
	}
	_ = sleepy.Remote(ctx, gray.V(time.Hour)) // running at Shutdown
	rt.Shutdown()
	rt.Shutdown()
	if _, err := square.Remote(ctx, gray.V(1)).Get(ctx); !errors.Is(err, gray.ErrNotInitialized) {
		t.Fatalf("after Shutdown: got %v", err)
	}
}
