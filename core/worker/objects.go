package worker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Put stores data as a new object owned by this worker and returns a
// reference carrying one local reference. Small values stay in the owner's
// memory; large ones go to the local plasma store. A put the store refuses
// fails with an ObjectStoreFull *proto.TaskError and holds no reference.
func (w *Worker) Put(data []byte, done func(proto.ObjectRef, error)) {
	w.PutNested(data, nil, done)
}

// PutNested is Put of a value that holds the references nested: the new
// object pins each of them (they must be held here) while it is in
// scope, so that whoever gets the value can borrow them.
func (w *Worker) PutNested(data []byte, nested []proto.ObjectRef, done func(proto.ObjectRef, error)) {
	w.put(data, len(data), nil, nested, done)
}

// PutFill is Put of an encoded value of size bytes that fill writes into
// the buffer it is given (of exactly size bytes), on the process's loop
// before done: into the local store's shared memory when the put goes
// there (shared.go), saving the copy of an encoded buffer. The value
// must hold no Refs.
func (w *Worker) PutFill(size int, fill func([]byte), done func(proto.ObjectRef, error)) {
	if size <= w.cfg.InlineLimit || !w.sharedFor(w.cfg.Raylet, size) {
		data := make([]byte, size)
		fill(data)
		w.put(data, size, nil, nil, done)
		return
	}
	w.put(nil, size, fill, nil, done)
}

// put is PutNested of data, or of size bytes that fill writes (PutFill).
func (w *Worker) put(data []byte, size int, fill func([]byte), nested []proto.ObjectRef, done func(proto.ObjectRef, error)) {
	if len(w.refs.objs) >= w.refs.max {
		done(proto.ObjectRef{}, errTooManyObjects)
		return
	}
	if err := w.holdNested(nested); err != nil {
		done(proto.ObjectRef{}, err)
		return
	}
	w.putCounter++
	id := core.ObjectIDForPut(w.parent, w.putCounter)
	e, err := w.refs.addOwned(id, nil)
	if err != nil {
		panic(fmt.Sprintf("worker: put %v after checking for room: %v", id, err))
	}
	e.local++
	e.contains = slices.Clone(nested)
	ref := proto.ObjectRef{ID: id, Owner: w.self, OwnerID: w.incarnation}
	if fill == nil && len(data) <= w.cfg.InlineLimit {
		w.refs.setReady(e, nonNil(data), 0, nil)
		done(ref, nil)
		return
	}
	// The local raylet is on this host: retry until it answers (a new
	// incarnation of it answers too; puts are idempotent).
	// The copy is where the put went: a driver that moves to another
	// raylet meanwhile (SetRaylet) must not name the new one.
	raylet := w.cfg.Raylet
	put := &proto.PutObject{ID: id, Owner: w.self, OwnerID: w.incarnation, OwnerNode: w.ownerNode(), Job: w.cfg.Job, Data: data}
	w.putObjectFill(raylet, put, size, fill, func(node core.NodeID, err error) {
		if err != nil {
			// The raylet refused it (the store is full of held data,
			// or it is too large): nothing was stored, and the caller
			// gets no reference, so the entry goes now rather than
			// never, with a failure that names its kind.
			terr := proto.NewError(proto.KindObjectStoreFull, "", "put of %d bytes: %v", size, err)
			w.refs.fail(e, terr)
			e.local--
			w.maybeFree(e)
			done(proto.ObjectRef{}, terr)
			return
		}
		w.refs.setReady(e, nil, int64(size), &proto.Location{Node: node, Raylet: raylet})
		done(ref, nil)
	})
}

// AddLocalRef records another reference held by user code (for example a
// reference received inside a value). A reference to another owner's
// object makes this worker a borrower.
func (w *Worker) AddLocalRef(ref proto.ObjectRef) error {
	e := w.refs.get(ref.ID)
	if e == nil {
		if ref.Owner == w.self {
			return errors.New("worker: reference to an owned object that no longer exists")
		}
		var err error
		if e, err = w.refs.addBorrowed(ref.ID, ref.Owner); err != nil {
			return err
		}
	}
	e.local++
	return nil
}

