package gcs

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/lease"
	"github.com/grayrt/gray/core/rpc"
)

// Server is the GCS: a sans-IO core.Process that keeps the cluster's
// tables in memory, mirrors every mutation to pebble before replying, and
// serves reads from memory. Create it with NewServer; a driver calls Start
// once per incarnation and Receive for each message.
type Server struct {
	cfg     Config
	env     core.Env
	log     *slog.Logger
	db      *pebble.DB
	stopped bool
	// poisoned is set when a panic escaped pebble; see Server.pebble.
	poisoned bool
	// memtableBytes bounds the memtable space taken since the last WAL
	// rotation, and walsCreated counts the WALs pebble created (wal.go).
	memtableBytes uint64
	walsCreated   int

	epoch      uint64
	jobCounter uint32

	kv         map[string]map[string][]byte
	kvLegacy   map[string]bool // recovered.kvLegacy, until written or deleted
	nodes      map[core.NodeID]*node
	nodeOrder  []core.NodeID // sorted
	jobs       map[core.JobID]JobInfo
	jobOrder   []core.JobID // sorted
	actors     map[core.ActorID]ActorInfo
	actorOrder []core.ActorID // sorted
	named      map[actorName]core.ActorID

	// The actor scheduler (actor_sched.go): the creation specs of the
	// actors the GCS manages, their placements, and the rpc client and
	// server it talks to raylets, workers and owners with, and the lease
	// client it leases workers through.
	scheds     map[core.ActorID]*actorSched
	places     map[core.ActorID]*placement
	cli        *rpc.Client
	srv        *rpc.Server
	leases     *lease.Client
	schedTimer core.Timer
	schedTicks uint64

	// Placement groups (placement.go): the table, sorted ids, the names
	// of groups not removed, the reservations in flight, and the retry
	// timer.
	pgs     map[core.PlacementGroupID]PlacementGroupInfo
	pgOrder []core.PlacementGroupID
	pgNamed map[actorName]core.PlacementGroupID
	// pgHeld holds GetPlacementGroup long polls by group (memory only).
	pgHeld map[core.PlacementGroupID][]*heldGet
	// pgWarned: when each infeasible group's owner was last told
	// (memory only).
	pgWarned map[core.PlacementGroupID]time.Time
	// binTouched: when each staged binary was last written or named by
	// a job (binaries.go; memory only).
	binTouched map[string]time.Time
	// pgRemoved lists the REMOVED groups the table keeps, oldest removal
	// first (after a restart: in id order).
	pgRemoved  []core.PlacementGroupID
	pgTrimming bool // a trimRemoved is scheduled
	pgAttempts map[core.PlacementGroupID]*pgAttempt
	pgGen      uint64
	pgTimer    core.Timer
	pgStats    struct{ created, rescheduled int64 }

	// Submitted jobs (submissions.go): the table, its sorted ids and
	// the timer of the pass over jobs waiting for a node.
	jobSubs     map[string]JobSubmission
	jobSubOrder []string
	jobSubTimer core.Timer

	sessions map[string]*session

	subs     map[string]*subscriber
	subOrder []string // sorted
	dirty    []string // subscribers with a held poll and new messages

	healthTimer core.Timer
	// digest is the digest of the database's records (stateDigest).
	digest stateDigest
	// serving is set once Start recovered and checked the database; a
	// server that refused its storage never writes the witness.
	serving bool
	// commits is the number of batches committed since the database was
	// created (m/commits, witness.go).
	commits uint64
	// lastHealthCheck is when the last health check ran; stalls counts
	// the checks that found this process had stalled (discountStall).
	lastHealthCheck time.Time
	stalls          int

	// unsynced holds the mutations that a server with BugAckBeforeSync
	// acknowledged but has not written yet (see commitLater).
	unsynced *pebble.Batch

	// tasks is the in-memory task table and request counters (tasks.go).
	tasks *taskTable

	// readCache exists only with BugStaleRead.
	readCache map[string][]byte

	// front is set on the serving front of a replicated GCS
	// (startFront): each commit goes to propose instead of the database.
	front   bool
	propose func(*txn)
}

