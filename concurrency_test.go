package gray_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/grayrt/gray"
)

// gate is an actor whose calls wait for each other: enter(n) returns
// once n calls are inside at the same time, so with a max concurrency
// below n it never returns. Its methods share state, so they lock.
type gate struct {
	mu      sync.Mutex
	inside  int
	changed chan struct{}
}

// Reentrant calls itself by name: outer(name, x) is inner(x)+1, made
// through a handle to its own actor, which needs a second call slot.
type reentrant struct{}

var (
	gateClass = gray.Actor("test.Gate", func(context.Context) (*gate, error) {
		return &gate{changed: make(chan struct{})}, nil
	})
	gateEnter = gray.Method1("enter", func(g *gate, ctx context.Context, n int) (int, error) {
		g.mu.Lock()
		g.inside++
		close(g.changed)
		g.changed = make(chan struct{})
		for g.inside < n {
			ch := g.changed
			g.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			g.mu.Lock()
		}
		g.mu.Unlock()
		return n, nil
	})

	reentrantClass = gray.Actor("test.Reentrant", func(context.Context) (*reentrant, error) { return &reentrant{}, nil })
	reentrantInner = gray.Method1("inner", func(_ *reentrant, _ context.Context, x int) (int, error) { return 2 * x, nil })
	reentrantOuter gray.ActorMethod2[reentrant, string, int, int]
)

func init() {
	reentrantOuter = *gray.Method2("outer", func(_ *reentrant, ctx context.Context, self string, x int) (int, error) {
		h, err := gray.GetActor[reentrant](ctx, self)
		if err != nil {
			return 0, err
		}
		y, err := reentrantInner.Remote(ctx, h, gray.V(x)).Get(ctx)
		return y + 1, err
	})
}

// TestMaxConcurrency: an actor created WithMaxConcurrency(4) runs four
// calls at once (each waits until all four are inside), and one that
// calls itself completes; bad values are refused at creation.
func TestMaxConcurrency(t *testing.T) {
	ctx := start(t)
	g, err := gateClass.New(ctx, gray.WithMaxConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]gray.Ref[int], 4)
	for i := range refs {
		refs[i] = gateEnter.Remote(ctx, g, gray.V(4))
	}
	got, err := gray.GetAll(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 4 {
			t.Fatalf("enter %d = %d, want 4", i, v)
		}
	}

	r, err := reentrantClass.New(ctx, gray.WithName("self"), gray.WithMaxConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := reentrantOuter.Remote(ctx, r, gray.V("self"), gray.V(20)).Get(ctx); err != nil || v != 41 {
		t.Fatalf("outer(20) = %v, %v; want 41", v, err)
	}

	for _, n := range []int{0, -1, 1001} {
		if _, err := gateClass.New(ctx, gray.WithMaxConcurrency(n)); err == nil || !strings.Contains(err.Error(), "WithMaxConcurrency") {
			t.Errorf("WithMaxConcurrency(%d): got %v, want a refusal naming the option", n, err)
		}
	}
}

// TestConcurrencyGroups: a call in the default group (max concurrency 1)
// that waits for two more calls inside does not hold up the calls of a
// group of limit 2: all three meet. A call naming a group the actor
// lacks fails; bad groups are refused at creation.
func TestConcurrencyGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	rt, err := gray.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	a, err := gateClass.New(ctx, gray.WithConcurrencyGroups(map[string]int{"pair": 2, "solo": 1}))
	if err != nil {
		t.Fatal(err)
	}
	pair := gateEnter.InGroup("pair")
	refs := []gray.Ref[int]{gateEnter.Remote(ctx, a, gray.V(3)), pair.Remote(ctx, a, gray.V(3)), pair.Remote(ctx, a, gray.V(3))}
	if got, err := gray.GetAll(ctx, refs); err != nil {
		t.Fatalf("a default-group call and two group calls meeting: %v (a group's calls must not wait for the default group's)", err)
	} else if got[0] != 3 || got[1] != 3 || got[2] != 3 {
		t.Fatalf("got %v, want three 3s", got)
	}
	if _, err := gateEnter.InGroup("nope").Remote(ctx, a, gray.V(1)).Get(ctx); err == nil || !strings.Contains(err.Error(), `no concurrency group "nope"`) {
		t.Fatalf("call in a group the actor lacks: %v, want an error naming it", err)
	}
	for _, groups := range []map[string]int{{"": 1}, {"g": 0}, {"g": 1001}} {
		if _, err := gateClass.New(ctx, gray.WithConcurrencyGroups(groups)); err == nil {
			t.Errorf("WithConcurrencyGroups(%v) accepted", groups)
		}
	}
}
