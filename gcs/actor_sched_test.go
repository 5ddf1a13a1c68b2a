package gcs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// Tests of the GCS actor scheduler. Hosts play raylets (granting every
// lease to one worker), workers (running constructors and answering
// pings) and an actor's owner (answering OwnerCheck).

// fakeRaylet grants every lease request to its worker, unless hold is
// set: then requests wait until release.
type fakeRaylet struct {
	worker   core.Addr
	workerID core.WorkerID
	node     core.NodeID
	hold     bool

	srv      *rpc.Server
	requests []proto.RequestLease
	waiting  []func(core.Message, error)
	grants   []uint64
	returns  []proto.ReturnLease
}

func (r *fakeRaylet) handle(hs *host, from core.Addr, m core.Message) bool {
	if r.srv == nil {
		r.srv = rpc.NewServer(hs.env)
		r.srv.Register((&proto.RequestLease{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			req := m.(*proto.RequestLease)
			r.requests = append(r.requests, *req)
			grant := func(core.Message, error) {
				r.grants = append(r.grants, req.LeaseID)
				reply(&proto.LeaseReply{Granted: true, Worker: r.worker, WorkerID: r.workerID, Node: r.node}, nil)
			}
			if r.hold {
				r.waiting = append(r.waiting, grant)
				return
			}
			grant(nil, nil)
		})
		r.srv.Register((&proto.ReturnLease{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			r.returns = append(r.returns, *m.(*proto.ReturnLease))
			reply(&proto.Ack{}, nil)
		})
	}
	return r.srv.Handle(from, m)
}

// release grants the requests that waited.
func (r *fakeRaylet) release() {
	r.hold = false
	w := r.waiting
	r.waiting = nil
	for _, g := range w {
		g(nil, nil)
	}
}

func (r *fakeRaylet) lastGrant() uint64 {
	if len(r.grants) == 0 {
		return 0
	}
	return r.grants[len(r.grants)-1]
}

// fakeWorker runs constructors (recording the incarnations) and hosts
// what it created until it dies or is killed. (A real worker hosts one
// actor; hosting several keeps the tests short.) Like a real worker, it
// hosts an incarnation under the lease of the push that created it and
// ignores kills that name another lease.
type fakeWorker struct {
	failCreate string // a constructor error to raise
	refuse     int    // creation pushes to refuse as a restarted worker does

	srv       *rpc.Server
	hosted    map[core.ActorID]int64
	leases    map[core.ActorID]uint64
	creations []int64
	kills     int
}

func (w *fakeWorker) hosts(id core.ActorID, inc int64) bool {
	got, ok := w.hosted[id]
	return ok && got == inc
}

func (w *fakeWorker) die() { w.hosted = nil }

func (w *fakeWorker) handle(hs *host, from core.Addr, m core.Message) bool {
	if k, ok := m.(*proto.KillActor); ok {
		if w.hosts(k.ActorID, k.Incarnation) && (k.LeaseID == 0 || k.LeaseID == w.leases[k.ActorID]) {
			delete(w.hosted, k.ActorID)
			w.kills++
		}
		return true
	}
	if w.srv == nil {
		w.srv = rpc.NewServer(hs.env)
		w.srv.Register((&proto.PushTask{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			push := m.(*proto.PushTask)
			spec := push.Spec
			if !spec.ActorCreation {
				reply(nil, rpc.Errorf(rpc.CodeInvalid, "only actor creations here"))
				return
			}
			if w.refuse > 0 {
				w.refuse--
				reply(nil, rpc.Errorf(rpc.CodeUnavailable, "not the worker the lease was granted for (it restarted)"))
				return
			}
			w.creations = append(w.creations, spec.ActorIncarnation)
			if w.failCreate != "" {
				reply(&proto.PushTaskReply{Error: proto.NewError(proto.KindTaskFailed, spec.Describe(), "%s", w.failCreate)}, nil)
				return
			}
			if w.hosted == nil {
				w.hosted, w.leases = map[core.ActorID]int64{}, map[core.ActorID]uint64{}
			}
			w.hosted[spec.ActorID] = spec.ActorIncarnation
			w.leases[spec.ActorID] = push.LeaseID
			reply(&proto.PushTaskReply{}, nil)
		})
		w.srv.Register((&proto.ActorPing{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			p := m.(*proto.ActorPing)
			if !w.hosts(p.ActorID, p.Incarnation) {
				reply(nil, rpc.Errorf(rpc.CodeNotFound, "not hosting %v incarnation %d", p.ActorID, p.Incarnation))
				return
			}
			reply(&proto.Ack{}, nil)
		})
	}
	return w.srv.Handle(from, m)
}

// fakeOwner answers OwnerCheck with owns.
type fakeOwner struct {
	owns   bool
	checks int
	srv    *rpc.Server
}

func (o *fakeOwner) handle(hs *host, from core.Addr, m core.Message) bool {
	if o.srv == nil {
		o.srv = rpc.NewServer(hs.env)
		o.srv.Register((&proto.OwnerCheck{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			o.checks++
			reply(&proto.OwnerCheckReply{Owns: o.owns}, nil)
		})
	}
	return o.srv.Handle(from, m)
}

// schedWorld is a harness with two nodes (raylet c1 with worker c2,
// raylet c4 with worker c5) and an owner c3.
type schedWorld struct {
	h      *harness
	r1, r2 *fakeRaylet
	w1, w2 *fakeWorker
	owner  *fakeOwner
	n1, n2 core.NodeID

	// The GCS's tables at the end of the script (the server is gone
	// after the run).
	actors map[core.ActorID]gcs.ActorInfo
	nodes  map[core.NodeID]gcs.NodeInfo
}

// run ends the script with a snapshot of the GCS's tables and runs it.
func (sw *schedWorld) run() {
	sw.h.action("snapshot", func() {
		sw.actors, sw.nodes = map[core.ActorID]gcs.ActorInfo{}, map[core.NodeID]gcs.NodeInfo{}
		for _, a := range sw.h.server().Actors() {
			sw.actors[a.ID] = a
		}
		for _, n := range sw.h.server().Nodes() {
			sw.nodes[n.ID] = n
		}
	})
	sw.h.mustPass()
}

const (
	hostRaylet1 = iota
	hostWorker1
	hostOwner
	hostRaylet2
	hostWorker2
)

func newSchedWorld(t *testing.T, seed uint64) *schedWorld {
	h := newHarness(t, harnessOpts{hosts: 5, seed: seed, cfg: gcs.Config{NodeTimeout: 2 * time.Second, HealthCheckPeriod: 500 * time.Millisecond}})
	sw := &schedWorld{h: h, n1: nodeID(1), n2: nodeID(2),
		w1: &fakeWorker{}, w2: &fakeWorker{}, owner: &fakeOwner{owns: true}}
	sw.r1 = &fakeRaylet{worker: "c2", workerID: core.WorkerID{1}, node: sw.n1}
	sw.r2 = &fakeRaylet{worker: "c5", workerID: core.WorkerID{2}, node: sw.n2}
	h.play(hostRaylet1, sw.r1)
	h.play(hostWorker1, sw.w1)
	h.play(hostOwner, sw.owner)
	h.play(hostRaylet2, sw.r2)
	h.play(hostWorker2, sw.w2)
	res := core.MustResources(core.CPU, 2)
	h.op(hostRaylet1, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(sw.n1, "c1", res, f) })
	h.op(hostRaylet2, "register n2", func(c *gcs.Client, f cb) { c.RegisterNode(sw.n2, "c4", res, f) })
	h.action("heartbeats", func() {
		h.hosts[hostRaylet1].startHeartbeats(sw.n1, 500*time.Millisecond)
		h.hosts[hostRaylet2].startHeartbeats(sw.n2, 500*time.Millisecond)
	})
	return sw
}

func (sw *schedWorld) spec() gcs.ActorSpec {
	return gcs.ActorSpec{Class: "Counter", Args: []proto.Arg{{Value: []byte{7}}}, Resources: core.MustResources(core.CPU, 1),
		Owner: "c3", OwnerID: 42, OwnerRaylet: "c1"}
}

// create registers a managed actor from the owner's host.
func (sw *schedWorld) create(id core.ActorID, maxRestarts int64) *res {
	return sw.h.op(hostOwner, "create actor", func(c *gcs.Client, f cb) { c.CreateActor(id, "", "", maxRestarts, sw.spec(), f) })
}

// actor returns the GCS's record of id (zero while the GCS is down; the
// snapshot after the run).
func (sw *schedWorld) actor(id core.ActorID) gcs.ActorInfo {
	if sw.actors != nil {
		return sw.actors[id]
	}
	if s := sw.h.server(); s != nil {
		a, _ := s.Actor(id)
		return a
	}
	return gcs.ActorInfo{}
}

// waitState waits until the actor is in state with inc restarts.
func (sw *schedWorld) waitState(id core.ActorID, state gcs.ActorState, inc int64, limit time.Duration) {
	sw.h.waitUntil(state.String(), limit, func() bool {
		a := sw.actor(id)
		return a.State == state && a.NumRestarts == inc
	})
}

// workerDied makes worker w lose the actor (it restarted) and its
// raylet report it, as a raylet does when the worker re-registers.
func (sw *schedWorld) workerDied(raylet int, r *fakeRaylet, w *fakeWorker) {
	sw.h.action("worker dies", func() {
		w.die()
		sw.h.hosts[raylet].env.Send("gcs", &proto.LeaseFailed{LeaseID: r.lastGrant(), Reason: "worker restarted"})
	})
}

func TestActorSchedulerPlacesOnOwnersRaylet(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		sw := newSchedWorld(t, seed)
		id := actorID(job1, 1)
		reg := sw.create(id, 0)
		sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
		sw.h.sleep(3 * time.Second) // pings and owner checks pass
		sw.run()

		if !reg.ok() || !reg.r.Created || reg.r.Actors[0].State != gcs.ActorPendingCreation {
			t.Fatalf("%v, want created in PENDING_CREATION", reg)
		}
		a := sw.actor(id)
		if a.State != gcs.ActorAlive || a.Node != sw.n1 || a.Addr != "c2" || a.NumRestarts != 0 {
			t.Errorf("actor = %v, want ALIVE on %v at c2, no restarts", a, sw.n1)
		}
		if len(sw.r1.requests) == 0 || len(sw.r2.requests) != 0 {
			t.Fatalf("lease requests: %d to the owner's raylet, %d to the other; want all to the owner's", len(sw.r1.requests), len(sw.r2.requests))
		}
		req := sw.r1.requests[0]
		if !req.Spec.ActorCreation || req.Spec.Function != "Counter" || req.Spec.Owner != "c3" || req.Spec.ActorID != id || string(req.Spec.Args[0].Value) != "\x07" {
			t.Errorf("lease request spec = %+v, want the actor's creation task", req.Spec)
		}
		if got := sw.w1.creations; len(got) != 1 || got[0] != 0 {
			t.Errorf("worker creations = %v, want [0]", got)
		}
		if sw.owner.checks == 0 {
			t.Errorf("the owner was never checked")
		}
		if len(sw.r1.returns) != 0 {
			t.Errorf("leases returned: %+v, want none while the actor lives", sw.r1.returns)
		}
	}
}

func TestActorSchedulerRestartsAfterWorkerDeathThenDies(t *testing.T) {
	sw := newSchedWorld(t, 1)
	id := actorID(job1, 1)
	sw.create(id, 1)
	sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
	sw.workerDied(hostRaylet1, sw.r1, sw.w1)
	sw.waitState(id, gcs.ActorAlive, 1, 5*time.Second)
	sw.workerDied(hostRaylet1, sw.r1, sw.w1)
	sw.h.waitUntil("DEAD", 5*time.Second, func() bool { return sw.actor(id).State == gcs.ActorDead })
	sw.run()

	a := sw.actor(id)
	if a.NumRestarts != 1 || !strings.Contains(a.DeathCause, "max_restarts=1 exhausted") || !strings.Contains(a.DeathCause, "worker died") {
		t.Errorf("actor = %v, want DEAD after 1 restart with restarts exhausted", a)
	}
	if got := sw.w1.creations; len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("worker creations = %v, want incarnations [0 1]", got)
	}
	disconnected := 0
	for _, r := range sw.r1.returns {
		if r.Disconnect {
			disconnected++
		}
	}
	if disconnected < 2 {
		t.Errorf("returns %+v, want both dead incarnations' leases given back with Disconnect", sw.r1.returns)
	}
}

func TestActorSchedulerRestartsAfterNodeDeath(t *testing.T) {
	sw := newSchedWorld(t, 2)
	id := actorID(job1, 1)
	sw.create(id, -1)
	sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
	sw.h.action("node 1 stops heartbeating", func() { sw.h.hosts[hostRaylet1].beating = false })
	sw.waitState(id, gcs.ActorAlive, 1, 10*time.Second)
	sw.run()

	a := sw.actor(id)
	if a.Node != sw.n2 || a.Addr != "c5" {
		t.Errorf("actor = %v, want ALIVE on the surviving node %v at c5", a, sw.n2)
	}
	if n := sw.nodes[sw.n1]; n.State != gcs.NodeDead {
		t.Errorf("node 1 = %v, want DEAD", n)
	}
	if got := sw.w2.creations; len(got) != 1 || got[0] != 1 {
		t.Errorf("creations on node 2 = %v, want incarnation [1]", got)
	}
}

func TestActorSchedulerCreationFailureIsDeath(t *testing.T) {
	sw := newSchedWorld(t, 3)
	sw.w1.failCreate = "constructor raised"
	id := actorID(job1, 1)
	sw.create(id, -1)
	sw.h.waitUntil("DEAD", 5*time.Second, func() bool { return sw.actor(id).State == gcs.ActorDead })
	sw.run()
	if a := sw.actor(id); !strings.Contains(a.DeathCause, "creation failed") || !strings.Contains(a.DeathCause, "constructor raised") {
		t.Errorf("actor = %v, want DEAD with the constructor's error", a)
	}
	if len(sw.r1.returns) != 1 || !sw.r1.returns[0].Disconnect {
		t.Errorf("returns = %+v, want the lease back with Disconnect", sw.r1.returns)
	}
}

func TestActorSchedulerOwnerDeathKillsActor(t *testing.T) {
	sw := newSchedWorld(t, 4)
	id := actorID(job1, 1)
	sw.create(id, -1)
	sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
	sw.h.action("owner dies", func() { sw.owner.owns = false })
	sw.h.waitUntil("DEAD", 5*time.Second, func() bool { return sw.actor(id).State == gcs.ActorDead })
	sw.h.sleep(2 * time.Second)
	sw.run()
	if a := sw.actor(id); !strings.Contains(a.DeathCause, "owner c3 died") {
		t.Errorf("actor = %v, want DEAD because its owner died", a)
	}
	if len(sw.w1.hosted) != 0 || sw.w1.kills == 0 {
		t.Errorf("worker hosts %v, kills=%d, want it told to exit", sw.w1.hosted, sw.w1.kills)
	}
}

func TestActorSchedulerKillActor(t *testing.T) {
	sw := newSchedWorld(t, 5)
	id := actorID(job1, 1)
	sw.create(id, -1)
	sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
	restart := sw.h.op(hostOwner, "kill with restart", func(c *gcs.Client, f cb) { c.KillActor(id, false, f) })
	sw.waitState(id, gcs.ActorAlive, 1, 5*time.Second)
	update := sw.h.op(hostOwner, "update a managed actor", func(c *gcs.Client, f cb) {
		c.UpdateActor(id, gcs.ActorDead, core.NodeID{}, "", "", f)
	})
	kill := sw.h.op(hostOwner, "kill for good", func(c *gcs.Client, f cb) { c.KillActor(id, true, f) })
	sw.h.sleep(2 * time.Second)
	sw.run()
	if !restart.ok() || restart.r.Actors[0].State != gcs.ActorAlive {
		t.Errorf("%v, want OK (the record before the restart)", restart)
	}
	if update.err == nil || !strings.Contains(update.err.Error(), "managed by the GCS") {
		t.Errorf("%v, want refused: the GCS manages the actor", update)
	}
	if !kill.ok() || kill.r.Actors[0].State != gcs.ActorDead {
		t.Errorf("%v, want DEAD", kill)
	}
	if a := sw.actor(id); a.State != gcs.ActorDead || a.NumRestarts != 1 {
		t.Errorf("actor = %v, want DEAD after one restart", a)
	}
	if len(sw.w1.hosted) != 0 || sw.w1.kills != 2 {
		t.Errorf("worker hosts %v, kills=%d, want both incarnations killed", sw.w1.hosted, sw.w1.kills)
	}
}

func TestActorSchedulerReschedulesAfterGCSRestart(t *testing.T) {
	sw := newSchedWorld(t, 6)
	pending, alive := actorID(job1, 1), actorID(job1, 2)
	sw.create(alive, -1)
	sw.waitState(alive, gcs.ActorAlive, 0, 5*time.Second)
	sw.h.action("raylet 1 holds requests", func() { sw.r1.hold = true })
	sw.create(pending, -1)
	sw.h.waitUntil("lease requested", 5*time.Second, func() bool { return len(sw.r1.waiting) > 0 })
	sw.h.crashGCS("test")
	sw.h.action("raylet answers", func() { sw.r1.release() })
	sw.waitState(pending, gcs.ActorAlive, 0, 10*time.Second)
	// The ALIVE actor kept its incarnation across the restart; the
	// restarted GCS verifies it by pinging its worker.
	sw.h.sleep(2 * time.Second)
	var beforeDeath gcs.ActorInfo
	sw.h.action("alive actor's worker dies silently", func() {
		beforeDeath = sw.actor(alive)
		delete(sw.w1.hosted, alive)
	})
	sw.waitState(alive, gcs.ActorAlive, 1, 10*time.Second)
	sw.run()

	if beforeDeath.State != gcs.ActorAlive || beforeDeath.NumRestarts != 0 {
		t.Errorf("after the GCS restart: %v, want still ALIVE, incarnation 0", beforeDeath)
	}
	if a := sw.actor(pending); a.State != gcs.ActorAlive || a.NumRestarts != 0 {
		t.Errorf("pending actor = %v, want created from its persisted spec, no restart counted", a)
	}
}

// A creation attempt that fails before ALIVE is abandoned and made again
// for the same incarnation, here on the same worker address (a process
// restarted there). The abandoned attempt's kills, resent for a second,
// name its lease, so they pass by the incarnation the next attempt
// created; addressed by actor and incarnation only, they killed it (the
// root cause of TestKillThenCreateActor in sim/workload).
func TestActorSchedulerKillOfAbandonedAttemptSparesNextAttempt(t *testing.T) {
	sw := newSchedWorld(t, 7)
	sw.w1.refuse = 1
	id := actorID(job1, 1)
	sw.create(id, 0)
	sw.waitState(id, gcs.ActorAlive, 0, 5*time.Second)
	sw.h.sleep(3 * time.Second) // past every resend of the abandoned attempt's kill
	sw.run()

	if a := sw.actor(id); a.State != gcs.ActorAlive || a.NumRestarts != 0 {
		t.Errorf("actor = %v, want ALIVE, incarnation 0", a)
	}
	if got := sw.w1.creations; len(got) != 1 || got[0] != 0 {
		t.Errorf("worker creations = %v, want [0] (the first push refused)", got)
	}
	if len(sw.r1.grants) != 2 {
		t.Fatalf("grants = %v, want two attempts", sw.r1.grants)
	}
	if !sw.w1.hosts(id, 0) || sw.w1.leases[id] != sw.r1.grants[1] || sw.w1.kills != 0 {
		t.Errorf("worker hosts %v under lease %d, kills=%d; want incarnation 0 under the second lease %d, never killed",
			sw.w1.hosted, sw.w1.leases[id], sw.w1.kills, sw.r1.grants[1])
	}
}
