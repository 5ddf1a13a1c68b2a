package workload

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// The cluster workload runs Ray Core on the real components: a GCS,
// several raylets (each with plasma and a pool of worker processes) and
// drivers that submit task DAGs with small and large objects, puts, an
// infeasible task and a failing task, and check every result. Raylets,
// workers and the GCS crash under the crash fault; drivers do not.
//
// Drivers also create actors (named get-if-exists ones with unlimited
// restarts and call retries, and anonymous ones with one restart and no
// call retries), call and kill them, and submit nested "fanout" tasks
// whose bodies submit and wait for children owned by the executing
// worker, and cancel a slow task every round (cluster_cancel.go).
//
// Invariants: every Get returns exactly the value its task computes, or
// the documented error for the documented condition (Infeasible for a task
// that no node can fit, TaskFailed for a task that raises, ObjectLost for a
// Put object whose node died, ActorDied for a call to an actor without
// call retries that died with the call in flight, Cancelled for a task
// cancelled before it could finish); an actor never has two
// live incarnations (see cluster_actors.go for the precise statement);
// a caller's calls run in order; a node's available resources never go
// negative (the raylet asserts it) and are full again once the cluster is
// idle. Liveness: after healing, every driver finishes its round (so every
// retriable task and every actor call with retries left completes) and the
// cluster goes idle.

func init() {
	sim.RegisterWorkload("cluster", "GCS, raylets with plasma and workers, drivers submitting task DAGs with small and large objects",
		nil, newCluster)
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
	// Actors hold one "actor" slot for their lifetime; a node has
	// clusterActorsPerNode. Slots plus CPUs never exceed the node's worker
	// processes, so a node never has free resources but no free worker
	// (the simulator's worker pool is fixed; Ray would start more).
	clusterActorsPerNode  = 2
	actorResource         = "actor"
	clusterWorkersPerNode = clusterCPUsPerNode + clusterActorsPerNode
	bigObjectBytes        = 200 << 10 // above the 100 KiB inline limit: goes through plasma
)

type cluster struct {
	nodes, drivers int
	// launch gives every other driver a staged binary (the launch
	// workload, cluster_launch.go).
	launch  bool
	w       *sim.World
	drv     []*driver
	raylets []core.Addr

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
}

func newCluster(opts sim.Options) (sim.Workload, error) {
	c := &cluster{nodes: opts.Nodes, drivers: opts.Clients, executions: map[string]int64{}, fencedAt: map[core.NodeID]time.Duration{},
		hosts: map[core.ActorID][]actorHost{}, deadNodes: map[core.NodeID]bool{}}
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

func (c *cluster) Setup(w *sim.World) error {
	c.w = w
	w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process {
		// A short node timeout makes partitions declare nodes dead (and fence
		// them) within the fault phase.
		return gcs.NewServer(gcs.Config{NodeTimeout: 3 * time.Second, HealthCheckPeriod: 500 * time.Millisecond})
	})
	for i := range c.nodes {
		addr := core.Addr(fmt.Sprintf("raylet-%d", i+1))
		host := fmt.Sprintf("node-%d", i+1)
		c.raylets = append(c.raylets, addr)
		w.AddProcess(addr, sim.ProcOptions{Crashable: true, Host: host}, func() core.Process {
			l := &simLauncher{cl: c, raylet: addr, host: host}
			l.r = raylet.New(raylet.Config{GCS: "gcs", Resources: nodeResources(), ObjectStoreBytes: 64 << 20,
				OnFence:  func(n core.NodeID) { c.fencedAt[n] = c.w.Now(); c.w.Sometimes("node fenced") },
				Launcher: l, WorkerPoolMax: 8, IdleWorkerTimeout: 5 * time.Second})
			return l.r
		})
		for j := range clusterWorkersPerNode {
			w.AddProcess(core.Addr(fmt.Sprintf("%s/w%d", addr, j+1)), sim.ProcOptions{Crashable: true, Host: host, Parent: addr}, func() core.Process {
				return &simWorker{raylet: addr, cl: c}
			})
		}
	}
	for i := range c.drivers {
		d := &driver{cl: c, idx: i, raylet: c.raylets[i%len(c.raylets)], addr: core.Addr(fmt.Sprintf("driver-%d", i+1))}
		c.drv = append(c.drv, d)
		// A driver lives on its raylet's host but never crashes: its
		// objects would die with it (owner death is a separate path).
		w.AddProcess(d.addr, sim.ProcOptions{Host: fmt.Sprintf("node-%d", i%len(c.raylets)+1)}, func() core.Process { return d })
	}
	return nil
}

// fenceNewsMax bounds how long after its raylet learned of the node's death
// a worker may still start a task: the news travels over local IPC.
const fenceNewsMax = time.Millisecond

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
	return core.MustResources(core.CPU, clusterCPUsPerNode, core.Memory, 1<<30, actorResource, clusterActorsPerNode)
}

