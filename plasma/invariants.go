package plasma

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/grayrt/gray/core"
)

// CheckInvariants checks the store's bookkeeping and returns the first
// violation, or nil: used bytes are the sum of the objects' sizes and
// never exceed the capacity; the sealed count and the object limit hold;
// pins are consistent (reader pins between 0 and ReaderPinsMax, only
// sealed copies held, a deferred delete only while readers hold it); and
// the LRU list holds exactly the evictable copies, in increasing use
// order, with its counters adding up. It reads the whole store: the
// simulator calls it after every event only in builds with the
// invariants tag (package internal/invariants). Errors are deterministic:
// an object-level violation names the smallest offending id.
func (s *Store) CheckInvariants() error {
	if s.used < 0 || s.used > s.capacity {
		return fmt.Errorf("plasma: used %d bytes outside [0, capacity %d]", s.used, s.capacity)
	}
	if len(s.objects) > s.objectsMax {
		return fmt.Errorf("plasma: %d objects, limit %d", len(s.objects), s.objectsMax)
	}
	var sum, sharedBytes int64
	sealed, evictable, shared, bad := 0, 0, 0, false
	for id, e := range s.objects { //gray:unordered sums and a flag; the reported violation is chosen in id order below
		sum += e.size()
		if e.seg != nil {
			shared++
			sharedBytes += e.size()
		}
		if e.sealed {
			sealed++
		}
		if e.evictable() {
			evictable++
		}
		if s.checkEntry(id, e) != nil {
			bad = true
		}
	}
	if bad {
		ids := make([]core.ObjectID, 0, len(s.objects))
		for id := range s.objects { //gray:unordered sorted below
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b core.ObjectID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			if err := s.checkEntry(id, s.objects[id]); err != nil {
				return err
			}
		}
	}
	if sum != s.used {
		return fmt.Errorf("plasma: used %d bytes, but the objects' sizes sum to %d", s.used, sum)
	}
	if shared != s.shared || sharedBytes != s.sharedBytes {
		return fmt.Errorf("plasma: %d objects of %d bytes counted in shared memory, but %d of %d bytes are", s.shared, s.sharedBytes, shared, sharedBytes)
	}
	if sealed != s.sealed {
		return fmt.Errorf("plasma: sealed count %d, but %d objects are sealed", s.sealed, sealed)
	}
	var spare int64
	for _, seg := range s.spare {
		spare += int64(len(seg.Bytes()))
	}
	if spare != s.spareBytes || len(s.spare) > spareMax || s.used+s.spareBytes > s.capacity {
		return fmt.Errorf("plasma: %d spare segments of %d bytes (counted %d), %d bytes used, capacity %d", len(s.spare), spare, s.spareBytes, s.used, s.capacity)
	}
	return s.checkLRU(evictable)
}

// checkEntry checks one object's own state.
func (s *Store) checkEntry(id core.ObjectID, e *entry) error {
	switch {
	case e == nil || e.id != id:
		return fmt.Errorf("plasma: the index maps %v to another object", id)
	case e.readers < 0 || e.readers > ReaderPinsMax:
		return fmt.Errorf("plasma: %v has %d reader pins, outside [0, %d]", id, e.readers, ReaderPinsMax)
	case !e.sealed && (e.readers > 0 || e.primary || e.deleting):
		return fmt.Errorf("plasma: unsealed %v is held (readers %d, primary %v, deleting %v)", id, e.readers, e.primary, e.deleting)
	case e.sealed && e.written != nil:
		return fmt.Errorf("plasma: sealed %v still tracks written ranges", id)
	case e.deleting && (e.readers == 0 || e.primary):
		return fmt.Errorf("plasma: %v awaits deletion with %d readers and primary %v: it should be gone, unpinned", id, e.readers, e.primary)
	case e.lastUse == 0 || e.lastUse > s.clock:
		return fmt.Errorf("plasma: %v last used at %d, outside [1, clock %d]", id, e.lastUse, s.clock)
	case e.seg != nil && int64(len(e.seg.Bytes())) != e.size():
		return fmt.Errorf("plasma: %v of %d bytes is in a shared segment of %d bytes", id, e.size(), len(e.seg.Bytes()))
	case e.inLRU != e.evictable():
		return fmt.Errorf("plasma: %v is evictable=%v but listed for eviction=%v", id, e.evictable(), e.inLRU)
	}
	return nil
}

// checkLRU walks the eviction list: it must hold exactly the evictable
// copies of the store (evictable of them), each once, least recently used
// first, with its counters adding up.
func (s *Store) checkLRU(evictable int) error {
	var n int
	var size int64
	var prev *entry
	for e := s.lru.head; e != nil; e = e.next {
		if n++; n > len(s.objects) {
			return fmt.Errorf("plasma: the LRU list is longer than the store holds objects (a cycle?)")
		}
		if s.objects[e.id] != e {
			return fmt.Errorf("plasma: the LRU list holds %v, which is not in the store", e.id)
		}
		if !e.inLRU || e.prev != prev {
			return fmt.Errorf("plasma: LRU entry %v: listed %v, back link intact %v", e.id, e.inLRU, e.prev == prev)
		}
		if prev != nil && prev.lastUse >= e.lastUse {
			return fmt.Errorf("plasma: LRU order: %v (used at %d) before %v (used at %d)", prev.id, prev.lastUse, e.id, e.lastUse)
		}
		size += e.size()
		prev = e
	}
	if prev != s.lru.tail {
		return fmt.Errorf("plasma: the LRU tail is not the list's last entry")
	}
	if n != s.lru.n || size != s.lru.bytes {
		return fmt.Errorf("plasma: the LRU list counts %d copies of %d bytes, but holds %d of %d", s.lru.n, s.lru.bytes, n, size)
	}
	if n != evictable {
		return fmt.Errorf("plasma: %d copies are evictable, but the LRU list holds %d", evictable, n)
	}
	return nil
}
