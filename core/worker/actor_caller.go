package worker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// actorView is what a caller knows of an actor (from the GCS, or from its
// own transitions when it is the owner) and the calls it has in flight.
type actorView struct {
	id             core.ActorID
	maxTaskRetries int

	version uint64 // of the last GCS record applied
	state   gcs.ActorState
	inc     int64
	addr    core.Addr
	node    core.NodeID // where the actor runs, for task events
	cause   string

	nextSeq uint64
	calls   map[uint64]*actorCall
	polling bool

	// Calls are numbered afresh for each incarnation (and worker address)
	// they are sent to: slotOf names the target, slots counts its sends.
	// A new incarnation so sees exactly the calls still pending, numbered
	// from 1 in call order; calls that finished in the old one (even
	// after older ones whose replies were lost) leave no gap.
	slotOf target
	slots  uint64
}

// target is where calls are sent: one incarnation at one address.
type target struct {
	inc  int64
	addr core.Addr
}

// actorCall is one call this worker made that has not finished.
type actorCall struct {
	seq     uint64
	spec    proto.TaskSpec
	retries int   // resends left after the actor died; -1 forever
	sentInc int64 // incarnation it was last sent to; -1 not sent (or refused)
	// maybeRan is the incarnation a copy of the call may have run in
	// although its last send was refused: the process that refused does
	// not host that incarnation, so a process before it at the address
	// may have hosted it and run the call (its reply lost) before dying;
	// -1 if none.
	maybeRan int64
	sentTo   target
	slot     uint64 // its number at sentTo
	callID   rpc.CallID
	attempt  int
	// since is when the call was made, or last sent (this process's
	// clock), for DescribeWaits.
	since time.Time
	// holdsHandle: the call holds a reference to the actor's handle
	// object (submitted) until it finishes, so that the actor outlives
	// its last handle until its calls are done (Ray runs the calls
	// submitted before the handles went out of scope).
	holdsHandle bool
}

// CallOptions are the options of CallActor.
type CallOptions struct {
	NumReturns int
	// ConcurrencyGroup is the actor's concurrency group the call runs in
	// ("" the default); a group the actor lacks fails the call.
	ConcurrencyGroup string
	// Streaming and Backpressure make a streaming generator call, as
	// TaskOptions's.
	Streaming    bool
	Backpressure int
}

// actorPollPeriod is how often a caller with calls in flight re-reads the
// actor's record, to learn of restarts and death.
const actorPollPeriod = time.Second

func (w *Worker) view(id core.ActorID, maxTaskRetries int) *actorView {
	v := w.views[id]
	if v == nil {
		v = &actorView{id: id, maxTaskRetries: maxTaskRetries, calls: map[uint64]*actorCall{}}
		w.views[id] = v
	}
	return v
}

// CallActor calls method on the actor with args and returns references
// to its returns, owned by this worker (each with one local reference).
// Calls from one caller run in the order they were made. A call in
// flight when the actor dies is resent to the restarted actor while the
// handle's MaxTaskRetries allows, and otherwise fails with ActorDied; calls
// to a DEAD actor fail with ActorDied.
func (w *Worker) CallActor(h ActorHandle, method string, args []proto.Arg, opts CallOptions) ([]proto.ObjectRef, error) {
	if w.cfg.GCS == nil {
		return nil, ErrNoGCS
	}
	if opts.NumReturns == 0 {
		opts.NumReturns = 1
	}
	if w.callerID == 0 {
		w.callerID = w.env.Rand().Uint64() | 1
	}
	v := w.view(h.ID, h.MaxTaskRetries)
	w.taskCounter++
	v.nextSeq++
	spec := proto.TaskSpec{
		TaskID:           core.NewActorTaskID(h.ID, w.parent, w.taskCounter),
		Job:              w.cfg.Job,
		Function:         method,
		Args:             args,
		NumReturns:       uint32(opts.NumReturns),
		Resources:        core.Resources{},
		Owner:            w.self,
		OwnerID:          w.incarnation,
		OwnerNode:        w.ownerNode(),
		ActorID:          h.ID,
		ActorCall:        true,
		ConcurrencyGroup: opts.ConcurrencyGroup,
		Streaming:        opts.Streaming,
		Backpressure:     uint32(max(opts.Backpressure, 0)),
		CallerSeq:        v.nextSeq,
		Caller:           w.self,
		CallerID:         w.callerID,
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("worker: call %s: %w", method, err)
	}
	if len(w.refs.objs)+int(spec.NumReturns)+w.missingRefs(argRefs(args)) > w.refs.max {
		return nil, errTooManyObjects
	}
	refs := make([]proto.ObjectRef, 0, spec.NumReturns)
	for _, id := range spec.ReturnIDs() {
		e, err := w.refs.addOwned(id, nil)
		if err != nil {
			panic(fmt.Sprintf("worker: add return %v after checking for room: %v", id, err))
		}
		e.local++
		refs = append(refs, proto.ObjectRef{ID: id, Owner: w.self, OwnerID: w.incarnation})
	}
	for r := range argRefs(args) {
		w.holdArg(r)
	}
	w.stats.Submitted++
	w.record(&pendingTask{spec: spec}, gcs.TaskPendingNode, nil)
	c := &actorCall{seq: spec.CallerSeq, spec: spec, retries: h.MaxTaskRetries, sentInc: -1, maybeRan: -1, since: w.env.Now()}
	if e := w.refs.get(core.ActorHandleObjectID(h.ID)); e != nil {
		e.submitted++
		c.holdsHandle = true
	}
	v.calls[c.seq] = c
	w.newStream(&spec)
	switch {
	case v.state == gcs.ActorDead:
		w.finishCall(v, c, nil, actorDead(v, spec.Describe()))
	case v.state == gcs.ActorAlive:
		w.sendCall(v, c)
	}
	w.pollActor(v)
	return refs, nil
}

