package gcs

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Wire type codes of the GCS protocol (range 1000–1999).
const (
	msgKVGet                core.MsgType = 1000
	msgKVPut                core.MsgType = 1001
	msgKVDel                core.MsgType = 1002
	msgKVCAS                core.MsgType = 1003
	msgKVExists             core.MsgType = 1004
	msgKVKeys               core.MsgType = 1005
	msgRegisterNode         core.MsgType = 1010
	msgHeartbeat            core.MsgType = 1011
	msgDrainNode            core.MsgType = 1012
	msgGetNodes             core.MsgType = 1013
	msgAddJob               core.MsgType = 1020
	msgFinishJob            core.MsgType = 1021
	msgListJobs             core.MsgType = 1022
	msgRegisterActor        core.MsgType = 1030
	msgUpdateActor          core.MsgType = 1031
	msgGetActor             core.MsgType = 1032
	msgGetNamedActor        core.MsgType = 1033
	msgListActors           core.MsgType = 1034
	msgKillActor            core.MsgType = 1035
	msgAddTaskEvents        core.MsgType = 1036
	msgListTasks            core.MsgType = 1037
	msgCreatePlacementGroup core.MsgType = 1050
	msgRemovePlacementGroup core.MsgType = 1051
	msgGetPlacementGroup    core.MsgType = 1052
	msgListPlacementGroups  core.MsgType = 1053
	msgSubscribe            core.MsgType = 1040
	msgPoll                 core.MsgType = 1041
	msgReply                core.MsgType = 1090
	msgPollReply            core.MsgType = 1091
)

// Limits on request fields. Validate rejects anything larger, so neither the
// server's memory nor its disk can be flooded by one request.
const (
	KeySizeMax        = 1 << 10 // bytes of a KV key
	ValueSizeMax      = 1 << 20 // bytes of a KV value
	NamespaceSizeMax  = 256     // bytes of a KV or actor namespace
	NameSizeMax       = 256     // bytes of an actor name
	ClientIDSizeMax   = 64      // bytes of Hdr.Client
	AddrSizeMax       = 256     // bytes of a core.Addr in a request
	MetadataSizeMax   = 64 << 10
	DeathCauseSizeMax = 1 << 10
	// KeysPerReplyMax bounds KVKeys: a prefix matching more keys is refused
	// with InvalidArgument rather than answered with a huge reply.
	KeysPerReplyMax = 10_000
	// PollBatchMax bounds the messages of one PollReply; the rest stay
	// queued for the next Poll.
	PollBatchMax = 256
)

// Pubsub channels.
const (
	ChannelNode      = "node"      // NodeInfo on every node state change
	ChannelActor     = "actor"     // ActorInfo on every actor change
	ChannelResources = "resources" // ResourceView when a node's resources change
)

// Hdr is the header of every request. Client is a stable random id that the
// client draws at creation; Seq increases with every request of that client;
// AckBelow is the lowest Seq the client still waits for, so the server may
// forget dedup records below it and refuses any request below it.
type Hdr struct {
	Client   string `msgpack:"c"`
	Seq      uint64 `msgpack:"s"`
	AckBelow uint64 `msgpack:"a"`
}

func (h Hdr) validate() error {
	if h.Client == "" || len(h.Client) > ClientIDSizeMax {
		return fmt.Errorf("client id of %d bytes, want 1..%d", len(h.Client), ClientIDSizeMax)
	}
	if h.Seq == 0 {
		return errors.New("seq 0; sequence numbers start at 1")
	}
	if h.AckBelow > h.Seq {
		return fmt.Errorf("ack_below %d above seq %d", h.AckBelow, h.Seq)
	}
	return nil
}

// request is implemented by every request message.
type request interface {
	core.Message
	Validate() error
	header() Hdr
	// withHeader returns a shallow copy carrying h: a message handed to
	// Env.Send must not be modified, so every resend gets its own copy.
	withHeader(h Hdr) request
}

// NodeState is the life-cycle state of a node. ALIVE → DRAINING → DEAD, or
// ALIVE → DEAD; DEAD is final.
type NodeState uint8

// Node states.
const (
	NodeAlive NodeState = iota + 1
	NodeDraining
	NodeDead
)

var nodeStateNames = [...]string{NodeAlive: "ALIVE", NodeDraining: "DRAINING", NodeDead: "DEAD"}

// String returns the state's name as Ray spells it.
func (s NodeState) String() string {
	if s >= NodeAlive && s <= NodeDead {
		return nodeStateNames[s]
	}
	return fmt.Sprintf("NodeState(%d)", uint8(s))
}

// ActorState is the life-cycle state of an actor, as in Ray:
// DEPENDENCIES_UNREADY → PENDING_CREATION → ALIVE → RESTARTING → ALIVE …,
// and DEAD (final) from any state.
type ActorState uint8

// Actor states.
const (
	ActorDependenciesUnready ActorState = iota + 1
	ActorPendingCreation
	ActorAlive
	ActorRestarting
	ActorDead
)

