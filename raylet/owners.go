package raylet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// Primary copies and their owners. In Ray an object lives as long as its
// owner: when the owner dies its objects are lost, and borrowers get
// OwnerDied. A primary copy here is pinned for its owner until the owner
// frees it (FreeObjects); an owner that is gone never will, so the raylet
// frees the primary copies of an owner once it knows the owner is gone:
//
//   - its node died (a worker dies with its node; a driver names none);
//   - it was a worker of this node and another process registered from
//     its address, or (a launched worker) its process exited;
//   - it was the driver of a job that finished;
//   - asked (OwnsObjects, every ownerCheckPeriod), the owner says it does
//     not own the object any more, or that it is another incarnation;
//     an owner that left ownerUnansweredMax checks in a row unanswered
//     is asked about where its death would be known: its node's raylet
//     (a worker) or the GCS's job table (a driver).
//
// Silence alone never frees anything: an owner that is only unreachable
// (a partition) is alive and may still read its objects.

// ownerKey names one owner incarnation.
type ownerKey struct {
	addr core.Addr
	id   uint64 // the owner's core-worker incarnation; 0 when unknown
}

func cmpOwnerKey(a, b ownerKey) int {
	if c := strings.Compare(string(a.addr), string(b.addr)); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// owner is one owner incarnation of primary copies this node holds.
type owner struct {
	key ownerKey
	// node is the node the owner dies with (nil: a driver, or unknown).
	node core.NodeID
	// objs are its primary copies here, with the job each was made for.
	objs map[core.ObjectID]core.JobID
	// unanswered counts checks in a row the owner left unanswered;
	// checking and asking mark a check of the owner, and an inquiry
	// about it at its node's raylet, in flight.
	unanswered      int
	checking, asked bool
}

// ownerCheckPeriod is how often the raylet asks the owners of its primary
// copies whether they still own them.
const ownerCheckPeriod = 2 * time.Second

// ownerUnansweredMax is how many checks in a row an owner may leave
// unanswered before the raylet asks where its death would be known.
const ownerUnansweredMax = 2

// workerIncsMax bounds the remembered incarnations of worker addresses
// and the remembered addresses of exited workers: forgetting one only
// delays freeing (a remote owner keeps its copies until it answers or
// its node dies), it never frees early.
const workerIncsMax = 10_000

// trackPrimary records the owner of a primary copy just pinned.
func (r *Raylet) trackPrimary(p *proto.PutObject) {
	if _, ok := r.primaries[p.ID]; ok {
		return
	}
	k := ownerKey{addr: p.Owner, id: p.OwnerID}
	o := r.owners[k]
	if o == nil {
		o = &owner{key: k, objs: map[core.ObjectID]core.JobID{}}
		r.owners[k] = o
	}
	if o.node.IsNil() {
		o.node = p.OwnerNode
	}
	o.objs[p.ID] = p.Job
	r.primaries[p.ID] = k
}

// untrackPrimary forgets the owner of a copy that is no longer primary.
func (r *Raylet) untrackPrimary(id core.ObjectID) {
	k, ok := r.primaries[id]
	if !ok {
		return
	}
	delete(r.primaries, id)
	if o := r.owners[k]; o != nil {
		delete(o.objs, id)
		if len(o.objs) == 0 {
			delete(r.owners, k)
		}
	}
}

// freeOrphans unpins and deletes primary copies whose owner is gone.
func (r *Raylet) freeOrphans(o *owner, ids []core.ObjectID, why string) {
	n := 0
	for _, id := range ids {
		if r.primaries[id] != o.key {
			continue
		}
		r.untrackPrimary(id)
		_ = r.store.Unpin(id)
		_ = r.store.Delete(id)
		n++
	}
	if n > 0 {
		r.stats.OrphansFreed += int64(n)
		r.env.Log().Info("freed the primary copies of a dead owner", "owner", string(o.key.addr), "copies", n, "why", why)
	}
}

// freeOwner frees every primary copy of o.
func (r *Raylet) freeOwner(o *owner, why string) { r.freeOrphans(o, o.sortedIDs(), why) }

func (o *owner) sortedIDs() []core.ObjectID {
	ids := make([]core.ObjectID, 0, len(o.objs))
	for id := range o.objs { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b core.ObjectID) int { return strings.Compare(string(a[:]), string(b[:])) })
	return ids
}

func (r *Raylet) sortedOwners() []*owner {
	out := make([]*owner, 0, len(r.owners))
	for _, o := range r.owners { //gray:unordered sorted below
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *owner) int { return cmpOwnerKey(a.key, b.key) })
	return out
}

// ownersNodeDied frees the primary copies of owners that died with node.
func (r *Raylet) ownersNodeDied(node core.NodeID) {
	for _, o := range r.sortedOwners() {
		if o.node == node {
			r.freeOwner(o, fmt.Sprintf("its node %v died", node))
		}
	}
}

// workerRegistered notes the incarnation of the worker process at addr
// (0: unknown): any other incarnation that lived there is dead, and the
// primary copies it owns here are freed.
func (r *Raylet) workerRegistered(addr core.Addr, inc uint64) {
	if inc == 0 || r.workerIncs[addr] == inc {
		return
	}
	if len(r.workerIncs) >= workerIncsMax {
		clear(r.workerIncs)
	}
	r.workerIncs[addr] = inc
	for _, o := range r.sortedOwners() {
		if o.key.addr == addr && o.key.id != 0 && o.key.id != inc {
			r.freeOwner(o, "another process registered from its address")
		}
	}
}

