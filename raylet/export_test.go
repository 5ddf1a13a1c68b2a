package raylet

import (
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// Corruption is a planted bug in a raylet's state, for the tests of
// CheckInvariants (invariants_test.go): Apply breaks the state of a raylet
// that holds a granted lease, a queued one, a registered worker and a
// primary copy, and CheckInvariants must then report an error containing
// Want.
type Corruption struct {
	Name  string
	Apply func(r *Raylet)
	Want  string
}

// granted returns a granted lease of r.
func (r *Raylet) granted() *leaseRequest {
	for _, k := range r.sortedLeaseKeys() {
		if l := r.leases[k]; l.worker != nil {
			return l
		}
	}
	panic("raylet: test state holds no granted lease")
}

// Corruptions lists the planted bugs; primary is the id of the primary
// copy the state holds.
func Corruptions(primary core.ObjectID) []Corruption {
	cpu := core.MustResources(core.CPU, 1)
	return []Corruption{
		{"available drifts up", func(r *Raylet) { r.available = r.available.Add(cpu) }, "granted leases and bundles hold"},
		{"available negative", func(r *Raylet) { r.available = r.available.Sub(core.MustResources("GPU", 1)) }, "are negative"},
		{"blocked lease keeps its CPUs", func(r *Raylet) { r.granted().blocked = true }, "granted leases and bundles hold"},
		{"available above total", func(r *Raylet) { r.available = r.available.Add(core.MustResources(core.CPU, 3)) }, "exceed the node's total"},
		{"worker forgets its lease", func(r *Raylet) { r.granted().worker.leases = nil }, "which does not hold it"},
		{"leased worker leaves the pool", func(r *Raylet) { delete(r.workers, r.granted().worker.addr) }, "not in the pool"},
		{"queued request dropped", func(r *Raylet) { r.queue = nil }, "neither granted nor queued"},
		{"request queued twice", func(r *Raylet) { r.queue = append(r.queue, r.queue[0]) }, "queued twice"},
		{"granted request still queued", func(r *Raylet) { r.queue = append(r.queue, r.granted()) }, "is granted to"},
		{"pool worker unregistered", func(r *Raylet) { clear(r.workerAddrs) }, "not among the registered addresses"},
		{"transient bytes drift", func(r *Raylet) { r.transient += 10 }, "transient copies count"},
		{"pull stuck in queue", func(r *Raylet) {
			id := core.ObjectIDForPut(core.DriverTaskID(core.JobIDFromInt(9)), 1)
			p := &pull{id: id, locs: []proto.Location{{Raylet: "raylet-2"}}, size: -1, queued: true}
			r.pulls[id] = p
			r.pullQ = append(r.pullQ, p)
		}, "nothing would start it"},
		{"primary index loses a copy", func(r *Raylet) { delete(r.primaries, primary) }, "which the object index gives to"},
		{"store unpins a tracked copy", func(r *Raylet) { _ = r.store.Unpin(primary) }, "the store does not pin it"},
		{"store pins an untracked copy", func(r *Raylet) { r.untrackPrimary(primary) }, "no owner is tracked"},
	}
}
