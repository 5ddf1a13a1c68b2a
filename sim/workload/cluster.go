package workload

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/internal/simlaunch"
	"github.com/grayrt/gray/internal/stuck"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// The cluster workload runs Ray Core on the real components and the real
// worker and driver processes: a GCS, several raylets (each with plasma
// and a pool of process.Worker processes) and drivers (process.Driver)
// whose program is ordinary Go against the public API (cluster_driver.go):
// task DAGs with small and large objects, puts, an infeasible task and a
// failing task, nested "fanout" tasks whose bodies submit and wait for
// children owned by the executing worker, named and anonymous actors
// (cluster_actors.go), and a slow task cancelled every round
// (cluster_cancel.go). Raylets, workers and the GCS crash under the crash
// fault; drivers do not.
//
// Invariants: every Get returns exactly the value its task computes, or
// the documented error for the documented condition (Infeasible for a task
// that no node can fit, TaskFailed for a task that raises, ObjectLost for a
// Put object whose node died, ActorDied for a call to an actor without
// call retries that died with the call in flight, Cancelled for a task
// cancelled before it could finish); an actor never has two live
// incarnations (see cluster_actors.go for the precise statement); a
// caller's calls run in order; a node declared dead starts no task once
// its raylet knows; a node's available resources never go negative (the
// raylet asserts it) and are full again once the cluster is idle; under
// memory pressure a referenced primary copy is never gone while its node
// lives (cluster_memory.go); a borrower and a driver that read an object
// whose owner the workload crashed on purpose get ErrOwnerDied or
// ErrObjectLost, never a value (cluster_owner.go).
// Liveness: after healing, every driver finishes its round (so every
// retriable task and every actor call with retries left completes) and the
// cluster goes idle.
//
// The workers' hooks (process.WorkerHooks) run the checks that need a
// worker's view: before every body, on the worker's loop.

func init() {
	sim.RegisterWorkload("cluster", "GCS, raylets with plasma and workers, drivers submitting task DAGs with small and large objects",
		[]string{variantHoldForever, variantCommitFailedPrepare}, newCluster)
	sim.RegisterWorkload("cluster-ha", "the cluster workload on a GCS of 3 raft replicas: raylets, workers and drivers follow the leader across failovers",
		nil, func(opts sim.Options) (sim.Workload, error) {
			w, err := newCluster(opts)
			if err == nil {
				w.(*cluster).replicas = gcsReplicas
			}
			return w, err
		})
	sim.RegisterWorkload("launch", "the cluster workload where every other driver's job has a staged binary: its tasks and actors run on worker processes the raylets launch, start late, fail to start, crash and are reaped",
		nil, func(opts sim.Options) (sim.Workload, error) {
			w, err := newCluster(opts)
			if err == nil {
				w.(*cluster).launch = true
			}
			return w, err
		})
}

const (
	clusterCPUsPerNode = 2
	// A node starts with clusterWorkersPerNode workers; the raylet
	// launches more on demand (every actor takes a worker of its own,
	// and holds no resource but its slot once placed), up to
	// clusterMaxWorkers launched ones, 4 of them actor slots: rounds with
	// many actors on one node (after a node death) run into the cap, and
	// their actors wait for a slot to free.
	clusterWorkersPerNode = clusterCPUsPerNode
	clusterTaskWorkersMax = 3
	clusterMaxWorkers     = clusterTaskWorkersMax + 4 // 4 actor slots
	bigObjectBytes        = 200 << 10                 // above the 100 KiB inline limit: goes through plasma
	// clusterChunkBytes is the workers' and drivers' object chunk size:
	// small, so that every plasma object is put and read in chunks.
	clusterChunkBytes = 64 << 10
	// clusterSharedMin is the smallest object in shared memory: the
	// raylets keep plasma objects there, and the workers and drivers of
	// the odd-numbered nodes put and read them through it (sharedMin),
	// those of the others in messages.
	clusterSharedMin = 64 << 10
)

