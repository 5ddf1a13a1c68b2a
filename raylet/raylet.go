package raylet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/plasma"
)

// Config configures a raylet.
type Config struct {
	// GCS is the GCS's address.
	GCS core.Addr
	// Resources is the node's total capacity.
	Resources core.Resources
	// Labels are the node's labels (grayd --labels), registered with the
	// GCS for label selectors.
	Labels core.Labels
	// ObjectStoreBytes is the plasma store's capacity. Default 256 MiB.
	ObjectStoreBytes int64
	// SharedMin is the smallest object the store keeps in the host's
	// shared memory, where the environment has it (core.SharedMemory):
	// the node's workers and drivers read those without a copy through
	// a socket. Zero means plasma.DefaultSharedMin.
	SharedMin int64
	// HeartbeatPeriod is how often the raylet reports to the GCS. Default 1s.
	HeartbeatPeriod time.Duration
	// SpreadThreshold is the hybrid policy's utilisation threshold.
	// Default 0.5.
	SpreadThreshold float64
	// PullBytesMax bounds the bytes of chunks in flight for pulls.
	// Default 16 MiB.
	PullBytesMax int64
	// QueueMax bounds queued lease requests; more are refused. Default 10,000.
	QueueMax int
	// OnFence, when set, is called when the raylet learns that its node
	// was declared dead, just before it exits (tests and simulation
	// workloads record it to check that the node executes nothing after).
	OnFence func(core.NodeID)
	// Binary is the hash of the node program's own binary: tasks of that
	// binary (or of none) run on the node's own workers. Empty when
	// unknown.
	Binary string
	// Launcher starts worker processes: of the node program's own binary
	// (binary "") when none of the node's workers is free, and of staged
	// job binaries. nil on nodes that cannot: their pool of own workers
	// is what the host started, and requests for another binary fail
	// with a clear error.
	Launcher Launcher
	// WorkerPoolMax bounds the workers of one pool (the node's own, or
	// a job binary's) that host no actor: the workers tasks run on.
	// Default 8.
	WorkerPoolMax int
	// MaxWorkers bounds the worker processes the raylet launches,
	// registered or starting, of every pool (the host's starting pool
	// of the node's own workers comes on top). Each actor runs on a
	// worker of its own, so the node has MaxWorkers - WorkerPoolMax
	// actor slots (core.ActorSlot, set here whatever Resources says): an
	// actor holds one, and the room left stays for task workers. An
	// actor no node has a slot for waits, and the pending demand says
	// why. Hosts derive it from the machine's memory. Default 256.
	MaxWorkers int
	// IdleWorkerTimeout is how long a launched worker may stay idle before
	// it is told to exit. Default 60s.
	IdleWorkerTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.SharedMin < 0 {
		c.SharedMin = 0
	}
	if c.ObjectStoreBytes <= 0 {
		c.ObjectStoreBytes = 256 << 20
	}
	if c.HeartbeatPeriod <= 0 {
		c.HeartbeatPeriod = time.Second
	}
	if c.SpreadThreshold <= 0 {
		c.SpreadThreshold = 0.5
	}
	if c.PullBytesMax <= 0 {
		c.PullBytesMax = 16 << 20
	}
	if c.QueueMax <= 0 {
		c.QueueMax = 10_000
	}
	if c.WorkerPoolMax <= 0 {
		c.WorkerPoolMax = 8
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 256
	}
	// The node's actor slots come from its worker cap.
	slots := core.Resources{{Name: core.ActorSlot, Amount: c.Resources.Get(core.ActorSlot)}}
	c.Resources = c.Resources.Sub(slots).Add(core.Resources{{Name: core.ActorSlot, Amount: core.Units(int64(max(0, c.MaxWorkers-c.WorkerPoolMax)))}})
	if c.IdleWorkerTimeout <= 0 {
		c.IdleWorkerTimeout = time.Minute
	}
}

