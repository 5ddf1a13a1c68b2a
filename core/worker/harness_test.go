package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

var update = flag.Bool("update", false, "rewrite the golden trace files in testdata")

// The harness is a tiny deterministic network for unit tests: an owner
// core worker ("driver"), an executing core worker ("exec") and a scripted
// fake raylet ("raylet") that grants every lease to exec. Messages are
// delivered in FIFO order; timers fire in time order when no message is
// in flight. Every delivered message can be written to a trace.

type tnet struct {
	t      testing.TB
	now    time.Time
	seq    uint64
	timers []*ttimer
	queue  []envelope
	procs  map[core.Addr]func(core.Addr, core.Message)
	codec  *core.Codec
	trace  *strings.Builder
	drop   func(envelope) bool
}

type envelope struct {
	from, to core.Addr
	m        core.Message
}

type ttimer struct {
	at      time.Time
	seq     uint64
	f       func()
	stopped bool
}

func (t *ttimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

type fenv struct {
	n    *tnet
	self core.Addr
	rng  *rand.Rand
}

func (e *fenv) Self() core.Addr  { return e.self }
func (e *fenv) Now() time.Time   { return e.n.now }
func (e *fenv) Rand() *rand.Rand { return e.rng }
func (e *fenv) FS() vfs.FS       { return vfs.NewMem() }
func (e *fenv) Log() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Send encodes and decodes m, as every real environment does, so that
// sender and receiver never share a message; unregistered messages (Go
// work results) are delivered as they are.
func (e *fenv) Send(to core.Addr, m core.Message) {
	if b, err := e.n.codec.Encode(m); err == nil {
		d, err := e.n.codec.Decode(b)
		if err != nil {
			e.n.t.Fatalf("harness: %T does not decode: %v", m, err)
		}
		m = d
	}
	e.n.queue = append(e.n.queue, envelope{e.self, to, m})
}
func (e *fenv) AfterFunc(d time.Duration, f func()) core.Timer {
	e.n.seq++
	t := &ttimer{at: e.n.now.Add(d), seq: e.n.seq, f: f}
	e.n.timers = append(e.n.timers, t)
	return t
}
func (e *fenv) Go(work func() core.Message) {
	m := work()
	e.Send(e.self, m)
}

// Await and Post are not used by the core worker itself (only by the
// process layer above it); the harness runs f inline.
func (e *fenv) Await(ctx context.Context, f func(wake func())) error {
	woken := false
	f(func() { woken = true })
	if !woken {
		panic("harness: Await's f did not wake synchronously")
	}
	return nil
}
func (e *fenv) Post(f func()) bool { f(); return true }

func newNet(t testing.TB) *tnet {
	return &tnet{t: t, now: time.Unix(1_700_000_000, 0), procs: map[core.Addr]func(core.Addr, core.Message){}, codec: core.NewCodec(0)}
}

func (n *tnet) env(addr core.Addr, seed uint64) *fenv {
	return &fenv{n: n, self: addr, rng: rand.New(rand.NewPCG(seed, 7))}
}

// run delivers messages and fires timers until cond holds (checked after
// every step) or nothing is left, within a bound of steps; with a nil cond
// it also stops a minute of virtual time later.
func (n *tnet) run(cond func() bool) {
	n.t.Helper()
	start := n.now
	for step := 0; step < 100_000; step++ {
		if cond == nil && n.now.Sub(start) > time.Minute {
			return // what is left are retries of calls that never end
		}
		if cond != nil && cond() {
			return
		}
		if len(n.queue) > 0 {
			e := n.queue[0]
			n.queue = n.queue[1:]
			if n.drop != nil && n.drop(e) {
				continue
			}
			n.log(e)
			if p := n.procs[e.to]; p != nil {
				p(e.from, e.m)
			}
			continue
		}
		live := n.timers[:0]
		for _, t := range n.timers {
			if !t.stopped {
				live = append(live, t)
			}
		}
		n.timers = live
		if len(n.timers) == 0 {
			return
		}
		slices.SortFunc(n.timers, func(a, b *ttimer) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return int(a.seq) - int(b.seq)
		})
		t := n.timers[0]
		n.timers = n.timers[1:]
		if cond == nil && t.at.Sub(n.now) > time.Minute {
			return // only retry timers of idle calls are left
		}
		if t.at.After(n.now) {
			n.now = t.at
		}
		t.stopped = true
		t.f()
	}
	n.t.Fatalf("network did not settle")
}

// log writes one delivered message to the trace: rpc envelopes show the
// message they carry.
func (n *tnet) log(e envelope) {
	if n.trace == nil {
		return
	}
	desc := describeMsg(e.m)
	switch m := e.m.(type) {
	case *rpc.Request:
		if inner, err := m.Carried(); err == nil && inner != nil {
			desc = "request " + describeMsg(inner)
		}
	case *rpc.Response:
		if m.Code != rpc.CodeOK {
			desc = fmt.Sprintf("response error %v: %s", m.Code, m.Err)
		} else if inner, err := m.Carried(); err == nil && inner != nil {
			desc = "response " + describeMsg(inner)
		}
	}
	fmt.Fprintf(n.trace, "%-7s -> %-7s %s\n", e.from, e.to, desc)
}

