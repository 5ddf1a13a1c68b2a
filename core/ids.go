package core

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Sizes of the typed IDs, in bytes. They follow Ray's layout so that an ID
// carries its lineage: an ActorID embeds its JobID, a TaskID its ActorID (nil
// for normal tasks) and an ObjectID its TaskID plus the return index.
const (
	JobIDSize            = 4
	ActorIDUniqueSize    = 12
	ActorIDSize          = ActorIDUniqueSize + JobIDSize
	TaskIDUniqueSize     = 8
	TaskIDSize           = TaskIDUniqueSize + ActorIDSize
	ObjectIDIndexSize    = 4
	ObjectIDSize         = TaskIDSize + ObjectIDIndexSize
	UniqueIDSize         = 28
	PlacementGroupIDSize = 14 + JobIDSize
)

// JobID names a job (one driver program's session with the cluster). Job ids
// are assigned by the GCS from a counter, as in Ray.
type JobID [JobIDSize]byte

// ActorID names an actor: 12 unique bytes followed by the id of the job that
// created it.
type ActorID [ActorIDSize]byte

// TaskID names a task: 8 unique bytes followed by the ActorID of the actor it
// runs on (the nil ActorID with the job id for normal tasks).
type TaskID [TaskIDSize]byte

// ObjectID names an object: the TaskID that creates it followed by a
// big-endian return index (1-based for task returns, as in Ray; puts use
// indexes with the top bit set).
type ObjectID [ObjectIDSize]byte

// NodeID names a node (one raylet) for its whole life. A node id that the GCS
// declared dead is never alive again; a restarted raylet takes a new NodeID.
type NodeID [UniqueIDSize]byte

// WorkerID names a worker process (or the driver) for its whole life.
type WorkerID [UniqueIDSize]byte

// PlacementGroupID names a placement group: 14 unique bytes and the JobID.
type PlacementGroupID [PlacementGroupIDSize]byte

// JobIDFromInt returns the JobID for a GCS job counter value.
func JobIDFromInt(n uint32) JobID {
	var j JobID
	binary.BigEndian.PutUint32(j[:], n)
	return j
}

// Int returns the job counter value of j.
func (j JobID) Int() uint32 { return binary.BigEndian.Uint32(j[:]) }

// String returns "job:" followed by the job number in hex, like Ray's "01000000".
func (j JobID) String() string { return "job:" + hex.EncodeToString(j[:]) }

// IsNil reports whether j is the zero JobID.
func (j JobID) IsNil() bool { return j == JobID{} }

// NewActorID derives the id of the counter-th actor created by parent, as Ray
// does: a hash of the parent task id and the counter, then the job id.
func NewActorID(job JobID, parent TaskID, counter uint64) ActorID {
	var a ActorID
	h := derive(parent[:], counter, 0xac)
	copy(a[:ActorIDUniqueSize], h[:ActorIDUniqueSize])
	copy(a[ActorIDUniqueSize:], job[:])
	return a
}

// Job returns the id of the job that created a.
func (a ActorID) Job() JobID {
	var j JobID
	copy(j[:], a[ActorIDUniqueSize:])
	return j
}

// IsNil reports whether a has no unique part (normal tasks carry such ids).
func (a ActorID) IsNil() bool {
	var zero [ActorIDUniqueSize]byte
	return [ActorIDUniqueSize]byte(a[:ActorIDUniqueSize]) == zero
}

// String returns "actor:" and the id in hex.
func (a ActorID) String() string { return "actor:" + hex.EncodeToString(a[:]) }

// nilActorForJob is the ActorID that normal tasks of job carry.
func nilActorForJob(job JobID) ActorID {
	var a ActorID
	copy(a[ActorIDUniqueSize:], job[:])
	return a
}

// DriverTaskID returns the id of the pseudo-task that a driver of job runs
// as; it is the parent of every task the driver submits.
func DriverTaskID(job JobID) TaskID {
	var t TaskID
	for i := range TaskIDUniqueSize {
		t[i] = 0xff
	}
	a := nilActorForJob(job)
	copy(t[TaskIDUniqueSize:], a[:])
	return t
}