// Stats counts what a raylet did.
type Stats struct {
	LeasesGranted, Spillbacks, Infeasible, WorkerDeaths, Pulls, PulledBytes, PullFailures int64
	// LeasesBlocked counts leases whose body blocked in Get or Wait and
	// lent its CPUs out; LeasesStacked, leases granted on a worker whose
	// other leases were all blocked.
	LeasesBlocked, LeasesStacked int64
	// InfeasibleQueued counts requests no alive node could run, queued
	// to wait for one (their owners were told).
	InfeasibleQueued int64
	// Workers started on demand, launches that failed, and idle
	// launched workers told to exit; WorkerCapWaits counts actor
	// creations that had to wait because the node ran its maximum of
	// worker processes.
	WorkersLaunched, LaunchFailures, WorkersReaped, WorkerCapWaits int64
	// Drivers of submitted jobs started here, and those that ended.
	DriversStarted, DriversEnded int64
	// ChunkedPuts counts objects put in chunks (larger than a worker's
	// chunk size), ChunkedPutsAborted those dropped unfinished (their
	// worker died or stopped sending).
	ChunkedPuts, ChunkedPutsAborted int64
	// SharedPuts counts objects written by workers straight into shared
	// memory (CreateShared, then SealShared) and SharedGets the reads
	// answered with a segment's handle rather than bytes.
	SharedPuts, SharedGets int64
	// Placement group bundles prepared, committed and returned here.
	BundlesPrepared, BundlesCommitted, BundlesReturned int64
	// LeaseWait sums, over granted leases, the time from a request's
	// arrival to its grant: the scheduling latency (divide by
	// LeasesGranted for the mean).
	LeaseWait time.Duration
	// OrphansFreed counts primary copies freed because their owner was
	// gone (owners.go).
	OrphansFreed int64
	// FinishedDriverLeases counts leases freed because their holder, the
	// driver of a finished job, stopped answering for them.
	FinishedDriverLeases int64
	// Repulls counts pulls of objects whose copy this store evicted
	// earlier (among the last evictedMax evictions): a secondary copy
	// thrown out for room and wanted again. Many of them mean the store
	// is too small for the node's working set.
	Repulls int64
	// TransientReads counts pulls read into a transient buffer because
	// the store had no room for a copy next to the data it holds.
	TransientReads int64
}