// Release drops one local reference. When the last reference of any kind
// goes, the owner frees every copy; a borrower tells the owner. Releasing
// a reference this worker does not hold (twice, or never added) is a bug
// of the caller and panics, except after FreeOwned, which dropped every
// reference at once.
func (w *Worker) Release(ref proto.ObjectRef) {
	e := w.refs.get(ref.ID)
	if e == nil || e.local == 0 {
		if w.exited {
			return
		}
		panic(fmt.Sprintf("worker: release of %v, of which %s holds no local reference (released twice, or never added)", ref.ID, w.self))
	}
	e.local--
	w.maybeFree(e)
}

func (w *Worker) maybeFree(e *objEntry) {
	locs := e.sortedLocations()
	owner := e.owner
	if !w.refs.release(e) {
		return
	}
	if owner != "" {
		// A borrower: tell the owner, if it asked.
		for _, rw := range e.removalWaits {
			w.refRemoved(rw, e.id)
		}
		return
	}
	w.freeCopies(e.id, locs)
	answerFreed(e)
	if id, ok := e.id.HandleActor(); ok {
		w.handlesGone(id)
	}
	if e.contains != nil {
		contains := e.contains
		e.contains = nil
		w.releaseNested(contains)
	}
	if e.lineage != nil {
		// Unpin the lineage this return held (see submit).
		for r := range argRefs(e.lineage.Args) {
			if r.Owner != w.self {
				continue
			}
			ae := w.refs.get(r.ID)
			if ae == nil {
				continue // FreeOwned dropped it
			}
			if ae.lineageRefs <= 0 {
				// The return's submission pinned each owned argument,
				// which stays in scope while the pin lasts.
				panic(fmt.Sprintf("worker: freeing %v unpins argument %v, which has no lineage pins", e.id, ae.id))
			}
			ae.lineageRefs--
			w.maybeFree(ae)
		}
	}
}

// borrowerWaitTimeout bounds how long an owner waits for a borrower that
// does not answer at all before it stops counting it (it must be dead: a
// new incarnation at its address answers at once).
const borrowerWaitTimeout = 10 * time.Minute

// addBorrowers records that the process at borrower still references
// the objects ids, which this worker owns (others are skipped), and asks
// it to say when it stops (Ray's borrower protocol: one WaitRefRemoved
// per chunk of ids): each stays in scope until then.
func (w *Worker) addBorrowers(ids []core.ObjectID, borrower core.Addr, at borrowerAt) {
	var wait *borrowWait
	for _, id := range ids {
		e := w.refs.get(id)
		if e == nil || e.owner != "" {
			continue
		}
		if wait == nil || len(wait.ids) == proto.AddBorrowerRefsMax {
			w.sendBorrowWait(wait)
			w.borrowWaitSeq++
			wait = &borrowWait{seq: w.borrowWaitSeq, borrower: borrower, ids: map[core.ObjectID]struct{}{}}
		}
		if _, dup := wait.ids[id]; dup {
			continue
		}
		e.borrowers[borrower]++
		w.stats.BorrowersAdded++
		wait.gen = w.noteBorrower(borrower, id, at)
		wait.ids[id] = struct{}{}
		wait.order = append(wait.order, id)
	}
	w.sendBorrowWait(wait)
}

// borrowWait is one WaitRefRemoved outstanding to a borrower.
type borrowWait struct {
	seq      uint64
	borrower core.Addr
	gen      uint64 // the borrower's generation when it was sent
	// ids are the objects it still counts (each once in its entry's
	// borrowers), order all it named, in order.
	ids   map[core.ObjectID]struct{}
	order []core.ObjectID
}

// sendBorrowWait sends wait (nil: none) and ends it when it is answered
// (or fails: the borrower is dead, or silent for borrowerWaitTimeout).
func (w *Worker) sendBorrowWait(wait *borrowWait) {
	if wait == nil || len(wait.ids) == 0 {
		return
	}
	if w.borrowWaits == nil {
		w.borrowWaits = map[uint64]*borrowWait{}
	}
	w.borrowWaits[wait.seq] = wait
	w.cli.Call(wait.borrower, &proto.WaitRefRemoved{IDs: wait.order, Wait: wait.seq}, rpc.Options{Timeout: borrowerWaitTimeout}, func(core.Message, error) {
		if w.borrowWaits[wait.seq] != wait {
			return // every object was named by RefsRemoved
		}
		delete(w.borrowWaits, wait.seq)
		w.borrowsEnded(wait, wait.order)
	})
}

