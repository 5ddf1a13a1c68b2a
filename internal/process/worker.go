package process

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/registry"
)

// WorkerConfig configures a worker process.
type WorkerConfig struct {
	// Raylet is the address of the node's raylet, GCS the GCS's.
	Raylet, GCS core.Addr
	// Binary, Launch and Job identify a worker process a raylet launched
	// from a staged job binary; all empty for a node's own workers.
	Binary, Launch string
	Job            core.JobID
	// Context, when set, is the parent of every body's ctx: values a
	// host program hands its task bodies and actor methods (a simulated
	// workload hands its checks). Its cancellation cancels the bodies, as
	// Stop does. Default context.Background().
	Context context.Context
	// Hooks observe the worker (a simulated workload's checks); nil
	// fields are skipped.
	Hooks WorkerHooks
	// ObjectChunkBytes is the core worker's (worker.Config); 0 for the
	// default.
	ObjectChunkBytes int
	// SharedMin is the core worker's (worker.Config): the smallest
	// object put through the host's shared memory; 0 for the default.
	SharedMin int
}

// WorkerHooks are called on the worker's loop.
type WorkerHooks struct {
	// BeforeRun is called when the core worker hands the worker a task,
	// an actor constructor or an actor method to run, before the worker
	// looks its code (or the actor's object) up, with the node the worker
	// belongs to: it sees every dispatch, also one that fails here.
	BeforeRun func(node core.NodeID, spec *proto.TaskSpec)
	// Exiting is called when the worker exits on its own, with why.
	Exiting func(why string)
}

