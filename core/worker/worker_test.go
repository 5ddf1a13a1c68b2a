package worker

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// TestGoldenTaskLifecycle records the protocol exchange of one task: the
// owner asks its raylet for a lease, pushes the task to the granted
// worker, gets the return inline, and gives the lease back.
func TestGoldenTaskLifecycle(t *testing.T) {
	c := newCluster(t)
	var trace strings.Builder
	c.n.trace = &trace
	refs, err := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.get(c.owner, refs[0])
	if err != nil || asI64(v) != 3 {
		t.Fatalf("Get(add(1, 2)) = %v, %v; want 3", asI64(v), err)
	}
	c.n.run(nil)
	if len(c.raylet.leases) != 0 {
		t.Fatalf("leases still held after the task: %v", c.raylet.leases)
	}
	golden(t, "task_lifecycle", []byte(trace.String()))
}

func TestRetryBudget(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fn         string
		opts       TaskOptions
		workerDies bool // the raylet reports each attempt's worker dead
		wantRuns   int
		wantKind   proto.ErrorKind
	}{
		{"default budget is 3 retries", "hang", TaskOptions{}, true, 4, proto.KindWorkerDied},
		{"NoRetries fails at once", "hang", TaskOptions{MaxRetries: NoRetries}, true, 1, proto.KindWorkerDied},
		{"explicit budget", "hang", TaskOptions{MaxRetries: 1}, true, 2, proto.KindWorkerDied},
		{"user error not retried", "fail", TaskOptions{}, false, 1, proto.KindTaskFailed},
		{"user error retried with RetryExceptions", "fail", TaskOptions{RetryExceptions: true, MaxRetries: 2}, false, 3, proto.KindTaskFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			refs, err := c.owner.SubmitTask(tc.fn, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var gotErr error
			done := false
			c.owner.Get(refs[0], func(_ []byte, err error) { gotErr, done = err, true })
			killed := 0
			for range 20 {
				c.n.run(func() bool { return done || (tc.workerDies && c.x.runs[tc.fn] > killed) })
				if done {
					break
				}
				// The worker died while running the attempt: its raylet
				// tells the lease holder.
				killed++
				last := c.raylet.granted[len(c.raylet.granted)-1]
				c.raylet.env.Send("driver", &proto.LeaseFailed{LeaseID: last, Reason: "worker crashed"})
			}
			var te *proto.TaskError
			if !errors.As(gotErr, &te) || te.Kind != tc.wantKind {
				t.Fatalf("Get = %v, want kind %v", gotErr, tc.wantKind)
			}
			if got := c.x.runs[tc.fn]; got != tc.wantRuns {
				t.Fatalf("%s ran %d times, want %d", tc.fn, got, tc.wantRuns)
			}
		})
	}
}