// Raylet is the node manager: it registers its node with the GCS, accounts
// for the node's resources, schedules lease requests (locally, by
// spillback, or as infeasible), owns the node's plasma store and pulls
// objects from other nodes. Each incarnation is a new node with a new
// NodeID, as in Ray.
type Raylet struct {
	cfg  Config
	env  core.Env
	node core.NodeID
	gcs  *gcs.Client
	// gcsReplicas lists the replicas of a replicated GCS (holderOf).
	gcsReplicas []core.Addr
	cli         *rpc.Client
	srv         *rpc.Server
	store       *plasma.Store
	policy      *Policy

	registered bool
	fenced     bool
	beats      uint64
	available  core.Resources

	workers map[core.Addr]*workerInfo
	// workerAddrs holds every address a worker registered from in this
	// incarnation, including workers since dropped from workers (a lease
	// returned with Disconnect): they may still run a task, and must
	// hear of the node's death too.
	workerAddrs map[core.Addr]bool
	queue       []*leaseRequest
	leases      map[leaseKey]*leaseRequest
	// cancelled remembers lease requests the owner gave up on.
	cancelled map[leaseKey]bool
	views     map[core.NodeID]*NodeView
	// viewOrder are the keys of views, sorted (views only grow): the
	// order viewList returns them in, kept so that a pass need not sort.
	viewOrder []core.NodeID
	addrs     map[core.NodeID]core.Addr
	pulls     map[core.ObjectID]*pull
	// puts are the chunked puts under way (objects.go), by object.
	puts map[core.ObjectID]*chunkedPut
	// heldReads are transient copies kept for readers in chunks, of
	// heldReadBytes in all (objects.go).
	heldReads     map[core.ObjectID]*heldRead
	heldReadBytes int64
	pullQ         []*pull
	inPull        int64
	// transient is the bytes of transient copies being pulled (see
	// pullObject).
	transient int64
	// evicted remembers the last evictedMax copies the store evicted,
	// oldest first in evictedOrder, for Stats.Repulls.
	evicted map[core.ObjectID]bool
	// bundles are the placement group bundles reserved here, by group
	// (bundles.go).
	bundles      map[core.PlacementGroupID]*groupBundles
	evictedOrder []core.ObjectID
	// drivers are the submitted jobs' drivers run here (drivers.go), by
	// submission id, in the order they were asked for.
	drivers     map[string]*driverRun
	driverOrder []string

	// Launched workers: launches not registered yet by token, binaries
	// that failed, and what the current scheduling pass lacked.
	launches  map[string]*launch
	launchSeq uint64
	// exitedLaunches are the tokens of launched workers that exited
	// (bounded): a late registration from one is refused.
	exitedLaunches map[string]bool
	badBinaries    map[string]badBinary
	wanted         map[poolKey]wanted
	// reaped maps the tokens of launched workers told to exit as idle to
	// their addresses, until their exit is reported (bounded).
	reaped map[string]core.Addr
	// pass numbers scheduling passes; classes interns the demand
	// classes of queued requests (see demandClass).
	pass    uint64
	classes map[string]*demandClass
	// passNoWorker are the worker pools that had no worker for a task
	// in the current scheduling pass (the node's own: key binary "").
	passNoWorker map[poolKey]bool
	// settled: every queued request was decided since the last event
	// that could let one through (see scheduleNew).
	settled bool

	// Owners of primary copies (owners.go): by owner incarnation and by
	// object; the incarnation last registered from each worker address;
	// the addresses of launched workers that exited, and the address of
	// each registered launch; a job-table read in flight.
	owners        map[ownerKey]*owner
	primaries     map[core.ObjectID]ownerKey
	workerIncs    map[core.Addr]uint64
	exitedWorkers map[core.Addr]bool
	launchAddrs   map[string]core.Addr
	jobsAsked     bool
	// finishedDrivers are the drivers of finished jobs, as the GCS's job
	// table said when askJobs last read it: a lease such a driver does
	// not answer for is freed at once.
	finishedDrivers map[core.Addr]bool

	stats Stats
}

type workerInfo struct {
	addr core.Addr
	id   core.WorkerID
	// leases are the leases granted on the worker, oldest first: one,
	// or more while the bodies of all of them wait in Get or Wait
	// (LeaseBlocked); a worker runs task bodies concurrently.
	leases []*leaseRequest
	// blockedLeases counts the blocked ones among leases.
	blockedLeases int
	// retired: taken out of service while it still held leases (see
	// Raylet.retire); it takes no new lease until it registers again.
	retired bool
	// binary and launch are a launched worker's job binary and launch
	// token ("" for the node's own workers); idle is when it last became
	// idle.
	binary, launch string
	job            core.JobID
	idle           time.Time
	// owns: at its last registration the worker owned objects in scope
	// (RegisterWorker.Owns); it is not reaped while it does.
	owns bool
}

type leaseKey struct {
	owner core.Addr
	id    uint64
}

type leaseRequest struct {
	key    leaseKey
	req    *proto.RequestLease
	reply  func(core.Message, error)
	worker *workerInfo
	// args being made local before the lease is granted
	fetching int
	fetched  bool
	failed   error
	// queued is when the request arrived and granted when it was
	// granted (this raylet's clock).
	queued, granted time.Time
	// unanswered counts lease checks in a row its holder did not answer.
	unanswered int
	// blocked: the task body on the lease waits in Get or Wait and its
	// CPUs are lent out; blockSeq is the newest LeaseBlocked taken.
	blocked  bool
	blockSeq uint64
	// class is the request's demand class while it is queued.
	class *demandClass
	// unknownArmed: the GCS was asked about the unknown node of the
	// request's hard affinity, and a timer decides again once the
	// request waited unknownNodeWaitMax for it; unknownGone: the GCS
	// does not know the node either.
	unknownArmed, unknownGone bool
	// infeasible: queued although no alive node can run it (it waits
	// for one to join), for infeasibleReason; its owner was told, and is
	// told again when a node that can run it joins.
	infeasible       bool
	infeasibleReason string
	// workerCap: an actor creation placed here that waits because the
	// node runs its maximum of worker processes (Config.MaxWorkers).
	workerCap bool
	// bundle is the placement group bundle a granted lease holds its
	// resources from (nil: the node's pool; bundles.go).
	bundle *bundle
}