// sharedMin is the SharedMin of the workers and drivers of raylet's
// node: shared memory on odd-numbered nodes, messages (-1) on the others.
func sharedMin(raylet core.Addr) int {
	var n int
	if _, err := fmt.Sscanf(string(raylet), "raylet-%d", &n); err == nil && n%2 == 1 {
		return clusterSharedMin
	}
	return -1
}

type cluster struct {
	nodes, drivers int
	// replicas > 0 runs a replicated GCS of that many replicas
	// (cluster-ha); gcsAddr is the GCS address hosts get.
	replicas int
	gcsAddr  core.Addr
	// launch gives every other driver a staged binary (the launch
	// workload, cluster_launch.go).
	launch bool
	// variant is the test-only variant, "" or variantHoldForever
	// (cluster_hold.go).
	variant string
	w       *sim.World
	drv     []*driver
	raylets []core.Addr
	// ctx is the parent of every body's ctx: it carries the workload to
	// the bodies' checks (clusterOf).
	ctx context.Context

	// fencedAt records when each node's raylet learned the node was
	// declared dead: nothing may run on the node after that (plus local
	// delivery of the news to its workers).
	fencedAt map[core.NodeID]time.Duration

	// executions counts task bodies run per function, for coverage.
	executions map[string]int64
	// hosts records, per actor, the workers that executed its calls, and
	// deadNodes the nodes known declared dead (see cluster_actors.go).
	hosts     map[core.ActorID][]actorHost
	deadNodes map[core.NodeID]bool
	// ownerDied is the OwnerDied count of each worker process at its
	// last body (see beforeRun).
	ownerDied map[*process.Worker]int64
	// ownerDeaths are the rounds' ownerDies tasks by argument
	// (cluster_owner.go).
	ownerDeaths map[int64]*ownerDeath
	// nestRuns are the runs of nest's body (cluster_nested.go).
	nestRuns []nestRun
	// streamNodes are, per stream(x), the nodes whose stores its bodies
	// put the large value in (cluster_stream.go).
	streamNodes map[int64][]core.NodeID
	// streamCrashed: stream(x)'s worker was crashed on purpose.
	streamCrashed map[int64]bool
	// callRuns counts the runs of each square actor call.
	callRuns map[core.TaskID]int
	// crashedSelf records, by actor id, the processes crashSelf killed.
	crashedSelf map[string]selfCrash
	// subs are the jobs the drivers submitted (cluster_jobs.go), by id.
	subs map[string]*submitted
}

// DiskLossAllowed implements sim.DiskLossGuard (cluster-ha).
func (c *cluster) DiskLossAllowed(addr core.Addr) bool {
	return replicaDiskLossAllowed(c.w, gcs.SplitAddr(c.gcsAddr), addr)
}

// gcsServer returns the GCS that serves: the single one, or the front of
// the leading replica (of the highest epoch while a deposed leader has
// not heard of its successor). A front's tables run ahead of what is
// committed by the entries in flight.
func (c *cluster) gcsServer() (*gcs.Server, bool) {
	if c.replicas == 0 {
		g, ok := c.w.Process("gcs").(*gcs.Server)
		return g, ok
	}
	replicas := gcs.SplitAddr(c.gcsAddr)
	for _, a := range replicas {
		if r, ok := c.w.Process(a).(*gcs.Replica); ok && r.Front() != nil && r.Front().Epoch() > 1 {
			c.w.Sometimes("gcs failover")
		}
	}
	if lead := leadingReplica(c.w, replicas); lead != nil {
		return lead.Front(), true
	}
	return nil, false
}

func newCluster(opts sim.Options) (sim.Workload, error) {
	c := &cluster{nodes: opts.Nodes, drivers: opts.Clients, variant: opts.Variant}
	if c.nodes == 0 {
		c.nodes = 3
	}
	if c.drivers == 0 {
		c.drivers = 2
	}
	if c.nodes < 1 || c.nodes > 50 || c.drivers < 1 || c.drivers > 50 {
		return nil, fmt.Errorf("cluster: nodes %d and clients %d, want 1..50 each", c.nodes, c.drivers)
	}
	return c, nil
}