var actorStateNames = [...]string{
	ActorDependenciesUnready: "DEPENDENCIES_UNREADY",
	ActorPendingCreation:     "PENDING_CREATION",
	ActorAlive:               "ALIVE",
	ActorRestarting:          "RESTARTING",
	ActorDead:                "DEAD",
}

// String returns the state's name as Ray spells it.
func (s ActorState) String() string {
	if s >= ActorDependenciesUnready && s <= ActorDead {
		return actorStateNames[s]
	}
	return fmt.Sprintf("ActorState(%d)", uint8(s))
}

// NodeInfo is the GCS's record of one node.
type NodeInfo struct {
	_msgpack struct{} `msgpack:",omitempty"`
	ID       core.NodeID
	Addr     core.Addr
	State    NodeState
	// Resources is the node's total capacity as registered.
	Resources core.Resources
	// Available is the last reported available capacity. It is kept in
	// memory only: after a GCS restart it equals Resources until the node
	// reports again.
	Available  core.Resources
	DeathCause string
	// Labels are the node's labels, as it registered them.
	Labels core.Labels
	// Demand is the work queued at the node's raylet, as its last
	// heartbeat reported it (memory only, like Available): what `gray
	// status` shows as pending demand, infeasible demand marked.
	Demand []Demand
	// Version increases with every change of the record.
	Version uint64
}

// Demand is one shape of work queued at a raylet: Count lease requests
// of Resources, waiting for resources (Infeasible false) or for a node
// that could ever run them (Infeasible, with the raylet's Reason), as
// Ray's resource demand in `ray status`.
type Demand struct {
	_msgpack   struct{} `msgpack:",omitempty"`
	Resources  core.Resources
	Count      int64
	Infeasible bool
	Reason     string
}

// Bounds of a heartbeat's demand.
const (
	DemandShapesMax = 100
	DemandReasonMax = 1 << 10
)

// JobInfo is the GCS's record of one job.
type JobInfo struct {
	_msgpack   struct{} `msgpack:",omitempty"`
	ID         core.JobID
	DriverAddr core.Addr
	Metadata   []byte
	Finished   bool
	// Binary is the hash of the job's staged binary (BinaryNS), if any.
	Binary string
	// Submission is the submitted job whose driver registered this job,
	// if any (submissions.go).
	Submission string
	// StartTime and EndTime are Unix nanoseconds of the GCS's clock.
	StartTime int64
	EndTime   int64
}

// ActorInfo is the GCS's record of one actor.
type ActorInfo struct {
	_msgpack  struct{} `msgpack:",omitempty"`
	ID        core.ActorID
	Job       core.JobID
	Namespace string
	Name      string // "" for an unnamed actor
	// MaxRestarts is how often the actor may restart; -1 is unlimited.
	MaxRestarts int64
	NumRestarts int64
	State       ActorState
	// Node and Addr say where the actor runs while it is ALIVE.
	Node       core.NodeID
	Addr       core.Addr
	DeathCause string
	// Version increases with every change of the record.
	Version uint64
	// Owner and OwnerID are the owner's core-worker address and
	// incarnation, and Detached whether the actor outlives it: a process
	// that looks the actor up by name borrows its handle object from the
	// owner (core.ActorHandleObjectID) unless it is detached.
	Owner    core.Addr `msgpack:",omitempty"`
	OwnerID  uint64    `msgpack:",omitempty"`
	Detached bool      `msgpack:",omitempty"`
	// PendingReason, in replies only (never stored), says why an actor
	// that is not ALIVE cannot be placed now: no alive node can host it
	// (its raylet's reason); it waits for one to join.
	PendingReason string `msgpack:",omitempty"`
}

// ActorSpec is an actor's creation spec: what the GCS's actor scheduler
// needs to place the actor and to create it again after a failure. The
// owner keeps the objects that Args reference alive for the actor's
// lifetime; the GCS only passes the references on.
type ActorSpec struct {
	_msgpack struct{} `msgpack:",omitempty"`
	// Class is the constructor's registered name.
	Class string
	// Args are the constructor's arguments: inline values or references
	// owned by the owner (or borrowed by it).
	Args []proto.Arg
	// Resources are held by the actor's worker for its lifetime.
	Resources core.Resources
	// PlacementResources, when set, is what placing the actor needs
	// instead (proto.TaskSpec.PlacementResources).
	PlacementResources core.Resources `msgpack:",omitempty"`
	// Strategy places the actor (hybrid, spread or node affinity).
	Strategy proto.Strategy
	// Owner is the owner's core-worker address and OwnerID its incarnation;
	// OwnerRaylet is the owner's local raylet, asked first for a lease.
	Owner       core.Addr
	OwnerID     uint64
	OwnerRaylet core.Addr
	// Detached actors outlive their owner; others die with it.
	Detached bool
	// MaxConcurrency is how many calls the actor runs at once
	// (proto.TaskSpec.MaxConcurrency); 0 means one.
	MaxConcurrency uint32 `msgpack:",omitempty"`
	// UnackedReplies: see proto.TaskSpec.UnackedReplies.
	UnackedReplies bool `msgpack:",omitempty"`
	// ConcurrencyGroups are the actor's groups of methods with limits of
	// their own (proto.TaskSpec.ConcurrencyGroups).
	ConcurrencyGroups []proto.ConcurrencyGroup `msgpack:",omitempty"`
	// Binary is the hash of the staged job binary whose workers host the
	// actor (proto.TaskSpec.Binary); empty when any worker can.
	Binary string `msgpack:",omitempty"`
	// InfeasibleWait (nanoseconds) bounds how long the actor waits to be
	// placed while no alive node can host it: 0 waits until one joins,
	// negative fails its creation at once (proto.TaskSpec.InfeasibleWait).
	InfeasibleWait int64 `msgpack:",omitempty"`
}

