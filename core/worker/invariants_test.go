package worker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// TestCheckInvariantsReportsCorruption: an owner holding a Put object,
// a running task computed from it (its return pending, the object pinned
// by lineage) and a borrowed reference passes CheckInvariants; each
// planted bug in that state is reported.
func TestCheckInvariantsReportsCorruption(t *testing.T) {
	type state struct {
		w                  *Worker
		put, ret, borrowed *objEntry
	}
	setup := func(t *testing.T) state {
		t.Helper()
		c := newCluster(t)
		var put proto.ObjectRef
		c.owner.Put(i64(1), func(r proto.ObjectRef, err error) {
			if err != nil {
				t.Fatal(err)
			}
			put = r
		})
		refs, err := c.owner.SubmitTask("hang", []proto.Arg{{Ref: &put}}, TaskOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.n.run(func() bool { return len(c.x.hung) == 1 })
		other := proto.ObjectRef{ID: core.ObjectIDForPut(core.DriverTaskID(core.JobIDFromInt(2)), 1), Owner: "driver-2"}
		if err := c.owner.AddLocalRef(other); err != nil {
			t.Fatal(err)
		}
		s := state{w: c.owner, put: c.owner.refs.get(put.ID), ret: c.owner.refs.get(refs[0].ID), borrowed: c.owner.refs.get(other.ID)}
		if s.put.submitted != 1 || s.put.lineageRefs != 1 || s.ret.state != objPending {
			t.Fatalf("setup: put submitted %d lineage %d, return state %v; want 1, 1, pending", s.put.submitted, s.put.lineageRefs, s.ret.state)
		}
		if err := c.owner.CheckInvariants(); err != nil {
			t.Fatalf("CheckInvariants() of a healthy worker = %v, want nil", err)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		corrupt func(s state)
		want    string
	}{
		{"negative local count", func(s state) { s.put.local = -1 }, "negative counts"},
		{"entry left out of scope", func(s state) { s.borrowed.local = 0 }, "out of scope"},
		{"borrower recorded on a borrowed object", func(s state) { s.borrowed.borrowers["worker-9"] = 1 }, "only an owner tracks those"},
		{"ready object lost its value", func(s state) { s.put.inline = nil }, "neither a value nor a copy"},
		{"failed without an error", func(s state) { s.borrowed.state = objFailed }, "failed without an error"},
		{"pending return without its task", func(s state) {
			spec := *s.ret.lineage
			spec.TaskID = core.NewTaskID(spec.Job, core.TaskID{}, 999)
			s.ret.lineage = &spec
		}, "is pending, but its task"},
		{"submitted count drifts", func(s state) { s.put.submitted++ }, "submitted references"},
		{"lineage pin drifts", func(s state) { s.put.lineageRefs++ }, "lineage pins"},
		{"argument dropped from the table", func(s state) { delete(s.w.refs.objs, s.put.id) }, "not in the reference table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			tc.corrupt(s)
			if err := s.w.CheckInvariants(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckInvariants() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("counts are not checked after FreeOwned", func(t *testing.T) {
		s := setup(t)
		s.w.exited = true // as FreeOwned leaves it, with tasks still pending
		s.put.submitted++
		if err := s.w.CheckInvariants(); err != nil {
			t.Fatalf("CheckInvariants() after FreeOwned = %v, want nil", err)
		}
	})
}

// TestDoubleReleasePanics: releasing a reference twice is a bug of the
// caller and panics (it used to be ignored, hiding the bug), except after
// FreeOwned, which dropped every reference already.
func TestDoubleReleasePanics(t *testing.T) {
	c := newCluster(t)
	var ref proto.ObjectRef
	c.owner.Put(i64(1), func(r proto.ObjectRef, err error) { ref = r })
	c.owner.Release(ref)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "released twice") {
				t.Fatalf("second Release: recovered %v, want a panic naming a double release", r)
			}
		}()
		c.owner.Release(ref)
	}()
	c.owner.Put(i64(2), func(r proto.ObjectRef, err error) { ref = r })
	c.owner.FreeOwned()
	c.owner.Release(ref) // harmless: FreeOwned dropped it
}
