package raylet

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Placement group bundles: this raylet's side of the GCS's two-phase
// reservation (proto.PrepareBundles, CommitBundles, ReturnBundles). A
// prepared bundle's resources leave the node's available pool at once,
// so that nothing else takes them while the GCS waits for the other
// nodes; once committed, leases of tasks scheduled into the bundle
// (Strategy.Bundle) are granted from the bundle's own pool. A returned
// bundle's unheld resources go back to the node at once, its leases
// fail (their owners hear LeaseFailed) and what they still hold goes
// back to the node when they end.
//
// A bundle never outlives the GCS's decision: the heartbeat reports the
// bundles held here and the GCS answers with those to give back (a
// group removed, or a phase one it abandoned when it restarted).

// bundleKey names a bundle of a group.
type bundleKey struct {
	group core.PlacementGroupID
	index int32
}

func (k bundleKey) String() string { return fmt.Sprintf("%v[%d]", k.group, k.index) }

func compareBundleKeys(a, b bundleKey) int {
	if c := bytes.Compare(a.group[:], b.group[:]); c != 0 {
		return c
	}
	return int(a.index) - int(b.index)
}

// bundle is one bundle reserved here.
type bundle struct {
	key bundleKey
	// res is what the bundle reserves; avail the part no lease holds.
	res, avail core.Resources
	committed  bool
	// returned: given back; leases still running in it return what
	// they hold to the node.
	returned bool
	since    time.Time
}

// groupBundles are the bundles of one group reserved here, by bundle
// index (nil where the bundle is not here): a group's prepare, commit
// and return look its entry up once, and its bundles are in index order
// without a sort.
type groupBundles struct {
	at   []*bundle
	held int // how many of at are not nil
}

// bundle returns the bundle of key k held here, or nil.
func (r *Raylet) bundle(k bundleKey) *bundle {
	g := r.bundles[k.group]
	if g == nil || k.index < 0 || int(k.index) >= len(g.at) {
		return nil
	}
	return g.at[k.index]
}

// addBundle holds b, whose key holds no bundle here; indexesMax, when
// beyond b's index, sizes a new group's table at once.
func (r *Raylet) addBundle(b *bundle, indexesMax int) {
	g := r.bundles[b.key.group]
	if g == nil {
		g = &groupBundles{at: make([]*bundle, 0, max(indexesMax, int(b.key.index)+1))}
		r.bundles[b.key.group] = g
	}
	if i := int(b.key.index); i >= len(g.at) {
		n := len(g.at)
		g.at = slices.Grow(g.at, i+1-n)[:i+1]
		clear(g.at[n:])
	}
	if g.at[b.key.index] != nil {
		panic(fmt.Sprintf("raylet: bundle %v added twice", b.key))
	}
	g.at[b.key.index] = b
	g.held++
}

// dropBundle forgets the bundle of key k, which is held here.
func (r *Raylet) dropBundle(k bundleKey) {
	g := r.bundles[k.group]
	g.at[k.index] = nil
	if g.held--; g.held == 0 {
		delete(r.bundles, k.group)
	}
}

