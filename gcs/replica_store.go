package gcs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/grayrt/gray/core"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// A replica's raft state lives in its database, next to the GCS's tables,
// under tableRaft; it is written in the same synced batches:
//
//	r/h              raft HardState (protobuf)
//	r/a              applied index and its term, 8 bytes each
//	r/c              ConfState of the applied state (protobuf)
//	r/e index(8)     log entry (protobuf)
//
// The log holds the entries after the applied index plus up to
// Config.RaftLogKeep applied ones; the tables hold the applied state, which is
// what a snapshot carries.
var (
	keyRaftHard    = []byte("r/h")
	keyRaftApplied = []byte("r/a")
	keyRaftConf    = []byte("r/c")
)

func raftEntryKey(i uint64) []byte { return binary.BigEndian.AppendUint64([]byte("r/e"), i) }

func appliedRecord(index, term uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, index), term)
}

// loadRaft reads the raft state from the database into a MemoryStorage:
// a snapshot at the applied index (its data is the tables, read when a
// follower needs it), then the log after it. A replica that is joining
// has no applied index yet (bootstrap writes the initial one).
func (r *Replica) loadRaft() {
	db := r.store.db
	r.ms = raft.NewMemoryStorage()
	get := func(k []byte) ([]byte, bool) {
		v, closer, err := db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, false
		}
		if err != nil {
			panic(core.FailStop{Reason: "gcs: read the raft state", Err: err})
		}
		defer closer.Close()
		return bytes.Clone(v), true
	}
	bad := func(what string, err error) {
		r.store.refuse(DBDir, false, "raft %s: %v", what, err)
	}
	ap, ok := get(keyRaftApplied)
	if !ok {
		// A joining replica: nothing yet; the leader sends a snapshot.
		r.applied, r.appliedTerm = 0, 0
		r.conf = raftpb.ConfState{}
	} else {
		if len(ap) != 16 {
			bad("applied index", fmt.Errorf("%d bytes, want 16", len(ap)))
		}
		r.applied, r.appliedTerm = binary.BigEndian.Uint64(ap), binary.BigEndian.Uint64(ap[8:])
		cb, ok := get(keyRaftConf)
		if !ok {
			bad("configuration", errors.New("missing"))
		}
		r.conf = raftpb.ConfState{} // Unmarshal appends to lists
		if err := r.conf.Unmarshal(cb); err != nil {
			bad("configuration", err)
		}
		if err := r.ms.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: r.applied, Term: r.appliedTerm, ConfState: r.conf}}); err != nil {
			panic(fmt.Sprintf("gcs: raft snapshot: %v", err))
		}
	}
	if hb, ok := get(keyRaftHard); ok {
		var hs raftpb.HardState
		if err := hs.Unmarshal(hb); err != nil {
			bad("hard state", err)
		}
		_ = r.ms.SetHardState(hs)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("r/e"), UpperBound: []byte("r/f")})
	if err != nil {
		panic(core.FailStop{Reason: "gcs: read the raft log", Err: err})
	}
	var ents []raftpb.Entry
	r.lastIndex = r.applied
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 3+8 {
			_ = it.Close()
			bad("log", fmt.Errorf("key %q", k))
		}
		i := binary.BigEndian.Uint64(k[3:])
		r.lastIndex = max(r.lastIndex, i)
		if i <= r.applied {
			continue
		}
		var e raftpb.Entry
		if err := e.Unmarshal(it.Value()); err != nil || e.Index != i {
			_ = it.Close()
			bad("log", fmt.Errorf("entry %d: %v", i, err))
		}
		if len(ents) > 0 && ents[len(ents)-1].Index+1 != i || len(ents) == 0 && i != r.applied+1 {
			_ = it.Close()
			bad("log", fmt.Errorf("entry %d does not follow %d", i, r.applied+uint64(len(ents))))
		}
		ents = append(ents, e)
	}
	if err := it.Close(); err != nil {
		panic(core.FailStop{Reason: "gcs: read the raft log", Err: err})
	}
	if err := r.ms.Append(ents); err != nil {
		bad("log", err)
	}
}

// replicaStorage is raft's view of the log. Its snapshot is always made
// fresh, at the applied index, from the tables: the replica keeps no
// other copy.
type replicaStorage struct {
	*raft.MemoryStorage
	r *Replica
}

// InitialState gives raft the configuration of the applied state: the
// MemoryStorage keeps the one of its last snapshot, which configuration
// changes applied since (before a step-down restarts raft) left behind.
func (s replicaStorage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	hs, _, err := s.MemoryStorage.InitialState()
	return hs, s.r.conf, err
}

