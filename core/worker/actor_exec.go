package worker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// actorInstance is the actor this worker hosts: its state bytes and, per
// caller, the calls waiting for their turn.
type actorInstance struct {
	id  core.ActorID
	inc int64
	// lease is the lease of the GCS's creation attempt this worker hosts
	// the incarnation for (the push's LeaseID): kills of other attempts
	// of the same incarnation pass it by.
	lease uint64
	class string
	ready bool // the constructor finished
	state []byte

	callers map[callerKey]*callerQueue
	// groups are the actor's concurrency groups by name: "" is the
	// default one, of max concurrency (1: one at a time, each caller's
	// calls in its order); the named ones are Ray's concurrency groups,
	// each with its own limit. groupNames lists the names, sorted.
	groups     map[string]*callGroup
	groupNames []string
	// sending counts finished calls whose replies may not have reached
	// their callers yet (see replied): no call starts while it is
	// above 0. acks holds the resumes of those that wait for the
	// caller's ActorReplyAck.
	sending int
	acks    map[replyKey]func()
	// unacked: created with UnackedReplies, the actor asks for no acks.
	unacked bool
}

// replyKey names one call of one caller, for its ActorReplyAck.
type replyKey struct {
	caller callerKey
	seq    uint64
}

// callGroup is one concurrency group of an actor: its admitted calls not
// started yet, in sequence order per caller and FIFO across callers, and
// how many run (at most limit).
type callGroup struct {
	runnable       []*actorTask
	running, limit int
}

// newGroups makes the groups of an actor created by spec.
func newGroups(spec *proto.TaskSpec) (map[string]*callGroup, []string) {
	groups := map[string]*callGroup{"": {limit: max(int(spec.MaxConcurrency), 1)}}
	names := []string{""}
	for _, g := range spec.ConcurrencyGroups {
		groups[g.Name] = &callGroup{limit: int(g.Limit)}
		names = append(names, g.Name)
	}
	return groups, names
}

type callerKey struct {
	addr core.Addr
	id   uint64
}

// callerQueue orders one caller's calls: next is the lowest sequence
// number not yet admitted to the runnable queue; buf holds calls that
// arrived early.
type callerQueue struct {
	next    uint64
	buf     map[uint64]*actorTask
	running map[uint64]*actorTask // admitted, not finished
	done    map[uint64]*proto.PushTaskReply
	// silent: an ack of this caller did not come within replyAckMax
	// (the caller may be gone); its replies still ask for acks, but are
	// not waited for until it acks one again.
	silent bool
}

type actorTask struct {
	spec    proto.TaskSpec
	replies []func(core.Message, error)
	// cancelled: its caller cancelled it before it started; it is
	// answered Cancelled in its turn without running. started: the
	// executor runs it (a cancel interrupts it).
	cancelled, started bool
	// badGroup: it names a concurrency group the actor lacks.
	badGroup bool
}

// Bounds of the per-caller tables of an actor.
const (
	// actorBufferMax bounds the calls of one caller buffered out of order.
	actorBufferMax = 10_000
	// actorDoneMax bounds the remembered replies of one caller, used to
	// answer a duplicate of a finished call.
	actorDoneMax = 1024
	// replyAckMax bounds how long an actor waits for the caller's ack of
	// a reply before it starts the next call: the caller may be gone.
	replyAckMax = 2 * time.Second
	// replySendMax bounds how long an actor waits for a finished call's
	// reply to leave its process (when it does not wait for an ack):
	// the connection to the caller may be slow or broken.
	replySendMax = 200 * time.Millisecond
)

// handleActorCreation runs the constructor of an actor on this (leased)
// worker, for the GCS's creation attempt holding lease.
func (w *Worker) handleActorCreation(spec *proto.TaskSpec, lease uint64, reply func(core.Message, error)) {
	if a := w.actor; a != nil {
		if a.id == spec.ActorID && a.inc == spec.ActorIncarnation && a.ready {
			// Another attempt to create the incarnation this worker
			// hosts (the GCS gave the earlier lease back and the raylet
			// leased this worker again): it is now this attempt's, and
			// the kills of the earlier one pass it by. (A retried push
			// of an attempt this process ran is answered from the rpc
			// server's reply cache and does not get here.)
			a.lease = lease
			reply(w.taskReply(nil, nil), nil)
			return
		}
		if !a.ready {
			reply(nil, rpc.Errorf(rpc.CodeUnavailable, "%s is constructing %v incarnation %d", w.self, a.id, a.inc))
			return
		}
		// The raylet leased this worker again, so the GCS gave the old
		// actor's lease back: that incarnation is abandoned.
		w.actor = nil
	}
	a := &actorInstance{id: spec.ActorID, inc: spec.ActorIncarnation, lease: lease, class: spec.Function, callers: map[callerKey]*callerQueue{},
		unacked: spec.UnackedReplies}
	a.groups, a.groupNames = newGroups(spec)
	w.actor = a
	w.resolveArgs(spec, func(args [][]byte, argErr *proto.TaskError) {
		if argErr != nil {
			w.actor = nil
			reply(w.taskReply(nil, argErr), nil)
			return
		}
		w.stats.Executed++
		w.cfg.Executor.CreateActor(spec, args, func(state []byte, terr *proto.TaskError) {
			if w.actor != a {
				return
			}
			if terr != nil {
				w.actor = nil
				if terr.Task == "" {
					terr.Task = spec.Describe()
				}
				reply(w.taskReply(nil, terr), nil)
				return
			}
			a.state, a.ready = state, true
			reply(w.taskReply(nil, nil), nil)
			w.runActor()
		})
	})
}

