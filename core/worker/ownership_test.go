package worker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// big is a value that goes to plasma rather than inline.
var big = make([]byte, proto.InlineSizeMax+1)

// put runs the network until w's Put of data answers.
func (c *cluster) put(w *Worker, data []byte) proto.ObjectRef {
	c.n.t.Helper()
	var (
		ref  proto.ObjectRef
		err  error
		done bool
	)
	w.Put(data, func(r proto.ObjectRef, e error) { ref, err, done = r, e, true })
	c.n.run(func() bool { return done })
	if !done || err != nil {
		c.n.t.Fatalf("Put = %v, %v (answered %v)", ref, err, done)
	}
	return ref
}

// TestPutIDsDifferAcrossWorkers: workers have no job, so their Put ids
// must come from something else that is unique: two workers, and two
// incarnations of one worker at one address, never derive the same id (a
// raylet would take the second object for a retried put of the first).
// A driver's ids stay derived from its job.
func TestPutIDsDifferAcrossWorkers(t *testing.T) {
	c := newCluster(t)
	again := New(c.n.env("exec", 99), Config{Raylet: "raylet", Node: core.NodeID{9}, Executor: c.x})
	other := New(c.n.env("exec2", 3), Config{Raylet: "raylet", Node: core.NodeID{9}, Executor: c.x})
	var ids []core.ObjectID
	for _, w := range []*Worker{c.exec, again, other} {
		var got core.ObjectID
		w.Put(i64(1), func(r proto.ObjectRef, err error) { got = r.ID })
		ids = append(ids, got)
	}
	for i := range ids {
		for j := range i {
			if ids[i] == ids[j] {
				t.Fatalf("first Put of workers %d and %d both have id %v, want different", j, i, ids[i])
			}
		}
	}
	var d core.ObjectID
	c.owner.Put(i64(1), func(r proto.ObjectRef, err error) { d = r.ID })
	if want := core.ObjectIDForPut(core.DriverTaskID(core.JobIDFromInt(1)), 1); d != want {
		t.Fatalf("driver's first Put = %v, want %v", d, want)
	}
}

