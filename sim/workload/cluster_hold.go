package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
)

// The hold-forever variant (test-only) plants a program that can never
// finish, to prove that a liveness failure says why: the first node has
// one unit of a resource no other node has (lockResource); the first
// driver runs hold, a task that takes it and never returns (its lease's
// holder, the driver, never gives it back), then waits in Get for after,
// a task that needs it too. after's lease request waits in the first
// raylet's queue behind hold's lease until the liveness bound runs out,
// and the failure's reason must name after, its queued request and the
// lease holding the lock (TestLivenessNamesTheHolder).

const (
	variantHoldForever = "hold-forever"
	// lockResource exists only on the first node, and only in the
	// hold-forever variant.
	lockResource = "workload.lock"
	// holdFor is longer than any run.
	holdFor = 1000 * time.Hour
)

var (
	holdTask = gray.Task0("workload.hold", func(ctx context.Context) (int64, error) {
		if err := pause(ctx, holdFor); err != nil {
			return 0, err
		}
		return 0, nil
	})
	// afterTask is add under a name of its own, for the failure to name.
	afterTask = gray.Task2("workload.after", func(_ context.Context, a, b int64) (int64, error) { return a + b, nil })
	lockOpt   = gray.WithResources(map[string]float64{core.CPU: 1, lockResource: 1})
)

// resourcesOf returns the resources of the i-th node (from 0).
func (c *cluster) resourcesOf(i int) core.Resources {
	if c.variant == variantHoldForever && i == 0 {
		return nodeResources().Add(core.MustResources(lockResource, 1))
	}
	return nodeResources()
}

// holdForever is the variant's driver program: hold the lock, then wait
// for a task that needs it.
func (d *driver) holdForever(ctx context.Context) error {
	d.step = "hold the lock"
	hold := holdTask.Options(lockOpt).Remote(ctx)
	defer hold.Release()
	after := afterTask.Options(lockOpt).Remote(ctx, gray.V(int64(1)), gray.V(int64(2)))
	defer after.Release()
	d.step = "get after, which needs the held lock"
	if _, err := after.Get(ctx); err != nil {
		return fmt.Errorf("after: %w", err)
	}
	return nil
}