// node is a node's record plus what the server tracks only in memory.
type node struct {
	info          NodeInfo
	lastHeartbeat time.Time
	demand        []Demand // the last heartbeat's (memory only)
}

// withDemand is n's record with its last reported demand.
func (n *node) withDemand() NodeInfo {
	info := n.info
	if info.State != NodeDead {
		info.Demand = n.demand
	}
	return info
}

type actorName struct{ ns, name string }

var (
	_ core.Process = (*Server)(nil)
	_ core.Stopper = (*Server)(nil)
)

// NewServer returns a server for cfg. It panics on an unknown Config.Bug, a
// programmer error. Nothing happens until Start.
func NewServer(cfg Config) *Server {
	cfg.setDefaults()
	return &Server{cfg: cfg}
}

// Start opens the database on env.FS(), recovers every table, bumps the
// persisted boot counter (the epoch) and starts the health checks. Every
// node that was alive gets a fresh grace period of Config.NodeTimeout.
func (s *Server) Start(env core.Env) {
	r := s.openStore(env)
	s.restore(r)

	t := s.newTxn()
	epoch := r.boot + 1
	t.set(keyBoot, u64(epoch))
	t.then(func() { s.epoch = epoch })
	s.commitNow(t) // durable even with BugAckBeforeSync, which is about acknowledged mutations
	s.writeWitness(false)
	s.serving = true
	s.startServing()
}

// startServing starts the health checks, the schedulers and the sweeps of
// a server whose tables are in memory.
func (s *Server) startServing() {
	env := s.env
	s.lastHealthCheck = env.Now()
	s.healthTimer = env.AfterFunc(s.cfg.HealthCheckPeriod, s.healthCheck)
	s.startScheduler()
	s.startPlacement()
	s.startBinarySweep()
	s.startSubmissions()
	s.log.Info("gcs started", "epoch", s.epoch, "nodes", len(s.nodes), "jobs", len(s.jobs),
		"actors", len(s.actors), "kv_namespaces", len(s.kv), "clients", len(s.sessions))
}

// startFront starts s as the serving front of a replica that leads
// (replica.go): its tables come from db, the state every committed entry
// built, and each of its mutations is proposed (propose) instead of
// written. Its memory runs ahead of what is committed; the replica holds
// everything it sends until the mutations before it are committed and
// the replica's leadership is confirmed, so nothing uncommitted is seen.
func (s *Server) startFront(env core.Env, db *pebble.DB, propose func(*txn)) {
	s.env = env
	s.log = env.Log()
	s.db = db
	s.front = true
	s.propose = propose
	r, err := scan(db)
	if err != nil {
		panic(core.FailStop{Reason: "gcs: read the replicated state", Err: err})
	}
	s.restore(r)
	t := s.newTxn()
	epoch := r.boot + 1
	t.set(keyBoot, u64(epoch))
	t.then(func() { s.epoch = epoch })
	s.commit(t)
	s.startServing()
}

// sstTargetBytes is the target size of the database's tables.
const sstTargetBytes = 256 << 10

// openStore opens the database on env.FS(), checks it against its
// witness and reads every record.
func (s *Server) openStore(env core.Env) *recovered {
	s.env = env
	s.log = env.Log()
	db, r := s.openDB(&pebble.Options{
		FS:     env.FS(),
		Logger: pebbleLogger{env: env},
		// Sync chunks in the WAL let pebble tell corruption from a torn
		// tail, and sstables carry footer checksums (witness.go). An
		// older database is upgraded in place.
		FormatMajorVersion: pebble.FormatTableFormatV6,
		// Called on the goroutine that makes pebble create a WAL (Open,
		// a commit, AsyncFlush), which is this process's own.
		EventListener: &pebble.EventListener{
			WALCreated: func(pebble.WALCreateInfo) { s.walsCreated++ },
			// Called where pebble finds a damaged block: on this
			// goroutine while Start reads every record (the read fails
			// too, and Start refuses the storage), or on a compaction's.
			// Logging is all it may do.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				path, problem := describeCorruption(info.Details)
				core.ForeignLog(env).Error("gcs: pebble found on-disk corruption", "file", core.FSPath(env.FS(), info.Path), "path", path, "problem", problem)
			},
		},
		// A small memtable keeps the WAL short: the simulator's crashable
		// disk copies a whole file on every sync, so a long WAL makes each
		// synced commit slower (4 MiB default: 8k ops/s over 100k ops in
		// simulation, 1 MiB: 28k ops/s). Batches above half of it (a value
		// near ValueSizeMax) take pebble's large-batch path.
		MemTableSize: 1 << 20,
		// Small tables in every level: a compaction output closes once
		// it reaches the target, so a bulk value (tableBulk) ends its
		// table and the small records that sort after it start their
		// own. With pebble's 2 MiB-and-up defaults the last bulk table
		// also held the hot records, and every compaction of a flush
		// rewrote it.
		TargetFileSizes: [7]int64{sstTargetBytes, sstTargetBytes, sstTargetBytes, sstTargetBytes, sstTargetBytes, sstTargetBytes, sstTargetBytes},
	})
	s.db = db
	s.checkWitness(r)
	s.commits = r.commits
	s.digest = r.digest
	return r
}

