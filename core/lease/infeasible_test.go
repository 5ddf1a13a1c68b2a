package lease

import (
	"testing"
	"time"

	"github.com/grayrt/gray/core/proto"
)

// TestInfeasible: a wait starts at the first report and keeps its start
// through later reports (a request made again), so a bound armed at the
// start is due only in that wait; a Feasible report ends it.
func TestInfeasible(t *testing.T) {
	var i Infeasible
	t0 := time.Unix(100, 0)
	if started, _, _ := i.Report(&proto.LeaseInfeasible{Reason: "no GPU"}, t0); !started || !i.Waiting() || !i.Since.Equal(t0) {
		t.Fatalf("first report: started %v, %+v", started, i)
	}
	if started, _, _ := i.Report(&proto.LeaseInfeasible{Reason: "still no GPU"}, t0.Add(time.Second)); started || i.Reason != "still no GPU" || !i.Since.Equal(t0) {
		t.Fatalf("second report: started %v, %+v; want the wait kept, with the new reason", started, i)
	}
	if !i.Due(t0) {
		t.Fatal("the bound armed at the wait's start is not due")
	}
	if _, waited, ended := i.Report(&proto.LeaseInfeasible{Feasible: true}, t0.Add(3*time.Second)); !ended || waited != 3*time.Second || i.Waiting() {
		t.Fatalf("feasible report: ended %v after %v, %+v", ended, waited, i)
	}
	if i.Due(t0) {
		t.Fatal("a bound of an ended wait is due")
	}
	i.Report(&proto.LeaseInfeasible{Reason: "again"}, t0.Add(4*time.Second))
	if i.Due(t0) {
		t.Fatal("a bound of an earlier wait is due in a new one")
	}
	if _, _, ended := (&Infeasible{}).Report(&proto.LeaseInfeasible{Feasible: true}, t0); ended {
		t.Fatal("a feasible report ended a wait that never started")
	}
}