// workerGone notes that the worker process at addr exited for good (a
// launched worker): the primary copies it owns here are freed.
func (r *Raylet) workerGone(addr core.Addr) {
	if len(r.exitedWorkers) >= workerIncsMax {
		clear(r.exitedWorkers)
	}
	r.exitedWorkers[addr] = true
	r.abortPuts(addr)
	for _, o := range r.sortedOwners() {
		if o.key.addr == addr {
			r.freeOwner(o, "its worker process exited")
		}
	}
}

// ownerDeadHere reports whether k was a worker of this node known dead:
// its process exited, or another registered from its address.
func (r *Raylet) ownerDeadHere(k ownerKey) bool {
	if r.exitedWorkers[k.addr] {
		return true
	}
	inc, ok := r.workerIncs[k.addr]
	return ok && k.id != 0 && inc != k.id
}

// handleOwnsObjects answers another raylet that holds primary copies of
// one of this node's workers, which left its checks unanswered: Dead if
// the worker is known dead here, otherwise nothing is known.
func (r *Raylet) handleOwnsObjects(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.OwnsObjects)
	reply(&proto.OwnsObjectsReply{Dead: r.ownerDeadHere(ownerKey{addr: q.Owner, id: q.OwnerID})}, nil)
}

// checkOwners runs every ownerCheckPeriod: it frees the copies of owners
// whose death it can tell at once, and asks every other owner which of
// its copies it still owns.
func (r *Raylet) checkOwners() {
	if r.fenced {
		return
	}
	r.env.AfterFunc(ownerCheckPeriod, r.checkOwners)
	askJobs := false
	for _, o := range r.sortedOwners() {
		// Deaths learnt before the copy arrived (a late put of a
		// return whose owner died meanwhile).
		if v := r.views[o.node]; !o.node.IsNil() && v != nil && !v.Alive {
			r.freeOwner(o, fmt.Sprintf("its node %v died", o.node))
			continue
		}
		if o.node == r.node && r.ownerDeadHere(o.key) {
			r.freeOwner(o, "it was a worker of this node that died")
			continue
		}
		if o.unanswered >= ownerUnansweredMax {
			if o.node.IsNil() {
				askJobs = true
			} else {
				r.askOwnerNode(o)
			}
		}
		if !o.checking {
			r.checkOwner(o)
		}
	}
	if askJobs {
		r.askJobs()
	}
}

// checkOwner asks o which of its primary copies here it still owns.
func (r *Raylet) checkOwner(o *owner) {
	ids := o.sortedIDs()
	ids = ids[:min(len(ids), proto.OwnsObjectsMax)]
	o.checking = true
	q := &proto.OwnsObjects{Owner: o.key.addr, OwnerID: o.key.id, IDs: ids}
	r.cli.Call(o.key.addr, q, rpc.Options{Timeout: ownerCheckPeriod}, func(m core.Message, err error) {
		o.checking = false
		if r.owners[o.key] != o {
			return // every copy freed meanwhile
		}
		if err != nil {
			o.unanswered++
			return
		}
		o.unanswered = 0
		rep := m.(*proto.OwnsObjectsReply)
		if rep.Dead {
			r.freeOrphans(o, ids, "another process answers at its address")
			return
		}
		r.freeOrphans(o, rep.NotOwned, "it no longer owns them")
	})
}

// askOwnerNode asks the raylet of o's node whether o is known dead there.
func (r *Raylet) askOwnerNode(o *owner) {
	if o.node == r.node {
		return // checkOwners asked ownerDeadHere already
	}
	addr, ok := r.addrs[o.node]
	if !ok || o.asked {
		return
	}
	o.asked = true
	q := &proto.OwnsObjects{Owner: o.key.addr, OwnerID: o.key.id}
	r.cli.Call(addr, q, rpc.Options{Timeout: ownerCheckPeriod}, func(m core.Message, err error) {
		o.asked = false
		if err != nil || r.owners[o.key] != o || !m.(*proto.OwnsObjectsReply).Dead {
			return
		}
		r.freeOwner(o, fmt.Sprintf("the raylet of its node %v knows it died", o.node))
	})
}

// askJobs reads the GCS's job table and frees the primary copies that
// drivers of finished jobs owned for those jobs (a driver whose own frees
// were lost before it exited never answers a check), and the leases such
// drivers no longer answer for (freeFinishedLeases).
func (r *Raylet) askJobs() {
	if r.jobsAsked {
		return
	}
	r.jobsAsked = true
	r.gcs.ListJobs(func(rep gcs.Reply, err error) {
		r.jobsAsked = false
		if err != nil {
			return
		}
		finished := map[core.JobID]core.Addr{}
		drivers := map[core.Addr]bool{}
		for _, j := range rep.Jobs {
			if j.Finished {
				finished[j.ID] = j.DriverAddr
				drivers[j.DriverAddr] = true
			}
		}
		r.finishedDrivers = drivers
		r.freeFinishedLeases()
		for _, o := range r.sortedOwners() {
			if !o.node.IsNil() {
				continue // a worker: never a job's driver
			}
			var ids []core.ObjectID
			for _, id := range o.sortedIDs() {
				if driver, ok := finished[o.objs[id]]; ok && driver == o.key.addr {
					ids = append(ids, id)
				}
			}
			r.freeOrphans(o, ids, "its job finished, and it was the job's driver")
		}
	})
}