// actorSlotOne is what an actor holds of its node's actor slots.
var actorSlotOne = core.Resources{{Name: core.ActorSlot, Amount: core.Units(1)}}

// placing returns what placing spec needs: its placement resources,
// and for an actor's creation one of the node's actor slots.
func placing(spec *proto.TaskSpec) core.Resources {
	if spec.ActorCreation {
		return spec.Placement().Add(actorSlotOne)
	}
	return spec.Placement()
}

// holding returns what a lease for spec holds once granted: its
// resources, and for an actor's creation one actor slot.
func holding(spec *proto.TaskSpec) core.Resources {
	if spec.ActorCreation {
		return spec.Resources.Add(actorSlotOne)
	}
	return spec.Resources
}

// held is what a granted lease holds now: its resources (and an actor's
// slot), without the CPUs while its body is blocked.
func (l *leaseRequest) held() core.Resources {
	if l.blocked {
		return holding(&l.req.Spec).Sub(l.cpus())
	}
	return holding(&l.req.Spec)
}

// cpus is the CPU part of the lease's resources.
func (l *leaseRequest) cpus() core.Resources {
	if q := l.req.Spec.Resources.Get(core.CPU); q != 0 {
		return core.Resources{{Name: core.CPU, Amount: q}}
	}
	return nil
}

// hostsActor reports whether the worker is an actor's: its lease is the
// actor's creation, held while the actor lives.
func (w *workerInfo) hostsActor() bool {
	return len(w.leases) > 0 && w.leases[0].req.Spec.ActorCreation
}

// busy reports whether the worker holds a lease.
func (w *workerInfo) busy() bool { return len(w.leases) > 0 }

// stackable reports whether the worker can take another lease for a
// task: every lease it holds is blocked, and none is an actor's (an
// actor keeps its worker).
func (w *workerInfo) stackable() bool {
	// An actor's lease is never blocked (handleLeaseBlocked).
	return w.blockedLeases == len(w.leases)
}

// drop removes lease l from the worker's leases.
func (w *workerInfo) drop(l *leaseRequest) {
	w.leases = slices.DeleteFunc(w.leases, func(x *leaseRequest) bool { return x == l })
	if l.blocked {
		w.blockedLeases--
	}
}

// New returns a raylet for cfg.
func New(cfg Config) *Raylet {
	cfg.setDefaults()
	return &Raylet{cfg: cfg}
}

// Node returns the node id of this incarnation.
func (r *Raylet) Node() core.NodeID { return r.node }

// Fenced reports whether the GCS declared this node dead.
func (r *Raylet) Fenced() bool { return r.fenced }

// Total returns the node's resources, its actor slots included.
func (r *Raylet) Total() core.Resources { return r.cfg.Resources }

// Available returns the node's unleased resources.
func (r *Raylet) Available() core.Resources { return r.available }

// Stats returns the raylet's counters.
func (r *Raylet) Stats() Stats { return r.stats }

// Store returns the node's plasma store (read-only use).
func (r *Raylet) Store() *plasma.Store { return r.store }

