package plasma

import (
	"fmt"
	"slices"

	"github.com/grayrt/gray/core"
)

// DefaultObjectsMax is the object limit used when Config.ObjectsMax is zero.
// It bounds the store's index (one small entry per object) independently of
// the byte capacity, which many tiny objects would otherwise never reach.
const DefaultObjectsMax = 100_000

// ReaderPinsMax bounds the reader pins (Gets not yet released) on one
// object. No honest workload comes near it; reaching it means a reader
// leaks pins, and failing its Get with ErrTooManyPins surfaces the leak
// long before the counter could overflow.
const ReaderPinsMax = 1 << 20

// CapacityMax bounds Config.Capacity (1 EiB, far beyond any node's memory)
// so that sums of object sizes can never overflow an int64.
const CapacityMax = 1 << 60

// Config configures a Store.
type Config struct {
	// Capacity is the number of object bytes the store may hold, between 1
	// and CapacityMax.
	Capacity int64
	// ObjectsMax bounds the number of objects, sealed or not. Zero means
	// DefaultObjectsMax; it must not be negative.
	ObjectsMax int
	// OnEvict, if not nil, is told the id of each copy that Create evicts,
	// in eviction order, so that the raylet can tell the owners that the
	// copy is gone. It is not called for Delete or Abort. It runs inside
	// Create, after the copy is gone, and must not call the Store's
	// mutating methods (they panic); reading Stats, Objects and Contains is
	// allowed.
	OnEvict func(core.ObjectID)
	// Memory, if not nil, holds the objects of at least SharedMin bytes
	// that Create allocates (not those Adopt takes over): segments that
	// the node's workers and drivers open to write puts and read gets
	// without copying them through a socket (core.SharedMemory). A
	// segment that cannot be made falls back to Go memory
	// (Stats.SharedFailures).
	Memory core.SharedMemory
	// SharedMin is the smallest object Create puts in Memory; zero means
	// DefaultSharedMin.
	SharedMin int64
}

// DefaultSharedMin is the smallest object in shared memory by default:
// below it, a segment's system calls cost more than the copies it saves.
const DefaultSharedMin = 1 << 20

// Validate reports whether c can configure a Store, saying which field to
// fix if not.
func (c Config) Validate() error {
	if c.Capacity <= 0 || c.Capacity > CapacityMax {
		return fmt.Errorf("plasma: config: capacity %d bytes; set an object store capacity between 1 and %d bytes", c.Capacity, int64(CapacityMax))
	}
	if c.SharedMin < 0 {
		return fmt.Errorf("plasma: config: shared memory threshold %d bytes; set a positive size, or zero for the default %d", c.SharedMin, DefaultSharedMin)
	}
	if c.ObjectsMax < 0 {
		return fmt.Errorf("plasma: config: max objects %d; set a positive limit, or zero for the default %d", c.ObjectsMax, DefaultObjectsMax)
	}
	return nil
}

// Store is one node's object store. See the package documentation for the
// semantics. The zero value is not usable; call NewStore.
type Store struct {
	capacity   int64
	objectsMax int
	onEvict    func(core.ObjectID)
	memory     core.SharedMemory
	sharedMin  int64

	objects map[core.ObjectID]*entry
	// used is the sum of the sizes of all objects in objects.
	used int64
	// sealed counts the sealed objects in objects.
	sealed int
	// clock is the logical use clock that stamps entry.lastUse. It only
	// grows, so LRU order is a function of the call sequence alone.
	clock uint64
	// lru lists the evictable copies, least recently used first.
	lru lruList

	evictions      int64
	evictedBytes   int64
	createFailures int64
	// shared counts the objects in shared memory and sharedBytes their
	// size; sharedFailures the segments that could not be made.
	shared         int
	sharedBytes    int64
	sharedFailures int64
	// spare holds segments of freed objects for reuse by a later object
	// of the same size, oldest first (see recycle), and spareBytes their
	// size; sharedReused counts the segments reused.
	spare        []core.Segment
	spareBytes   int64
	sharedReused int64

	// inCallback is set while OnEvict runs, to catch re-entrant mutation.
	inCallback bool
}

