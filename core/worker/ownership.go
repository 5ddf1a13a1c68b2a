package worker

import (
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Owner death and the primary copies raylets hold (Ray's ownership
// protocol: an object lives as long as its owner). Every object this
// worker owns names it — address, incarnation and, for a worker, the node
// it dies with — in the task specs and puts that create plasma copies, so
// the raylet holding a primary copy can free it once the owner is gone.
// The owner helps in two ways: FreeOwned frees everything when the
// program is done, and OwnsObjects answers the raylets' periodic
// question whether it still owns what they hold.

// Incarnation returns the number that names this core worker among the
// processes that ever ran at its address: references it owns carry it
// (ObjectRef.OwnerID), and a worker process registers it with its raylet.
func (w *Worker) Incarnation() uint64 { return w.incarnation }

// Identity returns this core worker's process id as registered with its
// raylet, its node (nil until known: a worker learns it from its first
// task, a driver when it attaches) and the job it submits for (nil for a
// node's own workers, whose tasks carry theirs).
func (w *Worker) Identity() (core.WorkerID, core.NodeID, core.JobID) {
	return w.cfg.WorkerID, w.cfg.Node, w.cfg.Job
}

// ownerNode is the node whose death kills this owner: a worker's node.
// A driver has none: it moves to another raylet when its node dies (a
// process with no Executor is a driver).
func (w *Worker) ownerNode() core.NodeID {
	if w.cfg.Executor == nil {
		return core.NodeID{}
	}
	return w.cfg.Node
}

// handleOwnsObjects tells a raylet which of the primary copies it holds
// for this worker this worker no longer owns (freed, or created by an
// earlier process at this address): the raylet frees those. An object
// is registered as owned before any copy of it can exist (at Put or
// submission), so "not owned" is never early — except a streaming
// generator's item, whose copy is stored before its report reaches the
// owner: an item a live stream has not received yet is owned.
func (w *Worker) handleOwnsObjects(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.OwnsObjects)
	if q.OwnerID != 0 && q.OwnerID != w.incarnation {
		reply(&proto.OwnsObjectsReply{Dead: true}, nil)
		return
	}
	var not []core.ObjectID
	for _, id := range q.IDs {
		if e := w.refs.get(id); (e == nil && !w.itemExpected(id)) || (e != nil && e.owner != "") {
			not = append(not, id)
		}
	}
	reply(&proto.OwnsObjectsReply{NotOwned: not}, nil)
}

// freeBatchMax bounds the ids of one FreeObjects that FreeOwned sends.
const freeBatchMax = 1000

// FreeOwned ends this worker's ownership at once, as the exit of its
// process would: it frees every copy of every object it owns (one
// FreeObjects per raylet holding some), forgets them, and lets go of the
// objects it borrows (their owners' WaitRefRemoved are answered). A
// borrower asking for one of the freed objects later is told that its
// owner died. The driver process calls it when the driver program
// returns, and package gray's Runtime.Shutdown when the program shuts
// down: the copies would otherwise stay pinned in the raylets until
// they noticed the owner's death.
//
// Tasks still running finish as usual; a plasma return that arrives
// later is freed on arrival (its object is not owned any more). The
// worker stays usable: objects created afterwards are owned as before.
func (w *Worker) FreeOwned() { w.freeOwned() }

// freeOwnedDrainMax bounds how long FreeOwnedThen waits for its messages
// to leave the process.
const freeOwnedDrainMax = 2 * time.Second

// FreeOwnedThen is FreeOwned, then done once the messages it sent (the
// returned leases, the frees, the answers to owners) have left this
// process, or freeOwnedDrainMax passed: a program that exits right after
// would otherwise take them with it, and the raylets would hold its
// leases until their checks of the holder gave up (30 s).
func (w *Worker) FreeOwnedThen(done func()) {
	to := w.freeOwned()
	ended := false
	end := func() {
		if !ended {
			ended = true
			done()
		}
	}
	left := len(to) + 1
	step := func() {
		if left--; left == 0 {
			end()
		}
	}
	w.env.AfterFunc(freeOwnedDrainMax, end)
	for _, a := range to {
		core.AfterSent(w.env, a, step)
	}
	step()
}

// freeOwned is FreeOwned; it returns the processes it sent messages to,
// sorted.
func (w *Worker) freeOwned() []core.Addr {
	w.exited = true
	sent := map[core.Addr]bool{}
	for _, k := range w.kept { //gray:unordered collected
		sent[k.l.Raylet] = true
	}
	w.returnKept("")
	w.borrowerSt = nil // nothing it owned is left to borrow
	w.borrowWaits = nil
	byRaylet := map[core.Addr][]core.ObjectID{}
	var freed []*objEntry
	for _, id := range w.refs.ids() {
		e := w.refs.get(id)
		delete(w.refs.objs, id)
		if e.owner != "" {
			for _, rw := range e.removalWaits {
				w.refRemoved(rw, id)
				sent[rw.owner] = true
			}
			e.removalWaits = nil
			continue
		}
		for _, l := range e.sortedLocations() {
			byRaylet[l.Raylet] = append(byRaylet[l.Raylet], id)
		}
		answerFreed(e)
		freed = append(freed, e)
	}
	raylets := make([]core.Addr, 0, len(byRaylet))
	for a := range byRaylet { //gray:unordered sorted below
		raylets = append(raylets, a)
	}
	slices.Sort(raylets)
	for _, a := range raylets {
		sent[a] = true
		for ids := range slices.Chunk(byRaylet[a], freeBatchMax) {
			w.cli.Call(a, &proto.FreeObjects{IDs: ids}, rpc.Options{}, func(core.Message, error) {})
		}
	}
	// Streams end: their items are gone.
	tasks := make([]core.TaskID, 0, len(w.generators))
	for id := range w.generators { //gray:unordered sorted below
		tasks = append(tasks, id)
	}
	slices.SortFunc(tasks, func(a, b core.TaskID) int { return strings.Compare(string(a[:]), string(b[:])) })
	for _, id := range tasks {
		g := w.generators[id]
		g.closed = true
		w.answerHeld(g, true)
		w.wakeStream(g)
		delete(w.generators, id)
	}
	// Wake whoever waits for a pending one (a borrower's status request,
	// a task's argument): they find the object gone.
	for _, e := range freed {
		w.refs.fail(e, proto.NewError(proto.KindOwnerDied, "", "the owner of %v at %s exited (its program returned or shut down)", e.id, w.self))
	}
	to := make([]core.Addr, 0, len(sent))
	for a := range sent { //gray:unordered sorted below
		to = append(to, a)
	}
	slices.Sort(to)
	return to
}
