package gcs_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// recoveryScript makes one mutation of every kind, crashes the GCS, and
// reads everything back from the new incarnation.
func recoveryScript(h *harness) func() *checks {
	n1, n2 := nodeID(1), nodeID(2)
	capacity := core.MustResources(core.CPU, 8)
	named := actorID(job1, 1)
	var puts []*res
	for i := range 3 {
		k := fmt.Sprintf("k%d", i)
		puts = append(puts, h.op(0, "put "+k, func(c *gcs.Client, f cb) { c.KVPut("ns", k, []byte("v-"+k), false, f) }))
	}
	del := h.op(0, "put then delete k9", func(c *gcs.Client, f cb) {
		c.KVPut("ns", "k9", []byte("gone"), false, func(gcs.Reply, error) { c.KVDel("ns", "k9", f) })
	})
	regN1 := h.op(0, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	h.op(0, "register n2 (never heartbeats)", func(c *gcs.Client, f cb) { c.RegisterNode(n2, "c2", capacity, f) })
	h.action("n1 heartbeats", func() { h.hosts[0].startHeartbeats(n1, time.Second) })
	drain := h.op(0, "drain n1", func(c *gcs.Client, f cb) { c.DrainNode(n1, f) })
	job := h.op(0, "add job", func(c *gcs.Client, f cb) { c.AddJob("driver", []byte("m"), f) })
	h.op(0, "add job 2", func(c *gcs.Client, f cb) { c.AddJob("driver", nil, f) })
	h.op(0, "finish job 2", func(c *gcs.Client, f cb) { c.FinishJob(core.JobIDFromInt(2), f) })
	reg := h.op(0, "register named actor", func(c *gcs.Client, f cb) { c.RegisterActor(named, "ns", "svc", 3, f) })
	h.op(0, "actor pending", func(c *gcs.Client, f cb) { c.UpdateActor(named, gcs.ActorPendingCreation, core.NodeID{}, "", "", f) })
	h.op(0, "actor alive on n1", func(c *gcs.Client, f cb) { c.UpdateActor(named, gcs.ActorAlive, n1, "w1", "", f) })
	h.op(0, "actor restarting", func(c *gcs.Client, f cb) { c.UpdateActor(named, gcs.ActorRestarting, core.NodeID{}, "", "", f) })
	var epochBefore uint64
	h.action("note epoch", func() { epochBefore = h.server().Epoch() })
	h.sleep(7 * time.Second) // n2's last sign of life is now 7s old
	h.crashGCS("test: crash after acknowledged mutations")
	var restartedAt time.Duration
	h.action("note restart time", func() { restartedAt = h.w.Now() })

	var gets []*res
	for i := range 3 {
		k := fmt.Sprintf("k%d", i)
		gets = append(gets, h.op(1, "get "+k, func(c *gcs.Client, f cb) { c.KVGet("ns", k, f) }))
	}
	getDel := h.op(1, "get deleted k9", func(c *gcs.Client, f cb) { c.KVGet("ns", "k9", f) })
	nodes := h.op(1, "get nodes", func(c *gcs.Client, f cb) { c.GetNodes(f) })
	jobs := h.op(1, "list jobs", func(c *gcs.Client, f cb) { c.ListJobs(f) })
	job3 := h.op(1, "add job after restart", func(c *gcs.Client, f cb) { c.AddJob("driver", nil, f) })
	actor := h.op(1, "get named actor", func(c *gcs.Client, f cb) { c.GetNamedActor("ns", "svc", f) })
	race := h.op(1, "register the name with another id", func(c *gcs.Client, f cb) { c.RegisterActor(actorID(job1, 2), "ns", "svc", 3, f) })
	var n2AliveAfterGrace bool
	h.sleep(8 * time.Second)
	h.action("check grace period", func() {
		n, _ := h.server().Node(n2)
		n2AliveAfterGrace = n.State != gcs.NodeDead
	})
	var n2DeadAt time.Duration
	h.waitUntil("n2 dies after its grace period", 10*time.Second, func() bool {
		n, _ := h.server().Node(n2)
		n2DeadAt = h.w.Now()
		return n.State == gcs.NodeDead
	})
	var epochAfter uint64
	h.action("note new epoch", func() { epochAfter = h.server().Epoch() })

	return func() *checks {
		c := &checks{}
		for i, p := range puts {
			c.check(p.ok() && p.r.Added, "%v, want added", p)
			c.check(gets[i].ok() && gets[i].r.Found && string(gets[i].r.Value) == fmt.Sprintf("v-k%d", i),
				"after restart %v, want the acknowledged value", gets[i])
		}
		c.check(del.ok() && del.r.Deleted && getDel.ok() && !getDel.r.Found, "delete before crash %v, get after %v: want deleted", del, getDel)
		c.check(regN1.ok() && drain.ok() && job.ok() && reg.ok() && reg.r.Created, "setup failed: %v %v %v %v", regN1, drain, job, reg)
		if c.check(nodes.ok() && len(nodes.r.Nodes) == 2, "after restart %v, want 2 nodes", nodes); nodes.ok() && len(nodes.r.Nodes) == 2 {
			c.check(nodes.r.Nodes[0].State == gcs.NodeDraining, "n1 after restart: %v, want DRAINING", nodes.r.Nodes[0])
		}
		if c.check(jobs.ok() && len(jobs.r.Jobs) == 2, "after restart %v, want 2 jobs", jobs); jobs.ok() && len(jobs.r.Jobs) == 2 {
			c.check(!jobs.r.Jobs[0].Finished && jobs.r.Jobs[1].Finished && string(jobs.r.Jobs[0].Metadata) == "m",
				"jobs after restart: %v", jobs)
		}
		c.check(job3.ok() && job3.r.Job == core.JobIDFromInt(3), "%v, want job 3: the counter survives restarts", job3)
		if c.check(actor.ok(), "%v, want the named actor", actor); actor.ok() {
			a := actor.r.Actors[0]
			c.check(a.ID == named && a.State == gcs.ActorRestarting && a.NumRestarts == 1 && a.MaxRestarts == 3,
				"actor after restart: %v, want RESTARTING 1/3", a)
		}
		c.check(race.ok() && !race.r.Created && race.r.ActorID == named, "%v, want the name still held by %v", race, named)
		c.check(epochAfter == epochBefore+1, "epoch %d before the crash, %d after; want +1", epochBefore, epochAfter)
		c.check(n2AliveAfterGrace, "n2 declared dead less than NodeTimeout after the restart")
		if d := n2DeadAt - restartedAt; n2DeadAt != 0 {
			// restartedAt is noted just after the restart (up to ~100ms
			// later) and the GCS's clock may drift by 100 ppm, so the
			// bound is NodeTimeout less that slack.
			c.check(d > 9800*time.Millisecond, "n2 dead %v after the restart", d)
		}
		return c
	}
}

func TestRestartRecovery(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 2})
	judge := recoveryScript(h)
	h.mustPass()
	judge().report(t)
}