// entry is one object in the store.
type entry struct {
	id    core.ObjectID
	owner core.Addr
	// data is the object's memory, allocated at Create with its final size.
	data []byte
	// seg holds data when it is a shared memory segment (Config.Memory).
	seg core.Segment
	// written tracks what Write filled while the object is unsealed; it is
	// nil once the object is sealed.
	written ranges
	sealed  bool
	// readers counts reader pins: Gets not yet released.
	readers int
	// primary is the pin held on behalf of the owner.
	primary bool
	// deleting marks a Delete deferred until the last reader releases.
	deleting bool
	// exported: Shared gave seg's handle to a reader, which may still
	// map it after the object is freed, so seg is never reused.
	exported bool
	lastUse  uint64
	// prev, next and inLRU link the entry into Store.lru while it is
	// evictable.
	prev, next *entry
	inLRU      bool
}

func (e *entry) size() int64 { return int64(len(e.data)) }

// evictable reports whether eviction may drop e: sealed and held by nobody.
func (e *entry) evictable() bool {
	return e.sealed && e.readers == 0 && !e.primary && !e.deleting
}

// NewStore returns an empty store. It panics if cfg is invalid (see
// Config.Validate): configurations from users must be validated first.
func NewStore(cfg Config) *Store {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.ObjectsMax == 0 {
		cfg.ObjectsMax = DefaultObjectsMax
	}
	if cfg.SharedMin == 0 {
		cfg.SharedMin = DefaultSharedMin
	}
	return &Store{
		capacity:   cfg.Capacity,
		objectsMax: cfg.ObjectsMax,
		onEvict:    cfg.OnEvict,
		memory:     cfg.Memory,
		sharedMin:  cfg.SharedMin,
		objects:    make(map[core.ObjectID]*entry),
	}
}

// Create allocates an unsealed object of size bytes, owned by owner. To make
// room it evicts sealed copies that nobody holds, least recently used first,
// but only if that makes the object fit; otherwise it evicts nothing and
// fails:
//
//   - ErrExists if id is present (also while a deleted copy awaits its last
//     Release),
//   - ErrOutOfRange if size is negative,
//   - ErrTooLarge if size exceeds the capacity, so it can never fit,
//   - ErrObjectStoreFull if the object would fit only by evicting held data;
//     the message gives the bytes needed, the capacity and the held bytes,
//   - ErrTooManyObjects if the store holds ObjectsMax objects none of which
//     can be evicted.
func (s *Store) Create(id core.ObjectID, size int64, owner core.Addr) error {
	return s.create(id, size, owner, nil, false)
}

// CreateShared is Create for an object that another process of the host
// writes through its shared memory segment (SharedUnsealed,
// WrittenElsewhere), whatever its size. It fails as Create does, and
// with ErrNotShared when the store has no shared memory or the segment
// cannot be made; then it leaves nothing behind.
func (s *Store) CreateShared(id core.ObjectID, size int64, owner core.Addr) error {
	if s.memory == nil {
		return fmt.Errorf("plasma: create shared %v: the store has no shared memory: %w", id, ErrNotShared)
	}
	return s.create(id, size, owner, nil, true)
}