// init prepares the workload's state for world w.
func (c *cluster) init(w *sim.World) {
	c.w = w
	c.ctx = context.WithValue(context.Background(), clusterKey{}, c)
	c.fencedAt = map[core.NodeID]time.Duration{}
	c.executions = map[string]int64{}
	c.hosts = map[core.ActorID][]actorHost{}
	c.deadNodes = map[core.NodeID]bool{}
	c.ownerDied = map[*process.Worker]int64{}
	c.ownerDeaths = map[int64]*ownerDeath{}
	c.streamNodes = map[int64][]core.NodeID{}
	c.streamCrashed = map[int64]bool{}
	c.callRuns = map[core.TaskID]int{}
	c.crashedSelf = map[string]selfCrash{}
	c.subs = map[string]*submitted{}
}

func (c *cluster) Setup(w *sim.World) error {
	c.init(w)
	// A short node timeout makes partitions declare nodes dead (and fence
	// them) within the fault phase.
	gcfg := gcs.Config{NodeTimeout: 3 * time.Second, HealthCheckPeriod: 500 * time.Millisecond}
	if c.variant == variantCommitFailedPrepare {
		gcfg.Bug = gcs.BugCommitFailedPrepare
	}
	c.gcsAddr = "gcs"
	if c.replicas == 0 {
		w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewServer(gcfg) })
	} else {
		var addrs []core.Addr
		for i := range c.replicas {
			addrs = append(addrs, core.Addr(fmt.Sprintf("gcs-%d", i+1)))
		}
		c.gcsAddr = gcs.JoinAddrs(addrs)
		gcfg.Replicas = addrs
		// A failover must not fence healthy nodes: an election (1–2 s)
		// and the move of every client to the new leader.
		gcfg.NodeTimeout = 6 * time.Second
		gcfg.RaftLogKeep = 256
		for _, a := range addrs {
			w.AddProcess(a, sim.ProcOptions{Crashable: true, Disk: true, LosableDisk: true}, func() core.Process { return gcs.NewReplica(gcfg) })
		}
	}
	for i := range c.nodes {
		addr := core.Addr(fmt.Sprintf("raylet-%d", i+1))
		host := fmt.Sprintf("node-%d", i+1)
		c.raylets = append(c.raylets, addr)
		res := c.resourcesOf(i)
		w.AddProcess(addr, sim.ProcOptions{Crashable: true, Host: host}, func() core.Process {
			l := &simlaunch.Launcher{W: w, Raylet: addr, Host: host, FailPct: launchFailPct, GCS: c.gcsAddr,
				NewWorker: func(a core.Addr, cfg process.WorkerConfig) core.Process { return c.newWorker(a, cfg) },
				Programs:  c.program}
			return l.Serve(raylet.New(raylet.Config{GCS: c.gcsAddr, Resources: res, ObjectStoreBytes: clusterStoreBytes, SharedMin: clusterSharedMin, Labels: nodeLabels(i),
				OnFence:  func(n core.NodeID) { c.fencedAt[n] = c.w.Now(); c.w.Sometimes("node fenced") },
				Launcher: l, WorkerPoolMax: clusterTaskWorkersMax, MaxWorkers: clusterMaxWorkers, IdleWorkerTimeout: 5 * time.Second}))
		})
		for j := range clusterWorkersPerNode {
			waddr := core.Addr(fmt.Sprintf("%s/w%d", addr, j+1))
			w.AddProcess(waddr, sim.ProcOptions{Crashable: true, Host: host, Parent: addr}, func() core.Process {
				return c.newWorker(waddr, process.WorkerConfig{Raylet: addr})
			})
		}
	}
	for i := range c.drivers {
		d := &driver{cl: c, idx: i, addr: core.Addr(fmt.Sprintf("driver-%d", i+1)), rnd: w.Rand(fmt.Sprintf("driver-%d", i+1)),
			seen: map[counterSeen]int64{}}
		d.proc = process.NewDriver(process.DriverConfig{GCS: c.gcsAddr, Raylet: c.raylets[i%len(c.raylets)], Binary: c.binaryOf(i),
			Main: d.main, Done: d.done, ObjectChunkBytes: clusterChunkBytes, SharedMin: sharedMin(c.raylets[i%len(c.raylets)])})
		c.drv = append(c.drv, d)
		// A driver lives on its raylet's host but never crashes: its
		// objects would die with it (the owner-died path is reached
		// through workers that own the results of nested tasks).
		w.AddProcess(d.addr, sim.ProcOptions{Host: fmt.Sprintf("node-%d", i%len(c.raylets)+1)}, func() core.Process { return d.proc })
	}
	return nil
}

