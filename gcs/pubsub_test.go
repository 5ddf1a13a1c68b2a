package gcs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// describe renders a published message without its sequence number.
func describe(m gcs.PubMessage) string {
	switch {
	case m.Node != nil:
		return fmt.Sprintf("node %d %v v%d", m.Node.ID[1], m.Node.State, m.Node.Version)
	case m.Actor != nil:
		return fmt.Sprintf("actor %v v%d", m.Actor.State, m.Actor.Version)
	case m.Resources != nil:
		return fmt.Sprintf("resources %d %v", m.Resources.Node[1], m.Resources.Available)
	}
	return "empty"
}

func TestPubsubDeliversChangesInOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 3})
	n1 := nodeID(1)
	a := actorID(job1, 1)
	capacity := core.MustResources(core.CPU, 2)
	h.action("c1 subscribes to nodes and actors, c3 to resources", func() {
		if err := h.hosts[0].subscribe(gcs.ChannelNode, gcs.ChannelActor); err != nil {
			h.errorf("subscribe: %v", err)
		}
		if err := h.hosts[2].subscribe(gcs.ChannelResources); err != nil {
			h.errorf("subscribe: %v", err)
		}
	})
	h.waitUntil("subscribed", time.Second, func() bool { return h.hosts[0].resyncs == 1 && h.hosts[2].resyncs == 1 })
	upd := func(st gcs.ActorState, node core.NodeID, addr core.Addr) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.UpdateActor(a, st, node, addr, "", f) }
	}
	h.op(1, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c2", capacity, f) })
	h.op(1, "register actor", func(c *gcs.Client, f cb) { c.RegisterActor(a, "ns", "a", 5, f) })
	h.op(1, "pending", upd(gcs.ActorPendingCreation, core.NodeID{}, ""))
	h.op(1, "alive", upd(gcs.ActorAlive, n1, "w"))
	h.op(1, "report resources", func(c *gcs.Client, f cb) { c.HeartbeatWithResources(n1, core.MustResources(core.CPU, 1), f) })
	h.op(1, "report the same resources", func(c *gcs.Client, f cb) { c.HeartbeatWithResources(n1, core.MustResources(core.CPU, 1), f) })
	h.op(1, "restarting", upd(gcs.ActorRestarting, core.NodeID{}, ""))
	h.op(1, "alive again", upd(gcs.ActorAlive, n1, "w"))
	h.op(1, "refused transition (publishes nothing)", upd(gcs.ActorPendingCreation, core.NodeID{}, ""))
	h.op(1, "drain n1", func(c *gcs.Client, f cb) { c.DrainNode(n1, f) })
	h.op(1, "kill actor", upd(gcs.ActorDead, core.NodeID{}, ""))
	h.sleep(20 * time.Second) // n1 never heartbeats: it dies, and polls time out and repeat meanwhile
	h.mustPass()

	want := []string{
		"node 1 ALIVE v1",
		"actor DEPENDENCIES_UNREADY v1",
		"actor PENDING_CREATION v2",
		"actor ALIVE v3",
		"actor RESTARTING v4",
		"actor ALIVE v5",
		"node 1 DRAINING v2",
		"actor DEAD v6",
		"node 1 DEAD v3",
	}
	var got []string
	for i, m := range h.hosts[0].pubs {
		got = append(got, describe(m))
		if m.Seq != uint64(i+1) {
			t.Errorf("message %d has seq %d, want %d", i, m.Seq, i+1)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("node/actor subscriber got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	for _, m := range h.hosts[2].pubs {
		got = append(got, describe(m))
	}
	wantRes := []string{"resources 1 {CPU: 2}", "resources 1 {CPU: 1}"}
	if strings.Join(got, "\n") != strings.Join(wantRes, "\n") {
		t.Errorf("resources subscriber got %q, want %q", got, wantRes)
	}
	if r := h.hosts[0].resyncs; r != 1 {
		t.Errorf("%d resyncs, want 1 (the initial one)", r)
	}
}

// TestPubsubOverflowIsAGap bursts more messages than a queue holds in one
// event (a node dies with four actors on it): the subscriber must be told
// to resync, and must keep receiving afterwards.
func TestPubsubOverflowIsAGap(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 2, cfg: gcs.Config{QueueMax: 3}})
	n1, n2 := nodeID(1), nodeID(2)
	capacity := core.MustResources(core.CPU, 8)
	h.action("subscribe", func() {
		if err := h.hosts[0].subscribe(gcs.ChannelNode, gcs.ChannelActor); err != nil {
			h.errorf("subscribe: %v", err)
		}
	})
	h.waitUntil("subscribed", time.Second, func() bool { return h.hosts[0].resyncs == 1 })
	h.op(1, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c2", capacity, f) })
	h.op(1, "register n2", func(c *gcs.Client, f cb) { c.RegisterNode(n2, "c2", capacity, f) })
	h.action("n2 heartbeats", func() { h.hosts[1].startHeartbeats(n2, time.Second) })
	for i := range uint64(4) {
		id := actorID(job1, 100+i)
		h.op(1, "register actor", func(c *gcs.Client, f cb) { c.RegisterActor(id, "", "", 0, f) })
		h.op(1, "pending", func(c *gcs.Client, f cb) { c.UpdateActor(id, gcs.ActorPendingCreation, core.NodeID{}, "", "", f) })
		h.op(1, "alive on n1", func(c *gcs.Client, f cb) { c.UpdateActor(id, gcs.ActorAlive, n1, "w", "", f) })
	}
	var before int
	h.action("count", func() { before = len(h.hosts[0].pubs) })
	h.waitUntil("n1 dies (5 messages in one event)", 15*time.Second, func() bool { return h.hosts[0].resyncs == 2 })
	var afterGap int
	h.action("count again", func() { afterGap = len(h.hosts[0].pubs) })
	h.op(1, "drain n2 after the gap", func(c *gcs.Client, f cb) { c.DrainNode(n2, f) })
	h.waitUntil("drain delivered", time.Second, func() bool { return len(h.hosts[0].pubs) > afterGap })
	h.mustPass()

	if before != 2+4*3 {
		t.Errorf("%d messages before the burst, want 14", before)
	}
	if afterGap != before {
		t.Errorf("%d messages delivered from an overflowed burst, want none (resync instead)", afterGap-before)
	}
	if last := h.hosts[0].pubs[len(h.hosts[0].pubs)-1]; describe(last) != "node 2 DRAINING v2" {
		t.Errorf("after the gap got %v, want n2 DRAINING", last)
	}
}

// TestPubsubRawGap drives the protocol by hand: a subscriber that does not
// poll while its queue overflows gets Gap with the head to continue from.
func TestPubsubRawGap(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: gcs.Config{QueueMax: 2}})
	const sc = "raw-subscriber"
	sub := h.raw(0, "subscribe", &gcs.Subscribe{Hdr: gcs.Hdr{Client: sc, Seq: 1, AckBelow: 1}, Channels: []string{gcs.ChannelNode}}, sc, 1)
	for i := range byte(3) {
		h.op(0, "register node", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(10+i), "c1", nil, f) })
	}
	gap := h.raw(0, "poll from 0", &gcs.Poll{Hdr: gcs.Hdr{Client: sc, Seq: 2, AckBelow: 2}}, sc, 2)
	h.op(0, "register one more", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(20), "c1", nil, f) })
	next := h.raw(0, "poll from the head", &gcs.Poll{Hdr: gcs.Hdr{Client: sc, Seq: 3, AckBelow: 3}, AckSeq: 3}, sc, 3)
	unknown := h.raw(0, "poll of an unknown subscriber", &gcs.Poll{Hdr: gcs.Hdr{Client: "nobody", Seq: 1, AckBelow: 1}}, "nobody", 1)
	h.mustPass()

	if sub.r == nil || sub.r.Code != rpc.CodeOK || sub.r.Epoch != 1 {
		t.Errorf("subscribe: %v, want OK in epoch 1", sub.r)
	}
	if gap.p == nil || !gap.p.Gap || gap.p.Head != 3 || len(gap.p.Messages) != 0 {
		t.Errorf("poll after overflow: %v, want a gap with head 3", gap.p)
	}
	if next.p == nil || next.p.Gap || len(next.p.Messages) != 1 || next.p.Messages[0].Seq != 4 || next.p.Messages[0].Node.ID != nodeID(20) {
		t.Errorf("poll from the head: %v, want message 4 about node 20", next.p)
	}
	if unknown.p == nil || unknown.p.Code != rpc.CodeNotFound {
		t.Errorf("poll of unknown subscriber: %v, want NotFound", unknown.p)
	}
}