// create is Create; data, when not nil, is the object's memory (of size
// bytes), taken over rather than allocated; shared asks for a segment
// whatever the size, and fails without one.
func (s *Store) create(id core.ObjectID, size int64, owner core.Addr, data []byte, shared bool) error {
	s.assertNotInCallback("Create")
	if e, ok := s.objects[id]; ok {
		if e.deleting {
			return fmt.Errorf("plasma: create %v: a deleted copy is still being read and is freed at its last release: %w", id, ErrExists)
		}
		return fmt.Errorf("plasma: create %v: %w", id, ErrExists)
	}
	if size < 0 {
		return fmt.Errorf("plasma: create %v: size %d bytes: %w", id, size, ErrOutOfRange)
	}
	if size > s.capacity {
		s.createFailures++
		return fmt.Errorf("plasma: create %v: %d bytes, capacity %d bytes: %w", id, size, s.capacity, ErrTooLarge)
	}
	// Decide before evicting anything: a Create that fails must not have
	// thrown copies away for nothing.
	if s.used+size-s.capacity > s.lru.bytes {
		s.createFailures++
		return fmt.Errorf("plasma: create %v: needed %d bytes, capacity %d bytes, used %d bytes of which %d are pinned (read, primary or unsealed) and cannot be evicted: %w",
			id, size, s.capacity, s.used, s.pinnedBytes(), ErrObjectStoreFull)
	}
	if len(s.objects)+1-s.objectsMax > s.lru.n {
		s.createFailures++
		return fmt.Errorf("plasma: create %v: %d objects, limit %d, %d of them evictable: %w",
			id, len(s.objects), s.objectsMax, s.lru.n, ErrTooManyObjects)
	}
	// Spare segments give way to objects first.
	for s.used+s.spareBytes+size > s.capacity && len(s.spare) > 0 {
		s.dropSpare()
	}
	// Bounded by the checks above: each iteration frees one listed copy, and
	// freeing all of them would satisfy both conditions.
	for s.used+size > s.capacity || len(s.objects) >= s.objectsMax {
		if s.lru.head == nil {
			panic(fmt.Sprintf("plasma: create %v: eviction ran out of copies (used %d, size %d, capacity %d)", id, s.used, size, s.capacity))
		}
		s.evict(s.lru.head)
	}
	var seg core.Segment
	if data == nil && s.memory != nil && (shared || size >= s.sharedMin) {
		var err error
		if seg = s.takeSpare(size); seg != nil {
			s.sharedReused++
		} else if seg, err = s.memory.ShmCreate(size); err != nil || int64(len(seg.Bytes())) != size {
			if err == nil {
				seg.Close()
				err = fmt.Errorf("segment of %d bytes for %d", len(seg.Bytes()), size)
			}
			seg = nil
			s.sharedFailures++
			if shared {
				return fmt.Errorf("plasma: create shared %v: %v: %w", id, err, ErrNotShared)
			}
		}
		if seg != nil {
			data = seg.Bytes()
			s.shared++
			s.sharedBytes += size
		}
	}
	// Evictions above may have kept segments spare: none may count
	// against the new object's room.
	for s.used+s.spareBytes+size > s.capacity && len(s.spare) > 0 {
		s.dropSpare()
	}
	if data == nil {
		data = make([]byte, size)
	}
	e := &entry{id: id, owner: owner, data: data, seg: seg}
	s.touch(e)
	s.objects[id] = e
	s.used += size
	return nil
}

// Write copies data into the unsealed object id at offset. Chunks may
// arrive in any order and more than once; the store tracks the written
// byte ranges (not a byte count) so that Seal can tell whether every byte
// was written. It fails with ErrNotFound, ErrSealed, ErrOutOfRange if
// [offset, offset+len(data)) does not lie within the object, or
// ErrFragmented if the write would leave more than WriteRangesMax disjoint
// written ranges. A failed Write changes nothing.
func (s *Store) Write(id core.ObjectID, offset int64, data []byte) error {
	s.assertNotInCallback("Write")
	e, ok := s.objects[id]
	if !ok {
		return fmt.Errorf("plasma: write %v: %w", id, ErrNotFound)
	}
	if e.sealed {
		return fmt.Errorf("plasma: write %v: %w", id, ErrSealed)
	}
	size, n := e.size(), int64(len(data))
	if offset < 0 || offset > size || n > size-offset {
		return fmt.Errorf("plasma: write %v: %d bytes at offset %d into %d bytes: %w", id, n, offset, size, ErrOutOfRange)
	}
	if n == 0 {
		return nil
	}
	if got := e.written.lenAfterAdd(offset, offset+n); got > WriteRangesMax {
		return fmt.Errorf("plasma: write %v: %d bytes at offset %d would leave %d disjoint ranges, limit %d: %w",
			id, n, offset, got, WriteRangesMax, ErrFragmented)
	}
	copy(e.data[offset:], data)
	e.written = e.written.add(offset, offset+n)
	return nil
}

