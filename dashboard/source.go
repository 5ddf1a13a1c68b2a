package dashboard

import (
	"context"
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
)

// Source gives the dashboard access to the head's components. Each
// function runs f on the component's event loop (net.Host.Do) and returns
// without waiting; it fails if the component is not running.
type Source struct {
	// GCS runs f with the head's GCS server. Required.
	GCS func(f func(*gcs.Server)) error
	// Replica runs f with the head's replica of a replicated GCS; nil
	// with a single GCS. GCS then fails while the replica does not lead.
	Replica func(f func(*gcs.Replica)) error
	// Raylet runs f with the head's raylet; nil if the node has none.
	Raylet func(f func(*raylet.Raylet)) error
	// Request sends m to the process at to (a node's log service) and
	// waits for its reply; nil when the head cannot reach other processes
	// (the logs page then says so).
	Request func(ctx context.Context, to core.Addr, m core.Message) (core.Message, error)
	// Call makes a GCS client call, for the requests that change state
	// (submitting, stopping and deleting jobs; staging files), which go
	// through the GCS's request path and its log rather than touching
	// the server's tables: start runs on the loop of the process that
	// owns the client and must call cb once. Call waits for cb or ctx.
	// nil when the head has no GCS client (those routes answer 501).
	Call func(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error)
}

// errNoRaylet is returned by onRaylet when the Source has no raylet.
var errNoRaylet = errors.New("dashboard: the head has no raylet")

// onLoop runs read through do and waits for it, or for ctx.
func onLoop[C any](ctx context.Context, do func(func(C)) error, read func(C)) error {
	if do == nil {
		return errNoRaylet
	}
	done := make(chan struct{})
	if err := do(func(c C) {
		defer close(done)
		read(c)
	}); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dashboard: the component did not answer: %w", ctx.Err())
	}
}
