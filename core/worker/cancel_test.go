package worker

import (
	"errors"
	"slices"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// sendCancel delivers a CancelTask from `from` to exec as an rpc request
// of a client of its own, as a duplicated or late message would arrive.
func (c *cluster) sendCancel(from core.Addr, m *proto.CancelTask) {
	c.n.t.Helper()
	body, err := c.n.codec.Encode(m)
	if err != nil {
		c.n.t.Fatal(err)
	}
	c.n.seq++
	c.n.queue = append(c.n.queue, envelope{from: from, to: "exec", m: &rpc.Request{Client: 77, ID: c.n.seq, AckBelow: c.n.seq, Body: body}})
}

// runCatching runs the network and returns the value a process panicked
// with (nil if none).
func (c *cluster) runCatching(cond func() bool) (panicked any) {
	defer func() { panicked = recover() }()
	c.n.run(cond)
	return nil
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
			if err := c.owner.Cancel(refs[0], CancelOptions{}); err != nil {
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
			want := 0
			if tc.run {
				want = 1
			}
			if got := len(c.x.interrupts); got != want {
				t.Fatalf("Interrupt calls = %v, want %d", c.x.interrupts, want)
			}
		})
	}
	c := newCluster(t)
	if err := c.exec.Cancel(proto.ObjectRef{Owner: "driver"}, CancelOptions{}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Cancel by a non-owner = %v, want ErrNotOwner", err)
	}
}

// TestCancelReachesTheExecutor: a cancel of a running task reaches the
// executor's Interrupt once, the owner keeps the lease until the
// interrupted body returned, and the worker is reused afterwards; a
// duplicated or late cancel, a cancel from another process and a cancel
// of an unknown task are no-ops.
func TestCancelReachesTheExecutor(t *testing.T) {
	c := newCluster(t)
	refs, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
	task := refs[0].ID.Task()
	c.n.run(func() bool { return c.x.runs["hang"] > 0 })

	// Not from its owner: ignored.
	c.sendCancel("raylet", &proto.CancelTask{Task: task, Force: true})
	c.n.run(nil)
	if len(c.x.interrupts) != 0 {
		t.Fatalf("a cancel from a process other than the owner interrupted the task: %v", c.x.interrupts)
	}

	// Hold the interrupted body's reply back: the lease stays held (and
	// claimed when the raylet asks) until it arrives.
	held := true
	c.n.drop = func(e envelope) bool {
		if r, ok := e.m.(*rpc.Response); ok && held && e.from == "exec" && e.to == "driver" {
			if m, err := r.Carried(); err == nil && m != nil {
				_, isReply := m.(*proto.PushTaskReply)
				return isReply
			}
		}
		return false
	}
	if err := c.owner.Cancel(refs[0], CancelOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); !errors.Is(err, proto.ErrCancelled) {
		t.Fatalf("Get of a cancelled running task = %v, want ErrCancelled", err)
	}
	c.n.run(func() bool { return len(c.x.interrupts) > 0 })
	if !slices.Equal(c.x.interrupts, []core.TaskID{task}) {
		t.Fatalf("Interrupt calls = %v, want [%v]", c.x.interrupts, task)
	}
	if len(c.raylet.leases) != 1 {
		t.Fatalf("raylet leases = %v while the interrupted body's reply is out, want the one lease", c.raylet.leases)
	}
	var check *proto.LeaseCheckReply
	c.owner.handleLeaseCheck("raylet", &proto.LeaseCheck{LeaseID: c.raylet.granted[0]}, func(m core.Message, _ error) { check = m.(*proto.LeaseCheckReply) })
	if check == nil || !check.Held {
		t.Fatalf("LeaseCheck of a cancelled task's lease = %+v, want held", check)
	}
	held = false
	c.n.run(nil)
	if len(c.raylet.leases) != 0 {
		t.Fatalf("leases still held after the interrupted body returned: %v", c.raylet.leases)
	}

	// Late and duplicated cancels, a cancel of a task never seen, and a
	// forced cancel of a finished task: none interrupts or kills anything.
	for _, m := range []*proto.CancelTask{
		{Task: task},
		{Task: task, Force: true, Recursive: true},
		{Task: core.TaskID{42}},
		{Task: core.TaskID{42}, Force: true},
	} {
		c.sendCancel("driver", m)
	}
	if p := c.runCatching(nil); p != nil {
		t.Fatalf("a late cancel made the worker exit: %v", p)
	}
	if len(c.x.interrupts) != 1 {
		t.Fatalf("Interrupt calls after late cancels = %v, want only the first", c.x.interrupts)
	}

	// The worker runs the next task.
	add, _ := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(2)}, {Value: i64(3)}}, TaskOptions{})
	if v, err := c.get(c.owner, add[0]); err != nil || asI64(v) != 5 {
		t.Fatalf("add(2, 3) after a cancel = %v, %v", asI64(v), err)
	}
}

