package worker

import (
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