func TestGoldenRestartRecovery(t *testing.T) {
	var buf bytes.Buffer
	h := newHarness(t, harnessOpts{hosts: 2, seed: 11})
	h.traced(&buf)
	judge := recoveryScript(h)
	h.mustPass()
	judge().report(t)
	golden(t, "restart_recovery", buf.Bytes())
}

// retryScript replays hand-made requests with fixed (client, seq) headers
// around deletes and crashes: a retried mutation must return its original
// reply and must not be applied again, and a request below the client's
// ack floor must be dropped, also after restarts.
func retryScript(h *harness) func() *checks {
	const rc = "retrier"
	putX := func(ack uint64) *gcs.KVPut {
		return &gcs.KVPut{Hdr: gcs.Hdr{Client: rc, Seq: 1, AckBelow: ack}, Namespace: "ns", Key: "x", Value: []byte("1")}
	}
	var present []bool
	xPresent := func(name string) {
		h.action(name, func() {
			_, ok := h.server().KV("ns", "x")
			present = append(present, ok)
		})
	}
	first := h.raw(0, "put x", putX(1), rc, 1)
	del := h.op(0, "delete x", func(c *gcs.Client, f cb) { c.KVDel("ns", "x", f) })
	retry := h.raw(0, "retry put x", putX(1), rc, 1)
	xPresent("x absent after retry")
	job := &gcs.AddJob{Hdr: gcs.Hdr{Client: rc, Seq: 2, AckBelow: 1}, DriverAddr: "d"}
	job1st := h.raw(0, "add job", job, rc, 2)
	job2nd := h.raw(0, "retry add job", job, rc, 2)
	h.crashGCS("test: crash between retries")
	retryAfterCrash := h.raw(0, "retry put x after crash", putX(1), rc, 1)
	xPresent("x absent after retry after crash")
	job3rd := h.raw(0, "retry add job after crash", job, rc, 2)
	jobs := h.op(0, "list jobs", func(c *gcs.Client, f cb) { c.ListJobs(f) })
	// Seq 3 acknowledges everything below it: seq 1 and 2 become stale.
	ack := h.raw(0, "put y acknowledging seqs 1 and 2", &gcs.KVPut{Hdr: gcs.Hdr{Client: rc, Seq: 3, AckBelow: 3}, Namespace: "ns", Key: "y"}, rc, 3)
	stale := h.raw(0, "stale duplicate of put x", putX(1), rc, 1)
	xPresent("x absent after stale duplicate")
	h.crashGCS("test: crash after the ack floor moved")
	staleAfterCrash := h.raw(0, "stale duplicate of put x after crash", putX(1), rc, 1)
	xPresent("x absent after stale duplicate after crash")

	return func() *checks {
		c := &checks{}
		orig := func(r *rawReply) bool { return r.r != nil && r.r.Code == rpc.CodeOK && r.r.Added }
		c.check(orig(first), "%s: %v, want added", first.name, first.r)
		c.check(del.ok() && del.r.Deleted, "%v, want deleted", del)
		c.check(orig(retry), "%s: %v, want the original reply (added)", retry.name, retry.r)
		c.check(orig(retryAfterCrash), "%s: %v, want the original reply (added)", retryAfterCrash.name, retryAfterCrash.r)
		for i, p := range present {
			c.check(!p, "check %d: x is present: a retried put was applied again", i)
		}
		c.check(job1st.r != nil && job2nd.r != nil && job3rd.r != nil && job1st.r.Job == job2nd.r.Job && job1st.r.Job == job3rd.r.Job,
			"add job and its retries got jobs %v, %v, %v; want one job", job1st.r, job2nd.r, job3rd.r)
		c.check(jobs.ok() && len(jobs.r.Jobs) == 1, "%v, want exactly 1 job", jobs)
		c.check(ack.r != nil && ack.r.Code == rpc.CodeOK, "%s: %v", ack.name, ack.r)
		c.check(stale.r == nil, "%s: got reply %v, want it dropped", stale.name, stale.r)
		c.check(staleAfterCrash.r == nil, "%s: got reply %v, want it dropped", staleAfterCrash.name, staleAfterCrash.r)
		return c
	}
}