// actorResources is what each of the workload's actors holds.
var actorResources = core.MustResources(actorResource, 1)

// idle describes why the cluster is not idle ("" when it is): a live
// raylet with resources in use beyond the slots of the actors the GCS
// has ALIVE on its node.
func (c *cluster) idle() string {
	g, ok := c.w.Process("gcs").(*gcs.Server)
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
		want := nodeResources()
		for range actors[r.Node()] {
			want = want.Sub(actorResources)
		}
		if !r.Available().Equal(want) {
			return fmt.Sprintf("%s has %v available, want %v (total less %d live actors)", a, r.Available(), want, actors[r.Node()])
		}
	}
	return ""
}

func (c *cluster) Pending() string {
	var parts []string
	for _, d := range c.drv {
		if !d.finished {
			parts = append(parts, fmt.Sprintf("%s in round %d step %q (%d tasks, %d actor calls pending)", d.addr, d.round, d.step, d.cw.PendingTasks(), d.cw.PendingActorCalls()))
		}
	}
	if s := c.idle(); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
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
	return []string{"task retried", "object through plasma", "infeasible task reported", "user error returned", "fault: crash", "fault: host crash", "process fail-stop",
		"object rebuilt from lineage", "actor restarted", "spillback", "remote pull", "actor call retried", "nested task", "actor call answered", "actor killed", "owner died", "borrower registered", "node fenced", "borrowed object outlived its owner's references",
		"task cancelled", "task cancelled with force", "running task interrupted", "child of a cancelled task cancelled"}
}

// driver runs rounds of a fixed task DAG until the world heals.
type driver struct {
	cl     *cluster
	idx    int
	addr   core.Addr
	raylet core.Addr

	env      core.Env
	cw       *worker.Worker
	gcs      *gcs.Client
	round    int
	rounds   int
	step     string
	finished bool
	refs     []proto.ObjectRef
	seen     map[counterSeen]int64
	last     worker.Stats
}

func (d *driver) Start(env core.Env) {
	d.env = env
	d.gcs = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	d.seen = map[counterSeen]int64{}
	d.cw = worker.New(env, worker.Config{Raylet: d.raylet, Job: core.JobIDFromInt(uint32(d.idx + 1)), GCS: d.gcs, Binary: d.cl.binaryOf(d.idx)})
	worker.WatchNodes(env, d.gcs, d.cw)
	env.AfterFunc(time.Duration(100+env.Rand().IntN(400))*time.Millisecond, d.nextRound)
}

func (d *driver) Receive(from core.Addr, m core.Message) {
	if d.gcs.Handle(from, m) {
		return
	}
	d.cw.Handle(from, m)
}

func (d *driver) fail(format string, args ...any) {
	d.cl.w.Fail("invariant", fmt.Sprintf("%s round %d: %s", d.addr, d.round, fmt.Sprintf(format, args...)))
}

func (d *driver) submit(fn string, args []proto.Arg, opts worker.TaskOptions) proto.ObjectRef {
	if opts.MaxRetries == 0 {
		opts.MaxRetries = -1 // retry system failures forever: results must always arrive
	}
	refs, err := d.cw.SubmitTask(fn, args, opts)
	if err != nil {
		d.fail("submit %s: %v", fn, err)
		return proto.ObjectRef{}
	}
	d.refs = append(d.refs, refs...)
	return refs[0]
}

func ref(r proto.ObjectRef) proto.Arg { return proto.Arg{Ref: &r} }

func val(v int64) proto.Arg { return proto.Arg{Value: i64(v)} }

