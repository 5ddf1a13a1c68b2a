package gcs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Replica is one member of a replicated GCS: a sans-IO core.Process that
// runs etcd raft (go.etcd.io/raft/v3, driven through RawNode: Step, Tick,
// Ready) and keeps the GCS's tables on pebble, as a single GCS does.
//
// The replicated state machine is the GCS's database. An entry is the
// pebble batch of one mutation, made by the leader's front (a Server
// started with startFront); every replica applies committed entries to
// its own database in log order, in the same synced batch that persists
// the log. Only the leader runs a Server: it starts one once it applied
// every entry before its term's first, from what that state holds, and
// drops it when it loses the lead. The front's memory runs ahead of the
// log (each mutation takes effect in memory when proposed), so every
// message it sends — replies, pubsub, requests to raylets — is held until
// (1) every entry it proposed before the message is applied and (2) a
// read index (raft's ReadIndex: a round of heartbeats answered by a
// quorum) requested after the message confirms the replica still led.
// Nothing uncommitted, and nothing a newer leader may have changed, is
// ever seen outside; a retried request finds its reply in the replicated
// dedup table under any leader.
//
// Elections are driven by the replica's own ticks and seeded PRNG, not
// raft's: raft's election timeout draws from a global source, so its
// ElectionTick is set too high to ever fire, and a follower that heard
// nothing from a leader for a seeded timeout in [ElectionTicks,
// 2·ElectionTicks) calls Campaign (a pre-vote first). A replica drops
// vote requests while it hears from its leader (raft's CheckQuorum lease,
// which is off), and a leader that heard from no quorum for ElectionTicks
// steps down (raft restarted from its storage as a follower).
//
// Membership is static: Config.Replicas, the same list on every replica,
// each replica's raft id being its position in it plus one.
type Replica struct {
	cfg   Config
	env   core.Env
	log   *slog.Logger
	id    uint64
	peers []core.Addr

	// store is a Server that only holds the database: it opens and
	// checks it (witness, digest) and commits the replica's batches.
	store *Server
	ms    *raft.MemoryStorage
	rn    *raft.RawNode
	// lastIndex is the last index of the persisted log.
	lastIndex            uint64
	applied, appliedTerm uint64
	conf                 raftpb.ConfState

	// The front, while this replica leads and caught up (nil otherwise);
	// gen counts fronts, so that timers of a dropped one do nothing.
	front      *Server
	gen        uint64
	frontTerm  uint64
	leading    bool // raft leader, front or not
	propSeq    uint64
	appliedSeq uint64
	// proposed holds when each proposal not yet applied was made, oldest
	// first (the commit latency).
	proposed []time.Time
	// out holds what the front sent, oldest first, until it may go.
	out     []heldSend
	readSeq uint64            // read index requests made
	reads   map[uint64]uint64 // request → the commit index it confirmed
	// Ticks since this replica last heard from its leader (follower) or
	// from each peer (leader); electionDue is the seeded timeout.
	sinceLeader int
	electionDue int
	sincePeer   map[uint64]int
	tick        core.Timer
	stopped     bool
	stats       ReplicaStats

	// Membership (replica_members.go): the phase, the members of the
	// applied configuration by raft id, ids learned from messages of
	// replicas not yet known (a joining replica's leader), the fresh
	// answers to this replica's probe, and the ticks before another
	// configuration change may be proposed.
	phase   int
	damaged string // why the storage was refused (phaseDamaged)
	refused core.FailStop
	// damagedTicks counts the ticks spent damaged.
	damagedTicks int
	members      map[uint64]core.Addr
	learned      map[uint64]core.Addr
	helloFresh   map[core.Addr]bool
	confTicks    int
}

// ReplicaStats counts what a replica did since it started.
type ReplicaStats struct {
	Elections   int64 // campaigns started
	Leaderships int64 // fronts started
	StepDowns   int64 // leads given up for want of a quorum
	Proposals   int64
	Applied     int64 // entries applied
	Snapshots   int64 // snapshots installed
	ConfChanges int64 // configuration changes applied
	Discards    int64 // damaged storage discarded at start
	// Committed counts the front's proposals that were applied, and
	// CommitTime sums the time from their proposal to their application
	// (the commit latency; divide for the mean).
	Committed  int64
	CommitTime time.Duration
}

