package gray

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
)

// execDone carries the result of a task body run with Env.Go back to the
// worker's event loop. It never crosses the network (results of Env.Go
// are not encoded), so its type is not registered with core.
type execDone struct {
	id      uint64
	state   []byte
	returns [][]byte
	err     *proto.TaskError
}

// msgExecDone is outside the ranges core and the components use.
const msgExecDone core.MsgType = 64900

// MsgType implements core.Message.
func (*execDone) MsgType() core.MsgType { return msgExecDone }

// driverProc is the process whose core worker the API uses outside task
// bodies: it submits tasks, owns their results and creates actors. An
// embedded driver knows its raylet and job at Start; a joining driver
// gets them from the GCS first (attach).
type driverProc struct {
	raylet, gcsAddr core.Addr
	job             core.JobID
	binary          string // the staged job binary's hash, when joined
	// preferRaylet is WithRaylet's address; log gets failover records;
	// logOut gets the job's workers' output (nil: dropped).
	preferRaylet string
	log          *slog.Logger
	logOut       io.Writer

	env   core.Env
	gcs   *gcs.Client
	cw    *worker.Worker // nil until attached
	alive map[core.NodeID]core.Addr
	lost  bool // the raylet's node died and no other node was alive
}

// Start implements core.Process.
func (d *driverProc) Start(env core.Env) {
	d.env = env
	d.alive = map[core.NodeID]core.Addr{}
	d.gcs = gcs.NewClient(env, d.gcsAddr, gcs.ClientOptions{})
	if d.raylet != "" {
		d.attach(d.raylet, d.job, nil)
	}
}

// attach starts the core worker on raylet for job; nodes is the node
// table the raylet was chosen from.
func (d *driverProc) attach(raylet core.Addr, job core.JobID, nodes []gcs.NodeInfo) {
	d.raylet, d.job = raylet, job
	for _, n := range nodes {
		d.observeNode(n)
	}
	d.cw = worker.New(d.env, worker.Config{Raylet: raylet, Job: job, GCS: d.gcs, Binary: d.binary})
	worker.WatchNodes(d.env, d.gcs, d.cw, d.observeNode)
}

