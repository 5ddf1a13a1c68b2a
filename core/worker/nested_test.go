package worker

import (
	"errors"
	"slices"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// addRefs runs the network until w's AddRefs answers.
func (c *cluster) addRefs(w *Worker, refs ...proto.ObjectRef) []error {
	c.n.t.Helper()
	var (
		errs []error
		done bool
	)
	w.AddRefs(refs, func(e []error) { errs, done = e, true })
	c.n.run(func() bool { return done })
	if !done {
		c.n.t.Fatalf("AddRefs(%v) never answered", refs)
	}
	return errs
}

func (c *cluster) check() {
	c.n.t.Helper()
	for _, w := range []*Worker{c.owner, c.exec} {
		if err := w.CheckInvariants(); err != nil {
			c.n.t.Fatal(err)
		}
	}
}

// TestBorrowerOfANestedRef: a worker that receives a reference inside a
// value borrows it from the owner directly; the owner keeps the object
// after its own reference goes, until the borrower lets go.
func TestBorrowerOfANestedRef(t *testing.T) {
	c := newCluster(t)
	ref := c.put(c.owner, big)
	if errs := c.addRefs(c.exec, ref); errs[0] != nil {
		t.Fatal(errs[0])
	}
	c.check()
	if got := c.owner.refs.get(ref.ID).borrowers["exec"]; got != 1 {
		t.Fatalf("owner counts %d registrations of the borrower, want 1", got)
	}
	c.owner.Release(ref)
	c.n.run(nil)
	c.check()
	if slices.Contains(c.raylet.freed, ref.ID) {
		t.Fatalf("owner freed %v while a borrower held it", ref.ID)
	}
	if v, err := c.get(c.exec, ref); err != nil || len(v) != len(big) {
		t.Fatalf("borrower's Get = %d bytes, %v", len(v), err)
	}
	c.exec.Release(ref)
	c.n.run(nil)
	c.check()
	if !slices.Contains(c.raylet.freed, ref.ID) || c.owner.refs.get(ref.ID) != nil {
		t.Fatalf("owner kept %v after the last borrower let go", ref.ID)
	}
}

// TestBorrowAgainAfterRelease: a borrower lets go and borrows the same
// object again, and the network delivers its new AddBorrower before its
// answer to the owner's first WaitRefRemoved. The owner counts both
// registrations, so the late answer does not drop the second one: the
// object stays until the borrower lets go again.
func TestBorrowAgainAfterRelease(t *testing.T) {
	c := newCluster(t)
	ref := c.put(c.owner, i64(42))
	c.addRefs(c.exec, ref)
	c.exec.Release(ref) // answers the first WaitRefRemoved: in flight
	var errs []error
	c.exec.AddRefs([]proto.ObjectRef{ref}, func(e []error) { errs = e })
	q := c.n.queue
	if len(q) < 2 || q[len(q)-2].to != "driver" || q[len(q)-1].to != "driver" {
		t.Fatalf("want the answer and the new registration in flight to the owner, have %d messages", len(q))
	}
	q[len(q)-2], q[len(q)-1] = q[len(q)-1], q[len(q)-2]
	c.n.run(func() bool { return errs != nil })
	if errs == nil || errs[0] != nil {
		t.Fatalf("second AddRefs: %v", errs)
	}
	c.owner.Release(ref) // only the borrower holds it now
	c.n.run(nil)
	c.check()
	if v, err := c.get(c.exec, ref); err != nil || asI64(v) != 42 {
		t.Fatalf("Get after borrowing again = %v, %v; want 42", asI64(v), err)
	}
	c.exec.Release(ref)
	c.n.run(nil)
	c.check()
	if c.owner.refs.get(ref.ID) != nil {
		t.Fatalf("owner kept %v after the borrower let go again", ref.ID)
	}
}

// TestAddRefsOfFreedOrDeadOwned: a reference to an object this worker
// owned and freed, or that an earlier process at its address owned,
// decodes with the error its Get would give, holding nothing.
func TestAddRefsOfFreedOrDeadOwned(t *testing.T) {
	c := newCluster(t)
	ref := c.put(c.owner, i64(1))
	c.owner.Release(ref)
	earlier := ref
	earlier.OwnerID = c.owner.Incarnation() + 2
	errs := c.addRefs(c.owner, ref, earlier)
	if !errors.Is(errs[0], proto.ErrObjectLost) || !errors.Is(errs[1], proto.ErrOwnerDied) {
		t.Fatalf("AddRefs of a freed and a dead owner's object: %v, want ObjectLost and OwnerDied", errs)
	}
	if c.owner.refs.get(ref.ID) != nil {
		t.Fatalf("a failed AddRefs left an entry")
	}
	c.check()
}

// TestPutNestedPinsUntilFreed: an object whose value holds references
// keeps them after their own references go, until it is freed.
func TestPutNestedPinsUntilFreed(t *testing.T) {
	c := newCluster(t)
	inner := c.put(c.owner, big)
	var outer proto.ObjectRef
	c.owner.PutNested(i64(1), []proto.ObjectRef{inner}, func(r proto.ObjectRef, err error) {
		if err != nil {
			t.Fatal(err)
		}
		outer = r
	})
	c.owner.Release(inner)
	c.n.run(nil)
	c.check()
	if c.owner.refs.get(inner.ID) == nil || slices.Contains(c.raylet.freed, inner.ID) {
		t.Fatalf("inner object freed while the outer one holds it")
	}
	c.owner.Release(outer)
	c.n.run(nil)
	c.check()
	if c.owner.refs.get(inner.ID) != nil || !slices.Contains(c.raylet.freed, inner.ID) {
		t.Fatalf("inner object kept after the outer one was freed")
	}
	// A value holding a reference this worker does not hold is refused.
	var perr error
	c.owner.PutNested(i64(1), []proto.ObjectRef{inner}, func(_ proto.ObjectRef, err error) { perr = err })
	if perr == nil {
		t.Fatalf("PutNested with a released reference inside succeeded")
	}
	c.check()
}

// TestPinReturnUntilOwnerFrees: the references a task's return value
// holds stay with the worker that ran it until the return's owner frees
// the return; a return its owner does not know unpins at once.
func TestPinReturnUntilOwnerFrees(t *testing.T) {
	c := newCluster(t)
	refs, err := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); err != nil {
		t.Fatal(err)
	}
	spec := c.owner.refs.get(refs[0].ID).lineage
	inner := c.put(c.exec, big)
	if err := c.exec.PinReturn(spec, 0, []proto.ObjectRef{inner}); err != nil {
		t.Fatal(err)
	}
	c.exec.Release(inner)
	c.n.run(nil)
	c.check()
	if c.exec.refs.get(inner.ID) == nil || !c.exec.Owns() {
		t.Fatalf("worker dropped the object its pinned return holds")
	}
	c.owner.Release(refs[0])
	c.n.run(nil)
	c.check()
	if c.exec.refs.get(inner.ID) != nil || !slices.Contains(c.raylet.freed, inner.ID) {
		t.Fatalf("worker kept the object after the owner freed the return holding it")
	}
	// A return the owner does not (or no longer) know.
	other := c.put(c.exec, i64(3))
	if err := c.exec.PinReturn(spec, 0, []proto.ObjectRef{other}); err != nil {
		t.Fatal(err)
	}
	c.exec.Release(other)
	c.n.run(nil)
	c.check()
	if c.exec.refs.get(other.ID) != nil {
		t.Fatalf("a pin for a freed return kept its object")
	}
	if err := c.exec.PinReturn(spec, 0, []proto.ObjectRef{{ID: core.ObjectID{1}, Owner: "exec"}}); err == nil {
		t.Fatalf("PinReturn of an unheld reference succeeded")
	}
	c.check()
}