func TestReferenceCounting(t *testing.T) {
	t.Run("last local reference frees the plasma copy", func(t *testing.T) {
		c := newCluster(t)
		var ref proto.ObjectRef
		c.owner.Put(make([]byte, proto.InlineSizeMax+1), func(r proto.ObjectRef, err error) {
			if err != nil {
				t.Fatal(err)
			}
			ref = r
		})
		c.n.run(nil)
		if _, ok := c.raylet.objects[ref.ID]; !ok {
			t.Fatal("large Put did not reach plasma")
		}
		if err := c.owner.AddLocalRef(ref); err != nil {
			t.Fatal(err)
		}
		c.owner.Release(ref)
		c.n.run(nil)
		if len(c.raylet.freed) != 0 {
			t.Fatalf("freed %v with a reference left", c.raylet.freed)
		}
		c.owner.Release(ref)
		c.n.run(nil)
		if !slices.Equal(c.raylet.freed, []core.ObjectID{ref.ID}) {
			t.Fatalf("freed %v, want [%v]", c.raylet.freed, ref.ID)
		}
	})
	t.Run("submitted task keeps its argument alive", func(t *testing.T) {
		c := newCluster(t)
		a, _ := c.owner.SubmitTask("big", []proto.Arg{{Value: i64(proto.InlineSizeMax + 10)}}, TaskOptions{})
		b, _ := c.owner.SubmitTask("hang", []proto.Arg{{Ref: &a[0]}}, TaskOptions{})
		c.n.run(func() bool { return c.x.runs["hang"] == 1 })
		c.owner.Release(a[0])
		c.n.run(nil)
		if e := c.owner.refs.get(a[0].ID); e == nil || e.submitted != 1 {
			t.Fatalf("argument entry %+v, want kept with one submitted reference", e)
		}
		if len(c.raylet.freed) != 0 {
			t.Fatalf("freed %v while a task that takes it is pending", c.raylet.freed)
		}
		_ = b
	})
	t.Run("a borrower that already released answers at once", func(t *testing.T) {
		c := newCluster(t)
		refs := c.bigInPlasma(t)
		c.owner.addBorrowers([]core.ObjectID{refs[0].ID}, "exec", borrowerAt{}) // exec holds no reference
		c.owner.Release(refs[0])
		c.n.run(nil)
		if !slices.Equal(c.raylet.freed, []core.ObjectID{refs[0].ID}) {
			t.Fatalf("freed %v, want [%v]: the borrower holds nothing", c.raylet.freed, refs[0].ID)
		}
	})
	t.Run("a borrower on a node that died is dropped", func(t *testing.T) {
		c := newCluster(t)
		refs := c.bigInPlasma(t)
		if err := c.exec.AddLocalRef(refs[0]); err != nil {
			t.Fatal(err)
		}
		node := core.NodeID{7}
		c.owner.addBorrowers([]core.ObjectID{refs[0].ID}, "exec", borrowerAt{node: node})
		c.owner.Release(refs[0])
		c.n.run(nil)
		if len(c.raylet.freed) != 0 {
			t.Fatalf("freed %v while borrowed", c.raylet.freed)
		}
		// exec never answers (it died with its node): the news frees it.
		c.owner.NodeDied(node, "raylet-of-node-7")
		c.n.run(nil)
		if !slices.Equal(c.raylet.freed, []core.ObjectID{refs[0].ID}) || c.owner.Stats().BorrowersDropped != 1 {
			t.Fatalf("freed %v (dropped %d) after the borrower's node died, want [%v] (1)", c.raylet.freed, c.owner.Stats().BorrowersDropped, refs[0].ID)
		}
		if err := c.owner.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("owner waits for its borrower, then frees", func(t *testing.T) {
		c := newCluster(t)
		refs := c.bigInPlasma(t)
		// exec borrows the object, then drops it.
		if err := c.exec.AddLocalRef(refs[0]); err != nil {
			t.Fatal(err)
		}
		c.owner.addBorrowers([]core.ObjectID{refs[0].ID}, "exec", borrowerAt{})
		c.owner.Release(refs[0])
		c.n.run(nil)
		if len(c.raylet.freed) != 0 {
			t.Fatalf("freed %v while borrowed", c.raylet.freed)
		}
		c.exec.Release(refs[0])
		c.n.run(nil)
		if !slices.Equal(c.raylet.freed, []core.ObjectID{refs[0].ID}) {
			t.Fatalf("freed %v after the borrower released, want [%v]", c.raylet.freed, refs[0].ID)
		}
	})
}

func TestLostObjects(t *testing.T) {
	t.Run("a lost task return is rebuilt from lineage", func(t *testing.T) {
		c := newCluster(t)
		refs := c.bigInPlasma(t)
		clear(c.raylet.objects)
		c.owner.NodeDied(c.raylet.node, "raylet")
		c.raylet.node = core.NodeID{10} // the raylet restarted: a new node
		v, err := c.get(c.owner, refs[0])
		if err != nil || len(v) != proto.InlineSizeMax+10 {
			t.Fatalf("Get after loss = %d bytes, %v; want the rebuilt value", len(v), err)
		}
		if c.x.runs["big"] != 2 || c.owner.Stats().Reconstructed != 1 {
			t.Fatalf("big ran %d times, %d reconstructions; want 2 and 1", c.x.runs["big"], c.owner.Stats().Reconstructed)
		}
	})
	t.Run("a rebuild borrows again an argument released since", func(t *testing.T) {
		c := newCluster(t)
		// B is exec's object, borrowed by the owner and passed to the
		// task; the owner releases it once the task is done.
		var b proto.ObjectRef
		c.exec.Put(i64(5), func(r proto.ObjectRef, err error) { b = r })
		if err := c.owner.AddLocalRef(b); err != nil {
			t.Fatal(err)
		}
		refs, _ := c.owner.SubmitTask("big", []proto.Arg{{Value: i64(proto.InlineSizeMax + 10)}, {Ref: &b}}, TaskOptions{})
		if _, err := c.get(c.owner, refs[0]); err != nil {
			t.Fatal(err)
		}
		c.owner.Release(b)
		if c.owner.refs.get(b.ID) != nil {
			t.Fatalf("the owner still holds %v after releasing it and its task finishing", b.ID)
		}
		clear(c.raylet.objects)
		c.owner.NodeDied(c.raylet.node, "raylet")
		c.raylet.node = core.NodeID{10}
		// The rebuild holds its argument as the first attempt did.
		if e := c.owner.refs.get(b.ID); e == nil || e.submitted != 1 {
			t.Fatalf("rebuild's argument %v: entry %v, want one submitted reference", b.ID, e)
		}
		if err := c.owner.CheckInvariants(); err != nil {
			t.Fatalf("CheckInvariants() during the rebuild = %v", err)
		}
		if v, err := c.get(c.owner, refs[0]); err != nil || len(v) != proto.InlineSizeMax+10 {
			t.Fatalf("Get after loss = %d bytes, %v; want the rebuilt value", len(v), err)
		}
		if e := c.owner.refs.get(b.ID); e != nil {
			t.Fatalf("the owner still holds %v after the rebuild finished: %+v", b.ID, e)
		}
	})
	t.Run("a lost Put object cannot be rebuilt", func(t *testing.T) {
		c := newCluster(t)
		var ref proto.ObjectRef
		c.owner.Put(make([]byte, proto.InlineSizeMax+1), func(r proto.ObjectRef, err error) { ref = r })
		c.n.run(nil)
		clear(c.raylet.objects)
		c.owner.NodeDied(c.raylet.node, "raylet")
		c.raylet.node = core.NodeID{10} // the raylet restarted: a new node
		if _, err := c.get(c.owner, ref); !errors.Is(err, proto.ErrObjectLost) {
			t.Fatalf("Get of a lost Put = %v, want ObjectLost", err)
		}
	})
	t.Run("a restarted owner answers OwnerDied", func(t *testing.T) {
		c := newCluster(t)
		refs, _ := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
		if _, err := c.get(c.owner, refs[0]); err != nil {
			t.Fatal(err)
		}
		// The owner process restarts: a new core worker at its address.
		c.owner = New(c.n.env("driver", 99), Config{Raylet: "raylet", Job: core.JobIDFromInt(1)})
		if _, err := c.get(c.exec, refs[0]); !errors.Is(err, proto.ErrOwnerDied) {
			t.Fatalf("Get after the owner restarted = %v, want OwnerDied", err)
		}
	})
	t.Run("an object whose owner died fails with OwnerDied", func(t *testing.T) {
		c := newCluster(t)
		// The owner "gone" never answers: exec's status request times out.
		ref := proto.ObjectRef{ID: core.ObjectIDForReturn(core.NewTaskID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1), 1), Owner: "gone"}
		c.exec.cfg.OwnerTimeout = 3 * time.Second
		if _, err := c.get(c.exec, ref); !errors.Is(err, proto.ErrOwnerDied) {
			t.Fatalf("Get with a dead owner = %v, want OwnerDied", err)
		}
	})
}

// TestActorSequencing pushes one caller's calls to a hosted actor out of
// order and twice: they run once each, in sequence order.
func TestActorSequencing(t *testing.T) {
	c := newCluster(t)
	actor := core.NewActorID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1)
	create := proto.TaskSpec{TaskID: core.ActorCreationTaskID(actor), Function: "Counter", Owner: "driver", ActorID: actor, ActorCreation: true}
	var replies []string
	call := func(seq, skip uint64, arg int64, inc int64) {
		spec := proto.TaskSpec{TaskID: core.NewActorTaskID(actor, core.DriverTaskID(core.JobIDFromInt(1)), seq), Function: "incr", NumReturns: 1,
			Args: []proto.Arg{{Value: i64(arg)}}, Owner: "driver", ActorID: actor, ActorCall: true, Caller: "driver", CallerID: 42,
			CallerSeq: seq, SkipBelow: skip, ActorIncarnation: inc}
		c.exec.handlePushTask("driver", &proto.PushTask{Spec: spec}, func(m core.Message, err error) {
			if err != nil {
				replies = append(replies, "refused: "+err.Error())
				return
			}
			r := m.(*proto.PushTaskReply)
			replies = append(replies, string(rune('0'+asI64(r.Returns[0].Inline))))
		})
	}
	c.exec.handlePushTask("driver", &proto.PushTask{Spec: create}, func(m core.Message, err error) {
		if err != nil || m.(*proto.PushTaskReply).Error != nil {
			t.Fatalf("creation failed: %v", err)
		}
	})
	call(3, 1, 30, 0)
	call(2, 1, 20, 0)
	if len(c.x.calls) != 0 {
		t.Fatalf("ran %v before call 1 arrived", c.x.calls)
	}
	call(1, 1, 10, 0)
	call(2, 1, 20, 0) // a duplicate of a finished call: answered, not run
	call(4, 1, 40, 1) // meant for another incarnation: refused
	c.n.run(nil)
	if want := []string{"incr:10", "incr:20", "incr:30"}; !slices.Equal(c.x.calls, want) {
		t.Fatalf("actor ran %v, want %v", c.x.calls, want)
	}
	if len(replies) != 5 || replies[3] != "2" || !strings.HasPrefix(replies[4], "refused") {
		t.Fatalf("replies %q, want three results, the duplicate's cached result, and a refusal", replies)
	}
}