// Start implements core.Process.
func (r *Raylet) Start(env core.Env) {
	r.env = env
	r.node = core.NewNodeID(env.Rand())
	r.gcs = gcs.NewClient(env, r.cfg.GCS, gcs.ClientOptions{})
	r.gcsReplicas = gcs.SplitAddr(r.cfg.GCS)
	r.cli = rpc.NewClient(env)
	r.srv = rpc.NewServer(env)
	r.policy = &Policy{SpreadThreshold: r.cfg.SpreadThreshold, Terse: true}
	r.available = r.cfg.Resources
	r.workers = map[core.Addr]*workerInfo{}
	r.workerAddrs = map[core.Addr]bool{}
	r.leases = map[leaseKey]*leaseRequest{}
	r.views = map[core.NodeID]*NodeView{}
	r.viewOrder = nil
	r.addrs = map[core.NodeID]core.Addr{}
	r.pulls = map[core.ObjectID]*pull{}
	r.puts = map[core.ObjectID]*chunkedPut{}
	r.heldReads = map[core.ObjectID]*heldRead{}
	r.launches = map[string]*launch{}
	r.exitedLaunches = map[string]bool{}
	r.reaped = map[string]core.Addr{}
	r.badBinaries = map[string]badBinary{}
	r.wanted = map[poolKey]wanted{}
	r.owners = map[ownerKey]*owner{}
	r.primaries = map[core.ObjectID]ownerKey{}
	r.workerIncs = map[core.Addr]uint64{}
	r.exitedWorkers = map[core.Addr]bool{}
	r.launchAddrs = map[string]core.Addr{}
	r.evicted = map[core.ObjectID]bool{}
	r.bundles = map[core.PlacementGroupID]*groupBundles{}
	r.drivers = map[string]*driverRun{}
	r.store = plasma.NewStore(plasma.Config{Capacity: r.cfg.ObjectStoreBytes, OnEvict: r.onEvict, Memory: core.ShmOf(env), SharedMin: r.cfg.SharedMin})
	r.addView(&NodeView{ID: r.node, Total: r.cfg.Resources, Available: r.available, Alive: true, Labels: r.cfg.Labels})
	r.addrs[r.node] = env.Self()

	r.srv.Register((&proto.RegisterWorker{}).MsgType(), r.handleRegisterWorker)
	r.srv.Register((&proto.RequestLease{}).MsgType(), r.handleRequestLease)
	r.srv.Register((&proto.ReturnLease{}).MsgType(), r.handleReturnLease)
	r.srv.Register((&proto.LeaseBlocked{}).MsgType(), r.handleLeaseBlocked)
	r.srv.Register((&proto.PutObject{}).MsgType(), r.handlePutObject)
	r.srv.Register((&proto.GetObject{}).MsgType(), r.handleGetObject)
	r.srv.Register((&proto.CreateShared{}).MsgType(), r.handleCreateShared)
	r.srv.Register((&proto.PrepareBundles{}).MsgType(), r.handlePrepareBundles)
	r.srv.Register((&proto.CommitBundles{}).MsgType(), r.handleCommitBundles)
	r.srv.Register((&proto.ReturnBundles{}).MsgType(), r.handleReturnBundles)
	r.srv.Register((&proto.StartDriver{}).MsgType(), r.handleStartDriver)
	r.srv.Register((&proto.StopDriver{}).MsgType(), r.handleStopDriver)
	r.srv.Register((&proto.SealShared{}).MsgType(), r.handleSealShared)
	r.srv.Register((&proto.FreeObjects{}).MsgType(), r.handleFreeObjects)
	r.srv.Register((&proto.PullChunk{}).MsgType(), r.handlePullChunk)
	r.srv.Register((&proto.LeaseStatus{}).MsgType(), r.handleLeaseStatus)
	r.srv.Register((&proto.ListObjects{}).MsgType(), r.handleListObjects)
	r.srv.Register((&proto.RayletStats{}).MsgType(), r.handleRayletStats)
	r.srv.Register((&proto.OwnsObjects{}).MsgType(), r.handleOwnsObjects)

	r.register()
	env.AfterFunc(leaseCheckPeriod, r.checkLeases)
	env.AfterFunc(ownerCheckPeriod, r.checkOwners)
	if err := r.gcs.Subscribe([]string{gcs.ChannelNode, gcs.ChannelResources}, r.onPub, r.resync); err != nil {
		env.Log().Error("subscribe to the GCS", "err", err)
	}
}

