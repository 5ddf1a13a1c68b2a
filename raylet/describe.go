package raylet

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
)

// What a raylet's leases wait for, in words: a liveness failure quotes it
// so that a user reads which request is stuck behind which holder without
// replaying the seed. Everything here only reads state (it never asks the
// policy, whose SPREAD strategy keeps a cursor); iteration is over sorted
// keys, so the text is a function of the state alone.

// DescribeLeases describes the node's lease queue and leases, one line
// each: a first line with the node, its resources available of its total
// and its counts; then each queued request in queue order with its owner,
// resource shape, age and why it waits (resources busy and who holds
// them, no idle worker, a worker launching, arguments being fetched, the
// node fenced or not registered yet); each granted lease with its holder,
// worker and age, sorted by holder; each pull in progress; each worker
// launch not registered yet. At most linesMax lines are returned, the
// last then saying how many were left out. The slice is the caller's.
func (r *Raylet) DescribeLeases(linesMax int) []string {
	if r.env == nil {
		return []string{"not started"}
	}
	now := r.env.Now()
	granted := r.grantedLeases()
	lines := []string{fmt.Sprintf("%v: available %v of %v; %d queued, %d granted, %d pulls, %d workers (%d idle)",
		r.node, amounts(r.available, r.cfg.Resources), r.cfg.Resources, len(r.queue), len(granted), len(r.pulls), len(r.workers), r.idleWorkers())}
	more := 0
	add := func(s string) {
		if len(lines) >= linesMax {
			more++
			return
		}
		lines = append(lines, s)
	}
	for _, l := range r.queue {
		add(fmt.Sprintf("queued %s: %s for %v: %s", describeRequest(l), placing(&l.req.Spec), since(now, l.queued), r.whyWaits(l, granted)))
	}
	for _, l := range granted {
		add(fmt.Sprintf("granted %s: %s to worker %s for %v", describeRequest(l), holding(&l.req.Spec), l.worker.addr, since(now, l.granted)))
	}
	for _, id := range r.sortedPulls() {
		p := r.pulls[id]
		from := "no location left"
		if p.locIdx < len(p.locs) {
			from = fmt.Sprintf("%v (%s)", p.locs[p.locIdx].Node, p.locs[p.locIdx].Raylet)
		}
		size := "size unknown yet"
		if p.size >= 0 {
			size = fmt.Sprintf("%d of %d bytes", p.offset, p.size)
		}
		state := "in flight"
		if p.queued {
			state = "queued behind other pulls"
		}
		add(fmt.Sprintf("pull %s from %s: %s, %s, %d waiting", id.Short(), from, size, state, len(p.waiters)))
	}
	tokens := make([]string, 0, len(r.launches))
	for t := range r.launches { //gray:unordered sorted below
		tokens = append(tokens, t)
	}
	slices.Sort(tokens)
	for _, t := range tokens {
		l := r.launches[t]
		add(fmt.Sprintf("launch %s of job binary %s for %v: not registered for %v", t, short(l.binary), l.job, since(now, l.started)))
	}
	if more > 0 {
		if len(lines) > 1 {
			more++
			lines = lines[:len(lines)-1]
		}
		lines = append(lines, fmt.Sprintf("… %d more", more))
	}
	return lines
}

// describeRequest names a request: its holder (owner) and lease id, and
// its task.
func describeRequest(l *leaseRequest) string {
	spec := &l.req.Spec
	s := fmt.Sprintf("lease %s/%d (%s %s attempt %d", l.key.owner, l.key.id, spec.Function, spec.TaskID.Short(), spec.Attempt)
	if spec.ActorCreation {
		s += fmt.Sprintf(", creates %s for %s", spec.ActorID.Short(), spec.Owner)
	}
	if l.req.Spilled {
		s += ", spilled here"
	}
	return s + ")"
}

// whyWaits says why queued request l was not granted by the last
// scheduling pass, following tryDispatch's checks in order. granted are
// the granted leases, sorted.
func (r *Raylet) whyWaits(l *leaseRequest, granted []*leaseRequest) string {
	spec := &l.req.Spec
	switch {
	case r.fenced:
		return "node fenced (declared dead); it grants nothing more"
	case !r.registered:
		return "node not registered with the GCS yet; nothing is granted before"
	case spec.Strategy.Bundle != nil && !nodeSlot(spec).FitsIn(r.available):
		return fmt.Sprintf("an actor in placement group bundle %v waits for an actor slot of the node (its worker cap): %s",
			bundleKey{spec.Strategy.Bundle.Group, spec.Strategy.Bundle.Index}, r.holders(nodeSlot(spec), granted))
	case spec.Strategy.Bundle != nil:
		return fmt.Sprintf("waits for %v free in placement group bundle %v (granted leases of the bundle hold the rest)", bundleHold(spec), bundleKey{spec.Strategy.Bundle.Group, spec.Strategy.Bundle.Index})
	case !placing(spec).FitsIn(r.cfg.Resources):
		return fmt.Sprintf("does not fit this node's total %v; waits for a node that fits to have room", r.cfg.Resources)
	case spec.ActorCreation && !actorSlotOne.FitsIn(r.available):
		return r.workerCapReason()
	case !placing(spec).FitsIn(r.available):
		return "resources busy: " + r.holders(placing(spec), granted)
	case l.fetching > 0:
		return fmt.Sprintf("fetching %d of its arguments to this node", l.fetching)
	}
	binary := r.binaryFor(spec)
	if binary != "" && r.cfg.Launcher == nil {
		return "needs a worker of job binary " + short(binary) + ", and this node has no launcher"
	}
	if b, ok := r.badBinaries[binary]; ok && binary != "" && r.env.Now().Before(b.until) {
		return fmt.Sprintf("job binary %s cannot run here: %s", short(binary), b.reason) // binaryError, without its clean-up
	}
	if r.idleWorker(binary, spec.Job) != nil {
		return "fits and a worker is idle: granted or spilled back on the next scheduling pass"
	}
	if l.workerCap {
		return r.workerCapReason()
	}
	if binary == "" {
		if r.cfg.Launcher != nil {
			return fmt.Sprintf("no idle worker: all %d of the node's workers hold leases or are not registered; %d being started", r.ownWorkers(), r.starting("", core.JobID{}))
		}
		return fmt.Sprintf("no idle worker: all %d of the node's workers hold leases or are not registered", r.ownWorkers())
	}
	return fmt.Sprintf("no idle worker of job binary %s for %v; %d launched, not registered yet", short(binary), spec.Job, r.starting(binary, spec.Job))
}

