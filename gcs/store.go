package gcs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"regexp"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/grayrt/gray/core"
	"github.com/vmihailenco/msgpack/v5"
)

// On-disk layout. Every key starts with a one-byte table prefix; the
// in-memory tables are rebuilt from a full scan at Start.
//
//	m/boot                          boot counter (epoch), 8 bytes big endian
//	m/jobs                          last assigned job counter, 4 bytes
//	m/commits                       batches committed since creation, 8 bytes (witness.go)
//	m/digest                        digest of every other record, 8 bytes (stateDigest)
//	B uvarint(len ns) ns key        KV value of at least bulkValueMin bytes
//	k uvarint(len ns) ns key        KV value below bulkValueMin bytes
//	n NodeID                        NodeInfo (msgpack)
//	j JobID                         JobInfo (msgpack)
//	a ActorID                       ActorInfo (msgpack)
//	c ActorID                       actorSched of a GCS-managed actor (msgpack)
//	d uvarint(len client) client seq(8)   dedup record: Reply (msgpack)
//	f client                        ack floor of client, 8 bytes
//	p PlacementGroupID              PlacementGroupInfo (msgpack)
const (
	tableMeta = 'm'
	tableKV   = 'k'
	// tableBulk holds the large KV values (staged job binaries come in
	// 1 MiB chunks, tens of megabytes each). It sorts below every other
	// table, so the sstables that flushes of the small, hot records make
	// (dedup, placement groups, actors, ...) never span it: otherwise
	// every compaction of such a flush rewrites every large value, which
	// measured as a third of the head's CPU and its disk's bandwidth
	// while placement groups churned.
	tableBulk       = 'B'
	tableNode       = 'n'
	tableJob        = 'j'
	tableActor      = 'a'
	tableSched      = 'c'
	tableDedup      = 'd'
	tableFloor      = 'f'
	tablePlacement  = 'p'
	tableSubmission = 's'
	// tableRaft holds a replica's raft log and state (replica.go); it is
	// not part of the GCS's tables, their digest or a snapshot.
	tableRaft = 'r'
)

var (
	keyBoot       = []byte("m/boot")
	keyJobCounter = []byte("m/jobs")
	keyCommits    = []byte("m/commits")
	keyDigest     = []byte("m/digest")
)

// bulkValueMin is the size from which a KV value is stored in the bulk
// table (tableBulk) instead of the KV table.
const bulkValueMin = 64 << 10

// kvKey is the key of a small KV value (below bulkValueMin bytes).
func kvKey(ns, key string) []byte { return kvKeyIn(tableKV, ns, key) }

// kvKeyOf is the key of a KV value of size bytes.
func kvKeyOf(ns, key string, size int) []byte {
	if size >= bulkValueMin {
		return kvKeyIn(tableBulk, ns, key)
	}
	return kvKeyIn(tableKV, ns, key)
}

func kvKeyIn(table byte, ns, key string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(ns)+len(key))
	b = append(b, table)
	b = binary.AppendUvarint(b, uint64(len(ns)))
	b = append(b, ns...)
	return append(b, key...)
}

func parseKVKey(k []byte) (ns, key string, err error) {
	if len(k) == 0 || (k[0] != tableKV && k[0] != tableBulk) {
		return "", "", errors.New("not a KV key")
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || n > uint64(len(k)-1-w) {
		return "", "", errors.New("bad namespace length")
	}
	rest := k[1+w:]
	if len(rest[n:]) == 0 {
		return "", "", errors.New("empty key")
	}
	return string(rest[:n]), string(rest[n:]), nil
}

func nodeKey(id core.NodeID) []byte   { return append([]byte{tableNode}, id[:]...) }
func jobKey(id core.JobID) []byte     { return append([]byte{tableJob}, id[:]...) }
func actorKey(id core.ActorID) []byte { return append([]byte{tableActor}, id[:]...) }
func floorKey(client string) []byte   { return append([]byte{tableFloor}, client...) }
func schedKey(id core.ActorID) []byte { return append([]byte{tableSched}, id[:]...) }

func dedupKey(client string, seq uint64) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(client)+8)
	b = append(b, tableDedup)
	b = binary.AppendUvarint(b, uint64(len(client)))
	b = append(b, client...)
	return binary.BigEndian.AppendUint64(b, seq)
}

