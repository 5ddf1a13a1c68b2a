package raylet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// handleRegisterWorker records a worker process of this node. A new
// WorkerID from a known address means the previous incarnation died: its
// lease fails and its owner is told.
func (r *Raylet) handleRegisterWorker(from core.Addr, m core.Message, reply func(core.Message, error)) {
	reg := m.(*proto.RegisterWorker)
	id := reg.Worker
	if reg.Launch != "" && (!strings.HasPrefix(reg.Launch, r.launchPrefix()) || r.exitedLaunches[reg.Launch]) {
		// Launched by an earlier incarnation of this raylet (that node is
		// gone, and so must its workers be: a host kills them with their
		// grayd; here the raylet alone restarted), or a registration sent
		// before the worker exited that arrives after its exit.
		r.env.Send(from, &proto.ExitWorker{Worker: id})
		reply(nil, rpc.Errorf(rpc.CodeInvalid, "worker %v was launched by an earlier incarnation of this raylet, or has exited; exit", id))
		return
	}
	if w := r.workers[from]; w != nil && w.id != id {
		r.workerDied(w, fmt.Sprintf("worker %v at %s died (it restarted as %v)", w.id, from, id))
	}
	r.workerRegistered(from, reg.OwnerID)
	if w := r.workers[from]; w != nil && w.id == id {
		w.retired = false
	}
	if w := r.workers[from]; w == nil || w.id != id {
		if reg.Launch != "" {
			delete(r.launches, reg.Launch)
			r.launchAddrs[reg.Launch] = from
		}
		r.workers[from] = &workerInfo{addr: from, id: id, binary: reg.Binary, launch: reg.Launch, job: reg.Job, idle: r.env.Now()}
	}
	if w := r.workers[from]; w != nil {
		w.owns = reg.Owns
	}
	r.workerAddrs[from] = true
	reply(&proto.RegisterWorkerReply{Node: r.node, GCS: r.cfg.GCS}, nil)
	r.schedule()
}

// workerDied fails the dead worker's lease and returns its resources.
func (r *Raylet) workerDied(w *workerInfo, why string) {
	r.stats.WorkerDeaths++
	r.abortPuts(w.addr)
	leases := w.leases
	w.leases, w.blockedLeases = nil, 0
	for _, l := range leases {
		r.releaseLease(l)
		r.env.Send(r.holderOf(l.key.owner), &proto.LeaseFailed{LeaseID: l.key.id, Reason: why})
	}
	delete(r.workers, w.addr)
}

// handleRequestLease queues a lease request; the reply comes when the
// request is granted, spilled back or found infeasible.
func (r *Raylet) handleRequestLease(from core.Addr, m core.Message, reply func(core.Message, error)) {
	req := m.(*proto.RequestLease)
	key := leaseKey{owner: from, id: req.LeaseID}
	// The holder of a lease is whoever asked for it: the task's owner, or
	// for an actor's creation task the GCS's actor scheduler (the spec
	// names the actor's owner).
	if req.Spec.Owner != from && !req.Spec.ActorCreation {
		reply(nil, rpc.Errorf(rpc.CodeInvalid, "lease request from %s for a task owned by %s", from, req.Spec.Owner))
		return
	}
	if r.cancelled[key] {
		reply(&proto.LeaseReply{Cancelled: true}, nil)
		return
	}
	if l := r.leases[key]; l != nil {
		// A retry of a request we already hold (the rpc layer normally
		// absorbs these; a new rpc client incarnation can still send one).
		l.reply = reply
		return
	}
	if len(r.queue) >= r.cfg.QueueMax {
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "lease queue full (%d requests); retry later", r.cfg.QueueMax))
		return
	}
	l := &leaseRequest{key: key, req: req, reply: reply, queued: r.env.Now()}
	l.class = r.classOf(&req.Spec)
	r.leases[key] = l
	r.queue = append(r.queue, l)
	if r.settled {
		r.scheduleNew(l)
		return
	}
	r.schedule()
}

// spilledWaitMax bounds how long a spilled-back request waits on a node
// that cannot fit it now before it may be spilled again.
const spilledWaitMax = 2 * time.Second