// heldSend is a message of the front waiting for its conditions.
type heldSend struct {
	to   core.Addr
	m    core.Message
	seq  uint64 // the front's proposals before it
	read uint64 // the read index request that covers it (0: none yet)
}

// Defaults of the replication settings.
const (
	DefaultReplicaTick   = 100 * time.Millisecond
	DefaultElectionTicks = 10
)

// NewReplica returns the replica at cfg.Replicas[i] for the process whose
// address is that entry. Nothing happens until Start.
func NewReplica(cfg Config) *Replica {
	cfg.setDefaults()
	return &Replica{cfg: cfg, peers: slices.Clone(cfg.Replicas)}
}

var (
	_ core.Process = (*Replica)(nil)
	_ core.Stopper = (*Replica)(nil)
)

// Start opens the database, loads the raft log and state, and starts the
// ticks. A database with no raft state is a new member of the initial
// configuration.
func (r *Replica) Start(env core.Env) {
	r.env = env
	r.log = env.Log()
	if !slices.Contains(r.peers, env.Self()) {
		panic(core.FailStop{Reason: "gcs: replica", Err: fmt.Errorf("%s is not one of the replicas %v", env.Self(), r.peers)})
	}
	r.reads = map[uint64]uint64{}
	r.sincePeer = map[uint64]int{}
	r.members = map[uint64]core.Addr{}
	r.learned = map[uint64]core.Addr{}
	r.helloFresh = map[core.Addr]bool{}
	rec := r.openStore()
	if rec == nil {
		r.phase = phaseDamaged
		r.tick = env.AfterFunc(r.cfg.ReplicaTick, r.onTick)
		r.askToDiscard()
		return
	}
	r.startOnStore(rec)
}

// startOnStore starts on an open store: as a member, joining, or probing
// (an empty database).
func (r *Replica) startOnStore(rec *recovered) {
	env := r.env
	if id, ok := r.loadID(); ok {
		r.id = id
		r.loadRaft()
		r.loadMembers()
		if r.members[r.id] != env.Self() && r.applied == 0 {
			r.phase = phaseJoining
		}
	} else if rec.boot > 0 {
		r.store.refuse(DBDir, false, "holds the tables of a single GCS (epoch %d) and no raft state: a replica starts on an empty database or its own", rec.boot)
	} else {
		r.phase = phaseProbing
	}
	r.store.writeWitness(false)
	r.store.serving = true
	if r.phase != phaseProbing {
		r.restartRaft()
	}
	if r.tick == nil {
		r.tick = env.AfterFunc(r.cfg.ReplicaTick, r.onTick)
	}
	r.log.Info("gcs replica started", "id", r.id, "phase", r.phase, "members", len(r.members), "applied", r.applied, "last_index", r.lastIndex)
	if r.phase == phaseProbing {
		r.probe()
	}
}

// openStore opens the database. Storage the checks refuse (a
// StorageError) leaves the replica damaged, with no store: it asks the
// leader whether the others hold everything without it, and only then
// moves the storage aside and joins again (replica_members.go); a lone
// replica refuses as a single GCS does.
func (r *Replica) openStore() (rec *recovered) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		fs, ok := v.(core.FailStop)
		var se *StorageError
		if !ok || !errors.As(fs.Err, &se) || len(r.peers) < 2 {
			panic(v)
		}
		r.log.Warn("gcs replica: its storage cannot prove what it holds; it waits until the others hold everything without it, then starts empty and joins again", "err", fs.Err)
		if r.store.db != nil && !r.store.poisoned {
			_ = r.store.db.Close()
		}
		r.store.db = nil
		r.damaged = se.Error()
		r.refused = fs
		rec = nil
	}()
	r.store = NewServer(r.cfg)
	return r.store.openStore(r.env)
}

// Stop drops the front and closes the database.
func (r *Replica) Stop() {
	r.stopped = true
	if r.tick != nil {
		r.tick.Stop()
	}
	r.dropFront()
	if r.store != nil && r.store.db != nil {
		r.store.Stop()
	}
}

