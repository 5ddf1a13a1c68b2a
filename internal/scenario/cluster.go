package scenario

import (
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
)

// gcsAddr is the GCS's address in every world.
const gcsAddr core.Addr = "gcs"

// cluster is what runs in a world: the GCS, nodes (a raylet each, with its
// plasma store), worker processes of those nodes and drivers, all real
// components; and what the scenario named: tasks, objects, bodies running
// on workers.
type cluster struct {
	w      *World
	gcsCfg gcs.Config
	gcs    *proc

	nodes   map[string]*node
	drivers map[core.Addr]*driverHost
	workers map[core.Addr]*workerHost
	// jobs counts drivers, each of which gets a job of its own.
	jobs uint32

	tasks    map[string]*task
	taskByID map[core.TaskID]*task
	objects  map[string]object
	// bodies are the task bodies running on workers, by task name.
	bodies map[string]*body
}

type node struct {
	name    string
	cfg     raylet.Config
	p       *proc
	workers []core.Addr
}

// raylet returns the node's current raylet (nil if it is down).
func (n *node) raylet() *raylet.Raylet {
	if !n.p.alive {
		return nil
	}
	r, _ := n.p.p.(*raylet.Raylet)
	return r
}

// task is a task the scenario submitted.
type task struct {
	name   string
	driver core.Addr
	refs   []proto.ObjectRef
	// run says what its body does: "hold" until a finish command,
	// "return" its result at once, "fail" at once with an error.
	run  string
	size int
}

// object is an object the scenario named: a Put or a task's return.
type object struct {
	ref    proto.ObjectRef
	holder core.Addr // the driver whose reference the scenario holds
}

// body is a task body running on a worker, waiting for a finish command.
type body struct {
	task    *task
	worker  core.Addr
	inc     int
	attempt uint32
	done    func([][]byte, *proto.TaskError)
}

func newCluster(w *World) *cluster {
	return &cluster{w: w, nodes: map[string]*node{}, drivers: map[core.Addr]*driverHost{}, workers: map[core.Addr]*workerHost{},
		tasks: map[string]*task{}, taskByID: map[core.TaskID]*task{}, objects: map[string]object{}, bodies: map[string]*body{}}
}

// startGCS starts the GCS with the configuration set so far.
func (c *cluster) startGCS() {
	if c.gcs != nil {
		return
	}
	cfg := c.gcsCfg
	c.gcs = c.w.add(gcsAddr, func() core.Process { return gcs.NewServer(cfg) })
}

// addNode starts a raylet named name (its address too) and names its
// node id.
func (c *cluster) addNode(name string, cfg raylet.Config) *node {
	c.startGCS()
	cfg.GCS = gcsAddr
	n := &node{name: name, cfg: cfg}
	c.nodes[name] = n
	n.p = c.w.add(core.Addr(name), func() core.Process { return raylet.New(cfg) })
	c.nameNode(n)
	return n
}

func (c *cluster) nameNode(n *node) {
	r := n.raylet()
	if r == nil {
		return
	}
	c.w.names.node(r.Node(), n.name)
}

// driverHost is a driver process: a core worker that submits and owns
// tasks, with a GCS client that follows node deaths (worker.WatchNodes),
// as the driver processes of package internal/process do.
type driverHost struct {
	raylet core.Addr
	job    core.JobID
	gcs    *gcs.Client
	cw     *worker.Worker
}

// Start implements core.Process.
func (d *driverHost) Start(env core.Env) {
	d.gcs = gcs.NewClient(env, gcsAddr, gcs.ClientOptions{})
	d.cw = worker.New(env, worker.Config{Raylet: d.raylet, Job: d.job, GCS: d.gcs, TaskEventsMax: -1})
	worker.WatchNodes(env, d.gcs, d.cw)
}

// Receive implements core.Process.
func (d *driverHost) Receive(from core.Addr, m core.Message) {
	if d.gcs.Handle(from, m) {
		return
	}
	d.cw.Handle(from, m)
}

// workerHost is a worker process of a node: a core worker that executes
// pushed tasks with the scenario's executor, after registering with its
// raylet (retried every second until it answers), as the worker
// processes of package internal/process do.
type workerHost struct {
	c      *cluster
	raylet core.Addr
	env    core.Env
	id     core.WorkerID
	cli    *rpc.Client
	cw     *worker.Worker
}

// Start implements core.Process.
func (h *workerHost) Start(env core.Env) {
	h.env = env
	h.id = core.NewWorkerID(env.Rand())
	h.cli = rpc.NewClient(env)
	p := h.c.w.procs[env.Self()]
	h.c.w.names.worker(h.id, fmt.Sprintf("%s#%d", env.Self(), p.inc))
	h.cw = worker.New(env, worker.Config{Raylet: h.raylet, Executor: &executor{c: h.c, addr: env.Self()}, WorkerID: h.id, TaskEventsMax: -1})
	h.register()
}

