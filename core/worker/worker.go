package worker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/lease"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/plasma"
)

// Executor runs task bodies on a worker. Execute must call done exactly
// once, on the process's event loop (typically from the message that
// env.Go delivers). returns has one value per spec.NumReturns. The args
// are the executor's own (decoded for this push, or got with Get): it may
// keep them, and hand them to the body without a copy.
//
// Actors keep their state as bytes owned by the worker: CreateActor runs a
// class's constructor and yields the initial state; CallActor runs a method
// on the current state and yields the next state and the method's returns.
// A method that fails leaves the state unchanged. Keeping the state in the
// core worker (rather than inside the executor) lets the executor stay a
// pure function of its inputs, which simulated workloads rely on to compute
// every expected result.
type Executor interface {
	Execute(spec *proto.TaskSpec, args [][]byte, done func(returns [][]byte, err *proto.TaskError))
	CreateActor(spec *proto.TaskSpec, args [][]byte, done func(state []byte, err *proto.TaskError))
	CallActor(spec *proto.TaskSpec, state []byte, args [][]byte, done func(state []byte, returns [][]byte, err *proto.TaskError))
}

// Config configures a core worker.
type Config struct {
	// Raylet is the local raylet's address.
	Raylet core.Addr
	// Node is the local node's id (learned at registration for workers).
	Node core.NodeID
	// Job is the job this worker submits tasks for.
	Job core.JobID
	// Executor runs pushed tasks; nil for a driver that only submits.
	Executor Executor
	// InlineLimit: return values up to this size travel inline to the
	// owner; larger ones go to plasma. Default proto.InlineSizeMax.
	InlineLimit int
	// OwnerTimeout bounds waiting for another process's object status
	// before reporting its owner dead. Default 30s.
	OwnerTimeout time.Duration
	// WorkerID is this worker process's id, as registered with its raylet;
	// pushed tasks leased for another id are refused.
	WorkerID core.WorkerID
	// GCS is the process's GCS client, needed to create, call and kill
	// actors (nil: actors are unavailable). The host forwards the GCS's
	// messages to it.
	GCS *gcs.Client
	// Binary is the hash of the staged job binary this process runs (a
	// joined driver's, or a launched worker's): its tasks and actors run
	// on workers of that binary. Empty in embedded clusters and the
	// simulator, where every worker runs the same program.
	Binary string
	// TaskEventsMax bounds the buffer of task events not yet sent to the
	// GCS (events.go); default DefaultTaskEventsMax, negative records
	// none. TaskEventsFlush is how long events wait before they are sent;
	// default DefaultTaskEventsFlush.
	TaskEventsMax   int
	TaskEventsFlush time.Duration
	// ObjectChunkBytes is the largest object put into or read from the
	// local raylet in one message; larger ones go in chunks of this size
	// (proto.PutObject, proto.GetObject). Default proto.ObjectChunkDefault;
	// the simulator makes it small so that its objects go in chunks.
	ObjectChunkBytes int
	// SharedMin is the smallest object put through the host's shared
	// memory (core.SharedMemory) where the environment has it: written
	// straight into the local raylet's store (proto.CreateShared) rather
	// than sent in messages. Default plasma.DefaultSharedMin; negative
	// turns shared memory off for this worker (puts and gets).
	SharedMin int
}

// Stats counts what a core worker did, for tests and the dashboard.
type Stats struct {
	Submitted, Finished, Failed, Retried, Reconstructed, Spillbacks, Executed int64
	// Blocked counts waits of task bodies that lent their lease's CPUs
	// out (WhileBlocked).
	Blocked int64
	// BorrowersAdded counts borrowers this worker registered as an owner.
	BorrowersAdded int64
	// BorrowsSent counts AddBorrower calls this worker sent as a
	// borrower of references it received inside values.
	BorrowsSent int64
	// BorrowsEndedEarly counts borrows of objects this worker owns that
	// a RefsRemoved ended before the rest of their wait (the borrower
	// let go of some of them); RefsRemovedSent counts RefsRemoved this
	// worker sent as a borrower.
	BorrowsEndedEarly, RefsRemovedSent int64
	// ReturnPins counts return values of tasks run here whose references
	// this worker pinned (PinReturn).
	ReturnPins int64
	// StreamItems counts items of owned streams received (each once),
	// StreamItemsDuplicate copies of them reported again (a retry);
	// StreamItemsReported items this worker's bodies yielded and their
	// owners took; StreamBackpressured reports sent again because the
	// consumer lagged; StreamsClosedEarly streams closed before their
	// task ended; StreamsIncomplete streams whose task reported more
	// items than arrived (a bug: they end with ObjectLost).
	StreamItems, StreamItemsReported, StreamBackpressured       int64
	StreamsClosedEarly, StreamsIncomplete, StreamItemsDuplicate int64
	// Cancelled counts tasks cancelled by Cancel.
	Cancelled int64
	// Actors: actors this worker created, restarts of them it observed,
	// actor calls resent to a new incarnation, calls this worker executed
	// as an actor.
	ActorsCreated, ActorRestarts, ActorCallsRetried, ActorCallsExecuted int64
	// ActorsOutOfScope counts owned actors killed because all their
	// handles went out of scope.
	ActorsOutOfScope int64
	// BorrowersDropped counts borrowing processes the owner stopped
	// counting because they were known dead (their node, or their raylet
	// said so).
	BorrowersDropped int64
	// ChunkedPuts and ChunkedGets count objects put into or read from
	// the local raylet in chunks (larger than ObjectChunkBytes).
	ChunkedPuts, ChunkedGets int64
	// ChunkedPutRounds counts chunked puts sent again because no chunk
	// sealed the object (the raylet restarted between chunks).
	ChunkedPutRounds int64
	// SharedPuts and SharedGets count objects put into or read from the
	// local raylet's store through shared memory; SharedFallbacks the
	// puts and gets that could not open the store's segment (another
	// host, a segment gone, a refusal) and moved the bytes in messages.
	SharedPuts, SharedGets, SharedFallbacks int64
	// OwnerDied counts Gets of borrowed objects that failed because their
	// owner died.
	OwnerDied int64
	// Nested counts tasks submitted from inside a running task.
	Nested int64
	// InfeasibleWaits counts reports that a task of ours waits because
	// no node can run it now (LeaseInfeasible).
	InfeasibleWaits int64
	// LeasesReused counts tasks pushed on a lease another task of their
	// class ran on (reuse.go), without a lease request of their own.
	LeasesReused int64
	// LeaseQueued counts tasks that waited for a lease here because
	// leaseRequestsMax requests of their class were out.
	LeaseQueued int64
	// TasksPipelined counts tasks pushed on a lease behind another task
	// still in flight there (fillLease).
	TasksPipelined int64
	// StartedBesideBlocked counts pushed tasks this worker started on a
	// lease whose running task waited in Get or Wait (execute.go).
	StartedBesideBlocked int64
}