// handleActorCall admits a call in its caller's sequence order. A call
// meant for another actor or incarnation is refused (CodeUnavailable): the
// caller re-reads the actor's record and resends it where it belongs.
func (w *Worker) handleActorCall(spec *proto.TaskSpec, reply func(core.Message, error)) {
	a := w.actor
	switch {
	case a == nil || a.id != spec.ActorID || a.inc != spec.ActorIncarnation:
		// NotFound: this process never ran the call, but it does not
		// speak for a process before it at this address (see sendCall).
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "%s does not host %v incarnation %d", w.self, spec.ActorID, spec.ActorIncarnation))
		return
	case !a.ready:
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "%s hosts %v incarnation %d, not ready yet", w.self, spec.ActorID, spec.ActorIncarnation))
		return
	}
	k := callerKey{spec.Caller, spec.CallerID}
	q := a.callers[k]
	if q == nil {
		q = &callerQueue{next: 1, buf: map[uint64]*actorTask{}, running: map[uint64]*actorTask{}, done: map[uint64]*proto.PushTaskReply{}}
		a.callers[k] = q
	}
	seq := spec.CallerSeq
	switch {
	case q.done[seq] != nil:
		reply(q.done[seq], nil) // a duplicate of a finished call
		return
	case q.running[seq] != nil:
		q.running[seq].replies = append(q.running[seq].replies, reply)
		return
	case q.buf[seq] != nil:
		q.buf[seq].replies = append(q.buf[seq].replies, reply)
		return
	case seq < q.next:
		reply(nil, rpc.Errorf(rpc.CodeFailed, "call %d of %s already ran and its reply is forgotten", seq, spec.Caller))
		return
	case len(q.buf) >= actorBufferMax:
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "too many out-of-order calls from %s", spec.Caller))
		return
	}
	q.buf[seq] = &actorTask{spec: *spec, replies: []func(core.Message, error){reply},
		cancelled: w.cancelledRuns[runKey{owner: spec.Caller, task: spec.TaskID, attempt: spec.Attempt}]}
	if spec.SkipBelow > q.next {
		// The caller finished (or gave up on) everything below: do not
		// wait for it. Buffered calls below are stale copies.
		var stale []uint64
		for s := range q.buf { //gray:unordered sorted below
			if s < spec.SkipBelow {
				stale = append(stale, s)
			}
		}
		slices.Sort(stale)
		for _, s := range stale {
			t := q.buf[s]
			delete(q.buf, s)
			for _, r := range t.replies {
				r(nil, rpc.Errorf(rpc.CodeFailed, "call %d of %s was skipped by its caller", s, spec.Caller))
			}
		}
		q.next = spec.SkipBelow
	}
	for {
		t := q.buf[q.next]
		if t == nil {
			break
		}
		delete(q.buf, q.next)
		q.running[q.next] = t
		g := a.groups[t.spec.ConcurrencyGroup]
		if g == nil {
			// Named a group the actor lacks: answered with that error in
			// the default group's turn.
			t.badGroup = true
			g = a.groups[""]
		}
		g.runnable = append(g.runnable, t)
		q.next++
	}
	w.runActor()
}

// runActor starts runnable calls, in admission order, while fewer than
// the actor's max concurrency run (Ray's max_concurrency, default 1: one
// at a time). With more than one, calls start in each caller's order and
// may finish in any.
//
// Each concurrency group starts its calls apart from the others', while
// fewer than its limit run, so a group's waiting calls never hold up
// another group's.
func (w *Worker) runActor() {
	a := w.actor
	if a == nil || !a.ready || a.sending > 0 {
		return
	}
	for _, name := range a.groupNames {
		g := a.groups[name]
		for w.actor == a && g.running < g.limit && len(g.runnable) > 0 {
			t := g.runnable[0]
			g.runnable[0] = nil
			g.runnable = g.runnable[1:]
			g.running++
			w.startCall(a, g, t)
		}
	}
}