func parseDedupKey(k []byte) (client string, seq uint64, err error) {
	if len(k) == 0 || k[0] != tableDedup {
		return "", 0, errors.New("not a dedup key")
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || n == 0 || n > ClientIDSizeMax || uint64(len(k)-1-w) != n+8 {
		return "", 0, errors.New("bad dedup key layout")
	}
	rest := k[1+w:]
	return string(rest[:n]), binary.BigEndian.Uint64(rest[n:]), nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func parseU64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// encode marshals a record. A failure is a programmer error (every record
// type is a plain struct), so it panics.
func encode(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gcs: encode %T: %v", v, err))
	}
	return b
}

// txn is one mutation: the batch that makes it durable and the in-memory
// effects that run only after the batch committed.
type txn struct {
	b       *pebble.Batch
	s       *Server
	effects []func()
	// kvAt holds the key of every KV value this transaction wrote or
	// deleted (nil: deleted), by kvKey, for a later write of the same
	// value in it (kv.go, Server.kvStoredKey).
	kvAt map[string][]byte
}

func (s *Server) newTxn() *txn { return &txn{b: s.db.NewBatch(), s: s} }

func (t *txn) set(k, v []byte) {
	if err := t.b.Set(k, v, nil); err != nil {
		panic(core.FailStop{Reason: "gcs: batch set", Err: err})
	}
	t.s.digest.set(k, v)
}

func (t *txn) del(k []byte) {
	if err := t.b.Delete(k, nil); err != nil {
		panic(core.FailStop{Reason: "gcs: batch delete", Err: err})
	}
	t.s.digest.del(k)
}

// stateDigest is an order-independent digest of every record of the
// database but m/commits and m/digest: the XOR of a 64-bit hash of each
// (key, value). Every batch stores the digest of the state it leaves
// (m/digest), and Start recomputes it from what it read: records lost
// from the middle of the history (a damaged manifest or log that pebble
// recovered around) leave a state that does not add up to the digest the
// last batch stored, even when the commit count (the witness) does.
type stateDigest struct {
	sum uint64
	// of holds each record's hash, to take it out again when the record
	// changes or goes.
	of map[string]uint64
}

var digestTable = crc64.MakeTable(crc64.ECMA)

func recordHash(k, v []byte) uint64 {
	h := crc64.Update(0, digestTable, binary.AppendUvarint(nil, uint64(len(k))))
	h = crc64.Update(h, digestTable, k)
	return crc64.Update(h, digestTable, v) | 1 // never 0, so no record hashes away
}

func digested(k []byte) bool {
	return len(k) > 0 && k[0] != tableRaft && !bytes.Equal(k, keyCommits) && !bytes.Equal(k, keyDigest)
}

func (d *stateDigest) set(k, v []byte) {
	if !digested(k) {
		return
	}
	if d.of == nil {
		d.of = map[string]uint64{}
	}
	h := recordHash(k, v)
	d.sum ^= d.of[string(k)] ^ h
	d.of[string(k)] = h
}

func (d *stateDigest) del(k []byte) {
	if !digested(k) {
		return
	}
	d.sum ^= d.of[string(k)]
	delete(d.of, string(k))
}

// empty reports whether the batch holds no mutation.
func (t *txn) empty() bool { return t.b.Empty() }

// then queues an in-memory effect of the mutation.
func (t *txn) then(f func()) { t.effects = append(t.effects, f) }

// commit makes t durable and then applies its effects to memory (unless
// the ack-before-sync bug is planted: see commitLater). A failed commit is
// a fail-stop: after a failed WAL write the engine's state is unknown.
func (s *Server) commit(t *txn) {
	if s.front {
		s.commitNow(t)
		return
	}
	if s.cfg.Bug == BugAckBeforeSync {
		s.commitLater(t)
		return
	}
	s.commitNow(t)
}

// pebbleLogger is pebble's logger. Fatalf (pebble's reaction to a failed
// WAL write, called on the committing goroutine after the commit pipeline
// released its locks) fail-stops the process instead of exiting the host.
// Errorf (corruption found by a compaction, a failed background write)
// goes to the environment's foreign-goroutine logger, since pebble calls
// it from its own goroutines: on hosts that is the process's log; in the
// simulator it is not written, where a line written from a goroutine the
// Go runtime schedules would make the trace depend on that schedule (the
// errors that matter to the GCS reach it as commit errors). Infof (WAL
// replay progress and the like) is dropped.
type pebbleLogger struct{ env core.Env }

func (pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	core.ForeignLog(l.env).Error("gcs: pebble: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok && pebble.IsCorruptionError(err) {
			// Pebble reports a checksum mismatch in an sstable (found
			// while Start reads every record) this way: storage that
			// cannot prove what it holds, not a failure a restart fixes.
			path, problem := describeCorruption(err)
			serr := &StorageError{Path: core.FSPath(l.env.FS(), path), Problem: problem}
			panic(core.FailStop{Reason: "gcs: storage cannot prove it holds every acknowledged write", Err: serr})
		}
	}
	panic(core.FailStop{Reason: "gcs: pebble fatal", Err: fmt.Errorf(format, args...)})
}