// restartRaft makes a new raft node from the persisted state: a follower
// that knows no leader.
func (r *Replica) restartRaft() {
	rn, err := raft.NewRawNode(&raft.Config{
		ID:            r.id,
		ElectionTick:  1 << 30, // never: elections are the replica's (see Replica)
		HeartbeatTick: 1,
		Storage:       replicaStorage{r.ms, r},
		Applied:       r.applied,
		MaxSizePerMsg: 1 << 20,
		// A leader removed from the configuration steps down at once.
		StepDownOnRemoval: true,
		// Proposals are never dropped for want of room: the front's
		// memory already holds their effects.
		MaxUncommittedEntriesSize: 0,
		MaxInflightMsgs:           256,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    raftLogger{r.log},
	})
	if err != nil {
		panic(core.FailStop{Reason: "gcs: start raft", Err: err})
	}
	r.rn = rn
	r.leading = false
	r.sinceLeader = 0
	r.electionDue = r.cfg.ElectionTicks + r.env.Rand().IntN(r.cfg.ElectionTicks)
}

// Front returns the serving front while this replica leads, or nil.
func (r *Replica) Front() *Server { return r.front }

// Leader returns the address of the leader this replica knows of, or "".
func (r *Replica) Leader() core.Addr {
	if r.rn == nil {
		return ""
	}
	if lead := r.rn.BasicStatus().Lead; lead != raft.None {
		return r.addrOf(lead)
	}
	return ""
}

// Stats returns the replica's counters.
func (r *Replica) Stats() ReplicaStats { return r.stats }

// Status describes the replica in one line.
func (r *Replica) Status() string {
	if r.phase == phaseDamaged {
		return "gcs replica: damaged storage, waiting to start empty: " + r.damaged
	}
	if r.rn == nil {
		return fmt.Sprintf("gcs replica: probing (%d of %d others fresh)", len(r.helloFresh), len(r.peers)-1)
	}
	st := r.rn.BasicStatus()
	return fmt.Sprintf("gcs replica %x members=%d phase=%d state=%v term=%d lead=%x commit=%d applied=%d last=%d serving=%v held=%d",
		r.id, len(r.members), r.phase, st.RaftState, st.Term, st.Lead, st.Commit, r.applied, r.lastIndex, r.front != nil, len(r.out))
}

// Describe is Status, then the front's tables when it serves.
func (r *Replica) Describe() string {
	s := r.Status()
	if r.front != nil {
		s += "\n" + r.front.Describe()
	}
	return s
}

// Receive handles raft traffic from peers and, on the leader, GCS
// requests; other replicas answer requests with Unavailable and the
// leader they know of.
func (r *Replica) Receive(from core.Addr, m core.Message) {
	if r.stopped {
		return
	}
	switch mm := m.(type) {
	case *ReplicaHello:
		r.env.Send(from, &ReplicaHelloReply{Fresh: r.fresh(), Leader: r.Leader()})
		return
	case *ReplicaHelloReply:
		r.onHelloReply(from, mm)
		r.afterStep()
		return
	case *JoinReplica:
		if r.rn != nil {
			r.onJoin(from, mm)
			r.afterStep()
		}
		return
	case *MayDiscard:
		if r.rn != nil {
			r.env.Send(from, &MayDiscardReply{OK: r.mayDiscard(from)})
		}
		return
	case *MayDiscardReply:
		if mm.OK && r.phase == phaseDamaged {
			r.discard()
		}
		return
	case *RaftMessage:
		if r.rn != nil {
			r.receiveRaft(from, mm)
			r.afterStep()
		}
		return
	}
	if q, ok := m.(*GetReplicaStatus); ok {
		if q.Validate() == nil {
			info := r.Info()
			r.env.Send(from, &Reply{Client: q.Hdr.Client, Seq: q.Hdr.Seq, Replica: &info})
		}
		return
	}
	if rm, ok := m.(*RemoveReplica); ok && r.front != nil {
		r.onRemove(from, rm)
		r.afterStep()
		return
	}
	if r.front != nil {
		r.front.Receive(from, m)
		r.afterStep()
		return
	}
	r.notLeader(from, m)
}

