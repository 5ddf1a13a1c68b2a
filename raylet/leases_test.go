package raylet_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// The leases of a launched worker that exits: a simulated node (the GCS,
// one raylet whose launcher spawns fake workers) driven step by step by a
// script. Fake processes speak the raylet's protocol directly, so that
// the script decides who holds which lease and when a worker exits.

var testBinary = strings.Repeat("ab", 32)

// fakeProc is a driver or a launched worker: it registers (a launched
// one), requests leases with script-chosen ids, answers every lease check
// with "held", and exits when its raylet tells it to.
type fakeProc struct {
	launch string // a launched worker's token; "" for the driver
	env    core.Env
	cli    *rpc.Client
	srv    *rpc.Server
	id     core.WorkerID
	// grants holds the replies to its lease requests by lease id.
	grants map[uint64]*proto.LeaseReply
}

func (f *fakeProc) Start(env core.Env) {
	f.env, f.cli, f.srv = env, rpc.NewClient(env), rpc.NewServer(env)
	f.id = core.NewWorkerID(env.Rand())
	f.grants = map[uint64]*proto.LeaseReply{}
	f.srv.Register((&proto.LeaseCheck{}).MsgType(), func(_ core.Addr, _ core.Message, reply func(core.Message, error)) {
		reply(&proto.LeaseCheckReply{Held: true}, nil)
	})
	if f.launch != "" {
		f.cli.Call("raylet", &proto.RegisterWorker{Worker: f.id, Binary: testBinary, Launch: f.launch, Job: core.JobIDFromInt(1)},
			rpc.Options{}, func(core.Message, error) {})
	}
}

func (f *fakeProc) Receive(from core.Addr, m core.Message) {
	if _, ok := m.(*proto.ExitWorker); ok && f.launch != "" {
		panic(core.FailStop{Reason: "told to exit"})
	}
	if f.cli.Handle(from, m) || f.srv.Handle(from, m) {
		return
	}
}

// request asks the raylet for a lease of one CPU for a task of the test
// binary that f owns.
func (f *fakeProc) request(lease uint64) { f.requestWith(lease, false, nil) }

// requestWith is request with the spec changed by edit, as a spilled
// request if spilled.
func (f *fakeProc) requestWith(lease uint64, spilled bool, edit func(*proto.TaskSpec)) {
	spec := proto.TaskSpec{TaskID: core.NewTaskID(core.JobIDFromInt(1), core.TaskID{}, lease), Job: core.JobIDFromInt(1), Function: "f",
		NumReturns: 1, Resources: core.MustResources(core.CPU, 1), Owner: f.env.Self(), Binary: testBinary}
	if edit != nil {
		edit(&spec)
	}
	f.cli.Call("raylet", &proto.RequestLease{Spec: spec, LeaseID: lease, Spilled: spilled}, rpc.Options{Timeout: time.Minute}, func(m core.Message, err error) {
		if err == nil {
			f.grants[lease] = m.(*proto.LeaseReply)
		}
	})
}

// giveBack returns the lease with id lease.
func (f *fakeProc) giveBack(lease uint64) {
	f.cli.Call("raylet", &proto.ReturnLease{LeaseID: lease, Owner: f.env.Self()}, rpc.Options{}, func(core.Message, error) {})
}

// leaseWorld is the test's workload: script runs from world time 1s on,
// steps of it scheduled with the world.
type leaseWorld struct {
	cpus   int
	idle   time.Duration
	script func(t *leaseWorld)
	// extra are more processes, each at the address of its name.
	extra []namedProc

	w        *sim.World
	driver   *fakeProc
	launched map[string]*fakeProc // by token
	tokens   []string             // in launch order
	exits    int
	done     bool
	failure  string
}