// WorkerTaskID returns the id of the pseudo-task that a process without a
// job of its own (a worker, outside the tasks it runs) submits, puts and
// creates actors as. The driver's pseudo-task (DriverTaskID) is unique per
// job; workers share the nil job, so their pseudo-task is derived from
// their core worker's incarnation (random per process start) instead:
// otherwise every worker, and every restart of one, would derive the same
// Put, actor and actor-call ids from its counters, and a raylet would take
// one worker's object for a retried put of another's.
func WorkerTaskID(job JobID, incarnation uint64) TaskID {
	return newTaskID(nilActorForJob(job), DriverTaskID(job), incarnation, 0x77)
}

// NewTaskID derives the id of the counter-th normal task submitted by the
// task parent (Ray: hash of parent id and parent's task counter).
func NewTaskID(job JobID, parent TaskID, counter uint64) TaskID {
	return newTaskID(nilActorForJob(job), parent, counter, 0x7a)
}

// NewActorTaskID derives the id of the counter-th call that parent makes on
// actor.
func NewActorTaskID(actor ActorID, parent TaskID, counter uint64) TaskID {
	return newTaskID(actor, parent, counter, 0x7b)
}

// ActorCreationTaskID returns the id of the task that creates actor; its
// unique part is all zero so it is recognisable, as in Ray.
func ActorCreationTaskID(actor ActorID) TaskID {
	var t TaskID
	copy(t[TaskIDUniqueSize:], actor[:])
	return t
}

func newTaskID(actor ActorID, parent TaskID, counter uint64, salt byte) TaskID {
	var t TaskID
	h := derive(parent[:], counter, salt)
	copy(t[:TaskIDUniqueSize], h[:TaskIDUniqueSize])
	copy(t[TaskIDUniqueSize:], actor[:])
	return t
}

// Actor returns the ActorID embedded in t (nil for normal tasks).
func (t TaskID) Actor() ActorID {
	var a ActorID
	copy(a[:], t[TaskIDUniqueSize:])
	return a
}

// Job returns the JobID embedded in t.
func (t TaskID) Job() JobID { return t.Actor().Job() }

// String returns "task:" and the id in hex.
func (t TaskID) String() string { return "task:" + hex.EncodeToString(t[:]) }

// putIndexBit marks object indexes created by Put rather than task returns.
const putIndexBit = 1 << 31

// ObjectIDForReturn returns the id of the index-th return (1-based) of task.
func ObjectIDForReturn(task TaskID, index uint32) ObjectID {
	return objectID(task, index&^putIndexBit)
}

// ObjectIDForPut returns the id of the index-th object that task puts (1-based).
func ObjectIDForPut(task TaskID, index uint32) ObjectID {
	return objectID(task, index|putIndexBit)
}

func objectID(task TaskID, index uint32) ObjectID {
	var o ObjectID
	copy(o[:], task[:])
	binary.BigEndian.PutUint32(o[TaskIDSize:], index)
	return o
}

// ActorHandleObjectID returns the id of actor's handle object: not a
// value, but the reference its owner counts for the actor's handles (a
// handle held in a process, inside a value or by a pending call holds
// it); when it goes out of scope the owner kills the actor, as Ray ends
// an actor whose handles all went out of scope. It is put index 0 of the
// actor's creation task, which no Put uses.
func ActorHandleObjectID(actor ActorID) ObjectID {
	return objectID(ActorCreationTaskID(actor), putIndexBit)
}

// HandleActor returns the actor whose handle object o is, if it is one.
func (o ObjectID) HandleActor() (ActorID, bool) {
	t := o.Task()
	if binary.BigEndian.Uint32(o[TaskIDSize:]) != putIndexBit || t != ActorCreationTaskID(t.Actor()) {
		return ActorID{}, false
	}
	return t.Actor(), true
}

// Task returns the id of the task that created o.
func (o ObjectID) Task() TaskID {
	var t TaskID
	copy(t[:], o[:TaskIDSize])
	return t
}

// Index returns the return or put index of o, without the put marker.
func (o ObjectID) Index() uint32 {
	return binary.BigEndian.Uint32(o[TaskIDSize:]) &^ putIndexBit
}

// IsPut reports whether o was created by Put rather than as a task return.
func (o ObjectID) IsPut() bool {
	return binary.BigEndian.Uint32(o[TaskIDSize:])&putIndexBit != 0
}

// String returns "obj:" and the id in hex.
func (o ObjectID) String() string { return "obj:" + hex.EncodeToString(o[:]) }

// NewNodeID draws a NodeID from r, which must be the Env's PRNG.
func NewNodeID(r *rand.Rand) NodeID { return NodeID(randomBytes28(r)) }

