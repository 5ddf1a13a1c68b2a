package worker

import (
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/lease"
	"github.com/grayrt/gray/core/proto"
)

// Lease reuse, as Ray's core worker does it: a worker leased for a task
// runs the owner's next task of the same scheduling class when the task
// ends, instead of going back to its raylet while that task asks for a
// lease of its own. A task is pushed on a kept lease in one round trip
// (push and reply); without reuse it takes two and a one-way message
// (request and grant, push and reply, return).
//
//   - When a task ends with a result, its lease goes to the oldest task of
//     its class still waiting for a lease (whose own request passes to
//     the oldest task queued without one, or goes back), or, when no
//     task waits for a lease, is kept idle for leaseIdleMax: a task of
//     the class that asks for a lease meanwhile takes it at once.
//   - A lease runs tasks for at most leaseReuseMax, then goes back to its
//     raylet, whose queue is first come, first served: another owner's
//     requests waiting there are granted in turn (fairness between owners).
//   - A lease whose task failed, was cancelled or lost its worker is given
//     back as before; so are the idle ones when the program ends
//     (FreeOwned), and when a task of another class asks for a lease (it
//     may need what they hold). A lease kept idle counts as held for the
//     raylet's LeaseCheck; the raylet's LeaseFailed and the GCS's
//     NodeDied drop it.
//   - At most leaseRequestsMax lease requests of a class are out at once
//     (Ray's max_pending_lease_requests_per_scheduling_category): the
//     other tasks of the class wait here, in order, for one of their
//     leases or for a request slot, so a queue of 100,000 tasks is 10
//     requests at the raylet. A lease granted to a task that no longer
//     needs it runs the next one. When a class turns out infeasible for
//     its tasks' InfeasibleWait, the tasks queued behind fail with it.
//   - Tasks in flight per lease (pipelining): one, and up to
//     leasePipelineMax while the lease's tasks answer within
//     leasePipelineBelow of their push (fillLease); tasks pushed on one
//     lease run one after another on its worker (execute.go).
//   - SPREAD tasks never reuse a lease (they would not spread), nor do
//     actor creations and calls (an actor keeps its worker for life).
const (
	leaseIdleMax       = 5 * time.Millisecond
	leaseReuseMax      = time.Second
	leaseRequestsMax   = 10
	leasePipelineMax   = 4
	leasePipelineBelow = 2 * time.Millisecond
)