// describeMsg prints the fields of a protocol message that a reader of a
// trace cares about, leaving out random ids.
func describeMsg(m core.Message) string {
	switch m := m.(type) {
	case *proto.RequestLease:
		return fmt.Sprintf("RequestLease lease=%d %s resources=%v", m.LeaseID%1000, m.Spec.Describe(), m.Spec.Resources)
	case *proto.LeaseReply:
		return fmt.Sprintf("LeaseReply granted=%v worker=%s", m.Granted, m.Worker)
	case *proto.PushTask:
		return fmt.Sprintf("PushTask lease=%d %s args=%d", m.LeaseID%1000, m.Spec.Describe(), len(m.Spec.Args))
	case *proto.PushTaskReply:
		var rets []string
		for _, r := range m.Returns {
			if r.InPlasma {
				rets = append(rets, fmt.Sprintf("%v in plasma (%d bytes)", r.ID, r.Size))
			} else {
				rets = append(rets, fmt.Sprintf("%v inline %x", r.ID, r.Inline))
			}
		}
		return fmt.Sprintf("PushTaskReply returns=[%s] error=%v", strings.Join(rets, ", "), m.Error)
	case *proto.ReturnLease:
		return fmt.Sprintf("ReturnLease lease=%d disconnect=%v", m.LeaseID%1000, m.Disconnect)
	case *proto.Ack:
		return "Ack"
	case *proto.PutObject:
		return fmt.Sprintf("PutObject %v (%d bytes)", m.ID, len(m.Data))
	case *proto.PutObjectReply:
		return "PutObjectReply"
	case *proto.FreeObjects:
		return fmt.Sprintf("FreeObjects %v", m.IDs)
	}
	return core.MessageName(m.MsgType())
}

// fakeRaylet grants every lease to one worker and stores objects.
type fakeRaylet struct {
	env     *fenv
	srv     *rpc.Server
	worker  core.Addr
	wid     core.WorkerID
	node    core.NodeID
	objects map[core.ObjectID][]byte
	puts    []*proto.PutObject // every PutObject, in arrival order
	// full makes the store refuse every PutObject, as plasma does when
	// held data leaves no room.
	full    bool
	freed   []core.ObjectID
	leases  map[uint64]bool // granted, not returned
	granted []uint64
}

func newFakeRaylet(n *tnet, worker core.Addr, wid core.WorkerID) *fakeRaylet {
	r := &fakeRaylet{env: n.env("raylet", 3), worker: worker, wid: wid, node: core.NodeID{9}, objects: map[core.ObjectID][]byte{}, leases: map[uint64]bool{}}
	r.srv = rpc.NewServer(r.env)
	r.srv.Register((&proto.RequestLease{}).MsgType(), func(from core.Addr, m core.Message, reply func(core.Message, error)) {
		id := m.(*proto.RequestLease).LeaseID
		r.leases[id] = true
		r.granted = append(r.granted, id)
		reply(&proto.LeaseReply{Granted: true, Worker: r.worker, WorkerID: r.wid, Node: r.node}, nil)
	})
	r.srv.Register((&proto.ReturnLease{}).MsgType(), func(from core.Addr, m core.Message, reply func(core.Message, error)) {
		delete(r.leases, m.(*proto.ReturnLease).LeaseID)
		reply(&proto.Ack{}, nil)
	})
	r.srv.Register((&proto.PutObject{}).MsgType(), func(from core.Addr, m core.Message, reply func(core.Message, error)) {
		p := m.(*proto.PutObject)
		if r.full {
			reply(nil, rpc.Errorf(rpc.CodeUnavailable, "plasma: create %v: needed %d bytes: plasma: object store full", p.ID, len(p.Data)))
			return
		}
		r.objects[p.ID] = p.Data
		r.puts = append(r.puts, p)
		reply(&proto.PutObjectReply{Node: r.node}, nil)
	})
	r.srv.Register((&proto.GetObject{}).MsgType(), func(from core.Addr, m core.Message, reply func(core.Message, error)) {
		d, ok := r.objects[m.(*proto.GetObject).ID]
		if !ok {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "no copy"))
			return
		}
		reply(&proto.GetObjectReply{Data: d}, nil)
	})
	r.srv.Register((&proto.FreeObjects{}).MsgType(), func(from core.Addr, m core.Message, reply func(core.Message, error)) {
		for _, id := range m.(*proto.FreeObjects).IDs {
			delete(r.objects, id)
			r.freed = append(r.freed, id)
		}
		reply(&proto.Ack{}, nil)
	})
	n.procs["raylet"] = func(from core.Addr, m core.Message) { r.srv.Handle(from, m) }
	return r
}

