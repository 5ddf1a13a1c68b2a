// Package proto holds the task and object protocol shared by the core
// worker (package core/worker) and the raylet (package raylet): task
// specifications, object references and locations, the typed task errors,
// and the request/reply messages of both services. Calls travel through
// core/rpc; type codes are 2000–2999 for requests the raylet serves and
// 4000–4999 for requests a core worker serves.
//
// The flow of a normal task follows Ray's direct task transport:
//
//  1. The owner (the submitting core worker) asks its local raylet for a
//     worker lease (RequestLease). The raylet grants a worker on its node,
//     tells the owner to ask another raylet (spillback), or reports the task
//     infeasible.
//  2. The owner pushes the task to the leased worker (PushTask). The worker
//     fetches argument objects through its raylet (GetObject, which pulls
//     remote copies in chunks), runs the function, stores large returns in
//     its node's plasma store (PutObject) and answers with small returns
//     inline and the locations of the large ones.
//  3. The owner records the results and returns the lease (ReturnLease).
//
// If the worker dies, the raylet tells the lease holder (LeaseFailed); if
// the node dies, the owner hears it from the GCS. Either way the owner
// retries the task while retries remain.
//
// An owner that cancels a pushed task tells the leased worker
// (CancelTask), which interrupts the body or, forced, exits; the owner
// returns the lease once the push is answered.
//
// An actor's creation task takes the same path with the GCS's actor
// scheduler in the owner's place: it requests the lease (the spec still
// names the actor's owner), pushes the creation task, holds the lease for
// the actor's lifetime and hears LeaseFailed.
package proto

import (
	"fmt"

	"github.com/grayrt/gray/core"
)

// Location is a node that holds a copy of an object in its plasma store.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type Location struct {
	Node   core.NodeID `msgpack:"n"`
	Raylet core.Addr   `msgpack:"r"`
}

// ObjectRef names an object and its owner, the core worker that decides
// its fate.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ObjectRef struct {
	ID    core.ObjectID `msgpack:"i"`
	Owner core.Addr     `msgpack:"o"`
	// OwnerID names the owner's incarnation (0: unknown), so that a
	// process restarted at the owner's address can tell a borrower that
	// the owner died rather than that the object was freed.
	OwnerID uint64 `msgpack:"w,omitempty"`
}

// String returns the object id.
func (r ObjectRef) String() string { return r.ID.String() }

// Arg is one task argument: an inline value, or a reference resolved
// before the task runs. Nested lists the references an inline value
// holds (a Ref inside a struct, a slice, a map): the submitter keeps
// them while the task is pending, and the executing worker, which
// decodes them, becomes their borrower (AddBorrower) before the task
// finishes. They are not dependencies: the task runs before they are
// ready.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type Arg struct {
	Value  []byte      `msgpack:"v,omitempty"`
	Ref    *ObjectRef  `msgpack:"r,omitempty"`
	Nested []ObjectRef `msgpack:"n,omitempty"`
}

// StrategyKind selects a scheduling strategy.
type StrategyKind uint8

// Scheduling strategies, as in Ray.
const (
	StrategyDefault      StrategyKind = iota // hybrid: local first until busy, then least utilised
	StrategySpread                           // round-robin over nodes
	StrategyNodeAffinity                     // a given node; Soft falls back to default
)

// Strategy is a task's scheduling strategy.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type Strategy struct {
	Kind StrategyKind `msgpack:"k,omitempty"`
	Node core.NodeID  `msgpack:"n,omitempty"`
	Soft bool         `msgpack:"s,omitempty"`
	// Labels restricts the work to nodes whose labels match (Ray's
	// label_selector), whatever the strategy.
	Labels core.Selector `msgpack:"l,omitempty"`
	// Bundle places the work in a bundle of a placement group: it runs
	// on the node that holds the bundle, on the bundle's resources.
	Bundle *BundleRef `msgpack:"b,omitempty"`
}