// Worker is the core worker: the part of every driver and worker process
// that submits tasks, owns their results, resolves objects and executes
// pushed tasks. It is sans-IO; the host process forwards messages to
// Handle and node-death news to NodeDied.
type Worker struct {
	env core.Env
	cfg Config
	// shm is the host's shared memory (nil without), and noShm the
	// raylets whose segments this process cannot open (another host).
	shm   core.SharedMemory
	noShm map[core.Addr]bool
	// groups is what this owner knows of the placement groups its tasks
	// are scheduled into (bundles.go).
	groups map[core.PlacementGroupID]*groupView
	// deadNodes are the nodes declared dead so far (bounded): a lease a
	// dead node grants late is refused.
	deadNodes map[core.NodeID]bool
	// borrowerSt are the processes borrowing owned objects (see
	// borrowers.go); borrowerGen numbers their generations.
	borrowerSt         map[core.Addr]*borrowerState
	borrowerGen        uint64
	borrowerCheckArmed bool
	// borrowWaits are the WaitRefRemoved calls outstanding to borrowers,
	// by number (borrowWaitSeq numbers them); removalsDue are the owners'
	// waits with objects to name in a RefsRemoved (removalsArmed: soon).
	borrowWaits   map[uint64]*borrowWait
	borrowWaitSeq uint64
	removalsDue   []*removalWait
	removalsArmed bool
	// runCheckArmed: the checkRunning timer is pending.
	runCheckArmed bool
	self          core.Addr
	cli           *rpc.Client
	// blockSeq numbers this worker's LeaseBlocked reports.
	blockSeq uint64
	srv      *rpc.Server
	refs     *refTable

	// parent is the pseudo-task top-level submissions, puts and actors
	// derive their ids from: the driver's task for a driver, one unique
	// to this incarnation for a worker (core.WorkerTaskID).
	parent      core.TaskID
	taskCounter uint64
	putCounter  uint32
	leases      *lease.Client

	tasks map[core.TaskID]*pendingTask
	stats Stats

	// Cancellation (cancel.go): cancelled tasks of ours whose push is
	// still out, by lease id; normal tasks this worker executes; cancels
	// that arrived before their push.
	interrupted map[leaseTask]*pendingTask
	// leaseTasks counts, per lease id, the tasks holding that lease or
	// request (heldLease), for the raylets' lease checks.
	leaseTasks map[uint64]int
	running    map[core.TaskID]*runningTask
	// leaseLines are the leases this worker runs normal tasks on, with
	// the tasks pushed on each waiting their turn (execute.go).
	leaseLines    map[leaseLineKey]*leaseLine
	cancelledRuns map[runKey]bool
	// returnPins are the references held by return values of tasks run
	// here, kept until their owners free them (PinReturn), by sequence.
	returnPins map[uint64][]proto.ObjectRef
	pinSeq     uint64

	// Actors: those this worker owns, its view of every actor it calls,
	// and the actor it hosts (nil unless a creation task ran here).
	actorCounter uint64
	callerID     uint64
	// incarnation names this core worker among the processes that ever
	// ran at its address; references it owns carry it.
	incarnation uint64
	owned       map[core.ActorID]*ownedActor
	views       map[core.ActorID]*actorView
	actor       *actorInstance

	// Task events not yet sent to the GCS (events.go).
	events  eventBuffer
	evStats EventStats
	// lastStamp is the latest task-event time stamped: stamps never go
	// back when the wall clock is stepped back (NTP), so an attempt never
	// ends before it started.
	lastStamp int64

	// blocked are the objects user code waits for in Get or Wait
	// (describe.go), for DescribeWaits.
	blocked map[core.ObjectID]*blockedObj

	// generators are the streams of streaming tasks this worker owns;
	// producers the streaming task attempts it runs (generator.go).
	generators map[core.TaskID]*genState
	producers  map[runKey]*producer

	// Lease reuse (reuse.go): idle leases kept by id and by class, and the
	// tasks of each class waiting for a lease, oldest first.
	kept    map[uint64]*liveLease
	live    map[uint64]*liveLease
	idle    map[string][]*liveLease
	waiting map[string][]*pendingTask
	// requesting counts the lease requests in flight per class, and
	// queued holds the tasks of each class waiting without one.
	requesting map[string]int
	queued     map[string][]*pendingTask

	// exited is set by FreeOwned: the process's program is done, and a
	// borrower asking for an object this worker no longer has is told
	// that its owner died rather than that it was freed.
	exited bool
}