func (h *workerHost) register() {
	reg := &proto.RegisterWorker{Worker: h.id, OwnerID: h.cw.Incarnation()}
	h.cli.Call(h.raylet, reg, rpc.Options{Timeout: time.Second}, func(m core.Message, err error) {
		if err != nil {
			h.env.AfterFunc(time.Second, h.register)
			return
		}
		h.cw.SetNode(m.(*proto.RegisterWorkerReply).Node)
	})
}

// Receive implements core.Process.
func (h *workerHost) Receive(from core.Addr, m core.Message) {
	if h.cli.Handle(from, m) {
		return
	}
	h.cw.Handle(from, m)
}

// executor runs the scenario's task bodies on one worker: each does what
// its submit command said (run=hold|return|fail). It is a
// worker.Interrupter: an interrupted body that holds returns an error,
// as a body that sees its context cancelled does.
type executor struct {
	c    *cluster
	addr core.Addr
}

// Execute implements worker.Executor.
func (x *executor) Execute(spec *proto.TaskSpec, _ [][]byte, done func([][]byte, *proto.TaskError)) {
	t := x.c.taskByID[spec.TaskID]
	if t == nil {
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "the scenario submitted no task %v", spec.TaskID))
		return
	}
	x.c.w.printf("%s runs %s attempt %d", x.addr, t.name, spec.Attempt)
	switch t.run {
	case "return":
		done(returnValues(spec, t.size), nil)
	case "fail":
		done(nil, proto.NewError(proto.KindTaskFailed, "", "the body failed (run=fail)"))
	default:
		x.c.bodies[t.name] = &body{task: t, worker: x.addr, inc: x.c.w.procs[x.addr].inc, attempt: spec.Attempt, done: done}
	}
}

// Interrupt implements worker.Interrupter.
func (x *executor) Interrupt(id core.TaskID) {
	t := x.c.taskByID[id]
	if t == nil {
		return
	}
	b := x.c.bodies[t.name]
	if b == nil || b.worker != x.addr {
		return
	}
	delete(x.c.bodies, t.name)
	x.c.w.printf("%s interrupts %s attempt %d", x.addr, t.name, b.attempt)
	b.done(nil, proto.NewError(proto.KindTaskFailed, "", "context canceled"))
}

// CreateActor implements worker.Executor; scenarios create no actors.
func (x *executor) CreateActor(_ *proto.TaskSpec, _ [][]byte, done func([]byte, *proto.TaskError)) {
	done(nil, proto.NewError(proto.KindTaskFailed, "", "scenarios create no actors"))
}

// CallActor implements worker.Executor; scenarios create no actors.
func (x *executor) CallActor(_ *proto.TaskSpec, _ []byte, _ [][]byte, done func([]byte, [][]byte, *proto.TaskError)) {
	done(nil, nil, proto.NewError(proto.KindTaskFailed, "", "scenarios create no actors"))
}

// returnValues returns spec's return values, each size bytes.
func returnValues(spec *proto.TaskSpec, size int) [][]byte {
	rets := make([][]byte, spec.NumReturns)
	for i := range rets {
		rets[i] = make([]byte, size)
	}
	return rets
}

// addDriver starts a driver process at addr whose local raylet is
// node's.
func (c *cluster) addDriver(addr core.Addr, n *node) {
	c.jobs++
	d := &driverHost{raylet: core.Addr(n.name), job: core.JobIDFromInt(c.jobs)}
	c.w.add(addr, func() core.Process {
		cp := *d
		c.drivers[addr] = &cp
		return &cp
	})
}

// addWorker starts a worker process of node n.
func (c *cluster) addWorker(n *node) core.Addr {
	addr := core.Addr(fmt.Sprintf("%s/w%d", n.name, len(n.workers)+1))
	n.workers = append(n.workers, addr)
	c.w.add(addr, func() core.Process {
		h := &workerHost{c: c, raylet: core.Addr(n.name)}
		c.workers[addr] = h
		return h
	})
	return addr
}

// driver returns the live driver at addr.
func (c *cluster) driver(addr core.Addr) (*driverHost, error) {
	d := c.drivers[addr]
	if d == nil {
		return nil, fmt.Errorf("no driver %s (add one with: driver name=%s node=n1)", addr, addr)
	}
	if !c.w.procs[addr].alive {
		return nil, fmt.Errorf("driver %s is down", addr)
	}
	return d, nil
}