// TestPubsubSurvivesRestart: after a GCS restart the subscriber notices
// the new epoch, resubscribes, resyncs and keeps receiving.
func TestPubsubSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other bool // another call from the same client reveals the epoch early
	}{{"poll timeout", false}, {"epoch in a reply", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{hosts: 2})
			h.action("subscribe", func() {
				if err := h.hosts[0].subscribe(gcs.ChannelNode); err != nil {
					h.errorf("subscribe: %v", err)
				}
			})
			h.waitUntil("subscribed", time.Second, func() bool { return h.hosts[0].resyncs == 1 })
			h.op(1, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(1), "c2", nil, f) })
			h.waitUntil("n1 delivered", time.Second, func() bool { return len(h.hosts[0].pubs) == 1 })
			h.crashGCS("test")
			if tc.other {
				h.op(0, "a call from the subscriber's client", func(c *gcs.Client, f cb) { c.GetNodes(f) })
			}
			h.waitUntil("resynced", 15*time.Second, func() bool { return h.hosts[0].resyncs == 2 })
			h.op(1, "register n2", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(2), "c2", nil, f) })
			aboutN2 := func() int {
				for i, p := range h.hosts[0].pubs {
					if p.Node != nil && p.Node.ID == nodeID(2) {
						return i
					}
				}
				return -1
			}
			h.waitUntil("n2 delivered", time.Second, func() bool { return aboutN2() >= 0 })
			var resyncAt time.Duration
			h.action("note", func() { resyncAt = h.w.Now() })
			h.mustPass()
			// The first message after the restart opens the new
			// subscription's numbering (n1 may have been declared dead
			// first, if the resync took longer than its grace period).
			if p := h.hosts[0].pubs; len(p) < 2 || p[1].Seq != 1 || aboutN2() < 1 {
				t.Errorf("after restart got %v, want seq 1 (new subscription) and a message about n2", p)
			}
			if tc.other && resyncAt > 5*time.Second {
				t.Errorf("resync took until %v although a reply carried the new epoch", resyncAt)
			}
		})
	}
}