// Launch implements raylet.Launcher: a fake worker starts 10 ms later;
// its exit is reported to the raylet, as a host reports a child's.
func (lw *leaseWorld) Launch(token, _ string, _ core.JobID) {
	f := &fakeProc{launch: token}
	lw.launched[token] = f
	lw.tokens = append(lw.tokens, token)
	lw.w.Spawn(core.Addr("raylet/L"+token), sim.ProcOptions{Crashable: true, Host: "node"}, 10*time.Millisecond,
		func() core.Process { return f }, func(why string) {
			lw.exits++
			lw.w.Do("raylet", "worker exited", func() { lw.raylet().WorkerExited(token, why) })
		})
}

func (lw *leaseWorld) raylet() *raylet.Raylet {
	r, _ := lw.w.Process("raylet").(*raylet.Raylet)
	return r
}

// worker returns the fake worker of the nth launch (from 0).
func (lw *leaseWorld) worker(n int) *fakeProc {
	if n >= len(lw.tokens) {
		return nil
	}
	return lw.launched[lw.tokens[n]]
}

func (lw *leaseWorld) Setup(w *sim.World) error {
	lw.w, lw.launched = w, map[string]*fakeProc{}
	w.AddProcess("gcs", sim.ProcOptions{Disk: true}, func() core.Process { return gcs.NewServer(gcs.Config{}) })
	w.AddProcess("raylet", sim.ProcOptions{Host: "node"}, func() core.Process {
		return raylet.New(raylet.Config{GCS: "gcs", Resources: core.MustResources(core.CPU, lw.cpus), Launcher: lw, IdleWorkerTimeout: lw.idle, WorkerPoolMax: 8, MaxWorkers: 8})
	})
	lw.driver = &fakeProc{}
	w.AddProcess("driver", sim.ProcOptions{Host: "node"}, func() core.Process { return lw.driver })
	for _, p := range lw.extra {
		w.AddProcess(p.addr, sim.ProcOptions{Host: string(p.addr)}, func() core.Process { return p.p })
	}
	w.Schedule(time.Second, "script", func() { lw.script(lw) })
	return nil
}

// after runs f once d has passed.
func (lw *leaseWorld) after(d time.Duration, f func()) { lw.w.Schedule(d, "script", f) }

// check finishes the script with the raylet's available CPUs compared
// with want.
func (lw *leaseWorld) check(want int) {
	if got := lw.raylet().Available().Get(core.CPU); got != core.Units(int64(want)) {
		lw.failure = fmt.Sprintf("raylet has %v available, want %d CPUs: a lease of the exited worker is still granted (launches %d, exits %d)", got, want, len(lw.tokens), lw.exits)
	}
	lw.done = true
}

func (lw *leaseWorld) Done() bool                        { return lw.done }
func (lw *leaseWorld) Pending() string                   { return "the script has not finished" }
func (lw *leaseWorld) Check(*sim.World) (string, string) { return "", "" }

func runLeaseWorld(t *testing.T, lw *leaseWorld) {
	t.Helper()
	r := sim.Run(sim.Config{Seed: 1, FaultSpec: "none", FaultPhase: time.Millisecond}, lw, "leases")
	if !r.Passed {
		t.Fatal(r)
	}
	if lw.failure != "" {
		t.Fatal(lw.failure)
	}
}

// TestExitedWorkersQueuedRequestIsDropped: a launched worker that owns a
// queued lease request (a nested task waiting for a CPU) exits. The
// request must go with it; granted later, to a worker launched for it, it
// held a CPU for nobody until 15 lease checks went unanswered (30 s).
func TestExitedWorkersQueuedRequestIsDropped(t *testing.T) {
	runLeaseWorld(t, &leaseWorld{cpus: 1, idle: time.Minute, script: func(lw *leaseWorld) {
		lw.driver.request(1) // launches L0 and leases it the only CPU
		lw.after(500*time.Millisecond, func() {
			l0 := lw.worker(0)
			if l0 == nil || lw.driver.grants[1] == nil || !lw.driver.grants[1].Granted {
				lw.failure = fmt.Sprintf("the driver's lease was not granted: %+v", lw.driver.grants[1])
				lw.done = true
				return
			}
			l0.request(7) // L0's nested task: queued, no CPU left
			lw.after(100*time.Millisecond, func() {
				lw.w.Crash(l0.env.Self(), "the worker dies")
				lw.after(3*time.Second, func() { lw.check(1) })
			})
		})
	}})
}