// Worker is a worker process of one node: a core worker whose Executor
// runs registered Go functions as Env.Go work (goroutines on hosts,
// coroutines in the simulator) and keeps the live Go objects of the
// actors it hosts. It registers with its raylet every second; when the
// raylet answers with another node id its node is gone and it exits, as
// Ray's workers do when their raylet goes away (a fail-stop, after which
// the node's pool or the simulator starts a fresh worker). A launched
// worker whose raylet stays unreachable exits too.
type Worker struct {
	cfg WorkerConfig

	env    core.Env
	id     core.WorkerID
	node   core.NodeID
	cw     *worker.Worker
	cli    *rpc.Client
	gcs    *gcs.Client
	next   uint64
	waits  map[uint64]func(*execDone)
	exited bool
	// regFailures counts registrations in a row that got no answer.
	regFailures int

	// actors holds the live object of the actor this worker hosts (the
	// core worker hosts at most one; an actor keeps its worker).
	actors map[core.ActorID]any
	// bodies holds the cancel function of each running task body's ctx,
	// for Interrupt.
	bodies map[core.TaskID]context.CancelFunc

	// ctx is the parent of every body's ctx; Stop cancels it so that
	// bodies waiting on the cluster return.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewWorker returns a worker process; the host or world starts it.
func NewWorker(cfg WorkerConfig) *Worker { return &Worker{cfg: cfg} }

// execDone carries the result of a body run with Env.Go back to the
// worker's loop. It never crosses the network (results of Env.Go are
// not encoded), so its type is not registered with core.
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

// Start implements core.Process.
func (w *Worker) Start(env core.Env) {
	w.env = env
	w.id = core.NewWorkerID(env.Rand())
	w.cli = rpc.NewClient(env)
	w.waits = map[uint64]func(*execDone){}
	w.actors = map[core.ActorID]any{}
	w.bodies = map[core.TaskID]context.CancelFunc{}
	parent := w.cfg.Context
	if parent == nil {
		parent = context.Background()
	}
	w.ctx, w.cancel = context.WithCancel(parent)
	w.gcs = gcs.NewClient(env, w.cfg.GCS, gcs.ClientOptions{})
	w.cw = worker.New(env, worker.Config{Raylet: w.cfg.Raylet, Executor: w, GCS: w.gcs, WorkerID: w.id, Binary: w.cfg.Binary, ObjectChunkBytes: w.cfg.ObjectChunkBytes, SharedMin: w.cfg.SharedMin})
	// Workers own the children of nested tasks, so they follow node
	// deaths like drivers do.
	worker.WatchNodes(env, w.gcs, w.cw)
	w.register()
}

// Stop implements core.Stopper.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// ID returns the worker's id; CoreWorker its core worker. For checks
// and tests, on the loop.
func (w *Worker) ID() core.WorkerID { return w.id }

// CoreWorker returns the worker's core worker.
func (w *Worker) CoreWorker() *worker.Worker { return w.cw }

// CheckInvariants checks the core worker's reference table (see
// worker.Worker.CheckInvariants); the simulator calls it after every
// event in builds with the invariants tag.
func (w *Worker) CheckInvariants() error {
	if w.cw == nil {
		return nil
	}
	return w.cw.CheckInvariants()
}

// Node returns the node the worker registered with (nil before).
func (w *Worker) Node() core.NodeID { return w.node }

// exit fail-stops the worker for why.
func (w *Worker) exit(why string) {
	w.exited = true
	if w.cfg.Hooks.Exiting != nil {
		w.cfg.Hooks.Exiting(why)
	}
	panic(core.FailStop{Reason: why})
}

func (w *Worker) register() {
	if w.exited {
		return
	}
	c := w.cfg
	w.cli.Call(c.Raylet, &proto.RegisterWorker{Worker: w.id, Binary: c.Binary, Launch: c.Launch, Job: c.Job, OwnerID: w.cw.Incarnation(), Owns: w.cw.Owns()}, rpc.Options{Timeout: time.Second}, func(m core.Message, err error) {
		if w.exited {
			return
		}
		if err != nil {
			w.regFailures++
			if c.Launch != "" && w.regFailures >= launchedOrphanAfter {
				w.exit(fmt.Sprintf("raylet %s unreachable for %d registrations: the node is gone", c.Raylet, w.regFailures))
			}
			return
		}
		w.regFailures = 0
		node := m.(*proto.RegisterWorkerReply).Node
		if !w.node.IsNil() && node != w.node {
			w.exit(fmt.Sprintf("raylet restarted as %v; node %v is gone", node, w.node))
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
func (w *Worker) Receive(from core.Addr, m core.Message) {
	if x, ok := m.(*proto.ExitWorker); ok {
		if from == w.cfg.Raylet && x.Worker == w.id && !w.exited {
			w.exit("idle: the raylet shrank the job's worker pool")
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

// beforeRun calls the BeforeRun hook, if any.
func (w *Worker) beforeRun(spec *proto.TaskSpec) {
	if h := w.cfg.Hooks.BeforeRun; h != nil {
		h(w.node, spec)
	}
}

// run executes work as Env.Go work and hands its result to done on the
// loop.
func (w *Worker) run(spec *proto.TaskSpec, done func(*execDone), work func() *execDone) {
	w.next++
	id := w.next
	w.waits[id] = done
	core.GoNamed(w.env, spec.Function, func() core.Message {
		d := work()
		d.id = id
		return d
	})
}

// bodyCtx is the ctx of a body: cancelled when the worker stops, and
// carrying the caller through which the body submits nested work.
func (w *Worker) bodyCtx(spec *proto.TaskSpec) context.Context {
	c := &Caller{Env: w.env, Parent: spec,
		Worker: func() *worker.Worker { return w.cw },
		GCS:    func() *gcs.Client { return w.gcs }}
	return WithCaller(w.ctx, c)
}

// Execute implements worker.Executor. The body's ctx is cancelled when
// the task is interrupted (Interrupt), when it returns, and when the
// worker stops.
func (w *Worker) Execute(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	w.beforeRun(spec)
	f := registry.Task(spec.Function)
	if f == nil {
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "no task %q is registered in this program; register it with gray.Task* at package init", spec.Function))
		return
	}
	sp := *spec
	ctx, cancel := context.WithCancel(w.bodyCtx(&sp))
	w.bodies[sp.TaskID] = cancel
	w.run(&sp, func(d *execDone) {
		delete(w.bodies, sp.TaskID)
		cancel()
		done(d.returns, d.err)
	}, func() *execDone {
		out, terr := protect(func() ([][]byte, error) { return f(ctx, args) })
		if terr != nil {
			return &execDone{err: terr}
		}
		return &execDone{returns: out}
	})
}

// Interrupt implements worker.Interrupter: it cancels the ctx of the
// task's body, if it still runs here.
func (w *Worker) Interrupt(task core.TaskID) {
	if cancel := w.bodies[task]; cancel != nil {
		cancel()
	}
}

// actorState is the opaque state the core worker keeps for an actor
// hosted here: the live object stays in Worker.actors.
var actorState = []byte("live")

// CreateActor implements worker.Executor.
func (w *Worker) CreateActor(spec *proto.TaskSpec, args [][]byte, done func([]byte, *proto.TaskError)) {
	w.beforeRun(spec)
	f := registry.Ctor(spec.Function)
	if f == nil {
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "no actor class %q is registered in this program; register it with gray.Actor* at package init", spec.Function))
		return
	}
	sp := *spec
	var obj any
	w.run(&sp, func(d *execDone) {
		if d.err == nil {
			// The core worker hosts one actor at a time: a new creation
			// means any earlier actor here was abandoned.
			clear(w.actors)
			w.actors[sp.ActorID] = obj
		}
		done(d.state, d.err)
	}, func() *execDone {
		_, terr := protect(func() ([][]byte, error) {
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

// CallActor implements worker.Executor. The core worker runs as many calls
// at once as the actor's max concurrency: with the default of one, the
// live object is never used by two bodies at once; with more, the
// methods share it as goroutines do (in the simulator, as coroutines that
// interleave only where they wait) and must synchronize their state.
func (w *Worker) CallActor(spec *proto.TaskSpec, state []byte, args [][]byte, done func([]byte, [][]byte, *proto.TaskError)) {
	w.beforeRun(spec)
	f := registry.Method(spec.Function)
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
	// Its ctx is cancelled when its caller cancels it (Interrupt), when
	// it returns, and when the worker stops.
	ctx, cancel := context.WithCancel(w.bodyCtx(&sp))
	w.bodies[sp.TaskID] = cancel
	w.run(&sp, func(d *execDone) {
		delete(w.bodies, sp.TaskID)
		cancel()
		done(state, d.returns, d.err)
	}, func() *execDone {
		out, terr := protect(func() ([][]byte, error) { return f(ctx, obj, args) })
		if terr != nil {
			return &execDone{err: terr}
		}
		return &execDone{returns: out}
	})
}

// protect runs a user body, turning its error or panic into a TaskError.
func protect(f func() ([][]byte, error)) (out [][]byte, terr *proto.TaskError) {
	defer func() {
		if r := recover(); r != nil {
			terr = &proto.TaskError{Kind: proto.KindTaskFailed, Message: fmt.Sprintf("panic: %v", r), Stack: string(debug.Stack())}
		}
	}()
	out, err := f()
	if err != nil {
		sentinels, values := proto.Identify(err)
		return nil, &proto.TaskError{Kind: proto.KindTaskFailed, Message: err.Error(), Cause: proto.CauseOf(err), Sentinels: sentinels, Values: values}
	}
	return out, nil
}

// Describe describes the worker's state, for gray sim replay --until.
func (w *Worker) Describe() string {
	return fmt.Sprintf("%v of %v running=%d %s", w.id, w.node, len(w.waits), w.cw.Describe())
}