// schedule walks the queue in arrival order and grants, spills back or
// rejects what it can. Requests that must wait stay queued in order.
func (r *Raylet) schedule() {
	// Nothing is granted before the node is registered: a node the GCS
	// never heard of is never declared dead either, so the owners of
	// tasks it ran would wait for them forever after a crash.
	if r.fenced || r.policy == nil || !r.registered {
		return
	}
	views := r.startPass()
	kept := r.queue[:0]
	for _, l := range r.queue {
		if !r.tryDispatch(l, views) {
			kept = append(kept, l)
		}
	}
	clear(r.queue[len(kept):])
	r.queue = kept
	r.launchWanted()
	r.settled = true
}

// scheduleNew decides only l, the request just queued last, when the
// queue is settled: every other queued request was decided since the
// last event that freed resources or workers (each such event runs a
// full pass), and those waited, so a full pass would change nothing for
// them. A queue of thousands of waiting requests (a deep task tree) made
// every new request cost a pass over all of them.
func (r *Raylet) scheduleNew(l *leaseRequest) {
	if r.fenced || r.policy == nil || !r.registered {
		return
	}
	if r.tryDispatch(l, r.startPass()) {
		r.queue[len(r.queue)-1] = nil
		r.queue = r.queue[:len(r.queue)-1]
	}
	r.launchWanted()
}

// startPass starts a scheduling pass (its memos are those stamped with
// the new pass number) and returns the node views it decides with.
func (r *Raylet) startPass() []NodeView {
	r.pass++
	if r.passNoWorker == nil {
		r.passNoWorker = map[poolKey]bool{}
	}
	clear(r.passNoWorker)
	if len(r.queue) == 0 {
		// Nothing to decide: every resource update the GCS publishes
		// runs a pass, and building the view is O(nodes) (at 1,000 nodes
		// it was a third of a scale run's time when it also sorted).
		return nil
	}
	return r.viewList()
}

// demandClass is what requests with equal resources and worker binary
// share (Ray's scheduling class): within one pass the node views do not
// change and the default policy keeps no state, so once a demand of a
// class had to wait, every later one of that class waits too, and the
// pass skips them with one comparison (a queue of thousands of equal
// requests made every pass quadratic, and starved the raylet's
// heartbeats; comparing each with the demands that waited was a third
// of a deep task tree's time).
type demandClass struct {
	// res is shared by the classes of every binary with these resources.
	res *resourceClass
	// poolWait is the pass in which a demand of this class was placed
	// here and found no worker of its binary free.
	poolWait uint64
}

// resourceClass: wait is the pass in which a demand with these
// resources had to wait for any worker pool (the policy said wait, or it
// was placed here and did not fit).
type resourceClass struct{ wait uint64 }

// classOf interns the demand class of spec. The table is rebuilt from
// the queue when it holds many more classes than queued requests, so
// that it stays bounded by the queue.
func (r *Raylet) classOf(spec *proto.TaskSpec) *demandClass {
	if len(r.classes) > 2*len(r.queue)+64 {
		old := r.queue
		r.classes = nil
		for _, l := range old {
			l.class = r.classOf(&l.req.Spec)
		}
	}
	if r.classes == nil {
		r.classes = map[string]*demandClass{}
	}
	var b strings.Builder
	for _, x := range placing(spec) {
		fmt.Fprintf(&b, "%s=%d,", x.Name, int64(x.Amount))
	}
	if len(spec.PlacementResources) > 0 {
		b.WriteString("placed") // holds less than it needs to be placed
	}
	resKey := b.String()
	key := resKey + "\x00" + r.binaryFor(spec)
	if c := r.classes[key]; c != nil {
		return c
	}
	c := &demandClass{}
	if rc := r.classes[resKey]; rc != nil {
		c.res = rc.res // a binary-less entry carries the resource class
	} else {
		c.res = &resourceClass{}
		r.classes[resKey] = &demandClass{res: c.res}
	}
	r.classes[key] = c
	return c
}

