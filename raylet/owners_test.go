package raylet_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// These tests drive raylets through their messages only, in a simulated
// world without faults: a real GCS, two raylets (raylet-1 holds the
// copies; raylet-2 is another node, spawned so that a crash ends it for
// good) and scripted owners. Each path by which a raylet learns that the
// owner of a primary copy is gone gets a test, and every test also checks
// the copies of owners that are alive, or only unreachable, stay.

// owner is a scripted owner process: it puts copies of the objects it
// owns into raylets, answers OwnsObjects as a core worker does (released
// objects are not owned; another incarnation is dead), or not at all
// while silent, and can register as a worker or add a job.
type owner struct {
	inc      uint64
	silent   bool
	released map[core.ObjectID]bool
	job      core.JobID
	// intercept, when set, sees every message first and reports whether
	// it consumed it.
	intercept func(core.Addr, core.Message) bool

	env core.Env
	cli *rpc.Client
	srv *rpc.Server
	gcs *gcs.Client
}

func newOwner(inc uint64) *owner { return &owner{inc: inc, released: map[core.ObjectID]bool{}} }

func (o *owner) Start(env core.Env) {
	o.env = env
	o.cli = rpc.NewClient(env)
	o.srv = rpc.NewServer(env)
	o.gcs = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	o.srv.Register((&proto.OwnsObjects{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		q := m.(*proto.OwnsObjects)
		if q.OwnerID != o.inc {
			reply(&proto.OwnsObjectsReply{Dead: true}, nil)
			return
		}
		var not []core.ObjectID
		for _, id := range q.IDs {
			if o.released[id] {
				not = append(not, id)
			}
		}
		reply(&proto.OwnsObjectsReply{NotOwned: not}, nil)
	})
}

func (o *owner) Receive(from core.Addr, m core.Message) {
	if o.intercept != nil && o.intercept(from, m) {
		return
	}
	if o.gcs.Handle(from, m) || o.cli.Handle(from, m) {
		return
	}
	if !o.silent {
		o.srv.Handle(from, m)
	}
}

// world is one scenario: Setup builds the cluster and runs script, whose
// scheduled steps end with h.end().
type world struct {
	t      *testing.T
	w      *sim.World
	script func(h *world)
	owners map[core.Addr]*owner
	ended  bool
	// store2 is raylet-2's object store capacity (0: the default).
	store2 int64
	// heartbeat is the raylets' heartbeat period (0: the default); the
	// GCS's node timeout is three of them.
	heartbeat time.Duration
}

func runScenario(t *testing.T, script func(h *world)) {
	t.Helper()
	runScenarioOn(t, &world{}, script)
}

// runScenarioOn is runScenario on a world sized by h's fields.
func runScenarioOn(t *testing.T, h *world, script func(h *world)) {
	t.Helper()
	w, err := sim.NewWorld(sim.Config{Seed: 1, FaultSpec: "none", FaultPhase: time.Millisecond, LivenessBound: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	h.t, h.script, h.owners = t, script, map[core.Addr]*owner{}
	if r := w.Run(h, t.Name()); !r.Passed {
		t.Fatalf("scenario failed: %s: %s", r.Kind, r.Reason)
	}
	if !h.ended {
		t.Fatalf("the script did not run to its end")
	}
}

var nodeRes = core.MustResources(core.CPU, 2)

func (h *world) Setup(w *sim.World) error {
	h.w = w
	timeout := 3 * time.Second
	if h.heartbeat > 0 {
		timeout = 3 * h.heartbeat
	}
	w.AddProcess("gcs", sim.ProcOptions{Disk: true}, func() core.Process {
		return gcs.NewServer(gcs.Config{NodeTimeout: timeout, HealthCheckPeriod: 500 * time.Millisecond})
	})
	w.AddProcess("raylet-1", sim.ProcOptions{Host: "node-1"}, func() core.Process {
		return raylet.New(raylet.Config{GCS: "gcs", Resources: nodeRes, HeartbeatPeriod: h.heartbeat})
	})
	w.Spawn("raylet-2", sim.ProcOptions{Host: "node-2"}, 0, func() core.Process {
		return raylet.New(raylet.Config{GCS: "gcs", Resources: nodeRes, ObjectStoreBytes: h.store2, HeartbeatPeriod: h.heartbeat})
	}, func(string) {})
	h.script(h)
	return nil
}

func (h *world) Done() bool                        { return h.ended }
func (h *world) Pending() string                   { return "the test script has not ended" }
func (h *world) Check(*sim.World) (string, string) { return "", "" }

// at runs f at simulated time d (from the start).
func (h *world) at(d time.Duration, f func()) { h.w.Schedule(d-h.w.Now(), "test step", f) }

func (h *world) end() { h.ended = true }

// addOwner adds a scripted owner process at addr on host (a machine of its
// own when empty).
func (h *world) addOwner(addr core.Addr, host string, o *owner) *owner {
	h.owners[addr] = o
	h.w.Spawn(addr, sim.ProcOptions{Host: host}, 0, func() core.Process { return o }, func(string) {})
	return o
}

func (h *world) raylet(addr core.Addr) *raylet.Raylet {
	r, _ := h.w.Process(addr).(*raylet.Raylet)
	if r == nil {
		h.t.Fatalf("%s is down", addr)
	}
	return r
}

func (h *world) node(addr core.Addr) core.NodeID { return h.raylet(addr).Node() }

// on runs f on the loop of the owner at addr.
func (h *world) on(addr core.Addr, f func(o *owner)) {
	o := h.owners[addr]
	h.w.Do(addr, "test action", func() { f(o) })
}

// call makes the owner at addr call to with m; a failure fails the test.
func (h *world) call(addr, to core.Addr, m core.Message) {
	h.on(addr, func(o *owner) {
		o.cli.Call(to, m, rpc.Options{}, func(_ core.Message, err error) {
			if err != nil {
				h.t.Errorf("%s: %s to %s: %v", addr, core.MessageName(m.MsgType()), to, err)
			}
		})
	})
}

// put makes the owner at addr store a primary copy of id at raylet-1.
func (h *world) put(addr core.Addr, id core.ObjectID, node core.NodeID, job core.JobID) {
	o := h.owners[addr]
	h.call(addr, "raylet-1", &proto.PutObject{ID: id, Owner: addr, OwnerID: o.inc, OwnerNode: node, Job: job, Data: make([]byte, 1000)})
}

// register makes the process at addr register with raylet as a worker
// whose core worker has incarnation inc.
func (h *world) register(addr, raylet core.Addr, worker byte, inc uint64, launch string) {
	h.call(addr, raylet, &proto.RegisterWorker{Worker: core.WorkerID{worker}, OwnerID: inc, Launch: launch})
}

// expect checks, for each id, whether raylet-1 still holds its copy.
func (h *world) expect(when string, held map[core.ObjectID]bool) {
	h.t.Helper()
	store := h.raylet("raylet-1").Store()
	for id, want := range held {
		if got := store.Contains(id); got != want {
			h.t.Errorf("%s: raylet-1 holds %v: %v, want %v", when, id, got, want)
		}
	}
}

// addJob makes the driver at addr add a job in the GCS, then runs then
// on its loop with the job in o.job.
func (h *world) addJob(addr core.Addr, then func(o *owner)) {
	h.on(addr, func(o *owner) {
		o.gcs.AddJob(addr, nil, func(r gcs.Reply, err error) {
			if err != nil {
				h.t.Errorf("AddJob: %v", err)
			}
			o.job = r.Job
			then(o)
		})
	})
}

// finishAndExit marks the job of the driver at addr finished in the GCS,
// then crashes the driver: its program returned.
func (h *world) finishAndExit(addr core.Addr) {
	h.on(addr, func(o *owner) {
		o.gcs.FinishJob(o.job, func(_ gcs.Reply, err error) {
			if err != nil {
				h.t.Errorf("FinishJob: %v", err)
			}
			h.w.Crash(addr, "test: the driver program returned")
		})
	})
}

// obj is the id of the n-th test object.
func obj(n uint32) core.ObjectID {
	return core.ObjectIDForPut(core.WorkerTaskID(core.JobID{}, 77), n)
}

// TestOwnerNodeDeathFreesItsCopies: the copies of a worker die with the
// worker's node, as soon as the GCS declares the node dead, even while
// the process still answers (a worker of a dead node is fenced). A
// driver on that machine names no node (it moves to another raylet) and
// keeps its copies.
func TestOwnerNodeDeathFreesItsCopies(t *testing.T) {
	runScenario(t, func(h *world) {
		h.addOwner("raylet-2/w1", "node-2", newOwner(5))
		h.addOwner("driver", "node-2", newOwner(6))
		h.at(time.Second, func() {
			h.put("raylet-2/w1", obj(1), h.node("raylet-2"), core.JobID{})
			h.put("driver", obj(2), core.NodeID{}, core.JobIDFromInt(1))
		})
		h.at(6*time.Second, func() {
			h.expect("owners alive", map[core.ObjectID]bool{obj(1): true, obj(2): true})
			h.w.Crash("raylet-2", "test: node-2's raylet dies")
		})
		h.at(15*time.Second, func() {
			h.expect("node-2 dead", map[core.ObjectID]bool{obj(1): false, obj(2): true})
			if got := h.raylet("raylet-1").Stats().OrphansFreed; got != 1 {
				t.Errorf("OrphansFreed = %d, want 1", got)
			}
			h.end()
		})
	})
}

// TestLocalWorkerDeathFreesItsCopies: a raylet knows when a worker of its
// own node died: another process (another incarnation) registered from
// its address, or the launched worker's process exited. Its copies go at
// once, without waiting for a check; a live worker's stay.
func TestLocalWorkerDeathFreesItsCopies(t *testing.T) {
	runScenario(t, func(h *world) {
		h.addOwner("raylet-1/w1", "node-1", newOwner(5))
		h.addOwner("raylet-1/w2", "node-1", newOwner(7))
		h.addOwner("raylet-1/w3", "node-1", newOwner(9))
		var token string
		h.at(time.Second, func() {
			node := h.node("raylet-1")
			token = proto.LaunchPrefix(node) + "1"
			h.register("raylet-1/w1", "raylet-1", 1, 5, "")
			h.register("raylet-1/w2", "raylet-1", 2, 7, token)
			h.register("raylet-1/w3", "raylet-1", 3, 9, "")
			h.put("raylet-1/w1", obj(1), node, core.JobID{})
			h.put("raylet-1/w2", obj(2), node, core.JobID{})
			h.put("raylet-1/w3", obj(3), node, core.JobID{})
		})
		h.at(4900*time.Millisecond, func() {
			h.expect("workers alive", map[core.ObjectID]bool{obj(1): true, obj(2): true, obj(3): true})
			// w1's process restarts (a new incarnation registers from its
			// address, and answers no checks); w2's process exits.
			h.owners["raylet-1/w1"].silent = true
			h.owners["raylet-1/w2"].silent = true
			h.register("raylet-1/w1", "raylet-1", 11, 6, "")
			h.w.Do("raylet-1", "w2 exits", func() { h.raylet("raylet-1").WorkerExited(token, "exit status 1") })
		})
		h.at(5100*time.Millisecond, func() {
			h.expect("w1 restarted, w2 exited", map[core.ObjectID]bool{obj(1): false, obj(2): false, obj(3): true})
			h.end()
		})
	})
}

// TestFinishedJobFreesItsDriversCopies: a driver that exited answers no
// check; once its job is finished in the GCS, the copies it owned for
// that job go. A driver that is only unreachable, its job not finished,
// keeps its copies however long it stays silent.
func TestFinishedJobFreesItsDriversCopies(t *testing.T) {
	runScenario(t, func(h *world) {
		h.addOwner("driver-1", "", newOwner(5))
		h.addOwner("driver-2", "", newOwner(6))
		for _, a := range []core.Addr{"driver-1", "driver-2"} {
			h.at(100*time.Millisecond, func() {
				h.addJob(a, func(o *owner) { h.put(a, obj(uint32(o.inc)), core.NodeID{}, o.job) })
			})
		}
		h.at(5*time.Second, func() {
			h.expect("drivers alive", map[core.ObjectID]bool{obj(5): true, obj(6): true})
			h.finishAndExit("driver-1")
			h.owners["driver-2"].silent = true
		})
		h.at(40*time.Second, func() {
			h.expect("driver-1 finished, driver-2 unreachable", map[core.ObjectID]bool{obj(5): false, obj(6): true})
			h.end()
		})
	})
}

// TestOwnerChecks: every owner is asked now and then which copies it
// still owns. What it no longer owns goes, and all of it when another
// incarnation answers at its address. An owner that leaves the checks
// unanswered is asked about at the raylet of its node, which knows when
// a worker of its died; a silent owner nobody knows dead keeps its copies.
func TestOwnerChecks(t *testing.T) {
	runScenario(t, func(h *world) {
		o1 := h.addOwner("raylet-2/w1", "node-2", newOwner(5))
		o2 := h.addOwner("raylet-2/w2", "node-2", newOwner(6))
		o3 := h.addOwner("raylet-2/w3", "node-2", newOwner(7))
		o4 := h.addOwner("raylet-2/w4", "node-2", newOwner(8))
		h.at(time.Second, func() {
			node := h.node("raylet-2")
			h.register("raylet-2/w3", "raylet-2", 3, 7, "")
			h.register("raylet-2/w4", "raylet-2", 4, 8, "")
			h.put("raylet-2/w1", obj(1), node, core.JobID{})
			h.put("raylet-2/w1", obj(2), node, core.JobID{})
			h.put("raylet-2/w2", obj(3), node, core.JobID{})
			h.put("raylet-2/w3", obj(4), node, core.JobID{})
			h.put("raylet-2/w4", obj(5), node, core.JobID{})
		})
		h.at(5*time.Second, func() {
			h.expect("every owner owns its objects", map[core.ObjectID]bool{obj(1): true, obj(2): true, obj(3): true, obj(4): true, obj(5): true})
			o1.released[obj(1)] = true
			o2.inc = 16 // a new process at w2's address
			// w3's process died and another registered at its address
			// (raylet-2 knows); the address answers nothing. w4 is alive
			// and registered but unreachable.
			o3.silent, o4.silent = true, true
			h.register("raylet-2/w3", "raylet-2", 13, 17, "")
		})
		h.at(30*time.Second, func() {
			h.expect("after the checks", map[core.ObjectID]bool{obj(1): false, obj(2): true, obj(3): false, obj(4): false, obj(5): true})
			h.end()
		})
	})
}

// TestNeverFreesALiveOwnersCopies: owners that own their objects keep
// their copies for as long as they answer, through many checks, whatever
// kind they are; and a raylet that is asked about an owner it knows
// nothing of says nothing.
func TestNeverFreesALiveOwnersCopies(t *testing.T) {
	runScenario(t, func(h *world) {
		h.addOwner("raylet-1/w1", "node-1", newOwner(5))
		h.addOwner("raylet-2/w1", "node-2", newOwner(6))
		h.addOwner("driver", "", newOwner(7))
		h.at(time.Second, func() {
			h.register("raylet-1/w1", "raylet-1", 1, 5, "")
			h.register("raylet-2/w1", "raylet-2", 1, 6, "")
			h.put("raylet-1/w1", obj(1), h.node("raylet-1"), core.JobID{})
			h.put("raylet-2/w1", obj(2), h.node("raylet-2"), core.JobID{})
			h.put("driver", obj(3), core.NodeID{}, core.JobIDFromInt(1))
		})
		h.at(2*time.Second, func() {
			// raylet-1 is asked, as an owner's node, about an owner it never saw.
			h.on("driver", func(o *owner) {
				o.cli.Call("raylet-1", &proto.OwnsObjects{Owner: "nobody", OwnerID: 3}, rpc.Options{}, func(m core.Message, err error) {
					if err != nil || m.(*proto.OwnsObjectsReply).Dead {
						t.Errorf("raylet-1 on an owner it never saw: %v, %v; want not dead", m, err)
					}
				})
			})
		})
		for s := 3; s <= 60; s += 19 {
			h.at(time.Duration(s)*time.Second, func() {
				h.expect(fmt.Sprintf("at %ds", s), map[core.ObjectID]bool{obj(1): true, obj(2): true, obj(3): true})
			})
		}
		h.at(61*time.Second, func() {
			if got := h.raylet("raylet-1").Stats().OrphansFreed; got != 0 {
				t.Errorf("OrphansFreed = %d, want 0", got)
			}
			h.end()
		})
	})
}

// TestFinishedJobFreesItsDriversLeases: a lease whose holder does not
// answer the raylet's checks is freed after leaseCheckUnansweredMax of
// them (30 s), since the holder may only be unreachable; but a holder
// that is the driver of a finished job has exited (a lease granted as it
// shut down, which it never heard of): its lease goes at the next check.
// An unreachable driver whose job is not finished keeps its lease.
func TestFinishedJobFreesItsDriversLeases(t *testing.T) {
	runScenario(t, func(h *world) {
		h.addOwner("raylet-1/w1", "node-1", newOwner(7))
		h.addOwner("raylet-1/w2", "node-1", newOwner(8))
		h.addOwner("driver-1", "", newOwner(5))
		h.addOwner("driver-2", "", newOwner(6))
		h.at(100*time.Millisecond, func() {
			h.register("raylet-1/w1", "raylet-1", 1, 7, "")
			h.register("raylet-1/w2", "raylet-1", 2, 8, "")
		})
		for i, a := range []core.Addr{"driver-1", "driver-2"} {
			h.at(200*time.Millisecond, func() {
				h.addJob(a, func(o *owner) {
					spec := proto.TaskSpec{TaskID: core.NewTaskID(o.job, core.TaskID{}, 1), Job: o.job, Function: "f", NumReturns: 1,
						Resources: core.MustResources(core.CPU, 1), Owner: a,
						Strategy: proto.Strategy{Kind: proto.StrategyNodeAffinity, Node: h.node("raylet-1")}}
					o.cli.Call("raylet-1", &proto.RequestLease{Spec: spec, LeaseID: uint64(i + 1)}, rpc.Options{Timeout: time.Minute}, func(core.Message, error) {})
				})
			})
		}
		h.at(3*time.Second, func() {
			if got := h.raylet("raylet-1").Available().Get(core.CPU); got != 0 {
				t.Fatalf("available = %v CPUs, want 0 (both leases granted)", got)
			}
			h.finishAndExit("driver-1")
			h.owners["driver-2"].silent = true
		})
		h.at(10*time.Second, func() {
			r := h.raylet("raylet-1")
			if got, n := r.Available().Get(core.CPU), r.Stats().FinishedDriverLeases; got != core.Units(1) || n != 1 {
				t.Errorf("7 s after driver-1's job finished: %v CPUs available, %d leases of finished drivers freed; want 1 CPU (driver-2's lease kept), 1", got, n)
			}
			h.end()
		})
	})
}
