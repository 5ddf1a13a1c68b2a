package workload

import (
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// execDone carries the result of a task body run with env.Go back to the
// worker's event loop. It never crosses the network.
type execDone struct {
	ID      uint64
	State   []byte
	Returns [][]byte
	Err     *proto.TaskError
}

const msgExecDone core.MsgType = 900

// MsgType implements core.Message.
func (*execDone) MsgType() core.MsgType { return msgExecDone }

func init() {
	core.RegisterMessage(msgExecDone, 1, "workload.execDone", func() core.Message { return new(execDone) })
}

// simWorker is a worker process of one node: a core worker in worker mode
// whose executor runs the workload's functions through env.Go. It
// registers with its raylet every second; when the raylet answers with a
// different node id, the node it belonged to has died (the raylet
// restarted as a new node), and the worker exits as Ray's workers do when
// their raylet goes away — here by fail-stopping, after which the
// simulator restarts it as a fresh worker of the new node.
type simWorker struct {
	raylet core.Addr
	cl     *cluster
	// binary, launch and job identify a worker a raylet launched
	// (cluster_launch.go); empty for the node's own workers.
	binary, launch string
	job            core.JobID

	env    core.Env
	id     core.WorkerID
	node   core.NodeID
	cw     *worker.Worker
	cli    *rpc.Client
	next   uint64
	gcs    *gcs.Client
	waits  map[uint64]func([]byte, [][]byte, *proto.TaskError)
	exited bool
	// slowBodies are the running slow bodies, which Interrupt ends
	// (cluster_cancel.go).
	slowBodies map[core.TaskID]*slowBody
}

func (w *simWorker) Start(env core.Env) {
	w.env = env
	w.id = core.NewWorkerID(env.Rand())
	w.cli = rpc.NewClient(env)
	w.waits = map[uint64]func([]byte, [][]byte, *proto.TaskError){}
	w.slowBodies = map[core.TaskID]*slowBody{}
	// Workers own the children of nested tasks, so they follow node
	// deaths like drivers do.
	w.gcs = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	w.cw = worker.New(env, worker.Config{Raylet: w.raylet, Executor: w, GCS: w.gcs, WorkerID: w.id, Binary: w.binary})
	worker.WatchNodes(env, w.gcs, w.cw)
	w.register()
}

func (w *simWorker) register() {
	if w.exited {
		return
	}
	w.cli.Call(w.raylet, &proto.RegisterWorker{Worker: w.id, Binary: w.binary, Launch: w.launch, Job: w.job}, rpc.Options{Timeout: time.Second}, func(m core.Message, err error) {
		if err == nil {
			node := m.(*proto.RegisterWorkerReply).Node
			if !w.node.IsNil() && node != w.node {
				w.exited = true
				panic(core.FailStop{Reason: fmt.Sprintf("raylet restarted as %v; node %v is gone", node, w.node)})
			}
			w.node = node
			w.cw.SetNode(node)
		}
	})
	w.env.AfterFunc(time.Second, w.register)
}

// Execute implements worker.Executor.
func (w *simWorker) Execute(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	w.cl.executed(w.node, spec)
	switch spec.Function {
	case "fanout":
		w.fanout(spec, args, done)
		return
	case "relay":
		w.relay(spec, args, done)
		return
	case "slow":
		if len(args) != 1 {
			done(nil, proto.NewError(proto.KindTaskFailed, "", "slow takes 1 argument, got %d", len(args)))
			return
		}
		w.slow(spec, args, nil, done)
		return
	case "slowparent":
		w.slowParent(spec, args, done)
		return
	}
	name := spec.Function
	w.run(func(d *execDone) { done(d.Returns, d.Err) }, func() *execDone {
		rets, err := runFunc(name, args)
		return &execDone{Returns: rets, Err: err}
	})
}

// run executes work through env.Go (off the event loop on hosts) and
// hands its result to done on the event loop.
func (w *simWorker) run(done func(*execDone), work func() *execDone) {
	w.next++
	id := w.next
	w.waits[id] = func(state []byte, rets [][]byte, err *proto.TaskError) {
		done(&execDone{State: state, Returns: rets, Err: err})
	}
	w.env.Go(func() core.Message {
		d := work()
		d.ID = id
		return d
	})
}

// CreateActor implements worker.Executor.
func (w *simWorker) CreateActor(spec *proto.TaskSpec, args [][]byte, done func([]byte, *proto.TaskError)) {
	w.cl.actorExecuted(w, spec, true)
	class := spec.Function
	w.run(func(d *execDone) { done(d.State, d.Err) }, func() *execDone {
		st, err := newActorState(class, args)
		return &execDone{State: st, Err: err}
	})
}

// CallActor implements worker.Executor.
func (w *simWorker) CallActor(spec *proto.TaskSpec, state []byte, args [][]byte, done func([]byte, [][]byte, *proto.TaskError)) {
	w.cl.actorExecuted(w, spec, false)
	method, inc := spec.Function, spec.ActorIncarnation
	w.run(func(d *execDone) { done(d.State, d.Returns, d.Err) }, func() *execDone {
		st, rets, err := callActorMethod(method, inc, state, args)
		return &execDone{State: st, Returns: rets, Err: err}
	})
}

// fanout(n, x) is a task that submits n children add(x, i) for i in
// 1..n from inside its body, and a grandchild mul(add(x, 1), 1) that takes
// the first child's result by reference (so the worker running it borrows
// an object this worker owns), waits for them all, and returns the sum:
// n*x + n(n+1)/2 + x + 1. The worker owns the children's returns.
func (w *simWorker) fanout(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	if len(args) != 2 {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "fanout takes 2 arguments, got %d", len(args)))
		return
	}
	n, err1 := asI64(args[0])
	x, err2 := asI64(args[1])
	if err1 != nil || err2 != nil || n < 1 || n > 16 {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "fanout: bad arguments"))
		return
	}
	w.cl.w.Sometimes("nested task")
	var refs []proto.ObjectRef
	for i := int64(1); i <= n; i++ {
		r, err := w.cw.SubmitNested(spec, "add", []proto.Arg{val(x), val(i)}, worker.TaskOptions{MaxRetries: -1})
		if err != nil {
			done(nil, proto.NewError(proto.KindTaskFailed, "", "fanout: submit: %v", err))
			return
		}
		refs = append(refs, r...)
	}
	g, err := w.cw.SubmitNested(spec, "mul", []proto.Arg{ref(refs[0]), val(1)}, worker.TaskOptions{MaxRetries: -1})
	if err != nil {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "fanout: submit: %v", err))
		return
	}
	refs = append(refs, g...)
	var sum int64
	left := len(refs)
	var failed *proto.TaskError
	for _, r := range refs {
		w.cw.Get(r, func(v []byte, err error) {
			left--
			if err != nil && failed == nil {
				failed = proto.NewError(proto.KindTaskFailed, "", "fanout child: %v", err)
			}
			got, _ := asI64(v)
			sum += got
			if left == 0 {
				for _, r := range refs {
					w.cw.Release(r)
				}
				if failed != nil {
					done(nil, failed)
					return
				}
				done([][]byte{i64(sum)}, nil)
			}
		})
	}
}

