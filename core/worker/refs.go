package worker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// objState is the life-cycle state of an object as its owner or a
// borrower sees it.
type objState uint8

const (
	objPending objState = iota // the creating task has not finished
	objReady                   // the value is inline or has at least one plasma copy
	objFailed                  // Get returns err
)

// objEntry is one object in a core worker's reference table.
type objEntry struct {
	id    core.ObjectID
	owner core.Addr // "" when this worker owns it
	state objState

	// Reference counts (Ray's reference counting protocol): references
	// held by user code in this process, references held by pending tasks
	// this process submitted (the object is one of their arguments), and
	// — on the owner only — processes borrowing it.
	local     int
	submitted int
	// borrowers counts, per borrowing process, the WaitRefRemoved calls
	// outstanding to it that name this object: each registration sends
	// one, its answer (or the RefsRemoved that names the object) drops
	// one, so a borrower that let go and borrowed again is never dropped
	// by its first answer.
	borrowers map[core.Addr]int
	// nested counts the objects whose values hold this reference and pin
	// it: an owned Put value that holds it (see contains), and the
	// returns of tasks this worker ran whose values hold it, until their
	// owners free them (see Worker.PinReturn).
	nested int
	// contains lists the references an owned object's value holds, each
	// pinned (nested) while the object is in scope.
	contains []proto.ObjectRef
	// lineageRefs counts owned task returns in scope that were computed
	// from this object: it must stay rebuildable while they may need
	// rebuilding (Ray's lineage pinning).
	lineageRefs int

	inline    []byte
	locations map[core.NodeID]core.Addr // plasma copies, by node
	size      int64
	err       *proto.TaskError

	// lineage is the task that creates the object (owner only, task
	// returns only); it is kept while the object is in scope so that a lost
	// object can be rebuilt by running the task again.
	lineage *proto.TaskSpec

	waiters []func()
	// removalWaits are the owner's WaitRefRemoved calls that name this
	// borrowed object, told when it goes out of scope.
	removalWaits []*removalWait
	// freedWaiters are WaitObjectFreed calls to answer when this owned
	// object is freed: workers that returned it keep the references its
	// value holds until then.
	freedWaiters []func(core.Message, error)
}

func (e *objEntry) inScope() bool {
	return e.local > 0 || e.submitted > 0 || len(e.borrowers) > 0 || e.lineageRefs > 0 || e.nested > 0
}

// refTable tracks every object this worker owns or borrows. Its methods
// never call out to the network; the core worker acts on what they return.
type refTable struct {
	objs map[core.ObjectID]*objEntry
	// ObjectsMax bounds the table; adding beyond it is refused.
	max int
}

// DefaultObjectsMax bounds a core worker's reference table.
const DefaultObjectsMax = 1_000_000

// errTooManyObjects is returned when the table is full.
var errTooManyObjects = fmt.Errorf("worker: more than %d live object references; release references you no longer need", DefaultObjectsMax)

func newRefTable() *refTable {
	return &refTable{objs: map[core.ObjectID]*objEntry{}, max: DefaultObjectsMax}
}

// addOwned registers an object this worker owns, pending until set.
func (t *refTable) addOwned(id core.ObjectID, lineage *proto.TaskSpec) (*objEntry, error) {
	if e, ok := t.objs[id]; ok {
		return e, nil
	}
	if len(t.objs) >= t.max {
		return nil, errTooManyObjects
	}
	e := &objEntry{id: id, lineage: lineage, locations: map[core.NodeID]core.Addr{}, borrowers: map[core.Addr]int{}}
	t.objs[id] = e
	return e, nil
}

// addBorrowed registers a reference to an object owned by owner.
func (t *refTable) addBorrowed(id core.ObjectID, owner core.Addr) (*objEntry, error) {
	if e, ok := t.objs[id]; ok {
		return e, nil
	}
	if len(t.objs) >= t.max {
		return nil, errTooManyObjects
	}
	e := &objEntry{id: id, owner: owner, locations: map[core.NodeID]core.Addr{}, borrowers: map[core.Addr]int{}}
	t.objs[id] = e
	return e, nil
}

func (t *refTable) get(id core.ObjectID) *objEntry { return t.objs[id] }

// release drops the entry if it went out of scope and reports whether it
// did; the caller then frees copies (owner) or tells the owner (borrower).
func (t *refTable) release(e *objEntry) bool {
	if e.inScope() {
		return false
	}
	delete(t.objs, e.id)
	return true
}

// setReady records an inline value or the first location and wakes waiters.
func (t *refTable) setReady(e *objEntry, inline []byte, size int64, loc *proto.Location) {
	if inline != nil {
		e.inline = inline
		e.size = int64(len(inline))
	}
	if loc != nil {
		e.locations[loc.Node] = loc.Raylet
		e.size = size
	}
	e.state = objReady
	e.err = nil
	t.wake(e)
}

// fail marks the object failed with err and wakes waiters.
func (t *refTable) fail(e *objEntry, err *proto.TaskError) {
	e.state = objFailed
	e.err = err
	t.wake(e)
}

// reset marks a lost object pending again (it is being rebuilt).
func (t *refTable) reset(e *objEntry) {
	e.state = objPending
	e.inline = nil
	clear(e.locations)
}

func (t *refTable) wake(e *objEntry) {
	ws := e.waiters
	e.waiters = nil
	for _, w := range ws {
		w()
	}
}

// onNodeDeath removes every copy on node and returns, sorted, the owned
// objects that lost their last copy (candidates for reconstruction).
func (t *refTable) onNodeDeath(node core.NodeID) []*objEntry {
	var lost []*objEntry
	for _, e := range t.objs { //gray:unordered results are sorted below
		if _, ok := e.locations[node]; !ok {
			continue
		}
		delete(e.locations, node)
		if e.owner == "" && e.state == objReady && e.inline == nil && len(e.locations) == 0 {
			lost = append(lost, e)
		}
	}
	slices.SortFunc(lost, func(a, b *objEntry) int { return compareIDs(a.id, b.id) })
	return lost
}

// sortedLocations returns e's copies ordered by node id.
func (e *objEntry) sortedLocations() []proto.Location {
	locs := make([]proto.Location, 0, len(e.locations))
	for n, r := range e.locations { //gray:unordered sorted below
		locs = append(locs, proto.Location{Node: n, Raylet: r})
	}
	slices.SortFunc(locs, func(a, b proto.Location) int { return strings.Compare(string(a.Node[:]), string(b.Node[:])) })
	return locs
}

func compareIDs(a, b core.ObjectID) int { return strings.Compare(string(a[:]), string(b[:])) }

// ids returns the ids in the table, sorted.
func (t *refTable) ids() []core.ObjectID {
	ids := make([]core.ObjectID, 0, len(t.objs))
	for id := range t.objs { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}