// restore installs the recovered tables in memory.
func (s *Server) restore(r *recovered) {
	now := s.env.Now()
	s.jobCounter = r.jobCounter
	s.kv = r.kv
	s.kvLegacy = r.kvLegacy
	s.nodes = map[core.NodeID]*node{}
	for _, n := range r.nodes { // in key order, so nodeOrder is sorted
		s.nodes[n.ID] = &node{info: n, lastHeartbeat: now}
		s.nodeOrder = append(s.nodeOrder, n.ID)
	}
	s.jobs = map[core.JobID]JobInfo{}
	for _, j := range r.jobs {
		s.jobs[j.ID] = j
		s.jobOrder = append(s.jobOrder, j.ID)
	}
	s.actors = map[core.ActorID]ActorInfo{}
	s.named = map[actorName]core.ActorID{}
	for _, a := range r.actors {
		s.actors[a.ID] = a
		s.actorOrder = append(s.actorOrder, a.ID)
		if a.Name != "" && a.State != ActorDead {
			k := actorName{a.Namespace, a.Name}
			if other, dup := s.named[k]; dup {
				panic(fmt.Sprintf("gcs: recovered two live actors named %q/%q: %v and %v", a.Namespace, a.Name, other, a.ID))
			}
			s.named[k] = a.ID
		}
	}
	s.sessions = map[string]*session{}
	for client, replies := range r.replies { //gray:unordered fills a map; no order-dependent effect
		s.sessionFor(client, now).replies = replies
	}
	for client, floor := range r.floors { //gray:unordered fills a map; no order-dependent effect
		s.sessionFor(client, now).floor = floor
	}
	s.scheds = map[core.ActorID]*actorSched{}
	for id, sc := range r.scheds { //gray:unordered fills a map; no order-dependent effect
		sc := sc
		s.scheds[id] = &sc
	}
	s.pgs = map[core.PlacementGroupID]PlacementGroupInfo{}
	s.pgNamed = map[actorName]core.PlacementGroupID{}
	s.pgHeld = map[core.PlacementGroupID][]*heldGet{}
	s.pgWarned = map[core.PlacementGroupID]time.Time{}
	s.binTouched = map[string]time.Time{}
	s.pgAttempts = map[core.PlacementGroupID]*pgAttempt{}
	s.pgRemoved = nil
	for _, p := range r.pgs {
		s.pgs[p.ID] = p
		s.pgOrder = append(s.pgOrder, p.ID)
		if p.Name != "" && p.State != PlacementRemoved {
			s.pgNamed[actorName{p.Namespace, p.Name}] = p.ID
		}
		if p.State == PlacementRemoved {
			s.pgRemoved = append(s.pgRemoved, p.ID)
		}
	}
	s.jobSubs = map[string]JobSubmission{}
	s.jobSubOrder = nil
	for _, j := range r.jobSubs { // in key order, so jobSubOrder is sorted
		s.jobSubs[j.ID()] = j
		s.jobSubOrder = append(s.jobSubOrder, j.ID())
	}
	s.subs = map[string]*subscriber{}
	s.tasks = newTaskTable()
	if s.cfg.Bug == BugStaleRead {
		s.readCache = map[string][]byte{}
	}
}

