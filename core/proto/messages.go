package proto

import (
	"fmt"
	"strings"

	"github.com/grayrt/gray/core"
)

// Type codes. Raylet services 2000–2999, core-worker services 4000–4999.
const (
	msgRegisterWorker      core.MsgType = 2000
	msgRegisterWorkerReply core.MsgType = 2001
	msgRequestLease        core.MsgType = 2002
	msgLeaseReply          core.MsgType = 2003
	msgReturnLease         core.MsgType = 2004
	msgPutObject           core.MsgType = 2005
	msgGetObject           core.MsgType = 2006
	msgGetObjectReply      core.MsgType = 2007
	msgFreeObjects         core.MsgType = 2008
	msgPullChunk           core.MsgType = 2009
	msgChunkReply          core.MsgType = 2010
	msgAck                 core.MsgType = 2011
	msgWorkerPing          core.MsgType = 2012

	msgPushTask             core.MsgType = 4000
	msgPushTaskReply        core.MsgType = 4001
	msgGetObjectStatus      core.MsgType = 4002
	msgObjectStatusReply    core.MsgType = 4003
	msgLeaseFailed          core.MsgType = 4004
	msgKillActor            core.MsgType = 4006
	msgObjectLocationUpdate core.MsgType = 4007
	msgActorPing            core.MsgType = 4008
	msgLeaseCheck           core.MsgType = 4009
	msgLeaseCheckReply      core.MsgType = 4010
	msgWaitRefRemoved       core.MsgType = 4011
	msgOwnerCheck           core.MsgType = 4012
	msgOwnerCheckReply      core.MsgType = 4013
	msgCancelTask           core.MsgType = 4014
	msgOwnsObjects          core.MsgType = 4015
	msgOwnsObjectsReply     core.MsgType = 4016
	msgAddBorrower          core.MsgType = 4017
	msgAddBorrowerReply     core.MsgType = 4018
	msgWaitObjectFreed      core.MsgType = 4019
	msgReportItem           core.MsgType = 4020
	msgReportItemReply      core.MsgType = 4021
	msgLeaseInfeasible      core.MsgType = 4022
	msgActorReplyAck        core.MsgType = 4023
	msgRefsRemoved          core.MsgType = 4024
	msgPutObjectReply       core.MsgType = 2013
	msgNodeDead             core.MsgType = 2014
	msgExitWorker           core.MsgType = 2030
	msgWorkerLogs           core.MsgType = 2031
	msgListLogs             core.MsgType = 2032
	msgListLogsReply        core.MsgType = 2033
	msgReadLog              core.MsgType = 2034
	msgReadLogReply         core.MsgType = 2035
	msgLeaseStatus          core.MsgType = 2036
	msgLeaseStatusReply     core.MsgType = 2037
	msgListObjects          core.MsgType = 2038
	msgListObjectsReply     core.MsgType = 2039
	msgRayletStats          core.MsgType = 2040
	msgRayletStatsReply     core.MsgType = 2041
	msgLeaseBlocked         core.MsgType = 2042
	msgCreateShared         core.MsgType = 2043
	msgCreateSharedReply    core.MsgType = 2044
	msgSealShared           core.MsgType = 2045
	msgPrepareBundles       core.MsgType = 2046
	msgCommitBundles        core.MsgType = 2047
	msgReturnBundles        core.MsgType = 2048
	msgGroupInfeasible      core.MsgType = 2049
	msgStartDriver          core.MsgType = 2050
	msgStopDriver           core.MsgType = 2051
)

// Bounds of object transfer.
const (
	// ChunkSize is the size of one pull chunk, as Ray's object manager
	// (5 MiB by default; smaller here so simulated transfers interleave).
	ChunkSize = 1 << 20
	// ObjectSizeMax bounds one object.
	ObjectSizeMax = 1 << 34
)

// RegisterWorker tells a raylet that a worker process (re)started. A new
// WorkerID from the same address means the previous incarnation died.
type RegisterWorker struct {
	Worker core.WorkerID `msgpack:"w"`
	// Binary is the hash of the job binary a launched worker runs; empty
	// for the node's own workers, which run the node program's functions.
	Binary string `msgpack:"bin,omitempty"`
	// Launch is the token the raylet gave the launch that started this
	// worker, so that the process's exit can be matched to it.
	Launch string `msgpack:"lt,omitempty"`
	// Job is the job a launched worker serves (pools are per job, as in
	// Ray, so that its output goes to that job's driver).
	Job core.JobID `msgpack:"job,omitempty"`
	// OwnerID is the worker's core-worker incarnation, the OwnerID of
	// the objects it owns: once a process with another one registers
	// from the address, the raylet knows this one died and frees its
	// objects (0: unknown).
	OwnerID uint64 `msgpack:"oi,omitempty"`
	// Owns is set while the worker owns objects in scope: an idle
	// launched worker that owns some is not reaped.
	Owns bool `msgpack:"ow,omitempty"`
}

// Validate checks the binary hash and bounds the launch token.
func (r *RegisterWorker) Validate() error {
	if !ValidBinaryHash(r.Binary) {
		return fmt.Errorf("binary %q: want empty or 64 lowercase hex digits", r.Binary)
	}
	if len(r.Launch) > 128 {
		return fmt.Errorf("launch token of %d bytes, limit 128", len(r.Launch))
	}
	return nil
}

// WorkerLogs carries lines a launched worker wrote to stdout or stderr,
// from its node to its job's driver, which prints them (as Ray streams
// worker output to the driver).
type WorkerLogs struct {
	Job    core.JobID  `msgpack:"j"`
	Node   core.NodeID `msgpack:"n"`
	Pid    int         `msgpack:"p"`
	Stderr bool        `msgpack:"e,omitempty"`
	Lines  []string    `msgpack:"l"`
}