// sortedBundles returns the bundles held here in key order.
func (r *Raylet) sortedBundles() []*bundle {
	groups := make([]core.PlacementGroupID, 0, len(r.bundles))
	n := 0
	for id, g := range r.bundles { //gray:unordered sorted below
		groups = append(groups, id)
		n += g.held
	}
	slices.SortFunc(groups, func(a, b core.PlacementGroupID) int { return bytes.Compare(a[:], b[:]) })
	out := make([]*bundle, 0, n)
	for _, id := range groups {
		for _, b := range r.bundles[id].at {
			if b != nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// groupBundlesOf returns the table of group id's bundles held here (by
// index, nil where not here; empty for none). The caller must not keep
// or change it.
func (r *Raylet) groupBundlesOf(id core.PlacementGroupID) []*bundle {
	if g := r.bundles[id]; g != nil {
		return g.at
	}
	return nil
}

// Bundles reports the bundles held here, for the heartbeat and tests.
func (r *Raylet) Bundles() []proto.BundleState {
	var out []proto.BundleState
	for _, b := range r.sortedBundles() {
		out = append(out, proto.BundleState{Group: b.key.group, Index: b.key.index, Committed: b.committed})
	}
	return out
}

// handlePrepareBundles reserves bundles, all or none.
func (r *Raylet) handlePrepareBundles(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	p := m.(*proto.PrepareBundles)
	if p.Node != r.node {
		reply(nil, rpc.Errorf(rpc.CodeFailedPrecondition, "bundles for node %v reached node %v (a later incarnation at its address)", p.Node, r.node))
		return
	}
	fresh := make([]proto.BundleSpec, 0, len(p.Bundles))
	ascending := true // fresh is in key order, so no bundle is in it twice
	for _, s := range p.Bundles {
		k := bundleKey{s.Group, s.Index}
		if b := r.bundle(k); b != nil {
			if !b.res.Equal(s.Resources) {
				reply(nil, rpc.Errorf(rpc.CodeConflict, "bundle %v is reserved here with %v, not %v", k, b.res, s.Resources))
				return
			}
			b.since = r.env.Now() // prepared again: not one a heartbeat's answer may drop
			continue
		}
		if n := len(fresh); n > 0 && ascending {
			ascending = compareBundleKeys(bundleKey{fresh[n-1].Group, fresh[n-1].Index}, k) < 0
		}
		if !ascending && slices.ContainsFunc(fresh, func(f proto.BundleSpec) bool { return f.Group == s.Group && f.Index == s.Index }) {
			reply(nil, rpc.Errorf(rpc.CodeInvalid, "bundle %v given twice", k))
			return
		}
		fresh = append(fresh, s)
	}
	need := core.Sum(len(fresh), func(i int) core.Resources { return fresh[i].Resources })
	if r.fenced {
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "node %v is dead", r.node))
		return
	}
	if !need.FitsIn(r.available) {
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "bundles need %v, node %v has %v available", need, r.node, r.available))
		return
	}
	now := r.env.Now()
	indexesMax := 0 // the first group's, to size its table once (a prepare is for one group)
	for _, s := range fresh {
		if s.Group == fresh[0].Group {
			indexesMax = max(indexesMax, int(s.Index)+1)
		}
	}
	slab := make([]bundle, len(fresh)) // one allocation: a group's bundles come and mostly go together
	for i, s := range fresh {
		slab[i] = bundle{key: bundleKey{s.Group, s.Index}, res: s.Resources, avail: s.Resources, since: now}
		r.addBundle(&slab[i], indexesMax)
	}
	r.available = r.available.Sub(need) // one subtraction of their sum: exact, as one per bundle
	r.stats.BundlesPrepared += int64(len(fresh))
	reply(&proto.Ack{}, nil)
}

// handleCommitBundles makes prepared bundles usable.
func (r *Raylet) handleCommitBundles(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	c := m.(*proto.CommitBundles)
	if c.Node != r.node {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "bundles of node %v: this is node %v (a later incarnation at its address), which holds none of them", c.Node, r.node))
		return
	}
	for _, i := range c.Indexes {
		if r.bundle(bundleKey{c.Group, i}) == nil {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "bundle %v is not prepared on node %v", bundleKey{c.Group, i}, r.node))
			return
		}
	}
	for _, i := range c.Indexes {
		if b := r.bundle(bundleKey{c.Group, i}); !b.committed {
			b.committed = true
			r.stats.BundlesCommitted++
		}
	}
	reply(&proto.Ack{}, nil)
	r.schedule() // requests waiting for the group's bundles
}

// handleReturnBundles gives bundles back.
func (r *Raylet) handleReturnBundles(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	ret := m.(*proto.ReturnBundles)
	if ret.Node != r.node {
		reply(&proto.Ack{}, nil) // another incarnation's: none of ours
		return
	}
	var keys []bundleKey
	if len(ret.Indexes) == 0 {
		if g := r.bundles[ret.Group]; g != nil {
			keys = make([]bundleKey, 0, g.held)
			for _, b := range g.at {
				if b != nil {
					keys = append(keys, b.key)
				}
			}
		}
	} else {
		keys = make([]bundleKey, 0, len(ret.Indexes))
		for _, i := range ret.Indexes {
			keys = append(keys, bundleKey{ret.Group, i})
		}
	}
	r.returnBundles(keys, "its placement group bundle was returned (the group was removed or the bundle moved)")
	reply(&proto.Ack{}, nil)
}

// returnBundles gives the bundles of keys back to the node; the leases
// running in them fail with why.
func (r *Raylet) returnBundles(keys []bundleKey, why string) {
	freed := make([]*bundle, 0, len(keys))
	for _, k := range keys {
		b := r.bundle(k)
		if b == nil {
			continue
		}
		freed = append(freed, b)
		r.dropBundle(k)
		b.returned = true
	}
	if len(freed) == 0 {
		return
	}
	// One addition of their sum: exact, as one per bundle.
	r.available = r.available.Add(core.Sum(len(freed), func(i int) core.Resources { return freed[i].avail }))
	for _, b := range freed {
		b.avail = nil
	}
	r.stats.BundlesReturned += int64(len(freed))
	var failed []leaseKey
	for lk, l := range r.leases { //gray:unordered sorted below
		// Only leases running in a bundle returned now: one queued for
		// a bundle has no worker (its owner asks again), and one in a
		// bundle returned before was failed then.
		if l.worker != nil && l.bundle != nil && l.bundle.returned && slices.Contains(freed, l.bundle) {
			failed = append(failed, lk)
		}
	}
	slices.SortFunc(failed, cmpLeaseKey)
	for _, lk := range failed {
		// The lease fails now; its worker runs the body to its end (as
		// a cancel does), and what it holds comes back then.
		r.env.Send(r.holderOf(lk.owner), &proto.LeaseFailed{LeaseID: lk.id, Reason: why})
	}
	r.settled = false
	r.schedule()
}