// pendingTask is a task this worker owns that has not finished.
type pendingTask struct {
	// indexed is the lease id w.leaseTasks counts t under (0: none).
	indexed uint64
	spec    proto.TaskSpec
	retries int32       // left; -1 = forever
	leaseID uint64      // of the lease, or of the last lease request (see leaseAt)
	raylet  core.Addr   // the raylet holding the lease, or of the last request
	node    core.NodeID // node of the leased worker, once granted
	worker  core.Addr   // the leased worker, once granted
	parent  core.TaskID // the task whose body submitted it (SubmitNested)
	// req is the lease request in flight (phase leasing; nil during the
	// pause after a refusal); leaseGen counts requests, so that a pause's
	// timer knows whether the task moved on.
	req      *lease.Request
	leaseGen uint64
	pushCall rpc.CallID
	phase    taskPhase
	waitArgs int
	// since is when the task entered its phase (this process's clock),
	// for DescribeWaits.
	since time.Time
	// statusAsked: a LeaseStatus for the running attempt is in flight.
	statusAsked bool
	// infeasible is why no node can run the task now, as its raylet
	// reported (LeaseInfeasible), since infeasibleSince; "" otherwise.
	infeasible lease.Infeasible
	// class is the task's scheduling class for lease reuse ("" for none,
	// see leaseClass); granted is when the lease it runs on was first
	// granted (to it or to a task that ran on it before); queued: it
	// waits for a lease without a request of its own (phase leasing,
	// leaseRequestsMax requests of its class are out).
	class   string
	granted time.Time
	queued  bool
	// holder is req's: whom the request serves (see transferRequest).
	holder *reqHolder
}

// reqHolder names the task a lease request serves.
type reqHolder struct{ t *pendingTask }

type taskPhase uint8

const (
	phaseResolving taskPhase = iota // waiting for owned arguments
	phaseLeasing                    // lease requested
	phaseRunning                    // pushed to a worker
)

// New returns a core worker for the process of env.
func New(env core.Env, cfg Config) *Worker {
	if cfg.InlineLimit <= 0 {
		cfg.InlineLimit = proto.InlineSizeMax
	}
	if cfg.ObjectChunkBytes <= 0 {
		cfg.ObjectChunkBytes = proto.ObjectChunkDefault
	}
	if cfg.SharedMin == 0 {
		cfg.SharedMin = plasma.DefaultSharedMin
	}
	if cfg.OwnerTimeout <= 0 {
		cfg.OwnerTimeout = 30 * time.Second
	}
	if cfg.TaskEventsMax == 0 {
		cfg.TaskEventsMax = DefaultTaskEventsMax
	}
	if cfg.TaskEventsFlush <= 0 {
		cfg.TaskEventsFlush = DefaultTaskEventsFlush
	}
	w := &Worker{
		env: env, cfg: cfg, self: env.Self(),
		cli: rpc.NewClient(env), srv: rpc.NewServer(env), refs: newRefTable(), deadNodes: map[core.NodeID]bool{},
		parent: core.DriverTaskID(cfg.Job),
		tasks:  map[core.TaskID]*pendingTask{},
		owned:  map[core.ActorID]*ownedActor{},
		views:  map[core.ActorID]*actorView{},

		blocked: map[core.ObjectID]*blockedObj{},

		interrupted:   map[leaseTask]*pendingTask{},
		leaseTasks:    map[uint64]int{},
		running:       map[core.TaskID]*runningTask{},
		leaseLines:    map[leaseLineKey]*leaseLine{},
		cancelledRuns: map[runKey]bool{},
		returnPins:    map[uint64][]proto.ObjectRef{},
		generators:    map[core.TaskID]*genState{},
		producers:     map[runKey]*producer{},
		kept:          map[uint64]*liveLease{},
		live:          map[uint64]*liveLease{},
		requesting:    map[string]int{},
		queued:        map[string][]*pendingTask{},
		idle:          map[string][]*liveLease{},
		waiting:       map[string][]*pendingTask{},
		noShm:         map[core.Addr]bool{},
		groups:        map[core.PlacementGroupID]*groupView{},
	}
	if cfg.SharedMin > 0 {
		w.shm = core.ShmOf(env)
	}
	w.srv.Register((&proto.PushTask{}).MsgType(), w.handlePushTask)
	w.srv.Register((&proto.GetObjectStatus{}).MsgType(), w.handleObjectStatus)
	w.srv.Register((&proto.ActorPing{}).MsgType(), w.handleActorPing)
	w.srv.Register((&proto.LeaseCheck{}).MsgType(), w.handleLeaseCheck)
	w.srv.Register((&proto.OwnerCheck{}).MsgType(), w.handleOwnerCheck)
	w.srv.Register((&proto.WaitRefRemoved{}).MsgType(), w.handleWaitRefRemoved)
	w.srv.Register((&proto.CancelTask{}).MsgType(), w.handleCancelTask)
	w.srv.Register((&proto.OwnsObjects{}).MsgType(), w.handleOwnsObjects)
	w.srv.Register((&proto.AddBorrower{}).MsgType(), w.handleAddBorrower)
	w.srv.Register((&proto.WaitObjectFreed{}).MsgType(), w.handleWaitObjectFreed)
	w.srv.Register((&proto.ReportItem{}).MsgType(), w.handleReportItem)
	w.srv.Register((&proto.LeaseInfeasible{}).MsgType(), w.handleLeaseInfeasible)
	w.srv.Register((&proto.GroupInfeasible{}).MsgType(), w.handleGroupInfeasible)
	w.leases = lease.NewClient(env, w.cli)
	w.incarnation = env.Rand().Uint64() | 1
	if cfg.Job.IsNil() {
		// A worker: ids derived from its pseudo-task must differ from
		// every other worker's and from its own earlier incarnations'.
		w.parent = core.WorkerTaskID(cfg.Job, w.incarnation)
	}
	return w
}

