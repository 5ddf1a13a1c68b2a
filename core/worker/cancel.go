package worker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Cancellation, as Ray's ray.cancel: the owner fails the task at once and,
// when the task was already pushed, tells the executing worker
// (CancelTask), which interrupts the body through its executor, or exits
// when forced, and with Recursive also cancels the tasks the body
// submitted. The owner keeps the lease until the worker answers the push
// (the interrupted body returned), so that the worker is not handed out
// while the body still runs.

// ErrNotOwner is returned by Cancel for an object this worker does not own.
var ErrNotOwner = errors.New("worker: only the owner of an object can cancel the task that creates it")

// Interrupter is implemented by executors that can interrupt a running
// task body (cancel its context); the worker asks when the task's owner
// cancels it. Interrupt runs on the process's event loop, must not block,
// and may be called for a task that already finished (then it does
// nothing). The interrupted body still calls Execute's done once; its
// result is dropped.
type Interrupter interface {
	Interrupt(task core.TaskID)
}

// CancelOptions are the options of Cancel.
type CancelOptions struct {
	// Force makes the executing worker exit (fail-stop) instead of
	// interrupting the body; the raylet replaces it.
	Force bool
	// NoRecursive leaves the tasks the cancelled body submitted running
	// (Ray's recursive=False); by default they are cancelled too.
	NoRecursive bool
}

// cancelCallTimeout bounds the owner's CancelTask call; it is retried
// within it, and its outcome does not matter (the task has failed).
const cancelCallTimeout = 30 * time.Second

// Cancel cancels the task that creates ref, which this worker must own.
// A task still waiting for its arguments or a worker is dropped. A running
// task is interrupted: its worker is told (CancelTask) and asks its
// executor's Interrupter to stop the body, or exits with opts.Force; with
// Recursive (the default) the tasks the body submitted are cancelled too.
// Either way every Get of its returns fails with proto.ErrCancelled at
// once and the task is not retried. Cancelling a finished task does
// nothing; so does cancelling an actor creation. An actor call is
// cancelled as cancelCall says.
func (w *Worker) Cancel(ref proto.ObjectRef, opts CancelOptions) error {
	if ref.Owner != w.self {
		return ErrNotOwner
	}
	t, ok := w.tasks[ref.ID.Task()]
	if !ok {
		if v, c := w.findCall(ref.ID.Task()); c != nil {
			w.cancelCall(v, c, opts)
		}
		return nil // finished (actor creations are the GCS's: kill the actor instead)
	}
	w.cancelOwned(t, opts)
	return nil
}

// findCall returns the pending actor call of task id and its view.
func (w *Worker) findCall(id core.TaskID) (*actorView, *actorCall) {
	for _, vid := range w.sortedViewIDs() {
		v := w.views[vid]
		for _, seq := range v.sortedSeqs() {
			if c := v.calls[seq]; c.spec.TaskID == id {
				return v, c
			}
		}
	}
	return nil, nil
}

// cancelCall cancels a pending actor call, as Ray's ray.cancel of an
// actor task: its Gets fail with Cancelled at once. A call not sent yet
// is dropped here (it has no number at the actor yet, so the caller's
// order has no gap); a sent one is dropped by the actor if it has not
// started (CancelTask), and a running one sees its ctx cancelled (with
// Recursive, the tasks it submitted are cancelled too). Force does not
// apply: an actor's worker is not stopped for one of its calls.
func (w *Worker) cancelCall(v *actorView, c *actorCall, opts CancelOptions) {
	sent, to := c.sentInc >= 0, v.addr
	w.stats.Cancelled++
	w.finishCall(v, c, nil, proto.NewError(proto.KindCancelled, c.spec.Describe(), "cancelled by its caller"))
	if !sent {
		return
	}
	// The push stays out: its reply, whatever it is, finds the call gone.
	m := &proto.CancelTask{Task: c.spec.TaskID, Attempt: c.spec.Attempt, Recursive: !opts.NoRecursive}
	w.cli.Call(to, m, rpc.Options{Timeout: cancelCallTimeout}, func(core.Message, error) {})
}

// cancelOwned fails an owned pending task with Cancelled and stops it
// wherever it is.
func (w *Worker) cancelOwned(t *pendingTask, opts CancelOptions) {
	// Fail it first: the callbacks of the calls cancelled below then see
	// a stale task and neither retry nor fail it a second time.
	phase, req := t.phase, t.req
	w.stats.Cancelled++
	w.failTask(t, proto.NewError(proto.KindCancelled, t.spec.Describe(), "cancelled by its owner"))
	switch phase {
	case phaseLeasing:
		if req != nil { // else paused after a refusal or queued here: nothing is queued there
			req.Cancel() // drops the queued request
			w.endRequest(t)
			w.fillRequests(t.class)
		}
	case phaseRunning:
		// The push call stays: its reply (the interrupted body returned)
		// gives the lease back. Until then the lease is held (LeaseCheck).
		w.interrupted[leaseTask{lease: t.leaseID, task: t.spec.TaskID}] = t
		m := &proto.CancelTask{Task: t.spec.TaskID, Attempt: t.spec.Attempt, Force: opts.Force, Recursive: !opts.NoRecursive}
		w.cli.Call(t.worker, m, rpc.Options{Timeout: cancelCallTimeout}, func(core.Message, error) {})
	}
}

