package worker

import (
	"cmp"
	"fmt"
	"iter"
	"slices"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// References inside values (Ray's nested references). A reference can
// travel inside any value: a task's or an actor call's inline argument
// (proto.Arg.Nested), a Put value, a return value. Whoever decodes one
// becomes its borrower by telling the owner directly (AddBorrower), while
// the source it came from still holds it:
//
//   - an argument's nested references are held by the submitter as
//     submitted references until the task finishes, and the executing
//     worker registers before the body runs on (package gray decodes the
//     arguments in the body, before the user's code sees them);
//   - a Put value's references are pinned by the object (contains,
//     nested) while it is in scope, and a Get that decodes them holds the
//     object until it registered;
//   - a return value's references are pinned by the worker that ran the
//     task (PinReturn) until the return's owner frees it
//     (WaitObjectFreed), so that the caller can Get it and register.
//
// So an owner frees an object only once no borrower, pending task or
// containing object holds it, and a borrower that dies is dropped when
// its WaitRefRemoved fails (see addBorrowers).

// argRefs yields every reference args name: reference arguments and the
// references nested in inline ones.
func argRefs(args []proto.Arg) iter.Seq[proto.ObjectRef] {
	return func(yield func(proto.ObjectRef) bool) {
		for _, a := range args {
			if a.Ref != nil && !yield(*a.Ref) {
				return
			}
			for _, r := range a.Nested {
				if !yield(r) {
					return
				}
			}
		}
	}
}

// missingRefs counts the references in refs that have no entry (each
// once): adding them all needs that much room in the table.
func (w *Worker) missingRefs(refs iter.Seq[proto.ObjectRef]) int {
	var seen map[core.ObjectID]bool
	n := 0
	for r := range refs {
		if w.refs.get(r.ID) != nil || seen[r.ID] {
			continue
		}
		if seen == nil {
			seen = map[core.ObjectID]bool{}
		}
		seen[r.ID] = true
		n++
	}
	return n
}

// AddRefs records references this process received inside a value (a
// decoded argument, method argument or Get value) as held by user code:
// one local reference each, released with Release. A reference to another
// owner's object that was not held here makes this worker its borrower:
// the owner is told (AddBorrower) and done runs once every owner answered
// or timed out (an owner silent for Config.OwnerTimeout is taken for
// dead, as Get does), so the caller must keep the value's source (its
// argument, its containing object) until then. done gets, per reference,
// nil or the error its Get must return instead (an owned object this
// worker no longer has: it was freed, or an earlier process at this
// address owned it); references with an error hold nothing. With no room
// in the table every reference gets the error.
func (w *Worker) AddRefs(refs []proto.ObjectRef, done func([]error)) {
	errs := make([]error, len(refs))
	if len(w.refs.objs)+w.missingRefs(slices.Values(refs)) > w.refs.max {
		for i := range errs {
			errs[i] = errTooManyObjects
		}
		done(errs)
		return
	}
	type ownerKey struct {
		addr core.Addr
		inc  uint64
	}
	byOwner := map[ownerKey][]core.ObjectID{}
	for i, r := range refs {
		e := w.refs.get(r.ID)
		if e == nil && r.Owner == w.self {
			if r.OwnerID != 0 && r.OwnerID != w.incarnation {
				errs[i] = proto.NewError(proto.KindOwnerDied, "", "the owner of %v at %s died (a new process runs there now)", r.ID, w.self)
			} else {
				errs[i] = proto.NewError(proto.KindObjectLost, "", "%v was freed by its owner %s before this reference to it arrived", r.ID, w.self)
			}
			continue
		}
		if e == nil {
			var err error
			if e, err = w.refs.addBorrowed(r.ID, r.Owner); err != nil {
				panic(fmt.Sprintf("worker: borrow %v after checking for room: %v", r.ID, err))
			}
			k := ownerKey{r.Owner, r.OwnerID}
			byOwner[k] = append(byOwner[k], r.ID)
		}
		e.local++
	}
	keys := make([]ownerKey, 0, len(byOwner))
	for k := range byOwner { //gray:unordered sorted below
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ownerKey) int {
		if a.addr != b.addr {
			return cmp.Compare(a.addr, b.addr)
		}
		return cmp.Compare(a.inc, b.inc)
	})
	pending := 1
	answered := func() {
		pending--
		if pending == 0 {
			done(errs)
		}
	}
	for _, k := range keys {
		for ids := range slices.Chunk(byOwner[k], proto.AddBorrowerRefsMax) {
			pending++
			w.stats.BorrowsSent++
			w.cli.Call(k.addr, &proto.AddBorrower{IDs: ids, OwnerID: k.inc, Node: w.cfg.Node, Raylet: w.cfg.Raylet, BorrowerID: w.incarnation}, rpc.Options{Timeout: w.cfg.OwnerTimeout}, func(core.Message, error) {
				// Gone or dead: a Get of these asks the owner and
				// reports the same; a silent owner is taken for dead.
				answered()
			})
		}
	}
	answered()
}