// Seal makes the object id immutable and visible to readers. It fails with
// ErrNotFound, ErrSealed, or ErrIncomplete if some byte was never written.
// A sealed object that nobody pins may be evicted from then on: pin it in
// the same event (Pin) if it is a primary copy.
func (s *Store) Seal(id core.ObjectID) error {
	s.assertNotInCallback("Seal")
	e, ok := s.objects[id]
	if !ok {
		return fmt.Errorf("plasma: seal %v: %w", id, ErrNotFound)
	}
	if e.sealed {
		return fmt.Errorf("plasma: seal %v: %w", id, ErrSealed)
	}
	if !e.written.covers(e.size()) {
		return fmt.Errorf("plasma: seal %v: %d of %d bytes written in %d ranges: %w",
			id, e.written.written(), e.size(), len(e.written), ErrIncomplete)
	}
	e.sealed = true
	e.written = nil
	s.sealed++
	s.settle(e)
	return nil
}

// Abort drops the unsealed object id, for example after a failed pull, and
// frees its space. It does nothing if id is absent or already sealed (use
// Delete for sealed objects), so a late or repeated Abort is harmless.
func (s *Store) Abort(id core.ObjectID) {
	s.assertNotInCallback("Abort")
	if e, ok := s.objects[id]; ok && !e.sealed {
		s.free(e)
	}
}

// Put creates, writes and seals id with a copy of data. It fails as Create
// does and then leaves nothing behind.
func (s *Store) Put(id core.ObjectID, data []byte, owner core.Addr) error {
	if err := s.Create(id, int64(len(data)), owner); err != nil {
		return err
	}
	if err := s.Write(id, 0, data); err != nil {
		panic(fmt.Sprintf("plasma: put %v: write into a fresh object: %v", id, err))
	}
	if err := s.Seal(id); err != nil {
		panic(fmt.Sprintf("plasma: put %v: seal of a fully written object: %v", id, err))
	}
	return nil
}

// Adopt stores data as the sealed object id without copying it: the store
// takes the slice over, and the caller must neither modify nor keep it
// (the raylet adopts the bytes of a PutObject it has just decoded, which
// nobody else references). It fails as Create does and then leaves
// nothing behind; on failure the caller keeps data.
func (s *Store) Adopt(id core.ObjectID, data []byte, owner core.Addr) error {
	if data == nil {
		data = []byte{}
	}
	if err := s.create(id, int64(len(data)), owner, data[:len(data):len(data)], false); err != nil {
		return err
	}
	e := s.objects[id]
	e.written = e.written.add(0, int64(len(data)))
	if err := s.Seal(id); err != nil {
		panic(fmt.Sprintf("plasma: adopt %v: seal of a fully written object: %v", id, err))
	}
	return nil
}

// Get returns the contents of the sealed object id and takes a reader pin
// on it, which keeps it from eviction until the matching Release. It counts
// as a use for LRU order. The returned slice is owned by the store: the
// caller must not modify it. Its bytes never change, also after Release
// (see the package documentation). It fails with ErrNotFound (also while a Delete is pending),
// ErrNotSealed, or ErrTooManyPins.
func (s *Store) Get(id core.ObjectID) ([]byte, error) {
	s.assertNotInCallback("Get")
	e, ok := s.objects[id]
	if !ok || e.deleting {
		return nil, fmt.Errorf("plasma: get %v: %w", id, ErrNotFound)
	}
	if !e.sealed {
		return nil, fmt.Errorf("plasma: get %v: %w", id, ErrNotSealed)
	}
	if e.readers >= ReaderPinsMax {
		return nil, fmt.Errorf("plasma: get %v: %d reader pins, limit %d: %w", id, e.readers, ReaderPinsMax, ErrTooManyPins)
	}
	e.readers++
	s.touch(e)
	s.settle(e)
	return e.data[:len(e.data):len(e.data)], nil
}

// Release gives back one reader pin taken by Get. The last Release of an
// object whose Delete was deferred frees it. It fails with ErrNotFound, or
// ErrNotPinned if no reader pin is held (an unbalanced Release).
func (s *Store) Release(id core.ObjectID) error {
	s.assertNotInCallback("Release")
	e, ok := s.objects[id]
	if !ok {
		return fmt.Errorf("plasma: release %v: %w", id, ErrNotFound)
	}
	if e.readers == 0 {
		return fmt.Errorf("plasma: release %v without a matching get: %w", id, ErrNotPinned)
	}
	e.readers--
	if e.readers == 0 && e.deleting {
		s.free(e)
		return nil
	}
	s.settle(e)
	return nil
}