// TaskSpec describes one task attempt.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type TaskSpec struct {
	TaskID     core.TaskID    `msgpack:"t"`
	Job        core.JobID     `msgpack:"j"`
	Attempt    uint32         `msgpack:"a,omitempty"`
	Function   string         `msgpack:"f"`
	Args       []Arg          `msgpack:"g,omitempty"`
	NumReturns uint32         `msgpack:"n"`
	Resources  core.Resources `msgpack:"r,omitempty"`
	// PlacementResources, when set, is what placing the task needs
	// instead of Resources, which is what it holds once placed: an
	// actor created without resources needs 1 CPU free to be placed and
	// holds none while it lives (Ray's placement resources). It always
	// contains Resources.
	PlacementResources core.Resources `msgpack:"pr,omitempty"`
	Strategy           Strategy       `msgpack:"s,omitempty"`
	// MaxRetries bounds retries after system failures (worker or node
	// death); -1 retries forever. RetryExceptions also retries user errors.
	MaxRetries      int32     `msgpack:"m,omitempty"`
	RetryExceptions bool      `msgpack:"x,omitempty"`
	Owner           core.Addr `msgpack:"o"`
	// OwnerID is the owner's core-worker incarnation and OwnerNode the
	// node the owner dies with (a worker's; nil for a driver, which moves
	// to another node when its own dies). The worker that stores a large
	// return passes both to its raylet with the primary copy, so that
	// the raylet can free the copy once the owner is gone (see
	// PutObject).
	OwnerID   uint64      `msgpack:"W,omitempty"`
	OwnerNode core.NodeID `msgpack:"N,omitempty"`
	// Actor creation and actor calls.
	ActorID       core.ActorID `msgpack:"A,omitempty"`
	ActorCreation bool         `msgpack:"C,omitempty"`
	ActorCall     bool         `msgpack:"K,omitempty"`
	// CallerSeq orders a caller's actor calls: their positions, from 1,
	// among the calls this caller sent to the addressed incarnation.
	CallerSeq uint64    `msgpack:"Q,omitempty"`
	Caller    core.Addr `msgpack:"R,omitempty"`
	// CallerID names the caller's core-worker incarnation, so that a
	// restarted caller (whose sequence numbers start again at 1) is a new
	// caller to the actor.
	CallerID uint64 `msgpack:"D,omitempty"`
	// SkipBelow is the caller's lowest call still unanswered when the call
	// was sent: the actor executes nothing of this caller below it (those
	// calls finished or failed) and need not wait for them.
	SkipBelow uint64 `msgpack:"B,omitempty"`
	// ActorIncarnation is the actor's restart count the call (or the
	// creation) is meant for; any other incarnation refuses it.
	ActorIncarnation int64 `msgpack:"I,omitempty"`
	// MaxConcurrency (actor creation) is how many of the actor's calls
	// may run at once; 0 and 1 mean one at a time, in each caller's
	// order (Ray's max_concurrency).
	MaxConcurrency uint32 `msgpack:"mc,omitempty"`
	// ConcurrencyGroups (actor creation) are the actor's named groups of
	// methods, each with its own limit on concurrent calls (Ray's
	// concurrency groups), sorted by name; calls outside any group share
	// MaxConcurrency.
	ConcurrencyGroups []ConcurrencyGroup `msgpack:"cgs,omitempty"`
	// ConcurrencyGroup (actor call) is the group the call runs in; empty
	// for the default group.
	ConcurrencyGroup string `msgpack:"cg,omitempty"`
	// Streaming marks a streaming generator task (Ray's
	// num_returns="streaming"): its body reports items one by one
	// (ReportItem) as objects GeneratorItemIndex(0), (1), …, and its one
	// return, which ends the stream, holds the item count. Backpressure
	// bounds how many items may be reported and not yet consumed before
	// the body waits (0: unbounded).
	Streaming    bool   `msgpack:"sg,omitempty"`
	Backpressure uint32 `msgpack:"sb,omitempty"`
	// InfeasibleWait (nanoseconds) is how long the task may wait for a
	// node that can run it when none can now (its resources or labels:
	// a node may join): 0 waits for as long as it takes (Ray's pending
	// demand), negative fails it at once with Infeasible. The raylet
	// queues such a request and tells the owner (LeaseInfeasible); the
	// owner enforces the bound.
	InfeasibleWait int64 `msgpack:"iw,omitempty"`
	// Binary is the hash (hex SHA-256) of the staged job binary whose
	// workers run the task; empty when any worker of the node's own
	// program does (embedded clusters, the simulator).
	Binary string `msgpack:"bin,omitempty"`
	// UnackedReplies (actor creation): the actor starts its next call
	// without waiting for the caller's ack of the previous reply
	// (PushTaskReply.AckWanted): faster for a caller with many calls in
	// flight from another process, but a call that kills the process
	// can lose the replies of the calls just before it, as in Ray.
	UnackedReplies bool `msgpack:"ur,omitempty"`
}

// Placement returns what placing the task needs: PlacementResources when
// set, else Resources.
func (s *TaskSpec) Placement() core.Resources {
	if len(s.PlacementResources) > 0 {
		return s.PlacementResources
	}
	return s.Resources
}

// Limits on what a task spec may carry.
const (
	FunctionNameMax = 256
	ArgsMax         = 10_000
	ReturnsMax      = 1_000
	// ActorConcurrencyMax bounds an actor's MaxConcurrency (Ray's
	// default for async actors).
	ActorConcurrencyMax = 1_000
	// InlineSizeMax is the default bound below which return values travel
	// inline to the owner instead of through plasma (Ray: 100 KiB).
	InlineSizeMax = 100 << 10
	// GeneratorItemsMax bounds the items of one streaming generator.
	GeneratorItemsMax = 1<<30 - 1
	// NestedRefsMax bounds the references nested in one task's inline
	// arguments; more go inside a Put object, which holds them.
	NestedRefsMax = 100_000
)