// pebbleFileRE finds the table in pebble's "pebble: file 000008: block ..." errors.
var pebbleFileRE = regexp.MustCompile(`pebble: file (\d{6,}):`)

// describeCorruption turns pebble's corruption report ("on-disk
// corruption: gcs-db/000008.sst; bounds: [...]; details: pebble: file
// 000008: block 8104/1024: crc32c checksum mismatch ...") into the file
// and a readable line, without the raw key bounds.
func describeCorruption(err error) (path, problem string) {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	path = DBDir
	full := err.Error()
	if _, rest, ok := strings.Cut(full, "on-disk corruption: "); ok {
		if p, _, ok := strings.Cut(rest, ";"); ok && p != "" {
			path = p
		}
	}
	if m := pebbleFileRE.FindStringSubmatch(full); path == DBDir && m != nil {
		path = fmt.Sprintf("%s/%s.sst", DBDir, m[1])
	}
	problem = "corrupt"
	if _, details, ok := strings.Cut(msg, "; details: "); ok {
		problem += ": " + details
	} else {
		problem += ": " + msg
	}
	return path, problem
}

// recovered is what a full scan of the database holds.
type recovered struct {
	boot    uint64
	commits uint64
	// stored is the digest the last batch stored (hasDigest: it stored
	// one; older databases did not); digest is what the records add up to.
	stored     uint64
	hasDigest  bool
	digest     stateDigest
	jobCounter uint32
	kv         map[string]map[string][]byte
	// kvLegacy holds, by kvKey, the large values that an older version
	// stored in the KV table instead of the bulk table.
	kvLegacy map[string]bool
	nodes    []NodeInfo
	jobs     []JobInfo
	actors   []ActorInfo
	scheds   map[core.ActorID]actorSched
	pgs      []PlacementGroupInfo
	jobSubs  []JobSubmission
	replies  map[string]map[uint64]Reply
	floors   map[string]uint64
}

// scan reads every record of the database, in key order.
func scan(db *pebble.DB) (*recovered, error) {
	r := &recovered{
		kv:       map[string]map[string][]byte{},
		kvLegacy: map[string]bool{},
		scheds:   map[core.ActorID]actorSched{},
		replies:  map[string]map[uint64]Reply{},
		floors:   map[string]uint64{},
	}
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), bytes.Clone(it.Value())
		r.digest.set(k, v)
		if err := r.load(k, v); err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("record %q: %w", k, err)
		}
	}
	return r, it.Close()
}