// tryDispatch decides one request and reports whether it left the queue.
func (r *Raylet) tryDispatch(l *leaseRequest, views []NodeView) bool {
	spec := &l.req.Spec
	if spec.Strategy.Bundle != nil {
		// Into a placement group's bundle: here or nowhere.
		b, answered := r.bundleFor(l)
		if answered {
			return true
		}
		if b == nil {
			return false
		}
		if slot := nodeSlot(spec); !slot.FitsIn(r.available) {
			return false // an actor's slot is the node's: none free now
		}
		return r.grant(l, b, false)
	}
	// Within one pass the views do not change and the default policy
	// keeps no state, so a demand that had to wait waits again: skip the
	// decision (a queue of thousands of equal requests made every pass
	// quadratic, and starved the raylet's heartbeats).
	// (A label selector is not part of the demand class: a labeled
	// request that waits says nothing of an unlabeled one.)
	memo := spec.Strategy.Kind == proto.StrategyDefault && len(spec.Strategy.Labels) == 0 && !l.req.Spilled && l.class != nil
	if memo && (l.class.res.wait == r.pass || l.class.poolWait == r.pass) {
		return false
	}
	place := placing(spec)
	d := r.policy.Decide(r.node, views, place, strategyOf(spec.Strategy))
	if l.infeasible && d.Outcome != Infeasible {
		// A node that can run it joined: it waits for resources now,
		// and its owner stops counting the infeasible wait.
		l.infeasible, l.infeasibleReason = false, ""
		r.cli.Call(l.key.owner, &proto.LeaseInfeasible{LeaseID: l.key.id, Feasible: true}, rpc.Options{}, func(core.Message, error) {})
	}
	switch d.Outcome {
	case Infeasible:
		if spec.InfeasibleWait < 0 || (spec.Strategy.Kind == proto.StrategyNodeAffinity && !spec.Strategy.Soft) {
			// Asked to fail at once, or a hard affinity to a node that
			// is dead, draining or too small: no node joining helps.
			r.stats.Infeasible++
			r.finishRequest(l, &proto.LeaseReply{Infeasible: true, Reason: d.Reason})
			return true
		}
		l.infeasibleReason = d.Reason
		if !l.infeasible {
			// Ray's infeasible queue: it waits for a node that can run
			// it; the owner warns its user, and bounds the wait.
			l.infeasible = true
			r.stats.InfeasibleQueued++
			r.cli.Call(l.key.owner, &proto.LeaseInfeasible{LeaseID: l.key.id, Reason: d.Reason}, rpc.Options{}, func(core.Message, error) {})
		}
		return false
	case Wait:
		if memo {
			l.class.res.wait = r.pass
		}
		if s := spec.Strategy; s.Kind == proto.StrategyNodeAffinity && !s.Soft && r.views[s.Node] == nil {
			waited := r.env.Now().Sub(l.queued)
			if l.unknownGone || waited >= unknownNodeWaitMax {
				r.stats.Infeasible++
				r.finishRequest(l, &proto.LeaseReply{Infeasible: true,
					Reason: fmt.Sprintf("node affinity: node %v is not in the cluster (the GCS does not know it); use a soft affinity or another node", s.Node)})
				return true
			}
			if !l.unknownArmed {
				l.unknownArmed = true
				r.askUnknownNode(l, s.Node)
				r.env.AfterFunc(unknownNodeWaitMax-waited, r.schedule)
			}
		}
		return false
	}
	switch {
	case d.Node == r.node:
	case l.req.Spilled && r.allowedHere(spec) && place.FitsIn(r.cfg.Resources) && (place.FitsIn(r.available) || r.env.Now().Sub(l.queued) < spilledWaitMax):
		// Spilled here once already: run here when it fits now (another
		// node may merely score better), else wait rather than bounce —
		// for a while: resources held for long (an actor's) may never
		// come back here.
		if !place.FitsIn(r.available) {
			return false
		}
	default:
		addr, ok := r.addrs[d.Node]
		if !ok {
			return false
		}
		r.stats.Spillbacks++
		r.finishRequest(l, &proto.LeaseReply{Spillback: true, SpillRaylet: addr, SpillNode: d.Node})
		return true
	}
	if !place.FitsIn(r.available) {
		if memo && d.Node == r.node {
			// Placed here, to wait until it fits: so would an equal demand.
			l.class.res.wait = r.pass
		}
		return false
	}
	return r.grant(l, nil, memo)
}

