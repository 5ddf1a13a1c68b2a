package gray_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray"
)

// Ray Core semantics a port relies on (issue 21), one test per item.

// ErrQuota is a sentinel a task body returns; QuotaError a typed error.
var ErrQuota = errors.New("quota exceeded")

// QuotaError carries data the caller wants back.
type QuotaError struct {
	Resource string
	Limit    int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s over its quota of %d", e.Resource, e.Limit)
}

func init() {
	gray.RegisterError("gray_test.ErrQuota", ErrQuota)
	gray.RegisterErrorType[*QuotaError]("gray_test.QuotaError")
}

var (
	// leafFail fails with the sentinel (kind "sentinel") or the typed
	// error, wrapped.
	leafFail = gray.Task1("test.leafFail", func(_ context.Context, kind string) (int, error) {
		if kind == "sentinel" {
			return 0, fmt.Errorf("leaf: %w", ErrQuota)
		}
		return 0, fmt.Errorf("leaf: %w", &QuotaError{Resource: "disk", Limit: 5})
	})
	// middle calls leafFail and passes its error on, wrapped.
	middle = gray.Task1("test.middle", func(ctx context.Context, kind string) (int, error) {
		_, err := leafFail.Remote(ctx, gray.V(kind)).Get(ctx)
		return 0, fmt.Errorf("middle: %w", err)
	})
	// plusOne takes an int by reference.
	plusOne = gray.Task1("test.plusOne", func(_ context.Context, x int) (int, error) { return x + 1, nil })
)

// TestErrorIdentityAcrossTasks (item 5): a registered sentinel and a
// registered error type returned by a body two tasks down still match
// (errors.Is, errors.As with the value) in the driver, as well as
// ErrTaskFailed; an unregistered error matches only ErrTaskFailed.
func TestErrorIdentityAcrossTasks(t *testing.T) {
	ctx := start(t)
	_, err := middle.Options(gray.WithMaxRetries(0)).Remote(ctx, gray.V("sentinel")).Get(ctx)
	if !errors.Is(err, ErrQuota) || !errors.Is(err, gray.ErrTaskFailed) {
		t.Errorf("sentinel two tasks up: %v; Is(ErrQuota) %v, Is(ErrTaskFailed) %v; want both", err, errors.Is(err, ErrQuota), errors.Is(err, gray.ErrTaskFailed))
	}
	_, err = middle.Remote(ctx, gray.V("typed")).Get(ctx)
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Resource != "disk" || qe.Limit != 5 {
		t.Errorf("typed error two tasks up: %v; As gives %+v", err, qe)
	}
	if errors.Is(err, ErrQuota) {
		t.Errorf("the typed error matches the sentinel: %v", err)
	}
	_, err = Divide.Remote(ctx, gray.V(1), gray.V(0)).Get(ctx)
	if !errors.Is(err, gray.ErrTaskFailed) || errors.Is(err, ErrQuota) || errors.As(err, &qe) {
		t.Errorf("an unregistered error: %v", err)
	}
}

// TestDependentOfFailedCall (item 4): a task whose argument is the
// result of a call to a dead actor fails with an error that matches
// ErrActorDied and names the dependent task and its argument.
func TestDependentOfFailedCall(t *testing.T) {
	ctx := start(t)
	a, err := AccountClass.New(ctx, gray.V(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, err = plusOne.Remote(ctx, Deposit.Remote(ctx, a, gray.V(1))).Get(ctx)
	var te *gray.TaskError
	if !errors.Is(err, gray.ErrActorDied) || !errors.As(err, &te) || !strings.Contains(te.Task, "test.plusOne") || !strings.Contains(te.Message, "argument 1") {
		t.Errorf("dependent of a dead actor's call: %v; want ErrActorDied naming test.plusOne and its argument 1", err)
	}
	// A Put that does not fit matches ErrObjectStoreFull.
	_, err = gray.Put(ctx, make([]byte, 300<<20)).Get(ctx)
	if !errors.Is(err, gray.ErrObjectStoreFull) {
		t.Errorf("a Put larger than the store: %v, want ErrObjectStoreFull", err)
	}
}

// TestAPIValidation (item 8): Wait refuses a ref given twice, and
// WithGetIfExists without a name is refused.
func TestAPIValidation(t *testing.T) {
	ctx := start(t)
	x := Square.Remote(ctx, gray.V(2))
	if _, _, err := gray.Wait(ctx, []gray.Ref[int]{x, x}, 2, time.Second); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Wait with a ref twice: %v, want an error", err)
	}
	if _, err := AccountClass.New(ctx, gray.V(0), gray.WithGetIfExists()); err == nil || !strings.Contains(err.Error(), "WithName") {
		t.Errorf("WithGetIfExists without a name: %v, want an error naming WithName", err)
	}
}

// TestCPULessNode (item 8): a cluster of CPU-less nodes starts, as Ray
// allows; a task that needs no CPU runs there.
func TestCPULessNode(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(0))
	if v, err := Square.Options(gray.WithCPUs(0)).Remote(ctx, gray.V(3)).Get(ctx); err != nil || v != 9 {
		t.Fatalf("a CPU-less task on a CPU-less node: %d, %v", v, err)
	}
}