// Bounds of one WorkerLogs message.
const (
	LogLinesMax    = 1000
	LogLineSizeMax = 4 << 10
)

// Validate bounds the lines.
func (w *WorkerLogs) Validate() error {
	if len(w.Lines) > LogLinesMax {
		return fmt.Errorf("%d log lines, limit %d", len(w.Lines), LogLinesMax)
	}
	for i, l := range w.Lines {
		if len(l) > LogLineSizeMax {
			return fmt.Errorf("log line %d of %d bytes, limit %d", i, len(l), LogLineSizeMax)
		}
	}
	return nil
}

// LeaseStatus asks a raylet whether the lease LeaseID it granted to the
// asker is still granted: a holder whose worker stopped answering learns
// whether the worker died (its raylet freed the lease) or is merely
// unreachable.
type LeaseStatus struct {
	LeaseID uint64 `msgpack:"l"`
}

// LeaseStatusReply answers LeaseStatus.
type LeaseStatusReply struct {
	Granted bool `msgpack:"g,omitempty"`
	// Node is the answering raylet's node. A raylet that restarted is a
	// new node, and knows nothing of the leases its previous incarnation
	// granted: its "not granted" says nothing of their workers, which
	// may still run until their node is declared dead.
	Node core.NodeID `msgpack:"n,omitempty"`
}

// RayletStats asks a raylet for its counters and its store's (the head's
// dashboard exports every node's as Prometheus metrics).
type RayletStats struct{}

// RayletStatsReply carries a raylet's counters and its store's.
type RayletStatsReply struct {
	Node                                                                      core.NodeID `msgpack:"n"`
	LeasesGranted, Spillbacks, Infeasible, WorkerDeaths                       int64       `msgpack:",omitempty"`
	Pulls, PulledBytes, PullFailures                                          int64       `msgpack:",omitempty"`
	WorkersLaunched, LaunchFailures                                           int64       `msgpack:",omitempty"`
	StoreUsed, StoreCapacity, StoreObjects, StoreEvictions, StoreEvictedBytes int64       `msgpack:",omitempty"`
	// LeaseWaitNanos sums the scheduling latency of granted leases.
	LeaseWaitNanos int64 `msgpack:",omitempty"`
	// SharedPuts, SharedGets: objects written into and read out of the
	// store's shared memory by the node's processes; StoreSharedBytes:
	// the store's bytes in shared memory.
	SharedPuts, SharedGets, StoreSharedBytes int64 `msgpack:",omitempty"`
}

// ListObjects asks a raylet for the objects in its plasma store (for the
// state API and gray list objects), at most Limit of them by id.
type ListObjects struct {
	Limit int `msgpack:"l"`
}

// ListObjectsMax bounds one ListObjects answer.
const ListObjectsMax = 10_000

// Validate bounds the limit.
func (l *ListObjects) Validate() error {
	if l.Limit <= 0 || l.Limit > ListObjectsMax {
		return fmt.Errorf("limit %d, want 1..%d", l.Limit, ListObjectsMax)
	}
	return nil
}

// ObjectEntry is one object of a plasma store.
type ObjectEntry struct {
	ID      core.ObjectID `msgpack:"i"`
	Size    int64         `msgpack:"s"`
	Owner   core.Addr     `msgpack:"o"`
	Sealed  bool          `msgpack:"d,omitempty"`
	Primary bool          `msgpack:"p,omitempty"`
	Readers int           `msgpack:"r,omitempty"`
}

// ListObjectsReply lists a node's objects: Total in the store, the first
// Limit of them by id in Objects, and the store's Used and Capacity bytes.
type ListObjectsReply struct {
	Node     core.NodeID   `msgpack:"n"`
	Total    int           `msgpack:"t"`
	Used     int64         `msgpack:"u"`
	Capacity int64         `msgpack:"c"`
	Objects  []ObjectEntry `msgpack:"b"`
}

// ListLogs asks a node's log service for its worker log files.
type ListLogs struct{}

// LogFile is one worker log file of a node.
type LogFile struct {
	Name    string `msgpack:"n"`
	Size    int64  `msgpack:"s"`
	ModTime int64  `msgpack:"m"` // Unix nanoseconds
}

// ListLogsReply lists a node's worker log files, sorted by name.
type ListLogsReply struct {
	Files []LogFile `msgpack:"f"`
}

// ReadLog reads up to Max bytes of a worker log file from Offset; a
// negative Offset counts from the end (the last -Offset bytes).
type ReadLog struct {
	Name   string `msgpack:"n"`
	Offset int64  `msgpack:"o"`
	Max    int    `msgpack:"x"`
}

// ReadLogReply carries the bytes read and the file's size.
type ReadLogReply struct {
	Data []byte `msgpack:"d"`
	Size int64  `msgpack:"s"`
}

// LogReadMax bounds one ReadLog.
const LogReadMax = 1 << 20

// LaunchPrefix starts every launch token a raylet of node issues (its
// node id in hex and a dash), and so the token part of its workers' log
// names: a token or log name tells which node wrote it.
func LaunchPrefix(node core.NodeID) string { return strings.TrimPrefix(node.String(), "node:") + "-" }

// LogsAddr is the address of the log service beside a node's raylet.
func LogsAddr(raylet core.Addr) core.Addr {
	s := string(raylet)
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	return core.Addr(s + "#logs")
}