// onRefsRemoved ends the borrows of the objects a borrower let go of
// while it holds others of the same wait.
func (w *Worker) onRefsRemoved(from core.Addr, m *proto.RefsRemoved) {
	wait := w.borrowWaits[m.Wait]
	if wait == nil || wait.borrower != from {
		return // answered, dropped, or not ours
	}
	n := len(wait.ids)
	if w.borrowsEnded(wait, m.IDs) {
		w.stats.BorrowsEndedEarly += int64(n - len(wait.ids))
	}
	if len(wait.ids) == 0 {
		delete(w.borrowWaits, wait.seq)
	}
}

// borrowsEnded ends wait's borrows of ids (those it still counts): the
// borrower holds none of them any more. It reports false, and counts
// nothing more for wait, if the borrower was dropped as dead since.
func (w *Worker) borrowsEnded(wait *borrowWait, ids []core.ObjectID) bool {
	if w.borrowerGenOf(wait.borrower) != wait.gen {
		clear(wait.ids) // dropBorrower uncounted them
		return false
	}
	for _, id := range ids {
		if _, ok := wait.ids[id]; !ok {
			continue
		}
		delete(wait.ids, id)
		if e := w.refs.get(id); e != nil && e.owner == "" && e.borrowers[wait.borrower] > 0 {
			if e.borrowers[wait.borrower]--; e.borrowers[wait.borrower] == 0 {
				delete(e.borrowers, wait.borrower)
				w.unnoteBorrower(wait.borrower, id)
			}
			w.maybeFree(e)
		}
	}
	return true
}

// removalWait is an owner's WaitRefRemoved that this worker, its
// borrower, answers once it holds none of the objects the wait names.
type removalWait struct {
	owner core.Addr
	wait  uint64
	// left counts the objects still held; gone lists the ones let go of
	// since the last RefsRemoved.
	left  int
	gone  []core.ObjectID
	reply func(core.Message, error)
}

// refsRemovedDelay is how long a borrower gathers the objects it let go
// of before it names them to their owners (RefsRemoved): a program that
// drops many references at once sends one message, not one each.
const refsRemovedDelay = time.Millisecond

// handleWaitRefRemoved answers an owner once this worker holds none of
// the objects it names (at once if it holds none); the ones it lets go
// of before are named in RefsRemoved.
func (w *Worker) handleWaitRefRemoved(from core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.WaitRefRemoved)
	rw := &removalWait{owner: from, wait: q.Wait, reply: reply}
	for _, id := range q.IDs {
		e := w.refs.get(id)
		if e == nil || e.owner != from || !e.inScope() {
			rw.gone = append(rw.gone, id)
			continue
		}
		if slices.Contains(e.removalWaits, rw) {
			continue // named twice
		}
		e.removalWaits = append(e.removalWaits, rw)
		rw.left++
	}
	if rw.left == 0 {
		reply(&proto.Ack{}, nil)
		return
	}
	if len(rw.gone) > 0 {
		w.removalsDue = append(w.removalsDue, rw)
		w.armRemovals()
	}
}

// refRemoved records that this worker let go of id, an object of rw.
func (w *Worker) refRemoved(rw *removalWait, id core.ObjectID) {
	rw.left--
	if rw.left == 0 {
		rw.gone = nil // the answer names them all
		rw.reply(&proto.Ack{}, nil)
		return
	}
	if len(rw.gone) == 0 {
		w.removalsDue = append(w.removalsDue, rw)
	}
	rw.gone = append(rw.gone, id)
	w.armRemovals()
}

