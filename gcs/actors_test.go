package gcs_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// namedRaceScript has two clients register the same actor name at the same
// moment with different actor ids.
func namedRaceScript(h *harness) func(t *testing.T) {
	a1, a2, a3 := actorID(job1, 1), actorID(job1, 2), actorID(job1, 3)
	reg := func(id core.ActorID) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.RegisterActor(id, "ns", "counter", 0, f) }
	}
	race := h.concurrent("two clients register the same name", []int{0, 1}, reg(a1), reg(a2))
	named := h.op(0, "get named actor", func(c *gcs.Client, f cb) { c.GetNamedActor("ns", "counter", f) })
	otherNS := h.op(1, "same name in another namespace", func(c *gcs.Client, f cb) { c.RegisterActor(a3, "other", "counter", 0, f) })
	var winner core.ActorID
	loserGet := h.op(1, "get the loser's id", func(c *gcs.Client, f cb) {
		loser := a1
		if race[0].r.ActorID == a1 {
			loser = a2
		}
		winner = race[0].r.ActorID
		c.GetActor(loser, f)
	})
	kill := h.op(0, "kill the winner", func(c *gcs.Client, f cb) { c.UpdateActor(winner, gcs.ActorDead, core.NodeID{}, "", "test kill", f) })
	released := h.op(1, "name released", func(c *gcs.Client, f cb) { c.GetNamedActor("ns", "counter", f) })
	a4 := actorID(job1, 4)
	reuse := h.op(1, "register the released name", func(c *gcs.Client, f cb) { c.RegisterActor(a4, "ns", "counter", 0, f) })

	return func(t *testing.T) {
		r0, r1 := race[0], race[1]
		if !r0.ok() || !r1.ok() {
			t.Fatalf("race: %v / %v, want both OK", r0, r1)
		}
		if r0.r.ActorID != r1.r.ActorID {
			t.Errorf("race: actor ids %v and %v, want the same winner", r0.r.ActorID, r1.r.ActorID)
		}
		if r0.r.Created == r1.r.Created {
			t.Errorf("race: created = %v and %v, want exactly one true", r0.r.Created, r1.r.Created)
		}
		if !named.ok() || named.r.Actors[0].ID != r0.r.ActorID {
			t.Errorf("%v, want the winner %v", named, r0.r.ActorID)
		}
		if !otherNS.ok() || !otherNS.r.Created {
			t.Errorf("%v, want created: names are per namespace", otherNS)
		}
		if !errors.Is(loserGet.err, gcs.ErrNotFound) {
			t.Errorf("%v, want ErrNotFound: the loser was never registered", loserGet)
		}
		if !kill.ok() || kill.r.Actors[0].State != gcs.ActorDead || kill.r.Actors[0].DeathCause != "test kill" {
			t.Errorf("%v, want DEAD with the given cause", kill)
		}
		if !errors.Is(released.err, gcs.ErrNotFound) {
			t.Errorf("%v, want ErrNotFound after the named actor died", released)
		}
		if !reuse.ok() || !reuse.r.Created || reuse.r.ActorID != a4 {
			t.Errorf("%v, want %v created under the released name", reuse, a4)
		}
	}
}

func TestNamedActorGetOrCreateRace(t *testing.T) {
	// Several seeds: the latencies decide who wins, the checks hold for
	// every winner.
	for seed := uint64(1); seed <= 5; seed++ {
		h := newHarness(t, harnessOpts{hosts: 2, seed: seed})
		judge := namedRaceScript(h)
		h.mustPass()
		judge(t)
	}
}

func TestGoldenNamedActorRace(t *testing.T) {
	var buf bytes.Buffer
	h := newHarness(t, harnessOpts{hosts: 2, seed: 3})
	h.traced(&buf)
	judge := namedRaceScript(h)
	h.mustPass()
	judge(t)
	golden(t, "named_actor_race", buf.Bytes())
}

