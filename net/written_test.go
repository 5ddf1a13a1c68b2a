package net

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestRemoteWaitersFireInOrder checks the writer's accounting: a waiter
// fires once the frames queued before it are handled, not before, and
// closing the peer releases every waiter.
func TestRemoteWaitersFireInOrder(t *testing.T) {
	r := &remote{}
	if r.afterWritten(func() { t.Error("fired with nothing queued") }) {
		t.Fatal("afterWritten with nothing queued reported true")
	}
	var fired []int
	r.enqueued = 3
	if !r.afterWritten(func() { fired = append(fired, 1) }) {
		t.Fatal("afterWritten with 3 queued reported false")
	}
	r.enqueued = 5
	r.afterWritten(func() { fired = append(fired, 2) })
	r.enqueued = 7
	r.afterWritten(func() { fired = append(fired, 3) })
	r.wrote(2)
	if len(fired) != 0 {
		t.Fatalf("after 2 of 3 frames: fired %v", fired)
	}
	r.wrote(3)
	if len(fired) != 2 || fired[0] != 1 || fired[1] != 2 {
		t.Fatalf("after 5 frames: fired %v, want [1 2]", fired)
	}
	r.t = &P2P{}
	r.close()
	if len(fired) != 3 {
		t.Fatalf("after close: fired %v, want all three", fired)
	}
}

// TestP2PAfterWritten checks the barrier on real connections: a waiter
// registered after a burst runs only once the whole burst was written,
// local and unconnected destinations have nothing to wait for, and the
// process env posts the callback to its loop.
func TestP2PAfterWritten(t *testing.T) {
	noLeaks(t)
	ta := newP2P(t, P2POptions{})
	tb := newP2P(t, P2POptions{})
	var got atomic.Int64
	sink, err := tb.Listen("sink", func(core.Addr, []byte) error { got.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !ta.Queues(sink) || ta.Queues(ta.Addr("x")) {
		t.Errorf("Queues: %v for another host's process, %v for a local one; want true, false", ta.Queues(sink), ta.Queues(ta.Addr("x")))
	}
	if ta.AfterWritten(sink, func() { t.Error("fired for an unconnected peer") }) {
		t.Error("AfterWritten reported true for a peer never connected")
	}
	if ta.AfterWritten(ta.Addr("x"), func() { t.Error("fired for a local process") }) {
		t.Error("AfterWritten reported true for a local process")
	}
	if err := ta.Connect(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		const n = 500
		for range n {
			ta.Send(ta.Addr("src"), sink, make([]byte, 1024))
		}
		want := uint64((round + 1) * n)
		done := make(chan uint64, 1)
		if !ta.AfterWritten(sink, func() { st := ta.Stats(); done <- st.Sent + st.WriteLost + st.Unreachable }) {
			// The writer was faster than this goroutine: all handled.
			if st := ta.Stats(); st.Sent+st.WriteLost+st.Unreachable < want {
				t.Fatalf("round %d: AfterWritten reported nothing queued with %d of %d frames handled", round, st.Sent+st.WriteLost+st.Unreachable, want)
			}
			continue
		}
		if h := recv(t, done, "the burst to be written"); h < want {
			t.Fatalf("round %d: waiter ran with %d of %d frames handled", round, h, want)
		}
	}
	eventually(t, "every frame to arrive", func() bool { return got.Load() == 20*500 })
}