// observeNode keeps the set of alive nodes and moves the driver to
// another raylet when its own node dies (Ray's drivers fate-share with
// their local raylet; a joined driver has none of its own). A new
// incarnation at the same address (a restarted head) keeps it there.
func (d *driverProc) observeNode(n gcs.NodeInfo) {
	if n.State == gcs.NodeAlive {
		d.alive[n.ID] = n.Addr
	} else {
		delete(d.alive, n.ID)
	}
	if d.cw == nil {
		return
	}
	cur := d.cw.Raylet()
	addrs := make([]core.Addr, 0, len(d.alive))
	for _, a := range d.alive { //gray:unordered sorted below
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	if slices.Contains(addrs, cur) {
		d.lost = false
		return
	}
	if !(n.State == gcs.NodeDead && n.Addr == cur) && !d.lost {
		return
	}
	if len(addrs) == 0 {
		d.lost = true
		d.log.Warn("gray: the driver's node died and no other node is alive; waiting for one", "raylet", string(cur))
		return
	}
	d.lost = false
	d.log.Warn("gray: the driver's node died; submitting through another", "dead", string(cur), "now", string(addrs[0]))
	d.cw.SetRaylet(addrs[0])
}

// Receive implements core.Process.
func (d *driverProc) Receive(from core.Addr, m core.Message) {
	if wl, ok := m.(*proto.WorkerLogs); ok {
		d.printLogs(wl)
		return
	}
	if d.gcs.Handle(from, m) || d.cw == nil {
		return
	}
	d.cw.Handle(from, m)
}

// printLogs writes a launched worker's output lines to the driver's
// log output, prefixed with where they come from, as Ray's driver does.
func (d *driverProc) printLogs(wl *proto.WorkerLogs) {
	if d.logOut == nil || wl.Job != d.job {
		return
	}
	node := wl.Node.String()
	if len(node) > len("node:")+8 {
		node = node[len("node:") : len("node:")+8]
	}
	var b strings.Builder
	for _, l := range wl.Lines {
		fmt.Fprintf(&b, "(pid=%d, node=%s) %s\n", wl.Pid, node, l)
	}
	_, _ = io.WriteString(d.logOut, b.String())
}

// workerProc is a worker process of one node: a core worker whose
// Executor runs registered Go functions on goroutines (Env.Go) and keeps
// the live Go objects of the actors it hosts. It registers with its
// raylet every second, as the simulator's workers do; when the raylet
// answers with another node id, its node is gone and it exits.
type workerProc struct {
	host    *net.Host
	raylet  core.Addr
	gcsAddr core.Addr
	// binary and launch identify a worker process a raylet launched from
	// a staged job binary (empty for a node's own workers).
	binary, launch string
	job            core.JobID
	// regFailures counts registrations in a row that got no answer; a
	// launched worker whose raylet is gone for good exits.
	regFailures int

	env    core.Env
	id     core.WorkerID
	node   core.NodeID
	cw     *worker.Worker
	cli    *rpc.Client
	gcs    *gcs.Client
	next   uint64
	waits  map[uint64]func(*execDone)
	exited bool

	// actors holds the live object of the actor this worker hosts (the
	// core worker hosts at most one; an actor keeps its worker).
	actors map[core.ActorID]any

	// bodies holds the cancel function of each running task body's ctx,
	// for Interrupt; touched only on the event loop.
	bodies map[core.TaskID]*body

	// ctx is given to task bodies; Stop cancels it so that bodies waiting
	// on the cluster return and Host.Close can finish.
	ctx    context.Context
	cancel context.CancelFunc
}

// Start implements core.Process.
func (w *workerProc) Start(env core.Env) {
	w.env = env
	w.id = core.NewWorkerID(env.Rand())
	w.cli = rpc.NewClient(env)
	w.waits = map[uint64]func(*execDone){}
	w.actors = map[core.ActorID]any{}
	w.bodies = map[core.TaskID]*body{}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.gcs = gcs.NewClient(env, w.gcsAddr, gcs.ClientOptions{})
	w.cw = worker.New(env, worker.Config{Raylet: w.raylet, Executor: w, GCS: w.gcs, WorkerID: w.id, Binary: w.binary})
	worker.WatchNodes(env, w.gcs, w.cw)
	w.register()
}

// Stop implements core.Stopper.
func (w *workerProc) Stop() { w.cancel() }

func (w *workerProc) register() {
	if w.exited {
		return
	}
	w.cli.Call(w.raylet, &proto.RegisterWorker{Worker: w.id, Binary: w.binary, Launch: w.launch, Job: w.job}, rpc.Options{Timeout: time.Second}, func(m core.Message, err error) {
		if err != nil {
			w.regFailures++
			if w.launch != "" && w.regFailures >= launchedOrphanAfter {
				w.exited = true
				panic(core.FailStop{Reason: fmt.Sprintf("raylet %s unreachable for %d registrations: the node is gone", w.raylet, w.regFailures)})
			}
			return
		}
		w.regFailures = 0
		node := m.(*proto.RegisterWorkerReply).Node
		if !w.node.IsNil() && node != w.node {
			w.exited = true
			panic(core.FailStop{Reason: fmt.Sprintf("raylet restarted as %v; node %v is gone", node, w.node)})
		}
		w.node = node
		w.cw.SetNode(node)
	})
	w.env.AfterFunc(time.Second, w.register)
}

// launchedOrphanAfter is how many registrations in a row a launched
// worker may fail (one a second) before it decides its node is gone.
const launchedOrphanAfter = 30

// Receive implements core.Process.
func (w *workerProc) Receive(from core.Addr, m core.Message) {
	if x, ok := m.(*proto.ExitWorker); ok {
		if from == w.raylet && x.Worker == w.id && !w.exited {
			w.exited = true
			panic(core.FailStop{Reason: "idle: the raylet shrank the job's worker pool"})
		}
		return
	}
	if d, ok := m.(*execDone); ok && from == w.env.Self() {
		if done := w.waits[d.id]; done != nil {
			delete(w.waits, d.id)
			done(d)
		}
		return
	}
	if w.gcs.Handle(from, m) || w.cli.Handle(from, m) {
		return
	}
	w.cw.Handle(from, m)
}

// run executes work on a goroutine of its own (Env.Go) and hands its
// result to done on the event loop.
func (w *workerProc) run(done func(*execDone), work func() *execDone) {
	w.next++
	id := w.next
	w.waits[id] = done
	w.env.Go(func() core.Message {
		d := work()
		d.id = id
		return d
	})
}

// bodyCtx is the ctx of a task body: cancelled when the worker stops, and
// carrying the caller through which the body submits nested work.
func (w *workerProc) bodyCtx(spec *proto.TaskSpec) context.Context {
	c := &caller{host: w.host, addr: w.env.Self(), parent: spec, done: w.ctx.Done()}
	c.cw = func() *worker.Worker { return w.cw }
	c.gcs = func() *gcs.Client { return w.gcs }
	return context.WithValue(w.ctx, callerKey{}, c)
}

// body is a running task body: cancel cancels its ctx.
type body struct{ cancel context.CancelFunc }

// Execute implements worker.Executor. The body's ctx is cancelled when
// the task is interrupted (Interrupt), when it returns, and when the
// worker stops.
func (w *workerProc) Execute(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	f := lookupFunc(spec.Function)
	if f == nil {
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "no task %q is registered in this program; register it with gray.Task* at package init", spec.Function))
		return
	}
	sp := *spec
	ctx, cancel := context.WithCancel(w.bodyCtx(&sp))
	b := &body{cancel: cancel}
	w.bodies[sp.TaskID] = b
	w.run(func(d *execDone) {
		if w.bodies[sp.TaskID] == b {
			delete(w.bodies, sp.TaskID)
		}
		cancel()
		done(d.returns, d.err)
	}, func() *execDone {
		out, terr := protect(func() ([]byte, error) { return f(ctx, args) })
		if terr != nil {
			return &execDone{err: terr}
		}
		return &execDone{returns: [][]byte{out}}
	})
}