// armRemovals sends the due RefsRemoved after refsRemovedDelay.
func (w *Worker) armRemovals() {
	if w.removalsArmed {
		return
	}
	w.removalsArmed = true
	w.env.AfterFunc(refsRemovedDelay, func() {
		w.removalsArmed = false
		due := w.removalsDue
		w.removalsDue = nil
		for _, rw := range due {
			if rw.left > 0 && len(rw.gone) > 0 {
				w.env.Send(rw.owner, &proto.RefsRemoved{Wait: rw.wait, IDs: rw.gone})
				w.stats.RefsRemovedSent++
			}
			rw.gone = nil
		}
	})
}

// heldArgs lists spec's reference arguments this worker still holds (for
// example passed on to tasks it submitted), sorted, for PushTaskReply.
func (w *Worker) heldArgs(spec *proto.TaskSpec) []core.ObjectID {
	var ids []core.ObjectID
	for _, a := range spec.Args {
		if a.Ref == nil || a.Ref.Owner == w.self {
			continue
		}
		if e := w.refs.get(a.Ref.ID); e != nil && e.owner != "" && e.inScope() && !slices.Contains(ids, e.id) {
			ids = append(ids, e.id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

func (w *Worker) freeCopies(id core.ObjectID, locs []proto.Location) {
	for _, l := range locs {
		w.cli.Call(l.Raylet, &proto.FreeObjects{IDs: []core.ObjectID{id}}, rpc.Options{}, func(core.Message, error) {})
	}
}

// Get resolves ref and calls done with its value or its error: the task's
// error for a failed task, ObjectLost, OwnerDied, … It never blocks; done
// runs when the value is available. The value is done's own: nobody else
// holds the slice (an inline value is copied out of the table; a fetched
// or reported one was decoded for this Get).
func (w *Worker) Get(ref proto.ObjectRef, done func([]byte, error)) {
	if e := w.refs.get(ref.ID); e != nil && e.owner == "" && e.state == objReady && e.inline != nil {
		done(append([]byte{}, e.inline...), nil) // at once: nothing to wait for
		return
	}
	w.block(ref, false)
	w.get(ref, func(data []byte, err error) {
		w.unblock(ref.ID, false)
		done(data, err)
	})
}

// get is Get without the record of what user code waits for.
func (w *Worker) get(ref proto.ObjectRef, done func([]byte, error)) {
	e := w.refs.get(ref.ID)
	if e == nil || e.owner != "" {
		w.getBorrowed(ref, done)
		return
	}
	switch e.state {
	case objPending:
		e.waiters = append(e.waiters, func() { w.get(ref, done) })
	case objFailed:
		done(nil, e.err)
	case objReady:
		if e.inline != nil {
			// The caller's own copy: the table keeps this one.
			done(append([]byte{}, e.inline...), nil)
			return
		}
		w.fetchOwned(ref, 0, done)
	}
}

// putFetchAttempts bounds how often an owner retries reading a Put object
// whose copy could not be read, before it reports the object lost.
const putFetchAttempts = 30

// fetchOwned reads an owned plasma object. When no copy can be read, a
// task's return is rebuilt from lineage (re-running a task is always
// safe); a Put object, which has no lineage, is read again for a while —
// its node may only be unreachable — and reported lost once its node is
// known dead or the attempts run out.
func (w *Worker) fetchOwned(ref proto.ObjectRef, attempt int, done func([]byte, error)) {
	e := w.refs.get(ref.ID)
	if e == nil || e.state != objReady || e.inline != nil {
		w.get(ref, done)
		return
	}
	w.fetch(ref, e.sortedLocations(), func(data []byte, err error) {
		if err == nil {
			done(data, nil)
			return
		}
		e := w.refs.get(ref.ID)
		switch {
		case e == nil:
			done(nil, err)
		case e.state != objReady || e.inline != nil:
			w.get(ref, done) // rebuilt or failed meanwhile
		case e.lineage != nil:
			clear(e.locations)
			w.reconstruct(e)
			w.get(ref, done)
		case len(e.locations) == 0 || attempt+1 >= putFetchAttempts:
			clear(e.locations)
			w.reconstruct(e) // fails it: a Put object has no lineage
			w.get(ref, done)
		default:
			w.env.AfterFunc(time.Second, func() { w.fetchOwned(ref, attempt+1, done) })
		}
	})
}

// getBorrowed asks the owner for the object's status, then fetches it. A
// fetch that fails is retried a few times from a fresh status, since the
// owner may be rebuilding the object.
func (w *Worker) getBorrowed(ref proto.ObjectRef, done func([]byte, error)) {
	w.getBorrowedAttempt(ref, 0, nil, done)
}

// borrowedFetchAttempts bounds how often a borrower asks the owner again
// after failing to fetch the copies it named.
const borrowedFetchAttempts = 10

func (w *Worker) getBorrowedAttempt(ref proto.ObjectRef, attempt int, failed []proto.Location, done func([]byte, error)) {
	w.cli.Call(ref.Owner, &proto.GetObjectStatus{ID: ref.ID, Failed: failed, OwnerID: ref.OwnerID}, rpc.Options{Timeout: w.cfg.OwnerTimeout}, func(m core.Message, err error) {
		if err != nil {
			if errors.Is(err, rpc.ErrTimeout) {
				w.stats.OwnerDied++
				done(nil, proto.NewError(proto.KindOwnerDied, "", "owner %s of %v did not answer within %v", ref.Owner, ref.ID, w.cfg.OwnerTimeout))
				return
			}
			done(nil, proto.NewError(proto.KindObjectLost, "", "owner %s of %v: %v", ref.Owner, ref.ID, err))
			return
		}
		r := m.(*proto.ObjectStatusReply)
		if r.Error != nil && r.Error.Kind == proto.KindOwnerDied {
			w.stats.OwnerDied++
		}
		switch {
		case r.Error != nil:
			done(nil, r.Error)
		case r.Locations == nil:
			done(nonNil(r.Inline), nil)
		default:
			if b := w.blocked[ref.ID]; b != nil {
				b.copies = r.Locations
			}
			w.fetch(ref, r.Locations, func(data []byte, err error) {
				if err != nil && attempt+1 < borrowedFetchAttempts {
					w.env.AfterFunc(time.Second, func() { w.getBorrowedAttempt(ref, attempt+1, r.Locations, done) })
					return
				}
				done(data, err)
			})
		}
	})
}

// handleObjectStatus serves a borrower's GetObjectStatus once the object
// is ready or failed.
func (w *Worker) handleObjectStatus(from core.Addr, m core.Message, reply func(core.Message, error)) {
	st := m.(*proto.GetObjectStatus)
	id := st.ID
	if st.OwnerID != 0 && st.OwnerID != w.incarnation {
		reply(&proto.ObjectStatusReply{Error: proto.NewError(proto.KindOwnerDied, "", "the owner of %v at %s died (a new process runs there now)", id, w.self)}, nil)
		return
	}
	e := w.refs.get(id)
	if e == nil && w.exited {
		reply(&proto.ObjectStatusReply{Error: proto.NewError(proto.KindOwnerDied, "", "the owner of %v at %s exited (its program returned or shut down), freeing the objects it owned", id, w.self)}, nil)
		return
	}
	if e == nil || e.owner != "" {
		reply(&proto.ObjectStatusReply{Error: proto.NewError(proto.KindObjectLost, "", "%v is not owned by %s or was freed", id, w.self)}, nil)
		return
	}
	if len(st.Failed) > 0 && e.state == objReady && e.inline == nil && e.lineage != nil {
		// A borrower could not read these copies. Drop them; with none
		// left, rebuild the object (re-running a task is always safe).
		for _, l := range st.Failed {
			if e.locations[l.Node] == l.Raylet {
				delete(e.locations, l.Node)
			}
		}
		if len(e.locations) == 0 {
			w.reconstruct(e)
		}
		st = &proto.GetObjectStatus{ID: id}
		m = st
	}
	switch e.state {
	case objPending:
		e.waiters = append(e.waiters, func() { w.handleObjectStatus(from, m, reply) })
	case objFailed:
		reply(&proto.ObjectStatusReply{Error: e.err}, nil)
	case objReady:
		if e.inline != nil {
			reply(&proto.ObjectStatusReply{Inline: e.inline}, nil)
			return
		}
		reply(&proto.ObjectStatusReply{Locations: e.sortedLocations(), Size: e.size}, nil)
	}
}
