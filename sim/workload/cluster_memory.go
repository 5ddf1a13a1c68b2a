package workload

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/raylet"
)

// Memory pressure in the cluster workload. The raylets' object stores
// are small (clusterStoreBytes) next to what the drivers keep: each driver
// keeps the large objects of its last keptMax rounds (a task's 200 KiB
// result and a 150 KiB Put) and reads every one of them again in each
// later round, from the driver and from tasks spread over the nodes. The
// primary copies stay pinned while kept, the copies pulled to read them
// are secondary and evicted for room, and read again later they are
// pulled again from the primary; a Put or a task result that does not fit
// next to the pinned data fails with ObjectStoreFull.
//
// Invariant (a referenced primary copy is never gone while its node
// lives): every read of a kept object returns its exact contents, or
//
//   - ObjectLost, only for a Put object (a task's result is rebuilt from
//     lineage) whose primary copy's node died since it was created: the
//     raylet at the address that held it is down or is another
//     incarnation (a new NodeID; a fenced node comes back as one);
//   - ObjectStoreFull, only with the store's own statement that the
//     object did not fit next to the pinned data (the error message gives
//     the sizes, checked here).

// clusterStoreBytes is each raylet's object store capacity: about ten of
// the workload's large objects, less than the two drivers keep pinned at
// times plus what a round creates, so stores evict and fill up.
const clusterStoreBytes = 1 << 20

// keptMax is how many rounds' large objects a driver keeps and re-reads.
const keptMax = 3

// putObjectBytes is the size of the Put object of each round.
const putObjectBytes = 150 << 10

// kept is a large object a driver keeps across rounds.
type kept struct {
	ref   gray.Ref[[]byte]
	sum   int64 // checksum of the exact contents
	size  int
	round int
	put   bool // created by Put (no lineage)
	what  string
	// primary is where its primary copy was last seen: the raylet's
	// address and its incarnation's node. A zero node: not located yet.
	primary core.Addr
	node    core.NodeID
}

// locate records where k's primary copy is now, if any raylet holds one.
func (c *cluster) locate(k *kept) {
	id := k.ref.ID()
	if id == "" {
		return
	}
	for _, a := range c.raylets {
		r, ok := c.w.Process(a).(*raylet.Raylet)
		if !ok || r.Store() == nil {
			continue
		}
		for _, o := range r.Store().Objects() {
			if o.Primary && o.ID.String() == id {
				k.primary, k.node = a, r.Node()
				return
			}
		}
	}
}

// putTarget returns the raylet the driver's puts go to now and that
// raylet's node: where a put's primary copy is, if locate finds none
// because the node died between the put and the look (its raylet
// fenced itself after acknowledging the put: cluster seed 1346).
func (d *driver) putTarget() (core.Addr, core.NodeID) {
	a := d.proc.CoreWorker().Raylet()
	if r, ok := d.cl.w.Process(a).(*raylet.Raylet); ok {
		return a, r.Node()
	}
	return a, core.NodeID{}
}

// locatePut locates a put made while target was the driver's raylet.
func (d *driver) locatePut(k *kept, addr core.Addr, node core.NodeID) {
	d.cl.locate(k)
	if k.node.IsNil() {
		k.primary, k.node = addr, node
	}
}

// primaryNodeDied reports whether the node that held k's primary copy
// when it was last located died since: its raylet is down or runs as
// another node, or the GCS declared the node dead (its raylet may not
// know yet, behind a partition).
func (c *cluster) primaryNodeDied(k *kept) bool {
	if k.node.IsNil() {
		return false
	}
	r, ok := c.w.Process(k.primary).(*raylet.Raylet)
	return !ok || r.Node() != k.node || c.nodeDead(k.node)
}

// storeFullRe matches plasma's ErrObjectStoreFull message (plasma.Store.
// create): the needed bytes, the capacity, the used and the pinned bytes.
var storeFullRe = regexp.MustCompile(`needed (\d+) bytes, capacity (\d+) bytes, used (\d+) bytes of which (\d+) are pinned`)

// storeFullExplained reports whether err is ObjectStoreFull with the
// store's statement that the object did not fit next to the pinned data.
func storeFullExplained(err error) bool {
	if !errors.Is(err, gray.ErrObjectStoreFull) {
		return false
	}
	m := storeFullRe.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	var n [4]int64
	for i := range n {
		v, perr := strconv.ParseInt(m[i+1], 10, 64)
		if perr != nil {
			return false
		}
		n[i] = v
	}
	needed, capacity, pinned := n[0], n[1], n[3]
	return needed+pinned > capacity
}

