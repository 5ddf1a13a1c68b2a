package gcs

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/vmihailenco/msgpack/v5"
	"go.etcd.io/raft/v3/raftpb"
)

// Membership of a replicated GCS.
//
// A replica's raft id is kept in its database (r/id); the members (raft
// id and address of each voter and learner) are part of the replicated
// tables (m/members), so snapshots carry them. The initial members are
// Config.Replicas, ids 1..n in that order.
//
// A replica with an empty database does not know whether the cluster is
// new or whether it lost its disk, and a replica that lost its disk must
// not come back under its old id: it could have voted, or held an entry
// a majority needed, and would help elect a leader that lacks what was
// acknowledged. So an empty replica probes (ReplicaHello) every other
// replica of Config.Replicas:
//
//   - if every one answers that it is fresh too (no database, or the
//     bootstrap state with no vote cast: term 0 and no entry beyond the
//     initial configuration), nobody can have voted or acknowledged
//     anything, and it bootstraps as its configured id;
//   - if one answers that it is not, the replica joins under a new random
//     id (JoinReplica, sent until it is a member): the leader adds it as
//     a learner, which catches up from a snapshot and the log, and once
//     it holds everything committed the leader makes it a voter and
//     removes the members of its address (its lost incarnation), in one
//     joint configuration change.
//
// The same join adds a replica at a new address: start it with a
// --gcs-replicas list that names it and the current members. A replica
// whose storage is damaged (StorageError) discards it and joins the same
// way instead of refusing to start. RemoveReplica takes a member out.

var (
	keyMembers = []byte("m/members")
	keyRaftID  = []byte("r/id")
)

// Member is one voter or learner of a replicated GCS.
type Member struct {
	ID      uint64
	Addr    core.Addr
	Learner bool `msgpack:",omitempty"`
}

func encodeMembers(ms []Member) []byte {
	b, err := msgpack.Marshal(ms)
	if err != nil {
		panic(fmt.Sprintf("gcs: encode members: %v", err))
	}
	return b
}

func decodeMembers(b []byte) ([]Member, error) {
	var ms []Member
	if err := msgpack.Unmarshal(b, &ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == 0 || m.Addr == "" || len(m.Addr) > AddrSizeMax {
			return nil, fmt.Errorf("bad member %+v", m)
		}
	}
	return ms, nil
}

// Replica phases.
const (
	phaseMember  = iota // in the configuration (or was)
	phaseProbing        // an empty database: asking the others
	phaseJoining        // a new id, waiting to be added
	phaseDamaged        // refused storage: waiting until it may go
)

// MayDiscard asks the leader whether the replica at the sender's address
// may discard its storage: whether the other voters, without it, form an
// up-to-date majority, and no other replica is being replaced.
type MayDiscard struct{}

// MayDiscardReply answers MayDiscard.
type MayDiscardReply struct{ OK bool }

const (
	msgMayDiscard      core.MsgType = 1075
	msgMayDiscardReply core.MsgType = 1076
)

func (*MayDiscard) MsgType() core.MsgType      { return msgMayDiscard }
func (*MayDiscardReply) MsgType() core.MsgType { return msgMayDiscardReply }

func init() {
	core.RegisterMessage(msgMayDiscard, 1, "gcs.MayDiscard", func() core.Message { return new(MayDiscard) })
	core.RegisterMessage(msgMayDiscardReply, 1, "gcs.MayDiscardReply", func() core.Message { return new(MayDiscardReply) })
}

// askToDiscard asks every configured replica (the leader answers).
func (r *Replica) askToDiscard() {
	for _, a := range r.others() {
		r.env.Send(a, &MayDiscard{})
	}
}