func TestActorStateMachine(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 2})
	n1, n2 := nodeID(1), nodeID(2)
	capacity := core.MustResources(core.CPU, 1)
	h.op(0, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	h.op(1, "register n2", func(c *gcs.Client, f cb) { c.RegisterNode(n2, "c2", capacity, f) })
	h.action("heartbeats", func() {
		h.hosts[0].startHeartbeats(n1, time.Second)
		h.hosts[1].startHeartbeats(n2, time.Second)
	})
	a, b, c3 := actorID(job1, 10), actorID(job1, 11), actorID(job1, 12)
	upd := func(id core.ActorID, st gcs.ActorState, node core.NodeID, cause string) func(*gcs.Client, cb) {
		addr := core.Addr("")
		if st == gcs.ActorAlive {
			addr = "worker-1"
		}
		return func(c *gcs.Client, f cb) { c.UpdateActor(id, st, node, addr, cause, f) }
	}
	type want struct {
		err      error
		state    gcs.ActorState
		restarts int64
	}
	var steps []*res
	var wants []want
	do := func(name string, call func(*gcs.Client, cb), w want) {
		steps = append(steps, h.op(0, name, call))
		wants = append(wants, w)
	}
	fp := gcs.ErrFailedPrecondition
	do("register a (max_restarts 1)", func(c *gcs.Client, f cb) { c.RegisterActor(a, "", "", 1, f) }, want{state: gcs.ActorDependenciesUnready})
	do("a: DEPENDENCIES_UNREADY -> ALIVE", upd(a, gcs.ActorAlive, n1, ""), want{err: fp})
	do("a: -> PENDING_CREATION", upd(a, gcs.ActorPendingCreation, core.NodeID{}, ""), want{state: gcs.ActorPendingCreation})
	do("a: PENDING_CREATION -> RESTARTING", upd(a, gcs.ActorRestarting, core.NodeID{}, ""), want{err: fp})
	do("a: ALIVE on an unknown node", upd(a, gcs.ActorAlive, nodeID(9), ""), want{err: gcs.ErrNotFound})
	do("a: -> ALIVE", upd(a, gcs.ActorAlive, n1, ""), want{state: gcs.ActorAlive})
	do("a: ALIVE -> ALIVE", upd(a, gcs.ActorAlive, n1, ""), want{err: fp})
	do("a: -> RESTARTING", upd(a, gcs.ActorRestarting, core.NodeID{}, ""), want{state: gcs.ActorRestarting, restarts: 1})
	do("a: -> ALIVE again", upd(a, gcs.ActorAlive, n1, ""), want{state: gcs.ActorAlive, restarts: 1})
	do("a: restart past max_restarts", upd(a, gcs.ActorRestarting, core.NodeID{}, ""), want{state: gcs.ActorDead, restarts: 1})
	do("a: DEAD -> ALIVE", upd(a, gcs.ActorAlive, n1, ""), want{err: fp})
	do("a: DEAD -> DEAD", upd(a, gcs.ActorDead, core.NodeID{}, ""), want{err: fp})
	do("a: register a dead id", func(c *gcs.Client, f cb) { c.RegisterActor(a, "", "", 1, f) }, want{err: fp})
	do("register b (named, unlimited)", func(c *gcs.Client, f cb) { c.RegisterActor(b, "ns", "b", -1, f) }, want{state: gcs.ActorDependenciesUnready})
	do("b: register again, same fields", func(c *gcs.Client, f cb) { c.RegisterActor(b, "ns", "b", -1, f) }, want{state: gcs.ActorDependenciesUnready})
	do("b: register again, other fields", func(c *gcs.Client, f cb) { c.RegisterActor(b, "ns", "b2", -1, f) }, want{err: gcs.ErrConflict})
	do("b: -> PENDING_CREATION", upd(b, gcs.ActorPendingCreation, core.NodeID{}, ""), want{state: gcs.ActorPendingCreation})
	for i := int64(1); i <= 3; i++ {
		do("b: -> ALIVE", upd(b, gcs.ActorAlive, n1, ""), want{state: gcs.ActorAlive, restarts: i - 1})
		do("b: -> RESTARTING", upd(b, gcs.ActorRestarting, core.NodeID{}, ""), want{state: gcs.ActorRestarting, restarts: i})
	}
	do("b: RESTARTING -> DEAD", upd(b, gcs.ActorDead, core.NodeID{}, "owner died"), want{state: gcs.ActorDead, restarts: 3})
	do("b: name released", func(c *gcs.Client, f cb) { c.GetNamedActor("ns", "b", f) }, want{err: gcs.ErrNotFound})
	do("register c (max_restarts 2)", func(c *gcs.Client, f cb) { c.RegisterActor(c3, "", "", 2, f) }, want{state: gcs.ActorDependenciesUnready})
	do("c: -> PENDING_CREATION", upd(c3, gcs.ActorPendingCreation, core.NodeID{}, ""), want{state: gcs.ActorPendingCreation})
	do("c: -> ALIVE on n2", upd(c3, gcs.ActorAlive, n2, ""), want{state: gcs.ActorAlive})
	do("unknown actor", upd(actorID(job1, 99), gcs.ActorDead, core.NodeID{}, ""), want{err: gcs.ErrNotFound})

	h.action("n2 stops heartbeating", func() { h.hosts[1].beating = false })
	h.waitUntil("n2 dead", 15*time.Second, func() bool {
		n, _ := h.server().Node(n2)
		return n.State == gcs.NodeDead
	})
	afterDeath := h.op(0, "c after its node died", func(cl *gcs.Client, f cb) { cl.GetActor(c3, f) })
	onDead := h.op(0, "c: ALIVE on the dead node", upd(c3, gcs.ActorAlive, n2, ""))
	list := h.op(0, "list actors", func(c *gcs.Client, f cb) { c.ListActors(f) })
	h.mustPass()

	for i, r := range steps {
		w := wants[i]
		if w.err != nil {
			if !errors.Is(r.err, w.err) {
				t.Errorf("%v, want %v", r, w.err)
			}
			continue
		}
		if !r.ok() || len(r.r.Actors) != 1 {
			t.Errorf("%v, want one actor", r)
			continue
		}
		got := r.r.Actors[0]
		if got.State != w.state || got.NumRestarts != w.restarts {
			t.Errorf("%v, want state %v with %d restarts", r, w.state, w.restarts)
		}
		if got.State == gcs.ActorAlive && (got.Node.IsNil() || got.Addr == "") || got.State != gcs.ActorAlive && !got.Node.IsNil() {
			t.Errorf("%v: node %v / addr %q do not fit state %v", r, got.Node, got.Addr, got.State)
		}
	}
	if dead := steps[9]; dead.ok() && !strings.Contains(dead.r.Actors[0].DeathCause, "max_restarts=1") {
		t.Errorf("%v, want a death cause naming max_restarts", dead)
	}
	if !afterDeath.ok() || afterDeath.r.Actors[0].State != gcs.ActorRestarting || afterDeath.r.Actors[0].NumRestarts != 1 ||
		!afterDeath.r.Actors[0].Node.IsNil() {
		t.Errorf("%v, want RESTARTING with 1 restart after its node died", afterDeath)
	}
	if !errors.Is(onDead.err, gcs.ErrFailedPrecondition) {
		t.Errorf("%v, want ErrFailedPrecondition", onDead)
	}
	if !list.ok() || len(list.r.Actors) != 3 || !slices.IsSortedFunc(list.r.Actors, func(x, y gcs.ActorInfo) int { return bytes.Compare(x.ID[:], y.ID[:]) }) {
		t.Errorf("%v, want 3 actors sorted by id", list)
	}
	for i := 1; list.ok() && i < len(list.r.Actors); i++ {
		if list.r.Actors[i].Version == 0 {
			t.Errorf("actor %v has version 0", list.r.Actors[i])
		}
	}
}

