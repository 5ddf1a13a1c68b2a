package worker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Streaming generators (Ray's num_returns="streaming" and its
// ObjectRefGenerator). A streaming task's body yields values one by one;
// each becomes an object of its own, owned by the task's owner, with the
// id of return GeneratorItemIndex(i). The worker running the body reports
// each item to the owner (ReportItem: inline, or after storing it in its
// node's plasma like a large return) and the body continues once the
// owner has it, so when the task's reply arrives every item the body
// yielded is known. The task's one return, which ends the stream, holds
// the item count.
//
// The owner keeps a genState per stream: the items received, in order,
// each held by the stream until the consumer takes it (StreamTake hands
// its reference over), and the task's outcome. A retried task yields its
// items again from the first: the owner keeps the first value of each
// index (items, like Ray's, are assumed to be the same on every attempt)
// and takes a plasma copy on another node as one more copy of it. A task
// that fails after some items delivers them, then its error in place of
// the next item, then the end. An item's copy is stored before its
// report arrives, so the owner tells a raylet that asks (OwnsObjects)
// that it owns the items a live stream has not received yet.
//
// Backpressure (Ray's _generator_backpressure_num_objects): with a bound
// B, the owner answers the report of item i only once the consumer has
// taken more than i-B items, or after itemHoldMax, and the worker reports
// it again while that is not so; the body's yield returns only then.
//
// Closing a stream (the consumer's Close, or its handle collected)
// releases the items it did not take and cancels the task if it still
// runs; later reports are answered Closed and their copies freed.
//
// Items have no lineage: a lost item (its only plasma copy on a node that
// died) fails with ObjectLost rather than being rebuilt.

// genState is the owner's side of one stream.
type genState struct {
	task         core.TaskID
	backpressure uint64
	// received items are in the table, held (local reference) by the
	// stream from consumed on.
	received, consumed uint64
	finished           bool             // the task returned or failed for good
	err                *proto.TaskError // why it failed
	errTaken           bool             // the consumer took the error item
	closed             bool
	waiters            []func()
	held               []*heldReport
}

// heldReport is a ReportItem answer held for backpressure.
type heldReport struct {
	index uint64
	reply func(core.Message, error)
}

// itemHoldMax bounds how long the owner holds a report's answer for
// backpressure: well within any OwnerTimeout, so that a held report is
// never taken for a dead owner.
const itemHoldMax = 2 * time.Second

// itemID is the object id of item i of task.
func itemID(task core.TaskID, i uint64) core.ObjectID {
	return core.ObjectIDForReturn(task, proto.GeneratorItemIndex(i))
}

// newStream registers the owner's state of a streaming task just
// submitted.
func (w *Worker) newStream(spec *proto.TaskSpec) {
	if !spec.Streaming {
		return
	}
	w.generators[spec.TaskID] = &genState{task: spec.TaskID, backpressure: uint64(spec.Backpressure)}
}

// streamEnded records the outcome of a streaming task: r is its reply
// (the item count) or err its failure.
func (w *Worker) streamEnded(spec *proto.TaskSpec, r *proto.PushTaskReply, err *proto.TaskError) {
	g := w.generators[spec.TaskID]
	if g == nil || g.finished {
		return
	}
	g.finished = true
	g.err = err
	if err == nil && r != nil {
		n := uint64(0)
		if len(r.Returns) == 1 && len(r.Returns[0].Inline) == 8 {
			n = binary.BigEndian.Uint64(r.Returns[0].Inline)
		}
		if n > g.received {
			// Every item was acknowledged before the body returned:
			// this would be a bug, and an incomplete stream must not
			// look complete.
			g.err = proto.NewError(proto.KindObjectLost, spec.Describe(), "the generator yielded %d items, its owner received %d", n, g.received)
			w.stats.StreamsIncomplete++
		}
	}
	w.answerHeld(g, true)
	w.wakeStream(g)
	if g.closed {
		delete(w.generators, g.task)
	}
}

func (w *Worker) wakeStream(g *genState) {
	ws := g.waiters
	g.waiters = nil
	for _, f := range ws {
		f()
	}
}

// answerHeld answers the held reports the consumer's progress allows, or
// all of them (the stream ended).
func (w *Worker) answerHeld(g *genState, all bool) {
	if len(g.held) == 0 {
		return
	}
	keep := g.held[:0]
	for _, h := range g.held {
		if all || !g.overBound(h.index) {
			h.reply(&proto.ReportItemReply{Consumed: g.consumed, Closed: g.closed || g.finished}, nil)
			continue
		}
		keep = append(keep, h)
	}
	clear(g.held[len(keep):])
	g.held = keep
}

// overBound reports whether item index is more than the backpressure
// bound ahead of the consumer.
func (g *genState) overBound(index uint64) bool {
	return g.backpressure > 0 && index >= g.consumed+g.backpressure
}

// handleReportItem takes an item of a stream this worker owns.
func (w *Worker) handleReportItem(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.ReportItem)
	g := w.generators[q.Task]
	if g == nil || g.closed || g.finished || (q.OwnerID != 0 && q.OwnerID != w.incarnation) {
		// Nobody will take it: free its copy.
		if q.Item.InPlasma {
			w.freeCopies(q.Item.ID, []proto.Location{q.Item.Location})
		}
		consumed := uint64(0)
		if g != nil {
			consumed = g.consumed
		}
		reply(&proto.ReportItemReply{Consumed: consumed, Closed: true}, nil)
		return
	}
	switch {
	case q.Index > g.received:
		if q.Item.InPlasma {
			w.freeCopies(q.Item.ID, []proto.Location{q.Item.Location})
		}
		reply(nil, rpc.Errorf(rpc.CodeFailedPrecondition, "item %d of %v before item %d", q.Index, q.Task, g.received))
		return
	case q.Index == g.received:
		e, err := w.refs.addOwned(q.Item.ID, nil)
		if err != nil {
			if q.Item.InPlasma {
				w.freeCopies(q.Item.ID, []proto.Location{q.Item.Location})
			}
			reply(nil, rpc.Errorf(rpc.CodeUnavailable, "%v", err))
			return
		}
		e.local++ // the stream's, until the consumer takes it
		if q.Item.InPlasma {
			loc := q.Item.Location
			w.refs.setReady(e, nil, q.Item.Size, &loc)
		} else {
			w.refs.setReady(e, nonNil(q.Item.Inline), 0, nil)
		}
		g.received++
		w.stats.StreamItems++
		w.wakeStream(g)
	default:
		// A copy from a retry, or a report sent again: the value is the
		// first's (a generator yields the same values on every attempt).
		// A plasma copy elsewhere is one more copy of the item — never
		// freed here: the first one's node may be gone (a raylet that
		// restarted at the same address, whose death the owner has not
		// heard of yet, and whose new incarnation holds this copy).
		w.stats.StreamItemsDuplicate++
		if q.Item.InPlasma {
			e := w.refs.get(q.Item.ID)
			loc := q.Item.Location
			switch {
			case e == nil:
				w.freeCopies(q.Item.ID, []proto.Location{loc}) // taken and freed already
			case e.state == objReady && e.inline == nil:
				e.locations[loc.Node] = loc.Raylet
			case e.state == objFailed && e.inline == nil:
				w.refs.setReady(e, nil, q.Item.Size, &loc) // it was lost: found again
			}
		}
	}
	if !g.overBound(q.Index) {
		reply(&proto.ReportItemReply{Consumed: g.consumed}, nil)
		return
	}
	h := &heldReport{index: q.Index, reply: reply}
	g.held = append(g.held, h)
	w.env.AfterFunc(itemHoldMax, func() {
		if i := slices.Index(g.held, h); i >= 0 {
			g.held = slices.Delete(g.held, i, i+1)
			h.reply(&proto.ReportItemReply{Consumed: g.consumed, Closed: g.closed || g.finished}, nil)
		}
	})
}