// Pin marks the sealed object id as a primary copy, held on behalf of its
// owner and never evicted, until Unpin or Delete. Pinning a pinned copy is
// a no-op, so a duplicated request is harmless. It fails with ErrNotFound
// (also while a Delete is pending) or ErrNotSealed.
func (s *Store) Pin(id core.ObjectID) error {
	s.assertNotInCallback("Pin")
	e, ok := s.objects[id]
	if !ok || e.deleting {
		return fmt.Errorf("plasma: pin %v: %w", id, ErrNotFound)
	}
	if !e.sealed {
		return fmt.Errorf("plasma: pin %v: %w", id, ErrNotSealed)
	}
	e.primary = true
	s.settle(e)
	return nil
}

// Unpin drops the primary pin of id, after which the copy may be evicted
// once no reader holds it. It fails with ErrNotFound (also while a Delete
// is pending) or ErrNotPinned if the copy is not primary-pinned.
func (s *Store) Unpin(id core.ObjectID) error {
	s.assertNotInCallback("Unpin")
	e, ok := s.objects[id]
	if !ok || e.deleting {
		return fmt.Errorf("plasma: unpin %v: %w", id, ErrNotFound)
	}
	if !e.primary {
		return fmt.Errorf("plasma: unpin %v: %w", id, ErrNotPinned)
	}
	e.primary = false
	s.settle(e)
	return nil
}

// Delete frees the object id, sealed or not, dropping any primary pin. If
// readers hold pins, deletion is deferred: the object vanishes from view at
// once (Get, Pin, Contains and Objects' Deleting field say so) and its
// memory is freed by the last Release. Deleting an object whose deletion is
// already pending is a no-op. It fails with ErrNotFound.
func (s *Store) Delete(id core.ObjectID) error {
	s.assertNotInCallback("Delete")
	e, ok := s.objects[id]
	if !ok {
		return fmt.Errorf("plasma: delete %v: %w", id, ErrNotFound)
	}
	if e.readers > 0 {
		e.deleting = true
		e.primary = false
		s.settle(e)
		return nil
	}
	s.free(e)
	return nil
}

// Close releases the shared memory segments of every object, when the
// store's process stops. The store must not be used afterwards.
func (s *Store) Close() {
	for _, e := range s.objects { //gray:unordered each segment is closed; order is not observable
		if e.seg != nil {
			e.seg.Close()
		}
	}
	for len(s.spare) > 0 {
		s.dropSpare()
	}
}

// Shared returns the handle of id's shared memory segment (see
// Config.Memory), or "" when it has none or is not sealed.
func (s *Store) Shared(id core.ObjectID) string {
	e, ok := s.objects[id]
	if !ok || e.seg == nil || !e.sealed || e.deleting {
		return ""
	}
	e.exported = true
	return e.seg.Handle()
}

// SharedUnsealed returns the handle of the unsealed object id's shared
// memory segment, for its writer, or "" when it has none.
func (s *Store) SharedUnsealed(id core.ObjectID) string {
	e, ok := s.objects[id]
	if !ok || e.seg == nil || e.sealed {
		return ""
	}
	return e.seg.Handle()
}

// WrittenElsewhere records that every byte of the unsealed object id was
// written through its shared memory segment by another process (see
// SharedUnsealed), so that Seal may seal it. It fails with ErrNotFound,
// ErrSealed, or ErrNotShared for an object without a segment.
func (s *Store) WrittenElsewhere(id core.ObjectID) error {
	s.assertNotInCallback("WrittenElsewhere")
	e, ok := s.objects[id]
	switch {
	case !ok:
		return fmt.Errorf("plasma: written elsewhere %v: %w", id, ErrNotFound)
	case e.sealed:
		return fmt.Errorf("plasma: written elsewhere %v: %w", id, ErrSealed)
	case e.seg == nil:
		return fmt.Errorf("plasma: written elsewhere %v: %w", id, ErrNotShared)
	}
	e.written = e.written.add(0, e.size())
	return nil
}

// Mapped reports whether the bytes Get returns for id are a mapping
// that is gone once the copy is freed (a shared segment that is not
// Stable): a caller that keeps them longer than its reader pin, in a
// message for example, must copy them.
func (s *Store) Mapped(id core.ObjectID) bool {
	e, ok := s.objects[id]
	return ok && e.seg != nil && !e.seg.Stable()
}