// Handle consumes the messages meant for the core worker and reports
// whether m was one.
func (w *Worker) Handle(from core.Addr, m core.Message) bool {
	switch m := m.(type) {
	case *proto.LeaseFailed:
		w.onLeaseFailed(m)
		return true
	case *proto.KillActor:
		w.onKillActor(m)
		return true
	case *proto.ActorReplyAck:
		w.onReplyAck(m)
		return true
	case *proto.RefsRemoved:
		w.onRefsRemoved(from, m)
		return true
	case *proto.NodeDead:
		// Only this worker's own raylet speaks for its node.
		if from == w.cfg.Raylet && (w.cfg.Node.IsNil() || m.Node == w.cfg.Node) {
			panic(core.FailStop{Reason: fmt.Sprintf("node %v was declared dead; its workers exit with it", m.Node)})
		}
		return true
	}
	return w.cli.Handle(from, m) || w.srv.Handle(from, m)
}

// Stats returns what the worker did so far.
func (w *Worker) Stats() Stats { return w.stats }

// SetNode records the local node id (workers learn it at registration).
func (w *Worker) SetNode(n core.NodeID) { w.cfg.Node = n }

// DefaultTaskResources is what a task demands when its options name no
// resources: one CPU, as in Ray. Pass an empty non-nil set for none.
var DefaultTaskResources = core.MustResources(core.CPU, 1)

// TaskOptions are the per-task options of SubmitTask.
type TaskOptions struct {
	NumReturns int
	// Resources demanded while the task runs; nil means
	// DefaultTaskResources.
	Resources       core.Resources
	Strategy        proto.Strategy
	MaxRetries      int32 // default 3 when zero; -1 retries forever; use NoRetries for none
	RetryExceptions bool
	// InfeasibleWait bounds how long the task waits for a node that can
	// run it when none can (0: as long as it takes; negative: fail at
	// once); see proto.TaskSpec.InfeasibleWait.
	InfeasibleWait time.Duration
	// Streaming makes a streaming generator task (NumReturns must be 0
	// or 1): its one return ends the stream, whose items StreamTake
	// gives; Backpressure bounds the items yielded and not yet taken
	// (0: unbounded).
	Streaming    bool
	Backpressure int
}

// NoRetries as TaskOptions.MaxRetries disables retries.
const NoRetries int32 = -2

// leaseTimeout bounds one lease request; a request unanswered for that
// long is cancelled and made again.
const leaseTimeout = 2 * time.Minute

// DefaultMaxRetries is Ray's default for tasks.
const DefaultMaxRetries = 3

// SubmitTask submits fn(args) and returns references to its returns,
// owned by this worker; each carries one local reference that the caller
// gives back with Release.
func (w *Worker) SubmitTask(fn string, args []proto.Arg, opts TaskOptions) ([]proto.ObjectRef, error) {
	w.taskCounter++
	return w.submit(w.cfg.Job, core.NewTaskID(w.cfg.Job, w.parent, w.taskCounter), core.TaskID{}, fn, args, opts)
}

// SubmitNested submits fn(args) from inside the running task parent (a
// task body that submits tasks, as Ray allows): this worker owns the
// child's returns. Child ids derive from the parent's id and attempt, so a
// retried parent on another worker creates children with fresh ids. A
// parent cancelled recursively submits nothing more: the error is a
// *proto.TaskError of kind Cancelled.
func (w *Worker) SubmitNested(parent *proto.TaskSpec, fn string, args []proto.Arg, opts TaskOptions) ([]proto.ObjectRef, error) {
	if r := w.running[parent.TaskID]; r != nil && r.recursive {
		return nil, proto.NewError(proto.KindCancelled, parent.Describe(), "submitting %s: the task was cancelled", fn)
	}
	w.taskCounter++
	w.stats.Nested++
	base := core.NewTaskID(parent.Job, parent.TaskID, uint64(parent.Attempt))
	return w.submitBinary(parent.Job, core.NewTaskID(parent.Job, base, w.taskCounter), parent.TaskID, fn, args, opts, parent.Binary)
}

func (w *Worker) submit(job core.JobID, id, parent core.TaskID, fn string, args []proto.Arg, opts TaskOptions) ([]proto.ObjectRef, error) {
	return w.submitBinary(job, id, parent, fn, args, opts, w.cfg.Binary)
}

// submitBinary submits a task whose workers must run binary: the
// submitter's own for a top-level task, the parent's for a nested one (a
// node's own worker may run a task of a job whose program it shares).
func (w *Worker) submitBinary(job core.JobID, id, parent core.TaskID, fn string, args []proto.Arg, opts TaskOptions, binary string) ([]proto.ObjectRef, error) {
	if opts.NumReturns == 0 {
		opts.NumReturns = 1
	}
	retries := opts.MaxRetries
	switch retries {
	case 0:
		retries = DefaultMaxRetries
	case NoRetries:
		retries = 0
	}
	if opts.Resources == nil {
		opts.Resources = DefaultTaskResources
	}
	spec := proto.TaskSpec{
		TaskID:          id,
		Job:             job,
		Function:        fn,
		Args:            args,
		NumReturns:      uint32(opts.NumReturns),
		Resources:       opts.Resources,
		Strategy:        opts.Strategy,
		MaxRetries:      retries,
		RetryExceptions: opts.RetryExceptions,
		Streaming:       opts.Streaming,
		InfeasibleWait:  int64(opts.InfeasibleWait),
		Backpressure:    uint32(max(opts.Backpressure, 0)),
		Owner:           w.self,
		OwnerID:         w.incarnation,
		OwnerNode:       w.ownerNode(),
		Binary:          binary,
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("worker: submit %s: %w", fn, err)
	}
	if len(w.refs.objs)+int(spec.NumReturns)+w.missingRefs(argRefs(args)) > w.refs.max {
		return nil, errTooManyObjects
	}
	refs := make([]proto.ObjectRef, 0, spec.NumReturns)
	for _, id := range spec.ReturnIDs() {
		e, err := w.refs.addOwned(id, &spec)
		if err != nil {
			panic(fmt.Sprintf("worker: add return %v after checking for room: %v", id, err))
		}
		e.local++
		refs = append(refs, proto.ObjectRef{ID: id, Owner: w.self, OwnerID: w.incarnation})
	}
	for r := range argRefs(args) {
		e := w.refs.get(r.ID)
		if e == nil {
			var err error
			if e, err = w.refs.addBorrowed(r.ID, r.Owner); err != nil {
				panic(fmt.Sprintf("worker: borrow %v for a submission after checking for room: %v", r.ID, err))
			}
		}
		e.submitted++
		if e.owner == "" {
			// Lineage pinning: while a return may need rebuilding, the
			// owned arguments it was computed from stay rebuildable too.
			e.lineageRefs += int(spec.NumReturns)
		}
	}
	w.stats.Submitted++
	t := &pendingTask{spec: spec, retries: retries, parent: parent, class: leaseClass(&spec)}
	w.tasks[spec.TaskID] = t
	w.newStream(&spec)
	w.resolve(t)
	return refs, nil
}