// String returns "node:" and the first 8 bytes in hex (enough to be unique in
// any log a person reads).
func (n NodeID) String() string { return "node:" + hex.EncodeToString(n[:8]) }

// Full returns "node:" and every hex digit of n: the form the public API,
// the runtime context and the CLI give, which ParseNodeID reads back
// (String keeps the first 16 digits, for logs).
func (n NodeID) Full() string { return "node:" + hex.EncodeToString(n[:]) }

// ParseNodeID reads a node id as Full writes it, with or without the
// "node:" prefix (the state API's node_id has none).
func ParseNodeID(s string) (NodeID, error) {
	var n NodeID
	b, err := hex.DecodeString(strings.TrimPrefix(s, "node:"))
	if err != nil || len(b) != len(n) {
		return n, fmt.Errorf("node id %q: want %d hex digits, optionally after \"node:\"", s, 2*len(n))
	}
	copy(n[:], b)
	return n, nil
}

// IsNil reports whether n is the zero NodeID.
func (n NodeID) IsNil() bool { return n == NodeID{} }

// NewWorkerID draws a WorkerID from r, which must be the Env's PRNG.
func NewWorkerID(r *rand.Rand) WorkerID { return WorkerID(randomBytes28(r)) }

// String returns "worker:" and the first 8 bytes in hex.
func (w WorkerID) String() string { return "worker:" + hex.EncodeToString(w[:8]) }

// IsNil reports whether w is the zero WorkerID.
func (w WorkerID) IsNil() bool { return w == WorkerID{} }

// NewPlacementGroupID draws a PlacementGroupID for job from r.
func NewPlacementGroupID(job JobID, r *rand.Rand) PlacementGroupID {
	var p PlacementGroupID
	b := randomBytes28(r)
	copy(p[:PlacementGroupIDSize-JobIDSize], b[:])
	copy(p[PlacementGroupIDSize-JobIDSize:], job[:])
	return p
}

// Job returns the job that created the group.
func (p PlacementGroupID) Job() JobID {
	return JobID(p[PlacementGroupIDSize-JobIDSize:])
}

// String returns "pg:" and the id in hex.
func (p PlacementGroupID) String() string { return "pg:" + hex.EncodeToString(p[:]) }

func randomBytes28(r *rand.Rand) [UniqueIDSize]byte {
	var b [UniqueIDSize + 4]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return [UniqueIDSize]byte(b[:UniqueIDSize])
}

// derive hashes (parent, counter, salt) into 16 bytes with two independent
// FNV-1a-style 64-bit lanes. Derived ids must be identical on every host and
// every run, so no seeded or per-process hash is used.
func derive(parent []byte, counter uint64, salt byte) [16]byte {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h1, h2 := uint64(offset), uint64(offset)^0x9e3779b97f4a7c15
	mix := func(b byte) {
		h1 = (h1 ^ uint64(b)) * prime
		h2 = (h2 ^ uint64(b^0x5c)) * prime
	}
	mix(salt)
	for _, b := range parent {
		mix(b)
	}
	for i := range 8 {
		mix(byte(counter >> (8 * i)))
	}
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], fmix64(h1))
	binary.BigEndian.PutUint64(out[8:], fmix64(h2))
	return out
}

// fmix64 is MurmurHash3's finaliser; it spreads FNV's weak low bits.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Short returns "task:" and the task's 8 unique bytes in hex: enough to
// tell apart the tasks one failure report names, short enough to read. An
// actor creation task, whose unique part is zero, is named after its
// actor ("task:create/actor:…").
func (t TaskID) Short() string {
	if [TaskIDUniqueSize]byte(t[:TaskIDUniqueSize]) == ([TaskIDUniqueSize]byte{}) {
		return "task:create/" + t.Actor().Short()
	}
	return "task:" + hex.EncodeToString(t[:TaskIDUniqueSize])
}

// Short returns "obj:", the creating task's unique bytes in hex and the
// index: "/2" for the second return, "/put3" for the third Put.
func (o ObjectID) Short() string {
	kind := "/"
	if o.IsPut() {
		kind = "/put"
	}
	return "obj:" + hex.EncodeToString(o[:TaskIDUniqueSize]) + kind + strconv.FormatUint(uint64(o.Index()), 10)
}

// Short returns "actor:" and the first 6 of the actor's unique bytes in
// hex.
func (a ActorID) Short() string { return "actor:" + hex.EncodeToString(a[:6]) }