func TestRetriedMutationReturnsOriginalReply(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	judge := retryScript(h)
	h.mustPass()
	judge().report(t)
}

// TestPlantedBugsAreCaughtByScripts runs each planted bug against the
// script that must catch it.
func TestPlantedBugsAreCaughtByScripts(t *testing.T) {
	for _, tc := range []struct {
		bug    string
		script func(*harness) func() *checks
		hosts  int
	}{
		{gcs.BugAckBeforeSync, recoveryScript, 2},
		{gcs.BugDoubleApply, retryScript, 1},
		{gcs.BugForgetDedup, retryScript, 1},
		{gcs.BugStaleRead, kvScript, 1},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			h := newHarness(t, harnessOpts{hosts: tc.hosts, cfg: gcs.Config{Bug: tc.bug}})
			judge := tc.script(h)
			r := h.run()
			c := judge()
			if r.Passed && len(c.errs) == 0 && len(h.errs) == 0 {
				t.Fatalf("bug %s went unnoticed", tc.bug)
			}
			if len(c.errs) > 0 {
				t.Logf("caught: %s", c.errs[0])
			} else {
				t.Logf("caught: %v %v", r, h.errs)
			}
		})
	}
}

// TestLargeValuesSurviveRestart writes values of the maximum size (larger
// than half the memtable, so pebble's large-batch path) and many small
// ones (memtable flushes), crashes, and reads them back.
func TestLargeValuesSurviveRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{copts: gcs.ClientOptions{InFlightMax: 5000}})
	big := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, gcs.ValueSizeMax) }
	for i := range 3 {
		h.op(0, "put big", func(c *gcs.Client, f cb) { c.KVPut("ns", fmt.Sprint("big", i), big(i), true, f) })
	}
	h.add("many small puts", func(done func()) {
		left := 2000
		for i := range left {
			h.hosts[0].c.KVPut("small", fmt.Sprint(i), bytes.Repeat([]byte{'x'}, 500), true, func(_ gcs.Reply, err error) {
				if err != nil {
					h.errorf("small put: %v", err)
				}
				if left--; left == 0 {
					done()
				}
			})
		}
	})
	h.crashGCS("test")
	var gets []*res
	for i := range 3 {
		gets = append(gets, h.op(0, "get big", func(c *gcs.Client, f cb) { c.KVGet("ns", fmt.Sprint("big", i), f) }))
	}
	keys := h.op(0, "small keys", func(c *gcs.Client, f cb) { c.KVKeys("small", "", f) })
	h.mustPass()
	for i, g := range gets {
		if !g.ok() || !bytes.Equal(g.r.Value, big(i)) {
			t.Errorf("big value %d after restart: found %v, %d bytes", i, g.r.Found, len(g.r.Value))
		}
	}
	if !keys.ok() || len(keys.r.Keys) != 2000 {
		t.Errorf("%d small keys after restart, want 2000 (%v)", len(keys.r.Keys), keys.err)
	}
}