// ValidLogName reports whether name is a worker log file's name:
// job-<job>-worker-<token>.out|err, or a submitted job's driver log,
// job-driver-<submission id>.log; with no path.
func ValidLogName(name string) bool {
	if id, ok := strings.CutPrefix(name, "job-driver-"); ok {
		id, ok = strings.CutSuffix(id, ".log")
		return ok && ValidSubmissionID(id) == nil
	}
	rest, ok := strings.CutPrefix(name, "job-")
	if !ok || strings.ContainsAny(name, "/\\") || len(name) > 128 {
		return false
	}
	base, ok := strings.CutSuffix(rest, ".out")
	if !ok {
		if base, ok = strings.CutSuffix(rest, ".err"); !ok {
			return false
		}
	}
	job, token, ok := strings.Cut(base, "-worker-")
	if !ok || job == "" || token == "" {
		return false
	}
	for _, c := range job + token {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the name and bounds the read.
func (r *ReadLog) Validate() error {
	if !ValidLogName(r.Name) {
		return fmt.Errorf("log name %q: want job-<job>-worker-<token>.out or .err", r.Name)
	}
	if r.Max <= 0 || r.Max > LogReadMax {
		return fmt.Errorf("read of %d bytes, want 1..%d", r.Max, LogReadMax)
	}
	return nil
}

// ExitWorker tells an idle launched worker to exit (its job's pool shrank
// after the idle timeout).
type ExitWorker struct {
	Worker core.WorkerID `msgpack:"w"`
}

// RegisterWorkerReply gives the worker its node's identity and the GCS.
type RegisterWorkerReply struct {
	Node core.NodeID `msgpack:"n"`
	GCS  core.Addr   `msgpack:"g"`
}

// RequestLease asks a raylet for a worker to run Spec. Locations hints
// where the arguments live, so the raylet can pull them first.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type RequestLease struct {
	Spec TaskSpec `msgpack:"s"`
	// LeaseID is chosen by the owner, unique per owner incarnation.
	LeaseID uint64 `msgpack:"l"`
	// Spilled is set when another raylet sent the owner here; a raylet
	// does not spill a spilled request again unless the target cannot fit
	// it now, which bounds ping-pong.
	Spilled bool `msgpack:"x,omitempty"`
}

// Validate implements core.Validator.
func (r *RequestLease) Validate() error { return r.Spec.Validate() }

// LeaseReply answers RequestLease: exactly one of Granted, Spillback (with
// SpillRaylet) or Infeasible (with Reason) holds.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type LeaseReply struct {
	Granted     bool          `msgpack:"g,omitempty"`
	Worker      core.Addr     `msgpack:"w,omitempty"`
	WorkerID    core.WorkerID `msgpack:"i,omitempty"`
	Node        core.NodeID   `msgpack:"n,omitempty"`
	Spillback   bool          `msgpack:"s,omitempty"`
	SpillRaylet core.Addr     `msgpack:"r,omitempty"`
	SpillNode   core.NodeID   `msgpack:"N,omitempty"`
	Infeasible  bool          `msgpack:"f,omitempty"`
	Reason      string        `msgpack:"m,omitempty"`
	// Cancelled answers a request the owner cancelled with ReturnLease.
	Cancelled bool `msgpack:"c,omitempty"`
	// NoBundle answers a request for a placement group's bundle
	// (Strategy.Bundle) that this node does not hold (committed): the
	// owner asks the GCS where the group is and asks that node.
	NoBundle bool `msgpack:"b,omitempty"`
}

// ReturnLease gives a leased worker back to its raylet, or cancels a lease
// request that is still queued.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ReturnLease struct {
	LeaseID uint64    `msgpack:"l"`
	Owner   core.Addr `msgpack:"o"`
	// Disconnect asks the raylet to kill the worker instead of reusing it
	// (e.g. after a task was cancelled mid-run).
	Disconnect bool `msgpack:"d,omitempty"`
}

// LeaseBlocked tells a raylet, from the leased worker, that the task body
// running on the lease (Owner, LeaseID) waits in Get or Wait (Blocked) or
// runs again: Ray's NotifyDirectCallTaskBlocked and Unblocked. While it
// is blocked the raylet lends the lease's CPUs to other leases and may
// grant the worker another lease (it runs task bodies concurrently), so
// that nested tasks never wait forever for a CPU their parents hold. Seq
// grows with every change the worker reports, so that a retried or
// reordered report never undoes a newer one. The reply is an Ack.
type LeaseBlocked struct {
	LeaseID uint64    `msgpack:"l"`
	Owner   core.Addr `msgpack:"o"`
	Seq     uint64    `msgpack:"q"`
	Blocked bool      `msgpack:"b,omitempty"`
}

// LeaseFailed tells the lease holder that the leased worker died.
type LeaseFailed struct {
	LeaseID uint64 `msgpack:"l"`
	Reason  string `msgpack:"m"`
}

// PutObject stores an object in the raylet's plasma store and pins it as
// the primary copy on behalf of Owner. The copy stays until the owner
// frees it (FreeObjects) or the raylet learns that the owner is gone: the
// owner's incarnation OwnerID is dead (another process answers at its
// address, or its worker exited), its node OwnerNode died, or Job
// finished and Owner was that job's driver. Ray frees an owner's objects
// when the owner dies; borrowers then get OwnerDied or ObjectLost.
//
// An object larger than one message goes in chunks: each PutObject
// carries Data at Offset of an object of Size bytes (Size 0: Data is the
// whole object). The raylet creates the object at the first chunk to
// arrive, writes each (in any order, more than once), and seals and pins
// it when every byte was written: that chunk's reply says Sealed. A put
// whose chunks stop coming (its worker died) is aborted.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type PutObject struct {
	ID        core.ObjectID `msgpack:"i"`
	Owner     core.Addr     `msgpack:"o"`
	OwnerID   uint64        `msgpack:"w,omitempty"`
	OwnerNode core.NodeID   `msgpack:"n,omitempty"`
	Job       core.JobID    `msgpack:"j,omitempty"`
	Data      []byte        `msgpack:"d"`
	Offset    int64         `msgpack:"f,omitempty"`
	Size      int64         `msgpack:"s,omitempty"`
}