// TestReapedWorkersLeasesAreFreedOnExit: a launched worker whose task is
// done is reaped as idle while it still holds a lease as an owner (a
// nested task it submitted, running on another launched worker). When
// its exit is reported, that lease must be freed; the raylet had already
// forgotten the reaped worker, so it kept the lease until 15 lease checks
// went unanswered (30 s).
func TestReapedWorkersLeasesAreFreedOnExit(t *testing.T) {
	runLeaseWorld(t, &leaseWorld{cpus: 2, idle: time.Second, script: func(lw *leaseWorld) {
		lw.driver.request(1) // launches L0
		lw.after(500*time.Millisecond, func() {
			l0 := lw.worker(0)
			if l0 == nil || lw.driver.grants[1] == nil || !lw.driver.grants[1].Granted {
				lw.failure = fmt.Sprintf("the driver's lease was not granted: %+v", lw.driver.grants[1])
				lw.done = true
				return
			}
			l0.request(7) // L0's nested task: launches L1
			lw.after(500*time.Millisecond, func() {
				if g := l0.grants[7]; g == nil || !g.Granted {
					lw.failure = fmt.Sprintf("L0's lease was not granted: %+v", g)
					lw.done = true
					return
				}
				lw.driver.giveBack(1) // L0 is idle now: reaped within 3 s
				lw.after(5*time.Second, func() {
					if lw.exits == 0 {
						lw.failure = "L0 was not reaped"
						lw.done = true
						return
					}
					lw.check(2)
				})
			})
		})
	}})
}

type namedProc struct {
	addr core.Addr
	p    core.Process
}

// fakeNode registers a node with the GCS and nothing else: a raylet's
// view shows it alive (for a while: it sends no heartbeats).
type fakeNode struct {
	id  core.NodeID
	gcs *gcs.Client
}

func (f *fakeNode) Start(env core.Env) {
	f.id = core.NewNodeID(env.Rand())
	f.gcs = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	f.gcs.RegisterNode(f.id, env.Self(), core.MustResources(core.CPU, 4), func(gcs.Reply, error) {})
}

func (f *fakeNode) Receive(from core.Addr, m core.Message) { f.gcs.Handle(from, m) }

// TestSpilledRequestKeepsHardAffinity: a request spilled here (Spilled)
// whose hard affinity names another node is spilled on to that node,
// never granted here because it fits (the spill-once rule), which ran it
// on the wrong node when an earlier incarnation at this address was the
// target.
func TestSpilledRequestKeepsHardAffinity(t *testing.T) {
	other := &fakeNode{}
	runLeaseWorld(t, &leaseWorld{cpus: 4, idle: time.Minute, extra: []namedProc{{"other", other}}, script: func(lw *leaseWorld) {
		lw.driver.requestWith(1, true, func(s *proto.TaskSpec) {
			s.Binary = ""
			s.Strategy = proto.Strategy{Kind: proto.StrategyNodeAffinity, Node: other.id}
		})
		lw.after(500*time.Millisecond, func() {
			r := lw.driver.grants[1]
			switch {
			case r == nil:
				lw.failure = "no answer to the spilled request"
			case r.Granted:
				lw.failure = fmt.Sprintf("a spilled request with a hard affinity to %v was granted on this node", other.id)
			case !r.Spillback || r.SpillNode != other.id:
				lw.failure = fmt.Sprintf("reply %+v, want a spillback to %v", r, other.id)
			}
			lw.done = true
		})
	}})
}
