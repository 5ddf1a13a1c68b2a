package gray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// refHolder holds Refs at several depths: a slice, a map, a pointer to a
// struct (whose object is large enough for plasma).
type refHolder struct {
	Name  string
	Refs  []Ref[int]
	ByKey map[string]Ref[string]
	Inner *struct{ Blob Ref[[]byte] }
	Empty Ref[int] // the zero Ref travels as nil
}

const nestedBlob = 300 << 10 // over the inline limit: a plasma copy

// nestedCreators records the process of every body that made Refs, so
// that the test can look into its reference table once it returned.
var nestedCreators sync.Map // *caller → bool

var (
	makeHolder = Task1("test.nested.make", func(ctx context.Context, n int) (refHolder, error) {
		nestedCreators.Store(process.CallerFrom(ctx), true)
		h := refHolder{Name: "h", ByKey: map[string]Ref[string]{}}
		for i := range n {
			h.Refs = append(h.Refs, Put(ctx, i))
		}
		h.ByKey["a"] = Put(ctx, "alpha")
		h.ByKey["b"] = Put(ctx, "beta")
		h.Inner = &struct{ Blob Ref[[]byte] }{Put(ctx, bytes.Repeat([]byte{7}, nestedBlob))}
		return h, nil
	})
	// sumHolder reads every value of a holder it was given, from another
	// worker than the one that made them.
	sumHolder = Task1("test.nested.sum", func(ctx context.Context, h refHolder) (int, error) {
		return holderSum(ctx, h)
	})
	// forward returns the holder it got, inside another value: the Refs
	// travel on from a borrower.
	forward = Task1("test.nested.forward", func(ctx context.Context, h refHolder) ([]refHolder, error) {
		return []refHolder{h}, nil
	})
)

func holderSum(ctx context.Context, h refHolder) (int, error) {
	s := 0
	for _, r := range h.Refs {
		v, err := r.Get(ctx)
		if err != nil {
			return 0, err
		}
		s += v
	}
	for k, want := range map[string]string{"a": "alpha", "b": "beta"} {
		if v, err := h.ByKey[k].Get(ctx); err != nil || v != want {
			return 0, fmt.Errorf("ByKey[%s] = %q, %v; want %q", k, v, err, want)
		}
	}
	b, err := h.Inner.Blob.Get(ctx)
	if err != nil {
		return 0, err
	}
	if len(b) != nestedBlob || b[0] != 7 {
		return 0, fmt.Errorf("blob of %d bytes", len(b))
	}
	if h.Empty.s != nil {
		return 0, errors.New("the zero Ref came back set")
	}
	return s, nil
}