// startCall executes one admitted call of a.
func (w *Worker) startCall(a *actorInstance, g *callGroup, t *actorTask) {
	spec := &t.spec
	finish := func(rep *proto.PushTaskReply) {
		if w.actor != a {
			return
		}
		g.running--
		q := a.callers[callerKey{spec.Caller, spec.CallerID}]
		delete(q.running, spec.CallerSeq)
		q.done[spec.CallerSeq] = rep
		if len(q.done) > actorDoneMax {
			// Evict the oldest reply: one scan for the minimum (a sort
			// per call was most of an actor call's cost once full).
			oldest, first := uint64(0), true
			for s := range q.done { //gray:unordered the minimum does not depend on order
				if first || s < oldest {
					oldest, first = s, false
				}
			}
			delete(q.done, oldest)
		}
		// A call of a sequential group waits for its reply's ack; a
		// concurrent group's calls do not finish in order, so they
		// wait only for their replies to leave the process. A silent
		// caller is still asked for acks (its next one ends the
		// silence), but not waited for.
		ask := g.limit == 1 && !a.unacked && core.Holds(w.env, spec.Caller)
		rep.AckWanted = ask
		for _, r := range t.replies {
			r(rep, nil)
		}
		w.replied(a, q, replyKey{callerKey{spec.Caller, spec.CallerID}, spec.CallerSeq}, ask && !q.silent)
	}
	if t.cancelled {
		finish(w.taskReply(nil, proto.NewError(proto.KindCancelled, spec.Describe(), "cancelled by its caller before it started")))
		return
	}
	if t.badGroup {
		finish(w.taskReply(nil, proto.NewError(proto.KindTaskFailed, spec.Describe(), "actor %v has no concurrency group %q (it has %q)", a.id, spec.ConcurrencyGroup, a.groupNames[1:])))
		return
	}
	w.resolveArgs(spec, func(args [][]byte, argErr *proto.TaskError) {
		if argErr != nil {
			finish(w.taskReply(nil, argErr))
			return
		}
		if t.cancelled {
			finish(w.taskReply(nil, proto.NewError(proto.KindCancelled, spec.Describe(), "cancelled by its caller before it started")))
			return
		}
		t.started = true
		w.stats.ActorCallsExecuted++
		w.cfg.Executor.CallActor(spec, a.state, args, func(state []byte, returns [][]byte, terr *proto.TaskError) {
			returns, terr = w.streamReturns(spec, returns, terr)
			if terr == nil && len(returns) != int(spec.NumReturns) {
				terr = proto.NewError(proto.KindTaskFailed, spec.Describe(), "method returned %d values, want %d", len(returns), spec.NumReturns)
			}
			if terr != nil {
				if terr.Task == "" {
					terr.Task = spec.Describe()
				}
				finish(w.taskReply(nil, terr))
				return
			}
			a.state = state
			w.storeReturns(spec, returns, func(rets []proto.ReturnObject, err *proto.TaskError) {
				finish(w.taskReply(rets, err))
			})
		})
	})
}

// replied holds a's next calls until the reply of call k has reached its
// caller (where it could wait inside the process, core.Holds): until the caller's ActorReplyAck (acked; at most replyAckMax,
// after which the caller counts as silent), or else until the reply has
// left the process (core.SendBarrier; at most replySendMax). A call
// that kills the process (a crash, os.Exit, SIGKILL) then takes no
// finished call's reply with it (docs/api.md, "Actor crashes and
// replies"). Callers that send each call after the reply of the one
// before pay nothing: their ack arrives before their next call.
func (w *Worker) replied(a *actorInstance, q *callerQueue, k replyKey, acked bool) {
	a.sending++
	var bound core.Timer
	done := false
	resume := func() {
		if done {
			return
		}
		done = true
		if bound != nil {
			bound.Stop()
		}
		if acked {
			delete(a.acks, k)
		}
		a.sending--
		if w.actor == a {
			w.runActor()
		}
	}
	if acked {
		if a.acks == nil {
			a.acks = map[replyKey]func(){}
		}
		a.acks[k] = resume
		bound = w.env.AfterFunc(replyAckMax, func() {
			if !done {
				q.silent = true
				w.env.Log().Warn("worker: an actor's caller did not acknowledge a reply; not waiting for its acks until it does",
					"actor", a.id.String(), "caller", string(k.caller.addr), "call", k.seq, "waited", replyAckMax.String())
			}
			resume()
		})
		return
	}
	core.AfterSent(w.env, k.caller.addr, resume)
	if !done {
		bound = w.env.AfterFunc(replySendMax, resume)
	}
}