// mayDiscard, on a serving leader, reports whether the replica at addr
// may discard its storage: no configuration change is under way, and
// the voters at other addresses that hold everything committed and were
// heard from within an election timeout are a majority.
func (r *Replica) mayDiscard(addr core.Addr) bool {
	if r.front == nil || r.confBusy() || len(r.conf.Learners) > 0 {
		return false
	}
	st := r.rn.Status()
	healthy := 0
	for _, id := range r.conf.Voters {
		if r.members[id] == addr {
			continue
		}
		pr, ok := st.Progress[id]
		if id == r.id || ok && pr.Match >= st.Commit && r.sincePeer[id] <= r.cfg.ElectionTicks {
			healthy++
		}
	}
	return healthy > len(r.conf.Voters)/2
}

// discard moves the refused storage aside and starts empty (probing,
// then joining under a new id).
func (r *Replica) discard() {
	if err := discardStorage(r.env); err != nil {
		panic(core.FailStop{Reason: "gcs: move refused storage aside", Err: err})
	}
	r.stats.Discards++
	r.log.Warn("gcs replica: moved its refused storage aside; it starts empty and joins again", "to", DiscardedDir)
	r.damaged = ""
	r.phase = phaseMember
	r.store = NewServer(r.cfg)
	rec := r.store.openStore(r.env)
	r.startOnStore(rec)
}

// ReplicaHello asks a replica whether it is fresh (probing).
type ReplicaHello struct{}

// ReplicaHelloReply answers ReplicaHello.
type ReplicaHelloReply struct {
	// Fresh: no database, or the bootstrap state with no vote cast.
	Fresh bool
	// Leader is the leader the replica knows of, if any.
	Leader core.Addr
}

// JoinReplica asks the leader to add the replica at Addr under ID.
type JoinReplica struct {
	ID   uint64
	Addr core.Addr
}

const (
	msgReplicaHello      core.MsgType = 1072
	msgReplicaHelloReply core.MsgType = 1073
	msgJoinReplica       core.MsgType = 1074
)

func (*ReplicaHello) MsgType() core.MsgType      { return msgReplicaHello }
func (*ReplicaHelloReply) MsgType() core.MsgType { return msgReplicaHelloReply }
func (*JoinReplica) MsgType() core.MsgType       { return msgJoinReplica }

// Validate implements core.Validator.
func (m *JoinReplica) Validate() error {
	if m.ID == 0 || m.Addr == "" || len(m.Addr) > AddrSizeMax {
		return errors.New("bad join")
	}
	return nil
}

func init() {
	core.RegisterMessage(msgReplicaHello, 1, "gcs.ReplicaHello", func() core.Message { return new(ReplicaHello) })
	core.RegisterMessage(msgReplicaHelloReply, 1, "gcs.ReplicaHelloReply", func() core.Message { return new(ReplicaHelloReply) })
	core.RegisterMessage(msgJoinReplica, 1, "gcs.JoinReplica", func() core.Message { return new(JoinReplica) })
}

// addrOf is the address of raft id, or "".
func (r *Replica) addrOf(id uint64) core.Addr {
	if a, ok := r.members[id]; ok {
		return a
	}
	return r.learned[id]
}