// TestCopiesNameTheirOwner: a primary copy tells its raylet who owns it
// (address, incarnation, the node it dies with: none for a driver) and
// for which job, whether the owner puts it or a worker stores a task's
// return for it.
func TestCopiesNameTheirOwner(t *testing.T) {
	c := newCluster(t)
	c.put(c.owner, big)
	refs, err := c.owner.SubmitTask("big", []proto.Arg{{Value: i64(proto.InlineSizeMax + 1)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); err != nil {
		t.Fatal(err)
	}
	c.put(c.exec, big)
	job := core.JobIDFromInt(1)
	want := []proto.PutObject{
		{Owner: "driver", OwnerID: c.owner.Incarnation(), Job: job},
		{Owner: "driver", OwnerID: c.owner.Incarnation(), Job: job},
		{Owner: "exec", OwnerID: c.exec.Incarnation(), OwnerNode: core.NodeID{9}},
	}
	if len(c.raylet.puts) != len(want) {
		t.Fatalf("%d PutObjects, want %d", len(c.raylet.puts), len(want))
	}
	for i, p := range c.raylet.puts {
		got := proto.PutObject{Owner: p.Owner, OwnerID: p.OwnerID, OwnerNode: p.OwnerNode, Job: p.Job}
		if got.Owner != want[i].Owner || got.OwnerID != want[i].OwnerID || got.OwnerNode != want[i].OwnerNode || got.Job != want[i].Job {
			t.Errorf("PutObject %d names owner %s/%d node %v job %v, want %s/%d node %v job %v", i,
				got.Owner, got.OwnerID, got.OwnerNode, got.Job, want[i].Owner, want[i].OwnerID, want[i].OwnerNode, want[i].Job)
		}
	}
	if c.owner.Incarnation() == 0 || c.owner.Incarnation() == c.exec.Incarnation() {
		t.Fatalf("incarnations %d (driver) and %d (exec), want distinct and non-zero", c.owner.Incarnation(), c.exec.Incarnation())
	}
}

// asker is a test process that calls core workers' services.
type asker struct {
	cli *rpc.Client
}

func newAsker(c *cluster) *asker {
	a := &asker{cli: rpc.NewClient(c.n.env("asker", 5))}
	c.n.procs["asker"] = func(from core.Addr, m core.Message) { a.cli.Handle(from, m) }
	return a
}

// ownsObjects asks w (at addr) about ids on behalf of incarnation id.
func (a *asker) ownsObjects(c *cluster, addr core.Addr, id uint64, ids ...core.ObjectID) *proto.OwnsObjectsReply {
	c.n.t.Helper()
	var rep *proto.OwnsObjectsReply
	var err error
	done := false
	a.cli.Call(addr, &proto.OwnsObjects{Owner: addr, OwnerID: id, IDs: ids}, rpc.Options{}, func(m core.Message, e error) {
		rep, _ = m.(*proto.OwnsObjectsReply)
		err, done = e, true
	})
	c.n.run(func() bool { return done })
	if err != nil || rep == nil {
		c.n.t.Fatalf("OwnsObjects = %v, %v", rep, err)
	}
	return rep
}

// TestOwnsObjects: the owner says which of the objects a raylet holds
// copies of it no longer owns (released, or never its own), and that it
// is dead when asked for another incarnation.
func TestOwnsObjects(t *testing.T) {
	c := newCluster(t)
	a := newAsker(c)
	kept := c.put(c.owner, big)
	released := c.put(c.owner, big)
	c.owner.Release(released)
	stranger := core.ObjectIDForPut(core.DriverTaskID(core.JobIDFromInt(7)), 1)
	inc := c.owner.Incarnation()
	for _, tc := range []struct {
		name         string
		id           uint64
		wantDead     bool
		wantNotOwned []core.ObjectID
	}{
		{"this incarnation", inc, false, []core.ObjectID{released.ID, stranger}},
		{"unknown incarnation", 0, false, []core.ObjectID{released.ID, stranger}},
		{"an earlier incarnation", inc + 2, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := a.ownsObjects(c, "driver", tc.id, kept.ID, released.ID, stranger)
			if rep.Dead != tc.wantDead || !slices.Equal(rep.NotOwned, tc.wantNotOwned) {
				t.Fatalf("OwnsObjects = dead %v not owned %v, want dead %v not owned %v", rep.Dead, rep.NotOwned, tc.wantDead, tc.wantNotOwned)
			}
		})
	}
}

// TestFreeOwned: when its program is done the owner frees the copies of
// everything it owns at once, lets go of
// what it borrows (so that other owners can free theirs), and answers
// borrowers of freed objects that it died; objects it creates afterwards
// are owned as usual.
func TestFreeOwned(t *testing.T) {
	c := newCluster(t)
	a := newAsker(c)
	put := c.put(c.owner, big)
	refs, err := c.owner.SubmitTask("big", []proto.Arg{{Value: i64(proto.InlineSizeMax + 1)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); err != nil {
		t.Fatal(err)
	}
	small := c.put(c.owner, i64(5))
	// The driver borrows an object the executing worker owns.
	theirs := c.put(c.exec, big)
	if err := c.owner.AddLocalRef(theirs); err != nil {
		t.Fatal(err)
	}
	c.exec.addBorrowers([]core.ObjectID{theirs.ID}, "driver", borrowerAt{})
	c.exec.Release(theirs)
	c.n.run(nil)
	if slices.Contains(c.raylet.freed, theirs.ID) {
		t.Fatalf("the worker freed %v while the driver borrowed it", theirs.ID)
	}

	before := len(c.raylet.freed)
	c.owner.FreeOwned()
	c.n.run(nil)
	freed := c.raylet.freed[before:]
	for _, id := range []core.ObjectID{put.ID, refs[0].ID, theirs.ID} {
		if !slices.Contains(freed, id) {
			t.Errorf("raylet freed %v, want %v among them", freed, id)
		}
	}
	if rep := a.ownsObjects(c, "driver", c.owner.Incarnation(), put.ID, refs[0].ID); len(rep.NotOwned) != 2 {
		t.Errorf("OwnsObjects after FreeOwned: not owned %v, want both", rep.NotOwned)
	}
	for _, ref := range []proto.ObjectRef{put, refs[0], small} {
		_, err := c.get(c.exec, ref)
		if !errors.Is(err, proto.ErrOwnerDied) {
			t.Errorf("borrower's Get(%v) after FreeOwned = %v, want OwnerDied", ref.ID, err)
		}
	}
	after := c.put(c.owner, i64(9))
	if v, err := c.get(c.exec, after); err != nil || asI64(v) != 9 {
		t.Errorf("Get of an object put after FreeOwned = %v, %v; want 9", asI64(v), err)
	}
}

// TestGetHandsOutItsOwnCopy: the value Get gives is the caller's own (the
// root package decodes byte values in place): changing it changes
// neither the owner's table nor what the next Get gives.
func TestGetHandsOutItsOwnCopy(t *testing.T) {
	c := newCluster(t)
	ref := c.put(c.owner, i64(42))
	v, err := c.get(c.owner, ref)
	if err != nil {
		t.Fatal(err)
	}
	v[0]++
	again, err := c.get(c.owner, ref)
	if err != nil || asI64(again) != 42 {
		t.Fatalf("Get after the first value was changed = %v, %v; want 42", asI64(again), err)
	}
}

// TestPutRefusedByAFullStore: a Put the raylet refuses for lack of room
// fails with ObjectStoreFull (the caller's errors.Is must find the
// documented kind, not an rpc error) and leaves no object behind: the
// caller gets no reference it could release.
func TestPutRefusedByAFullStore(t *testing.T) {
	c := newCluster(t)
	c.raylet.full = true
	var (
		err  error
		done bool
	)
	c.owner.Put(big, func(_ proto.ObjectRef, e error) { err, done = e, true })
	c.n.run(func() bool { return done })
	if !done || !errors.Is(err, proto.ErrObjectStoreFull) {
		t.Fatalf("Put into a full store = %v (answered %v), want an error matching ErrObjectStoreFull", err, done)
	}
	if n := len(c.owner.refs.objs); n != 0 {
		t.Fatalf("after a refused Put the owner holds %d objects, want 0", n)
	}
}

// TestPutLocationIsWhereThePutWent: a driver that moves to another
// raylet while a Put is in flight records the copy at the raylet that
// stored it, not at its new one (which would pull the object from
// itself, fail, and report a live Put object lost).
func TestPutLocationIsWhereThePutWent(t *testing.T) {
	c := newCluster(t)
	var (
		ref  proto.ObjectRef
		done bool
	)
	c.owner.Put(big, func(r proto.ObjectRef, _ error) { ref, done = r, true })
	c.owner.SetRaylet("raylet-elsewhere")
	c.n.run(func() bool { return done })
	e := c.owner.refs.get(ref.ID)
	if e == nil {
		t.Fatalf("Put answered %v, %v; no entry", ref, done)
	}
	if locs := e.sortedLocations(); len(locs) != 1 || locs[0].Raylet != "raylet" {
		t.Fatalf("Put's copy recorded at %v, want at raylet (where it was put)", locs)
	}
}

// TestStreamItemOwnedBeforeItsReport: a raylet asking whether the owner
// owns an item of a live stream whose report has not arrived yet (its
// copy is stored first) is told yes, and no once the stream is closed:
// a "no" freed the item's only copy before the owner recorded it
// (cluster seed 11).
func TestStreamItemOwnedBeforeItsReport(t *testing.T) {
	c := newCluster(t)
	refs, err := c.owner.SubmitTask("gen", nil, TaskOptions{Streaming: true})
	if err != nil {
		t.Fatal(err)
	}
	item := itemID(refs[0].ID.Task(), 0)
	owns := func() bool {
		var not []core.ObjectID
		c.owner.handleOwnsObjects("raylet", &proto.OwnsObjects{Owner: "driver", OwnerID: c.owner.Incarnation(), IDs: []core.ObjectID{item}},
			func(m core.Message, _ error) { not = m.(*proto.OwnsObjectsReply).NotOwned })
		return len(not) == 0
	}
	if !owns() {
		t.Fatal("an item of a live stream not reported yet is not owned: its raylet frees the copy")
	}
	c.owner.StreamClose(refs[0].ID.Task())
	if owns() {
		t.Fatal("an item of a closed stream is still owned")
	}
}

// heldEnv is a test environment in which every message to another
// process waits inside the process until the test lets it out
// (core.SendBarrier), as on hosts until a writer puts it on the wire.
type heldEnv struct {
	*fenv
	held map[core.Addr][]func()
}

func (e *heldEnv) Holds(to core.Addr) bool { return to != e.self }
func (e *heldEnv) AfterSent(to core.Addr, f func()) bool {
	e.held[to] = append(e.held[to], f)
	return true
}

// TestFreeOwnedThenWaitsForItsMessagesToLeave: a program that shuts down
// frees what it owns and returns its leases; its transport closes next,
// so FreeOwnedThen answers only once those messages left the process (or
// after freeOwnedDrainMax). Before, the program closed at once and the
// raylet held its leases until its checks of the holder gave up.
func TestFreeOwnedThenWaitsForItsMessagesToLeave(t *testing.T) {
	for _, leave := range []bool{true, false} {
		c := newCluster(t)
		env := &heldEnv{fenv: c.n.env("driver", 1), held: map[core.Addr][]func(){}}
		c.owner = New(env, Config{Raylet: "raylet", Node: core.NodeID{9}, Job: core.JobIDFromInt(1), OwnerTimeout: 5 * time.Second})
		c.n.procs["driver"] = func(from core.Addr, m core.Message) { c.owner.Handle(from, m) }
		c.bigInPlasma(t)
		clear(env.held)
		done := false
		c.owner.FreeOwnedThen(func() { done = true })
		if done || len(env.held["raylet"]) == 0 {
			t.Fatalf("FreeOwnedThen answered (%v) or waits for no message to the raylet (%d waits)", done, len(env.held["raylet"]))
		}
		if leave {
			for _, f := range env.held["raylet"] {
				f()
			}
			if !done {
				t.Fatal("FreeOwnedThen did not answer once its messages left")
			}
			continue
		}
		c.n.run(func() bool { return done })
		if !done || c.n.now.Sub(time.Unix(1_700_000_000, 0)) < freeOwnedDrainMax {
			t.Fatalf("FreeOwnedThen with its messages stuck: answered %v at %v, want after %v", done, c.n.now.Sub(time.Unix(1_700_000_000, 0)), freeOwnedDrainMax)
		}
	}
}