// StreamState is what StreamTake found.
type StreamState uint8

// Outcomes of StreamTake.
const (
	StreamPending StreamState = iota // no item yet: StreamWait
	StreamItem                       // the next item (or the task's error in its place)
	StreamEnd                        // every item (and the error) was taken, or the stream is closed
)

// StreamWait calls wake once the stream of task has something for
// StreamTake, or at once if it has (or is unknown). wake is called at
// most once; a consumer that gave up leaves a harmless call behind.
func (w *Worker) StreamWait(task core.TaskID, wake func()) {
	g := w.generators[task]
	if g == nil || g.closed || g.consumed < g.received || g.finished {
		wake()
		return
	}
	g.waiters = append(g.waiters, wake)
}

// StreamTake takes the next item of the stream of task, which this
// worker owns: its reference, whose one local reference passes to the
// caller (give it back with Release). After the last item a failed task
// gives its error as one more item, whose Get fails with it.
func (w *Worker) StreamTake(task core.TaskID) (proto.ObjectRef, StreamState) {
	g := w.generators[task]
	if g == nil || g.closed {
		return proto.ObjectRef{}, StreamEnd
	}
	if g.consumed < g.received {
		id := itemID(task, g.consumed)
		g.consumed++
		w.answerHeld(g, false)
		return proto.ObjectRef{ID: id, Owner: w.self, OwnerID: w.incarnation}, StreamItem
	}
	if !g.finished {
		return proto.ObjectRef{}, StreamPending
	}
	if g.err == nil || g.errTaken {
		return proto.ObjectRef{}, StreamEnd
	}
	g.errTaken = true
	id := itemID(task, g.received)
	e, err := w.refs.addOwned(id, nil)
	if err != nil {
		// No room for one more entry: the end is all that can be said.
		return proto.ObjectRef{}, StreamEnd
	}
	e.local++
	w.refs.fail(e, g.err)
	return proto.ObjectRef{ID: id, Owner: w.self, OwnerID: w.incarnation}, StreamItem
}

