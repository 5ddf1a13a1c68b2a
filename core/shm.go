package core

import "errors"

// SharedMemory is implemented by environments whose processes on one
// host can share memory, as Ray's plasma maps its store into its
// workers: on hosts, memory-mapped memfd segments (and plain Go memory
// between the processes of one program); in the simulator, segments
// shared by the processes of one simulated host. A raylet allocates its
// store's large objects in it; a worker or driver on the same host
// writes a put straight into the store's segment and copies a get out
// of it, so the bytes never cross a socket.
//
// Opening is best effort: a segment can be opened only on its own host
// and only while some process holds it open, and an environment may
// refuse at any time (the simulator injects refusals). Callers fall
// back to moving the bytes in messages.
type SharedMemory interface {
	// ShmCreate makes a segment of size bytes, open and writable in
	// this process until Close. Its contents are unspecified (it may
	// reuse memory): write every byte before anyone reads it.
	ShmCreate(size int64) (Segment, error)
	// ShmOpen opens the segment that handle names, of size bytes,
	// writable when write is set. It fails with ErrShmForeign when the
	// segment belongs to another host (never retry there), and with
	// another error when it is gone or refused (retry in messages).
	ShmOpen(handle string, size int64, write bool) (Segment, error)
}

// Segment is one process's hold on a shared memory segment.
type Segment interface {
	// Bytes is the segment's memory. It must not be used after Close,
	// unless Stable: another process may reuse it, and a mapping is
	// gone.
	Bytes() []byte
	// Handle names the segment for ShmOpen in other processes of the
	// host. It is opaque, printable and at most ShmHandleMax bytes.
	Handle() string
	// Stable reports whether Bytes stays valid after Close (Go memory,
	// kept by the garbage collector while referenced).
	Stable() bool
	// Close releases this process's hold. The segment's memory is
	// freed when no process holds it. Close is idempotent.
	Close()
}

// ShmHandleMax bounds a segment handle in messages.
const ShmHandleMax = 256

// ErrShmForeign reports a handle of another host's shared memory.
var ErrShmForeign = errors.New("core: shared memory of another host")

// ShmOf returns env's shared memory, or nil where processes share none.
func ShmOf(env Env) SharedMemory {
	if s, ok := env.(SharedMemory); ok {
		return s
	}
	return nil
}