// starting counts the workers of binary's pool for job being launched.
func (r *Raylet) starting(binary string, job core.JobID) int {
	n := 0
	for _, ln := range r.launches { //gray:unordered counting
		if ln.binary == binary && ln.job == job {
			n++
		}
	}
	return n
}

// holders says which resources of need are short and which granted
// leases hold them.
func (r *Raylet) holders(need core.Resources, granted []*leaseRequest) string {
	var short []string
	var names []string
	for _, e := range need {
		if have := r.available.Get(e.Name); have < e.Amount {
			short = append(short, fmt.Sprintf("%s (needs %v, %v available)", e.Name, e.Amount, have))
			names = append(names, e.Name)
		}
	}
	var held []string
	for _, l := range granted {
		for _, n := range names {
			if holding(&l.req.Spec).Get(n) > 0 {
				held = append(held, fmt.Sprintf("%s on worker %s", describeRequest(l), l.worker.addr))
				break
			}
		}
	}
	s := strings.Join(short, ", ")
	switch {
	case len(held) == 0:
		return s + "; held by no lease here (the node's total is smaller than the sum of its leases' shapes?)"
	case len(held) > holdersMax:
		return fmt.Sprintf("%s; held by %s and %d more leases", s, strings.Join(held[:holdersMax], "; "), len(held)-holdersMax)
	}
	return s + "; held by " + strings.Join(held, "; ")
}

// holdersMax bounds the holders one line names.
const holdersMax = 4

// grantedLeases returns the granted leases sorted by holder and id.
func (r *Raylet) grantedLeases() []*leaseRequest {
	var out []*leaseRequest
	for _, l := range r.leases { //gray:unordered sorted below
		if l.worker != nil {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b *leaseRequest) int { return cmpLeaseKey(a.key, b.key) })
	return out
}

func (r *Raylet) idleWorkers() int {
	n := 0
	for _, w := range r.workers { //gray:unordered counting
		if !w.busy() {
			n++
		}
	}
	return n
}

func (r *Raylet) ownWorkers() int {
	n := 0
	for _, w := range r.workers { //gray:unordered counting
		if w.binary == "" {
			n++
		}
	}
	return n
}

func (r *Raylet) sortedPulls() []core.ObjectID {
	ids := make([]core.ObjectID, 0, len(r.pulls))
	for id := range r.pulls { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b core.ObjectID) int { return strings.Compare(string(a[:]), string(b[:])) })
	return ids
}

// amounts formats avail as Resources.String does, but with every
// resource of total, also those of which nothing is left.
func amounts(avail, total core.Resources) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range total {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %v", e.Name, avail.Get(e.Name))
	}
	b.WriteByte('}')
	return b.String()
}

// since is how long ago t was, to the millisecond.
func since(now, t time.Time) time.Duration { return now.Sub(t).Round(time.Millisecond) }

// describeLinesMax bounds the lease lines Describe lists.
const describeLinesMax = 200

// Describe implements sim.Describer.
func (r *Raylet) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %v fenced=%v available=%v queue=%d leases=%d pulls=%d stats=%+v\n", r.node, r.fenced, r.available, len(r.queue), len(r.leases), len(r.pulls), r.stats)
	for _, a := range r.sortedWorkerAddrs() {
		w := r.workers[a]
		fmt.Fprintf(&b, "  worker %s %v leases=%d\n", a, w.id, len(w.leases))
	}
	if r.policy != nil {
		for _, v := range r.viewList() {
			fmt.Fprintf(&b, "  view %v alive=%v available=%v\n", v.ID, v.Alive, v.Available)
		}
	}
	for _, l := range r.DescribeLeases(describeLinesMax)[1:] {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	for _, bu := range r.sortedBundles() {
		fmt.Fprintf(&b, "  bundle %v committed=%v reserves=%v available=%v\n", bu.key, bu.committed, bu.res, bu.avail)
	}
	if r.store != nil {
		b.WriteString(r.store.Describe())
	}
	return b.String()
}