// TestActorMaxConcurrency: an actor created with MaxConcurrency 2 starts
// a caller's calls in its order and runs two at once; the third starts
// when one of them finishes. With the default, one runs at a time.
func TestActorMaxConcurrency(t *testing.T) {
	for _, tc := range []struct {
		max     uint32
		running int
	}{{0, 1}, {1, 1}, {2, 2}} {
		c := newCluster(t)
		actor := core.NewActorID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1)
		create := proto.TaskSpec{TaskID: core.ActorCreationTaskID(actor), Function: "Counter", Owner: "driver", ActorID: actor, ActorCreation: true, MaxConcurrency: tc.max}
		c.exec.handlePushTask("driver", &proto.PushTask{Spec: create}, func(m core.Message, err error) {
			if err != nil || m.(*proto.PushTaskReply).Error != nil {
				t.Fatalf("creation failed: %v", err)
			}
		})
		var answered []int64
		for seq := uint64(1); seq <= 3; seq++ {
			spec := proto.TaskSpec{TaskID: core.NewActorTaskID(actor, core.DriverTaskID(core.JobIDFromInt(1)), seq), Function: "park", NumReturns: 1,
				Args: []proto.Arg{{Value: i64(int64(seq))}}, Owner: "driver", ActorID: actor, ActorCall: true, Caller: "driver", CallerID: 42, CallerSeq: seq, SkipBelow: 1}
			c.exec.handlePushTask("driver", &proto.PushTask{Spec: spec}, func(m core.Message, err error) {
				if err != nil {
					t.Fatalf("call %d: %v", seq, err)
				}
				answered = append(answered, asI64(m.(*proto.PushTaskReply).Returns[0].Inline))
			})
		}
		c.n.run(nil)
		want := []string{"park:1", "park:2", "park:3"}[:tc.running]
		if !slices.Equal(c.x.calls, want) {
			t.Fatalf("max concurrency %d: started %v, want %v", tc.max, c.x.calls, want)
		}
		c.x.parked[0]()
		c.n.run(nil)
		if want := []string{"park:1", "park:2", "park:3"}[:tc.running+1]; !slices.Equal(c.x.calls, want) {
			t.Fatalf("max concurrency %d: after the first call finished, started %v, want %v", tc.max, c.x.calls, want)
		}
		for finished := 1; finished < 3; finished++ {
			if finished >= len(c.x.parked) {
				t.Fatalf("max concurrency %d: %d calls finished and none runs", tc.max, finished)
			}
			c.x.parked[finished]()
			c.n.run(nil)
		}
		if len(answered) != 3 || answered[0] != 1 {
			t.Fatalf("max concurrency %d: answered %v, want all three calls, the first first", tc.max, answered)
		}
		if err := c.exec.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKillActorNamesTheAttempt: a worker exits on KillActor only for the
// incarnation it hosts and the creation attempt (lease) it hosts it for;
// a kill naming no lease kills the incarnation under any. A new push for
// the incarnation it already hosts moves it to that push's lease.
func TestKillActorNamesTheAttempt(t *testing.T) {
	actor := core.NewActorID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1)
	create := proto.TaskSpec{TaskID: core.ActorCreationTaskID(actor), Function: "Counter", Owner: "driver", ActorID: actor, ActorCreation: true}
	for _, tc := range []struct {
		name   string
		pushes []uint64 // leases of the creation pushes, in order
		kill   proto.KillActor
		exits  bool
	}{
		{"its lease", []uint64{5}, proto.KillActor{ActorID: actor, LeaseID: 5}, true},
		{"no lease", []uint64{5}, proto.KillActor{ActorID: actor}, true},
		{"an abandoned attempt's lease", []uint64{5}, proto.KillActor{ActorID: actor, LeaseID: 4}, false},
		{"another incarnation", []uint64{5}, proto.KillActor{ActorID: actor, Incarnation: 1, LeaseID: 5}, false},
		{"another actor", []uint64{5}, proto.KillActor{ActorID: core.ActorID{1}, LeaseID: 5}, false},
		{"the lease it was pushed again under", []uint64{5, 6}, proto.KillActor{ActorID: actor, LeaseID: 6}, true},
		{"the lease before it was pushed again", []uint64{5, 6}, proto.KillActor{ActorID: actor, LeaseID: 5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			for _, l := range tc.pushes {
				c.exec.handlePushTask("gcs", &proto.PushTask{Spec: create, LeaseID: l}, func(m core.Message, err error) {
					if err != nil || m.(*proto.PushTaskReply).Error != nil {
						t.Fatalf("creation under lease %d: %v, %v", l, m, err)
					}
				})
				c.n.run(nil)
			}
			exited := func() (exited bool) {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(core.FailStop); !ok {
							panic(r)
						}
						exited = true
					}
				}()
				c.exec.Handle("gcs", &tc.kill)
				return false
			}()
			if exited != tc.exits {
				t.Fatalf("KillActor%+v after pushes under leases %v: exited = %v, want %v", tc.kill, tc.pushes, exited, tc.exits)
			}
		})
	}
}