// ResourceView is a node's resources as published on ChannelResources.
type ResourceView struct {
	_msgpack  struct{} `msgpack:",omitempty"`
	Node      core.NodeID
	Total     core.Resources
	Available core.Resources
}

// PubMessage is one published change. Exactly one of Node, Actor and
// Resources is set, according to Channel.
type PubMessage struct {
	_msgpack  struct{} `msgpack:",omitempty"`
	Seq       uint64
	Channel   string
	Node      *NodeInfo
	Actor     *ActorInfo
	Resources *ResourceView
}

// Reply answers every request except Poll. Client and Seq echo the request
// header; Epoch is the server's boot counter. Only the result fields of the
// request's kind are set.
type Reply struct {
	_msgpack struct{} `msgpack:",omitempty"`
	Client   string
	Seq      uint64
	Epoch    uint64
	Code     rpc.Code
	Err      string

	Value   []byte   // KVGet
	Found   bool     // KVGet, KVExists
	Added   bool     // KVPut: the key was newly added
	Deleted bool     // KVDel
	Swapped bool     // KVCAS
	Keys    []string // KVKeys, sorted

	Dead  bool       // Heartbeat: the node is dead and must stop
	Nodes []NodeInfo // GetNodes, sorted by id; RegisterNode, DrainNode: the node

	Job  core.JobID // AddJob
	Jobs []JobInfo  // ListJobs, sorted by id

	ActorID core.ActorID // RegisterActor: the winner of a named registration
	Created bool         // RegisterActor: this request created the actor
	Actors  []ActorInfo  // GetActor, GetNamedActor, UpdateActor: one; ListActors: all, sorted

	Tasks      []TaskInfo // ListTasks, oldest first
	TasksTotal int        // ListTasks: matches before the limit

	// PlacementGroups: CreatePlacementGroup, RemovePlacementGroup,
	// GetPlacementGroup: one; ListPlacementGroups: all, sorted by id.
	PlacementGroups []PlacementGroupInfo
	// Raylets: GetPlacementGroup: the raylet of each bundle's node.
	Raylets []core.Addr
	// DropBundles: Heartbeat: bundles the raylet must give back.
	DropBundles []proto.BundleState

	// Submissions: SubmitJob, StopJob, DeleteJob, GetJobSubmission,
	// UpdateJobSubmission: one; ListJobSubmissions: all, sorted by id.
	Submissions []JobSubmission

	// Leader: with Unavailable from a replica of a replicated GCS that
	// does not serve, the leader it knows of ("" when it knows none).
	Leader core.Addr
	// Replica: GetReplicaStatus.
	Replica *ReplicaInfo
}

// MsgType implements core.Message.
func (*Reply) MsgType() core.MsgType { return msgReply }

// Validate implements core.Validator.
func (r *Reply) Validate() error {
	if !r.Code.Valid() {
		return fmt.Errorf("unknown code %d", r.Code)
	}
	return nil
}

// PollReply answers a Poll. Head is the sequence number of the last message
// the server published to this subscriber. Gap reports that messages after
// the poll's AckSeq were dropped: the subscriber must resync from snapshots
// and continue from Head. Code is NotFound when the server has no such
// subscriber (it restarted or expired it): resubscribe.
type PollReply struct {
	_msgpack struct{} `msgpack:",omitempty"`
	Client   string
	Seq      uint64
	Epoch    uint64
	Code     rpc.Code
	Err      string
	Messages []PubMessage
	Gap      bool
	Head     uint64
	Leader   core.Addr // as Reply.Leader
}

// MsgType implements core.Message.
func (*PollReply) MsgType() core.MsgType { return msgPollReply }

// Validate implements core.Validator.
func (r *PollReply) Validate() error {
	if !r.Code.Valid() {
		return fmt.Errorf("unknown code %d", r.Code)
	}
	if len(r.Messages) > PollBatchMax {
		return fmt.Errorf("%d messages, limit %d", len(r.Messages), PollBatchMax)
	}
	for i, m := range r.Messages {
		if i > 0 && m.Seq != r.Messages[i-1].Seq+1 {
			return fmt.Errorf("message seqs not consecutive: %d after %d", m.Seq, r.Messages[i-1].Seq)
		}
		if m.Seq > r.Head {
			return fmt.Errorf("message seq %d above head %d", m.Seq, r.Head)
		}
	}
	return nil
}
