package gcs

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/grayrt/gray/core"
)

// Pebble survives a failed WAL write inside an ordinary synced commit: the
// commit fails (Logger.Fatalf, or a panic out of the commit pipeline) and
// the server fail-stops. It does not survive one while it rotates the WAL
// (when a memtable is full, for a batch too large for one, on a flush): it
// panics with its DB mutex released, and the deferred unlock up the stack
// turns that into "fatal error: sync: unlock of unlocked mutex", which no
// recover catches. In production that kills the process, one more
// fail-stop; in the simulator it kills every run of the campaign, since
// the simulator's disk fault fails WAL writes at any moment between
// events. So the server keeps every rotation on a disk it knows works:
//
//   - it rotates the WAL itself (DB.AsyncFlush) right after a successful
//     commit, once the memtable may hold memtableBytesRotate, so pebble never
//     fills one (a disk that has just synced a commit works for the rest
//     of the event: the simulator switches disk faults only between
//     events);
//   - before a commit that could still make pebble rotate (one that might
//     not fit, such as a large value), it first syncs an empty WAL record
//     (DB.LogData), which on a failing disk fails the ordinary way.
//
// memtableBytes bounds the memtable space taken since the last rotation.
const (
	// memtableBytesSafe is what a mutable memtable is sure to hold: pebble
	// starts with 256 KiB memtables and only grows them, and an empty one
	// spends under 2 KiB on its skiplists' heads. Large batches (half of
	// MemTableSize) are far above it.
	memtableBytesSafe = 248 << 10
	// memtableBytesRotate is when the server rotates on its own: half of
	// memtableBytesSafe, so ordinary commits (well under 100 KiB) never
	// need a probe.
	memtableBytesRotate = 128 << 10
	// memtableEntryBytesMax bounds pebble's cost of an entry beyond its
	// key and value: an 8-byte trailer and a skiplist node of at most
	// about 190 bytes (arenaskl.MaxNodeSize).
	memtableEntryBytesMax = 256
)

// memtableBytesMax is an upper bound of the memtable space b takes.
func memtableBytesMax(b *pebble.Batch) uint64 {
	return uint64(b.Len()) + uint64(b.Count())*memtableEntryBytesMax
}

// commitNow commits t, synced, then applies its effects. Every commit of
// the server is synced, also with BugAckBeforeSync: a synced commit returns
// only after pebble's log writer goroutine has written and synced the
// record, so no WAL write runs alongside the simulator's event loop (which
// keeps runs deterministic) and a failed write reaches this goroutine as
// an error, a fail-stop.
func (s *Server) commitNow(t *txn) {
	if s.front {
		if !t.b.Empty() {
			s.propose(t)
		}
		_ = t.b.Close()
		for _, f := range t.effects {
			f()
		}
		return
	}
	if t.b.Empty() {
		_ = t.b.Close()
	} else {
		size := memtableBytesMax(t.b)
		probed := s.memtableBytes+size > memtableBytesSafe
		if probed {
			s.pebble("probe the WAL", func() error { return s.db.LogData(nil, pebble.Sync) })
		}
		wals := s.walsCreated
		t.set(keyCommits, u64(s.commits+1))
		t.set(keyDigest, u64(s.digest.sum))
		s.pebble("commit", func() error { return t.b.Commit(pebble.Sync) })
		s.commits++
		if s.walsCreated != wals && !probed {
			panic(fmt.Sprintf("gcs: pebble rotated its WAL inside an unprobed commit of at most %d bytes on top of %d: memtableBytesMax underestimates", size, s.memtableBytes))
		}
		_ = t.b.Close() // only fails for a batch committed twice, which cannot happen here
		s.memtableBytes += size
		if s.memtableBytes >= memtableBytesRotate {
			s.pebble("rotate the WAL", func() error { _, err := s.db.AsyncFlush(); return err })
			s.memtableBytes = 0
			s.writeWitness(false)
		}
	}
	for _, f := range t.effects {
		f()
	}
}

// pebble runs op, a write to the database, and fail-stops if it fails.
// Pebble panics with an error value when a WAL write fails in some paths
// (and calls Logger.Fatalf in others); both are operating errors of the
// disk, so they become a fail-stop. A panic out of pebble's commit pipeline
// may leave its locks held, so the database is marked poisoned and Stop
// does not Close it (Close would wait for those locks forever).
func (s *Server) pebble(what string, op func() error) {
	err := func() (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if fs, ok := r.(core.FailStop); ok {
				panic(fs) // from Fatalf, after the pipeline released its locks
			}
			s.poisoned = true
			if e, ok := r.(error); ok {
				err = fmt.Errorf("pebble panicked: %w", e)
				return
			}
			panic(r)
		}()
		return op()
	}()
	if err != nil {
		panic(core.FailStop{Reason: "gcs: " + what, Err: err})
	}
}