// relay(ref) passes its borrowed argument on to a child sum(ref) and
// finishes at once, before the child runs: the worker still references the
// object, so the owner must count it as a borrower and keep the object
// until the child is done. The child's result is checked here.
func (w *simWorker) relay(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	if len(spec.Args) != 1 || spec.Args[0].Ref == nil {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "relay takes one reference argument"))
		return
	}
	want := checksum(args[0])
	child, err := w.cw.SubmitNested(spec, "sum", []proto.Arg{{Ref: spec.Args[0].Ref}}, worker.TaskOptions{MaxRetries: -1})
	if err != nil {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "relay: submit: %v", err))
		return
	}
	done([][]byte{i64(1)}, nil)
	w.cw.Get(child[0], func(v []byte, err error) {
		w.cw.Release(child[0])
		if err != nil {
			w.cl.w.Fail("invariant", fmt.Sprintf("%s: relayed sum of a borrowed object failed: %v (the owner freed it under its borrower?)", w.env.Self(), err))
			return
		}
		if got, _ := asI64(v); got != want {
			w.cl.w.Fail("invariant", fmt.Sprintf("%s: relayed sum = %d, want %d", w.env.Self(), got, want))
			return
		}
		w.cl.w.Sometimes("borrowed object outlived its owner's references")
	})
}

func (w *simWorker) Receive(from core.Addr, m core.Message) {
	if x, ok := m.(*proto.ExitWorker); ok {
		if from == w.raylet && x.Worker == w.id && !w.exited {
			w.exited = true
			w.cl.w.Sometimes("idle launched worker exited")
			panic(core.FailStop{Reason: "idle: the raylet shrank the job's worker pool"})
		}
		return
	}
	if d, ok := m.(*execDone); ok && from == w.env.Self() {
		if done := w.waits[d.ID]; done != nil {
			delete(w.waits, d.ID)
			done(d.State, d.Returns, d.Err)
		}
		return
	}
	if w.gcs.Handle(from, m) || w.cli.Handle(from, m) {
		return
	}
	w.cw.Handle(from, m)
}

// Describe implements sim.Describer.
func (w *simWorker) Describe() string {
	return fmt.Sprintf("%v of %v running=%d slow=%d %s", w.id, w.node, len(w.waits), len(w.slowBodies), w.cw.Describe())
}
