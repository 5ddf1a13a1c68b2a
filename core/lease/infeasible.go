package lease

import (
	"fmt"
	"time"

	"github.com/grayrt/gray/core/proto"
)

// Infeasible is a lease holder's view of a request that a raylet queued
// because no alive node can run it (proto.LeaseInfeasible, Ray's pending
// infeasible demand): why, and since when. The core worker keeps one per
// task, the GCS's actor scheduler one per actor placement; both warn on
// each report and fail the work once its bound (TaskSpec.InfeasibleWait)
// is over, counted from the first report of the wait.
type Infeasible struct {
	// Reason is the raylet's latest reason; "" while the request is not
	// known to wait for a node.
	Reason string
	// Since is when the current wait was first reported.
	Since time.Time
}

// Waiting reports whether the request waits for a node that can run it.
func (i *Infeasible) Waiting() bool { return i.Reason != "" }

// Report applies q, received at now, and reports whether it started a
// wait (the holder arms its bound then: a request made again reports
// again and keeps Since), or, for q.Feasible, ended one that lasted
// waited.
func (i *Infeasible) Report(q *proto.LeaseInfeasible, now time.Time) (started bool, waited time.Duration, ended bool) {
	if q.Feasible {
		ended, waited = i.Waiting(), now.Sub(i.Since)
		i.Reason = ""
		return false, waited, ended
	}
	started = !i.Waiting()
	if started {
		i.Since = now
	}
	i.Reason = q.Reason
	return started, 0, false
}

// Due reports whether the bound armed for the wait that started at since
// is due: the request still waits, in that same wait.
func (i *Infeasible) Due(since time.Time) bool { return i.Waiting() && i.Since.Equal(since) }

// Clear forgets the wait (the request was granted, or ended).
func (i *Infeasible) Clear() { i.Reason = "" }

// WaitBound describes, for a warning, how long work with InfeasibleWait
// wait waits for a node that can run it; verb says what that node does
// ("run", "host").
func WaitBound(wait time.Duration, verb string) string {
	if wait > 0 {
		return fmt.Sprintf("at most %v (WithInfeasibleTimeout)", wait)
	}
	return fmt.Sprintf("until a node that can %s it joins (WithInfeasibleTimeout bounds the wait)", verb)
}