// TestBorrowerLetsGoOfSomeRefsFirst: the references of one value are
// borrowed under one WaitRefRemoved; a borrower that lets go of some
// names them in a RefsRemoved, and the owner frees those while it still
// counts the borrower for the others. A lost RefsRemoved only delays the
// frees to the wait's answer.
func TestBorrowerLetsGoOfSomeRefsFirst(t *testing.T) {
	for _, lose := range []bool{false, true} {
		name := "delivered"
		if lose {
			name = "lost"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			refs := []proto.ObjectRef{c.put(c.owner, big), c.put(c.owner, big), c.put(c.owner, big)}
			waitIDs, notes := map[uint64]bool{}, 0 // a call's request is resent until answered
			c.n.drop = func(e envelope) bool {
				if r, ok := e.m.(*rpc.Request); ok {
					if inner, err := r.Carried(); err == nil {
						if _, ok := inner.(*proto.WaitRefRemoved); ok {
							waitIDs[r.ID] = true
						}
					}
				}
				if _, ok := e.m.(*proto.RefsRemoved); ok {
					notes++
					return lose
				}
				return false
			}
			for i, err := range c.addRefs(c.exec, refs...) {
				if err != nil {
					t.Fatalf("borrow %d: %v", i, err)
				}
			}
			for _, r := range refs {
				c.owner.Release(r)
			}
			c.n.run(nil)
			c.check()
			if len(waitIDs) != 1 || len(c.raylet.freed) != 0 {
				t.Fatalf("%d WaitRefRemoved calls for one value's references (want 1); freed %v while borrowed", len(waitIDs), c.raylet.freed)
			}
			c.exec.Release(refs[0])
			c.n.run(nil)
			c.check()
			if notes != 1 || c.exec.Stats().RefsRemovedSent != 1 {
				t.Fatalf("%d RefsRemoved delivered or lost, %d sent; want 1", notes, c.exec.Stats().RefsRemovedSent)
			}
			want := []core.ObjectID{refs[0].ID}
			if lose {
				want = nil
			}
			if !slices.Equal(c.raylet.freed, want) {
				t.Fatalf("freed %v once the borrower let go of the first, want %v", c.raylet.freed, want)
			}
			c.exec.Release(refs[1])
			c.exec.Release(refs[2])
			c.n.run(nil)
			c.check()
			got := slices.Clone(c.raylet.freed)
			slices.SortFunc(got, compareIDs)
			all := []core.ObjectID{refs[0].ID, refs[1].ID, refs[2].ID}
			slices.SortFunc(all, compareIDs)
			if !slices.Equal(got, all) || len(c.owner.borrowWaits) != 0 {
				t.Fatalf("freed %v after the borrower let go of all, want %v; %d waits kept", got, all, len(c.owner.borrowWaits))
			}
		})
	}
}