// grant grants l here, from bundle b (nil: the node's pool), once its
// arguments are local and a worker is free, and reports whether it did.
func (r *Raylet) grant(l *leaseRequest, b *bundle, memo bool) bool {
	spec := &l.req.Spec
	if !l.fetched {
		r.fetchArgs(l)
		if !l.fetched {
			return false
		}
	}
	if l.failed != nil {
		// An argument could not be made local; let the worker report the
		// precise error when it resolves the argument itself.
		l.failed = nil
	}
	binary := r.binaryFor(spec)
	if err := r.binaryError(binary); err != nil {
		delete(r.leases, l.key)
		l.reply(nil, err)
		return true
	}
	pk := poolKey{binary, spec.Job}
	if binary == "" {
		pk.job = core.JobID{} // the node's own workers serve every job
	}
	if r.passNoWorker[pk] && !spec.ActorCreation {
		// No worker of this pool came free within the pass.
		r.wantWorker(pk, false)
		return false
	}
	w := r.idleWorker(binary, spec.Job)
	if w == nil && !spec.ActorCreation {
		w = r.stackableWorker(binary, spec.Job)
	}
	if w == nil {
		r.wantWorker(pk, spec.ActorCreation)
		if spec.ActorCreation {
			r.noteWorkerCap(l)
		} else {
			if r.poolTaskWorkers(pk) < r.cfg.WorkerPoolMax {
				r.makeRoom() // once per pool and pass
			}
			r.passNoWorker[pk] = true
			if memo {
				// An equal demand would be placed here and find no worker.
				l.class.poolWait = r.pass
			}
		}
		return false
	}
	l.workerCap = false
	hold := holding(spec)
	l.bundle = b
	r.take(l, hold)
	for _, x := range l.nodeHold(hold) {
		if r.available.Get(x.Name) < 0 {
			panic(fmt.Sprintf("raylet: available resources went negative: %v", r.available))
		}
	}
	if b != nil {
		for _, x := range bundleHold(spec) {
			// CPUs a blocked lease of the bundle took back may leave it
			// over-subscribed, as the node's own pool may be.
			if x.Name != core.CPU && b.avail.Get(x.Name) < 0 {
				panic(fmt.Sprintf("raylet: bundle %v available went negative: %v", b.key, b.avail))
			}
		}
	}
	if w.busy() {
		r.stats.LeasesStacked++
	}
	w.leases = append(w.leases, l)
	l.worker = w
	l.granted = r.env.Now()
	r.stats.LeasesGranted++
	r.stats.LeaseWait += r.env.Now().Sub(l.queued)
	l.reply(&proto.LeaseReply{Granted: true, Worker: w.addr, WorkerID: w.id, Node: r.node}, nil)
	return true
}

func (r *Raylet) finishRequest(l *leaseRequest, rep *proto.LeaseReply) {
	delete(r.leases, l.key)
	l.reply(rep, nil)
}

// fetchArgs makes the request's plasma arguments local before the lease
// is granted (Ray's dependency manager): it asks each argument's owner
// where the object is and pulls it. Inline arguments need nothing.
func (r *Raylet) fetchArgs(l *leaseRequest) {
	if l.fetching > 0 {
		return
	}
	for _, a := range l.req.Spec.Args {
		if a.Ref == nil || r.store.Contains(a.Ref.ID) {
			continue
		}
		l.fetching++
		ref := *a.Ref
		r.cli.Call(ref.Owner, &proto.GetObjectStatus{ID: ref.ID}, rpc.Options{}, func(m core.Message, err error) {
			done := func(err error) {
				l.fetching--
				if err != nil && l.failed == nil {
					l.failed = err
				}
				if l.fetching == 0 {
					l.fetched = true
					r.schedule()
				}
			}
			if err != nil {
				done(err)
				return
			}
			st := m.(*proto.ObjectStatusReply)
			if st.Error != nil || len(st.Locations) == 0 {
				done(nil) // inline or failed: nothing to pull
				return
			}
			r.pullObject(ref.ID, st.Locations, func(_ []byte, err error) { done(err) })
		})
	}
	if l.fetching == 0 {
		l.fetched = true
	}
}