// Validate bounds a chunk within its object.
func (p *PutObject) Validate() error {
	if p.Size < 0 || p.Offset < 0 || (p.Size > 0 && p.Offset+int64(len(p.Data)) > p.Size) || (p.Size == 0 && p.Offset != 0) {
		return fmt.Errorf("put chunk of %d bytes at offset %d of an object of %d bytes", len(p.Data), p.Offset, p.Size)
	}
	return nil
}

// Chunked reports whether p is one chunk of a larger object.
func (p *PutObject) Chunked() bool { return p.Size > 0 && p.Size != int64(len(p.Data)) }

// PutObjectReply says which node stored the object; for a chunk, Sealed
// says whether it completed the object.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type PutObjectReply struct {
	Node   core.NodeID `msgpack:"n"`
	Sealed bool        `msgpack:"s,omitempty"`
}

// NodeDead tells a node's workers that the GCS declared the node dead: like
// the raylet, they exit at once (Ray's workers fate-share with their
// raylet), so a dead node executes nothing once its death is known.
type NodeDead struct {
	Node core.NodeID `msgpack:"n"`
}

// GetObject asks the local raylet for an object's bytes, pulling a copy
// from one of Locations first when it has none.
//
// With Length set it asks for the bytes [Offset, Offset+Length) only
// (an object larger than one message is read in chunks), and the reply's
// Size is the object's.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type GetObject struct {
	ID        core.ObjectID `msgpack:"i"`
	Owner     core.Addr     `msgpack:"o"`
	Locations []Location    `msgpack:"l,omitempty"`
	Offset    int64         `msgpack:"f,omitempty"`
	Length    int64         `msgpack:"n,omitempty"`
	// Shared asks for the handle of the store's shared memory segment
	// of the object (GetObjectReply.Shm) rather than its bytes, when it
	// has one: the reader is on the raylet's host (core.SharedMemory).
	// Without one, the reply is the first chunk, as without Shared.
	Shared bool `msgpack:"sh,omitempty"`
}

// Validate bounds the range.
func (g *GetObject) Validate() error {
	if g.Offset < 0 || g.Length < 0 || (g.Length == 0 && g.Offset != 0) || (g.Shared && g.Offset != 0) {
		return fmt.Errorf("get of %d bytes at offset %d (shared %v)", g.Length, g.Offset, g.Shared)
	}
	return nil
}

// GetObjectReply carries an object's bytes, or with GetObject.Length the
// chunk asked for and the object's Size.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type GetObjectReply struct {
	Data []byte `msgpack:"d"`
	Size int64  `msgpack:"s,omitempty"`
	// Shm, for a GetObject.Shared, is the handle of the segment that
	// holds the object's Size bytes; Data is then empty.
	Shm string `msgpack:"m,omitempty"`
}

// CreateShared asks the local raylet to create an object of Size bytes
// in its store's shared memory for the worker to write (Ray's plasma
// Create): the reply names the segment, the worker writes every byte
// through it and sends SealShared, and the raylet seals and pins it as
// the primary copy, as a PutObject does. A put the worker abandons is
// aborted (SealShared.Abort), or after the raylet's idle bound for
// puts. An object already sealed here (a resent put) is pinned at once
// (CreateSharedReply.Sealed).
type CreateShared struct {
	ID        core.ObjectID `msgpack:"i"`
	Owner     core.Addr     `msgpack:"o"`
	OwnerID   uint64        `msgpack:"w,omitempty"`
	OwnerNode core.NodeID   `msgpack:"n,omitempty"`
	Job       core.JobID    `msgpack:"j,omitempty"`
	Size      int64         `msgpack:"s"`
}

// Validate bounds the size.
func (c *CreateShared) Validate() error {
	if c.Size <= 0 || c.Size > ObjectSizeMax {
		return fmt.Errorf("shared object of %d bytes: want 1 to %d", c.Size, int64(ObjectSizeMax))
	}
	return nil
}

// CreateSharedReply names the segment to write (Shm), or says the
// object is sealed and pinned here already (Sealed, with Node).
type CreateSharedReply struct {
	Node   core.NodeID `msgpack:"n"`
	Shm    string      `msgpack:"m,omitempty"`
	Sealed bool        `msgpack:"s,omitempty"`
}

// SealShared tells the raylet that the worker wrote every byte of the
// object it created with CreateShared (answered with a PutObjectReply,
// Sealed), or with Abort that it gives the put up (answered with Ack).
type SealShared struct {
	CreateShared
	Abort bool `msgpack:"a,omitempty"`
}

// ObjectChunkDefault is the default chunk size of puts and gets between a
// worker and its raylet (core worker Config.ObjectChunkBytes): well
// within the message limit, and large enough that the per-message cost
// is small next to the copy.
const ObjectChunkDefault = 8 << 20

// FreeObjects tells a raylet that the owner released objects: their
// copies are unpinned and deleted.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type FreeObjects struct {
	IDs []core.ObjectID `msgpack:"i"`
}

// PullChunk asks a raylet for part of a sealed object.
type PullChunk struct {
	ID     core.ObjectID `msgpack:"i"`
	Offset int64         `msgpack:"o"`
	Length int64         `msgpack:"n"`
}

// Validate implements core.Validator.
func (p *PullChunk) Validate() error {
	if p.Offset < 0 || p.Length <= 0 || p.Length > ChunkSize {
		return fmt.Errorf("chunk offset %d length %d", p.Offset, p.Length)
	}
	return nil
}

// ChunkReply carries one chunk and the object's total size.
type ChunkReply struct {
	Size int64  `msgpack:"s"`
	Data []byte `msgpack:"d"`
}

// Ack is the empty reply.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type Ack struct{}

// WorkerPing lets a raylet check that a worker is alive.
type WorkerPing struct{}