func TestCancelFinishedTaskDoesNothing(t *testing.T) {
	c := newCluster(t)
	refs, _ := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	if v, err := c.get(c.owner, refs[0]); err != nil || asI64(v) != 3 {
		t.Fatalf("add(1, 2) = %v, %v", asI64(v), err)
	}
	if err := c.owner.Cancel(refs[0], CancelOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if p := c.runCatching(nil); p != nil {
		t.Fatalf("cancelling a finished task made a process exit: %v", p)
	}
	if v, err := c.get(c.owner, refs[0]); err != nil || asI64(v) != 3 {
		t.Fatalf("Get after cancelling a finished task = %v, %v; want 3", asI64(v), err)
	}
	if len(c.x.interrupts) != 0 || c.owner.Stats().Cancelled != 0 {
		t.Fatalf("interrupts %v, cancelled %d; want none", c.x.interrupts, c.owner.Stats().Cancelled)
	}
}

// TestCancelBeforePush: a cancel that overtakes its push (the network
// reorders) is remembered, and the task never runs.
func TestCancelBeforePush(t *testing.T) {
	c := newCluster(t)
	refs, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
	c.sendCancel("driver", &proto.CancelTask{Task: refs[0].ID.Task()})
	if _, err := c.get(c.owner, refs[0]); !errors.Is(err, proto.ErrCancelled) {
		t.Fatalf("Get of a task cancelled before its push = %v, want ErrCancelled", err)
	}
	if c.x.runs["hang"] != 0 {
		t.Fatalf("the task ran %d times, want 0", c.x.runs["hang"])
	}
}

func TestCancelForceExitsTheWorker(t *testing.T) {
	c := newCluster(t)
	refs, _ := c.owner.SubmitTask("hang", nil, TaskOptions{})
	c.n.run(func() bool { return c.x.runs["hang"] > 0 })
	if err := c.owner.Cancel(refs[0], CancelOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	p := c.runCatching(nil)
	var fs core.FailStop
	if err, ok := p.(error); !ok || !errors.As(err, &fs) {
		t.Fatalf("forced cancel of a running task: panic %v, want a core.FailStop of the worker", p)
	}
	if len(c.x.interrupts) != 0 {
		t.Fatalf("a forced cancel interrupted the body (%v) instead of exiting", c.x.interrupts)
	}
	c.n.drop = func(e envelope) bool { return e.to == "exec" } // it is gone
	if _, err := c.get(c.owner, refs[0]); !errors.Is(err, proto.ErrCancelled) {
		t.Fatalf("Get of a task cancelled with force = %v, want ErrCancelled", err)
	}
	// The raylet reports the dead worker: the owner gives the lease up.
	lease := c.raylet.granted[0]
	c.raylet.env.Send("driver", &proto.LeaseFailed{LeaseID: lease, Reason: "worker exited"})
	c.n.run(nil)
	if len(c.raylet.leases) != 0 {
		t.Fatalf("leases still held after the forced worker died: %v", c.raylet.leases)
	}
}

// TestCancelRecursive: cancelling a task cancels the tasks its body
// submitted (their owner is the executing worker), and with NoRecursive
// leaves them running. The parent's body ignores the interrupt: the
// lease stays held until it returns.
func TestCancelRecursive(t *testing.T) {
	for _, recursive := range []bool{true, false} {
		c := newCluster(t)
		refs, _ := c.owner.SubmitTask("spawn", nil, TaskOptions{})
		c.n.run(func() bool { return c.x.runs["hang"] > 0 })
		if len(c.x.children) != 1 {
			t.Fatalf("spawn submitted %d children, want 1", len(c.x.children))
		}
		if err := c.owner.Cancel(refs[0], CancelOptions{NoRecursive: !recursive}); err != nil {
			t.Fatal(err)
		}
		child := c.x.children[0]
		c.n.run(nil)
		want := []core.TaskID{refs[0].ID.Task()}
		if recursive {
			want = append(want, child.ID.Task())
		}
		slices.SortFunc(want, func(a, b core.TaskID) int { return compareBytes(a[:], b[:]) })
		got := slices.Clone(c.x.interrupts)
		slices.SortFunc(got, func(a, b core.TaskID) int { return compareBytes(a[:], b[:]) })
		if !slices.Equal(got, want) {
			t.Fatalf("recursive=%v: interrupted %v, want %v", recursive, got, want)
		}
		if recursive {
			if _, err := c.get(c.exec, child); !errors.Is(err, proto.ErrCancelled) {
				t.Fatalf("Get of the child of a cancelled task = %v, want ErrCancelled", err)
			}
			// The cancelled parent, still running, submits no more.
			if _, err := c.exec.SubmitNested(&proto.TaskSpec{TaskID: refs[0].ID.Task(), Function: "spawn", Owner: "driver"}, "add", nil, TaskOptions{}); !errors.Is(err, proto.ErrCancelled) {
				t.Fatalf("SubmitNested from a cancelled parent = %v, want ErrCancelled", err)
			}
		}
		wantHeld := 1 // the parent's, while its body runs
		if !recursive {
			wantHeld = 2 // and the child's, which still hangs
		}
		if len(c.raylet.leases) != wantHeld {
			t.Fatalf("recursive=%v: leases %v while the parent body runs, want %d", recursive, c.raylet.leases, wantHeld)
		}
		c.x.spawned[0](nil, proto.NewError(proto.KindTaskFailed, "", "done at last"))
		c.n.run(nil)
		if len(c.raylet.leases) != wantHeld-1 {
			t.Fatalf("recursive=%v: leases %v after the parent body returned, want %d", recursive, c.raylet.leases, wantHeld-1)
		}
	}
}