// idleWorker returns the first idle registered worker by address: one
// of the node's own workers for binary "", else one launched for job from
// binary.
func (r *Raylet) idleWorker(binary string, job core.JobID) *workerInfo {
	return r.firstWorker(binary, job, func(w *workerInfo) bool { return !w.busy() })
}

// stackableWorker returns, when no worker is idle, the first worker by
// address whose leases are all blocked (see workerInfo.stackable): it
// runs another task body next to the waiting ones, so that a task tree
// deeper than the node's CPUs never waits forever for a worker.
func (r *Raylet) stackableWorker(binary string, job core.JobID) *workerInfo {
	return r.firstWorker(binary, job, func(w *workerInfo) bool { return w.busy() && w.stackable() })
}

// firstWorker returns the first worker by address of binary's pool (for
// job, if launched) that is in service and satisfies ok, or nil.
func (r *Raylet) firstWorker(binary string, job core.JobID, ok func(*workerInfo) bool) *workerInfo {
	var first *workerInfo
	for a, w := range r.workers { //gray:unordered the least address
		if !w.retired && w.binary == binary && (binary == "" || w.job == job) && ok(w) && (first == nil || a < first.addr) {
			first = w
		}
	}
	return first
}

// handleLeaseBlocked lends a lease's CPUs out while its task body waits
// in Get or Wait, and takes them back when it runs again (Ray's
// NotifyDirectCallTaskBlocked/Unblocked): taking them back may leave the
// node's CPUs over-subscribed until other leases return, as in Ray. Only
// the leased worker speaks for a lease; an actor's lease keeps its CPUs;
// a report older than the newest taken is ignored.
func (r *Raylet) handleLeaseBlocked(from core.Addr, m core.Message, reply func(core.Message, error)) {
	b := m.(*proto.LeaseBlocked)
	l := r.leases[leaseKey{owner: b.Owner, id: b.LeaseID}]
	reply(&proto.Ack{}, nil)
	if l == nil || l.worker == nil || l.worker.addr != from || l.req.Spec.ActorCreation || b.Seq <= l.blockSeq {
		return
	}
	l.blockSeq = b.Seq
	if b.Blocked == l.blocked {
		return
	}
	if b.Blocked {
		r.give(l, l.cpus())
		l.blocked = true
		l.worker.blockedLeases++
		r.stats.LeasesBlocked++
		r.schedule()
		return
	}
	r.take(l, l.cpus())
	l.blocked = false
	l.worker.blockedLeases--
}

// handleReturnLease frees a lease's worker and resources. It also cancels
// a request that is still queued (the owner moved on), answering it with
// Cancelled, and remembers the id so that a request arriving after its
// cancellation is not granted.
func (r *Raylet) handleReturnLease(from core.Addr, m core.Message, reply func(core.Message, error)) {
	ret := m.(*proto.ReturnLease)
	key := r.keyOf(from, ret.LeaseID)
	l := r.leases[key]
	if l == nil {
		r.rememberCancelled(key)
		reply(&proto.Ack{}, nil)
		return
	}
	if l.worker == nil {
		// Still queued: drop it from the queue.
		r.queue = slices.DeleteFunc(r.queue, func(q *leaseRequest) bool { return q == l })
		delete(r.leases, key)
		r.rememberCancelled(key)
		l.reply(&proto.LeaseReply{Cancelled: true}, nil)
		reply(&proto.Ack{}, nil)
		return
	}
	w := l.worker
	w.drop(l)
	r.releaseLease(l)
	if ret.Disconnect || (w.retired && !w.busy()) {
		r.retire(w) // it re-registers when it restarts
	}
	reply(&proto.Ack{}, nil)
	r.schedule()
}