// nextRound submits one round's DAG and checks its results:
//
//	a = add(x, 5); b = mul(a, 3); c = big(b, 200 KiB); d = sum(c)
//	p = put(150 KiB); e = sum(p)
//
// plus, every third round, a task no node can fit and a task that raises.
func (d *driver) nextRound() {
	if d.cl.w.Healed() && d.rounds > 0 {
		d.finished = true
		return
	}
	d.round++
	x := int64(d.round*10 + d.idx)
	d.step = "submit"
	a := d.submit("add", []proto.Arg{val(x), val(5)}, worker.TaskOptions{})
	b := d.submit("mul", []proto.Arg{ref(a), val(3)}, worker.TaskOptions{Strategy: proto.Strategy{Kind: proto.StrategySpread}})
	c := d.submit("big", []proto.Arg{ref(b), val(bigObjectBytes)}, worker.TaskOptions{})
	sum := d.submit("sum", []proto.Arg{ref(c)}, worker.TaskOptions{})
	wantSum := checksum(bigBytes((x+5)*3, bigObjectBytes))

	pending := 2
	finish := func() {
		pending--
		if pending > 0 {
			return
		}
		for _, r := range d.refs {
			d.cw.Release(r)
		}
		d.refs = nil
		d.countPaths()
		d.rounds++
		d.step = "idle"
		d.env.AfterFunc(time.Duration(d.env.Rand().IntN(50))*time.Millisecond, d.nextRound)
	}
	// relay(c) hands the big object on to a task of its own and finishes
	// first: its worker becomes a borrower the driver must wait for.
	rel := d.submit("relay", []proto.Arg{ref(c)}, worker.TaskOptions{})
	pending++
	d.cw.Get(rel, func(v []byte, err error) {
		if err != nil {
			d.fail("get relay: %v", err)
			return
		}
		if d.cw.Stats().BorrowersAdded > 0 {
			d.cl.w.Sometimes("borrower registered")
		}
		finish()
	})
	d.step = "get sum"
	d.cw.Get(sum, func(v []byte, err error) {
		if err != nil {
			d.fail("get sum(big(mul(add(%d,5),3))): %v", x, err)
			return
		}
		if got, _ := asI64(v); got != wantSum {
			d.fail("sum = %d, want %d", got, wantSum)
			return
		}
		d.cl.w.Sometimes("object through plasma")
		finish()
	})
	putData := bigBytes(x*7, 150<<10)
	d.cw.Put(putData, func(p proto.ObjectRef, err error) {
		if err != nil {
			d.fail("put: %v", err)
			return
		}
		d.refs = append(d.refs, p)
		e := d.submit("sum", []proto.Arg{ref(p)}, worker.TaskOptions{})
		d.cw.Get(e, func(v []byte, err error) {
			if errors.Is(err, proto.ErrObjectLost) {
				// Documented: an object created by Put lives only in its
				// node's plasma store and cannot be rebuilt once that node
				// is gone (Ray's ObjectLostError for ray.put objects).
				d.cl.w.Sometimes("put object lost with its node")
				finish()
				return
			}
			if err != nil {
				d.fail("get sum(put): %v", err)
				return
			}
			if got, _ := asI64(v); got != checksum(putData) {
				d.fail("sum(put) = %d, want %d", got, checksum(putData))
				return
			}
			finish()
		})
	})
	pending += d.actorRound(x, finish)
	pending++
	d.cancelRound(finish)
	pending++
	fan := d.submit("fanout", []proto.Arg{val(3), val(x)}, worker.TaskOptions{})
	d.cw.Get(fan, func(v []byte, err error) {
		if err != nil {
			d.fail("get fanout(3, %d): %v", x, err)
			return
		}
		if got, _ := asI64(v); got != 4*x+7 {
			d.fail("fanout(3, %d) = %d, want %d", x, got, 4*x+7)
			return
		}
		finish()
	})
	if d.round%3 == 1 {
		pending += 2
		g := d.submit("add", []proto.Arg{val(1), val(2)}, worker.TaskOptions{Resources: core.MustResources(core.GPU, 1)})
		d.cw.Get(g, func(_ []byte, err error) {
			if !errors.Is(err, proto.ErrInfeasible) {
				d.fail("GPU task on a CPU-only cluster: got %v, want an infeasible error", err)
				return
			}
			d.cl.w.Sometimes("infeasible task reported")
			finish()
		})
		f := d.submit("fail", nil, worker.TaskOptions{})
		d.cw.Get(f, func(_ []byte, err error) {
			var te *proto.TaskError
			if !errors.As(err, &te) || te.Kind != proto.KindTaskFailed || !strings.Contains(te.Message, "intentional failure") {
				d.fail("failing task: got %v, want its user error", err)
				return
			}
			d.cl.w.Sometimes("user error returned")
			finish()
		})
	}
}

// Describe implements sim.Describer.
func (d *driver) Describe() string {
	return fmt.Sprintf("round=%d step=%s rounds=%d finished=%v %s", d.round, d.step, d.rounds, d.finished, d.cw.Describe())
}

// countPaths turns the core worker's and the raylets' counters into
// sometimes paths.
func (d *driver) countPaths() {
	st := d.cw.Stats()
	if st.Reconstructed > d.last.Reconstructed {
		d.cl.w.Sometimes("object rebuilt from lineage")
	}
	if st.ActorCallsRetried > d.last.ActorCallsRetried {
		d.cl.w.Sometimes("actor call retried")
	}
	if st.Spillbacks > d.last.Spillbacks {
		d.cl.w.Sometimes("spillback")
	}
	d.last = st
	for _, a := range d.cl.w.Addrs() {
		if sw, ok := d.cl.w.Process(a).(*simWorker); ok && sw.cw.Stats().OwnerDied > 0 {
			// A worker borrowing an object owned by a fanout worker that
			// died got OwnerDied (the borrowing task's result goes to the
			// dead owner; the driver retries the fanout).
			d.cl.w.Sometimes("owner died")
			break
		}
	}
	for _, a := range d.cl.raylets {
		if r, ok := d.cl.w.Process(a).(*raylet.Raylet); ok && r.Stats().Pulls > 0 {
			d.cl.w.Sometimes("remote pull")
			break
		}
	}
}