// lowestSlot is the lowest slot of the calls in flight to the current
// target (including ones being sent now).
func (v *actorView) lowestSlot() uint64 {
	low := v.slots
	for _, c := range v.calls { //gray:unordered computes a minimum
		if c.sentInc >= 0 && c.sentTo == v.slotOf {
			low = min(low, c.slot)
		}
	}
	return low
}

func (v *actorView) sortedSeqs() []uint64 {
	seqs := make([]uint64, 0, len(v.calls))
	for seq := range v.calls { //gray:unordered sorted below
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs
}

func (w *Worker) sendCall(v *actorView, c *actorCall) {
	c.attempt++
	attempt := c.attempt
	if t := (target{v.inc, v.addr}); v.slotOf != t {
		v.slotOf, v.slots = t, 0
	}
	v.slots++
	c.sentInc, c.sentTo, c.slot = v.inc, v.slotOf, v.slots
	c.since = w.env.Now()
	spec := c.spec
	spec.ActorIncarnation = v.inc
	spec.CallerSeq = c.slot
	spec.SkipBelow = v.lowestSlot()
	c.spec = spec
	w.record(&pendingTask{spec: spec, node: v.node, worker: v.addr}, gcs.TaskRunning, nil)
	to := v.addr
	c.callID = w.cli.Call(to, &proto.PushTask{Spec: spec}, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
		if r, ok := m.(*proto.PushTaskReply); ok && err == nil && r.AckWanted {
			// The actor holds its next call until this arrives (even
			// for an attempt this caller no longer waits for).
			w.env.Send(to, &proto.ActorReplyAck{Actor: v.id, Caller: spec.Caller, CallerID: spec.CallerID, Seq: spec.CallerSeq})
		}
		if v.calls[c.seq] != c || c.attempt != attempt {
			return
		}
		if err != nil {
			if errors.Is(err, rpc.ErrCancelled) {
				return
			}
			// Refused: learn where the actor is now. A host of the
			// incarnation that is not ready yet (Unavailable) did not
			// run the call, and no other process hosts that
			// incarnation. A process that does not host it (NotFound)
			// speaks only for itself: a process before it at this
			// address may have hosted the incarnation and run the call
			// (its reply lost) before dying.
			if rpc.CodeOf(err) != rpc.CodeUnavailable && c.maybeRan < 0 {
				c.maybeRan = c.sentInc
			}
			c.sentInc = -1
			w.env.AfterFunc(100*time.Millisecond, func() { w.refreshActor(v) })
			return
		}
		r := m.(*proto.PushTaskReply)
		w.finishCall(v, c, r, r.Error)
	})
}

// finishCall records a call's returns or its error.
func (w *Worker) finishCall(v *actorView, c *actorCall, r *proto.PushTaskReply, terr *proto.TaskError) {
	delete(v.calls, c.seq)
	if c.holdsHandle {
		c.holdsHandle = false
		if e := w.refs.get(core.ActorHandleObjectID(v.id)); e != nil { // nil: FreeOwned dropped it
			e.submitted--
			defer w.maybeFree(e)
		}
	}
	if terr != nil {
		w.stats.Failed++
		w.record(&pendingTask{spec: c.spec}, gcs.TaskFailed, terr)
		for _, id := range c.spec.ReturnIDs() {
			if e := w.refs.get(id); e != nil {
				w.refs.fail(e, terr)
			}
		}
		w.streamEnded(&c.spec, nil, terr)
	} else {
		w.finishTask(&pendingTask{spec: c.spec}, r)
		return // finishTask released the arguments
	}
	w.releaseArgs(&c.spec)
}