func TestJobs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	add1 := h.op(0, "add job", func(c *gcs.Client, f cb) { c.AddJob("driver-1", []byte("entrypoint=a"), f) })
	add2 := h.op(0, "add another job", func(c *gcs.Client, f cb) { c.AddJob("driver-2", nil, f) })
	fin := h.op(0, "finish job 1", func(c *gcs.Client, f cb) { c.FinishJob(core.JobIDFromInt(1), f) })
	finAgain := h.op(0, "finish job 1 again", func(c *gcs.Client, f cb) { c.FinishJob(core.JobIDFromInt(1), f) })
	finUnknown := h.op(0, "finish an unknown job", func(c *gcs.Client, f cb) { c.FinishJob(core.JobIDFromInt(99), f) })
	list := h.op(0, "list jobs", func(c *gcs.Client, f cb) { c.ListJobs(f) })
	h.mustPass()
	if !add1.ok() || add1.r.Job != core.JobIDFromInt(1) || !add2.ok() || add2.r.Job != core.JobIDFromInt(2) {
		t.Errorf("%v / %v, want jobs 1 and 2 from the counter", add1, add2)
	}
	if !fin.ok() || !fin.r.Jobs[0].Finished || !finAgain.ok() || fin.r.Jobs[0].EndTime != finAgain.r.Jobs[0].EndTime {
		t.Errorf("%v / %v, want finished once, then a no-op", fin, finAgain)
	}
	if !errors.Is(finUnknown.err, gcs.ErrNotFound) {
		t.Errorf("%v, want ErrNotFound", finUnknown)
	}
	if !list.ok() || len(list.r.Jobs) != 2 {
		t.Fatalf("%v, want 2 jobs", list)
	}
	j1, j2 := list.r.Jobs[0], list.r.Jobs[1]
	if j1.ID != core.JobIDFromInt(1) || !j1.Finished || string(j1.Metadata) != "entrypoint=a" || j1.DriverAddr != "driver-1" ||
		j2.Finished || j2.StartTime < j1.StartTime {
		t.Errorf("ListJobs = %v, %v", j1, j2)
	}
}