// leaseClass returns the scheduling class of spec's leases: tasks of one
// class may run on each other's leases. It is "" for tasks whose leases
// are never reused. The class holds whatever the raylet placed the lease
// by: job, worker binary, resources, strategy and labels (and how long
// its tasks may wait for a feasible node, which they share in a queue).
func leaseClass(spec *proto.TaskSpec) string {
	if spec.ActorCreation || spec.ActorCall || spec.Strategy.Kind == proto.StrategySpread {
		return ""
	}
	// Fixed-size fields first, then quoted strings: the key is
	// unambiguous. (Built by hand: it is made for every submitted task,
	// and fmt made it a twentieth of a submission's time.)
	b := make([]byte, 0, 128)
	b = append(b, spec.Job[:]...)
	b = append(b, spec.Strategy.Node[:]...)
	b = append(b, byte(spec.Strategy.Kind))
	if spec.Strategy.Soft {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(spec.InfeasibleWait))
	b = strconv.AppendQuote(b, spec.Binary)
	b = appendResources(b, spec.Resources)
	b = appendResources(b, spec.PlacementResources)
	if bu := spec.Strategy.Bundle; bu != nil {
		// Only tasks of the same bundle (or of any bundle) of a group
		// share leases.
		b = append(b, 'b')
		b = append(b, bu.Group[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(bu.Index))
	}
	for _, term := range spec.Strategy.Labels {
		b = strconv.AppendQuote(b, term.Key)
		b = strconv.AppendBool(b, term.Not)
		for _, v := range term.Values {
			b = strconv.AppendQuote(b, v)
		}
		b = append(b, ';')
	}
	return string(b)
}

// appendResources appends rs to a class key, ended by ';'.
func appendResources(b []byte, rs core.Resources) []byte {
	for _, r := range rs {
		b = strconv.AppendQuote(b, r.Name)
		b = strconv.AppendInt(b, int64(r.Amount), 10)
	}
	return append(b, ';')
}

// liveLease is a lease tasks of this owner were pushed on and whose
// replies are not all in (w.live; inflight counts them), or, with none
// in flight, one kept idle until a task of its class takes it or
// leaseIdleMax passes (w.kept, w.idle). granted is when the lease was
// first granted (leaseReuseMax counts from it). closing: a task on it
// failed (its worker may be in a bad state) or was cancelled, or its
// push failed (disconnect: the worker may be gone); no task is pushed on
// it any more, and it goes back when the last reply is in.
type liveLease struct {
	l       lease.Lease
	class   string
	granted time.Time
	// group is the placement group whose bundle the lease is on (zero
	// when none): when this process removes it, the lease runs no more.
	group      core.PlacementGroupID
	inflight   int
	closing    bool
	disconnect bool
	// quick: the last task pushed on it answered within
	// leasePipelineBelow of its push (see fillLease).
	quick bool
}

// reusable reports whether the lease t ran on may run another task: the
// task ended with a result (a failed one may have left its worker in a
// bad state; a retried one asks anew).
func (w *Worker) reusable(t *pendingTask, r *proto.PushTaskReply) bool {
	return t.class != "" && r != nil && r.Error == nil
}

// pushEnded settles ll after the push of one of its tasks ended: ok when
// the task ended with a result, disconnect when the push failed. While
// the lease may run more, it runs the next waiting tasks of its class;
// with nothing in flight and nothing waiting it is kept idle.
func (w *Worker) pushEnded(ll *liveLease, ok, disconnect bool, took time.Duration) {
	ll.inflight--
	ll.quick = ok && took < leasePipelineBelow
	if !ok {
		ll.closing = true
		ll.disconnect = ll.disconnect || disconnect
	}
	id := ll.l.ID
	if ll.closing || ll.class == "" || w.deadNodes[ll.l.Node] || w.exited || w.env.Now().Sub(ll.granted) >= leaseReuseMax {
		if ll.inflight == 0 {
			delete(w.live, id)
			w.leases.Return(ll.l.Raylet, id, ll.disconnect)
		}
		return
	}
	w.fillLease(ll)
	if ll.inflight > 0 {
		return
	}
	delete(w.live, id)
	if w.othersWait(ll.class) {
		// A task of another class waits for a lease: what this one
		// holds may be what it needs.
		w.leases.Return(ll.l.Raylet, id, false)
		return
	}
	w.kept[id] = ll
	w.idle[ll.class] = append(w.idle[ll.class], ll)
	w.env.AfterFunc(leaseIdleMax, func() {
		if w.kept[id] == ll { // still idle
			w.dropKept(ll)
			w.leases.Return(ll.l.Raylet, id, false)
		}
	})
}

// fillLease pushes waiting tasks of ll's class on it: one when nothing
// is in flight there, and up to leasePipelineMax while its tasks are
// quick (the last one answered within leasePipelineBelow of its push),
// so that the worker has the next task when one ends instead of waiting
// a round trip for it. A task pushed behind a long one would wait for it
// while another worker may be free (head-of-line blocking, which made
// Ray turn pipelining off), so slow leases and a lease's first task get
// one at a time. Only a task with retries left is pushed behind another:
// if the worker dies, a task that waited its turn fails with it.
func (w *Worker) fillLease(ll *liveLease) {
	for ll != nil && !ll.closing && w.live[ll.l.ID] == ll && (ll.inflight == 0 || ll.quick && ll.inflight < leasePipelineMax) {
		pipelined := ll.inflight > 0
		if !w.handOff(ll.class, ll.l, ll.granted, pipelined) {
			return
		}
		if pipelined {
			w.stats.TasksPipelined++
		}
	}
}

// handOff runs the oldest task of class waiting for a lease on l, which
// was first granted at granted, and reports whether there was one;
// pipelined: l has tasks in flight, and only a task with retries left
// may go behind them.
func (w *Worker) handOff(class string, l lease.Lease, granted time.Time, pipelined bool) bool {
	if class == "" || w.deadNodes[l.Node] || w.exited {
		return false
	}
	// The oldest waiting task runs: its request passes to the oldest
	// task queued without one, or goes back when none is.
	next, q := w.peekWaiter(class), w.peekQueued(class)
	switch {
	case next == nil && q == nil:
		return false
	case next == nil:
		next = q
	}
	if pipelined && next.retries == 0 {
		return false // behind another task, it would fail with its worker
	}
	switch {
	case next == q:
		w.popQueued(class)
	default:
		popFront(w.waiting, class)
		if q != nil {
			w.popQueued(class)
			w.transferRequest(next, q)
		} else {
			next.req.Cancel() // gives its own request back
			w.endRequest(next)
		}
	}
	w.stats.LeasesReused++
	next.leaseGen++
	w.runOnLease(next, l, granted)
	return true
}

// transferRequest passes the lease request of from, which got a lease
// otherwise, to to, which waited without one: the request, its lease id
// and what the raylet reported about it (LeaseInfeasible) now serve to.
func (w *Worker) transferRequest(from, to *pendingTask) {
	to.req, to.holder, to.infeasible = from.req, from.holder, from.infeasible
	to.holder.t = to
	from.req, from.holder = nil, nil
	from.infeasible.Clear()
	w.indexLease(from)
	w.indexLease(to)
	w.addWaiter(to)
}

// endRequest forgets t's lease request, which ended or was cancelled.
// The caller calls fillRequests when it is done with the change.
func (w *Worker) endRequest(t *pendingTask) {
	if t.req == nil {
		return
	}
	t.req, t.holder = nil, nil
	if t.class == "" {
		return
	}
	if w.requesting[t.class]--; w.requesting[t.class] <= 0 {
		delete(w.requesting, t.class)
	}
}

// fillRequests sends lease requests for tasks of class queued here while
// fewer than leaseRequestsMax of the class are out.
func (w *Worker) fillRequests(class string) {
	for class != "" && w.requesting[class] < leaseRequestsMax {
		t := w.popQueued(class)
		if t == nil {
			return
		}
		w.requestLease(t, w.cfg.Raylet)
	}
}

// addQueued queues t, which waits without a request, behind the tasks of
// its class queued here.
func (w *Worker) addQueued(t *pendingTask) {
	w.queued[t.class] = appendLive(w.queued[t.class], t, w.isQueued)
}

// peekQueued returns the oldest task of class still queued here (nil if
// none), dropping the entries before it.
func (w *Worker) peekQueued(class string) *pendingTask {
	return peekLive(w.queued, class, w.isQueued)
}

// peekWaiter returns the oldest task of class waiting with a request out
// (nil if none), dropping the entries before it.
func (w *Worker) peekWaiter(class string) *pendingTask {
	return peekLive(w.waiting, class, w.waits)
}

// popQueued takes the oldest task of class still queued here (nil if
// none) and clears its queued mark.
func (w *Worker) popQueued(class string) *pendingTask {
	t := peekLive(w.queued, class, w.isQueued)
	if t != nil {
		popFront(w.queued, class)
		t.queued = false
	}
	return t
}

// peekLive returns the first entry of queues[class] that live reports
// live (nil if none), dropping the entries before it; an emptied queue
// leaves the map.
func peekLive(queues map[string][]*pendingTask, class string, live func(*pendingTask) bool) *pendingTask {
	q := queues[class]
	for len(q) > 0 && !live(q[0]) {
		q[0] = nil
		q = q[1:]
	}
	if len(q) == 0 {
		delete(queues, class)
		return nil
	}
	queues[class] = q
	return q[0]
}

// popFront drops the first entry of queues[class], which is not empty.
func popFront(queues map[string][]*pendingTask, class string) {
	q := queues[class]
	q[0] = nil
	if q = q[1:]; len(q) == 0 {
		delete(queues, class)
	} else {
		queues[class] = q
	}
}

// takeQueued takes every task of class queued here, oldest first.
func (w *Worker) takeQueued(class string) []*pendingTask {
	var ts []*pendingTask
	for t := w.popQueued(class); t != nil; t = w.popQueued(class) {
		ts = append(ts, t)
	}
	return ts
}

// isQueued reports whether t still waits here without a request.
func (w *Worker) isQueued(t *pendingTask) bool {
	return w.tasks[t.spec.TaskID] == t && t.phase == phaseLeasing && t.queued
}

// takeIdle gives t a lease of its class kept idle, if there is one, and
// pushes t on it; it reports whether it did.
func (w *Worker) takeIdle(t *pendingTask) bool {
	ks := w.idle[t.class]
	if t.class == "" || len(ks) == 0 {
		return false
	}
	k := ks[len(ks)-1] // the most recently used: its worker is warm
	w.dropKept(k)
	if w.deadNodes[k.l.Node] {
		return w.takeIdle(t) // (NodeDied drops them; a late grant may not have been)
	}
	w.stats.LeasesReused++
	w.runOnLease(t, k.l, k.granted)
	w.fillLease(w.live[k.l.ID])
	return true
}

// runOnLease pushes t, which has no request in flight, on the lease l
// another task of its class ran on.
func (w *Worker) runOnLease(t *pendingTask, l lease.Lease, granted time.Time) {
	t.raylet, t.leaseID, t.granted = l.Raylet, l.ID, granted
	t.infeasible.Clear()
	w.indexLease(t)
	w.push(t, l)
}

// addWaiter queues t, which just sent a lease request, behind the tasks
// of its class waiting for a lease. Entries of tasks that stopped
// waiting are dropped whenever the queue fills its capacity, and the
// capacity doubles when more than half of it still waits, so that a
// queue stays within twice its waiting tasks at an amortized O(1) per
// task.
func (w *Worker) addWaiter(t *pendingTask) {
	if t.class == "" {
		return
	}
	w.waiting[t.class] = appendLive(w.waiting[t.class], t, w.waits)
}

// appendLive appends t to q after dropping the entries that are not live
// when q is at its capacity (see addWaiter).
func appendLive(q []*pendingTask, t *pendingTask, live func(*pendingTask) bool) []*pendingTask {
	if len(q) == cap(q) && len(q) >= 32 {
		kept := q[:0]
		for _, x := range q {
			if live(x) {
				kept = append(kept, x)
			}
		}
		clear(q[len(kept):])
		q = kept
		if len(q) > cap(q)/2 {
			q = slices.Grow(q, cap(q))
		}
	}
	return append(q, t)
}

// waits reports whether t still waits for a lease with a request in
// flight.
func (w *Worker) waits(t *pendingTask) bool {
	return w.tasks[t.spec.TaskID] == t && t.phase == phaseLeasing && t.req != nil
}

// othersWait reports whether a task of a class other than class waits
// for a lease. Queued tasks wait behind requests of their class, so
// the tasks with requests out tell.
func (w *Worker) othersWait(class string) bool {
	for _, c := range slices.Sorted(maps.Keys(w.waiting)) {
		if c != class && w.peekWaiter(c) != nil {
			return true
		}
	}
	return false
}

// dropKept forgets an idle lease (taken, timed out, its worker or node
// dead).
func (w *Worker) dropKept(k *liveLease) {
	delete(w.kept, k.l.ID)
	ks := w.idle[k.class]
	for i, x := range ks {
		if x == k {
			ks = append(ks[:i], ks[i+1:]...)
			break
		}
	}
	if len(ks) == 0 {
		delete(w.idle, k.class)
	} else {
		w.idle[k.class] = ks
	}
}

// dropKeptOn forgets the idle leases whose worker died (lease id) or
// whose node died; they are not given back (the raylet freed them, or is
// gone).
func (w *Worker) dropKeptOn(leaseID uint64, node core.NodeID) {
	for _, id := range w.keptIDs() {
		if k := w.kept[id]; (leaseID != 0 && id == leaseID) || (!node.IsNil() && k.l.Node == node) {
			w.dropKept(k)
		}
	}
}

// returnKept gives back every idle lease not of class (all of them for
// ""): the program ended, or a task of another class asks for a lease,
// which the resources idle leases hold could be what it waits for.
func (w *Worker) returnKept(class string) {
	for _, id := range w.keptIDs() {
		if k := w.kept[id]; class == "" || k.class != class {
			w.dropKept(k)
			w.leases.Return(k.l.Raylet, k.l.ID, false)
		}
	}
}

func (w *Worker) keptIDs() []uint64 {
	ids := make([]uint64, 0, len(w.kept))
	for id := range w.kept { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
