package worker

import (
	"fmt"
	"maps"
	"slices"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// CheckInvariants checks the reference table against the tasks, actor
// calls and actors that hold references, and returns the first violation
// (in object id order), or nil:
//
//   - every entry is in scope (a reference, a pending task, a borrower or
//     a lineage pin holds it: one that none holds is dropped at once), its
//     counts are not negative, and only owned objects have borrowers,
//     lineage or lineage pins;
//   - an owned object that is ready has its value or a copy; a failed one
//     has its error; a pending task return's task is pending;
//   - each stream this worker owns has taken no more items than it
//     received, holds (a local reference on a ready or lost entry) every item
//     not taken, answers no held report once its task ended, and is
//     forgotten once closed and ended; a stream whose task has not ended
//     has its task or actor call pending;
//   - unless FreeOwned ran (it drops the table while tasks are pending):
//     each entry's submitted count is the number of times the pending
//     tasks, pending actor calls and owned actors name it as an argument,
//     each of those arguments has an entry, each owned object's lineage
//     pins are the number of times the owned returns in the table were
//     computed from it, and each entry's nested pins are the number of
//     times owned objects' values and pinned returns hold it.
//
// It reads every table: the simulator calls it after every event only in
// builds with the invariants tag (package internal/invariants).
func (w *Worker) CheckInvariants() error {
	submitted := map[core.ObjectID]int{}
	missing := map[core.ObjectID]string{}
	count := func(holder func() string, args []proto.Arg) {
		for r := range argRefs(args) {
			submitted[r.ID]++
			if _, seen := missing[r.ID]; !seen && w.refs.get(r.ID) == nil {
				missing[r.ID] = holder()
			}
		}
	}
	leases := map[uint64]int{}
	for _, id := range w.sortedTaskIDs() {
		t := w.tasks[id]
		count(t.spec.Describe, t.spec.Args)
		if h := heldLease(t); h != 0 {
			leases[h]++
		}
		if t.indexed != heldLease(t) {
			return fmt.Errorf("worker: task %s is indexed under lease %d, but holds lease %d", t.spec.Describe(), t.indexed, heldLease(t))
		}
	}
	if !maps.Equal(leases, w.leaseTasks) {
		return fmt.Errorf("worker: the lease index %v does not match the tasks' leases %v", w.leaseTasks, leases)
	}
	if err := w.checkKept(); err != nil {
		return err
	}
	if err := w.checkHostedActor(); err != nil {
		return err
	}
	for _, vid := range w.sortedViewIDs() {
		v := w.views[vid]
		for _, seq := range v.sortedSeqs() {
			c := v.calls[seq]
			count(c.spec.Describe, c.spec.Args)
			if c.holdsHandle {
				hid := core.ActorHandleObjectID(vid)
				submitted[hid]++
				if _, seen := missing[hid]; !seen && w.refs.get(hid) == nil {
					missing[hid] = c.spec.Describe()
				}
			}
		}
	}
	actors := make([]core.ActorID, 0, len(w.owned))
	for id := range w.owned { //gray:unordered sorted below
		actors = append(actors, id)
	}
	slices.SortFunc(actors, func(a, b core.ActorID) int { return compareBytes(a[:], b[:]) })
	for _, id := range actors {
		count(func() string { return "the constructor of owned actor " + id.String() }, w.owned[id].args)
	}
	lineage := map[core.ObjectID]int{}
	nested := map[core.ObjectID]int{}
	for _, e := range w.refs.objs { //gray:unordered counting
		for _, r := range e.contains {
			nested[r.ID]++
		}
		if e.owner != "" || e.lineage == nil {
			continue
		}
		for r := range argRefs(e.lineage.Args) {
			if r.Owner == w.self {
				lineage[r.ID]++
			}
		}
	}
	for _, pinned := range w.returnPins { //gray:unordered counting
		for _, r := range pinned {
			nested[r.ID]++
		}
	}
	for _, id := range w.refs.ids() {
		if err := w.checkEntry(w.refs.get(id), submitted[id], lineage[id], nested[id]); err != nil {
			return err
		}
	}
	if err := w.invBorrowers(); err != nil {
		return err
	}
	if err := w.checkStreams(); err != nil {
		return err
	}
	if w.exited || len(missing) == 0 {
		return nil
	}
	ids := make([]core.ObjectID, 0, len(missing))
	for id := range missing { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	return fmt.Errorf("worker: %s holds argument %v, which is not in the reference table", missing[ids[0]], ids[0])
}

// checkEntry checks one entry; submitted and lineage are the counts the
// holders of references to it imply.
func (w *Worker) checkEntry(e *objEntry, submitted, lineage, nested int) error {
	owned := e.owner == ""
	for b, n := range e.borrowers { //gray:unordered any violation
		if n <= 0 {
			return fmt.Errorf("worker: %v counts %d outstanding WaitRefRemoved calls to borrower %s", e.id, n, b)
		}
	}
	switch {
	case e.local < 0 || e.submitted < 0 || e.lineageRefs < 0 || e.nested < 0:
		return fmt.Errorf("worker: %v has negative counts: local %d, submitted %d, lineage %d, nested %d", e.id, e.local, e.submitted, e.lineageRefs, e.nested)
	case !owned && (e.contains != nil || len(e.freedWaiters) > 0):
		return fmt.Errorf("worker: borrowed %v lists %d contained references and %d WaitObjectFreed calls: only an owner tracks those", e.id, len(e.contains), len(e.freedWaiters))
	case !e.inScope():
		return fmt.Errorf("worker: %v is out of scope but still in the reference table (it leaks)", e.id)
	case !owned && (len(e.borrowers) > 0 || e.lineage != nil || e.lineageRefs > 0):
		return fmt.Errorf("worker: borrowed %v (owner %s) has %d borrowers, lineage %v and %d lineage pins: only an owner tracks those", e.id, e.owner, len(e.borrowers), e.lineage != nil, e.lineageRefs)
	case owned && e.state == objReady && e.inline == nil && len(e.locations) == 0 && !isHandleObject(e.id):
		return fmt.Errorf("worker: owned %v is ready with neither a value nor a copy", e.id)
	case e.state == objFailed && e.err == nil:
		return fmt.Errorf("worker: %v failed without an error", e.id)
	case owned && e.state == objPending && e.lineage != nil && w.tasks[e.lineage.TaskID] == nil:
		return fmt.Errorf("worker: owned %v is pending, but its task %s is not", e.id, e.lineage.Describe())
	case w.exited:
	case e.submitted != submitted:
		return fmt.Errorf("worker: %v counts %d submitted references, but pending tasks, actor calls and actors name it %d times", e.id, e.submitted, submitted)
	case owned && e.lineageRefs != lineage:
		return fmt.Errorf("worker: %v counts %d lineage pins, but the owned returns in the table were computed from it %d times", e.id, e.lineageRefs, lineage)
	case e.nested != nested:
		return fmt.Errorf("worker: %v counts %d pins by containing objects, but owned objects and pinned returns hold it %d times", e.id, e.nested, nested)
	}
	return nil
}

// checkStreams checks the owner's streams; see CheckInvariants.
func (w *Worker) checkStreams() error {
	tasks := make([]core.TaskID, 0, len(w.generators))
	for id := range w.generators { //gray:unordered sorted below
		tasks = append(tasks, id)
	}
	slices.SortFunc(tasks, func(a, b core.TaskID) int { return compareBytes(a[:], b[:]) })
	for _, id := range tasks {
		g := w.generators[id]
		switch {
		case g.consumed > g.received:
			return fmt.Errorf("worker: stream of %v took %d items of %d received", id, g.consumed, g.received)
		case g.closed && g.finished:
			return fmt.Errorf("worker: stream of %v is closed and its task ended, but it is still kept", id)
		case g.finished && len(g.held) > 0:
			return fmt.Errorf("worker: stream of %v holds %d reports after its task ended", id, len(g.held))
		case !g.finished && w.tasks[id] == nil:
			if _, c := w.findCall(id); c == nil {
				return fmt.Errorf("worker: stream of %v waits for a task that is not pending", id)
			}
		}
		if g.closed {
			continue
		}
		for i := g.consumed; i < g.received; i++ {
			e := w.refs.get(itemID(id, i))
			if e == nil || e.owner != "" || e.local < 1 || e.state == objPending {
				return fmt.Errorf("worker: stream of %v does not hold its item %d (entry %v)", id, i, e != nil)
			}
		}
	}
	return nil
}

// invBorrowers checks that the borrowers each owned entry counts and
// the borrowers' records (borrowers.go) name the same pairs.
func (w *Worker) invBorrowers() error {
	// Each count of a borrower in an owned entry is one wait of the
	// borrower's current generation that still names the object.
	type pair struct {
		id core.ObjectID
		b  core.Addr
	}
	waits := map[pair]int{}
	for _, wait := range w.borrowWaits { //gray:unordered counting
		if len(wait.ids) == 0 {
			return fmt.Errorf("worker: wait %d on borrower %s names no object but is kept", wait.seq, wait.borrower)
		}
		if wait.gen != w.borrowerGenOf(wait.borrower) {
			continue
		}
		for id := range wait.ids { //gray:unordered counting
			waits[pair{id, wait.borrower}]++
		}
	}
	for _, id := range w.refs.ids() {
		e := w.refs.get(id)
		for b, n := range e.borrowers { //gray:unordered checking
			if waits[pair{id, b}] != n {
				return fmt.Errorf("worker: owned %v counts borrower %s %d times, but %d of its waits name it", id, b, n, waits[pair{id, b}])
			}
			delete(waits, pair{id, b})
		}
	}
	for p, n := range waits { //gray:unordered any violation
		return fmt.Errorf("worker: %d waits on borrower %s name %v, which does not count it", n, p.b, p.id)
	}
	pairs := 0
	for _, id := range w.refs.ids() {
		e := w.refs.get(id)
		for b := range e.borrowers { //gray:unordered checking
			st := w.borrowerSt[b]
			if st == nil {
				return fmt.Errorf("worker: owned %v counts borrower %s, which has no record", id, b)
			}
			if _, ok := st.ids[id]; !ok {
				return fmt.Errorf("worker: owned %v counts borrower %s, whose record lacks it", id, b)
			}
			pairs++
		}
	}
	for _, b := range w.sortedBorrowers() {
		ids := make([]core.ObjectID, 0, len(w.borrowerSt[b].ids))
		for id := range w.borrowerSt[b].ids { //gray:unordered sorted below
			ids = append(ids, id)
		}
		slices.SortFunc(ids, compareIDs)
		for _, id := range ids {
			if e := w.refs.get(id); e == nil || e.owner != "" || e.borrowers[b] == 0 {
				return fmt.Errorf("worker: the record of borrower %s names %v, which does not count it (in the table: %v)", b, id, e != nil)
			}
		}
	}
	return nil
}

// isHandleObject reports whether id is an actor's handle object, which
// has no value (core.ActorHandleObjectID).
func isHandleObject(id core.ObjectID) bool {
	_, ok := id.HandleActor()
	return ok
}

// checkKept: every idle lease is in its class's list once and in no
// other, and no task runs on it.
func (w *Worker) checkKept() error {
	n := 0
	for _, class := range slices.Sorted(maps.Keys(w.idle)) {
		ks := w.idle[class]
		if len(ks) == 0 {
			return fmt.Errorf("worker: an empty idle-lease list is kept for class %q", class)
		}
		for _, k := range ks {
			if w.kept[k.l.ID] != k || k.class != class {
				return fmt.Errorf("worker: idle lease %d of class %q is not kept under its id and class", k.l.ID, class)
			}
		}
		n += len(ks)
	}
	if n != len(w.kept) {
		return fmt.Errorf("worker: %d idle leases listed by class, %d kept by id", n, len(w.kept))
	}
	requesting := map[string]int{}
	for _, id := range w.sortedTaskIDs() {
		t := w.tasks[id]
		if t.phase == phaseRunning && w.kept[t.leaseID] != nil {
			return fmt.Errorf("worker: task %s runs on lease %d, which is kept idle", t.spec.Describe(), t.leaseID)
		}
		if t.req != nil && t.class != "" {
			requesting[t.class]++
		}
		if t.queued && (t.phase != phaseLeasing || t.req != nil || t.class == "") {
			return fmt.Errorf("worker: task %s is queued for a lease in phase %d with a request %v", t.spec.Describe(), t.phase, t.req != nil)
		}
		if t.queued && !slices.Contains(w.queued[t.class], t) {
			return fmt.Errorf("worker: task %s is queued for a lease but not in its class's queue", t.spec.Describe())
		}
	}
	// A live lease counts its pushes out: its running tasks and its
	// cancelled ones whose bodies are still returning.
	inflight := map[uint64]int{}
	for _, id := range w.sortedTaskIDs() {
		if t := w.tasks[id]; t.phase == phaseRunning {
			inflight[t.leaseID]++
		}
	}
	for _, k := range w.interruptedKeys() {
		inflight[k.lease]++
	}
	for _, id := range slices.Sorted(maps.Keys(w.live)) {
		ll := w.live[id]
		if ll.inflight <= 0 || ll.inflight != inflight[id] {
			return fmt.Errorf("worker: live lease %d counts %d pushes out, %d tasks run on it", id, ll.inflight, inflight[id])
		}
		if w.kept[id] != nil {
			return fmt.Errorf("worker: lease %d is both live and kept idle", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(inflight)) {
		if w.live[id] == nil {
			return fmt.Errorf("worker: %d tasks run on lease %d, which is not live", inflight[id], id)
		}
	}
	if !maps.Equal(requesting, w.requesting) {
		return fmt.Errorf("worker: lease requests out per class %v, counted %v", requesting, w.requesting)
	}
	for _, class := range slices.Sorted(maps.Keys(w.queued)) {
		if w.requesting[class] == 0 && slices.ContainsFunc(w.queued[class], w.isQueued) {
			return fmt.Errorf("worker: tasks of class %q are queued for a lease, but none of the class's requests is out", class)
		}
	}
	return nil
}

// checkHostedActor checks that the hosted actor's reply barriers are
// counted right and that a call waits only for a reason: while no
// barrier is pending, no group with room has a runnable call.
func (w *Worker) checkHostedActor() error {
	a := w.actor
	if a == nil || !a.ready {
		return nil
	}
	if a.sending < 0 || len(a.acks) > a.sending {
		return fmt.Errorf("worker: actor %v counts %d replies on their way, %d of them waiting for acks", a.id, a.sending, len(a.acks))
	}
	if a.sending > 0 {
		return nil
	}
	for _, name := range a.groupNames {
		if g := a.groups[name]; g.running < g.limit && len(g.runnable) > 0 {
			return fmt.Errorf("worker: actor %v group %q runs %d of %d with %d calls runnable and no reply on its way", a.id, name, g.running, g.limit, len(g.runnable))
		}
	}
	return nil
}