// endInterrupted forgets a cancelled task whose push call ended; r is its
// reply (nil on error). Arguments the body still references (it passed
// them on) make the worker a borrower, as for a task that finished.
func (w *Worker) endInterrupted(leaseID uint64, t *pendingTask, r *proto.PushTaskReply, worker core.Addr) {
	k := leaseTask{lease: leaseID, task: t.spec.TaskID}
	if w.interrupted[k] != t {
		return
	}
	delete(w.interrupted, k)
	if r != nil {
		w.addBorrowers(r.Borrowed, worker, borrowerAt{node: t.node})
	}
}

// abandonInterrupted ends the push calls of cancelled tasks whose worker
// died (leaseID, when nonzero) or whose node died (node, when not nil):
// no reply will come.
func (w *Worker) abandonInterrupted(leaseID uint64, node core.NodeID) bool {
	found := false
	for _, k := range w.interruptedKeys() {
		t := w.interrupted[k]
		if (leaseID != 0 && k.lease == leaseID) || (!node.IsNil() && t.node == node) {
			found = true
			w.cli.Cancel(t.pushCall) // its callback returns the lease
		}
	}
	return found
}

// leaseTask names a cancelled task whose push is still out by its lease
// and id (several tasks may be in flight on one lease).
type leaseTask struct {
	lease uint64
	task  core.TaskID
}

// interruptedKeys returns the keys of w.interrupted, sorted.
func (w *Worker) interruptedKeys() []leaseTask {
	ks := make([]leaseTask, 0, len(w.interrupted))
	for k := range w.interrupted { //gray:unordered sorted below
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b leaseTask) int {
		if c := cmp.Compare(a.lease, b.lease); c != 0 {
			return c
		}
		return compareBytes(a.task[:], b.task[:])
	})
	return ks
}

// runningTask is a normal task this worker executes for its owner.
type runningTask struct {
	spec      *proto.TaskSpec
	started   bool // its arguments resolved and the executor runs it
	cancelled bool
	recursive bool // cancelled with Recursive: its children were cancelled too
	// holder and lease name the lease the task runs on (its owner's,
	// granted by this worker's raylet); waits counts the body's Gets and
	// Waits in progress (see WhileBlocked).
	holder core.Addr
	lease  uint64
	waits  int
}

// runKey names one attempt of a task for its owner.
type runKey struct {
	owner   core.Addr
	task    core.TaskID
	attempt uint32
}

// cancelledRunsMax bounds the remembered cancels of tasks not (yet) seen.
const cancelledRunsMax = 1_000

// handleCancelTask interrupts the task the owner cancelled if this worker
// runs it; otherwise it remembers the cancel, in case the push arrives
// after it (messages are reordered).
func (w *Worker) handleCancelTask(from core.Addr, m core.Message, reply func(core.Message, error)) {
	c := m.(*proto.CancelTask)
	reply(&proto.Ack{}, nil)
	if w.cancelActorCall(from, c) {
		return
	}
	r := w.running[c.Task]
	if r == nil || r.spec.Owner != from || r.spec.Attempt != c.Attempt {
		if r == nil {
			w.rememberCancelledRun(runKey{owner: from, task: c.Task, attempt: c.Attempt})
		}
		return
	}
	if c.Recursive {
		r.recursive = true
		w.cancelChildren(c.Task, CancelOptions{Force: c.Force})
	}
	if c.Force {
		// After the reply and the children's cancels have been sent.
		w.env.AfterFunc(0, func() {
			panic(core.FailStop{Reason: fmt.Sprintf("task %s was cancelled with force by its owner", r.spec.Describe())})
		})
		return
	}
	if r.cancelled {
		return // a duplicate
	}
	r.cancelled = true
	if in, ok := w.cfg.Executor.(Interrupter); ok && r.started {
		in.Interrupt(c.Task)
	}
}

// cancelChildren cancels the pending tasks this worker submitted from
// inside the task parent, recursively on their own workers.
func (w *Worker) cancelChildren(parent core.TaskID, opts CancelOptions) {
	for _, id := range w.sortedTaskIDs() {
		if t := w.tasks[id]; t != nil && t.parent == parent {
			w.cancelOwned(t, opts)
		}
	}
}

func (w *Worker) rememberCancelledRun(k runKey) {
	if len(w.cancelledRuns) >= cancelledRunsMax {
		clear(w.cancelledRuns) // forgetting only lets a late push run to its end
	}
	w.cancelledRuns[k] = true
}