// notLeader answers a request that reached a replica without a front.
func (r *Replica) notLeader(from core.Addr, m core.Message) {
	req, ok := m.(request)
	if !ok {
		return // a reply to a dropped front's calls, or junk
	}
	h := req.header()
	if h.Client == "" {
		return
	}
	if get, ok := m.(*KVGet); ok && r.cfg.Bug == BugFollowerRead && get.Validate() == nil {
		v, closer, err := r.store.db.Get(kvKeyIn(tableBulk, get.Namespace, get.Key))
		if errors.Is(err, pebble.ErrNotFound) {
			v, closer, err = r.store.db.Get(kvKey(get.Namespace, get.Key))
		}
		rep := Reply{Client: h.Client, Seq: h.Seq}
		if err == nil {
			rep.Found, rep.Value = true, bytes.Clone(v)
			_ = closer.Close()
		}
		r.env.Send(from, &rep)
		return
	}
	lead := r.Leader()
	if lead == r.env.Self() || r.sinceLeader >= r.cfg.ElectionTicks {
		// Leading but not serving yet, or a leader not heard from for
		// an election timeout: likely gone, so do not send clients back.
		lead = ""
	}
	msg := "not the GCS leader"
	if lead != "" {
		msg += "; the leader is " + string(lead)
	}
	if _, isPoll := m.(*Poll); isPoll {
		r.env.Send(from, &PollReply{Client: h.Client, Seq: h.Seq, Code: rpc.CodeUnavailable, Err: msg, Leader: lead})
		return
	}
	r.env.Send(from, &Reply{Client: h.Client, Seq: h.Seq, Code: rpc.CodeUnavailable, Err: msg, Leader: lead})
}

func (r *Replica) receiveRaft(from core.Addr, rm *RaftMessage) {
	var msg raftpb.Message
	if err := msg.Unmarshal(rm.Data); err != nil {
		r.log.Warn("gcs: dropping an undecodable raft message", "from", from, "err", err)
		return
	}
	if msg.To != r.id || msg.From == 0 {
		return // to an earlier incarnation of this address
	}
	if a := r.addrOf(msg.From); a != from {
		if a != "" || r.phase == phaseMember && len(r.members) > 0 {
			// Another address for a known id, or an id no member has:
			// a removed replica, or a stale incarnation.
			return
		}
		// A joining replica hears from a leader it does not know yet
		// (the transport authenticated the sender).
		r.learned[msg.From] = from
	}
	st := r.rn.BasicStatus()
	switch msg.Type {
	case raftpb.MsgPreVote, raftpb.MsgVote:
		// The lease raft's CheckQuorum would keep: while this replica
		// hears from a leader, it helps no one depose it.
		if st.Lead != raft.None && st.Lead != msg.From && r.sinceLeader < r.cfg.ElectionTicks && st.RaftState == raft.StateFollower {
			return
		}
	case raftpb.MsgApp, raftpb.MsgHeartbeat, raftpb.MsgSnap:
		if msg.Term >= st.Term {
			r.sinceLeader = 0
		}
	case raftpb.MsgAppResp, raftpb.MsgHeartbeatResp:
		if msg.Term == st.Term {
			r.sincePeer[msg.From] = 0
		}
	}
	if raft.IsLocalMsg(msg.Type) {
		return
	}
	_ = r.rn.Step(msg) // errors are messages raft ignores
}

// onTick drives raft's heartbeats on the leader and the replica's own
// election and step-down timeouts.
func (r *Replica) onTick() {
	if r.stopped {
		return
	}
	r.tick = r.env.AfterFunc(r.cfg.ReplicaTick, r.onTick)
	switch r.phase {
	case phaseDamaged:
		// Refuse, as a single GCS does, if no leader lets the storage go
		// within three election timeouts: the others may need it (an
		// operator restores it, or decides).
		if r.damagedTicks++; r.damagedTicks > 3*r.cfg.ElectionTicks {
			r.log.Error("gcs replica: no leader could do without this replica's storage; refusing it", "err", r.refused.Err)
			panic(r.refused)
		}
		r.askToDiscard()
		return
	case phaseProbing:
		r.probe()
		return
	case phaseJoining:
		r.askToJoin()
		if r.fresh() {
			r.probe()
		}
	}
	if r.confTicks > 0 {
		r.confTicks--
	}
	st := r.rn.BasicStatus()
	switch st.RaftState {
	case raft.StateLeader:
		r.rn.Tick()
		heard, voters := 0, 0
		for _, id := range r.conf.Voters {
			voters++
			if id == r.id {
				heard++
				continue
			}
			r.sincePeer[id]++
			if r.sincePeer[id] <= r.cfg.ElectionTicks {
				heard++
			}
		}
		r.promote()
		if heard <= voters/2 {
			r.log.Warn("gcs: stepping down: no quorum heard from", "term", st.Term, "ticks", r.cfg.ElectionTicks)
			r.stats.StepDowns++
			r.dropFront()
			r.restartRaft()
		}
	default:
		r.sinceLeader++
		if r.sinceLeader >= r.electionDue {
			r.sinceLeader = 0
			r.electionDue = r.cfg.ElectionTicks + r.env.Rand().IntN(r.cfg.ElectionTicks)
			r.stats.Elections++
			_ = r.rn.Campaign()
		}
	}
	r.afterStep()
}

