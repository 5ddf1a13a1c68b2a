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

	env    core.Env
	id     core.WorkerID
	node   core.NodeID
	cw     *worker.Worker
	cli    *rpc.Client
	next   uint64
	waits  map[uint64]func([][]byte, *proto.TaskError)
	exited bool
}

func (w *simWorker) Start(env core.Env) {
	w.env = env
	w.id = core.NewWorkerID(env.Rand())
	w.cli = rpc.NewClient(env)
	w.waits = map[uint64]func([][]byte, *proto.TaskError){}
	w.cw = worker.New(env, worker.Config{Raylet: w.raylet, Executor: w})
	w.register()
}

func (w *simWorker) register() {
	if w.exited {
		return
	}
	w.cli.Call(w.raylet, &proto.RegisterWorker{Worker: w.id}, rpc.Options{Timeout: time.Second}, func(m core.Message, err error) {
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
	w.next++
	id := w.next
	w.waits[id] = done
	w.cl.executed(w.node, spec)
	name := spec.Function
	w.env.Go(func() core.Message {
		rets, err := runFunc(name, args)
		return &execDone{ID: id, Returns: rets, Err: err}
	})
}

func (w *simWorker) Receive(from core.Addr, m core.Message) {
	if d, ok := m.(*execDone); ok && from == w.env.Self() {
		if done := w.waits[d.ID]; done != nil {
			delete(w.waits, d.ID)
			done(d.Returns, d.Err)
		}
		return
	}
	if w.cli.Handle(from, m) {
		return
	}
	w.cw.Handle(from, m)
}

// Describe implements sim.Describer.
func (w *simWorker) Describe() string {
	return fmt.Sprintf("%v of %v running=%d %s", w.id, w.node, len(w.waits), w.cw.Describe())
}

// nodeWatcher feeds GCS node deaths to a core worker.
func watchNodes(env core.Env, g *gcs.Client, cw *worker.Worker) {
	dead := map[core.NodeID]bool{}
	onNode := func(n gcs.NodeInfo) {
		if n.State == gcs.NodeDead && !dead[n.ID] {
			dead[n.ID] = true
			cw.NodeDied(n.ID, n.Addr)
		}
	}
	var resync func()
	resync = func() {
		g.GetNodes(func(r gcs.Reply, err error) {
			if err != nil {
				env.AfterFunc(time.Second, resync)
				return
			}
			for _, n := range r.Nodes {
				onNode(n)
			}
		})
	}
	if err := g.Subscribe([]string{gcs.ChannelNode}, func(m gcs.PubMessage) {
		if m.Node != nil {
			onNode(*m.Node)
		}
	}, resync); err != nil {
		env.Log().Error("subscribe", "err", err)
	}
}
