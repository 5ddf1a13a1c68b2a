package worker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// What a core worker waits for, in words: a liveness failure quotes it so
// that a user reads why a program is stuck without replaying the seed.
// Everything here only reads state; iteration is over sorted keys, so the
// text is a function of the state alone.

// blockedObj is an object that user code (a driver's program, a task
// body, a task's arguments being resolved) waits for in Get or Wait.
type blockedObj struct {
	ref         proto.ObjectRef
	gets, waits int
	since       time.Time
	copies      []proto.Location // a borrowed object's copies, as its owner last reported them
}

// block records that user code waits for ref in Get (wait false) or Wait.
func (w *Worker) block(ref proto.ObjectRef, wait bool) {
	b := w.blocked[ref.ID]
	if b == nil {
		b = &blockedObj{ref: ref, since: w.env.Now()}
		w.blocked[ref.ID] = b
	}
	if wait {
		b.waits++
	} else {
		b.gets++
	}
}

// unblock undoes one block.
func (w *Worker) unblock(id core.ObjectID, wait bool) {
	b := w.blocked[id]
	if b == nil {
		return
	}
	if wait {
		b.waits--
	} else {
		b.gets--
	}
	if b.gets <= 0 && b.waits <= 0 {
		delete(w.blocked, id)
	}
}

// Blocked returns the number of objects user code waits for in Get or
// Wait.
func (w *Worker) Blocked() int { return len(w.blocked) }

// DescribeWaits describes, one line each, what the worker waits for: its
// pending tasks (waiting for their arguments, requesting a lease from
// which raylet since when, or running on which worker), its pending actor
// calls (actor not alive yet, or sent and awaiting the reply), the
// objects user code waits for in Get or Wait (owner, state, known
// copies) and cancelled tasks still returning. Lines are in a fixed order
// (tasks, calls and objects each sorted by id); at most linesMax are
// returned, the last of them then saying how many were left out. The
// slice is the caller's.
func (w *Worker) DescribeWaits(linesMax int) []string {
	var lines []string
	full := func() bool { return len(lines) >= linesMax }
	more := 0
	add := func(s string) {
		if full() {
			more++
			return
		}
		lines = append(lines, s)
	}
	now := w.env.Now()
	for _, id := range w.sortedTaskIDs() {
		add(w.describeTask(w.tasks[id], now))
	}
	for _, id := range w.sortedViewIDs() {
		v := w.views[id]
		for _, seq := range v.sortedSeqs() {
			add(describeCall(v, v.calls[seq], now))
		}
	}
	for _, id := range w.sortedBlocked() {
		add(w.describeBlocked(w.blocked[id], now))
	}
	for _, k := range w.interruptedKeys() {
		t := w.interrupted[k]
		add(fmt.Sprintf("cancelled task %s %s attempt %d: its body on %s is still returning (lease %d)", t.spec.Function, t.spec.TaskID.Short(), t.spec.Attempt, t.worker, k.lease))
	}
	if more > 0 {
		if len(lines) > 0 {
			more++
			lines = lines[:len(lines)-1]
		}
		lines = append(lines, fmt.Sprintf("… %d more", more))
	}
	return lines
}

// describeTask says what task t waits for.
func (w *Worker) describeTask(t *pendingTask, now time.Time) string {
	head := fmt.Sprintf("task %s %s attempt %d", t.spec.Function, t.spec.TaskID.Short(), t.spec.Attempt)
	switch t.phase {
	case phaseResolving:
		var args []string
		for _, a := range t.spec.Args {
			if a.Ref == nil || a.Ref.Owner != w.self {
				continue
			}
			if e := w.refs.get(a.Ref.ID); e != nil && e.state == objPending {
				args = append(args, a.Ref.ID.Short())
			}
		}
		return fmt.Sprintf("%s: waiting for its arguments %s for %v", head, listMax(args, 4), since(now, t.since))
	case phaseLeasing:
		if t.infeasible.Waiting() {
			return fmt.Sprintf("%s: infeasible, waiting for a node that can run it (%s) for %v", head, t.infeasible.Reason, since(now, t.infeasible.Since))
		}
		if t.queued {
			return fmt.Sprintf("%s: waiting for a lease of its kind (%v; %d requests of its kind are out) for %v", head, t.spec.Resources, w.requesting[t.class], since(now, t.since))
		}
		return fmt.Sprintf("%s: requesting a lease (%d, %v) from %s for %v", head, leaseID(t), t.spec.Resources, leaseRaylet(t), since(now, t.since))
	default:
		return fmt.Sprintf("%s: leased worker %s on %v (lease %d from %s), running, awaiting its result for %v", head, t.worker, t.node, t.leaseID, t.raylet, since(now, t.since))
	}
}