// Stop closes the database. After a failed write pebble may report errors
// from Close; they change nothing for a process that is going away. A
// poisoned database (a panic escaped pebble) is abandoned instead, because
// its Close could block forever.
func (s *Server) Stop() {
	s.stopped = true
	if s.healthTimer != nil {
		s.healthTimer.Stop()
	}
	if s.schedTimer != nil {
		s.schedTimer.Stop()
	}
	if s.pgTimer != nil {
		s.pgTimer.Stop()
	}
	if s.jobSubTimer != nil {
		s.jobSubTimer.Stop()
	}
	if s.unsynced != nil {
		_ = s.unsynced.Close() // lost, as the bug intends
		s.unsynced = nil
	}
	if s.front {
		s.db = nil // the replica's; it closes it
		return
	}
	if s.db != nil && !s.poisoned {
		if s.serving {
			// A clean stop tells the next start how much it must find.
			// An error changes nothing: the last witness stays, and
			// still holds.
			_ = writeWitness(s.env.FS(), witness{Commits: s.commits, Epoch: s.epoch, Clean: true})
		}
		// Closed even when Start refused the storage or failed after
		// opening it: an open database keeps goroutines and memory for
		// the life of the program (a simulation campaign's seed worker
		// grew by ~3 MB a seed, to its 4 GiB bound past ~1,000 seeds).
		_ = s.db.Close()
	}
	s.db = nil
}

// Receive handles one request. Invalid requests get InvalidArgument;
// unknown message types are ignored.
func (s *Server) Receive(from core.Addr, m core.Message) {
	if s.stopped || s.db == nil {
		return
	}
	defer s.flushPolls()
	if s.receiveScheduler(from, m) {
		return
	}
	req, ok := m.(request)
	if !ok {
		s.log.Warn("gcs: ignoring unexpected message", "from", from, "type", core.MessageName(m.MsgType()))
		return
	}
	h := req.header()
	start := s.env.Now()
	defer func() {
		s.tasks.ops[m.MsgType()]++
		s.tasks.opTime[m.MsgType()] += s.env.Now().Sub(start)
	}()
	if err := req.Validate(); err != nil {
		if _, isPoll := m.(*Poll); isPoll {
			s.sendPoll(from, &PollReply{Client: h.Client, Seq: h.Seq, Code: rpc.CodeInvalid, Err: err.Error()})
			return
		}
		s.reply(from, h, Reply{Code: rpc.CodeInvalid, Err: err.Error()})
		return
	}
	switch r := m.(type) {
	case *KVGet:
		s.reply(from, h, s.kvGet(r))
	case *KVExists:
		s.reply(from, h, s.kvExists(r))
	case *KVKeys:
		s.reply(from, h, s.kvKeys(r))
	case *Heartbeat:
		s.reply(from, h, s.heartbeat(r))
	case *GetNodes:
		s.reply(from, h, Reply{Nodes: s.Nodes()})
	case *ListJobs:
		s.reply(from, h, Reply{Jobs: s.Jobs()})
	case *GetActor:
		s.reply(from, h, s.withPending(s.getActor(r)))
	case *GetNamedActor:
		s.reply(from, h, s.withPending(s.getNamedActor(r)))
	case *ListActors:
		s.reply(from, h, s.withPending(Reply{Actors: s.Actors()}))
	case *AddTaskEvents:
		s.reply(from, h, s.addTaskEvents(r))
	case *ListTasks:
		s.reply(from, h, s.listTasks(r))
	case *GetPlacementGroup:
		s.holdGet(from, r)
	case *ListPlacementGroups:
		s.reply(from, h, Reply{PlacementGroups: s.PlacementGroups()})
	case *GetReplicaStatus, *RemoveReplica:
		s.reply(from, h, fail(rpc.CodeNotFound, "not a replicated GCS"))
	case *GetJobSubmission:
		s.reply(from, h, s.getJobSubmission(r))
	case *ListJobSubmissions:
		s.reply(from, h, Reply{Submissions: s.Submissions()})
	case *Subscribe:
		s.reply(from, h, s.subscribe(r))
	case *Poll:
		s.poll(from, r)
	default:
		s.mutate(from, req)
	}
}