// dropBundles gives back the bundles the GCS does not account for, as
// it answered a heartbeat sent at sent: those prepared since are left
// alone (the GCS may be reserving them now).
func (r *Raylet) dropBundles(drop []proto.BundleState, sent time.Time) {
	var keys []bundleKey
	for _, d := range drop {
		k := bundleKey{d.Group, d.Index}
		if b := r.bundle(k); b != nil && !b.since.After(sent) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		r.env.Log().Info("raylet: giving back placement group bundles the GCS does not account for", "bundles", len(keys))
		r.returnBundles(keys, "its placement group bundle was given back: the GCS does not account for it")
	}
}

// bundleFor finds the committed bundle a request for a group's bundle
// runs in: its own, or for index -1 the first of the group here that
// fits it now. answered reports that the request was answered instead
// (NoBundle: not here); b is nil while it must wait.
func (r *Raylet) bundleFor(l *leaseRequest) (b *bundle, answered bool) {
	ref := l.req.Spec.Strategy.Bundle
	need := bundleHold(&l.req.Spec)
	any := false
	for _, c := range r.groupBundlesOf(ref.Group) {
		if c == nil || !c.committed || (ref.Index >= 0 && c.key.index != ref.Index) {
			continue
		}
		if !need.FitsIn(c.res) {
			continue // can never fit this bundle
		}
		any = true
		if need.FitsIn(c.avail) {
			return c, false
		}
	}
	if any {
		return nil, false
	}
	r.finishRequest(l, &proto.LeaseReply{NoBundle: true,
		Reason: fmt.Sprintf("node %v holds no committed bundle %v that fits %v", r.node, bundleKey{ref.Group, ref.Index}, need)})
	return nil, true
}

// splitSlot splits res into what a lease in a bundle takes from the
// bundle (all but the actor slot) and from the node (the actor slot: an
// actor's process is the node's).
func splitSlot(res core.Resources) (bundle, node core.Resources) {
	for _, x := range res {
		if x.Name == core.ActorSlot {
			node = append(node, x)
		} else {
			bundle = append(bundle, x)
		}
	}
	return bundle, node
}

// bundleHold is what a lease in a bundle takes from the bundle.
func bundleHold(spec *proto.TaskSpec) core.Resources {
	b, _ := splitSlot(holding(spec))
	return b
}

// nodeSlot is what a lease in a bundle needs from the node's own pool:
// an actor creation's slot.
func nodeSlot(spec *proto.TaskSpec) core.Resources {
	_, n := splitSlot(holding(spec))
	return n
}

// nodeHold is what lease l takes of res from the node's own pool:
// everything, or for a lease in a bundle only the actor slot.
func (l *leaseRequest) nodeHold(res core.Resources) core.Resources {
	if l.bundle == nil {
		return res
	}
	_, n := splitSlot(res)
	return n
}

// take takes res for lease l from its pools.
func (r *Raylet) take(l *leaseRequest, res core.Resources) {
	if l.bundle == nil {
		r.available = r.available.Sub(res)
		return
	}
	b, n := splitSlot(res)
	r.available = r.available.Sub(n)
	if !l.bundle.returned {
		l.bundle.avail = l.bundle.avail.Sub(b)
	}
}

// give gives res of lease l back to its pools; what a returned bundle's
// lease gives goes to the node.
func (r *Raylet) give(l *leaseRequest, res core.Resources) {
	if l.bundle == nil || l.bundle.returned {
		r.available = r.available.Add(res)
		return
	}
	b, n := splitSlot(res)
	r.available = r.available.Add(n)
	l.bundle.avail = l.bundle.avail.Add(b)
}

// invBundles checks each bundle's pool against its leases.
func (r *Raylet) invBundles() error {
	held := map[*bundle]core.Resources{}
	for _, l := range r.leases { //gray:unordered exact fixed-point sums
		if l.worker != nil && l.bundle != nil && !l.bundle.returned {
			held[l.bundle] = held[l.bundle].Add(bundleHoldOf(l))
		}
	}
	for _, b := range r.sortedBundles() {
		if b.returned {
			return fmt.Errorf("raylet: returned bundle %v is still listed", b.key)
		}
		if !b.avail.Add(held[b]).Equal(b.res) {
			return fmt.Errorf("raylet: bundle %v reserves %v, but its leases hold %v and %v is available", b.key, b.res, held[b], b.avail)
		}
		if !b.committed && held[b] != nil {
			return fmt.Errorf("raylet: bundle %v is only prepared, but leases hold %v of it", b.key, held[b])
		}
	}
	return nil
}

// bundleHoldOf is what lease l holds of its bundle now.
func bundleHoldOf(l *leaseRequest) core.Resources {
	b, _ := splitSlot(l.held())
	return b
}
