package gcs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/sim"
)

// TestClientErrors covers the client-side outcomes: a GCS that never
// answers (ErrTimeout, outcome unknown), too many calls (ErrOverloaded)
// and Close (ErrClosed).
func TestClientErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{hosts: 2, copts: gcs.ClientOptions{Deadline: 300 * time.Millisecond, InFlightMax: 2}})
	var lost *gcs.Client
	var timeout, afterClose error
	var inFlight int
	h.add("call an address where nobody listens", func(done func()) {
		lost = gcs.NewClient(h.hosts[0].env, "nowhere", gcs.ClientOptions{Deadline: 300 * time.Millisecond})
		lost.KVPut("ns", "k", nil, false, func(_ gcs.Reply, err error) {
			timeout = err
			inFlight = lost.InFlight()
			done()
		})
	})
	var overloaded []error
	h.add("three calls with room for two", func(done func()) {
		c := h.hosts[1].c
		left := 3
		for range 3 {
			c.KVGet("ns", "k", func(_ gcs.Reply, err error) {
				overloaded = append(overloaded, err)
				if left--; left == 0 {
					done()
				}
			})
		}
	})
	var closed []error
	h.add("close with calls in flight", func(done func()) {
		c := gcs.NewClient(h.hosts[0].env, "nowhere", gcs.ClientOptions{})
		c.KVGet("ns", "a", func(_ gcs.Reply, err error) { closed = append(closed, err) })
		c.KVGet("ns", "b", func(_ gcs.Reply, err error) { closed = append(closed, err) })
		c.Close()
		c.KVGet("ns", "c", func(_ gcs.Reply, err error) {
			afterClose = err
			done()
		})
	})
	h.mustPass()
	if !errors.Is(timeout, gcs.ErrTimeout) || inFlight != 0 {
		t.Errorf("unanswered call: %v with %d in flight, want ErrTimeout and none", timeout, inFlight)
	}
	n := 0
	for _, err := range overloaded {
		if errors.Is(err, gcs.ErrOverloaded) {
			n++
		} else if err != nil {
			t.Errorf("unexpected error %v", err)
		}
	}
	if n != 1 {
		t.Errorf("%d of 3 calls overloaded with InFlightMax 2, want 1 (%v)", n, overloaded)
	}
	if len(closed) != 2 || !errors.Is(closed[0], gcs.ErrClosed) || !errors.Is(closed[1], gcs.ErrClosed) || !errors.Is(afterClose, gcs.ErrClosed) {
		t.Errorf("close: %v then %v, want ErrClosed for all", closed, afterClose)
	}
}

// TestDedupWindowDoesNotStarve sends more concurrent mutations than the
// server keeps dedup records for: the excess is refused (Unavailable) and
// retried, the oldest call always gets through, and every call succeeds.
func TestDedupWindowDoesNotStarve(t *testing.T) {
	h := newHarness(t, harnessOpts{copts: gcs.ClientOptions{InFlightMax: 3 * gcs.RepliesPerClientMax}})
	const n = 3 * gcs.RepliesPerClientMax
	failed := 0
	h.add("many puts at once", func(done func()) {
		left := n
		for i := range n {
			h.hosts[0].c.KVPut("ns", fmt.Sprint(i), nil, false, func(_ gcs.Reply, err error) {
				if err != nil {
					failed++
				}
				if left--; left == 0 {
					done()
				}
			})
		}
	})
	keys := h.op(0, "count keys", func(c *gcs.Client, f cb) { c.KVKeys("ns", "", f) })
	h.mustPass()
	if failed != 0 || !keys.ok() || len(keys.r.Keys) != n {
		t.Errorf("%d of %d puts failed, %d keys exist", failed, n, len(keys.r.Keys))
	}
}

// TestRetriesUnderLossAndDuplication runs the KV script on a network that
// drops and duplicates: results must be exactly those of a perfect network.
func TestRetriesUnderLossAndDuplication(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		h := newHarness(t, harnessOpts{seed: seed, faults: "drop=0.15,dup=0.3,reorder=0.2", faultPhase: time.Hour,
			copts: gcs.ClientOptions{Deadline: 20 * time.Second}})
		judge := kvScript(h)
		h.simCfg.LivenessBound = time.Minute
		h.mustPass()
		judge().report(t)
	}
}

// TestDescribe checks the dump that `gray sim replay --until` prints.
func TestDescribe(t *testing.T) {
	var states []sim.ProcState
	h := newHarness(t, harnessOpts{})
	h.op(0, "put", func(c *gcs.Client, f cb) { c.KVPut("ns", "key", []byte("value"), false, f) })
	h.op(0, "node", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(1), "c1", core.MustResources(core.CPU, 1), f) })
	h.op(0, "job", func(c *gcs.Client, f cb) { c.AddJob("d", nil, f) })
	h.op(0, "actor", func(c *gcs.Client, f cb) { c.RegisterActor(actorID(job1, 1), "ns", "a", 0, f) })
	h.simCfg.UntilEvent = 14
	r := h.run()
	states = r.States
	var desc string
	for _, s := range states {
		if s.Addr == "gcs" {
			desc = s.State
		}
	}
	for _, want := range []string{"gcs epoch=1", `kv "ns"/"key" = "value"`, "node node:a001", "job job:00000001", `name="ns"/"a"`, "client "} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe() lacks %q:\n%s", want, desc)
		}
	}
}
