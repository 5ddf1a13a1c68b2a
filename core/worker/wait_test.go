package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/grayrt/gray/core/proto"
)

func TestWaitReturnsReadyRefsInOrder(t *testing.T) {
	c := newCluster(t)
	hang, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
	add, _ := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	refs := []proto.ObjectRef{hang[0], add[0]}
	var ready, notReady []proto.ObjectRef
	done := false
	if err := c.owner.Wait(refs, 1, -1, func(r, n []proto.ObjectRef) { ready, notReady, done = r, n, true }); err != nil {
		t.Fatal(err)
	}
	c.n.run(func() bool { return done })
	if !done || len(ready) != 1 || ready[0] != add[0] || len(notReady) != 1 || notReady[0] != hang[0] {
		t.Fatalf("Wait(1 of [hang, add]) = ready %v, not ready %v (done %v); want [add], [hang]", ready, notReady, done)
	}
	if err := c.owner.Wait(refs, 3, -1, func(_, _ []proto.ObjectRef) {}); err == nil {
		t.Fatal("Wait for 3 of 2 objects accepted")
	}
}

func TestWaitTimesOut(t *testing.T) {
	c := newCluster(t)
	hang, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
	done := false
	var notReady []proto.ObjectRef
	_ = c.owner.Wait(hang, 1, time.Second, func(r, n []proto.ObjectRef) { notReady, done = n, true })
	c.n.run(func() bool { return done })
	if !done || len(notReady) != 1 {
		t.Fatalf("Wait with a timeout on a hanging task: done %v, not ready %v", done, notReady)
	}
}

func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  bool // let the task start before cancelling it
	}{{"queued task", false}, {"running task", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			refs, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
			if tc.run {
				c.n.run(func() bool { return c.x.runs["hang"] > 0 })
				if c.x.runs["hang"] == 0 {
					t.Fatal("the task never started")
				}
			}
			if err := c.owner.Cancel(refs[0]); err != nil {
				t.Fatal(err)
			}
			_, err := c.get(c.owner, refs[0])
			if !errors.Is(err, proto.ErrCancelled) {
				t.Fatalf("Get of a cancelled task = %v, want ErrCancelled", err)
			}
			c.n.run(nil)
			if len(c.raylet.leases) != 0 {
				t.Fatalf("leases still held after cancelling: %v", c.raylet.leases)
			}
			if c.owner.Stats().Retried != 0 {
				t.Fatalf("a cancelled task was retried")
			}
		})
	}
	c := newCluster(t)
	if err := c.exec.Cancel(proto.ObjectRef{Owner: "driver"}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Cancel by a non-owner = %v, want ErrNotOwner", err)
	}
}