// afterStep asks for a read index covering what the front sent since the
// last one, handles every Ready and sends what may go.
func (r *Replica) afterStep() {
	if r.stopped || r.rn == nil {
		return
	}
	for {
		if r.front != nil && len(r.out) > 0 && r.out[len(r.out)-1].read == 0 {
			r.readSeq++
			for i := len(r.out) - 1; i >= 0 && r.out[i].read == 0; i-- {
				r.out[i].read = r.readSeq
			}
			r.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, r.readSeq))
		}
		if !r.rn.HasReady() {
			break
		}
		r.handleReady(r.rn.Ready())
	}
	r.release()
}

// release sends the held messages whose conditions hold, in order.
func (r *Replica) release() {
	n := 0
	for _, h := range r.out {
		if r.cfg.Bug != BugAckBeforeCommit {
			if h.seq > r.appliedSeq {
				break
			}
			idx, ok := r.reads[h.read]
			if !ok || idx > r.applied {
				break
			}
		}
		r.env.Send(h.to, h.m)
		n++
	}
	if n == 0 {
		return
	}
	last := r.out[n-1].read
	r.out = slices.Delete(r.out, 0, n)
	for k := range r.reads { //gray:unordered deletes only
		if k < last {
			delete(r.reads, k)
		}
	}
}

// handleReady persists the log and applies committed entries in one
// synced batch, then sends raft's messages and notes leadership changes.
func (r *Replica) handleReady(rd raft.Ready) {
	t := r.store.newTxn()
	if !raft.IsEmptySnap(rd.Snapshot) {
		r.installSnapshot(t, rd.Snapshot)
	}
	if len(rd.Entries) > 0 {
		last := rd.Entries[len(rd.Entries)-1].Index
		for _, e := range rd.Entries {
			b, err := e.Marshal()
			if err != nil {
				panic(fmt.Sprintf("gcs: marshal raft entry: %v", err))
			}
			t.set(raftEntryKey(e.Index), b)
		}
		for i := last + 1; i <= r.lastIndex; i++ {
			t.del(raftEntryKey(i)) // a suffix the new entries replace
		}
		r.lastIndex = last
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		b, err := rd.HardState.Marshal()
		if err != nil {
			panic(fmt.Sprintf("gcs: marshal raft state: %v", err))
		}
		t.set(keyRaftHard, b)
	}
	for _, e := range rd.CommittedEntries {
		r.apply(t, e)
	}
	if len(rd.CommittedEntries) > 0 {
		t.set(keyRaftApplied, appliedRecord(r.applied, r.appliedTerm))
	}
	r.store.commitNow(t)

	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := r.ms.ApplySnapshot(rd.Snapshot); err != nil {
			panic(fmt.Sprintf("gcs: apply raft snapshot: %v", err))
		}
	}
	if err := r.ms.Append(rd.Entries); err != nil {
		panic(fmt.Sprintf("gcs: append raft entries: %v", err))
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = r.ms.SetHardState(rd.HardState)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		r.loadMembers() // the snapshot's tables hold them
	}
	for _, m := range rd.Messages {
		to := r.addrOf(m.To)
		if to == "" {
			continue
		}
		b, err := m.Marshal()
		if err != nil {
			panic(fmt.Sprintf("gcs: marshal raft message: %v", err))
		}
		r.env.Send(to, &RaftMessage{Data: b})
		if m.Type == raftpb.MsgSnap {
			// The transport does not tell; a lost snapshot is found
			// by the probe that follows, which asks for it again.
			r.rn.ReportSnapshot(m.To, raft.SnapshotFinish)
		}
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) == 8 {
			r.reads[binary.BigEndian.Uint64(rs.RequestCtx)] = rs.Index
		}
	}
	if rd.SoftState != nil {
		leading := rd.SoftState.RaftState == raft.StateLeader
		if r.leading && !leading {
			r.dropFront()
		}
		if leading && !r.leading {
			for id := range r.sincePeer { //gray:unordered resets every entry
				r.sincePeer[id] = 0
			}
		}
		r.leading = leading
	}
	r.rn.Advance(rd)
	r.compact()
	// A leader serves once it applied its whole log, which ends in an
	// entry of its own term: everything committed before it is applied.
	if r.front == nil && r.leading && r.applied == r.lastIndex && r.appliedTerm == r.rn.BasicStatus().Term {
		r.startFront()
	}
}

