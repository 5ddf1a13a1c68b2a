package plasma

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/grayrt/gray/core"
)

// Stats is a snapshot of a store's counters. Byte counts are in bytes.
type Stats struct {
	// Capacity is the configured capacity.
	Capacity int64
	// Used is the sum of the sizes of all objects, sealed or not, including
	// deleted ones that readers still hold.
	Used int64
	// Pinned is the part of Used that eviction cannot free: unsealed
	// objects, objects with reader pins, and primary copies.
	Pinned int64
	// Objects counts all objects in the store; Sealed counts the sealed
	// ones among them.
	Objects, Sealed int
	// Evictions counts the copies evicted since NewStore, and EvictedBytes
	// their total size.
	Evictions, EvictedBytes int64
	// CreateFailures counts the Creates (and Puts) refused for lack of
	// space or object slots: ErrTooLarge, ErrObjectStoreFull and
	// ErrTooManyObjects.
	CreateFailures int64
	// SharedObjects counts the objects in shared memory (Config.Memory)
	// and SharedBytes their size; SharedFailures counts the segments
	// that could not be made (those objects went to Go memory).
	SharedObjects  int
	SharedBytes    int64
	SharedFailures int64
	// SharedReused counts the objects that reused the segment of a freed
	// one; SpareBytes is the size of the freed segments kept for that.
	SharedReused int64
	SpareBytes   int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Capacity:       s.capacity,
		Used:           s.used,
		Pinned:         s.pinnedBytes(),
		Objects:        len(s.objects),
		Sealed:         s.sealed,
		Evictions:      s.evictions,
		EvictedBytes:   s.evictedBytes,
		CreateFailures: s.createFailures,
		SharedObjects:  s.shared,
		SharedBytes:    s.sharedBytes,
		SharedFailures: s.sharedFailures,
		SharedReused:   s.sharedReused,
		SpareBytes:     s.spareBytes,
	}
}

// ObjectInfo describes one object in the store.
type ObjectInfo struct {
	// ID names the object.
	ID core.ObjectID
	// Size is the object's size in bytes.
	Size int64
	// Owner is the address of the object's owner, as given to Create.
	Owner core.Addr
	// Sealed reports whether the object is sealed (readable and immutable).
	Sealed bool
	// ReaderPins counts Gets not yet released.
	ReaderPins int
	// Primary reports whether the copy is pinned on behalf of its owner.
	Primary bool
	// Deleting reports a Delete deferred until the last reader releases.
	Deleting bool
	// LastUse is the logical use clock value of the object's last use;
	// eviction picks the smallest among evictable copies.
	LastUse uint64
}

// Objects returns every object in the store, sorted by id. The slice is
// freshly allocated and owned by the caller.
func (s *Store) Objects() []ObjectInfo {
	out := make([]ObjectInfo, 0, len(s.objects))
	for _, e := range s.objects { //gray:unordered sorted right after the loop
		out = append(out, ObjectInfo{
			ID:         e.id,
			Size:       e.size(),
			Owner:      e.owner,
			Sealed:     e.sealed,
			ReaderPins: e.readers,
			Primary:    e.primary,
			Deleting:   e.deleting,
			LastUse:    e.lastUse,
		})
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// String formats o on one line.
func (o ObjectInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %dB owner=%s", o.ID, o.Size, o.Owner)
	if o.Sealed {
		b.WriteString(" sealed")
	} else {
		b.WriteString(" unsealed")
	}
	if o.ReaderPins > 0 {
		fmt.Fprintf(&b, " readers=%d", o.ReaderPins)
	}
	if o.Primary {
		b.WriteString(" primary")
	}
	if o.Deleting {
		b.WriteString(" deleting")
	}
	fmt.Fprintf(&b, " last-use=%d", o.LastUse)
	return b.String()
}

// String formats st on one line.
func (st Stats) String() string {
	return fmt.Sprintf("capacity=%dB used=%dB pinned=%dB objects=%d sealed=%d evictions=%d (%dB) create-failures=%d",
		st.Capacity, st.Used, st.Pinned, st.Objects, st.Sealed, st.Evictions, st.EvictedBytes, st.CreateFailures)
}

// Describe returns a multi-line dump of the store for `gray sim replay
// --until`: the counters, then one line per object in id order, then the
// eviction order. It is deterministic for a given call sequence.
func (s *Store) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plasma: %v\n", s.Stats())
	for _, o := range s.Objects() {
		fmt.Fprintf(&b, "  %v\n", o)
	}
	b.WriteString("  evict order:")
	if s.lru.head == nil {
		b.WriteString(" (none)")
	}
	for e := s.lru.head; e != nil; e = e.next {
		fmt.Fprintf(&b, " %v", e.id)
	}
	b.WriteByte('\n')
	return b.String()
}