// newWorker returns a worker process at addr (cfg names its raylet, and
// for a launched worker its binary, launch and job) whose bodies carry
// the workload and whose hooks run its checks.
func (c *cluster) newWorker(addr core.Addr, cfg process.WorkerConfig) *process.Worker {
	var pw *process.Worker
	cfg.GCS = c.gcsAddr
	cfg.Context = c.ctx
	cfg.ObjectChunkBytes = clusterChunkBytes
	cfg.SharedMin = sharedMin(cfg.Raylet)
	cfg.Hooks = process.WorkerHooks{
		BeforeRun: func(node core.NodeID, spec *proto.TaskSpec) { c.beforeRun(pw, addr, node, spec) },
		Exiting: func(why string) {
			if cfg.Launch != "" && strings.HasPrefix(why, "idle") {
				c.w.Sometimes("idle launched worker exited")
			}
		},
	}
	pw = process.NewWorker(cfg)
	return pw
}

// beforeRun checks a body about to start on worker pw at addr, of node.
func (c *cluster) beforeRun(pw *process.Worker, addr core.Addr, node core.NodeID, spec *proto.TaskSpec) {
	if n := pw.CoreWorker().Stats().OwnerDied; n > c.ownerDied[pw] {
		// The worker borrowed an object whose owner (a fanout worker)
		// died since its last body: counted here as well as at the end
		// of rounds, where a launched worker that exited since is gone.
		c.ownerDied[pw] = n
		c.w.Sometimes("owner died")
	}
	switch {
	case spec.ActorCreation:
		if spec.ActorIncarnation > 0 {
			c.w.Sometimes("actor restarted")
		}
	case spec.ActorCall:
		c.actorCalled(pw, addr, node, spec)
	default:
		c.executed(node, spec)
	}
}

// fenceNewsMax bounds how long after its raylet learned of the node's death
// a worker may still start a task: the news travels over local IPC.
const fenceNewsMax = time.Millisecond

// executed checks a task about to run on node and counts it.
func (c *cluster) executed(node core.NodeID, spec *proto.TaskSpec) {
	if t, ok := c.fencedAt[node]; ok && c.w.Now() > t+fenceNewsMax {
		c.w.Fail("invariant", fmt.Sprintf("%s ran on node %v at %v, after its raylet learned at %v that the node is dead", spec.Describe(), node, c.w.Now(), t))
	}
	c.executions[spec.Function]++
	if spec.Attempt > 0 {
		c.w.Sometimes("task retried")
	}
}

func (c *cluster) Done() bool {
	for _, d := range c.drv {
		if !d.finished {
			return false
		}
	}
	return c.idle() == ""
}

func nodeResources() core.Resources {
	return core.MustResources(core.CPU, clusterCPUsPerNode, core.Memory, 1<<30)
}

// actorSlot is what each of the workload's actors holds once placed: a
// slot for its worker process (it asks for no resources, so it needs
// 1 CPU to be placed and holds none).
var actorSlot = core.MustResources(core.ActorSlot, 1)