// apply applies one committed entry to t.
func (r *Replica) apply(t *txn, e raftpb.Entry) {
	r.applied, r.appliedTerm = e.Index, e.Term
	r.stats.Applied++
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) > 0 {
			node, term, seq, repr, err := parseEntry(e.Data)
			if err != nil {
				panic(core.FailStop{Reason: "gcs: apply a committed entry", Err: err})
			}
			applyBatch(t, repr)
			if node == r.id && term == r.frontTerm && r.front != nil {
				for n := seq - r.appliedSeq; n > 0 && len(r.proposed) > 0; n-- {
					r.stats.Committed++
					r.stats.CommitTime += r.env.Now().Sub(r.proposed[0])
					r.proposed = r.proposed[1:]
				}
				r.appliedSeq = seq
			}
		}
	case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
		r.applyConf(t, e)
	}
}

// startFront starts a Server over the applied state.
func (r *Replica) startFront() {
	r.gen++
	r.frontTerm = r.rn.BasicStatus().Term
	r.propSeq, r.appliedSeq = 0, 0
	r.proposed = nil
	r.out = nil
	r.stats.Leaderships++
	f := NewServer(r.cfg)
	r.front = f
	f.startFront(&frontEnv{Env: r.env, r: r, gen: r.gen}, r.store.db, r.proposeTxn)
	r.log.Info("gcs replica leads", "id", r.id, "term", r.frontTerm, "epoch", f.epoch, "applied", r.applied)
}

// dropFront discards the front and everything it holds back.
func (r *Replica) dropFront() {
	if r.front == nil {
		return
	}
	r.log.Info("gcs replica stops serving", "id", r.id, "term", r.frontTerm, "held", len(r.out))
	f := r.front
	r.front = nil
	r.gen++
	r.out = nil
	f.Stop()
}

// proposeTxn proposes the front's mutation t.
func (r *Replica) proposeTxn(t *txn) {
	r.propSeq++
	r.stats.Proposals++
	r.proposed = append(r.proposed, r.env.Now())
	data := entryData(r.id, r.frontTerm, r.propSeq, t.b.Repr())
	if err := r.rn.Propose(data); err != nil {
		// Only when not leading any more: the front's memory now holds
		// an effect the log never will. Drop the front; the step-down
		// is raft's.
		r.log.Warn("gcs: proposal dropped", "err", err)
		r.env.AfterFunc(0, func() {
			r.dropFront()
			r.afterStep()
		})
	}
}

// frontEnv is the front's environment: its sends are held (Replica.out)
// and its timers die with it.
type frontEnv struct {
	core.Env
	r   *Replica
	gen uint64
}

func (e *frontEnv) Send(to core.Addr, m core.Message) {
	if e.r.gen != e.gen {
		return
	}
	e.r.out = append(e.r.out, heldSend{to: to, m: m, seq: e.r.propSeq})
}

func (e *frontEnv) AfterFunc(d time.Duration, f func()) core.Timer {
	return e.Env.AfterFunc(d, func() {
		if e.r.gen != e.gen || e.r.stopped {
			return
		}
		f()
		e.r.afterStep()
	})
}

// GetReplicaStatus asks one replica of a replicated GCS for its state
// (ReplicaInfo in Reply.Replica). Any replica answers it at once, leader
// or not: it reads no table, so it needs no read index. A single GCS
// answers NotFound.
type GetReplicaStatus struct {
	Hdr Hdr
}

const msgGetReplicaStatus core.MsgType = 1071

func (*GetReplicaStatus) MsgType() core.MsgType      { return msgGetReplicaStatus }
func (m *GetReplicaStatus) Validate() error          { return m.Hdr.validate() }
func (m *GetReplicaStatus) header() Hdr              { return m.Hdr }
func (m *GetReplicaStatus) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }

