package gcs

import (
	"github.com/grayrt/gray/core"
)

// ackBeforeSyncBytes is how much a server with BugAckBeforeSync lets
// gather, acknowledged but unwritten, before it writes it: like a database
// that syncs only when its log rotates, a crash loses everything since.
const ackBeforeSyncBytes = 64 << 10

// commitLater is commit with BugAckBeforeSync: the effects, and so the
// reply that follows, happen now; the write joins a held-back batch that is
// committed (synced, like any other) once it holds ackBeforeSyncBytes.
//
// The bug was once planted by committing with pebble.NoSync. Such a commit
// returns before pebble's log writer goroutine has written the record, so
// the write raced with the event loop (with the disk fault switching on
// and off, with the crash that clones the disk) and one seed could give
// different runs. A write the disk fault failed on that goroutine was
// reported to no one and surfaced only at the next WAL rotation, as a
// runtime fatal error (see wal.go) that took down whole campaigns. Holding
// the batch back in the server plants the same bug (acknowledged, not
// durable) deterministically.
func (s *Server) commitLater(t *txn) {
	if !t.b.Empty() {
		if s.unsynced == nil {
			s.unsynced = s.db.NewBatch()
		}
		if err := s.unsynced.Apply(t.b, nil); err != nil {
			panic(core.FailStop{Reason: "gcs: batch apply", Err: err})
		}
	}
	_ = t.b.Close()
	for _, f := range t.effects {
		f()
	}
	if s.unsynced != nil && memtableBytesMax(s.unsynced) >= ackBeforeSyncBytes {
		b := s.unsynced
		s.unsynced = nil
		s.commitNow(&txn{b: b, s: s})
	}
}