// resolve waits for owned arguments to exist, then requests a lease. An
// owned argument that failed fails the task with the same error, as Ray
// propagates errors through dependencies.
func (w *Worker) resolve(t *pendingTask) {
	if t.phase != phaseResolving || t.waitArgs == 0 {
		w.record(t, gcs.TaskPendingArgs, nil)
	}
	t.phase = phaseResolving
	w.indexLease(t)
	t.since = w.env.Now()
	t.waitArgs = 0
	for i, a := range t.spec.Args {
		if a.Ref == nil || a.Ref.Owner != w.self {
			continue
		}
		e := w.refs.get(a.Ref.ID)
		switch {
		case e == nil:
			w.failTask(t, proto.NewError(proto.KindObjectLost, t.spec.Describe(), "argument %v was released before the task ran", a.Ref.ID))
			return
		case e.state == objFailed:
			w.failTask(t, e.err.Through(t.spec.Describe(), i+1))
			return
		case e.state == objPending:
			t.waitArgs++
			e.waiters = append(e.waiters, func() {
				t.waitArgs--
				if t.waitArgs == 0 && w.tasks[t.spec.TaskID] == t && t.phase == phaseResolving {
					w.resolve(t)
				}
			})
		}
	}
	if t.waitArgs == 0 {
		w.requestLease(t, w.cfg.Raylet)
	}
}

// requestLease asks raylet for a lease for t through the lease client,
// which follows spillbacks, gives back what it does not use and makes a
// timed-out request again (a raylet queues requests for as long as it
// takes).
func (w *Worker) requestLease(t *pendingTask, raylet core.Addr) {
	if t.phase != phaseLeasing {
		w.record(t, gcs.TaskPendingNode, nil)
	}
	t.phase = phaseLeasing
	t.since = w.env.Now()
	t.leaseGen++
	if w.takeIdle(t) {
		return
	}
	if t.spec.Strategy.Bundle != nil {
		// Into a placement group's bundle: to the raylet that holds it,
		// once the owner knows which (bundles.go).
		to, ok := w.bundleRaylet(t)
		if !ok {
			return
		}
		raylet = to
	}
	if len(w.kept) > 0 {
		w.returnKept(t.class)
	}
	if t.class != "" && w.requesting[t.class] >= leaseRequestsMax {
		// Enough requests of its class are out: it waits here for one
		// of their leases, or for a slot to request one.
		t.queued = true
		w.stats.LeaseQueued++
		t.raylet, t.leaseID = "", 0
		w.indexLease(t)
		w.addQueued(t)
		return
	}
	t.queued = false
	w.indexLease(t)
	// The request serves the task of h, which changes when the request
	// passes to a task queued behind (transferRequest).
	h := &reqHolder{t: t}
	opts := lease.Options{
		Timeout:       leaseTimeout,
		RetryTimedOut: true,
		// Granted by a node already declared dead (it had not heard yet):
		// its worker may never answer, and the death was already handled.
		NodeDead: func(n core.NodeID) bool { return w.deadNodes[n] },
		// Each attempt has a lease id of its own: the lease index follows.
		OnAttempt: func() { w.indexLease(h.t) },
		OnSpillback: func(core.Addr) {
			w.stats.Spillbacks++
			h.t.since = w.env.Now()
		},
	}
	var req *lease.Request
	req = w.leases.Request(t.spec, raylet, opts, func(l lease.Lease, err error) {
		t := h.t
		spec := t.spec
		if w.tasks[spec.TaskID] != t || t.req != req {
			// Stale: the task moved on (retried, redirected, done, or
			// runs on another task's lease). A lease granted anyway
			// runs a task of its class that waits, or goes back, or
			// its worker and resources leak.
			if err == nil {
				if w.handOff(t.class, l, w.env.Now(), false) {
					w.fillLease(w.live[l.ID])
				} else {
					w.leases.Return(l.Raylet, l.ID, false)
				}
			}
			return
		}
		defer w.fillRequests(t.class)
		w.endRequest(t)
		t.raylet, t.leaseID = req.Raylet(), req.ID()
		t.infeasible.Clear()
		w.indexLease(t)
		switch {
		case err == nil:
			t.granted = w.env.Now()
			w.push(t, l)
			w.fillLease(w.live[t.leaseID])
		case errors.Is(err, lease.ErrInfeasible):
			w.failTask(t, proto.NewError(proto.KindInfeasible, spec.Describe(), "%v", err))
		case rpc.CodeOf(err) == rpc.CodeUnavailable, errors.Is(err, lease.ErrDropped), errors.Is(err, lease.ErrDeadNode), errors.Is(err, lease.ErrNoBundle):
			if b := spec.Strategy.Bundle; b != nil {
				// The bundle moved (or its node died): ask the GCS again.
				w.forgetGroup(b.Group)
			}
			// The raylet cannot take it (its node was declared dead and
			// it is exiting, or its queue is full), dropped it, or
			// granted or spilled it on a node we know is dead (it has not
			// heard yet, and may spill there again until it does). The
			// task never ran: ask the local raylet — a new node once it
			// restarts — again after a pause, without spending a retry.
			gen := t.leaseGen
			pause := time.Duration(100+w.env.Rand().IntN(900)) * time.Millisecond
			w.env.AfterFunc(pause, func() {
				if w.tasks[spec.TaskID] == t && t.phase == phaseLeasing && t.leaseGen == gen {
					w.requestLease(t, w.cfg.Raylet)
				}
			})
		default:
			w.failTask(t, proto.NewError(proto.KindTaskFailed, spec.Describe(), "lease request failed: %v", err))
		}
	})
	t.req, t.holder = req, h
	if t.class != "" {
		w.requesting[t.class]++
	}
	w.indexLease(t)
	w.addWaiter(t)
}

