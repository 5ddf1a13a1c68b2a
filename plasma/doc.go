// Package plasma is gray's per-node object store, after Ray's plasma: a
// library that the raylet owns and drives, not a Process of its own. Like
// every control-plane package it is sans-IO and deterministic: it never
// touches the OS, reads no clock and iterates no map in an order that could
// matter.
//
// # Life of an object
//
// An object is created with a fixed size (Create), filled with one or more
// writes in any order (Write, so that a pull can land chunks as they arrive)
// and sealed (Seal), after which it is immutable. Put does all three for an
// object that is already in memory. Abort drops an object that will never
// be sealed, such as the target of a failed pull. Readers see sealed objects
// only.
//
// # Pins
//
// A copy can be held in two ways, and a held copy is never evicted:
//
//   - Get takes a reader pin, which Release gives back. Every Get needs
//     exactly one Release.
//   - Pin marks the copy as the primary copy, held on behalf of the object's
//     owner until Unpin or Delete. Pin is idempotent because the owner's
//     request may arrive more than once.
//
// Unsealed objects cannot be evicted either: someone is still writing them.
//
// # Eviction
//
// When Create needs space or an object slot, it evicts sealed copies that
// nobody holds, least recently used first. Recency is a logical clock, not
// wall time: each object's LastUse is stamped when it is created, each time
// it is read (Get), and each time it becomes evictable (when it is sealed,
// or when its last reader pin or its primary pin goes away), so eviction
// order depends only on the sequence of calls. Config.OnEvict hears about every
// evicted copy so that the raylet can tell the owners. Create evicts nothing
// unless the evictions make the new object fit; if held data leaves too
// little room it fails with ErrObjectStoreFull, whose message gives the
// sizes. (Spilling to disk will make room in that case; it comes later.)
//
// # Deletion
//
// Delete frees an object at once unless readers still hold it. In that case
// deletion is deferred: the object disappears from view at once (Get, Pin
// and Unpin fail with ErrNotFound, Contains reports false, Create of the same
// id fails with ErrExists, ObjectInfo.Deleting is set) and its memory is
// freed when its last reader calls Release.
//
// # Ownership of memory
//
// The store copies nothing on Get: the returned slice is the store's own
// memory and must not be modified. A sealed object's bytes never change,
// and the store never reuses an object's memory for another (it is
// garbage-collected once nobody references it), so the slice stays
// readable, with the same bytes, after Release and even after the copy
// is deleted; the reader pin only keeps the copy in the store. Put and
// Write copy their input, so the caller keeps its slice; Adopt takes the
// caller's slice over instead, for bytes nobody else holds.
//
// The exception is shared memory (Config.Memory): objects of at least
// Config.SharedMin bytes that Create allocates live in segments the
// host's other processes can map, closed when the object is freed, after
// which their memory may be unmapped or reused (Mapped reports it): a
// caller that keeps such bytes past its reader pin must copy them.
// CreateShared, SharedUnsealed and WrittenElsewhere let another process
// write an object through its segment; Shared names a sealed object's.
//
// # Bounds
//
// Config.Capacity bounds the bytes held (and CapacityMax bounds it, so that
// size arithmetic cannot overflow); Config.ObjectsMax bounds the number
// of objects (sealed or not); ReaderPinsMax bounds the reader pins on one
// object, so a caller that leaks pins is caught early; WriteRangesMax bounds
// the disjoint written ranges of an unsealed object, so that tracking
// completion costs bounded memory.
//
// # Concurrency
//
// A Store is not safe for concurrent use. It is driven from its raylet's
// event loop, one call at a time. OnEvict runs inside Create and must not
// call the Store back; doing so panics.
package plasma