// TestResolveArgsOwnedInlineArgument: an argument the executing worker
// owns and holds inline answers Get at once; the task must still run
// once, with every argument (it used to run twice, the first time before
// the immediate values after the reference were filled in).
func TestResolveArgsOwnedInlineArgument(t *testing.T) {
	c := newCluster(t)
	refs, err := c.exec.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.get(c.exec, refs[0]); err != nil || asI64(v) != 3 {
		t.Fatalf("add(1, 2) = %v, %v", asI64(v), err)
	}
	spec := proto.TaskSpec{Function: "mul", Owner: "exec", NumReturns: 1, Args: []proto.Arg{{Ref: &refs[0]}, {Value: i64(5)}}}
	var calls [][][]byte
	c.exec.resolveArgs(&spec, func(args [][]byte, terr *proto.TaskError) {
		if terr != nil {
			t.Errorf("resolveArgs error %v", terr)
		}
		calls = append(calls, args)
	})
	c.n.run(nil)
	if len(calls) != 1 {
		t.Fatalf("resolveArgs called done %d times, want 1", len(calls))
	}
	if got := calls[0]; len(got) != 2 || asI64(got[0]) != 3 || asI64(got[1]) != 5 {
		t.Fatalf("resolveArgs args = %v, want [3 5]", got)
	}
}