func (r *Raylet) register() {
	r.gcs.RegisterNodeLabeled(r.node, r.env.Self(), r.cfg.Resources, r.cfg.Labels, func(_ gcs.Reply, err error) {
		if err != nil {
			if errors.Is(err, gcs.ErrFailedPrecondition) {
				r.fence(fmt.Sprintf("registration refused: %v", err))
				return
			}
			r.env.AfterFunc(r.cfg.HeartbeatPeriod, r.register)
			return
		}
		if !r.registered {
			r.registered = true
			r.heartbeat()
			r.schedule()
		}
	})
}

func (r *Raylet) heartbeat() {
	if r.fenced {
		return
	}
	sent := r.env.Now()
	r.gcs.HeartbeatWithBundles(r.node, r.available, r.demand(), r.Bundles(), func(rep gcs.Reply, err error) {
		if err == nil && rep.Dead {
			r.fence("the GCS declared this node dead")
		}
		if err == nil && len(rep.DropBundles) > 0 {
			r.dropBundles(rep.DropBundles, sent)
		}
	})
	r.beats++
	if r.beats%resyncBeats == 0 {
		// Pubsub may have missed nodes (a subscription that failed while
		// the GCS was unreachable at boot); a snapshot now and then
		// bounds how long the cluster view can stay incomplete.
		r.resync()
	}
	r.env.AfterFunc(r.cfg.HeartbeatPeriod, r.heartbeat)
}

