package raylet

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/grayrt/gray/core"
)

// CheckInvariants checks the raylet's bookkeeping and returns the first
// violation, or nil:
//
//   - resources: available is never above the total and is the total
//     minus what the granted leases hold (a blocked lease holds no
//     CPUs); only CPUs can be negative (over-subscribed by leases that
//     took their CPUs back after blocking, as in Ray);
//   - leases: a granted lease and its worker point at each other and the
//     worker is in the pool; a lease not granted is queued, once; nothing
//     is granted before the node registered;
//   - pulls: transient bytes are the sum of the transient buffers, bytes
//     in flight are not negative, a queued pull is in the pull queue, and
//     no pull waits in the queue while nothing is in flight (it would
//     never start);
//   - primary copies: the owner index and the object index agree, and the
//     store pins exactly the tracked primary copies;
//   - the plasma store's own invariants (plasma.Store.CheckInvariants).
//
// It reads every table: the simulator calls it after every event only in
// builds with the invariants tag (package internal/invariants). It must
// not be called before Start.
func (r *Raylet) CheckInvariants() error {
	for _, check := range []func() error{r.invResources, r.invBundles, r.invLeases, r.invPulls, r.invPrimaries, r.store.CheckInvariants} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// invResources checks available against the total and the grants.
func (r *Raylet) invResources() error {
	for _, x := range r.available {
		if x.Amount < 0 && x.Name != core.CPU {
			return fmt.Errorf("raylet: available resources %v are negative", r.available)
		}
	}
	held := r.cfg.Resources.Sub(r.available)
	if held.AnyNegative() {
		return fmt.Errorf("raylet: available resources %v exceed the node's total %v", r.available, r.cfg.Resources)
	}
	var granted core.Resources
	for _, l := range r.leases { //gray:unordered an exact fixed-point sum
		if l.worker == nil {
			continue
		}
		if l.bundle == nil || l.bundle.returned {
			granted = granted.Add(l.held())
		} else {
			granted = granted.Add(l.nodeHold(l.held())) // the rest is the bundle's
		}
	}
	for _, b := range r.sortedBundles() {
		granted = granted.Add(b.res)
	}
	if !granted.Equal(held) {
		return fmt.Errorf("raylet: granted leases and bundles hold %v, but total %v minus available %v is %v", granted, r.cfg.Resources, r.available, held)
	}
	return nil
}

// invLeases checks that leases, the queue and the worker pool agree.
func (r *Raylet) invLeases() error {
	queued := make(map[*leaseRequest]bool, len(r.queue))
	for i, l := range r.queue {
		switch {
		case queued[l]:
			return fmt.Errorf("raylet: lease request %s/%d is queued twice", l.key.owner, l.key.id)
		case r.leases[l.key] != l:
			return fmt.Errorf("raylet: queued lease request %s/%d (position %d) is not in the lease table", l.key.owner, l.key.id, i)
		case l.worker != nil:
			return fmt.Errorf("raylet: queued lease request %s/%d is granted to %s", l.key.owner, l.key.id, l.worker.addr)
		}
		queued[l] = true
	}
	keys := make([]leaseKey, 0, len(r.leases))
	for k := range r.leases { //gray:unordered sorted below
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpLeaseKey)
	for _, k := range keys {
		l := r.leases[k]
		w := l.worker
		switch {
		case l.key != k:
			return fmt.Errorf("raylet: the lease table maps %s/%d to lease %s/%d", k.owner, k.id, l.key.owner, l.key.id)
		case w == nil && !queued[l]:
			return fmt.Errorf("raylet: lease request %s/%d is neither granted nor queued", k.owner, k.id)
		case w == nil:
		case !r.registered:
			return fmt.Errorf("raylet: lease %s/%d granted before the node registered", k.owner, k.id)
		case r.workers[w.addr] != w:
			return fmt.Errorf("raylet: lease %s/%d is granted to worker %s, which is not in the pool", k.owner, k.id, w.addr)
		case !slices.Contains(w.leases, l):
			return fmt.Errorf("raylet: lease %s/%d is granted to worker %s, which does not hold it", k.owner, k.id, w.addr)
		}
	}
	for _, a := range r.sortedWorkerAddrs() {
		w := r.workers[a]
		switch {
		case w.addr != a:
			return fmt.Errorf("raylet: the pool maps %s to worker %s", a, w.addr)
		case !r.workerAddrs[a]:
			return fmt.Errorf("raylet: worker %s is in the pool but not among the registered addresses (a fence would not tell it)", a)
		}
		for i, l := range w.leases {
			switch {
			case r.leases[l.key] != l || l.worker != w:
				return fmt.Errorf("raylet: worker %s holds lease %s/%d, which is not granted to it", a, l.key.owner, l.key.id)
			case slices.Index(w.leases, l) != i:
				return fmt.Errorf("raylet: worker %s holds lease %s/%d twice", a, l.key.owner, l.key.id)
			}
		}
	}
	return nil
}

// invPulls checks the byte accounting of pulls and the pull queue.
func (r *Raylet) invPulls() error {
	if r.inPull < 0 {
		return fmt.Errorf("raylet: %d bytes of pulls in flight", r.inPull)
	}
	inQueue := make(map[*pull]bool, len(r.pullQ))
	for _, p := range r.pullQ {
		if !p.queued {
			return fmt.Errorf("raylet: pull of %v is in the pull queue but not marked queued", p.id)
		}
		inQueue[p] = true
	}
	var transient int64
	ids := make([]core.ObjectID, 0, len(r.pulls))
	for id, p := range r.pulls { //gray:unordered a sum, and ids sorted below
		transient += int64(len(p.buf))
		ids = append(ids, id)
	}
	if transient != r.transient {
		return fmt.Errorf("raylet: transient copies count %d bytes, but the pulls' buffers hold %d", r.transient, transient)
	}
	slices.SortFunc(ids, func(a, b core.ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		p := r.pulls[id]
		switch {
		case p.id != id:
			return fmt.Errorf("raylet: the pull table maps %v to a pull of %v", id, p.id)
		case p.queued && !inQueue[p]:
			return fmt.Errorf("raylet: pull of %v is marked queued but not in the pull queue", id)
		case p.queued && r.inPull == 0:
			return fmt.Errorf("raylet: pull of %v waits in the pull queue while no chunk is in flight: nothing would start it", id)
		case p.locIdx < 0 || p.locIdx >= len(p.locs):
			return fmt.Errorf("raylet: pull of %v is at location %d of %d", id, p.locIdx, len(p.locs))
		}
	}
	var held int64
	for _, h := range r.heldReads { //gray:unordered a sum
		held += int64(len(h.data))
	}
	if held != r.heldReadBytes {
		return fmt.Errorf("raylet: held transient reads count %d bytes, but hold %d", r.heldReadBytes, held)
	}
	puts := make([]core.ObjectID, 0, len(r.puts))
	for id := range r.puts { //gray:unordered sorted below
		puts = append(puts, id)
	}
	slices.SortFunc(puts, func(a, b core.ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range puts {
		switch {
		case !r.store.Unsealed(id):
			return fmt.Errorf("raylet: chunked put of %v has no unsealed object in the store", id)
		case r.pulls[id] != nil && r.pulls[id].created:
			return fmt.Errorf("raylet: %v is put in chunks and pulled into the store at once", id)
		}
	}
	return nil
}

// invPrimaries checks the owner index of primary copies against the
// object index and the store's pins.
func (r *Raylet) invPrimaries() error {
	for _, o := range r.sortedOwners() {
		if len(o.objs) == 0 {
			return fmt.Errorf("raylet: owner %s/%d is tracked with no primary copies", o.key.addr, o.key.id)
		}
		if r.owners[o.key] != o {
			return fmt.Errorf("raylet: owner %s/%d is indexed under another key", o.key.addr, o.key.id)
		}
		for _, id := range o.sortedIDs() {
			if k, ok := r.primaries[id]; !ok || k != o.key {
				return fmt.Errorf("raylet: owner %s/%d lists primary copy %v, which the object index gives to %s/%d", o.key.addr, o.key.id, id, k.addr, k.id)
			}
		}
	}
	pinned := 0
	for _, obj := range r.store.Objects() {
		k, tracked := r.primaries[obj.ID]
		switch {
		case obj.Primary && !tracked:
			return fmt.Errorf("raylet: the store pins %v as a primary copy, but no owner is tracked for it", obj.ID)
		case tracked && (!obj.Primary || obj.Deleting):
			return fmt.Errorf("raylet: %v is tracked as a primary copy of %s/%d, but the store does not pin it (primary %v, deleting %v)", obj.ID, k.addr, k.id, obj.Primary, obj.Deleting)
		case tracked:
			pinned++
			if o := r.owners[k]; o == nil || !hasObj(o, obj.ID) {
				return fmt.Errorf("raylet: primary copy %v names owner %s/%d, which does not list it", obj.ID, k.addr, k.id)
			}
		}
	}
	if pinned != len(r.primaries) {
		return fmt.Errorf("raylet: %d primary copies are tracked, but the store holds %d of them", len(r.primaries), pinned)
	}
	return nil
}

func hasObj(o *owner, id core.ObjectID) bool {
	_, ok := o.objs[id]
	return ok
}