// barrierEnv is a harness env whose sends stay inside the process until
// the test releases them (core.SendBarrier).
type barrierEnv struct {
	*fenv
	waiting []func()
}

func (e *barrierEnv) Holds(core.Addr) bool { return true }

func (e *barrierEnv) AfterSent(_ core.Addr, f func()) bool {
	e.waiting = append(e.waiting, f)
	return true
}

// replyFixture is an actor on a barrierEnv worker, created with max
// concurrency maxConc, and the answers of the calls sent to it.
type replyFixture struct {
	c        *cluster
	env      *barrierEnv
	actor    core.ActorID
	answered []int64
	acks     []bool
}

func newReplyFixture(t *testing.T, maxConc uint32, unacked ...bool) *replyFixture {
	c := newCluster(t)
	f := &replyFixture{c: c, env: &barrierEnv{fenv: c.n.env("exec", 2)}}
	c.exec = New(f.env, Config{Raylet: "raylet", Node: core.NodeID{9}, Executor: c.x, WorkerID: core.WorkerID{5}})
	c.x.w = c.exec
	c.n.procs["exec"] = func(from core.Addr, m core.Message) { c.exec.Handle(from, m) }
	f.actor = core.NewActorID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1)
	create := proto.TaskSpec{TaskID: core.ActorCreationTaskID(f.actor), Function: "Counter", Owner: "driver", ActorID: f.actor, ActorCreation: true, MaxConcurrency: maxConc,
		UnackedReplies: len(unacked) > 0 && unacked[0]}
	c.exec.handlePushTask("driver", &proto.PushTask{Spec: create}, func(m core.Message, err error) {
		if err != nil || m.(*proto.PushTaskReply).Error != nil {
			t.Fatalf("creation failed: %v", err)
		}
	})
	return f
}