// memberIDs returns the ids of the members, sorted.
func (r *Replica) memberIDs() []uint64 {
	ids := make([]uint64, 0, len(r.members))
	for id := range r.members { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// loadMembers reads the members from the tables.
func (r *Replica) loadMembers() {
	r.members = map[uint64]core.Addr{}
	v, closer, err := r.store.db.Get(keyMembers)
	if errors.Is(err, pebble.ErrNotFound) {
		return
	}
	if err != nil {
		panic(core.FailStop{Reason: "gcs: read the members", Err: err})
	}
	ms, derr := decodeMembers(v)
	_ = closer.Close()
	if derr != nil {
		r.store.refuse(DBDir, false, "members: %v", derr)
	}
	for _, m := range ms {
		r.members[m.ID] = m.Addr
	}
	r.noteJoined()
}

// writeMembers records the members (after a configuration change).
func (r *Replica) writeMembers(t *txn) { t.set(keyMembers, encodeMembers(r.memberList())) }

// noteJoined ends the joining phase once the configuration has this
// replica.
func (r *Replica) noteJoined() {
	if r.phase == phaseJoining && r.members[r.id] == r.env.Self() {
		r.phase = phaseMember
		r.log.Info("gcs replica joined", "id", r.id)
	}
}

// fresh reports whether this replica could not have voted or
// acknowledged anything: an empty database, or the bootstrap state.
func (r *Replica) fresh() bool {
	switch {
	case r.phase == phaseProbing:
		return true
	case r.phase == phaseDamaged || r.rn == nil:
		return false // it cannot tell what it did
	}
	hs, _, _ := r.ms.InitialState()
	if r.phase == phaseJoining {
		// Never a member yet: it cannot have voted or held anything.
		return hs.Term == 0 && r.applied == 0
	}
	return hs.Term == 0 && hs.Vote == 0 && r.lastIndex <= 1
}

// others returns the configured replicas but this one.
func (r *Replica) others() []core.Addr {
	out := make([]core.Addr, 0, len(r.peers))
	for _, a := range r.peers {
		if a != r.env.Self() {
			out = append(out, a)
		}
	}
	return out
}

// probe asks the other configured replicas whether they are fresh.
func (r *Replica) probe() {
	for _, a := range r.others() {
		if !r.helloFresh[a] {
			r.env.Send(a, &ReplicaHello{})
		}
	}
}

// onHelloReply notes an answer to probe: all fresh bootstraps; one not
// fresh joins.
func (r *Replica) onHelloReply(from core.Addr, m *ReplicaHelloReply) {
	if !slices.Contains(r.peers, from) {
		return
	}
	switch {
	case r.phase == phaseProbing:
	case r.phase == phaseJoining && r.fresh():
		// Never a member: if every other replica turns out fresh too
		// (they all started, or came back, with nothing), nobody can
		// add it, and it may bootstrap as its configured id after all.
	default:
		return
	}
	if !m.Fresh {
		delete(r.helloFresh, from)
		if r.phase == phaseProbing {
			r.join()
		}
		return
	}
	r.helloFresh[from] = true
	for _, a := range r.others() {
		if !r.helloFresh[a] {
			return
		}
	}
	r.bootstrap()
}

// bootstrap writes the initial configuration: every configured replica
// a voter, at index 1 of term 1. A joining replica that never became a
// member may bootstrap too (onHelloReply): it drops its raft node.
func (r *Replica) bootstrap() {
	r.rn = nil
	r.id = uint64(slices.Index(r.peers, r.env.Self()) + 1)
	r.members = map[uint64]core.Addr{}
	r.conf = raftpb.ConfState{}
	for i, a := range r.peers {
		r.members[uint64(i+1)] = a
		r.conf.Voters = append(r.conf.Voters, uint64(i+1))
	}
	t := r.store.newTxn()
	t.set(keyRaftID, u64(r.id))
	t.set(keyRaftApplied, appliedRecord(1, 1))
	b, _ := r.conf.Marshal()
	t.set(keyRaftConf, b)
	r.writeMembers(t)
	r.store.commitNow(t)
	r.phase = phaseMember
	r.log.Info("gcs replica bootstraps the cluster", "id", r.id, "replicas", len(r.peers))
	r.loadRaft()
	r.restartRaft()
}

// join takes a new id and asks to be added.
func (r *Replica) join() {
	r.id = r.env.Rand().Uint64() | 1<<63 // never one of the initial 1..n
	t := r.store.newTxn()
	t.set(keyRaftID, u64(r.id))
	r.store.commitNow(t)
	r.phase = phaseJoining
	r.log.Info("gcs replica joins the cluster under a new id", "id", r.id)
	r.loadRaft()
	r.restartRaft()
	r.askToJoin()
}

// askToJoin sends JoinReplica to every configured replica; the leader
// acts on it.
func (r *Replica) askToJoin() {
	for _, a := range r.others() {
		r.env.Send(a, &JoinReplica{ID: r.id, Addr: r.env.Self()})
	}
}

// onJoin, on a serving leader, adds the replica as a learner.
func (r *Replica) onJoin(from core.Addr, m *JoinReplica) {
	if m.Validate() != nil || m.Addr != from || r.front == nil || r.members[m.ID] == m.Addr || r.confBusy() {
		return
	}
	r.proposeConf(raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode, NodeID: m.ID}}},
		[]Member{{ID: m.ID, Addr: m.Addr}}, "add learner")
}