// retire takes a live worker out of the pool until it registers again
// (workerAddrs keeps it, so that a fence still tells it). A worker that
// still holds other leases (stacked next to blocked ones) stays in the
// pool, where its leases are, but takes no new lease until it registers
// again or they end.
func (r *Raylet) retire(w *workerInfo) {
	if w.busy() {
		w.retired = true
		return
	}
	delete(r.workers, w.addr)
}

// handleLeaseStatus tells a lease holder whether its lease is still
// granted here (it is not once the worker died or the lease was freed).
func (r *Raylet) handleLeaseStatus(from core.Addr, m core.Message, reply func(core.Message, error)) {
	l := r.leases[r.keyOf(from, m.(*proto.LeaseStatus).LeaseID)]
	reply(&proto.LeaseStatusReply{Granted: l != nil && l.worker != nil, Node: r.node}, nil)
}

// cancelledMax bounds the remembered cancelled lease ids.
const cancelledMax = 10_000

func (r *Raylet) rememberCancelled(k leaseKey) {
	if r.cancelled == nil {
		r.cancelled = map[leaseKey]bool{}
	}
	if len(r.cancelled) >= cancelledMax {
		clear(r.cancelled) // forgetting only risks a leaked lease, never a wrong result
	}
	r.cancelled[k] = true
}

func (r *Raylet) releaseLease(l *leaseRequest) {
	delete(r.leases, l.key)
	r.settled = false // the caller runs a full pass
	if l.worker != nil {
		r.give(l, l.held())
		l.worker.idle = r.env.Now()
		l.worker = nil
	}
	if r.cfg.Resources.Sub(r.available).AnyNegative() {
		panic(fmt.Sprintf("raylet: available %v exceeds total %v", r.available, r.cfg.Resources))
	}
}

// askUnknownNode asks the GCS about node, which l's hard affinity names
// and this raylet's view lacks: a node that registered moments ago joins
// the view, and one the GCS does not know either fails l at once.
func (r *Raylet) askUnknownNode(l *leaseRequest, node core.NodeID) {
	r.gcs.GetNodes(func(rep gcs.Reply, err error) {
		if err != nil {
			return // the timer decides
		}
		for _, n := range rep.Nodes {
			r.applyNode(n)
		}
		if r.views[node] == nil && node != r.node {
			l.unknownGone = true
		}
		r.schedule()
	})
}

// unknownNodeWaitMax bounds how long a request with a hard affinity to a
// node this raylet has not heard of waits for the node to appear in its
// view (a node just registered) before it is infeasible.
const unknownNodeWaitMax = 30 * time.Second

// allowedHere reports whether spec's strategy lets it run on this node at
// all: not under a hard affinity to another node, nor with a label
// selector this node does not match. A request spilled here runs here
// only if so (it may have been meant for an earlier incarnation at this
// address).
func (r *Raylet) allowedHere(spec *proto.TaskSpec) bool {
	s := spec.Strategy
	if s.Kind == proto.StrategyNodeAffinity && !s.Soft && s.Node != r.node {
		return false
	}
	return s.Labels.Matches(r.cfg.Labels)
}

func strategyOf(s proto.Strategy) Strategy {
	switch s.Kind {
	case proto.StrategySpread:
		return Strategy{Kind: StrategySpread, Labels: s.Labels}
	case proto.StrategyNodeAffinity:
		return Strategy{Kind: StrategyNodeAffinity, Node: s.Node, Soft: s.Soft, Labels: s.Labels}
	}
	return Strategy{Kind: StrategyDefault, Labels: s.Labels}
}

// leaseCheckPeriod is how often the raylet asks the holders of granted
// leases whether they still hold them.
const leaseCheckPeriod = 2 * time.Second