// idle describes why the cluster is not idle ("" when it is): the GCS
// down, or a live raylet with resources in use beyond the slots of the
// actors the GCS has ALIVE on its node.
func (c *cluster) idle() string {
	g, ok := c.gcsServer()
	if !ok {
		return "the GCS is down"
	}
	actors := map[core.NodeID]int{}
	for _, a := range g.Actors() {
		if a.State == gcs.ActorAlive {
			actors[a.Node]++
		}
	}
	for _, a := range c.raylets {
		r, ok := c.w.Process(a).(*raylet.Raylet)
		if !ok || r.Fenced() {
			continue
		}
		total := r.Total()
		want := total
		for range actors[r.Node()] {
			want = want.Sub(actorSlot)
		}
		if !r.Available().Equal(want) {
			return fmt.Sprintf("%s has %v available, want %v (total %v less %d live actors)", a, r.Available(), want, total, actors[r.Node()])
		}
	}
	return c.noBundlesLeft()
}

// Pending describes, for a liveness failure, what the unfinished drivers
// wait for, why the cluster is not idle, and every raylet's queue and
// lease holders (internal/stuck).
func (c *cluster) Pending() string {
	var drivers []stuck.Driver
	for _, d := range c.drv {
		if !d.finished {
			drivers = append(drivers, stuck.Driver{Addr: d.addr, What: fmt.Sprintf("in round %d step %q", d.round, d.step)})
		}
	}
	var notes []string
	if s := c.idle(); s != "" {
		notes = append(notes, "not idle: "+s)
	}
	return stuck.Report(c.w, drivers, notes, stuck.LinesMax)
}

func (c *cluster) Check(w *sim.World) (string, string) {
	for _, d := range c.drv {
		if d.rounds == 0 {
			return "liveness", fmt.Sprintf("%s completed no round", d.addr)
		}
	}
	return "", ""
}

// Size implements sim.Sizer.
func (c *cluster) Size() sim.Options { return sim.Options{Nodes: c.nodes, Clients: c.drivers} }

// SometimesPaths lists the interesting paths this workload should reach.
func (c *cluster) SometimesPaths() []string {
	if c.replicas > 0 {
		return append(c.paths(), "gcs failover")
	}
	return c.paths()
}

func (c *cluster) paths() []string {
	return []string{"task retried", "object through plasma", "infeasible task reported", "user error returned", "fault: crash", "fault: host crash", "process fail-stop",
		"object rebuilt from lineage", "actor restarted", "spillback", "remote pull", "actor call retried", "nested task", "actor call answered", "actor killed", "owner died", "borrower registered", "borrow ended before the rest of its wait", "actor crashed by its call after acknowledged replies", "node fenced", "borrowed object outlived its owner's references",
		"blocked body lent its CPU", "lease stacked on a blocked worker",
		"task cancelled", "task cancelled with force", "running task interrupted", "child of a cancelled task cancelled",
		"secondary copy evicted", "evicted copy pulled again", "object store full", "store refused an object", "read without room for a copy", "driver filled its node's store", "kept object read rounds later",
		"owner crashed on purpose", "owner death seen by a borrower", "owner death seen by the driver",
		"nested Refs read", "nested Refs read by a task given them inside an argument", "owner of nested Refs crashed on purpose", "nested Refs of a dead owner: owner died",
		"actor called through a handle passed to a task", "actor killed by a task through a passed handle",
		"actor created inside a task called by the driver", "actor died with the task worker that owned it", "actor created inside a task killed by the driver",
		"task with several returns read return by return", "actor call cancelled",
		"actor called itself in another concurrency group", "actor in a concurrency group called its default group",
		"stream read to its end", "stream error in place", "stream closed early", "stream value through plasma", "stream value yielded again by a retry", "streaming worker crashed on purpose",
		"task placed by its label selector", "task placed by a hard node affinity", "soft affinity to a dead node ran elsewhere",
		"actor generator method read to its end", "task waited for a node that could run it",
		"worker launched on demand", "infeasible actor reported", "actor ended when its handles went out of scope", "object put and read in chunks", "actor waited at the node's worker cap", "idle launched worker exited",
		"task ran on a reused lease", "task waited for a lease request slot of its class",
		"task pipelined behind another on its lease", "pipelined task started beside a blocked one",
		"object put through shared memory", "object read through shared memory", "shared memory unusable: bytes sent in messages",
		"placement group created", "task ran in its placement group bundle", "task into a removed placement group failed", "placement group still pending after 3s"}
}