// handleAddBorrower counts the sender as a borrower of each object it
// names that this worker owns (see AddBorrower).
func (w *Worker) handleAddBorrower(from core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.AddBorrower)
	if q.OwnerID != 0 && q.OwnerID != w.incarnation {
		reply(&proto.AddBorrowerReply{OwnerDied: true}, nil)
		return
	}
	r := &proto.AddBorrowerReply{}
	for _, id := range q.IDs {
		if e := w.refs.get(id); e == nil || e.owner != "" {
			r.Gone = append(r.Gone, id)
		}
	}
	w.addBorrowers(q.IDs, from, borrowerAt{node: q.Node, raylet: q.Raylet, inc: q.BorrowerID})
	reply(r, nil)
}

// holdNested pins each of refs for a containing object (nested); every
// one must be in the table: whoever builds a value holds the references
// in it. It pins nothing and fails if one is not.
func (w *Worker) holdNested(refs []proto.ObjectRef) error {
	for _, r := range refs {
		if w.refs.get(r.ID) == nil {
			return fmt.Errorf("worker: %v, held inside a value, is not referenced by %s (released before the value was stored)", r.ID, w.self)
		}
	}
	for _, r := range refs {
		w.refs.get(r.ID).nested++
	}
	return nil
}

// releaseNested drops the pins holdNested took.
func (w *Worker) releaseNested(refs []proto.ObjectRef) {
	for _, r := range refs {
		e := w.refs.get(r.ID)
		if e == nil {
			continue // FreeOwned dropped it
		}
		if e.nested <= 0 {
			panic(fmt.Sprintf("worker: %s unpins %v, which no containing object pins", w.self, r.ID))
		}
		e.nested--
		w.maybeFree(e)
	}
}

// PinReturn keeps refs, which return index (0-based) of spec's run here
// holds in its value, until the return's owner frees the return (it
// answers WaitObjectFreed; an owner silent for as long as a borrower may
// be is taken for dead). Package gray calls it from the body, before the
// body's result goes back, while the body still holds refs. It fails if
// one of refs is not held here.
func (w *Worker) PinReturn(spec *proto.TaskSpec, index int, refs []proto.ObjectRef) error {
	ids := spec.ReturnIDs()
	if index < 0 || index >= len(ids) {
		return fmt.Errorf("worker: return %d of %s, which has %d", index+1, spec.Describe(), len(ids))
	}
	if len(refs) == 0 {
		return nil
	}
	return w.pinUntilFreed(spec, ids[index], refs)
}

// handleWaitObjectFreed answers once the named owned object is freed (at
// once if this worker does not own it, or a new incarnation is asked).
func (w *Worker) handleWaitObjectFreed(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.WaitObjectFreed)
	e := w.refs.get(q.ID)
	if (q.OwnerID != 0 && q.OwnerID != w.incarnation) || e == nil || e.owner != "" {
		reply(&proto.Ack{}, nil)
		return
	}
	e.freedWaiters = append(e.freedWaiters, reply)
}

// answerFreed answers the WaitObjectFreed calls of a freed object.
func answerFreed(e *objEntry) {
	ws := e.freedWaiters
	e.freedWaiters = nil
	for _, reply := range ws {
		reply(&proto.Ack{}, nil)
	}
}

// Owns reports whether this worker owns an object in scope or pins
// references for a return it ran: its exit would lose objects others may
// read, so a raylet does not reap it while idle (as Ray's workers refuse
// to exit while they own objects).
func (w *Worker) Owns() bool {
	if len(w.returnPins) > 0 || len(w.owned) > 0 {
		return true
	}
	for _, e := range w.refs.objs { //gray:unordered any
		if e.owner == "" {
			return true
		}
	}
	return false
}