// call sends call seq (parking in the executor until released).
func (f *replyFixture) call(t *testing.T, seq uint64) {
	spec := proto.TaskSpec{TaskID: core.NewActorTaskID(f.actor, core.DriverTaskID(core.JobIDFromInt(1)), seq), Function: "park", NumReturns: 1,
		Args: []proto.Arg{{Value: i64(int64(seq))}}, Owner: "driver", ActorID: f.actor, ActorCall: true, Caller: "driver", CallerID: 42, CallerSeq: seq, SkipBelow: 1}
	f.c.exec.handlePushTask("driver", &proto.PushTask{Spec: spec}, func(m core.Message, err error) {
		if err != nil {
			t.Fatalf("call %d: %v", seq, err)
		}
		r := m.(*proto.PushTaskReply)
		f.answered = append(f.answered, asI64(r.Returns[0].Inline))
		f.acks = append(f.acks, r.AckWanted)
	})
}

func (f *replyFixture) ack(seq uint64) {
	f.c.exec.Handle("driver", &proto.ActorReplyAck{Actor: f.actor, Caller: "driver", CallerID: 42, Seq: seq})
}

func (f *replyFixture) started(t *testing.T, want ...string) {
	t.Helper()
	if !slices.Equal(f.c.x.calls, want) {
		t.Fatalf("started %v, want %v", f.c.x.calls, want)
	}
}

