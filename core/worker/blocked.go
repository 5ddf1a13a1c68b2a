package worker

import (
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Blocked task bodies give their CPUs back, as in Ray: while the body of
// a task waits in Get or Wait, the worker tells its raylet (LeaseBlocked)
// and the raylet lends the lease's CPUs to other leases, possibly on this
// same worker, which runs bodies concurrently; when the wait ends the
// lease takes its CPUs back. So a tree of nested tasks deeper than the
// node's CPUs never waits forever for a CPU its own ancestors hold.

// WhileBlocked runs start on behalf of the body of the running task
// task: start begins a wait (a Get or Wait) and calls its argument once
// the wait ends. If the wait has not ended when start returns, the task's
// lease lends its CPUs out until it ends. Outside a running task (a
// driver, an actor method, a task that already returned) it just runs
// start.
func (w *Worker) WhileBlocked(task core.TaskID, start func(done func())) {
	ended, counted := false, false
	start(func() {
		if ended {
			return
		}
		ended = true
		if !counted {
			return
		}
		run := w.running[task]
		if run == nil || run.waits == 0 {
			return // the task finished meanwhile (finish reported it)
		}
		run.waits--
		if run.waits == 0 {
			w.lineChanged(leaseLineKey{holder: run.holder, lease: run.lease}, 0, -1)
		}
	})
	if ended {
		return // answered at once: nothing was waited for
	}
	run := w.running[task]
	if run == nil || run.lease == 0 {
		return
	}
	counted = true
	run.waits++
	if run.waits == 1 {
		w.lineChanged(leaseLineKey{holder: run.holder, lease: run.lease}, 0, 1)
	}
}

// reportBlocked tells the raylet that the lease of holder lends its
// CPUs out (blocked: every body running on it waits) or takes them back.
// The reports of one worker carry increasing sequence numbers, so that
// the raylet keeps the newest whatever order retries arrive in.
func (w *Worker) reportBlocked(lease uint64, holder core.Addr, blocked bool) {
	w.blockSeq++
	if blocked {
		w.stats.Blocked++
	}
	m := &proto.LeaseBlocked{LeaseID: lease, Owner: holder, Seq: w.blockSeq, Blocked: blocked}
	w.cli.Call(w.cfg.Raylet, m, rpc.Options{}, func(core.Message, error) {
		// Best effort: a report the raylet never gets leaves the lease as
		// it was (its CPUs held, or lent until the lease returns).
	})
}