// demand sums the queued lease requests by resource shape, infeasible
// ones apart (with the reason of one of them), for the GCS (gray status):
// at most gcs.DemandShapesMax shapes, the largest counts first.
func (r *Raylet) demand() []gcs.Demand {
	type key struct {
		res                   string
		infeasible, workerCap bool
	}
	byKey := map[key]*gcs.Demand{}
	for _, l := range r.leases { //gray:unordered summed, then sorted below
		if l.worker != nil {
			continue // granted
		}
		place := placing(&l.req.Spec)
		capped := l.workerCap || (l.req.Spec.ActorCreation && !actorSlotOne.FitsIn(r.available))
		k := key{place.String(), l.infeasible, capped && !l.infeasible}
		d := byKey[k]
		if d == nil {
			d = &gcs.Demand{Resources: place, Infeasible: l.infeasible}
			if k.workerCap {
				d.Reason = r.workerCapReason()
			}
			byKey[k] = d
		}
		d.Count++
		if l.infeasible && (d.Reason == "" || strings.Compare(l.infeasibleReason, d.Reason) < 0) {
			d.Reason = l.infeasibleReason
		}
	}
	out := make([]gcs.Demand, 0, len(byKey))
	for _, d := range byKey { //gray:unordered sorted below
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b gcs.Demand) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		if c := strings.Compare(a.Resources.String(), b.Resources.String()); c != 0 {
			return c
		}
		if a.Infeasible != b.Infeasible {
			if a.Infeasible {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	if len(out) > gcs.DemandShapesMax {
		out = out[:gcs.DemandShapesMax]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resyncBeats is how many heartbeats pass between cluster-view snapshots.
const resyncBeats = 5

// fence stops the node for good: the GCS declared it dead, and a dead node
// id never comes back. Queued requests are refused, the process exits; the
// workers' owners hear of the death from the GCS.
func (r *Raylet) fence(why string) {
	if r.fenced {
		return
	}
	r.fenced = true
	r.env.Log().Warn("node fenced", "node", r.node, "why", why)
	q := r.queue
	r.queue = nil
	for _, l := range q {
		delete(r.leases, l.key)
		l.reply(nil, rpc.Errorf(rpc.CodeUnavailable, "node %v is dead", r.node))
	}
	// The node's workers exit with it (fate-sharing), in address order:
	// every worker that registered, also those no longer leasable.
	addrs := make([]core.Addr, 0, len(r.workerAddrs))
	for a := range r.workerAddrs { //gray:unordered sorted below
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		r.env.Send(a, &proto.NodeDead{Node: r.node})
	}
	if r.cfg.OnFence != nil {
		r.cfg.OnFence(r.node)
	}
	// A dead node id never comes back: like Ray's raylet, exit, so that the
	// supervisor (the simulator, or systemd on a host) starts a new node.
	panic(core.FailStop{Reason: "node " + r.node.String() + " fenced: " + why})
}

// Receive implements core.Process.
func (r *Raylet) Receive(from core.Addr, m core.Message) {
	if r.gcs.Handle(from, m) || r.cli.Handle(from, m) {
		return
	}
	if _, ok := m.(*rpc.Request); ok && r.fenced {
		return // a dead node serves nothing
	}
	r.srv.Handle(from, m)
}

// Stop implements core.Stopper: the store's shared memory segments are
// released (workers that opened one keep their own hold).
func (r *Raylet) Stop() {
	if r.store != nil {
		r.store.Close()
	}
}

// onPub updates the cluster view from GCS pubsub.
func (r *Raylet) onPub(m gcs.PubMessage) {
	switch {
	case m.Node != nil:
		r.applyNode(*m.Node)
	case m.Resources != nil:
		if v := r.views[m.Resources.Node]; v != nil && m.Resources.Node != r.node {
			v.Available = m.Resources.Available
			v.Total = m.Resources.Total
		}
	}
	r.schedule()
}

func (r *Raylet) applyNode(n gcs.NodeInfo) {
	if n.ID == r.node {
		if n.State == gcs.NodeDead {
			r.fence("the GCS published this node dead")
		}
		return
	}
	v := r.views[n.ID]
	if v == nil {
		v = &NodeView{ID: n.ID, Total: n.Resources, Available: n.Available}
		r.addView(v)
	}
	v.Labels = n.Labels
	// Another node at this raylet's own address is an earlier
	// incarnation of it (a restarted raylet registers a new NodeID):
	// dead, whatever the GCS has not noticed yet. Work for it must not
	// come here (a hard affinity to it would run on this node).
	v.Alive = n.State != gcs.NodeDead && n.Addr != r.env.Self()
	v.Draining = n.State == gcs.NodeDraining
	r.addrs[n.ID] = n.Addr
	if !v.Alive {
		r.ownersNodeDied(n.ID)
	}
}

// resync rebuilds the cluster view from a snapshot after a pubsub gap or a
// GCS restart. The GCS publishes a node's resources only when they change,
// so a lost update would leave a view stale for as long as the node stays
// as it is (e.g. idle, looking full): the snapshot's resources replace the
// view's. A newer update overtaken by the snapshot is repaired by the next
// resync.
func (r *Raylet) resync() {
	r.gcs.GetNodes(func(rep gcs.Reply, err error) {
		if err != nil {
			return
		}
		for _, n := range rep.Nodes {
			r.applyNode(n)
			if v := r.views[n.ID]; v != nil && n.ID != r.node {
				v.Total, v.Available = n.Resources, n.Available
			}
		}
		r.schedule()
	})
}

// viewList returns the cluster view sorted by node id, with this node's
// own entry current.
func (r *Raylet) viewList() []NodeView {
	self := r.views[r.node]
	self.Available = r.available
	self.Alive = !r.fenced
	out := make([]NodeView, len(r.viewOrder))
	for i, id := range r.viewOrder {
		out[i] = *r.views[id]
	}
	return out
}

// addView adds v, a node not yet in the view, keeping viewOrder sorted.
func (r *Raylet) addView(v *NodeView) {
	if r.views[v.ID] != nil {
		panic(fmt.Sprintf("raylet: node %v added to the view twice", v.ID))
	}
	r.views[v.ID] = v
	i, _ := slices.BinarySearchFunc(r.viewOrder, v.ID, func(a, b core.NodeID) int { return strings.Compare(string(a[:]), string(b[:])) })
	r.viewOrder = slices.Insert(r.viewOrder, i, v.ID)
}