// checkLeases asks every lease holder whether it still holds its lease and
// frees those it disowns: the holder died (a worker that owned nested
// tasks) and restarted, or it lost track of a grant. A holder that does not
// answer keeps its lease: it may only be unreachable, and a dead node's
// owner is a driver or worker whose own raylet reports it.
func (r *Raylet) checkLeases() {
	if r.fenced {
		return
	}
	r.env.AfterFunc(leaseCheckPeriod, r.checkLeases)
	r.reapIdle()
	r.abortPuts("")
	r.dropIdleReads()
	keys := make([]leaseKey, 0, len(r.leases))
	for k, l := range r.leases { //gray:unordered sorted below
		if l.worker != nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpLeaseKey)
	for _, k := range keys {
		l := r.leases[k]
		r.cli.Call(r.holderOf(k.owner), &proto.LeaseCheck{LeaseID: k.id}, rpc.Options{Timeout: leaseCheckPeriod}, func(m core.Message, err error) {
			if r.leases[k] != l || l.worker == nil {
				return
			}
			if err != nil {
				// Unreachable, or gone for good: a launched worker that
				// exited never answers again. Give up on it after a
				// while, or at once for the driver of a finished job (a
				// lease granted as it exited, which it never heard of).
				l.unanswered++
				switch {
				case r.finishedDrivers[k.owner]:
					r.freeFinishedLeases()
					return
				case l.unanswered < leaseCheckUnansweredMax:
					r.askJobs() // frees it if its holder's job finished
					return
				}
				r.env.Log().Warn("lease holder unreachable; freeing its lease", "holder", string(k.owner), "lease", k.id, "checks", l.unanswered)
			} else if l.unanswered = 0; m.(*proto.LeaseCheckReply).Held {
				return
			}
			r.disown(l)
		})
	}
}

// freeFinishedLeases frees the granted leases of finished jobs' drivers
// that did not answer their last check (see checkLeases).
func (r *Raylet) freeFinishedLeases() {
	keys := make([]leaseKey, 0, len(r.leases))
	for k, l := range r.leases { //gray:unordered sorted below
		if l.worker != nil && l.unanswered > 0 && r.finishedDrivers[k.owner] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpLeaseKey)
	for _, k := range keys {
		l := r.leases[k]
		r.env.Log().Warn("lease holder is the driver of a finished job and does not answer; freeing its lease", "holder", string(k.owner), "lease", k.id)
		r.stats.FinishedDriverLeases++
		r.disown(l)
	}
}

// keyOf is the key of lease id held by from. The leases of a replicated
// GCS are the GCS's, whichever replica asked for them: a new leader
// returns or asks about a lease its predecessor took.
func (r *Raylet) keyOf(from core.Addr, id uint64) leaseKey {
	key := leaseKey{owner: from, id: id}
	if len(r.gcsReplicas) < 2 || !slices.Contains(r.gcsReplicas, from) || r.leases[key] != nil {
		return key
	}
	for _, a := range r.gcsReplicas {
		if k := (leaseKey{owner: a, id: id}); r.leases[k] != nil {
			return k
		}
	}
	return key
}

// holderOf is the address that answers for leases requested from owner:
// owner itself, or, for a replica of a replicated GCS (whose leases the
// GCS's leader holds, whichever replica asked), the leader the raylet's
// GCS client follows.
func (r *Raylet) holderOf(owner core.Addr) core.Addr {
	if len(r.gcsReplicas) > 1 && slices.Contains(r.gcsReplicas, owner) {
		return r.gcs.Leader()
	}
	return owner
}

// sortedLeaseKeys returns the keys of the lease table in order.
func (r *Raylet) sortedLeaseKeys() []leaseKey {
	keys := make([]leaseKey, 0, len(r.leases))
	for k := range r.leases { //gray:unordered sorted below
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpLeaseKey)
	return keys
}

func cmpLeaseKey(a, b leaseKey) int {
	if a.owner != b.owner {
		return strings.Compare(string(a.owner), string(b.owner))
	}
	return cmp.Compare(a.id, b.id)
}

// leaseCheckUnansweredMax is how many lease checks in a row (one every
// leaseCheckPeriod) a holder may leave unanswered before its lease is
// freed: long enough to ride out a partition, short enough that the
// leases of a holder that is gone for good come back.
const leaseCheckUnansweredMax = 15

// disown frees a granted lease its holder no longer holds (or no longer
// answers for). The worker may still run the holder's task: it is not
// handed out until it registers again.
func (r *Raylet) disown(l *leaseRequest) {
	w := l.worker
	w.drop(l)
	r.releaseLease(l)
	r.rememberCancelled(l.key)
	r.retire(w)
	r.schedule()
}