func (s replicaStorage) Snapshot() (raftpb.Snapshot, error) {
	r := s.r
	data, err := snapshotData(r.store.db)
	if err != nil {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	return raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{Index: r.applied, Term: r.appliedTerm, ConfState: r.conf}}, nil
}

// snapshotData encodes every record of the tables: pairs of uvarint
// length-prefixed key and value.
func snapshotData(db *pebble.DB) ([]byte, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	var b []byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if !inSnapshot(k) {
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(it.Value())))
		b = append(b, it.Value()...)
	}
	return b, it.Close()
}

// inSnapshot reports whether a record is part of the replicated state.
func inSnapshot(k []byte) bool { return digested(k) }

// installSnapshot replaces the tables with the snapshot's and the log
// with nothing (the snapshot's index is the new applied index).
func (r *Replica) installSnapshot(t *txn, snap raftpb.Snapshot) {
	it, err := r.store.db.NewIter(nil)
	if err != nil {
		panic(core.FailStop{Reason: "gcs: install a snapshot", Err: err})
	}
	for it.First(); it.Valid(); it.Next() {
		if k := it.Key(); inSnapshot(k) || bytes.HasPrefix(k, []byte("r/e")) {
			t.del(bytes.Clone(k))
		}
	}
	if err := it.Close(); err != nil {
		panic(core.FailStop{Reason: "gcs: install a snapshot", Err: err})
	}
	data := snap.Data
	for len(data) > 0 {
		k, rest, ok := cutField(data)
		if !ok {
			panic(core.FailStop{Reason: "gcs: install a snapshot", Err: errors.New("malformed snapshot")})
		}
		v, rest, ok := cutField(rest)
		if !ok || !inSnapshot(k) {
			panic(core.FailStop{Reason: "gcs: install a snapshot", Err: errors.New("malformed snapshot")})
		}
		t.set(bytes.Clone(k), bytes.Clone(v))
		data = rest
	}
	r.applied, r.appliedTerm = snap.Metadata.Index, snap.Metadata.Term
	r.conf = snap.Metadata.ConfState
	b, _ := r.conf.Marshal()
	t.set(keyRaftConf, b)
	t.set(keyRaftApplied, appliedRecord(r.applied, r.appliedTerm))
	r.lastIndex = snap.Metadata.Index
	r.stats.Snapshots++
}

func cutField(b []byte) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

// compact drops applied entries beyond Config.RaftLogKeep from the log.
func (r *Replica) compact() {
	first, _ := r.ms.FirstIndex()
	keep := uint64(r.cfg.RaftLogKeep)
	if r.applied < first+2*keep {
		return
	}
	to := r.applied - keep
	if err := r.ms.Compact(to); err != nil {
		return
	}
	t := r.store.newTxn()
	for i := first; i < to; i++ {
		t.del(raftEntryKey(i))
	}
	r.store.commitNow(t)
}

// entryData is a log entry of the front's: who proposed it (replica id,
// term, sequence) and the pebble batch of the mutation.
func entryData(node, term, seq uint64, repr []byte) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(repr))
	b = append(b, 'G')
	b = binary.AppendUvarint(b, node)
	b = binary.AppendUvarint(b, term)
	b = binary.AppendUvarint(b, seq)
	return append(b, repr...)
}

func parseEntry(b []byte) (node, term, seq uint64, repr []byte, err error) {
	if len(b) == 0 || b[0] != 'G' {
		return 0, 0, 0, nil, errors.New("not a GCS entry")
	}
	b = b[1:]
	for _, p := range []*uint64{&node, &term, &seq} {
		v, w := binary.Uvarint(b)
		if w <= 0 {
			return 0, 0, 0, nil, errors.New("truncated entry header")
		}
		*p, b = v, b[w:]
	}
	if _, ok := batchrepr.ReadHeader(b); !ok {
		return 0, 0, 0, nil, errors.New("malformed batch")
	}
	return node, term, seq, b, nil
}

// applyBatch applies the sets and deletes of a front's batch to t.
func applyBatch(t *txn, repr []byte) {
	rd := batchrepr.Read(repr)
	for {
		kind, k, v, ok, err := rd.Next()
		if err != nil {
			panic(core.FailStop{Reason: "gcs: apply a committed entry", Err: err})
		}
		if !ok {
			return
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			t.set(bytes.Clone(k), bytes.Clone(v))
		case pebble.InternalKeyKindDelete:
			t.del(bytes.Clone(k))
		default:
			panic(core.FailStop{Reason: "gcs: apply a committed entry", Err: fmt.Errorf("record kind %v", kind)})
		}
	}
}