// Contains reports whether id is present, sealed and not being deleted.
func (s *Store) Contains(id core.ObjectID) bool {
	e, ok := s.objects[id]
	return ok && e.sealed && !e.deleting
}

// Unsealed reports whether id is present and not sealed yet: being
// written (Create, Write).
func (s *Store) Unsealed(id core.ObjectID) bool {
	e, ok := s.objects[id]
	return ok && !e.sealed
}

// touch stamps e as used now.
func (s *Store) touch(e *entry) {
	s.clock++
	e.lastUse = s.clock
}

// settle moves e into or out of the LRU list to match its state. A copy
// that becomes evictable counts as used now, which keeps the list sorted by
// lastUse.
func (s *Store) settle(e *entry) {
	switch ev := e.evictable(); {
	case ev && !e.inLRU:
		s.touch(e)
		s.lru.pushBack(e)
	case !ev && e.inLRU:
		s.lru.remove(e)
	}
}

// free drops e from the store.
func (s *Store) free(e *entry) {
	if e.inLRU {
		s.lru.remove(e)
	}
	if e.sealed {
		s.sealed--
	}
	s.used -= e.size()
	delete(s.objects, e.id)
	if e.seg != nil {
		s.shared--
		s.sharedBytes -= e.size()
		if !s.recycle(e) {
			e.seg.Close()
		}
		if !e.seg.Stable() {
			e.data = nil
		}
	}
}

// Bounds of the spare segments: at most spareMax of them, and at most
// half the capacity (and spareBytesMax) in all. Spares never crowd out
// an object: a create drops them before it evicts anything.
const (
	spareMax      = 8
	spareBytesMax = 2 << 30
)

// recycle keeps the segment of the freed object e for a later object of
// its size, and reports whether it did. Only a segment nobody else can
// still write or read is kept: e was sealed (its writer finished and
// closed its mapping before it asked for the seal) and its handle never
// went to a reader (exported). Reusing it spares the next object of that
// size a new segment, and its writer a new mapping: on hosts, the first
// write to each page of a new mapping takes a page fault, which made a
// put several times slower than its copy.
func (s *Store) recycle(e *entry) bool {
	size := e.size()
	limit := min(s.capacity/2, spareBytesMax)
	if !e.sealed || e.exported || size > limit || s.used+s.spareBytes+size > s.capacity {
		return false
	}
	s.spare = append(s.spare, e.seg)
	s.spareBytes += size
	for s.spareBytes > limit || len(s.spare) > spareMax {
		s.dropSpare()
	}
	return true
}

// takeSpare takes a spare segment of size bytes, the newest first, or
// returns nil.
func (s *Store) takeSpare(size int64) core.Segment {
	for i := len(s.spare) - 1; i >= 0; i-- {
		if seg := s.spare[i]; int64(len(seg.Bytes())) == size {
			s.spare = slices.Delete(s.spare, i, i+1)
			s.spareBytes -= size
			return seg
		}
	}
	return nil
}

// dropSpare closes the oldest spare segment.
func (s *Store) dropSpare() {
	seg := s.spare[0]
	s.spare = slices.Delete(s.spare, 0, 1)
	s.spareBytes -= int64(len(seg.Bytes()))
	seg.Close()
}

// evict frees the evictable copy e and tells OnEvict.
func (s *Store) evict(e *entry) {
	if !e.evictable() {
		panic(fmt.Sprintf("plasma: evict %v: held copy (sealed %v, readers %d, primary %v, deleting %v)",
			e.id, e.sealed, e.readers, e.primary, e.deleting))
	}
	s.free(e)
	s.evictions++
	s.evictedBytes += e.size()
	if s.onEvict != nil {
		s.inCallback = true
		s.onEvict(e.id)
		s.inCallback = false
	}
}

// pinnedBytes returns the bytes that eviction cannot free.
func (s *Store) pinnedBytes() int64 { return s.used - s.lru.bytes }

// assertNotInCallback panics if a mutating method is called from OnEvict,
// where the store is in the middle of making room and must not change
// under Create's feet.
func (s *Store) assertNotInCallback(method string) {
	if s.inCallback {
		panic("plasma: Store." + method + " called from Config.OnEvict; record the id and act after Create returns")
	}
}
