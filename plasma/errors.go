package plasma

import "errors"

// Errors returned by Store methods. Methods wrap them with the object id and
// the numbers involved; match them with errors.Is.
var (
	// ErrNotFound: no such object, or it is being deleted.
	ErrNotFound = errors.New("plasma: object not found")
	// ErrExists: Create for an id that is already in the store, possibly
	// still being deleted while readers hold it.
	ErrExists = errors.New("plasma: object already exists")
	// ErrTooLarge: the object is larger than the store's whole capacity and
	// can never fit. Raise the object store capacity or split the object.
	ErrTooLarge = errors.New("plasma: object larger than the object store; raise the object store capacity or split the object")
	// ErrObjectStoreFull: the object would fit only by evicting data that is
	// held (read, primary-pinned or still being written). Release objects
	// that are no longer read, delete unused ones, or raise the capacity.
	ErrObjectStoreFull = errors.New("plasma: object store full; release objects no longer read, delete unused objects, or raise the object store capacity")
	// ErrTooManyObjects: the store holds Config.ObjectsMax objects and none
	// of them can be evicted. Release or delete objects, or raise
	// ObjectsMax.
	ErrTooManyObjects = errors.New("plasma: too many objects in the store; release or delete objects, or raise the object limit")
	// ErrSealed: Write or Seal on an object that is already sealed and
	// therefore immutable.
	ErrSealed = errors.New("plasma: object already sealed")
	// ErrNotSealed: Get or Pin on an object that is still being written.
	// Wait until it is sealed.
	ErrNotSealed = errors.New("plasma: object not sealed yet")
	// ErrIncomplete: Seal on an object some of whose bytes were never
	// written. Write the missing ranges first, or Abort the object.
	ErrIncomplete = errors.New("plasma: object not completely written")
	// ErrOutOfRange: a negative size, or a write that does not lie within
	// the object.
	ErrOutOfRange = errors.New("plasma: offset or size out of range")
	// ErrFragmented: a write would leave more than WriteRangesMax disjoint
	// written ranges. Write chunks closer to in order, or in larger pieces.
	ErrFragmented = errors.New("plasma: too many disjoint written ranges; write chunks closer to in order or in larger pieces")
	// ErrNotPinned: Release without a matching Get, or Unpin of a copy that
	// is not primary-pinned.
	ErrNotPinned = errors.New("plasma: object not pinned")
	// ErrTooManyPins: the object already has ReaderPinsMax reader pins,
	// which means some reader does not release what it gets.
	ErrTooManyPins = errors.New("plasma: too many reader pins on one object; release objects after reading them")
	// ErrNotShared: WrittenElsewhere on an object that has no shared
	// memory segment, so nobody else can have written it.
	ErrNotShared = errors.New("plasma: object not in shared memory")
)