// PushTask runs a task on a leased worker (or an actor call on the actor's
// worker). The reply comes when the task finished.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type PushTask struct {
	Spec    TaskSpec `msgpack:"s"`
	LeaseID uint64   `msgpack:"l,omitempty"`
	// Node is the leased worker's node, as its raylet reported it.
	Node core.NodeID `msgpack:"n,omitempty"`
	// Worker is the leased worker's id: a process that restarted at the
	// same address (a new WorkerID, whose raylet freed the lease) refuses
	// the task rather than run it unleased — an rpc retry would otherwise
	// reach it.
	Worker core.WorkerID `msgpack:"w,omitempty"`
}

// Validate implements core.Validator.
func (p *PushTask) Validate() error { return p.Spec.Validate() }

// ReturnObject is one return value: inline bytes, or a plasma copy at Location.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ReturnObject struct {
	ID       core.ObjectID `msgpack:"i"`
	Inline   []byte        `msgpack:"v,omitempty"`
	InPlasma bool          `msgpack:"p,omitempty"`
	Location Location      `msgpack:"l,omitempty"`
	Size     int64         `msgpack:"z,omitempty"`
}

// PushTaskReply reports a task's outcome: its returns, or Error.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type PushTaskReply struct {
	Returns []ReturnObject `msgpack:"r,omitempty"`
	Error   *TaskError     `msgpack:"e,omitempty"`
	// Borrowed lists argument objects the worker still references after
	// the task (e.g. passed on to tasks it submitted): the owner registers
	// the worker as a borrower of each.
	Borrowed []core.ObjectID `msgpack:"b,omitempty"`
	// Node and Worker say where the task ran.
	Node   core.NodeID   `msgpack:"n"`
	Worker core.WorkerID `msgpack:"w"`
	// AckWanted asks the caller of an actor call to answer the reply
	// with an ActorReplyAck: the actor starts its next call only once
	// it has the ack (or a bound passed).
	AckWanted bool `msgpack:"k,omitempty"`
}

// ActorReplyAck tells an actor's worker that the caller received the
// reply of its call Seq (asked for with PushTaskReply.AckWanted). An
// actor waits for it before it starts its next call, so a call that
// kills the actor's process cannot take the reply of the call before it
// with it.
//
// Its codec is hand-written in codec_fast.go (one is sent per actor
// call): a field added, removed or retagged here must be changed there
// too; TestFastCodecMatchesReflection fails until it is.
type ActorReplyAck struct {
	Actor    core.ActorID `msgpack:"a"`
	Caller   core.Addr    `msgpack:"c"`
	CallerID uint64       `msgpack:"i"`
	Seq      uint64       `msgpack:"s"`
}

// GetObjectStatus asks an object's owner for its value or locations; the
// reply comes once the object is ready (or failed).
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type GetObjectStatus struct {
	ID core.ObjectID `msgpack:"i"`
	// Failed lists copies the borrower could not read; the owner drops
	// them and rebuilds the object when none is left.
	Failed []Location `msgpack:"f,omitempty"`
	// OwnerID is the owner incarnation named by the borrower's reference
	// (0: unknown); another incarnation answers with OwnerDied.
	OwnerID uint64 `msgpack:"w,omitempty"`
}

// ObjectStatusReply answers GetObjectStatus.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ObjectStatusReply struct {
	Inline    []byte     `msgpack:"v,omitempty"`
	Locations []Location `msgpack:"l,omitempty"`
	Size      int64      `msgpack:"z,omitempty"`
	Error     *TaskError `msgpack:"e,omitempty"`
}

// WaitRefRemoved is an owner's request to a borrower: answer (with Ack)
// once you hold no reference to any of IDs any more — at once if you
// hold none. It is Ray's WaitForRefRemoved for the objects of one
// registration (AddBorrower) at once: while some are still held, the
// borrower names the ones it let go in RefsRemoved messages, so an
// object is freed soon after its borrower let go of it, not only once
// the borrower let go of all of them. Because the borrower answers from
// its own table, a release racing with the registration cannot be lost.
type WaitRefRemoved struct {
	IDs []core.ObjectID `msgpack:"i"`
	// Wait is the owner's number for this wait, named by RefsRemoved.
	Wait uint64 `msgpack:"w"`
}

// Validate bounds the ids.
func (m *WaitRefRemoved) Validate() error { return borrowIDsWithin(m.IDs) }

// RefsRemoved tells an owner that the sender, its borrower, holds no
// reference any more to IDs, objects of its wait Wait (a WaitRefRemoved
// not answered yet because the sender still holds others). It is sent
// without a reply: one that is lost only delays those frees until the
// wait's answer.
type RefsRemoved struct {
	Wait uint64          `msgpack:"w"`
	IDs  []core.ObjectID `msgpack:"i"`
}

// Validate bounds the ids.
func (m *RefsRemoved) Validate() error { return borrowIDsWithin(m.IDs) }

// AddBorrower tells an owner that the sender now holds references to
// some of its objects, which it received inside a value (a task
// argument, a method argument, a Get): the owner counts the sender as a
// borrower of each and asks it to say when it stops (WaitRefRemoved).
// The sender's source of the references (the submitter of the task, a
// containing object) holds them until the owner answered, so the object
// cannot be freed in between. OwnerID is the incarnation the references
// name: another one answers that the owner died.
type AddBorrower struct {
	IDs     []core.ObjectID `msgpack:"i"`
	OwnerID uint64          `msgpack:"w,omitempty"`
	// Node, Raylet and BorrowerID say where the borrower runs and which
	// incarnation of it borrows: the owner stops counting it once its
	// node dies or its raylet knows it dead (OwnsObjects).
	Node       core.NodeID `msgpack:"n,omitempty"`
	Raylet     core.Addr   `msgpack:"r,omitempty"`
	BorrowerID uint64      `msgpack:"b,omitempty"`
}

// AddBorrowerRefsMax bounds the ids of one AddBorrower.
const AddBorrowerRefsMax = 10_000

// Validate bounds the ids.
func (a *AddBorrower) Validate() error { return borrowIDsWithin(a.IDs) }

