package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/raylet"
)

// RunDir runs every scenario file under dir, each in a fresh world
// seeded with 1. Run the test with -rewrite to write the outputs the
// code produces into the files (then read them: they are the
// expectations).
func RunDir(t *testing.T, dir string) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		w := New(t, 1)
		defer w.Close()
		datadriven.RunTest(t, path, w.Handle)
	})
}

// Handle runs one command of a scenario file and returns what it
// printed. Its commands are listed in the package documentation.
func (w *World) Handle(t *testing.T, d *datadriven.TestData) string {
	w.t = t
	w.out.Reset()
	a := args{t: t, d: d}
	switch d.Cmd {
	case "gcs":
		w.cmdGCS(a)
	case "node":
		w.cmdNode(a)
	case "worker":
		w.cmdWorker(a)
	case "driver":
		w.cmdDriver(a)
	case "submit":
		w.cmdSubmit(a)
	case "put":
		w.cmdPut(a)
	case "get":
		w.cmdGet(a)
	case "release":
		w.cmdRelease(a)
	case "cancel":
		w.cmdCancel(a)
	case "finish":
		w.cmdFinish(a)
	case "stabilize":
		w.settle()
	case "deliver":
		for _, e := range w.take(w.matcher(a), a.int("n", 0)) {
			w.deliver(e)
		}
		w.fireDue()
	case "drop":
		for _, e := range w.take(w.matcher(a), a.int("n", 0)) {
			w.printf("dropped %s -> %s %s", e.from, e.to, w.describe(e.m))
		}
	case "inflight":
		w.cmdInflight()
	case "block", "unblock":
		w.cmdBlock(a, d.Cmd == "block")
	case "tick":
		if len(d.CmdArgs) != 1 {
			t.Fatalf("%s: usage: tick <duration>, e.g. tick 100ms", d.Pos)
		}
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil || dur < 0 {
			t.Fatalf("%s: tick %s: want a duration such as 100ms", d.Pos, d.CmdArgs[0].Key)
		}
		w.advance(dur)
	case "kill-worker":
		w.crash(w.proc(a.str("id", "")), "killed by the scenario")
	case "restart-worker":
		p := w.proc(a.str("id", ""))
		if p.alive {
			t.Fatalf("%s: %s is running; kill-worker it first", d.Pos, p.addr)
		}
		w.startProc(p)
	case "kill-node":
		w.cmdKillNode(a)
	case "trace":
		w.traceGCS = a.str("gcs", "off") == "on"
	case "leases":
		n := w.node(a)
		if r := n.raylet(); r != nil {
			for _, l := range r.DescribeLeases(100) {
				w.printf("%s", w.names.replace(l))
			}
		} else {
			w.printf("%s is down", n.name)
		}
	case "state":
		w.cmdState(a)
	case "objects":
		n := w.node(a)
		if r := n.raylet(); r != nil {
			w.out.WriteString(w.names.replace(r.Store().Describe()))
		} else {
			w.printf("%s is down", n.name)
		}
	case "tasks":
		dr, err := w.cl.driver(core.Addr(a.str("driver", "driver")))
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		lines := dr.cw.DescribeWaits(100)
		if len(lines) == 0 {
			w.printf("(nothing pending)")
		}
		for _, l := range lines {
			w.printf("%s", w.names.replace(l))
		}
	default:
		t.Fatalf("%s: unknown command %q (see the documentation of package scenario)", d.Pos, d.Cmd)
	}
	return w.out.String()
}

// args reads a command's key=value arguments.
type args struct {
	t *testing.T
	d *datadriven.TestData
}

func (a args) has(key string) bool { return a.d.HasArg(key) }

func (a args) str(key, def string) string {
	arg, ok := a.d.Arg(key)
	if !ok {
		if def == "" {
			a.t.Fatalf("%s: %s needs %s=…", a.d.Pos, a.d.Cmd, key)
		}
		return def
	}
	return arg.SingleVal(a.t)
}

func (a args) list(key string) []string {
	arg, ok := a.d.Arg(key)
	if !ok {
		return nil
	}
	return arg.Vals
}

