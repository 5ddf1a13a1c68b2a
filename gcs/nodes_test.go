package gcs_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// nodeDeathScript registers a node that heartbeats, stops its heartbeats,
// and checks that the GCS declares it dead after NodeTimeout, fences it
// (Dead=true) when it comes back, and refuses to let its id register again.
func nodeDeathScript(h *harness) func(t *testing.T) {
	n1 := nodeID(1)
	capacity := core.MustResources(core.CPU, 4, core.GPU, 1)
	reg := h.op(0, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	h.action("start heartbeats", func() { h.hosts[0].startHeartbeats(n1, time.Second) })
	h.sleep(3 * time.Second)
	var stoppedAt, deadAt time.Duration
	h.action("stop heartbeats (partitioned raylet)", func() {
		h.hosts[0].beating = false
		stoppedAt = h.w.Now()
	})
	h.sleep(8 * time.Second)
	var aliveAfter8s bool
	h.action("still alive 8s after the last heartbeat", func() {
		n, _ := h.server().Node(n1)
		aliveAfter8s = n.State == gcs.NodeAlive
	})
	h.waitUntil("node declared dead", 10*time.Second, func() bool {
		n, _ := h.server().Node(n1)
		deadAt = h.w.Now()
		return n.State == gcs.NodeDead
	})
	h.action("raylet comes back and heartbeats", func() { h.hosts[0].startHeartbeats(n1, time.Second) })
	h.waitUntil("raylet fenced", 3*time.Second, func() bool { return h.hosts[0].fenced })
	again := h.op(0, "re-register the dead id", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	drain := h.op(0, "drain the dead node", func(c *gcs.Client, f cb) { c.DrainNode(n1, f) })
	n2 := nodeID(2)
	fresh := h.op(0, "register under a new id", func(c *gcs.Client, f cb) { c.RegisterNode(n2, "c1", capacity, f) })
	nodes := h.op(0, "get nodes", func(c *gcs.Client, f cb) { c.GetNodes(f) })

	return func(t *testing.T) {
		if !reg.ok() || len(reg.r.Nodes) != 1 || reg.r.Nodes[0].State != gcs.NodeAlive || !reg.r.Nodes[0].Resources.Equal(capacity) {
			t.Errorf("%v, want one ALIVE node with %v", reg, capacity)
		}
		if !aliveAfter8s {
			t.Errorf("node dead less than NodeTimeout after its last heartbeat")
		}
		// The last heartbeat was at most 1s before stoppedAt; the health
		// check runs every 1s and the timeout is 10s.
		if d := deadAt - stoppedAt; d < 9*time.Second || d > 12*time.Second {
			t.Errorf("node declared dead %v after heartbeats stopped, want 9s..12s", d)
		}
		if !h.hosts[0].fenced {
			t.Errorf("heartbeat of a dead node was not answered with Dead=true")
		}
		if !errors.Is(again.err, gcs.ErrFailedPrecondition) {
			t.Errorf("%v, want ErrFailedPrecondition", again)
		}
		if !errors.Is(drain.err, gcs.ErrFailedPrecondition) {
			t.Errorf("%v, want ErrFailedPrecondition", drain)
		}
		if !fresh.ok() {
			t.Errorf("%v, want success", fresh)
		}
		if !nodes.ok() || len(nodes.r.Nodes) != 2 || nodes.r.Nodes[0].ID != n1 || nodes.r.Nodes[0].State != gcs.NodeDead ||
			nodes.r.Nodes[0].DeathCause == "" || nodes.r.Nodes[1].State != gcs.NodeAlive {
			t.Errorf("%v, want n1 DEAD with a cause, n2 ALIVE", nodes)
		}
	}
}

func TestNodeDeathAndFencing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	judge := nodeDeathScript(h)
	h.mustPass()
	judge(t)
}

// TestGoldenNodeDeath pins the exact event trace of the node death script.
func TestGoldenNodeDeath(t *testing.T) {
	var buf bytes.Buffer
	h := newHarness(t, harnessOpts{seed: 7})
	h.traced(&buf)
	judge := nodeDeathScript(h)
	h.mustPass()
	judge(t)
	golden(t, "node_death", buf.Bytes())
}

func TestNodeRegistrationHeartbeatsAndDrain(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 2})
	n1, n2 := nodeID(1), nodeID(2)
	capacity := core.MustResources(core.CPU, 2)
	// Register in reverse id order: GetNodes must still sort.
	h.op(1, "register n2", func(c *gcs.Client, f cb) { c.RegisterNode(n2, "c2", capacity, f) })
	h.op(0, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	h.action("heartbeats", func() {
		h.hosts[0].startHeartbeats(n1, time.Second)
		h.hosts[1].startHeartbeats(n2, time.Second)
	})
	again := h.op(0, "register n1 again (retry after restart of the call)", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", capacity, f) })
	moved := h.op(0, "register n1 with more resources", func(c *gcs.Client, f cb) {
		c.RegisterNode(n1, "c1", core.MustResources(core.CPU, 3), f)
	})
	avail := h.op(0, "heartbeat with resources", func(c *gcs.Client, f cb) {
		c.HeartbeatWithResources(n1, core.MustResources(core.CPU, 1), f)
	})
	unknownHB := h.op(0, "heartbeat of an unknown node", func(c *gcs.Client, f cb) { c.Heartbeat(nodeID(9), f) })
	unknownDrain := h.op(0, "drain an unknown node", func(c *gcs.Client, f cb) { c.DrainNode(nodeID(9), f) })
	drain := h.op(1, "drain n2", func(c *gcs.Client, f cb) { c.DrainNode(n2, f) })
	drainAgain := h.op(1, "drain n2 again", func(c *gcs.Client, f cb) { c.DrainNode(n2, f) })
	h.sleep(15 * time.Second) // both keep heartbeating: nobody dies
	nodes := h.op(0, "get nodes", func(c *gcs.Client, f cb) { c.GetNodes(f) })
	h.mustPass()

	if !again.ok() || again.r.Nodes[0].Version != 1 {
		t.Errorf("%v, want the unchanged record (version 1)", again)
	}
	if !moved.ok() || moved.r.Nodes[0].Version != 2 || moved.r.Nodes[0].Resources.Get(core.CPU) != core.Units(3) {
		t.Errorf("%v, want version 2 with 3 CPU", moved)
	}
	if !avail.ok() || avail.r.Dead {
		t.Errorf("%v, want OK and not dead", avail)
	}
	if !errors.Is(unknownHB.err, gcs.ErrNotFound) || !errors.Is(unknownDrain.err, gcs.ErrNotFound) {
		t.Errorf("%v / %v, want ErrNotFound", unknownHB, unknownDrain)
	}
	if !drain.ok() || drain.r.Nodes[0].State != gcs.NodeDraining || !drainAgain.ok() || drainAgain.r.Nodes[0].State != gcs.NodeDraining {
		t.Errorf("%v / %v, want DRAINING twice", drain, drainAgain)
	}
	if !nodes.ok() || len(nodes.r.Nodes) != 2 {
		t.Fatalf("%v, want two nodes", nodes)
	}
	a, b := nodes.r.Nodes[0], nodes.r.Nodes[1]
	if a.ID != n1 || b.ID != n2 || a.State != gcs.NodeAlive || b.State != gcs.NodeDraining {
		t.Errorf("GetNodes = %v, %v; want n1 ALIVE, n2 DRAINING in id order", a, b)
	}
	if !a.Available.Equal(core.MustResources(core.CPU, 1)) {
		t.Errorf("n1 available = %v, want the reported {CPU: 1}", a.Available)
	}
}