// promote, on a serving leader, makes a learner that holds everything
// committed a voter, in place of the members of its address.
func (r *Replica) promote() {
	if r.front == nil || r.confBusy() || len(r.conf.Learners) == 0 {
		return
	}
	st := r.rn.Status()
	learners := slices.Clone(r.conf.Learners)
	slices.Sort(learners)
	for _, id := range learners {
		pr, ok := st.Progress[id]
		if !ok || pr.Match < st.Commit {
			continue
		}
		cc := raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddNode, NodeID: id}}}
		for _, old := range r.memberIDs() {
			if old != id && r.members[old] == r.members[id] {
				cc.Changes = append(cc.Changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: old})
			}
		}
		r.proposeConf(cc, []Member{{ID: id, Addr: r.members[id]}}, "promote")
		return
	}
}

// confBusy reports whether a configuration change may not be proposed
// now: one is in flight, or the configuration is joint.
func (r *Replica) confBusy() bool {
	return len(r.conf.VotersOutgoing) > 0 || r.confTicks > 0
}

// proposeConf proposes a configuration change whose context carries the
// added members' addresses.
func (r *Replica) proposeConf(cc raftpb.ConfChangeV2, add []Member, what string) {
	cc.Context = encodeMembers(add)
	if err := r.rn.ProposeConfChange(cc); err != nil {
		r.log.Warn("gcs: configuration change dropped", "what", what, "err", err)
		return
	}
	// Raft drops a change proposed while another is pending (it
	// becomes an empty entry); the next may go after two election
	// timeouts, or once a change was applied.
	r.confTicks = 2 * r.cfg.ElectionTicks
	r.log.Info("gcs: configuration change proposed", "what", what, "changes", cc.String())
}

// applyConf applies a committed configuration change to t.
func (r *Replica) applyConf(t *txn, e raftpb.Entry) {
	var cc raftpb.ConfChangeI
	var ctx []byte
	if e.Type == raftpb.EntryConfChange {
		var c raftpb.ConfChange
		if err := c.Unmarshal(e.Data); err != nil {
			panic(core.FailStop{Reason: "gcs: apply a configuration change", Err: err})
		}
		cc, ctx = c, c.Context
	} else {
		var c raftpb.ConfChangeV2
		if err := c.Unmarshal(e.Data); err != nil {
			panic(core.FailStop{Reason: "gcs: apply a configuration change", Err: err})
		}
		cc, ctx = c, c.Context
	}
	add := map[uint64]core.Addr{}
	if len(ctx) > 0 {
		ms, err := decodeMembers(ctx)
		if err != nil {
			panic(core.FailStop{Reason: "gcs: apply a configuration change", Err: err})
		}
		for _, m := range ms {
			add[m.ID] = m.Addr
		}
	}
	for _, ch := range cc.AsV2().Changes {
		switch ch.Type {
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
			if a, ok := add[ch.NodeID]; ok {
				r.members[ch.NodeID] = a
			}
		case raftpb.ConfChangeRemoveNode:
			delete(r.members, ch.NodeID)
		}
	}
	r.conf = *r.rn.ApplyConfChange(cc)
	b, _ := r.conf.Marshal()
	t.set(keyRaftConf, b)
	r.writeMembers(t)
	r.confTicks = 0
	r.stats.ConfChanges++
	r.noteJoined()
}

// loadID reads this replica's raft id, if it has one.
func (r *Replica) loadID() (uint64, bool) {
	v, closer, err := r.store.db.Get(keyRaftID)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false
	}
	if err != nil {
		panic(core.FailStop{Reason: "gcs: read the raft id", Err: err})
	}
	defer closer.Close()
	id, perr := parseU64(v)
	if perr != nil || id == 0 {
		r.store.refuse(DBDir, false, "raft id: %q", v)
	}
	return id, true
}