// borrowIDsWithin bounds the ids of the borrower protocol's messages.
func borrowIDsWithin(ids []core.ObjectID) error {
	if len(ids) > AddBorrowerRefsMax {
		return fmt.Errorf("%d ids, limit %d", len(ids), AddBorrowerRefsMax)
	}
	return nil
}

// AddBorrowerReply answers AddBorrower: Gone lists the ids the owner
// does not have (freed, or never its own); OwnerDied is set when the
// references name an earlier incarnation at the owner's address.
type AddBorrowerReply struct {
	Gone      []core.ObjectID `msgpack:"g,omitempty"`
	OwnerDied bool            `msgpack:"d,omitempty"`
}

// WaitObjectFreed is a worker's request to the owner of an object it
// returned (a task's or an actor call's return value) whose value holds
// references: answer (with Ack) once the object is freed — at once if it
// is unknown or freed already. The worker keeps the references the value
// holds until then, as Ray keeps objects contained in an owned object.
type WaitObjectFreed struct {
	ID      core.ObjectID `msgpack:"i"`
	OwnerID uint64        `msgpack:"w,omitempty"`
}

// LeaseInfeasible tells a lease request's owner that no alive node could
// ever run it now (its resources or labels), and that the raylet keeps
// it queued until a node that can joins (TaskSpec.InfeasibleWait). The
// owner warns, and fails the task once the wait it asked for is over.
// The reply is Ack.
type LeaseInfeasible struct {
	LeaseID uint64 `msgpack:"l"`
	Reason  string `msgpack:"r"`
	// Feasible says the request is no longer infeasible (a node that
	// can run it joined; it waits for resources now): the owner stops
	// counting its InfeasibleWait.
	Feasible bool `msgpack:"f,omitempty"`
}

// ReportItem carries one item of a streaming generator task (Ray's
// ReportGeneratorItemReturns) from the worker running it to its owner:
// item Index (from 0) of Task, as attempt Attempt produced it, inline or
// as a plasma copy. Items are reported in order, each after the previous
// one was acknowledged; a retried task reports them again from 0 and the
// owner keeps the first copy of each. The owner answers with
// ReportItemReply, holding the answer while the consumer lags more than
// the task's backpressure bound behind (for a bounded while: the worker
// then reports the same item again).
type ReportItem struct {
	Task    core.TaskID  `msgpack:"t"`
	Attempt uint32       `msgpack:"a,omitempty"`
	Index   uint64       `msgpack:"x"`
	Item    ReturnObject `msgpack:"r"`
	// OwnerID is the owner incarnation the task was submitted by: a new
	// incarnation at the same address closes the stream.
	OwnerID uint64 `msgpack:"w,omitempty"`
}

// Validate implements core.Validator.
func (r *ReportItem) Validate() error {
	switch {
	case r.Index > GeneratorItemsMax:
		return fmt.Errorf("item %d, limit %d", r.Index, GeneratorItemsMax)
	case r.Item.ID != core.ObjectIDForReturn(r.Task, GeneratorItemIndex(r.Index)):
		return fmt.Errorf("item %d of %v has id %v", r.Index, r.Task, r.Item.ID)
	}
	return nil
}

// ReportItemReply answers ReportItem. Consumed is how many items the
// consumer has taken so far; Closed says the stream is gone (closed,
// cancelled, finished, or its owner restarted): the body should stop.
type ReportItemReply struct {
	Consumed uint64 `msgpack:"c"`
	Closed   bool   `msgpack:"x,omitempty"`
}

// CancelTask asks the worker executing a task to interrupt it: the owner
// sends it when it cancels a task that was pushed (Ray's ray.cancel). The
// worker interrupts the body only if it runs Task's attempt Attempt for
// the sender (its owner); anything else (a finished task, an unknown one,
// a duplicate or late message) is acknowledged and otherwise ignored.
// Force makes the worker exit instead (fail-stop); Recursive also cancels
// the tasks the body submitted and the worker owns. The reply is Ack.
type CancelTask struct {
	Task      core.TaskID `msgpack:"t"`
	Attempt   uint32      `msgpack:"a,omitempty"`
	Force     bool        `msgpack:"f,omitempty"`
	Recursive bool        `msgpack:"r,omitempty"`
}

// Validate implements core.Validator.
func (c *CancelTask) Validate() error {
	if c.Task == (core.TaskID{}) {
		return fmt.Errorf("cancel of the nil task")
	}
	return nil
}

// KillActor asks the actor's worker to exit; NoRestart makes the death final.
type KillActor struct {
	ActorID   core.ActorID `msgpack:"a"`
	NoRestart bool         `msgpack:"n,omitempty"`
	// Incarnation is the restart count of the incarnation to kill; a
	// worker hosting another incarnation ignores the message.
	Incarnation int64 `msgpack:"i,omitempty"`
	// LeaseID is the lease of the creation attempt to kill (the LeaseID
	// of its PushTask); a worker hosting the incarnation under another
	// lease ignores the message. The GCS may create one incarnation
	// several times (an attempt that failed before ALIVE is abandoned and
	// made again), and a kill of an abandoned attempt, resent for a while
	// to the abandoned worker's address, must pass by the next attempt
	// when that runs in a process restarted at the same address. 0 kills
	// the incarnation under any lease.
	LeaseID uint64 `msgpack:"l,omitempty"`
}

// ActorPing asks a worker whether it still hosts an actor's incarnation.
// The GCS's actor scheduler pings the actor's worker periodically: the
// raylet's LeaseFailed is a one-way message that may be lost, and a worker
// that restarted at the same address refuses calls but tells nobody. The
// reply is Ack, or a CodeNotFound error when the worker hosts no such
// incarnation.
type ActorPing struct {
	ActorID     core.ActorID `msgpack:"a"`
	Incarnation int64        `msgpack:"i,omitempty"`
}

