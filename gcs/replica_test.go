package gcs_test

import (
	"errors"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// TestReplicaFailover crashes the leader of three replicas twice while a
// client writes: each write acknowledged before a crash is read back from
// the next leader, and the epoch grows with each leader.
func TestReplicaFailover(t *testing.T) {
	h := newHarness(t, harnessOpts{replicas: 3, hosts: 1})
	h.waitUntil("a leader serves", 10*time.Second, func() bool { return h.leader() != nil })
	put1 := h.op(0, "put v1", func(c *gcs.Client, cb cb) { c.KVPut("ns", "k", []byte("v1"), true, cb) })
	var first core.Addr
	h.action("crash the leader", func() {
		first = h.leaderAddr()
		h.w.Crash(first, "test: leader crash")
	})
	put2 := h.op(0, "put v2", func(c *gcs.Client, cb cb) { c.KVPut("ns", "k", []byte("v2"), true, cb) })
	get2 := h.op(0, "get after the first failover", func(c *gcs.Client, cb cb) { c.KVGet("ns", "k", cb) })
	var second core.Addr
	h.waitUntil("the first leader is back", 10*time.Second, func() bool {
		_, ok := h.w.Process(first).(*gcs.Replica)
		return ok
	})
	h.sleep(2 * time.Second) // it catches up
	h.action("crash the second leader", func() {
		second = h.leaderAddr()
		h.w.Crash(second, "test: leader crash")
	})
	put3 := h.op(0, "put v3", func(c *gcs.Client, cb cb) { c.KVPut("ns", "k", []byte("v3"), true, cb) })
	get3 := h.op(0, "get after the second failover", func(c *gcs.Client, cb cb) { c.KVGet("ns", "k", cb) })
	h.mustPass()

	for _, r := range []*res{put1, put2, get2, put3, get3} {
		if !r.ok() {
			t.Fatalf("%v", r)
		}
	}
	if string(get2.r.Value) != "v2" || string(get3.r.Value) != "v3" {
		t.Fatalf("read %q then %q, want v2 then v3", get2.r.Value, get3.r.Value)
	}
	if first == "" || second == "" {
		t.Fatalf("leaders %q then %q: a crash found no leader", first, second)
	}
	if !(put1.r.Epoch < put2.r.Epoch && put2.r.Epoch < put3.r.Epoch) {
		t.Fatalf("epochs %d, %d, %d: want one higher per leader", put1.r.Epoch, put2.r.Epoch, put3.r.Epoch)
	}
}

// TestReplicaFollowerAnswersNotLeader sends a request straight to a
// replica that does not lead: it answers Unavailable and names the leader.
func TestReplicaFollowerAnswersNotLeader(t *testing.T) {
	h := newHarness(t, harnessOpts{replicas: 3, hosts: 1})
	h.waitUntil("a leader serves", 10*time.Second, func() bool { return h.leader() != nil })
	var follower, leader core.Addr
	h.action("pick a follower", func() {
		leader = h.leaderAddr()
		for _, a := range h.cfg.Replicas {
			if a != leader {
				follower = a
				break
			}
		}
	})
	rr := h.rawVia(0, "get at a follower", "c", 1, func() {
		h.hosts[0].env.Send(follower, &gcs.KVGet{Hdr: gcs.Hdr{Client: "c", Seq: 1, AckBelow: 1}, Namespace: "ns", Key: "k"})
	})
	h.mustPass()
	if rr.r == nil {
		t.Fatal("no answer")
	}
	if rr.r.Code != rpc.CodeUnavailable || rr.r.Leader != leader || leader == "" {
		t.Fatalf("got %v (leader %q), want Unavailable naming %q", rr.r, rr.r.Leader, leader)
	}
}

// TestReplicaRejoinsAfterDiskLoss loses a follower's disk: it comes back
// empty, joins under a new raft id as a learner, catches up and replaces
// its lost incarnation as a voter. Then the leader crashes, and the value
// written before the loss reads back from the next leader.
func TestReplicaRejoinsAfterDiskLoss(t *testing.T) {
	h := newHarness(t, harnessOpts{replicas: 3, hosts: 1})
	h.waitUntil("a leader serves", 10*time.Second, func() bool { return h.leader() != nil })
	put := h.op(0, "put", func(c *gcs.Client, cb cb) { c.KVPut("ns", "k", []byte("before"), true, cb) })
	var lost, leader core.Addr
	h.action("lose a follower's disk", func() {
		leader = h.leaderAddr()
		for _, a := range h.cfg.Replicas {
			if a != leader {
				lost = a
				break
			}
		}
		h.w.LoseDisk(lost)
	})
	h.waitUntil("it rejoined as a voter under a new id", 20*time.Second, func() bool {
		r := h.leader()
		if r == nil {
			return false
		}
		info := r.Info()
		if info.Joint {
			return false
		}
		for _, m := range info.Members {
			if m.Addr == lost {
				return m.ID > 3 && !m.Learner && m.Match >= info.Commit
			}
		}
		return false
	})
	h.action("crash the leader", func() { h.w.Crash(leader, "test: leader crash") })
	get := h.op(0, "get", func(c *gcs.Client, cb cb) { c.KVGet("ns", "k", cb) })
	h.mustPass()
	if !put.ok() || !get.ok() || string(get.r.Value) != "before" {
		t.Fatalf("put %v, then get %v: want the value written before the loss", put, get)
	}
}

// TestRemoveReplica removes a follower: the leader's configuration drops
// it, and the two left still commit writes (a majority of two is both).
// Removing one of the last two voters is refused.
func TestRemoveReplica(t *testing.T) {
	h := newHarness(t, harnessOpts{replicas: 3, hosts: 1})
	h.waitUntil("a leader serves", 10*time.Second, func() bool { return h.leader() != nil })
	var leader, gone, kept core.Addr
	h.action("pick a follower", func() {
		leader = h.leaderAddr()
		for _, a := range h.cfg.Replicas {
			if a != leader {
				if gone == "" {
					gone = a
				} else {
					kept = a
				}
			}
		}
	})
	var rm *res
	h.add("remove it", func(done func()) {
		rm = &res{name: "remove"}
		h.hosts[0].c.RemoveReplica(gone, func(r gcs.Reply, err error) { rm.r, rm.err, rm.done = r, err, true; done() })
	})
	h.waitUntil("the configuration drops it", 10*time.Second, func() bool {
		r := h.leader()
		if r == nil {
			return false
		}
		info := r.Info()
		for _, m := range info.Members {
			if m.Addr == gone {
				return false
			}
		}
		return !info.Joint && len(info.Members) == 2
	})
	put := h.op(0, "put with two voters", func(c *gcs.Client, cb cb) { c.KVPut("ns", "k", []byte("v"), true, cb) })
	var last *res
	h.add("remove one of the last two", func(done func()) {
		last = &res{name: "remove another"}
		h.hosts[0].c.RemoveReplica(kept, func(r gcs.Reply, err error) { last.r, last.err, last.done = r, err, true; done() })
	})
	h.mustPass()
	if !rm.ok() || !put.ok() {
		t.Fatalf("remove %v, put %v", rm, put)
	}
	if !errors.Is(last.err, gcs.ErrFailedPrecondition) {
		t.Fatalf("removing one of the last two voters: %v, want FailedPrecondition", last)
	}
}