// refreshActor re-reads the actor's record now.
func (w *Worker) refreshActor(v *actorView) {
	w.cfg.GCS.GetActor(v.id, func(rep gcs.Reply, err error) {
		if err == nil && len(rep.Actors) > 0 {
			w.applyActorInfo(rep.Actors[0])
		}
	})
}

// pollActor re-reads the actor's record every actorPollPeriod while calls
// are in flight.
func (w *Worker) pollActor(v *actorView) {
	if v.polling || len(v.calls) == 0 {
		return
	}
	v.polling = true
	w.env.AfterFunc(actorPollPeriod, func() {
		w.cfg.GCS.GetActor(v.id, func(rep gcs.Reply, err error) {
			v.polling = false
			if err == nil && len(rep.Actors) > 0 {
				w.applyActorInfo(rep.Actors[0])
			}
			w.pollActor(v)
		})
	})
	if v.state == 0 {
		w.refreshActor(v)
	}
}

// applyActorInfo updates the view of an actor from a GCS record and moves
// its calls: to a new incarnation (resent while retries allow), or failed
// once the actor is dead.
func (w *Worker) applyActorInfo(info gcs.ActorInfo) {
	v := w.views[info.ID]
	if v == nil {
		v = w.view(info.ID, 0)
	}
	if info.Version < v.version {
		return
	}
	// An equal version still moves calls: a refused call waits for the
	// next read of the record to be sent again.
	v.version, v.state, v.inc, v.addr, v.cause = info.Version, info.State, info.NumRestarts, info.Addr, info.DeathCause
	v.node = info.Node
	switch info.State {
	case gcs.ActorDead:
		for _, seq := range v.sortedSeqs() {
			c := v.calls[seq]
			if c.sentInc >= 0 {
				w.cli.Cancel(c.callID)
			}
			w.finishCall(v, c, nil, actorDead(v, c.spec.Describe()))
		}
	case gcs.ActorAlive:
		var resend []*actorCall
		for _, seq := range v.sortedSeqs() {
			c := v.calls[seq]
			switch {
			case c.sentInc >= 0 && c.sentTo == (target{v.inc, v.addr}):
				// In flight to this incarnation already.
			case c.sentInc < 0 && (c.maybeRan < 0 || c.maybeRan == v.inc):
				// Not sent, or refused by this incarnation's host: no
				// process of this incarnation ran it.
				resend = append(resend, c)
			case c.retries != 0:
				// Sent to an older incarnation (or an abandoned worker of
				// this one), which may have run it:
				// Ray's at-least-once retry of actor tasks.
				if c.sentInc >= 0 {
					w.cli.Cancel(c.callID)
				}
				c.maybeRan = -1
				if c.retries > 0 {
					c.retries--
				}
				w.stats.ActorCallsRetried++
				resend = append(resend, c)
			default:
				if c.sentInc >= 0 {
					w.cli.Cancel(c.callID)
				}
				w.finishCall(v, c, nil, proto.NewError(proto.KindActorDied, c.spec.Describe(),
					"actor %v restarted (incarnation %d) while the call was in flight and max_task_retries is exhausted", v.id, v.inc))
			}
		}
		for _, c := range resend {
			w.sendCall(v, c)
		}
	}
}

// PendingActorCalls returns the number of actor calls this worker made that
// have not finished.
func (w *Worker) PendingActorCalls() int {
	n := 0
	for _, v := range w.views { //gray:unordered a sum
		n += len(v.calls)
	}
	return n
}

func (w *Worker) sortedViewIDs() []core.ActorID {
	ids := make([]core.ActorID, 0, len(w.views))
	for id := range w.views { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b core.ActorID) int { return compareBytes(a[:], b[:]) })
	return ids
}

// actorDead is the error of a call (task) to the dead actor v: ActorDied
// with its death cause, and Infeasible too when no node could host it.
func actorDead(v *actorView, task string) *proto.TaskError {
	e := proto.NewError(proto.KindActorDied, task, "actor %v is dead: %s", v.id, v.cause)
	if strings.HasPrefix(v.cause, gcs.InfeasibleCause) {
		e.Cause = proto.KindInfeasible
	}
	return e
}