func (a args) int(key string, def int) int {
	arg, ok := a.d.Arg(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(arg.SingleVal(a.t))
	if err != nil {
		a.t.Fatalf("%s: %s=%s: want an integer", a.d.Pos, key, arg.SingleVal(a.t))
	}
	return n
}

// size reads a byte size such as 100, 200KiB or 1MiB.
func (a args) size(key string, def int64) int64 {
	arg, ok := a.d.Arg(key)
	if !ok {
		return def
	}
	s := arg.SingleVal(a.t)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		a.t.Fatalf("%s: %s=%s: want a size such as 100, 200KiB or 1MiB", a.d.Pos, key, arg.SingleVal(a.t))
	}
	return n * mult
}

// resources reads cpu=, gpu= and res=NAME:AMOUNT (repeatable as a list).
func (a args) resources(cpuDefault string) core.Resources {
	m := map[string]core.Quantity{}
	add := func(name, amount string) {
		q, err := core.ParseQuantity(amount)
		if err != nil {
			a.t.Fatalf("%s: %s=%s: %v", a.d.Pos, name, amount, err)
		}
		if q > 0 {
			m[name] = q
		}
	}
	add(core.CPU, a.str("cpu", cpuDefault))
	if a.has("gpu") {
		add(core.GPU, a.str("gpu", ""))
	}
	for _, r := range a.list("res") {
		name, amount, ok := strings.Cut(r, ":")
		if !ok {
			a.t.Fatalf("%s: res=%s: want NAME:AMOUNT", a.d.Pos, r)
		}
		add(name, amount)
	}
	res, err := core.NewResources(m)
	if err != nil {
		a.t.Fatalf("%s: %v", a.d.Pos, err)
	}
	return res
}

func (w *World) cmdGCS(a args) {
	if w.cl.gcs != nil {
		a.t.Fatalf("%s: the GCS runs already; configure it before the first node", a.d.Pos)
	}
	if a.has("node-timeout") {
		dur, err := time.ParseDuration(a.str("node-timeout", ""))
		if err != nil {
			a.t.Fatalf("%s: node-timeout: %v", a.d.Pos, err)
		}
		w.cl.gcsCfg.NodeTimeout = dur
	}
	w.cl.startGCS()
	w.quietly(w.settle)
}

// quietly runs f without printing what it delivers.
func (w *World) quietly(f func()) {
	saved := w.out.String()
	f()
	w.out.Reset()
	w.out.WriteString(saved)
}

func (w *World) cmdNode(a args) {
	name := a.str("id", "")
	if w.cl.nodes[name] != nil {
		a.t.Fatalf("%s: node %s exists already", a.d.Pos, name)
	}
	// actors=N gives the node N actor slots (its worker cap less the
	// default 8 kept for tasks); none by default.
	cfg := raylet.Config{Resources: a.resources("1"), ObjectStoreBytes: a.size("store", 0), WorkerPoolMax: 8, MaxWorkers: 8 + a.int("actors", 0)}
	n := w.cl.addNode(name, cfg)
	w.quietly(w.settle)
	for i := a.int("workers", 0); i > 0; i-- {
		w.cl.addWorker(n)
	}
	w.quietly(w.settle)
	w.printf("%s", w.names.replace(n.raylet().DescribeLeases(1)[0]))
}

func (w *World) node(a args) *node {
	name := a.str("id", "")
	n := w.cl.nodes[name]
	if n == nil {
		a.t.Fatalf("%s: no node %s (add it with: node id=%s)", a.d.Pos, name, name)
	}
	return n
}

func (w *World) cmdWorker(a args) {
	n := w.node(argsWithKey(a, "node"))
	var added []string
	for i := a.int("count", 1); i > 0; i-- {
		added = append(added, string(w.cl.addWorker(n)))
	}
	w.quietly(w.settle)
	w.printf("%s registered with %s", strings.Join(added, ", "), n.name)
}

// argsWithKey reads a node name from key instead of id.
func argsWithKey(a args, key string) args {
	arg, ok := a.d.Arg(key)
	if !ok {
		a.t.Fatalf("%s: %s needs %s=…", a.d.Pos, a.d.Cmd, key)
	}
	d := *a.d
	d.CmdArgs = []datadriven.CmdArg{{Key: "id", Vals: arg.Vals}}
	return args{t: a.t, d: &d}
}