// DiscardedDir is where a replica moves storage it refused before it
// starts empty and joins again (the previous such copy is replaced): not
// deleted, in case the refusal was a bug that every replica shares, or
// a majority lost theirs and an operator must recover by hand.
const DiscardedDir = "gcs-discarded"

// discardStorage moves a refused database and its witness aside
// (DiscardedDir), so that the replica starts empty and joins again.
func discardStorage(env core.Env) error {
	fs := env.FS()
	if err := fs.RemoveAll(DiscardedDir); err != nil {
		return err
	}
	if err := fs.MkdirAll(DiscardedDir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{DBDir, WitnessFile} {
		if _, err := fs.Stat(name); err != nil {
			continue // not there
		}
		if err := fs.Rename(name, fs.PathJoin(DiscardedDir, name)); err != nil {
			return err
		}
	}
	return fs.RemoveAll(WitnessFile + ".tmp")
}

// memberList returns the members with their roles, by id.
func (r *Replica) memberList() []Member {
	learner := map[uint64]bool{}
	for _, id := range r.conf.Learners {
		learner[id] = true
	}
	var out []Member
	for _, id := range r.memberIDs() {
		out = append(out, Member{ID: id, Addr: r.members[id], Learner: learner[id]})
	}
	return out
}

// RemoveReplica asks the leader of a replicated GCS to take the replica
// at Addr (every member with that address) out of the configuration. The
// reply is OK once the change is proposed; gray status shows when it
// applied. A replica that does not lead answers Unavailable with the
// leader, as for every request.
type RemoveReplica struct {
	Hdr  Hdr
	Addr core.Addr
}

const msgRemoveReplica core.MsgType = 1077

func (*RemoveReplica) MsgType() core.MsgType      { return msgRemoveReplica }
func (m *RemoveReplica) header() Hdr              { return m.Hdr }
func (m *RemoveReplica) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }

// Validate implements core.Validator.
func (m *RemoveReplica) Validate() error {
	return firstErr(m.Hdr.validate(), validateAddr("replica address", m.Addr, true))
}

func init() {
	core.RegisterMessage(msgRemoveReplica, 1, "gcs.RemoveReplica", func() core.Message { return new(RemoveReplica) })
}

// RemoveReplica asks the leader to remove the replica at addr.
func (c *Client) RemoveReplica(addr core.Addr, cb func(Reply, error)) {
	c.do(&RemoveReplica{Addr: addr}, cb)
}

// onRemove, on a serving leader, proposes removing every member at the
// address, unless that would leave fewer than two voters or another
// change is under way.
func (r *Replica) onRemove(from core.Addr, m *RemoveReplica) {
	reply := func(code rpc.Code, format string, args ...any) {
		r.env.Send(from, &Reply{Client: m.Hdr.Client, Seq: m.Hdr.Seq, Code: code, Err: fmt.Sprintf(format, args...)})
	}
	if err := m.Validate(); err != nil {
		reply(rpc.CodeInvalid, "%v", err)
		return
	}
	var ids []uint64
	for _, id := range r.memberIDs() {
		if r.members[id] == m.Addr {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		reply(rpc.CodeNotFound, "%s is not a member of the replicated GCS", m.Addr)
		return
	}
	voters := 0
	for _, v := range r.conf.Voters {
		if !slices.Contains(ids, v) {
			voters++
		}
	}
	if voters < 2 {
		reply(rpc.CodeFailedPrecondition, "removing %s would leave %d voter(s); a replicated GCS keeps at least two", m.Addr, voters)
		return
	}
	if r.confBusy() {
		reply(rpc.CodeUnavailable, "a configuration change is under way; retry")
		return
	}
	cc := raftpb.ConfChangeV2{}
	for _, id := range ids {
		cc.Changes = append(cc.Changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: id})
	}
	r.proposeConf(cc, nil, "remove "+string(m.Addr))
	reply(rpc.CodeOK, "")
}