// Validate checks the fields a receiver relies on.
func (s *TaskSpec) Validate() error {
	switch {
	case s.Function == "" || len(s.Function) > FunctionNameMax:
		return fmt.Errorf("function name of %d bytes, want 1..%d", len(s.Function), FunctionNameMax)
	case len(s.Args) > ArgsMax:
		return fmt.Errorf("%d args, limit %d", len(s.Args), ArgsMax)
	case s.NumReturns > ReturnsMax:
		return fmt.Errorf("%d returns, limit %d", s.NumReturns, ReturnsMax)
	case !s.Resources.Valid():
		return fmt.Errorf("invalid resources %v", s.Resources)
	case !s.PlacementResources.Valid() || (len(s.PlacementResources) > 0 && !s.Resources.FitsIn(s.PlacementResources)):
		return fmt.Errorf("invalid placement resources %v for resources %v", s.PlacementResources, s.Resources)
	case s.Owner == "":
		return fmt.Errorf("no owner")
	case s.MaxRetries < -1:
		return fmt.Errorf("max retries %d, want -1 or more", s.MaxRetries)
	case !ValidBinaryHash(s.Binary):
		return fmt.Errorf("binary %q: want empty or 64 lowercase hex digits", s.Binary)
	case s.Streaming && (s.NumReturns != 1 || s.ActorCreation):
		return fmt.Errorf("a streaming generator has %d returns (want 1) or creates an actor", s.NumReturns)
	case s.Strategy.Labels.Validate() != nil:
		return s.Strategy.Labels.Validate()
	case s.Strategy.Kind > StrategyNodeAffinity || (s.Strategy.Kind == StrategyNodeAffinity && s.Strategy.Node.IsNil()):
		return fmt.Errorf("strategy %d for node %v: want default, spread, or node affinity with a node", s.Strategy.Kind, s.Strategy.Node)
	case len(s.ConcurrencyGroup) > ConcurrencyGroupNameMax:
		return fmt.Errorf("concurrency group name of %d bytes, limit %d", len(s.ConcurrencyGroup), ConcurrencyGroupNameMax)
	}
	if err := ValidateConcurrencyGroups(s.ConcurrencyGroups); err != nil {
		return err
	}
	nested := 0
	for i, a := range s.Args {
		if a.Ref != nil && a.Ref.Owner == "" {
			return fmt.Errorf("arg %d: reference without owner", i)
		}
		if a.Ref != nil && len(a.Nested) > 0 {
			return fmt.Errorf("arg %d: a reference argument lists nested references (they belong to the value it names)", i)
		}
		for _, n := range a.Nested {
			if n.Owner == "" {
				return fmt.Errorf("arg %d: nested reference without owner", i)
			}
		}
		nested += len(a.Nested)
	}
	if nested > NestedRefsMax {
		return fmt.Errorf("%d references nested in arguments, limit %d", nested, NestedRefsMax)
	}
	return nil
}

// ConcurrencyGroup is a named group of an actor's methods whose calls
// run at most Limit at once, apart from the other groups' (Ray's
// concurrency_groups).
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ConcurrencyGroup struct {
	Name  string `msgpack:"n"`
	Limit uint32 `msgpack:"l"`
}

// Bounds of concurrency groups.
const (
	ConcurrencyGroupsMax    = 32
	ConcurrencyGroupNameMax = 64
)

// ValidateConcurrencyGroups checks groups: at most ConcurrencyGroupsMax,
// sorted unique names of 1..ConcurrencyGroupNameMax bytes, limits
// 1..ActorConcurrencyMax.
func ValidateConcurrencyGroups(groups []ConcurrencyGroup) error {
	if len(groups) > ConcurrencyGroupsMax {
		return fmt.Errorf("%d concurrency groups, limit %d", len(groups), ConcurrencyGroupsMax)
	}
	for i, g := range groups {
		switch {
		case g.Name == "" || len(g.Name) > ConcurrencyGroupNameMax:
			return fmt.Errorf("concurrency group name of %d bytes, want 1..%d", len(g.Name), ConcurrencyGroupNameMax)
		case i > 0 && groups[i-1].Name >= g.Name:
			return fmt.Errorf("concurrency groups not sorted by unique name (%q after %q)", g.Name, groups[i-1].Name)
		case g.Limit < 1 || g.Limit > ActorConcurrencyMax:
			return fmt.Errorf("concurrency group %q: limit %d, want 1..%d", g.Name, g.Limit, ActorConcurrencyMax)
		}
	}
	return nil
}

// ValidBinaryHash reports whether h is empty or a hex SHA-256.
func ValidBinaryHash(h string) bool {
	if h == "" {
		return true
	}
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ReturnIDs lists the ids of the task's return objects.
func (s *TaskSpec) ReturnIDs() []core.ObjectID {
	ids := make([]core.ObjectID, s.NumReturns)
	for i := range ids {
		ids[i] = core.ObjectIDForReturn(s.TaskID, uint32(i+1))
	}
	return ids
}

// GeneratorItemIndex is the return index of a streaming generator's item
// i (from 0): its object id is core.ObjectIDForReturn(task, that). Index
// 1 is the generator's own return, which ends the stream.
func GeneratorItemIndex(i uint64) uint32 { return uint32(i) + 2 }

// Describe is a short human description: "fn task:ab12… attempt 2".
func (s *TaskSpec) Describe() string {
	return fmt.Sprintf("%s %s attempt %d", s.Function, s.TaskID, s.Attempt)
}