// ReplicaInfo is one replica's view of the replicated GCS.
type ReplicaInfo struct {
	Addr    core.Addr
	ID      uint64
	Role    string // leader, follower, candidate, pre-candidate
	Term    uint64
	Leader  core.Addr // the leader it knows of ("" if none)
	Commit  uint64    // the commit index it knows of
	Applied uint64
	Last    uint64 // the last index of its log
	// Serving: it leads and its front serves (Epoch is the front's).
	Serving bool
	Epoch   uint64
	// Members of the applied configuration; on the leader with the log
	// index each is known to hold (Match). Joint: the configuration is
	// between an old and a new set of voters (a replacement under way).
	Members []MemberInfo
	Joint   bool
	Stats   ReplicaStats
}

// MemberInfo is a member as a replica sees it.
type MemberInfo struct {
	Member
	Match uint64
}

// Info returns the replica's state.
func (r *Replica) Info() ReplicaInfo {
	if r.phase == phaseDamaged {
		return ReplicaInfo{Addr: r.env.Self(), Role: "damaged", Stats: r.stats}
	}
	if r.rn == nil {
		return ReplicaInfo{Addr: r.env.Self(), Role: "probing", Stats: r.stats}
	}
	st := r.rn.Status()
	info := ReplicaInfo{Addr: r.env.Self(), ID: r.id, Term: st.Term, Leader: r.Leader(), Commit: st.Commit, Applied: r.applied, Last: r.lastIndex,
		Serving: r.front != nil, Stats: r.stats}
	switch st.RaftState {
	case raft.StateLeader:
		info.Role = "leader"
	case raft.StateCandidate:
		info.Role = "candidate"
	case raft.StatePreCandidate:
		info.Role = "pre-candidate"
	default:
		info.Role = "follower"
	}
	if r.front != nil {
		info.Epoch = r.front.Epoch()
	}
	info.Joint = len(r.conf.VotersOutgoing) > 0
	for _, m := range r.memberList() {
		mi := MemberInfo{Member: m}
		if st.RaftState == raft.StateLeader {
			mi.Match = st.Progress[m.ID].Match
		}
		info.Members = append(info.Members, mi)
	}
	return info
}

// RaftMessage carries one raft message between replicas.
type RaftMessage struct {
	Data []byte
}

const msgRaft core.MsgType = 1070

// MsgType implements core.Message.
func (*RaftMessage) MsgType() core.MsgType { return msgRaft }

// Validate implements core.Validator.
func (m *RaftMessage) Validate() error {
	if len(m.Data) == 0 {
		return fmt.Errorf("empty raft message")
	}
	return nil
}

func init() {
	core.RegisterMessage(msgRaft, 1, "gcs.Raft", func() core.Message { return new(RaftMessage) })
	core.RegisterMessage(msgGetReplicaStatus, 1, "gcs.GetReplicaStatus", func() core.Message { return new(GetReplicaStatus) })
}

// raftLogger sends raft's log to the replica's, its chatter at debug.
type raftLogger struct{ l *slog.Logger }

func (g raftLogger) Debug(v ...any)                 { g.l.Debug("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Debugf(format string, v ...any) { g.l.Debug("raft: " + fmt.Sprintf(format, v...)) }
func (g raftLogger) Info(v ...any)                  { g.l.Debug("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Infof(format string, v ...any)  { g.l.Debug("raft: " + fmt.Sprintf(format, v...)) }
func (g raftLogger) Warning(v ...any)               { g.l.Warn("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Warningf(format string, v ...any) {
	g.l.Warn("raft: " + fmt.Sprintf(format, v...))
}
func (g raftLogger) Error(v ...any)                 { g.l.Error("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Errorf(format string, v ...any) { g.l.Error("raft: " + fmt.Sprintf(format, v...)) }
func (g raftLogger) Fatal(v ...any)                 { panic("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Fatalf(format string, v ...any) { panic("raft: " + fmt.Sprintf(format, v...)) }
func (g raftLogger) Panic(v ...any)                 { panic("raft: " + fmt.Sprint(v...)) }
func (g raftLogger) Panicf(format string, v ...any) { panic("raft: " + fmt.Sprintf(format, v...)) }