// StreamClose ends the consumer's interest in the stream of task: the
// items it did not take are released, and the task is cancelled if it
// still runs (its body's next yield fails). Closing twice, or an unknown
// stream, does nothing.
func (w *Worker) StreamClose(task core.TaskID) {
	g := w.generators[task]
	if g == nil || g.closed {
		return
	}
	g.closed = true
	for i := g.consumed; i < g.received; i++ {
		if e := w.refs.get(itemID(task, i)); e != nil && e.local > 0 {
			e.local--
			w.maybeFree(e)
		}
	}
	g.consumed = g.received
	w.answerHeld(g, true)
	w.wakeStream(g)
	if g.finished {
		delete(w.generators, task)
		return
	}
	w.stats.StreamsClosedEarly++
	// Cancelling ends the stream (streamEnded), which forgets it.
	if t := w.tasks[task]; t != nil {
		w.cancelOwned(t, CancelOptions{})
	} else if v, c := w.findCall(task); c != nil {
		w.cancelCall(v, c, CancelOptions{})
	}
}

// producer is the executing side of one attempt of a streaming task.
type producer struct {
	items uint64 // acknowledged by the owner
	busy  bool   // a report is in flight
	stale bool   // the attempt ended; late answers are dropped
}

// ErrStreamClosed is returned by ReportItem when the stream's consumer
// closed it, or the task was cancelled or ended: the body should return.
var ErrStreamClosed = errors.New("worker: the stream was closed by its consumer (or the task was cancelled)")

// ReportItem sends data, the next item of the streaming task spec that
// runs here, to its owner, and calls done once the owner has it and the
// backpressure bound lets the body go on. nested are the references the
// value holds: they are pinned until the owner frees the item. A body
// must not yield from two goroutines at once.
func (w *Worker) ReportItem(spec *proto.TaskSpec, data []byte, nested []proto.ObjectRef, done func(error)) {
	if !spec.Streaming {
		done(fmt.Errorf("worker: %s is not a streaming generator", spec.Describe()))
		return
	}
	k := runKey{owner: spec.Owner, task: spec.TaskID, attempt: spec.Attempt}
	p := w.producers[k]
	if p == nil {
		p = &producer{}
		w.producers[k] = p
	}
	switch {
	case p.stale:
		done(ErrStreamClosed)
		return
	case p.busy:
		done(fmt.Errorf("worker: %s yielded again before its previous yield returned (yield from one goroutine at a time)", spec.Describe()))
		return
	case p.items >= proto.GeneratorItemsMax:
		done(fmt.Errorf("worker: %s yielded more than %d items", spec.Describe(), proto.GeneratorItemsMax))
		return
	}
	if r := w.running[spec.TaskID]; r != nil && r.cancelled {
		done(ErrStreamClosed)
		return
	}
	if err := w.holdNested(nested); err != nil {
		done(err)
		return
	}
	release := func() { w.releaseNested(nested) }
	p.busy = true
	index := p.items
	item := proto.ReturnObject{ID: itemID(spec.TaskID, index)}
	send := func() {
		w.sendItem(spec, p, index, item, func(err error) {
			p.busy = false
			if err != nil {
				release()
				done(err)
				return
			}
			p.items++
			w.stats.StreamItemsReported++
			if len(nested) > 0 {
				// The report's pins stay, until the owner frees the item.
				w.keepUntilFreed(spec, item.ID, nested)
			}
			done(nil)
		})
	}
	if len(data) <= w.cfg.InlineLimit {
		item.Inline = nonNil(data)
		send()
		return
	}
	put := &proto.PutObject{ID: item.ID, Owner: spec.Owner, OwnerID: spec.OwnerID, OwnerNode: spec.OwnerNode, Job: spec.Job, Data: data}
	size := int64(len(data))
	w.putObject(w.cfg.Raylet, put, func(node core.NodeID, err error) {
		if err != nil {
			p.busy = false
			release()
			done(proto.NewError(proto.KindObjectStoreFull, spec.Describe(), "storing item %d (%d bytes): %v", index, size, err))
			return
		}
		item.InPlasma, item.Size = true, size
		item.Location = proto.Location{Node: node, Raylet: w.cfg.Raylet}
		send()
	})
}