// apply runs the mutation req: it checks it against the committed state,
// writes its changes into t and returns the reply.
func (s *Server) apply(t *txn, req request) Reply {
	switch r := req.(type) {
	case *KVPut:
		return s.kvPut(t, r)
	case *KVDel:
		return s.kvDel(t, r)
	case *KVCAS:
		return s.kvCAS(t, r)
	case *RegisterNode:
		return s.registerNode(t, r)
	case *DrainNode:
		return s.drainNode(t, r)
	case *AddJob:
		return s.addJob(t, r)
	case *FinishJob:
		return s.finishJob(t, r)
	case *RegisterActor:
		return s.registerActor(t, r)
	case *UpdateActor:
		return s.updateActor(t, r)
	case *KillActor:
		return s.killActor(t, r)
	case *CreatePlacementGroup:
		return s.createPlacementGroup(t, r)
	case *RemovePlacementGroup:
		return s.removePlacementGroup(t, r)
	case *SubmitJob:
		return s.submitJob(t, r)
	case *StopJob:
		return s.stopJob(t, r)
	case *DeleteJob:
		return s.deleteJob(t, r)
	case *UpdateJobSubmission:
		return s.updateJobSubmission(t, r)
	}
	panic(fmt.Sprintf("gcs: no handler for %T", req))
}

// reply sends r as the answer to the request with header h.
func (s *Server) reply(to core.Addr, h Hdr, r Reply) {
	r.Client, r.Seq = h.Client, h.Seq
	s.send(to, &r)
}

func (s *Server) send(to core.Addr, r *Reply) {
	r.Epoch = s.epoch
	s.env.Send(to, r)
}

func (s *Server) sendPoll(to core.Addr, r *PollReply) {
	r.Epoch = s.epoch
	s.env.Send(to, r)
}

func fail(code rpc.Code, format string, args ...any) Reply {
	return Reply{Code: code, Err: fmt.Sprintf(format, args...)}
}

// Epoch returns the server's boot counter; it changes on every restart.
func (s *Server) Epoch() uint64 { return s.epoch }

// Nodes returns every node, sorted by id. The slice is the caller's.
func (s *Server) Nodes() []NodeInfo {
	out := make([]NodeInfo, 0, len(s.nodeOrder))
	for _, id := range s.nodeOrder {
		out = append(out, s.nodes[id].withDemand())
	}
	return out
}

// Node returns one node's record.
func (s *Server) Node(id core.NodeID) (NodeInfo, bool) {
	n, ok := s.nodes[id]
	if !ok {
		return NodeInfo{}, false
	}
	return n.withDemand(), true
}

// Jobs returns every job, sorted by id. The slice is the caller's.
func (s *Server) Jobs() []JobInfo {
	out := make([]JobInfo, 0, len(s.jobOrder))
	for _, id := range s.jobOrder {
		out = append(out, s.jobs[id])
	}
	return out
}

// Actors returns every actor, sorted by id. The slice is the caller's.
func (s *Server) Actors() []ActorInfo {
	out := make([]ActorInfo, 0, len(s.actorOrder))
	for _, id := range s.actorOrder {
		out = append(out, s.actors[id])
	}
	return out
}

// Actor returns one actor's record.
func (s *Server) Actor(id core.ActorID) (ActorInfo, bool) {
	a, ok := s.actors[id]
	return a, ok
}

// KV returns the committed value of a key (not through any read cache).
// The slice must not be modified.
func (s *Server) KV(ns, key string) ([]byte, bool) {
	v, ok := s.kv[ns][key]
	return v, ok
}