// LeaseCheck asks a lease holder (an owner, or the GCS for actor
// creation leases) whether it still holds a lease. A raylet sends it for
// every granted lease now and then: an owner that died (a worker that
// owned nested tasks) never returns its leases, and the restarted process
// at its address knows nothing of them.
type LeaseCheck struct {
	LeaseID uint64 `msgpack:"l"`
}

// LeaseCheckReply answers LeaseCheck.
type LeaseCheckReply struct {
	Held bool `msgpack:"h,omitempty"`
}

// OwnerCheck asks an actor's owner whether it still owns the actor. The
// GCS sends it now and then for every actor that is not detached: a
// process that restarted at the owner's address (another incarnation, see
// OwnerID) or that dropped the actor answers Owns=false, and the GCS then
// lets the actor die with its owner, as Ray does.
type OwnerCheck struct {
	ActorID core.ActorID `msgpack:"a"`
	// OwnerID is the owner's core-worker incarnation recorded at
	// registration.
	OwnerID uint64 `msgpack:"o"`
}

// OwnerCheckReply answers OwnerCheck.
type OwnerCheckReply struct {
	Owns bool `msgpack:"o,omitempty"`
}

// OwnsObjects asks whether the owner incarnation OwnerID at Owner still
// owns objects whose primary copies the asking raylet holds. A raylet
// sends it now and then to the owner of every primary copy it holds, and,
// when the owner leaves it unanswered, to the raylet of the owner's node,
// which knows whether its workers died. The owner's core worker answers
// for itself; a raylet answers Dead for a worker of its node it knows
// dead, and otherwise knows nothing (an empty reply).
type OwnsObjects struct {
	Owner   core.Addr       `msgpack:"o"`
	OwnerID uint64          `msgpack:"w,omitempty"`
	IDs     []core.ObjectID `msgpack:"i,omitempty"`
}

// OwnsObjectsMax bounds the ids of one OwnsObjects.
const OwnsObjectsMax = 1000

// Validate bounds the ids.
func (o *OwnsObjects) Validate() error {
	if len(o.IDs) > OwnsObjectsMax {
		return fmt.Errorf("%d object ids, limit %d", len(o.IDs), OwnsObjectsMax)
	}
	return nil
}

// OwnsObjectsReply answers OwnsObjects: Dead when the owner incarnation is
// known dead (none of the objects is owned any more), else NotOwned lists
// the asked objects known not to be owned (freed, or never owned by this
// incarnation). The asker frees the primary copies of those and only
// those: silence or an empty reply frees nothing.
type OwnsObjectsReply struct {
	Dead     bool            `msgpack:"d,omitempty"`
	NotOwned []core.ObjectID `msgpack:"n,omitempty"`
}

// ObjectLocationUpdate tells an owner that a raylet gained or lost a copy.
type ObjectLocationUpdate struct {
	ID       core.ObjectID `msgpack:"i"`
	Location Location      `msgpack:"l"`
	Removed  bool          `msgpack:"r,omitempty"`
}

func (*RegisterWorker) MsgType() core.MsgType       { return msgRegisterWorker }
func (*RegisterWorkerReply) MsgType() core.MsgType  { return msgRegisterWorkerReply }
func (*RequestLease) MsgType() core.MsgType         { return msgRequestLease }
func (*LeaseReply) MsgType() core.MsgType           { return msgLeaseReply }
func (*ReturnLease) MsgType() core.MsgType          { return msgReturnLease }
func (*LeaseFailed) MsgType() core.MsgType          { return msgLeaseFailed }
func (*PutObject) MsgType() core.MsgType            { return msgPutObject }
func (*GetObject) MsgType() core.MsgType            { return msgGetObject }
func (*PutObjectReply) MsgType() core.MsgType       { return msgPutObjectReply }
func (*CreateShared) MsgType() core.MsgType         { return msgCreateShared }
func (*CreateSharedReply) MsgType() core.MsgType    { return msgCreateSharedReply }
func (*SealShared) MsgType() core.MsgType           { return msgSealShared }
func (*PrepareBundles) MsgType() core.MsgType       { return msgPrepareBundles }
func (*GroupInfeasible) MsgType() core.MsgType      { return msgGroupInfeasible }
func (*CommitBundles) MsgType() core.MsgType        { return msgCommitBundles }
func (*StartDriver) MsgType() core.MsgType          { return msgStartDriver }
func (*StopDriver) MsgType() core.MsgType           { return msgStopDriver }
func (*ReturnBundles) MsgType() core.MsgType        { return msgReturnBundles }
func (*NodeDead) MsgType() core.MsgType             { return msgNodeDead }
func (*ExitWorker) MsgType() core.MsgType           { return msgExitWorker }
func (*WorkerLogs) MsgType() core.MsgType           { return msgWorkerLogs }
func (*ListLogs) MsgType() core.MsgType             { return msgListLogs }
func (*LeaseStatus) MsgType() core.MsgType          { return msgLeaseStatus }
func (*ListObjects) MsgType() core.MsgType          { return msgListObjects }
func (*RayletStats) MsgType() core.MsgType          { return msgRayletStats }
func (*RayletStatsReply) MsgType() core.MsgType     { return msgRayletStatsReply }
func (*LeaseBlocked) MsgType() core.MsgType         { return msgLeaseBlocked }
func (*ListObjectsReply) MsgType() core.MsgType     { return msgListObjectsReply }
func (*LeaseStatusReply) MsgType() core.MsgType     { return msgLeaseStatusReply }
func (*ListLogsReply) MsgType() core.MsgType        { return msgListLogsReply }
func (*ReadLog) MsgType() core.MsgType              { return msgReadLog }
func (*ReadLogReply) MsgType() core.MsgType         { return msgReadLogReply }
func (*GetObjectReply) MsgType() core.MsgType       { return msgGetObjectReply }
func (*FreeObjects) MsgType() core.MsgType          { return msgFreeObjects }
func (*PullChunk) MsgType() core.MsgType            { return msgPullChunk }
func (*ChunkReply) MsgType() core.MsgType           { return msgChunkReply }
func (*Ack) MsgType() core.MsgType                  { return msgAck }
func (*WorkerPing) MsgType() core.MsgType           { return msgWorkerPing }
func (*PushTask) MsgType() core.MsgType             { return msgPushTask }
func (*PushTaskReply) MsgType() core.MsgType        { return msgPushTaskReply }
func (*ActorReplyAck) MsgType() core.MsgType        { return msgActorReplyAck }
func (*GetObjectStatus) MsgType() core.MsgType      { return msgGetObjectStatus }
func (*ObjectStatusReply) MsgType() core.MsgType    { return msgObjectStatusReply }
func (*WaitRefRemoved) MsgType() core.MsgType       { return msgWaitRefRemoved }
func (*RefsRemoved) MsgType() core.MsgType          { return msgRefsRemoved }
func (*KillActor) MsgType() core.MsgType            { return msgKillActor }
func (*CancelTask) MsgType() core.MsgType           { return msgCancelTask }
func (*ObjectLocationUpdate) MsgType() core.MsgType { return msgObjectLocationUpdate }
func (*ActorPing) MsgType() core.MsgType            { return msgActorPing }
func (*LeaseCheck) MsgType() core.MsgType           { return msgLeaseCheck }
func (*LeaseCheckReply) MsgType() core.MsgType      { return msgLeaseCheckReply }
func (*OwnerCheck) MsgType() core.MsgType           { return msgOwnerCheck }
func (*OwnerCheckReply) MsgType() core.MsgType      { return msgOwnerCheckReply }
func (*OwnsObjects) MsgType() core.MsgType          { return msgOwnsObjects }
func (*OwnsObjectsReply) MsgType() core.MsgType     { return msgOwnsObjectsReply }
func (*AddBorrower) MsgType() core.MsgType          { return msgAddBorrower }
func (*AddBorrowerReply) MsgType() core.MsgType     { return msgAddBorrowerReply }
func (*WaitObjectFreed) MsgType() core.MsgType      { return msgWaitObjectFreed }
func (*ReportItem) MsgType() core.MsgType           { return msgReportItem }
func (*ReportItemReply) MsgType() core.MsgType      { return msgReportItemReply }
func (*LeaseInfeasible) MsgType() core.MsgType      { return msgLeaseInfeasible }

