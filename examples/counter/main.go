// Command counter runs an actor: a Go object living in one worker
// process, whose methods run one at a time in the order each caller made
// them.
//
//	go run ./examples/counter
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/grayrt/gray"
)

// Counter is the actor's Go type.
type Counter struct{ n int }

// Incr adds d and returns the new count.
func (c *Counter) Incr(_ context.Context, d int) (int, error) {
	c.n += d
	return c.n, nil
}

// Value returns the count.
func (c *Counter) Value(context.Context) (int, error) { return c.n, nil }

var (
	counterClass = gray.Actor("counter.Counter", func(context.Context) (*Counter, error) { return &Counter{}, nil })
	incr         = gray.Method1("incr", (*Counter).Incr)
	value        = gray.Method0("value", (*Counter).Value)

	// bump is a task that calls the named actor from inside a worker.
	bump = gray.Task1("counter.bump", func(ctx context.Context, by int) (int, error) {
		c, err := gray.GetActor[Counter](ctx, "hits")
		if errors.Is(err, gray.ErrActorNotFound) {
			// The name goes with the actor: it died (its node did, and it
			// has no restarts left) before this task looked it up.
			return 0, fmt.Errorf("%w: %w", gray.ErrActorDied, err)
		}
		if err != nil {
			return 0, err
		}
		return incr.Remote(ctx, c, gray.V(by)).Get(ctx)
	})
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run creates the actor, calls it from the driver and from tasks, kills
// it, and writes what it saw to out.
func run(ctx context.Context, out io.Writer) error {
	rt, err := gray.Init(ctx)
	if err != nil {
		return err
	}
	defer rt.Shutdown()

	c, err := counterClass.New(ctx, gray.WithName("hits"))
	if err != nil {
		return err
	}
	for i := 1; i <= 10; i++ {
		incr.Remote(ctx, c, gray.V(i))
	}
	n, err := value.Remote(ctx, c).Get(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "after 1+2+…+10:", n)

	// Tasks on workers find the actor by name and call it too. A task
	// whose worker dies is retried by default, which would add 100 twice
	// when the first attempt's call reached the actor: bump is not
	// idempotent, so it runs at most once (and fails instead).
	refs := make([]gray.Ref[int], 5)
	once := bump.Options(gray.WithMaxRetries(0))
	for i := range refs {
		refs[i] = once.Remote(ctx, gray.V(100))
	}
	if _, err := gray.GetAll(ctx, refs); err != nil {
		return err
	}
	n, err = value.Remote(ctx, c).Get(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "after five tasks added 100 each:", n)

	if err := c.Kill(ctx, true); err != nil {
		return err
	}
	_, err = value.Remote(ctx, c).Get(ctx)
	fmt.Fprintln(out, "after kill, actor died:", errors.Is(err, gray.ErrActorDied))
	return nil
}