// CheckInvariants asserts the server's internal consistency: sorted
// indexes, named actors, no live actor on a dead node, restart bounds.
// Tests call it after events; it returns the first violation.
func (s *Server) CheckInvariants() error {
	if !slices.IsSortedFunc(s.nodeOrder, cmpNode) || len(s.nodeOrder) != len(s.nodes) {
		return fmt.Errorf("node index out of order or out of sync")
	}
	if !slices.IsSortedFunc(s.actorOrder, cmpActor) || len(s.actorOrder) != len(s.actors) {
		return fmt.Errorf("actor index out of order or out of sync")
	}
	live := 0
	for _, id := range s.actorOrder {
		a := s.actors[id]
		if a.State == ActorAlive {
			n := s.nodes[a.Node]
			if n == nil || n.info.State == NodeDead {
				return fmt.Errorf("actor %v is ALIVE on dead or unknown node %v", a.ID, a.Node)
			}
		}
		if a.MaxRestarts >= 0 && a.NumRestarts > a.MaxRestarts {
			return fmt.Errorf("actor %v restarted %d times, max %d", a.ID, a.NumRestarts, a.MaxRestarts)
		}
		if a.Name != "" && a.State != ActorDead {
			live++
			if s.named[actorName{a.Namespace, a.Name}] != a.ID {
				return fmt.Errorf("live named actor %v is not in the name index", a.ID)
			}
		}
	}
	if live != len(s.named) {
		return fmt.Errorf("name index holds %d names for %d live named actors", len(s.named), live)
	}
	for _, id := range s.jobOrder {
		if j := s.jobs[id]; j.Finished && j.EndTime < j.StartTime {
			return fmt.Errorf("job %v ended at %d, %v before it started at %d", id, j.EndTime, time.Duration(j.StartTime-j.EndTime), j.StartTime)
		}
	}
	return s.checkPlacements()
}

// Describe dumps the tables, for `gray sim replay --until`.
func (s *Server) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gcs epoch=%d nodes=%d jobs=%d actors=%d named=%d kv_namespaces=%d clients=%d subscribers=%d\n",
		s.epoch, len(s.nodes), len(s.jobs), len(s.actors), len(s.named), len(s.kv), len(s.sessions), len(s.subs))
	now := s.env.Now()
	for _, id := range s.nodeOrder {
		n := s.nodes[id]
		fmt.Fprintf(&b, "node %v last_heartbeat=-%v\n", n.info, now.Sub(n.lastHeartbeat))
	}
	for _, id := range s.jobOrder {
		fmt.Fprintf(&b, "job %v\n", s.jobs[id])
	}
	for _, id := range s.actorOrder {
		fmt.Fprintf(&b, "actor %v\n", s.actors[id])
	}
	b.WriteString(s.describeTasks())
	s.describePlacements(&b)
	const kvShown = 100
	shown := 0
kv:
	for _, ns := range sortedKeys(s.kv) {
		for _, k := range sortedKeys(s.kv[ns]) {
			if shown == kvShown {
				fmt.Fprintf(&b, "kv … (more than %d keys)\n", kvShown)
				break kv
			}
			shown++
			fmt.Fprintf(&b, "kv %q/%q = %s\n", ns, k, quoteBytes(s.kv[ns][k]))
		}
	}
	for _, c := range sortedKeys(s.sessions) {
		se := s.sessions[c]
		fmt.Fprintf(&b, "client %s floor=%d replies=%d\n", c, se.floor, len(se.replies))
	}
	for _, id := range s.subOrder {
		sub := s.subs[id]
		fmt.Fprintf(&b, "subscriber %s channels=%03b head=%d queued=%d held=%v\n", id, sub.channels, sub.nextSeq-1, len(sub.queue), sub.held != nil)
	}
	return b.String()
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m { //gray:unordered sorted right after the loop
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// insertSorted inserts id into ids, sorted by cmp, unless it is present.
func insertSorted[T any](ids []T, id T, cmp func(a, b T) int) []T {
	i, found := slices.BinarySearchFunc(ids, id, cmp)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

func cmpNode(a, b core.NodeID) int            { return bytes.Compare(a[:], b[:]) }
func cmpJob(a, b core.JobID) int              { return bytes.Compare(a[:], b[:]) }
func cmpActor(a, b core.ActorID) int          { return bytes.Compare(a[:], b[:]) }
func cmpGroup(a, b core.PlacementGroupID) int { return bytes.Compare(a[:], b[:]) }