// tableSize returns the number of objects in c's reference table.
func tableSize(ctx context.Context, t *testing.T, c *caller) int {
	t.Helper()
	n, err := do(ctx, c, func(cw *worker.Worker, reply func(int, error)) {
		d := cw.Describe()
		var objs int
		_, err := fmt.Sscanf(d[strings.Index(d, "objects="):], "objects=%d", &objs)
		reply(objs, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRefsInsideValues: 1,000 Refs made inside a task, returned inside a
// struct (a slice, a map, a pointer), outlive the body that made them
// (the garbage collector has run), are read by the driver and by another
// task the driver passes them to, travel on inside a returned value, and
// are freed everywhere once the driver drops them.
func TestRefsInsideValues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := Init(ctx, WithNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	const n = 1000
	want := n * (n - 1) / 2
	func() {
		outer := makeHolder.Remote(ctx, V(n))
		if _, _, err := Wait(ctx, []Ref[refHolder]{outer}, 1, -1); err != nil {
			t.Fatal(err)
		}
		// The body returned and the collector releases its own Refs:
		// only the pins of the returned value keep the objects until the
		// driver borrows them.
		for range 3 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		h, err := outer.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		outer.Release()
		if storedObjects(t, rt) == 0 {
			t.Fatalf("the large value inside is in no store")
		}
		if len(h.Refs) != n {
			t.Fatalf("%d refs, want %d", len(h.Refs), n)
		}
		if got, err := holderSum(ctx, h); err != nil || got != want {
			t.Fatalf("driver reads %d, %v; want %d", got, err, want)
		}
		if got, err := sumHolder.Remote(ctx, V(h)).Get(ctx); err != nil || got != want {
			t.Fatalf("sum task reads %d, %v; want %d", got, err, want)
		}
		fw := forward.Remote(ctx, V(h))
		hs, err := fw.Get(ctx)
		fw.Release()
		if err != nil || len(hs) != 1 {
			t.Fatalf("forward: %d holders, %v", len(hs), err)
		}
		h = refHolder{} // only the forwarded copy holds them now
		runtime.GC()
		if got, err := holderSum(ctx, hs[0]); err != nil || got != want {
			t.Fatalf("forwarded holder reads %d, %v; want %d", got, err, want)
		}
		// A Put of a value holding Refs keeps them too.
		p := Put(ctx, hs[0])
		hs = nil
		runtime.GC()
		h2, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Release()
		if got, err := holderSum(ctx, h2); err != nil || got != want {
			t.Fatalf("holder from a Put reads %d, %v; want %d", got, err, want)
		}
	}()
	var creators []*caller
	nestedCreators.Range(func(k, _ any) bool { creators = append(creators, k.(*caller)); return true })
	if len(creators) != 1 {
		t.Fatalf("%d creators recorded, want 1", len(creators))
	}
	for {
		runtime.GC()
		d, c, s := tableSize(ctx, t, rt.driver), tableSize(ctx, t, creators[0]), storedObjects(t, rt)
		if d == 0 && c == 0 && s == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after the driver dropped every Ref: the driver holds %d objects, the worker that made them %d, and the stores %d; want 0", d, c, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// storedObjects counts the objects in the embedded cluster's stores.
func storedObjects(t *testing.T, rt *Runtime) int {
	t.Helper()
	n := 0
	for _, r := range rt.raylets {
		got := make(chan int, 1)
		if err := rt.host.Do(r.addr, func() { got <- len(r.r.Store().Objects()) }); err != nil {
			t.Fatal(err)
		}
		n += <-got
	}
	return n
}

// TestRefInsideValueErrors: Refs that cannot travel are refused with a
// clear error, and msgpack alone cannot encode one.
func TestRefInsideValueErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	released := Put(ctx, 1)
	released.Release()
	if _, err := sumHolder.Remote(ctx, V(refHolder{Refs: []Ref[int]{released}})).Get(ctx); !errors.Is(err, ErrReleased) {
		t.Errorf("a released Ref inside an argument: %v, want ErrReleased", err)
	}
	failed := errRef[int](errors.New("broken"))
	if _, err := sumHolder.Remote(ctx, V(refHolder{Refs: []Ref[int]{failed}})).Get(ctx); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a failed Ref inside an argument: %v, want its error", err)
	}
	if _, err := msgpack.Marshal(refHolder{Refs: []Ref[int]{Put(ctx, 1)}}); !errors.Is(err, errNoSession) {
		t.Errorf("msgpack.Marshal of a Ref: %v, want errNoSession", err)
	}
}

type nestedCounter struct{ n int }

type handleBox struct {
	Label string
	H     *ActorHandle[nestedCounter]
	All   []*ActorHandle[nestedCounter]
}

var (
	nestedCounterClass = Actor("test.nested.Counter", func(context.Context) (*nestedCounter, error) { return &nestedCounter{}, nil })
	nestedCounterAdd   = Method1("add", func(c *nestedCounter, _ context.Context, x int) (int, error) {
		c.n += x
		return c.n, nil
	})
	// bumpVia adds 1 to the counter k times through the handle it was
	// given, in order, and returns the last count.
	bumpVia = Task2("test.nested.bump", func(ctx context.Context, h *ActorHandle[nestedCounter], k int) (int, error) {
		last := 0
		for i := range k {
			n, err := nestedCounterAdd.Remote(ctx, h, V(1)).Get(ctx)
			if err != nil {
				return 0, err
			}
			if i > 0 && n <= last {
				return 0, fmt.Errorf("count %d after %d: calls through one handle out of order", n, last)
			}
			last = n
		}
		return last, nil
	})
	// boxBump calls every counter in a box once, through handles inside
	// a struct, and returns the box with the sum of counts as its label.
	boxBump = Method1("boxBump", func(_ *nestedCounter, ctx context.Context, b handleBox) (handleBox, error) {
		s := 0
		for _, h := range b.All {
			n, err := nestedCounterAdd.Remote(ctx, h, V(1)).Get(ctx)
			if err != nil {
				return b, err
			}
			s += n
		}
		b.Label = fmt.Sprint(s)
		return b, nil
	})
	// killByName looks the actor up by name inside a task and kills it.
	killByName = Task1("test.nested.kill", func(ctx context.Context, name string) (bool, error) {
		h, err := GetActor[nestedCounter](ctx, name)
		if err != nil {
			return false, err
		}
		return true, h.Kill(ctx, true)
	})
	// killVia kills the actor whose handle it was given.
	killVia = Task1("test.nested.killVia", func(ctx context.Context, h *ActorHandle[nestedCounter]) (bool, error) {
		return true, h.Kill(ctx, true)
	})
)

// TestActorHandlesAsValues: handles passed to tasks and inside structs
// to actor methods call the same actor, each caller in its own order;
// a task kills an actor by a handle it looked up by name or was given.
func TestActorHandlesAsValues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := Init(ctx, WithNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	a, err := nestedCounterClass.New(ctx, WithName("nested-a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := nestedCounterClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := bumpVia.Remote(ctx, V(a), V(50)), bumpVia.Remote(ctx, V(a), V(50))
	if _, err := GetAll(ctx, []Ref[int]{r1, r2}); err != nil {
		t.Fatal(err)
	}
	if n, err := nestedCounterAdd.Remote(ctx, a, V(0)).Get(ctx); err != nil || n != 100 {
		t.Fatalf("after two tasks added 50 each: %d, %v; want 100", n, err)
	}
	box, err := boxBump.Remote(ctx, b, V(handleBox{H: a, All: []*ActorHandle[nestedCounter]{a, a}})).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if box.Label != "203" || box.H == nil || box.H.ID() != a.ID() {
		t.Fatalf("box back: label %q (want 101+102), handle %v", box.Label, box.H)
	}
	// The handle that came back works from the driver.
	if n, err := nestedCounterAdd.Remote(ctx, box.H, V(0)).Get(ctx); err != nil || n != 102 {
		t.Fatalf("through the returned handle: %d, %v; want 102", n, err)
	}
	if ok, err := killByName.Remote(ctx, V("nested-a")).Get(ctx); err != nil || !ok {
		t.Fatalf("kill by name inside a task: %v", err)
	}
	if _, err := nestedCounterAdd.Remote(ctx, a, V(1)).Get(ctx); !errors.Is(err, ErrActorDied) {
		t.Fatalf("call after a task killed the actor: %v, want ErrActorDied", err)
	}
	if ok, err := killVia.Remote(ctx, V(b)).Get(ctx); err != nil || !ok {
		t.Fatalf("kill through a handle argument: %v", err)
	}
	if _, err := nestedCounterAdd.Remote(ctx, b, V(1)).Get(ctx); !errors.Is(err, ErrActorDied) {
		t.Fatalf("call after a task killed the actor by its handle: %v, want ErrActorDied", err)
	}
}

// createdInTask hands the tests the handles that task bodies created,
// while the bodies still run.
var createdInTask = make(chan *ActorHandle[nestedCounter], 4)

var (
	// makeCounter creates a counter inside a task, adds x through it and
	// returns the handle inside a value.
	makeCounter = Task1("test.nested.makeCounter", func(ctx context.Context, x int) (handleBox, error) {
		h, err := nestedCounterClass.New(ctx)
		if err != nil {
			return handleBox{}, err
		}
		if _, err := nestedCounterAdd.Remote(ctx, h, V(x)).Get(ctx); err != nil {
			return handleBox{}, err
		}
		return handleBox{H: h}, nil
	})
	// makeAndBlock creates two counters inside a task, a normal one and a
	// detached one, publishes their handles (in that order) and blocks
	// until cancelled: its worker, the owner, is stopped by a forced
	// Cancel.
	makeAndBlock = Task0("test.nested.makeAndBlock", func(ctx context.Context) (int, error) {
		for _, opts := range [][]Option{nil, {WithDetached(), WithName("nested-detached")}} {
			h, err := nestedCounterClass.New(ctx, opts...)
			if err != nil {
				return 0, err
			}
			if _, err := nestedCounterAdd.Remote(ctx, h, V(1)).Get(ctx); err != nil {
				return 0, err
			}
			createdInTask <- h
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	// counterMaker is an actor whose method creates actors.
	counterMakerClass = Actor("test.nested.Maker", func(context.Context) (*nestedCounter, error) { return &nestedCounter{}, nil })
	counterMakerMake  = Method0("make", func(_ *nestedCounter, ctx context.Context) (handleBox, error) {
		h, err := nestedCounterClass.New(ctx)
		return handleBox{H: h}, err
	})
)

// TestActorsCreatedInsideTasks: a task and an actor method create
// actors, owned by their workers, whose handles work from the driver; an
// actor dies with the worker that owns it, a detached one does not.
func TestActorsCreatedInsideTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := Init(ctx, WithNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	box, err := makeCounter.Remote(ctx, V(41)).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := nestedCounterAdd.Remote(ctx, box.H, V(1)).Get(ctx); err != nil || n != 42 {
		t.Fatalf("call through the handle a task created: %d, %v; want 42", n, err)
	}
	maker, err := counterMakerClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := counterMakerMake.Remote(ctx, maker).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := nestedCounterAdd.Remote(ctx, mb.H, V(3)).Get(ctx); err != nil || n != 3 {
		t.Fatalf("call through the handle an actor method created: %d, %v; want 3", n, err)
	}

	r := makeAndBlock.Remote(ctx)
	var hs [2]*ActorHandle[nestedCounter] // normal, detached
	for i := range hs {
		select {
		case hs[i] = <-createdInTask:
		case <-ctx.Done():
			t.Fatalf("actor %d of 2 not created: %v", i+1, ctx.Err())
		}
	}
	if err := Cancel(ctx, r, WithForce()); err != nil {
		t.Fatal(err)
	}
	// The owner's worker exits: the GCS finds the owner gone and kills the
	// normal actor, which shows that its owner check ran.
	for {
		_, err := nestedCounterAdd.Remote(ctx, hs[0], V(0)).Get(ctx)
		if errors.Is(err, ErrActorDied) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("actor still answers (err %v) long after its owner's worker exited", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := nestedCounterAdd.Remote(ctx, hs[1], V(0)).Get(ctx); err != nil {
		t.Fatalf("detached actor died with its creator: %v", err)
	}
	if err := hs[1].Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
}