// load decodes one record. It never panics on bad bytes; an error means a
// corrupt database (or a bug that wrote one).
func (r *recovered) load(k, v []byte) error {
	if len(k) == 0 {
		return errors.New("empty key")
	}
	switch k[0] {
	case tableMeta:
		switch {
		case bytes.Equal(k, keyBoot):
			n, err := parseU64(v)
			r.boot = n
			return err
		case bytes.Equal(k, keyCommits):
			n, err := parseU64(v)
			r.commits = n
			return err
		case bytes.Equal(k, keyDigest):
			n, err := parseU64(v)
			r.stored, r.hasDigest = n, true
			return err
		case bytes.Equal(k, keyMembers):
			return nil // a replicated GCS's members (replica_members.go)
		case bytes.Equal(k, keyJobCounter):
			if len(v) != 4 {
				return fmt.Errorf("job counter of %d bytes, want 4", len(v))
			}
			r.jobCounter = binary.BigEndian.Uint32(v)
			return nil
		}
	case tableKV, tableBulk:
		ns, key, err := parseKVKey(k)
		if err != nil {
			return err
		}
		switch {
		case k[0] == tableBulk && len(v) < bulkValueMin:
			return fmt.Errorf("a KV value of %d bytes in the bulk table", len(v))
		case k[0] == tableKV && len(v) >= bulkValueMin:
			r.kvLegacy[string(k)] = true
		}
		if _, dup := r.kv[ns][key]; dup {
			return fmt.Errorf("KV key %q of namespace %q stored twice", key, ns)
		}
		if r.kv[ns] == nil {
			r.kv[ns] = map[string][]byte{}
		}
		r.kv[ns][key] = v
		return nil
	case tableNode:
		var n NodeInfo
		if err := decodeRecord(k, v, &n, len(n.ID)); err != nil {
			return err
		}
		if n.ID != core.NodeID(k[1:]) || n.State < NodeAlive || n.State > NodeDead || !n.Resources.Valid() {
			return fmt.Errorf("inconsistent node record %v", n)
		}
		n.Available = n.Resources
		r.nodes = append(r.nodes, n)
		return nil
	case tableJob:
		var j JobInfo
		if err := decodeRecord(k, v, &j, len(j.ID)); err != nil {
			return err
		}
		if j.ID != core.JobID(k[1:]) {
			return fmt.Errorf("job record %v under another key", j)
		}
		r.jobs = append(r.jobs, j)
		return nil
	case tableActor:
		var a ActorInfo
		if err := decodeRecord(k, v, &a, len(a.ID)); err != nil {
			return err
		}
		if a.ID != core.ActorID(k[1:]) || a.State < ActorDependenciesUnready || a.State > ActorDead || a.ID.Job() != a.Job {
			return fmt.Errorf("inconsistent actor record %v", a)
		}
		r.actors = append(r.actors, a)
		return nil
	case tableSched:
		var sc actorSched
		if err := decodeRecord(k, v, &sc, len(core.ActorID{})); err != nil {
			return err
		}
		if sc.Spec.validate() != nil {
			return fmt.Errorf("invalid actor spec %+v", sc.Spec)
		}
		r.scheds[core.ActorID(k[1:])] = sc
		return nil
	case tablePlacement:
		var p PlacementGroupInfo
		if err := decodeRecord(k, v, &p, len(p.ID)); err != nil {
			return err
		}
		if p.ID != core.PlacementGroupID(k[1:]) || p.State < PlacementPending || p.State > PlacementRemoved ||
			len(p.Nodes) != len(p.Bundles) || !p.Strategy.Valid() {
			return fmt.Errorf("inconsistent placement group record %+v", p)
		}
		r.pgs = append(r.pgs, p)
		return nil
	case tableSubmission:
		var j JobSubmission
		if err := msgpack.Unmarshal(v, &j); err != nil {
			return err
		}
		if j.ID() != string(k[1:]) || !j.State.Valid() || j.Spec.Validate() != nil {
			return fmt.Errorf("inconsistent job submission record %+v", j)
		}
		r.jobSubs = append(r.jobSubs, j)
		return nil
	case tableDedup:
		client, seq, err := parseDedupKey(k)
		if err != nil {
			return err
		}
		var rep Reply
		if err := msgpack.Unmarshal(v, &rep); err != nil {
			return err
		}
		if rep.Client != client || rep.Seq != seq || rep.Validate() != nil {
			return fmt.Errorf("dedup record %v under key of %s/%d", &rep, client, seq)
		}
		if r.replies[client] == nil {
			r.replies[client] = map[uint64]Reply{}
		}
		r.replies[client][seq] = rep
		return nil
	case tableRaft:
		return nil // read by the replica (replica_store.go)
	case tableFloor:
		client := string(k[1:])
		if client == "" || len(client) > ClientIDSizeMax {
			return errors.New("bad floor key")
		}
		n, err := parseU64(v)
		r.floors[client] = n
		return err
	}
	return errors.New("unknown table")
}

// decodeRecord checks that the key holds an id of idLen bytes and
// unmarshals v into rec.
func decodeRecord(k, v []byte, rec any, idLen int) error {
	if len(k) != 1+idLen {
		return fmt.Errorf("key of %d bytes, want %d", len(k), 1+idLen)
	}
	return msgpack.Unmarshal(v, rec)
}