// onReplyAck resumes the hosted actor if it waits for m's ack, and
// counts the caller as listening again.
func (w *Worker) onReplyAck(m *proto.ActorReplyAck) {
	a := w.actor
	if a == nil || a.id != m.Actor {
		return
	}
	ck := callerKey{m.Caller, m.CallerID}
	if q := a.callers[ck]; q != nil {
		q.silent = false
	}
	if resume := a.acks[replyKey{ck, m.Seq}]; resume != nil {
		resume()
	}
}

// cancelActorCall applies a caller's CancelTask to a call of the hosted
// actor, if it names one, and reports whether it did: a call waiting for
// its turn is answered Cancelled in it without running; a running one
// sees its ctx cancelled (the executor's Interrupter), and with Recursive
// the tasks it submitted are cancelled. A cancel of a call that has not
// arrived is remembered for it.
func (w *Worker) cancelActorCall(from core.Addr, c *proto.CancelTask) bool {
	a := w.actor
	if a == nil || c.Task.Actor() != a.id {
		return false
	}
	var t *actorTask
	for k, q := range a.callers { //gray:unordered a task id is in one caller's queue at most
		if k.addr != from {
			continue
		}
		for _, m := range []map[uint64]*actorTask{q.buf, q.running} {
			for _, x := range m { //gray:unordered as above
				if x.spec.TaskID == c.Task {
					t = x
				}
			}
		}
	}
	switch {
	case t == nil:
		w.rememberCancelledRun(runKey{owner: from, task: c.Task, attempt: c.Attempt})
	case !t.started:
		t.cancelled = true
	default:
		if c.Recursive {
			w.cancelChildren(c.Task, CancelOptions{})
		}
		if in, ok := w.cfg.Executor.(Interrupter); ok {
			in.Interrupt(c.Task)
		}
	}
	return true
}

// handleActorPing answers the GCS's liveness probe of an incarnation.
func (w *Worker) handleActorPing(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	p := m.(*proto.ActorPing)
	if a := w.actor; a == nil || !a.ready || a.id != p.ActorID || a.inc != p.Incarnation {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "%s does not host %v incarnation %d", w.self, p.ActorID, p.Incarnation))
		return
	}
	reply(&proto.Ack{}, nil)
}

// onKillActor makes the worker exit when it hosts the actor's
// incarnation for the creation attempt the kill names (its lease; any
// when the kill names none): in every driver a worker exits by
// fail-stopping, and its raylet then frees the lease (the restarted
// process registers with a new WorkerID). A kill of an abandoned attempt
// can reach a process restarted at the abandoned worker's address that
// hosts a later attempt of the same incarnation; it must live on.
func (w *Worker) onKillActor(m *proto.KillActor) {
	if a := w.actor; a != nil && a.id == m.ActorID && a.inc == m.Incarnation && (m.LeaseID == 0 || m.LeaseID == a.lease) {
		panic(core.FailStop{Reason: fmt.Sprintf("actor %v killed (no_restart=%v)", m.ActorID, m.NoRestart)})
	}
}

// HostedActor returns the actor this worker hosts and its incarnation;
// ok is false when it hosts none. For workload checks.
func (w *Worker) HostedActor() (core.ActorID, int64, bool) {
	if w.actor == nil || !w.actor.ready {
		return core.ActorID{}, 0, false
	}
	return w.actor.id, w.actor.inc, true
}

func (a *actorInstance) describe() string {
	var b strings.Builder
	def := a.groups[""]
	fmt.Fprintf(&b, "actor %v inc=%d ready=%v running=%d/%d runnable=%d", a.id, a.inc, a.ready, def.running, def.limit, len(def.runnable))
	for _, name := range a.groupNames[1:] {
		g := a.groups[name]
		fmt.Fprintf(&b, " group %s running=%d/%d runnable=%d", name, g.running, g.limit, len(g.runnable))
	}
	keys := make([]callerKey, 0, len(a.callers))
	for k := range a.callers { //gray:unordered sorted below
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y callerKey) int {
		if x.addr != y.addr {
			return strings.Compare(string(x.addr), string(y.addr))
		}
		return cmp.Compare(x.id, y.id)
	})
	for _, k := range keys {
		q := a.callers[k]
		fmt.Fprintf(&b, " [caller %s next=%d buffered=%d running=%d]", k.addr, q.next, len(q.buf), len(q.running))
	}
	return b.String()
}