// testExec is the executor of the tests: add(a, b), big(n), fail(),
// hang() (finishes only when interrupted), spawn() (submits a nested
// hang() through w, then waits until the test calls its entry of
// spawned, ignoring interrupts), and the actor class Counter with incr().
// It is an Interrupter.
type testExec struct {
	runs  map[string]int
	calls []string // actor calls in execution order: "method:arg"

	w          *Worker // the worker it executes for, for spawn
	hung       map[core.TaskID]func([][]byte, *proto.TaskError)
	interrupts []core.TaskID     // Interrupt calls in order
	children   []proto.ObjectRef // spawned by spawn()
	spawned    []func([][]byte, *proto.TaskError)
	parked     []func() // actor calls of "park", in start order
}

// Interrupt implements Interrupter: a hanging body returns an error, as a
// body that sees its ctx cancelled does.
func (x *testExec) Interrupt(task core.TaskID) {
	x.interrupts = append(x.interrupts, task)
	if done := x.hung[task]; done != nil {
		delete(x.hung, task)
		done(nil, proto.NewError(proto.KindTaskFailed, "", "context canceled"))
	}
}

func i64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func asI64(b []byte) int64 {
	if len(b) != 8 {
		return -1
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func (x *testExec) Execute(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	x.runs[spec.Function]++
	switch spec.Function {
	case "add":
		done([][]byte{i64(asI64(args[0]) + asI64(args[1]))}, nil)
	case "big":
		done([][]byte{bytes.Repeat([]byte{7}, int(asI64(args[0])))}, nil)
	case "fail":
		done(nil, proto.NewError(proto.KindTaskFailed, "", "intentional"))
	case "hang":
		x.hung[spec.TaskID] = done
	case "spawn":
		refs, err := x.w.SubmitNested(spec, "hang", nil, TaskOptions{})
		if err != nil {
			done(nil, proto.NewError(proto.KindTaskFailed, "", "%v", err))
			return
		}
		x.children = append(x.children, refs...)
		x.spawned = append(x.spawned, done)
	default:
		done(nil, proto.NewError(proto.KindUnknownFunction, "", "%s", spec.Function))
	}
}

func (x *testExec) CreateActor(spec *proto.TaskSpec, args [][]byte, done func([]byte, *proto.TaskError)) {
	done(i64(0), nil)
}

func (x *testExec) CallActor(spec *proto.TaskSpec, state []byte, args [][]byte, done func([]byte, [][]byte, *proto.TaskError)) {
	arg := int64(0)
	if len(args) > 0 {
		arg = asI64(args[0])
	}
	x.calls = append(x.calls, fmt.Sprintf("%s:%d", spec.Function, arg))
	if spec.Function == "park" {
		// Returns when the test calls the parked done.
		x.parked = append(x.parked, func() { done(state, [][]byte{i64(arg)}, nil) })
		return
	}
	n := asI64(state) + 1
	done(i64(n), [][]byte{i64(n)}, nil)
}

// cluster is the standard setup: driver owner, exec worker, fake raylet.
type cluster struct {
	n      *tnet
	owner  *Worker
	exec   *Worker
	x      *testExec
	raylet *fakeRaylet
}

func newCluster(t testing.TB) *cluster {
	n := newNet(t)
	x := &testExec{runs: map[string]int{}, hung: map[core.TaskID]func([][]byte, *proto.TaskError){}}
	wid := core.WorkerID{5}
	c := &cluster{n: n, x: x}
	c.raylet = newFakeRaylet(n, "exec", wid)
	c.owner = New(n.env("driver", 1), Config{Raylet: "raylet", Node: core.NodeID{9}, Job: core.JobIDFromInt(1), OwnerTimeout: 5 * time.Second})
	c.exec = New(n.env("exec", 2), Config{Raylet: "raylet", Node: core.NodeID{9}, Executor: x, WorkerID: wid})
	x.w = c.exec
	n.procs["driver"] = func(from core.Addr, m core.Message) { c.owner.Handle(from, m) }
	n.procs["exec"] = func(from core.Addr, m core.Message) { c.exec.Handle(from, m) }
	return c
}

// get runs the network until the Get of ref answers.
// bigInPlasma runs a task whose return is too large to go inline, waits
// for it and returns its refs (the return is in plasma, owned by
// c.owner).
func (c *cluster) bigInPlasma(t testing.TB) []proto.ObjectRef {
	t.Helper()
	refs, _ := c.owner.SubmitTask("big", []proto.Arg{{Value: i64(proto.InlineSizeMax + 10)}}, TaskOptions{})
	if _, err := c.get(c.owner, refs[0]); err != nil {
		t.Fatal(err)
	}
	return refs
}

func (c *cluster) get(w *Worker, ref proto.ObjectRef) ([]byte, error) {
	var (
		v    []byte
		err  error
		done bool
	)
	w.Get(ref, func(d []byte, e error) { v, err, done = d, e, true })
	c.n.run(func() bool { return done })
	if !done {
		c.n.t.Fatalf("Get(%v) never answered", ref)
	}
	return v, err
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./core/worker -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("trace differs from %s (rerun with -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