func init() {
	for _, c := range []func() core.Message{
		func() core.Message { return new(RegisterWorker) },
		func() core.Message { return new(RegisterWorkerReply) },
		func() core.Message { return new(RequestLease) },
		func() core.Message { return new(LeaseReply) },
		func() core.Message { return new(ReturnLease) },
		func() core.Message { return new(LeaseFailed) },
		func() core.Message { return new(PutObject) },
		func() core.Message { return new(GetObject) },
		func() core.Message { return new(PutObjectReply) },
		func() core.Message { return new(NodeDead) },
		func() core.Message { return new(ExitWorker) },
		func() core.Message { return new(WorkerLogs) },
		func() core.Message { return new(ListLogs) },
		func() core.Message { return new(LeaseStatus) },
		func() core.Message { return new(ListObjects) },
		func() core.Message { return new(RayletStats) },
		func() core.Message { return new(RayletStatsReply) },
		func() core.Message { return new(ListObjectsReply) },
		func() core.Message { return new(LeaseStatusReply) },
		func() core.Message { return new(ListLogsReply) },
		func() core.Message { return new(ReadLog) },
		func() core.Message { return new(ReadLogReply) },
		func() core.Message { return new(GetObjectReply) },
		func() core.Message { return new(FreeObjects) },
		func() core.Message { return new(PullChunk) },
		func() core.Message { return new(ChunkReply) },
		func() core.Message { return new(Ack) },
		func() core.Message { return new(WorkerPing) },
		func() core.Message { return new(PushTask) },
		func() core.Message { return new(PushTaskReply) },
		func() core.Message { return new(ActorReplyAck) },
		func() core.Message { return new(GetObjectStatus) },
		func() core.Message { return new(ObjectStatusReply) },
		func() core.Message { return new(WaitRefRemoved) },
		func() core.Message { return new(RefsRemoved) },
		func() core.Message { return new(KillActor) },
		func() core.Message { return new(CancelTask) },
		func() core.Message { return new(ObjectLocationUpdate) },
		func() core.Message { return new(ActorPing) },
		func() core.Message { return new(LeaseCheck) },
		func() core.Message { return new(LeaseCheckReply) },
		func() core.Message { return new(OwnerCheck) },
		func() core.Message { return new(OwnerCheckReply) },
		func() core.Message { return new(OwnsObjects) },
		func() core.Message { return new(OwnsObjectsReply) },
		func() core.Message { return new(LeaseBlocked) },
		func() core.Message { return new(AddBorrower) },
		func() core.Message { return new(AddBorrowerReply) },
		func() core.Message { return new(WaitObjectFreed) },
		func() core.Message { return new(ReportItem) },
		func() core.Message { return new(ReportItemReply) },
		func() core.Message { return new(LeaseInfeasible) },
		func() core.Message { return new(CreateShared) },
		func() core.Message { return new(CreateSharedReply) },
		func() core.Message { return new(SealShared) },
		func() core.Message { return new(PrepareBundles) },
		func() core.Message { return new(CommitBundles) },
		func() core.Message { return new(ReturnBundles) },
		func() core.Message { return new(GroupInfeasible) },
		func() core.Message { return new(StartDriver) },
		func() core.Message { return new(StopDriver) },
	} {
		m := c()
		core.RegisterMessage(m.MsgType(), 1, strings.Replace(fmt.Sprintf("%T", m), "*", "", 1), c)
	}
}