// checkRead checks one read of k (by the driver, or by a task: who) that
// returned sum or err, and reports whether it returned the object.
func (d *driver) checkRead(k *kept, who string, sum int64, err error) (bool, error) {
	c := d.cl
	switch {
	case err == nil && sum == k.sum:
		c.locate(k)
		return true, nil
	case err == nil:
		return false, fmt.Errorf("%s: %s of round %d read as checksum %d, want %d", who, k.what, k.round, sum, k.sum)
	case storeFullExplained(err):
		c.w.Sometimes("object store full")
		return false, nil
	case k.put && errors.Is(err, gray.ErrObjectLost) && c.primaryNodeDied(k):
		c.w.Sometimes("kept put object lost with its node")
		return false, nil
	}
	return false, fmt.Errorf("%s: %s of round %d (primary on %s node %v, its node died: %v): %w", who, k.what, k.round, k.primary, k.node, c.primaryNodeDied(k), err)
}

// keep adds a round's large object to the kept set, releasing the oldest
// beyond keptMax. The object must be read successfully once before
// (sum is its exact checksum).
func (d *driver) keep(k kept) {
	d.cl.locate(&k)
	d.kept = append(d.kept, &k)
	for len(d.kept) > keptMax {
		d.kept[0].ref.Release()
		d.kept = d.kept[1:]
	}
}

// readKept reads every kept object again: from tasks spread over the
// nodes (submitted first, they run while the driver reads) and from the
// driver itself.
func (d *driver) readKept(ctx context.Context, rs *roundRefs) error {
	sum := sumTask.Options(retried, gray.WithSpread())
	sums := make([]gray.Ref[int64], len(d.kept))
	for i, k := range d.kept {
		sums[i] = sum.Remote(ctx, k.ref)
		rs.add(sums[i])
	}
	if err := d.readKeptHere(ctx); err != nil {
		return err
	}
	for i, k := range d.kept {
		got, err := sums[i].Get(ctx)
		if _, err := d.checkRead(k, "sum task", got, err); err != nil {
			return err
		}
	}
	return nil
}

// countMemoryPaths turns the raylets' and stores' counters into paths.
func (c *cluster) countMemoryPaths() {
	for _, a := range c.raylets {
		r, ok := c.w.Process(a).(*raylet.Raylet)
		if !ok || r.Store() == nil {
			continue
		}
		if r.Store().Stats().Evictions > 0 {
			c.w.Sometimes("secondary copy evicted")
		}
		if r.Stats().Repulls > 0 {
			c.w.Sometimes("evicted copy pulled again")
		}
		if r.Store().Stats().CreateFailures > 0 {
			c.w.Sometimes("store refused an object")
		}
		if r.Stats().TransientReads > 0 {
			c.w.Sometimes("read without room for a copy")
		}
	}
}

// fillStore puts objects from the driver, holding them, until its node's
// store refuses one for lack of room (ObjectStoreFull, with the store's
// sizes), then releases them. Every held one reads back exactly. The
// store cannot hold more than its capacity: puts past it must fail
// unless the node died meanwhile (a new store) or the driver moved to
// another raylet (another store).
func (d *driver) fillStore(ctx context.Context) error {
	const putsMax = clusterStoreBytes/putObjectBytes + 2
	var held []*kept
	defer func() {
		for _, k := range held {
			k.ref.Release()
		}
	}()
	for i := range putsMax {
		data := bigBytes(int64(d.round*1000+d.idx*100+i), putObjectBytes)
		addr, node := d.putTarget()
		k := &kept{ref: gray.Put(ctx, data), sum: checksum(data), size: len(data), round: d.round, put: true, what: fmt.Sprintf("filling put %d", i+1)}
		held = append(held, k)
		d.locatePut(k, addr, node)
		got, getErr := k.ref.Get(ctx)
		sum := int64(0)
		if getErr == nil {
			sum = checksum(got)
		}
		if ok, err := d.checkRead(k, "driver", sum, getErr); err != nil {
			return err
		} else if !ok {
			if storeFullExplained(getErr) {
				d.cl.w.Sometimes("driver filled its node's store")
			}
			return nil
		}
	}
	stores := map[core.NodeID]bool{}
	for _, k := range held {
		if d.cl.primaryNodeDied(k) {
			return nil
		}
		if !k.node.IsNil() {
			stores[k.node] = true
		}
	}
	if len(stores) > 1 {
		// The driver moved between raylets meanwhile (away from its dead
		// node, then back to its restarted raylet): the puts filled
		// several stores.
		return nil
	}
	return fmt.Errorf("driver: the store took %d puts of %d bytes, more than its capacity %d", putsMax, putObjectBytes, clusterStoreBytes)
}

// readKeptHere reads every kept object from the driver.
func (d *driver) readKeptHere(ctx context.Context) error {
	for _, k := range d.kept {
		data, err := k.ref.Get(ctx)
		got := int64(0)
		if err == nil {
			if len(data) != k.size {
				return fmt.Errorf("driver: %s of round %d read as %d bytes, want %d", k.what, k.round, len(data), k.size)
			}
			got = checksum(data)
		}
		if _, err := d.checkRead(k, "driver", got, err); err != nil {
			return err
		}
		if d.round-k.round >= keptMax-1 {
			d.cl.w.Sometimes("kept object read rounds later")
		}
	}
	return nil
}