// leaseRaylet returns the raylet of t's lease request while one is in
// flight (spillbacks move it), else of its last request or lease.
func leaseRaylet(t *pendingTask) core.Addr {
	if t.req != nil {
		return t.req.Raylet()
	}
	return t.raylet
}

// leaseID returns the lease id of t's lease request while one is in
// flight (each attempt has its own), else of its last request or lease.
// heldLease is the lease a task counts as holding for lease checks: its
// lease (or request) once its arguments are resolved; 0 for none.
func heldLease(t *pendingTask) uint64 {
	if t.phase == phaseResolving {
		return 0
	}
	return leaseID(t)
}

// indexLease brings w.leaseTasks up to date with t's held lease; call it
// after every change of t's phase, request or lease.
func (w *Worker) indexLease(t *pendingTask) {
	want := heldLease(t)
	if t.indexed == want {
		return
	}
	w.unindexLease(t)
	if want != 0 {
		w.leaseTasks[want]++
		t.indexed = want
	}
}

// unindexLease takes t out of w.leaseTasks (it left the task table).
func (w *Worker) unindexLease(t *pendingTask) {
	if t.indexed == 0 {
		return
	}
	if w.leaseTasks[t.indexed]--; w.leaseTasks[t.indexed] <= 0 {
		delete(w.leaseTasks, t.indexed)
	}
	t.indexed = 0
}

func leaseID(t *pendingTask) uint64 {
	if t.req != nil {
		return t.req.ID()
	}
	return t.leaseID
}

func (w *Worker) push(t *pendingTask, l lease.Lease) {
	if !w.runCheckArmed {
		w.runCheckArmed = true
		w.env.AfterFunc(runningCheckPeriod, w.checkRunning)
	}
	t.phase = phaseRunning
	w.indexLease(t)
	t.since = w.env.Now()
	t.node = l.Node
	t.worker = l.Worker
	w.record(t, gcs.TaskRunning, nil)
	spec := t.spec
	leaseID := t.leaseID
	raylet := t.raylet
	ll := w.live[leaseID]
	if ll == nil {
		ll = &liveLease{l: lease.Lease{ID: leaseID, Raylet: raylet, Node: l.Node, Worker: l.Worker, WorkerID: l.WorkerID}, class: t.class, granted: t.granted}
		if b := spec.Strategy.Bundle; b != nil {
			ll.group = b.Group
		}
		w.live[leaseID] = ll
	}
	ll.inflight++
	pushed := w.env.Now()
	t.pushCall = w.cli.Call(l.Worker, &proto.PushTask{Spec: spec, LeaseID: leaseID, Node: l.Node, Worker: l.WorkerID}, rpc.Options{Timeout: -1},
		func(m core.Message, err error) {
			stale := w.tasks[spec.TaskID] != t || t.leaseID != leaseID
			r, _ := m.(*proto.PushTaskReply)
			// Before t's results are in: tasks waiting longer come
			// before those its results let run.
			w.pushEnded(ll, !stale && err == nil && w.reusable(t, r), err != nil, w.env.Now().Sub(pushed))
			if stale {
				w.endInterrupted(leaseID, t, r, l.Worker)
			}
			if stale || errors.Is(err, rpc.ErrCancelled) {
				// Cancelled by LeaseFailed or NodeDied, which retry the
				// task themselves (once).
				return
			}
			if err != nil {
				w.retryOrFail(t, proto.NewError(proto.KindWorkerDied, spec.Describe(), "%v", err))
				return
			}
			w.addBorrowers(r.Borrowed, l.Worker, borrowerAt{node: l.Node, raylet: l.Raylet})
			if r.Error != nil {
				w.retryOrFail(t, r.Error)
				return
			}
			w.finishTask(t, r)
		})
}

// retryOrFail retries a failed attempt when the failure and the retry
// budget allow it, otherwise fails every return of the task.
func (w *Worker) retryOrFail(t *pendingTask, err *proto.TaskError) {
	if err.Retriable(t.spec.RetryExceptions) && t.retries != 0 {
		if t.retries > 0 {
			t.retries--
		}
		w.record(t, gcs.TaskFailed, err)
		t.spec.Attempt++
		w.stats.Retried++
		w.resolve(t)
		return
	}
	w.failTask(t, err)
}

func (w *Worker) finishTask(t *pendingTask, r *proto.PushTaskReply) {
	delete(w.tasks, t.spec.TaskID)
	w.unindexLease(t)
	w.stats.Finished++
	w.record(t, gcs.TaskFinished, nil)
	for _, ret := range r.Returns {
		e := w.refs.get(ret.ID)
		if e == nil {
			// Released while running: free the plasma copy right away.
			if ret.InPlasma {
				w.freeCopies(ret.ID, []proto.Location{ret.Location})
			}
			continue
		}
		if ret.InPlasma {
			loc := ret.Location
			w.refs.setReady(e, nil, ret.Size, &loc)
		} else {
			w.refs.setReady(e, nonNil(ret.Inline), 0, nil)
		}
	}
	w.streamEnded(&t.spec, r, nil)
	w.releaseArgs(&t.spec)
}