// TestActorCallWaitsForThePreviousReplyToArrive: a sequential actor
// starts its next call only once the caller acknowledged the reply of
// the call before it (so a call that kills the process cannot take that
// reply with it), or after replyAckMax; a caller that did not ack is
// not waited for again until it acks.
func TestActorCallWaitsForThePreviousReplyToArrive(t *testing.T) {
	f := newReplyFixture(t, 0)
	for seq := uint64(1); seq <= 4; seq++ {
		f.call(t, seq)
	}
	f.c.n.run(func() bool { return false })
	f.started(t, "park:1")
	f.c.x.parked[0]()
	if len(f.answered) != 1 || !f.acks[0] {
		t.Fatalf("after call 1 finished: answered %v, ack wanted %v; want call 1 answered asking for an ack", f.answered, f.acks)
	}
	f.started(t, "park:1")
	f.ack(7) // not the call it waits for
	f.started(t, "park:1")
	f.ack(1)
	f.started(t, "park:1", "park:2")
	f.ack(1) // again: starts nothing
	f.started(t, "park:1", "park:2")

	// No ack: call 3 starts replyAckMax later, and the silent caller's
	// next reply waits only to leave the process.
	f.c.x.parked[1]()
	start := f.c.n.now
	f.c.n.run(func() bool { return len(f.c.x.calls) == 3 })
	f.started(t, "park:1", "park:2", "park:3")
	if waited := f.c.n.now.Sub(start); waited < replyAckMax {
		t.Fatalf("call 3 started %v after call 2 finished, before the bound %v", waited, replyAckMax)
	}
	f.c.x.parked[2]()
	if !f.acks[2] || len(f.env.waiting) != 1 {
		t.Fatalf("a silent caller's reply: ack wanted %v, %d send barriers; want an ack asked for, and only the send barrier waited on", f.acks[2], len(f.env.waiting))
	}
	f.started(t, "park:1", "park:2", "park:3")
	f.env.waiting[0]()
	f.started(t, "park:1", "park:2", "park:3", "park:4")
	f.ack(3) // the caller listens again
	f.c.x.parked[3]()
	if !f.acks[3] || len(f.env.waiting) != 1 {
		t.Fatalf("after the caller acked again: ack wanted %v, %d send barriers; want its reply waited for by ack", f.acks[3], len(f.env.waiting))
	}
	if f.c.exec.actor.sending != 1 {
		t.Fatalf("%d replies on their way, want call 4's", f.c.exec.actor.sending)
	}
	f.ack(4)
	if len(f.answered) != 4 || f.c.exec.actor.sending != 0 {
		t.Fatalf("answered %v, %d replies pending; want 4 and none", f.answered, f.c.exec.actor.sending)
	}
	if err := f.c.exec.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestUnackedRepliesOnlyLeaveTheProcess: an actor created with
// UnackedReplies asks for no acks; its next call waits only for the
// reply to leave the process.
func TestUnackedRepliesOnlyLeaveTheProcess(t *testing.T) {
	f := newReplyFixture(t, 0, true)
	f.call(t, 1)
	f.call(t, 2)
	f.c.n.run(func() bool { return false })
	f.c.x.parked[0]()
	if len(f.answered) != 1 || f.acks[0] || len(f.env.waiting) != 1 {
		t.Fatalf("after call 1: answered %v, acks %v, %d barriers; want one answer, no ack, one barrier", f.answered, f.acks, len(f.env.waiting))
	}
	f.started(t, "park:1")
	f.env.waiting[0]()
	f.started(t, "park:1", "park:2")
}

// TestConcurrentActorCallWaitsForTheReplyToLeave: a concurrent actor's
// calls finish in any order, so they do not ask for acks; a call starts
// once the replies of the calls finished before it have left the
// process, or replySendMax after, and a late barrier starts nothing.
func TestConcurrentActorCallWaitsForTheReplyToLeave(t *testing.T) {
	f := newReplyFixture(t, 2)
	for seq := uint64(1); seq <= 4; seq++ {
		f.call(t, seq)
	}
	f.c.n.run(func() bool { return false })
	f.started(t, "park:1", "park:2")
	f.c.x.parked[0]()
	if len(f.answered) != 1 || f.acks[0] || len(f.env.waiting) != 1 {
		t.Fatalf("after call 1: answered %v, acks %v, %d barriers; want one answer, no ack, one barrier", f.answered, f.acks, len(f.env.waiting))
	}
	f.started(t, "park:1", "park:2")
	f.env.waiting[0]()
	f.started(t, "park:1", "park:2", "park:3")
	f.c.x.parked[1]()
	f.c.n.run(func() bool { return len(f.c.x.calls) == 4 })
	f.started(t, "park:1", "park:2", "park:3", "park:4")
	f.env.waiting[1]() // late: starts nothing
	f.c.x.parked[2]()
	f.c.x.parked[3]()
	f.env.waiting[2]()
	f.env.waiting[3]()
	if len(f.answered) != 4 || f.c.exec.actor.sending != 0 {
		t.Fatalf("answered %v, %d replies pending; want 4 and none", f.answered, f.c.exec.actor.sending)
	}
	if err := f.c.exec.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