// sendItem reports item index to spec's owner until the owner has it
// and the consumer is close enough behind.
func (w *Worker) sendItem(spec *proto.TaskSpec, p *producer, index uint64, item proto.ReturnObject, done func(error)) {
	m := &proto.ReportItem{Task: spec.TaskID, Attempt: spec.Attempt, Index: index, Item: item, OwnerID: spec.OwnerID}
	w.cli.Call(spec.Owner, m, rpc.Options{Timeout: w.cfg.OwnerTimeout}, func(rm core.Message, err error) {
		switch {
		case p.stale:
			done(ErrStreamClosed)
		case errors.Is(err, rpc.ErrTimeout):
			done(proto.NewError(proto.KindOwnerDied, spec.Describe(), "its owner %s did not take item %d for %v", spec.Owner, index, w.cfg.OwnerTimeout))
		case err != nil:
			done(fmt.Errorf("worker: reporting item %d of %s: %w", index, spec.Describe(), err))
		case rm.(*proto.ReportItemReply).Closed:
			done(ErrStreamClosed)
		case spec.Backpressure > 0 && index >= rm.(*proto.ReportItemReply).Consumed+uint64(spec.Backpressure):
			w.stats.StreamBackpressured++
			w.sendItem(spec, p, index, item, done) // held long enough: ask again
		default:
			done(nil)
		}
	})
}

// streamReturns turns what a streaming body's run gave back into the
// task's one return, the item count, and ends the attempt's producer.
// A body of another task is returned as it is.
func (w *Worker) streamReturns(spec *proto.TaskSpec, returns [][]byte, terr *proto.TaskError) ([][]byte, *proto.TaskError) {
	if !spec.Streaming {
		return returns, terr
	}
	k := runKey{owner: spec.Owner, task: spec.TaskID, attempt: spec.Attempt}
	var n uint64
	if p := w.producers[k]; p != nil {
		n = p.items
		p.stale = true
		delete(w.producers, k)
	}
	if terr != nil {
		return nil, terr
	}
	if len(returns) != 0 {
		return nil, proto.NewError(proto.KindTaskFailed, spec.Describe(), "a streaming generator returned %d values besides its items", len(returns))
	}
	return [][]byte{binary.BigEndian.AppendUint64(nil, n)}, nil
}

// pinUntilFreed pins refs, which the value of spec's object id holds,
// until the owner frees the object (it answers WaitObjectFreed; an owner
// silent for as long as a borrower may be is taken for dead). It fails if
// one of refs is not held here.
func (w *Worker) pinUntilFreed(spec *proto.TaskSpec, id core.ObjectID, refs []proto.ObjectRef) error {
	if err := w.holdNested(refs); err != nil {
		return err
	}
	w.keepUntilFreed(spec, id, refs)
	return nil
}

// keepUntilFreed keeps the pins holdNested took on refs until the owner
// frees object id (see pinUntilFreed).
func (w *Worker) keepUntilFreed(spec *proto.TaskSpec, id core.ObjectID, refs []proto.ObjectRef) {
	w.pinSeq++
	seq := w.pinSeq
	w.returnPins[seq] = slices.Clone(refs)
	w.stats.ReturnPins++
	w.cli.Call(spec.Owner, &proto.WaitObjectFreed{ID: id, OwnerID: spec.OwnerID}, rpc.Options{Timeout: borrowerWaitTimeout}, func(core.Message, error) {
		pinned, ok := w.returnPins[seq]
		if !ok {
			return
		}
		delete(w.returnPins, seq)
		w.releaseNested(pinned)
	})
}

// itemExpected reports whether id is an item a live stream this worker
// owns has not received yet (its copy may exist before its report
// arrives).
func (w *Worker) itemExpected(id core.ObjectID) bool {
	if id.IsPut() || id.Index() < proto.GeneratorItemIndex(0) {
		return false
	}
	g := w.generators[id.Task()]
	return g != nil && !g.closed && !g.finished && uint64(id.Index()-proto.GeneratorItemIndex(0)) >= g.received
}