func (w *Worker) failTask(t *pendingTask, err *proto.TaskError) {
	delete(w.tasks, t.spec.TaskID)
	w.unindexLease(t)
	w.stats.Failed++
	w.record(t, gcs.TaskFailed, err)
	for _, id := range t.spec.ReturnIDs() {
		if e := w.refs.get(id); e != nil {
			w.refs.fail(e, err)
		}
	}
	w.streamEnded(&t.spec, nil, err)
	w.releaseArgs(&t.spec)
}

func (w *Worker) releaseArgs(spec *proto.TaskSpec) {
	for r := range argRefs(spec.Args) {
		if e := w.refs.get(r.ID); e != nil {
			w.unsubmit(e, spec)
		}
	}
}

// unsubmit drops the reference a pending task or actor call (spec), or
// an owned actor's constructor (spec nil), held on its argument e. The
// count cannot already be zero: the submission counted the argument, and
// a counted entry stays in scope — unless FreeOwned dropped the table
// meanwhile and e is a newer entry.
func (w *Worker) unsubmit(e *objEntry, spec *proto.TaskSpec) {
	if e.submitted <= 0 {
		if w.exited {
			return
		}
		holder := "an owned actor's constructor"
		if spec != nil {
			holder = spec.Describe()
		}
		panic(fmt.Sprintf("worker: %s releases its argument %v, which counts no submitted references", holder, e.id))
	}
	e.submitted--
	w.maybeFree(e)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// onLeaseFailed handles a raylet's news that the worker leased for one of
// our tasks died.
func (w *Worker) onLeaseFailed(m *proto.LeaseFailed) {
	for _, id := range w.sortedTaskIDs() {
		t := w.tasks[id]
		if t.leaseID == m.LeaseID && t.phase == phaseRunning {
			// Every task pushed on the lease (pipelined ones too).
			w.cli.Cancel(t.pushCall)
			w.retryOrFail(t, proto.NewError(proto.KindWorkerDied, t.spec.Describe(), "%s", m.Reason))
		}
	}
	w.abandonInterrupted(m.LeaseID, core.NodeID{})
	w.dropKeptOn(m.LeaseID, core.NodeID{})
}

// Raylet returns the address of the raylet this worker leases through
// and stores its objects in.
func (w *Worker) Raylet() core.Addr { return w.cfg.Raylet }

// SetRaylet moves a driver to another raylet after its own node died:
// later leases, Puts and fetches go there. Workers never move (they
// fate-share with their node).
func (w *Worker) SetRaylet(addr core.Addr) { w.cfg.Raylet = addr }

// runningCheckPeriod is how often the owner asks the raylets of its
// running tasks whether their leases still stand.
const runningCheckPeriod = 3 * time.Second

// checkRunning asks the raylet of every running task whether it still
// grants the task's lease. A raylet frees a lease when its worker died
// (it reports that with a one-way LeaseFailed, which may be lost, and a
// worker that exited for good never answers the push): not granted any
// more means the worker died, and the task is retried.
func (w *Worker) checkRunning() {
	w.runCheckArmed = false
	any := false
	for _, id := range w.sortedTaskIDs() {
		t := w.tasks[id]
		if t.phase != phaseRunning {
			continue
		}
		any = true
		if t.statusAsked {
			continue
		}
		t.statusAsked = true
		leaseID, raylet := t.leaseID, t.raylet
		w.cli.Call(raylet, &proto.LeaseStatus{LeaseID: leaseID}, rpc.Options{Timeout: runningCheckPeriod}, func(m core.Message, err error) {
			t.statusAsked = false
			if err != nil || w.tasks[t.spec.TaskID] != t || t.leaseID != leaseID || t.phase != phaseRunning || m.(*proto.LeaseStatusReply).Granted {
				return
			}
			w.cli.Cancel(t.pushCall)
			w.retryOrFail(t, proto.NewError(proto.KindWorkerDied, t.spec.Describe(), "the worker's raylet %s no longer grants its lease: the worker died", raylet))
		})
	}
	if any {
		w.runCheckArmed = true
		w.env.AfterFunc(runningCheckPeriod, w.checkRunning)
	}
}

// deadNodesMax bounds the remembered dead nodes.
const deadNodesMax = 10_000

// NodeDied tells the worker that the GCS declared node dead (raylet is its
// address): tasks leased there are retried, lease requests waiting there
// are sent to the local raylet again, and owned objects whose only copies
// were there are rebuilt from lineage or failed.
func (w *Worker) NodeDied(node core.NodeID, raylet core.Addr) {
	if w.deadNodes[node] {
		return // already handled (pubsub and resyncs repeat records)
	}
	if len(w.deadNodes) >= deadNodesMax {
		clear(w.deadNodes) // forgetting only risks a hang on a grant from a long-dead node
	}
	w.deadNodes[node] = true
	w.dropKeptOn(0, node)
	w.borrowersOnNode(node)
	w.forgetGroupsOn(node)
	for _, id := range w.sortedTaskIDs() {
		t := w.tasks[id]
		switch {
		case t.phase == phaseRunning && t.node == node:
			w.cli.Cancel(t.pushCall)
			w.retryOrFail(t, proto.NewError(proto.KindNodeDied, t.spec.Describe(), "node %v died while running the task", node))
		case t.phase == phaseLeasing && leaseRaylet(t) == raylet:
			// Ask the local raylet again: after a spillback to a dead
			// node, or, when the local node itself died, its restarted
			// raylet (a new node at the same address). The old request
			// may have reached a new incarnation at that address: Cancel
			// gives it back there (a request that ended is back already).
			if t.req != nil {
				t.req.Cancel()
				w.endRequest(t)
				w.indexLease(t)
			}
			w.requestLease(t, w.cfg.Raylet)
		}
	}
	w.abandonInterrupted(0, node)
	for _, e := range w.refs.onNodeDeath(node) {
		w.reconstruct(e)
	}
}

// reconstruct re-runs the task that created a lost object, as Ray's
// lineage reconstruction does, while the owner has the lineage and
// retries remain; otherwise the object fails with ObjectLost.
func (w *Worker) reconstruct(e *objEntry) {
	if e.lineage == nil {
		w.refs.fail(e, proto.NewError(proto.KindObjectLost, "", "every copy of %v was lost and it was created by Put or by an actor call, which have no lineage, so it cannot be rebuilt", e.id))
		return
	}
	spec := *e.lineage
	if t, running := w.tasks[spec.TaskID]; running {
		_ = t // already being rebuilt (another return of the same task was lost)
		w.refs.reset(e)
		return
	}
	if spec.MaxRetries == 0 {
		w.refs.fail(e, proto.NewError(proto.KindObjectLost, spec.Describe(), "every copy of %v was lost and the task allows no retries", e.id))
		return
	}
	if err := w.holdArgs(&spec); err != nil {
		w.refs.fail(e, proto.NewError(proto.KindObjectLost, spec.Describe(), "every copy of %v was lost and it cannot be rebuilt: %v", e.id, err))
		return
	}
	w.stats.Reconstructed++
	for _, id := range spec.ReturnIDs() {
		if r := w.refs.get(id); r != nil {
			w.refs.reset(r)
		}
	}
	spec.Attempt++
	retries := spec.MaxRetries
	if retries > 0 {
		retries--
	}
	t := &pendingTask{spec: spec, retries: retries, class: leaseClass(&spec)}
	w.tasks[spec.TaskID] = t
	w.resolve(t)
}

// holdArgs counts a rebuild of spec as a holder of its arguments, as
// submit counted the first attempt. Owned arguments are still in the
// table (the lost return pins their lineage); a borrowed one the owner
// released since is borrowed again, as submitting the task anew would.
// It fails, holding nothing, when the table has no room.
func (w *Worker) holdArgs(spec *proto.TaskSpec) error {
	if len(w.refs.objs)+w.missingRefs(argRefs(spec.Args)) > w.refs.max {
		return errTooManyObjects
	}
	for r := range argRefs(spec.Args) {
		ae := w.refs.get(r.ID)
		if ae == nil {
			var err error
			if ae, err = w.refs.addBorrowed(r.ID, r.Owner); err != nil {
				panic(fmt.Sprintf("worker: borrow %v for a rebuild after checking for room: %v", r.ID, err))
			}
		}
		ae.submitted++
	}
	return nil
}

func (w *Worker) sortedTaskIDs() []core.TaskID {
	ids := make([]core.TaskID, 0, len(w.tasks))
	for id := range w.tasks { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b core.TaskID) int { return compareBytes(a[:], b[:]) })
	return ids
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// PendingTasks returns the number of submitted tasks not yet finished.
func (w *Worker) PendingTasks() int { return len(w.tasks) }

// handleLeaseCheck tells a raylet whether this worker still holds a lease.
func (w *Worker) handleLeaseCheck(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	id := m.(*proto.LeaseCheck).LeaseID
	held := w.leaseTasks[id] > 0 || w.kept[id] != nil || w.live[id] != nil
	// (A cancelled task's body still returning keeps its lease live.)
	reply(&proto.LeaseCheckReply{Held: held}, nil)
}

// handleLeaseInfeasible hears from a raylet that no alive node can run a
// task of ours now and that its request waits for one (Ray's pending
// infeasible demand, made loud): it warns in this process's log, at once
// and again each time a request of the task is found infeasible (the
// lease client asks again every leaseTimeout), and fails the task with
// Infeasible once its InfeasibleWait is over.
func (w *Worker) handleLeaseInfeasible(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.LeaseInfeasible)
	reply(&proto.Ack{}, nil)
	var t *pendingTask
	for _, id := range w.sortedTaskIDs() {
		if x := w.tasks[id]; x.phase == phaseLeasing && leaseID(x) == q.LeaseID {
			t = x
			break
		}
	}
	if t == nil {
		return
	}
	started, waited, ended := t.infeasible.Report(q, w.env.Now())
	if q.Feasible {
		if ended {
			w.env.Log().Info("a node that can run a task that waited for one is in the cluster now", "task", t.spec.Describe(), "waited", waited.String())
		}
		return
	}
	w.stats.InfeasibleWaits++
	wait := time.Duration(t.spec.InfeasibleWait)
	w.env.Log().Warn("no node can run a task now: it waits for one", "task", t.spec.Describe(), "demand", t.spec.Resources.String(), "reason", q.Reason, "waits", lease.WaitBound(wait, "run"))
	if !started || wait <= 0 {
		return
	}
	id, since := t.spec.TaskID, t.infeasible.Since
	w.env.AfterFunc(wait, func() {
		if w.tasks[id] != t || t.phase != phaseLeasing || !t.infeasible.Due(since) {
			return
		}
		if t.req != nil {
			t.req.Cancel() // drops the queued request
			w.endRequest(t)
		}
		err := proto.NewError(proto.KindInfeasible, t.spec.Describe(), "%s; no node could run it for %v", t.infeasible.Reason, wait)
		w.failTask(t, err)
		// The tasks of its class queued behind it (same resources,
		// labels and wait bound) could not run either: they fail too,
		// rather than each waiting its turn to request.
		for _, q := range w.takeQueued(t.class) {
			w.failTask(q, proto.NewError(proto.KindInfeasible, q.spec.Describe(), "%s; no node could run a task of its kind for %v", t.infeasible.Reason, wait))
		}
		w.fillRequests(t.class)
	})
}