func (w *World) cmdDriver(a args) {
	addr := core.Addr(a.str("name", "driver"))
	n := w.node(argsWithKey(a, "node"))
	w.cl.addDriver(addr, n)
	w.quietly(w.settle)
	w.printf("%s (job %d) on %s", addr, w.cl.jobs, n.name)
}

func (w *World) proc(addr string) *proc {
	p := w.procs[core.Addr(addr)]
	if p == nil {
		w.t.Fatalf("no process %s", addr)
	}
	return p
}

func (w *World) cmdSubmit(a args) {
	name := a.str("task", "")
	if w.cl.tasks[name] != nil {
		a.t.Fatalf("%s: task %s exists already", a.d.Pos, name)
	}
	addr := core.Addr(a.str("driver", "driver"))
	dr, err := w.cl.driver(addr)
	if err != nil {
		a.t.Fatalf("%s: %v", a.d.Pos, err)
	}
	opts := worker.TaskOptions{NumReturns: a.int("returns", 1), Resources: a.resources("1")}
	if a.has("retries") {
		opts.MaxRetries = int32(a.int("retries", 0))
		if opts.MaxRetries == 0 {
			opts.MaxRetries = worker.NoRetries
		}
	}
	if a.has("infeasible-wait") {
		dur, err := time.ParseDuration(a.str("infeasible-wait", ""))
		if err != nil {
			a.t.Fatalf("%s: infeasible-wait: %v", a.d.Pos, err)
		}
		opts.InfeasibleWait = dur
		if dur <= 0 {
			opts.InfeasibleWait = -1
		}
	}
	if a.has("node") {
		n := w.node(argsWithKey(a, "node"))
		opts.Strategy = proto.Strategy{Kind: proto.StrategyNodeAffinity, Node: n.raylet().Node()}
	}
	var deps []proto.Arg
	for _, dep := range a.list("deps") {
		o, ok := w.cl.objects[dep]
		if !ok {
			a.t.Fatalf("%s: no object %s", a.d.Pos, dep)
		}
		ref := o.ref
		deps = append(deps, proto.Arg{Ref: &ref})
	}
	t := &task{name: name, driver: addr, run: a.str("run", "hold"), size: int(a.size("size", 8))}
	if !slices.Contains([]string{"hold", "return", "fail"}, t.run) {
		a.t.Fatalf("%s: run=%s: want hold, return or fail", a.d.Pos, t.run)
	}
	refs, err := dr.cw.SubmitTask(a.str("fn", "f"), deps, opts)
	if err != nil {
		w.printf("submit %s: error: %v", name, err)
		return
	}
	id := refs[0].ID.Task()
	t.refs = refs
	w.cl.tasks[name] = t
	w.cl.taskByID[id] = t
	w.names.task(id, name)
	for i, ref := range refs {
		oname := fmt.Sprintf("%s.r%d", name, i)
		w.cl.objects[oname] = object{ref: ref, holder: addr}
		w.names.object(ref.ID, oname)
	}
}

func (w *World) cmdPut(a args) {
	name := a.str("id", "")
	if _, dup := w.cl.objects[name]; dup {
		a.t.Fatalf("%s: object %s exists already", a.d.Pos, name)
	}
	addr := core.Addr(a.str("driver", "driver"))
	dr, err := w.cl.driver(addr)
	if err != nil {
		a.t.Fatalf("%s: %v", a.d.Pos, err)
	}
	dr.cw.Put(make([]byte, a.size("size", 8)), func(ref proto.ObjectRef, err error) {
		if err != nil {
			w.printf("%s: put %s: error: %v", addr, name, w.names.replace(err.Error()))
			return
		}
		w.cl.objects[name] = object{ref: ref, holder: addr}
		w.names.object(ref.ID, name)
		w.printf("%s: put %s done", addr, name)
	})
}

// object returns the named object; the driver whose reference the
// scenario holds is its holder.
func (w *World) object(a args) (string, object, *driverHost) {
	name := a.str("id", "")
	o, ok := w.cl.objects[name]
	if !ok {
		a.t.Fatalf("%s: no object %s", a.d.Pos, name)
	}
	dr, err := w.cl.driver(o.holder)
	if err != nil {
		a.t.Fatalf("%s: %v", a.d.Pos, err)
	}
	return name, o, dr
}

