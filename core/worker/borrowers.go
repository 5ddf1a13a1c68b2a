package worker

import (
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Borrowers that die. An owner counts each borrowing process until it
// answers WaitRefRemoved, which a dead process never does: a launched
// worker that exited has nothing listening at its address, and a node
// that died takes its processes with it. So the owner remembers where
// each borrower runs (its node, its raylet, its core-worker incarnation,
// as the borrower registered or the lease that ran it said) and drops
// every borrow of one that is known dead: when its node is declared dead
// (NodeDied), or when its raylet says the process exited or another runs
// at its address (OwnsObjects.Dead), which the owner asks every
// borrowerCheckPeriod while it counts the borrower. Before this, such an
// object stayed in scope for borrowerWaitTimeout (10 minutes), and an
// actor whose handle a dead worker had borrowed lived as long.

// borrowerAt is where a borrowing process runs; zero fields are unknown.
type borrowerAt struct {
	node   core.NodeID
	raylet core.Addr
	inc    uint64
}

// borrowerState is what the owner knows of one borrowing process.
type borrowerState struct {
	at borrowerAt
	// ids are the owned objects it borrows (counted in their entries).
	ids map[core.ObjectID]struct{}
	// gen is bumped when the borrower is dropped: WaitRefRemoved answers
	// of an earlier generation are stale.
	gen      uint64
	checking bool
}

// borrowerCheckPeriod is how often an owner asks the raylets of its
// borrowers whether they are dead.
const borrowerCheckPeriod = 5 * time.Second

// noteBorrower records that borrower borrows id, at at, and returns its
// generation.
func (w *Worker) noteBorrower(borrower core.Addr, id core.ObjectID, at borrowerAt) uint64 {
	if w.borrowerSt == nil {
		w.borrowerSt = map[core.Addr]*borrowerState{}
	}
	b := w.borrowerSt[borrower]
	if b == nil {
		b = &borrowerState{ids: map[core.ObjectID]struct{}{}, gen: w.borrowerGen}
		w.borrowerSt[borrower] = b
	}
	if at.node != (core.NodeID{}) {
		b.at.node = at.node
	}
	if at.raylet != "" {
		b.at.raylet = at.raylet
	}
	if at.inc != 0 {
		b.at.inc = at.inc
	}
	b.ids[id] = struct{}{}
	w.armBorrowerCheck()
	return b.gen
}

// unnoteBorrower records that borrower no longer borrows id.
func (w *Worker) unnoteBorrower(borrower core.Addr, id core.ObjectID) {
	b := w.borrowerSt[borrower]
	if b == nil {
		return
	}
	delete(b.ids, id)
	if len(b.ids) == 0 {
		delete(w.borrowerSt, borrower)
	}
}

// borrowerGenOf returns borrower's current generation (a fresh one when
// it is not counted).
func (w *Worker) borrowerGenOf(borrower core.Addr) uint64 {
	if b := w.borrowerSt[borrower]; b != nil {
		return b.gen
	}
	return w.borrowerGen
}

// dropBorrower stops counting borrower, known dead, as a borrower of
// anything, and frees what only it held.
func (w *Worker) dropBorrower(borrower core.Addr) {
	b := w.borrowerSt[borrower]
	if b == nil {
		return
	}
	delete(w.borrowerSt, borrower)
	w.borrowerGen++ // answers of its outstanding waits are stale now
	w.stats.BorrowersDropped++
	ids := make([]core.ObjectID, 0, len(b.ids))
	for id := range b.ids { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	for _, id := range ids {
		if e := w.refs.get(id); e != nil && e.owner == "" {
			delete(e.borrowers, borrower)
			w.maybeFree(e)
		}
	}
}

// borrowersOnNode drops every borrower running on node, which died.
func (w *Worker) borrowersOnNode(node core.NodeID) {
	for _, a := range w.sortedBorrowers() {
		if b := w.borrowerSt[a]; b != nil && b.at.node == node {
			w.dropBorrower(a)
		}
	}
}

func (w *Worker) sortedBorrowers() []core.Addr {
	addrs := make([]core.Addr, 0, len(w.borrowerSt))
	for a := range w.borrowerSt { //gray:unordered sorted below
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(x, y core.Addr) int { return strings.Compare(string(x), string(y)) })
	return addrs
}

// armBorrowerCheck starts the periodic check of the borrowers' raylets.
func (w *Worker) armBorrowerCheck() {
	if w.borrowerCheckArmed || w.exited {
		return
	}
	w.borrowerCheckArmed = true
	w.env.AfterFunc(borrowerCheckPeriod, func() {
		w.borrowerCheckArmed = false
		w.checkBorrowers()
		if len(w.borrowerSt) > 0 {
			w.armBorrowerCheck()
		}
	})
}

// checkBorrowers asks the raylet of each counted borrower whether the
// borrower is dead there, and drops those that are.
func (w *Worker) checkBorrowers() {
	for _, a := range w.sortedBorrowers() {
		b := w.borrowerSt[a]
		if b.checking || b.at.raylet == "" {
			continue
		}
		b.checking = true
		addr := a
		w.cli.Call(b.at.raylet, &proto.OwnsObjects{Owner: addr, OwnerID: b.at.inc}, rpc.Options{Timeout: borrowerCheckPeriod}, func(m core.Message, err error) {
			if cur := w.borrowerSt[addr]; cur == b {
				b.checking = false
				if err == nil && m.(*proto.OwnsObjectsReply).Dead {
					w.dropBorrower(addr)
				}
			}
		})
	}
}