// TestActorsGetWorkersOfTheirOwn (item 1): a one-node cluster with one
// CPU hosts a dozen live actors, each on a worker process started for
// it, and tasks keep running next to them (the node had 4 actor slots
// and the fifth actor waited forever, silently).
func TestActorsGetWorkersOfTheirOwn(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(1))
	var hs []*gray.ActorHandle[Account]
	for i := range 12 {
		h, err := AccountClass.New(ctx, gray.V(i))
		if err != nil {
			t.Fatalf("actor %d: %v", i, err)
		}
		hs = append(hs, h)
	}
	for i, h := range hs {
		if v, err := Deposit.Remote(ctx, h, gray.V(100)).Get(ctx); err != nil || v != i+100 {
			t.Fatalf("actor %d of 12: deposit = %d, %v; want %d", i, v, err, i+100)
		}
	}
	if v, err := Square.Remote(ctx, gray.V(7)).Get(ctx); err != nil || v != 49 {
		t.Fatalf("a task next to 12 actors: %d, %v", v, err)
	}
}

// TestActorPastTheWorkerCapWaits (item 1): past its node's worker cap an
// actor waits, visible as pending demand that says why, and starts once
// another actor is killed and its worker exits.
func TestActorPastTheWorkerCapWaits(t *testing.T) {
	// 4 workers at most, 2 of them kept for tasks: 2 actors.
	ctx := start(t, gray.WithCPUsPerNode(1), gray.WithMaxWorkersPerNode(4))
	var hs []*gray.ActorHandle[Account]
	for i := range 3 {
		h, err := AccountClass.New(ctx, gray.V(0))
		if err != nil {
			t.Fatalf("actor %d: %v", i, err)
		}
		hs = append(hs, h)
	}
	for i := range 2 {
		if _, err := Deposit.Remote(ctx, hs[i], gray.V(1)).Get(ctx); err != nil {
			t.Fatalf("actor %d within the cap: %v", i, err)
		}
	}
	third := Deposit.Remote(ctx, hs[2], gray.V(5))
	var why string
	for why == "" {
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			for _, d := range n.Demand {
				if !d.Infeasible && strings.Contains(d.Reason, "maximum") {
					why = d.Reason
				}
			}
		}
		if why == "" {
			select {
			case <-ctx.Done():
				t.Fatalf("no pending demand says why the third actor waits: %v", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if ready, _, err := gray.Wait(ctx, []gray.Ref[int]{third}, 1, 0); err != nil || len(ready) != 0 {
		t.Fatalf("the third actor answered past the cap (%d ready, %v)", len(ready), err)
	}
	if err := hs[0].Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
	if v, err := third.Get(ctx); err != nil || v != 5 {
		t.Fatalf("the third actor once another was killed: %d, %v (it waited because %q)", v, err, why)
	}
}

// TestInfeasibleActorWaits (item 6): an actor no node can host waits
// (its calls wait; the node's pending demand lists it as infeasible,
// naming the GPU) instead of dying at creation; with
// WithInfeasibleTimeout its creation fails after the bound, and its calls
// fail with ErrActorDied matching ErrInfeasible too.
func TestInfeasibleActorWaits(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(1))
	h, err := AccountClass.New(ctx, gray.V(0), gray.WithGPUs(1))
	if err != nil {
		t.Fatal(err)
	}
	call := Deposit.Remote(ctx, h, gray.V(1))
	for listed := false; !listed; {
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			for _, d := range n.Demand {
				listed = listed || (d.Infeasible && d.Resources["GPU"] == 1 && strings.Contains(d.Reason, "GPU"))
			}
		}
		if !listed {
			select {
			case <-ctx.Done():
				t.Fatalf("the GPU actor is not listed as infeasible demand: %v", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if ready, _, err := gray.Wait(ctx, []gray.Ref[int]{call}, 1, 0); err != nil || len(ready) != 0 {
		t.Fatalf("a call to an actor no node can host answered (%d ready, %v)", len(ready), err)
	}
	if err := h.Kill(ctx, true); err != nil {
		t.Fatalf("Kill of a pending actor: %v", err)
	}
	if _, err := call.Get(ctx); !errors.Is(err, gray.ErrActorDied) {
		t.Fatalf("a call to a pending actor killed: %v, want ErrActorDied", err)
	}

	bounded, err := AccountClass.New(ctx, gray.V(0), gray.WithGPUs(1), gray.WithInfeasibleTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Deposit.Remote(ctx, bounded, gray.V(1)).Get(ctx)
	if !errors.Is(err, gray.ErrActorDied) || !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "GPU") {
		t.Fatalf("a call to an actor whose infeasible wait is over: %v, want ErrActorDied and ErrInfeasible naming the GPU", err)
	}
}

var (
	// slowAdd adds after sleeping ms milliseconds.
	slowAdd = gray.Method2("slowAdd", func(c *Counter, ctx context.Context, d, ms int) (int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		c.n += d
		return c.n, nil
	})
	// holdHandle calls the actor of h once the driver released its own
	// handle (handleReleased): the actor must outlive it while this body
	// holds h.
	holdHandle = gray.Task1("test.holdHandle", func(ctx context.Context, h *gray.ActorHandle[Counter]) (int, error) {
		select {
		case <-handleReleased:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return counterAdd.Remote(ctx, h, gray.V(1)).Get(ctx)
	})
	// handleReleased tells holdHandle that the driver released its handle.
	handleReleased = make(chan struct{})
)

// released releases h and returns once the release was taken: the
// release is posted to the caller's loop, and GetActor, which runs
// there after it and asks the GCS after any kill the release caused,
// must still find the actor named name.
func released(ctx context.Context, t *testing.T, h *gray.ActorHandle[Counter], name string) {
	t.Helper()
	h.Release()
	p, err := gray.GetActor[Counter](ctx, name)
	if err != nil {
		t.Fatalf("actor %q right after the driver released its handle, another holding one: %v", name, err)
	}
	p.Release()
}

// actorGone waits until no live actor is named name: the probe's own
// handle is released at once, so it holds the actor only briefly.
func actorGone(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	for {
		runtime.GC() // handles dropped without Release go with the garbage
		h, err := gray.GetActor[Counter](ctx, name)
		if errors.Is(err, gray.ErrActorNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("GetActor(%q): %v", name, err)
		}
		h.Release()
		select {
		case <-ctx.Done():
			t.Fatalf("actor %q still alive, its handles all gone: %v", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestActorHandlesAreCounted (item 2): a non-detached actor lives while
// a handle to it does — in the driver, in a task body it was passed to,
// in a pending call — and is killed once none is left, freeing its name;
// handles dropped without Release go with the garbage collector; a
// detached actor is exempt.
func TestActorHandlesAreCounted(t *testing.T) {
	ctx := start(t)
	// Release: the name is free again.
	h, err := counterClass.New(ctx, gray.V(1), gray.WithName("counted"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := counterAdd.Remote(ctx, h, gray.V(1)).Get(ctx); err != nil || v != 2 {
		t.Fatalf("add = %d, %v", v, err)
	}
	h.Release()
	actorGone(ctx, t, "counted")
	h2, err := counterClass.New(ctx, gray.V(10), gray.WithName("counted"))
	if err != nil {
		t.Fatalf("the name of an actor whose handles are gone: %v", err)
	}

	// A pending call holds the actor: it completes after the release.
	slow := slowAdd.Remote(ctx, h2, gray.V(5), gray.V(200))
	h2.Release()
	if v, err := slow.Get(ctx); err != nil || v != 15 {
		t.Fatalf("a call pending when the last handle went: %d, %v; want 15", v, err)
	}
	actorGone(ctx, t, "counted")

	// A task body holding a handle holds the actor.
	h3, err := counterClass.New(ctx, gray.V(100), gray.WithName("passed"))
	if err != nil {
		t.Fatal(err)
	}
	r := holdHandle.Remote(ctx, gray.V(h3))
	released(ctx, t, h3, "passed")
	handleReleased <- struct{}{}
	if v, err := r.Get(ctx); err != nil || v != 101 {
		t.Fatalf("a call from a task holding the only handle: %d, %v; want 101", v, err)
	}
	r.Release()
	actorGone(ctx, t, "passed")

	// Dropped without Release: the garbage collector releases it.
	func() {
		if _, err := counterClass.New(ctx, gray.V(0), gray.WithName("dropped")); err != nil {
			t.Fatal(err)
		}
	}()
	actorGone(ctx, t, "dropped")

	// Detached: exempt. It outlived the dropped one.
	d, err := counterClass.New(ctx, gray.V(7), gray.WithName("kept"), gray.WithDetached())
	if err != nil {
		t.Fatal(err)
	}
	d.Release()
	func() {
		if _, err := counterClass.New(ctx, gray.V(0), gray.WithName("dropped2")); err != nil {
			t.Fatal(err)
		}
	}()
	actorGone(ctx, t, "dropped2")
	k, err := gray.GetActor[Counter](ctx, "kept")
	if err != nil {
		t.Fatalf("a detached actor whose handles are gone: %v", err)
	}
	if v, err := counterGet.Remote(ctx, k).Get(ctx); err != nil || v != 7 {
		t.Fatalf("detached actor: %d, %v", v, err)
	}
	if err := k.Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
}

// Keeper is an actor that keeps an actor handle in its state.
type Keeper struct{ h *gray.ActorHandle[Counter] }

var (
	keeperClass = gray.Actor("test.Keeper", func(context.Context) (*Keeper, error) { return &Keeper{}, nil })
	keeperKeep  = gray.Method1("keep", func(k *Keeper, _ context.Context, h *gray.ActorHandle[Counter]) (bool, error) {
		k.h = h
		return true, nil
	})
	keeperAdd = gray.Method0("add", func(k *Keeper, ctx context.Context) (int, error) {
		return counterAdd.Remote(ctx, k.h, gray.V(1)).Get(ctx)
	})
)

// TestActorHandleHeldByAnActor (item 2): an actor that keeps a handle in
// its state keeps that actor alive after the owner released its own;
// when the keeper dies, its hold goes with its process.
func TestActorHandleHeldByAnActor(t *testing.T) {
	ctx := start(t)
	h, err := counterClass.New(ctx, gray.V(0), gray.WithName("kept-by-actor"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keeperClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keeperKeep.Remote(ctx, k, gray.V(h)).Get(ctx); err != nil {
		t.Fatal(err)
	}
	released(ctx, t, h, "kept-by-actor")
	if v, err := keeperAdd.Remote(ctx, k).Get(ctx); err != nil || v != 1 {
		t.Fatalf("a call through the handle an actor keeps, the owner's released: %d, %v", v, err)
	}
	if err := k.Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
	actorGone(ctx, t, "kept-by-actor")
}

var (
	// bigBytes returns n bytes, byte i being i*7 (mod 256).
	bigBytes = gray.Task1("test.bigBytes", func(_ context.Context, n int) ([]byte, error) {
		return pattern(n), nil
	})
	// sumBytes sums its argument's bytes.
	sumBytes = gray.Task1("test.sumBytes", func(_ context.Context, b []byte) (int64, error) {
		var s int64
		for _, x := range b {
			s += int64(x)
		}
		return s, nil
	})
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func patternSum(n int) int64 {
	var s int64
	for i := range n {
		s += int64(byte(i * 7))
	}
	return s
}

// TestObjectsLargerThanAMessage (item 3): a Put of 96 MiB and a task
// result of 80 MiB (the message limit is 64 MiB) are stored and read
// whole, in chunks, and passed to a task by reference; only the store's
// capacity bounds an object, and past it the error is ErrObjectStoreFull.
func TestObjectsLargerThanAMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a few hundred MiB")
	}
	ctx := start(t, gray.WithObjectStoreBytes(400<<20))
	const putN, retN = 96 << 20, 80 << 20
	r := gray.Put(ctx, pattern(putN))
	want := pattern(putN)
	got, err := r.Get(ctx)
	if err != nil || len(got) != putN || got[putN-1] != want[putN-1] || got[12345] != want[12345] {
		t.Fatalf("Get of the 96 MiB Put: %d bytes, %v", len(got), err)
	}
	if s, err := sumBytes.Remote(ctx, r).Get(ctx); err != nil || s != patternSum(putN) {
		t.Fatalf("a task reading the 96 MiB object: %d, %v; want %d", s, err, patternSum(putN))
	}
	got, want = nil, nil
	r.Release()
	big := bigBytes.Remote(ctx, gray.V(retN))
	b, err := big.Get(ctx)
	if err != nil || len(b) != retN || b[retN-1] != pattern(retN)[retN-1] {
		t.Fatalf("an 80 MiB result: %d bytes, %v", len(b), err)
	}
	b = nil
	big.Release()
	if _, err := gray.Put(ctx, make([]byte, 500<<20)).Get(ctx); !errors.Is(err, gray.ErrObjectStoreFull) {
		t.Fatalf("a Put larger than the store: %v, want ErrObjectStoreFull", err)
	}
}