// describeCall says what actor call c waits for.
func describeCall(v *actorView, c *actorCall, now time.Time) string {
	head := fmt.Sprintf("call %s %s seq %d to %s", c.spec.Function, c.spec.TaskID.Short(), c.seq, v.id.Short())
	state := "state unknown (its record not read from the GCS yet)"
	if v.state != 0 {
		state = v.state.String()
	}
	switch {
	case c.sentInc >= 0:
		return fmt.Sprintf("%s: sent to incarnation %d at %s, awaiting its reply for %v", head, c.sentInc, c.sentTo.addr, since(now, c.since))
	case v.state == gcs.ActorAlive:
		return fmt.Sprintf("%s: refused by %s (another incarnation), to be sent again for %v", head, v.addr, since(now, c.since))
	default:
		return fmt.Sprintf("%s: actor not alive yet (%s), not sent for %v", head, state, since(now, c.since))
	}
}

// describeBlocked says what is known of an object user code waits for.
func (w *Worker) describeBlocked(b *blockedObj, now time.Time) string {
	var how []string
	if b.gets > 0 {
		how = append(how, fmt.Sprintf("%d Get", b.gets))
	}
	if b.waits > 0 {
		how = append(how, fmt.Sprintf("%d Wait", b.waits))
	}
	head := fmt.Sprintf("object %s in %s for %v", b.ref.ID.Short(), strings.Join(how, ", "), since(now, b.since))
	e := w.refs.get(b.ref.ID)
	if e == nil || e.owner != "" {
		copies := "no copies reported yet"
		if len(b.copies) > 0 {
			copies = "copies on " + describeLocations(b.copies)
		}
		return fmt.Sprintf("%s: owned by %s, %s", head, b.ref.Owner, copies)
	}
	switch e.state {
	case objPending:
		by := "its task"
		if t := w.tasks[b.ref.ID.Task()]; t != nil {
			by = fmt.Sprintf("task %s %s", t.spec.Function, t.spec.TaskID.Short())
		} else if b.ref.ID.Task().Actor() != (core.ActorID{}) && !b.ref.ID.IsPut() {
			by = "its actor call"
		}
		return fmt.Sprintf("%s: owned here, pending until %s finishes", head, by)
	case objFailed:
		return fmt.Sprintf("%s: owned here, failed: %v", head, e.err)
	}
	if len(e.locations) == 0 {
		return fmt.Sprintf("%s: owned here, ready inline", head)
	}
	return fmt.Sprintf("%s: owned here, ready, fetching a copy from %s", head, describeLocations(e.sortedLocations()))
}

func (w *Worker) sortedBlocked() []core.ObjectID {
	ids := make([]core.ObjectID, 0, len(w.blocked))
	for id := range w.blocked { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

func describeLocations(locs []proto.Location) string {
	s := make([]string, len(locs))
	for i, l := range locs {
		s[i] = fmt.Sprintf("%v (%s)", l.Node, l.Raylet)
	}
	return listMax(s, 3)
}

// listMax joins at most n items, saying how many more there are.
func listMax(items []string, n int) string {
	if len(items) == 0 {
		return "(none pending)"
	}
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// since is how long ago t was, to the millisecond.
func since(now, t time.Time) time.Duration { return now.Sub(t).Round(time.Millisecond) }

// Describe summarises the worker's state for `gray sim replay --until`.
func (w *Worker) Describe() string {
	s := fmt.Sprintf("tasks pending=%d objects=%d calls=%d stats=%+v", len(w.tasks), len(w.refs.objs), w.cli.Pending(), w.stats)
	if len(w.interrupted) > 0 {
		s += fmt.Sprintf(" cancelled_still_running=%d", len(w.interrupted))
	}
	if w.actor != nil {
		s += " " + w.actor.describe()
	}
	if len(w.owned) > 0 || len(w.views) > 0 {
		s += fmt.Sprintf(" owned_actors=%d actor_calls=%d", len(w.owned), w.PendingActorCalls())
	}
	for _, l := range w.DescribeWaits(describeLinesMax) {
		s += "\n    " + l
	}
	return s
}

// describeLinesMax bounds the waits Describe lists.
const describeLinesMax = 200