func (w *World) cmdGet(a args) {
	name, o, dr := w.object(a)
	dr.cw.Get(o.ref, func(data []byte, err error) {
		if err != nil {
			w.printf("%s: get %s: error: %s", o.holder, name, w.names.replace(err.Error()))
			return
		}
		w.printf("%s: get %s: %d bytes", o.holder, name, len(data))
	})
}

func (w *World) cmdRelease(a args) {
	_, o, dr := w.object(a)
	dr.cw.Release(o.ref)
}

func (w *World) cmdCancel(a args) {
	name := a.str("task", "")
	t := w.cl.tasks[name]
	if t == nil {
		a.t.Fatalf("%s: no task %s", a.d.Pos, name)
	}
	dr, err := w.cl.driver(t.driver)
	if err != nil {
		a.t.Fatalf("%s: %v", a.d.Pos, err)
	}
	if err := dr.cw.Cancel(t.refs[0], worker.CancelOptions{Force: a.has("force"), NoRecursive: a.has("no-recursive")}); err != nil {
		w.printf("cancel %s: error: %v", name, err)
	}
}

func (w *World) cmdFinish(a args) {
	name := a.str("task", "")
	b := w.cl.bodies[name]
	if b == nil {
		a.t.Fatalf("%s: task %s has no body running", a.d.Pos, name)
	}
	delete(w.cl.bodies, name)
	p := w.procs[b.worker]
	if !p.alive || p.inc != b.inc {
		w.printf("%s: the worker running %s attempt %d is gone", b.worker, name, b.attempt)
		return
	}
	w.run(p, func() {
		if a.has("error") {
			b.done(nil, proto.NewError(proto.KindTaskFailed, "", "the body failed (finish error)"))
			return
		}
		size := int(a.size("size", int64(b.task.size)))
		rets := make([][]byte, len(b.task.refs))
		for i := range rets {
			rets[i] = make([]byte, size)
		}
		b.done(rets, nil)
	})
}

// matcher selects messages in flight by from=, to= and type= (the first
// word of their description: RequestLease, LeaseReply, …).
func (w *World) matcher(a args) func(*envelope) bool {
	from, to, typ := a.list("from"), a.list("to"), a.list("type")
	in := func(vals []string, v string) bool { return len(vals) == 0 || slices.Contains(vals, v) }
	return func(e *envelope) bool {
		if !in(from, string(e.from)) || !in(to, string(e.to)) {
			return false
		}
		first, _, _ := strings.Cut(w.describe(e.m), " ")
		return in(typ, first)
	}
}

func (w *World) cmdInflight() {
	hidden := 0
	for _, e := range w.queue {
		if !w.visible(e.from, e.to) {
			hidden++
			continue
		}
		w.printf("%s -> %s %s", e.from, e.to, w.describe(e.m))
	}
	if hidden > 0 {
		w.printf("(and %d to or from the GCS)", hidden)
	}
	if len(w.queue) == 0 {
		w.printf("(nothing in flight)")
	}
}

func (w *World) cmdBlock(a args, on bool) {
	from, to := core.Addr(a.str("from", "")), core.Addr(a.str("to", ""))
	w.blocked[link{from, to}] = on
	if !a.has("oneway") {
		w.blocked[link{to, from}] = on
	}
}

// cmdKillNode crashes a node's raylet and every worker of the node.
func (w *World) cmdKillNode(a args) {
	n := w.node(a)
	w.crash(n.p, "killed by the scenario")
	for _, addr := range n.workers {
		w.crash(w.procs[addr], "its node was killed")
	}
}

func (w *World) cmdState(a args) {
	id := a.str("id", "")
	if n := w.cl.nodes[id]; n != nil {
		if r := n.raylet(); r != nil {
			w.out.WriteString(w.names.replace(r.Describe()))
		} else {
			w.printf("%s is down", id)
		}
		return
	}
	if dr := w.cl.drivers[core.Addr(id)]; dr != nil {
		w.printf("%s", w.names.replace(dr.cw.Describe()))
		return
	}
	if h := w.cl.workers[core.Addr(id)]; h != nil {
		w.printf("%s", w.names.replace(h.cw.Describe()))
		return
	}
	a.t.Fatalf("%s: no node, driver or worker %s", a.d.Pos, id)
}