// Interrupt implements worker.Interrupter: it cancels the ctx of the
// task's body, if it still runs here.
func (w *workerProc) Interrupt(task core.TaskID) {
	if b := w.bodies[task]; b != nil {
		b.cancel()
	}
}

// actorState is the opaque state the core worker keeps for an actor
// hosted here: the live object stays in workerProc.actors.
var actorState = []byte("live")

// CreateActor implements worker.Executor.
func (w *workerProc) CreateActor(spec *proto.TaskSpec, args [][]byte, done func([]byte, *proto.TaskError)) {
	f := lookupCtor(spec.Function)
	if f == nil {
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "no actor class %q is registered in this program; register it with gray.Actor* at package init", spec.Function))
		return
	}
	sp := *spec
	var obj any
	w.run(func(d *execDone) {
		if d.err == nil {
			// The core worker hosts one actor at a time: a new creation
			// means any earlier actor here was abandoned.
			clear(w.actors)
			w.actors[sp.ActorID] = obj
		}
		done(d.state, d.err)
	}, func() *execDone {
		_, terr := protect(func() ([]byte, error) {
			o, err := f(w.bodyCtx(&sp), args)
			obj = o
			return nil, err
		})
		if terr != nil {
			return &execDone{err: terr}
		}
		return &execDone{state: actorState}
	})
}

// CallActor implements worker.Executor. The core worker runs one call at
// a time, so the live object is never used by two goroutines at once.
func (w *workerProc) CallActor(spec *proto.TaskSpec, state []byte, args [][]byte, done func([]byte, [][]byte, *proto.TaskError)) {
	f := lookupMethod(spec.Function)
	if f == nil {
		done(nil, nil, proto.NewError(proto.KindUnknownFunction, "", "no actor method %q is registered in this program; register it with gray.Method* at package init", spec.Function))
		return
	}
	obj, ok := w.actors[spec.ActorID]
	if !ok {
		done(nil, nil, proto.NewError(proto.KindActorDied, "", "worker %s does not host actor %v", w.env.Self(), spec.ActorID))
		return
	}
	sp := *spec
	w.run(func(d *execDone) { done(state, d.returns, d.err) }, func() *execDone {
		out, terr := protect(func() ([]byte, error) { return f(w.bodyCtx(&sp), obj, args) })
		if terr != nil {
			return &execDone{err: terr}
		}
		return &execDone{returns: [][]byte{out}}
	})
}

// protect runs a user body, turning its error or panic into a TaskError.
func protect(f func() ([]byte, error)) (out []byte, terr *proto.TaskError) {
	defer func() {
		if r := recover(); r != nil {
			terr = &proto.TaskError{Kind: proto.KindTaskFailed, Message: fmt.Sprintf("panic: %v", r), Stack: string(debug.Stack())}
		}
	}()
	out, err := f()
	if err != nil {
		return nil, &proto.TaskError{Kind: proto.KindTaskFailed, Message: err.Error()}
	}
	return out, nil
}
