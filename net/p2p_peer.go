package net

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
)

// outFrame is one queued message for a peer.
type outFrame struct {
	from, to string // process names
	env      []byte
}

// size is the frame's share of the peer's queue bound.
func (f *outFrame) size() int { return len(f.env) + len(f.from) + len(f.to) + 3*4 }

// remote is what the transport knows about one peer: its addresses, the
// queue and stream of messages to it, and the streams it opened to us.
//
// A writer goroutine runs while the queue is not empty; it exits when the
// queue is drained, so an idle or dead peer costs no goroutine. The
// outgoing stream stays open between bursts, watched by a goroutine that
// notices when the peer closes it. When a dial fails, the messages queued
// for it are dropped and the next dial waits for the backoff.
type remote struct {
	t  *P2P
	id peer.ID

	mu     sync.Mutex
	closed bool
	// pinned is the first host address a local process used for this
	// peer, announced the one in the peer's latest hello; see canonical.
	pinned, announced string
	warnedPin         bool

	queue   []outFrame
	queued  int  // bytes, by outFrame.size
	writing bool // a writer goroutine is running

	// enqueued counts the frames ever queued, handled those the writer
	// has written out or dropped; waiters wait for handled to reach a
	// count (see afterWritten).
	enqueued, handled uint64
	waiters           []writeWaiter

	out      network.Stream // nil when there is no outgoing stream
	bw       *bufio.Writer  // out's buffer, used only by the writer
	outSince time.Time
	backoff  time.Duration
	nextDial time.Time

	inbound  []network.Stream
	protoLog logEvery
}

// pin records addr as a host address local processes use for the peer.
func (r *remote) pin(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.pinned == "":
		r.pinned = addr
	case r.pinned != addr && !r.warnedPin:
		r.warnedPin = true
		r.t.log.Warn("net: p2p: local processes use two addresses for one peer; replies carry the first",
			"peer", r.id.String(), "first", r.pinned, "other", addr)
	}
}

// announce records the host address from the peer's hello and returns
// the canonical one.
func (r *remote) announce(addr string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.announced = addr
	return r.canonical()
}

// canonical is the host address that prefixes the addresses of the
// peer's processes in messages we deliver: the one local processes used
// to reach the peer if any, so that a reply's sender equals the address
// its request went to, and otherwise the one the peer announces. r.mu is
// held.
func (r *remote) canonical() string {
	if r.pinned != "" {
		return r.pinned
	}
	return r.announced
}

// enqueue adds f to the queue and starts a writer if none runs.
func (r *remote) enqueue(f outFrame) {
	t := r.t
	n := f.size()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.queued+n > t.opts.PeerQueueBytes {
		r.mu.Unlock()
		t.drop(&t.stats.queueFull, "the peer's queue is full", t.Addr(f.from), core.Addr(r.procAddr(f.to)), nil)
		return
	}
	r.queue = append(r.queue, f)
	r.queued += n
	r.enqueued++
	start := !r.writing
	r.writing = true
	r.mu.Unlock()
	if start && !t.goTracked(r.run) {
		r.mu.Lock()
		r.writing = false
		r.mu.Unlock()
	}
}

// procAddr names a process of the peer in log records.
func (r *remote) procAddr(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.canonical() + "#" + name
}

// run is the writer: it takes the whole queue, makes sure there is a
// stream, and writes the batch with one flush, until the queue is empty.
func (r *remote) run() {
	t := r.t
	var batch []outFrame
	for {
		r.mu.Lock()
		if len(r.queue) == 0 || r.closed || t.ctx.Err() != nil {
			r.writing = false
			fire := r.settle(r.enqueued)
			r.mu.Unlock()
			runAll(fire)
			return
		}
		batch, r.queue = r.queue, batch[:0]
		r.queued = 0
		s, bw, wait := r.out, r.bw, time.Until(r.nextDial)
		r.mu.Unlock()

		if s == nil {
			if wait > 0 && !t.sleep(wait) {
				clear(batch)
				continue // closed: the next round exits
			}
			var err error
			if s, bw, err = r.dial(); err != nil {
				t.stats.unreachable.Add(uint64(len(batch)))
				r.dialFailed(err, len(batch))
				r.wrote(len(batch))
				clear(batch)
				continue
			}
		}
		if err := r.write(s, bw, batch); err != nil {
			t.stats.writeLost.Add(uint64(len(batch)))
			r.broken(s, err)
		} else {
			t.stats.sent.Add(uint64(len(batch)))
		}
		r.wrote(len(batch))
		clear(batch)
	}
}

// writeWaiter is a callback of afterWritten.
type writeWaiter struct {
	at uint64 // the value of handled it waits for
	f  func()
}

// afterWritten arranges for f to run, on the writer's goroutine, once
// every frame queued for the peer so far has been written to its
// stream or dropped, and reports true; with nothing queued or being
// written it reports false and f is not called.
func (r *remote) afterWritten(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.handled >= r.enqueued {
		return false
	}
	r.waiters = append(r.waiters, writeWaiter{at: r.enqueued, f: f})
	return true
}

// wrote records n more frames handled (written or dropped) and runs the
// waiters that were waiting for them.
func (r *remote) wrote(n int) {
	r.mu.Lock()
	fire := r.settle(min(r.handled+uint64(n), r.enqueued))
	r.mu.Unlock()
	runAll(fire)
}

// settle sets handled and takes out the waiters it satisfies, to be run
// once r.mu is released. r.mu is held.
func (r *remote) settle(handled uint64) []func() {
	r.handled = handled
	var fire []func()
	keep := r.waiters[:0]
	for _, w := range r.waiters {
		if w.at <= handled {
			fire = append(fire, w.f)
		} else {
			keep = append(keep, w)
		}
	}
	clear(r.waiters[len(keep):])
	r.waiters = keep
	return fire
}

// runAll calls each f in order.
func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}

// write writes a batch of frames to s and flushes it.
func (r *remote) write(s network.Stream, bw *bufio.Writer, batch []outFrame) error {
	_ = s.SetWriteDeadline(time.Now().Add(r.t.opts.WriteTimeout))
	var hdr [frameOverhead + 8]byte
	for i := range batch {
		f := &batch[i]
		_, _ = bw.Write(appendFrameHeader(hdr[:0], f.from, f.to, len(f.env)))
		_, _ = bw.Write(f.env) // bufio keeps the first error for Flush
	}
	return bw.Flush()
}

// dial opens a stream to the peer (connecting first if needed), writes
// the hello and installs the stream with a watcher.
func (r *remote) dial() (network.Stream, *bufio.Writer, error) {
	t := r.t
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
	s, err := t.h.NewStream(ownBackoff(ctx), r.id, ProtocolID)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	_ = s.SetWriteDeadline(time.Now().Add(t.opts.WriteTimeout))
	bw := bufio.NewWriterSize(s, readBufSize)
	_, _ = bw.Write(appendHello(nil, t.hostAddr))
	if err := bw.Flush(); err != nil {
		_ = s.Reset()
		return nil, nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = s.Reset()
		return nil, nil, ErrClosed
	}
	r.out, r.bw, r.outSince = s, bw, time.Now()
	r.mu.Unlock()
	if !t.goTracked(func() { r.watch(s) }) {
		_ = s.Reset()
		return nil, nil, ErrClosed
	}
	return s, bw, nil
}

// ownBackoff marks a dial as one the transport paces itself: libp2p's
// swarm would otherwise refuse to dial an address for 5s to 5min after a
// failure (its dial backoff), which would keep a restarted peer
// unreachable long after it is back. An existing connection is still
// reused.
func ownBackoff(ctx context.Context) context.Context {
	return network.WithForceDirectDial(ctx, "gray: the transport paces its own redials")
}

// errPeerWrote reports data on a stream the peer must only read.
var errPeerWrote = errors.New("net: p2p: peer wrote on a stream it must only read")

// watch waits for the peer to close or reset the outgoing stream s (or
// to write on it, which the protocol forbids) and then forgets it, so
// that the next message redials instead of writing into a dead stream.
func (r *remote) watch(s network.Stream) {
	var b [1]byte
	_, err := s.Read(b[:])
	if err == nil {
		err = errPeerWrote
	}
	r.broken(s, err)
}

// broken forgets the outgoing stream s after an error and schedules the
// next dial: at once (after jitter of BackoffMin) if s had lived long,
// later and later if streams keep breaking young.
func (r *remote) broken(s network.Stream, err error) {
	t := r.t
	r.mu.Lock()
	if r.out != s {
		r.mu.Unlock()
		_ = s.Reset()
		return
	}
	r.out, r.bw = nil, nil
	if time.Since(r.outSince) >= t.opts.BackoffMax {
		r.backoff = 0
	}
	r.backoff = t.nextBackoff(r.backoff)
	r.nextDial = time.Now().Add(jitter(r.backoff))
	closed := r.closed
	r.mu.Unlock()
	_ = s.Reset()
	if closed {
		return
	}
	t.stats.streamBreaks.Add(1)
	t.log.Debug("net: p2p: stream to peer broke", "peer", r.id.String(), "err", err)
}

// dialFailed schedules the next dial after a failure.
func (r *remote) dialFailed(err error, dropped int) {
	t := r.t
	r.mu.Lock()
	r.backoff = t.nextBackoff(r.backoff)
	wait := jitter(r.backoff)
	r.nextDial = time.Now().Add(wait)
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return
	}
	t.stats.dialErrors.Add(1)
	if errors.Is(err, swarm.ErrNoAddresses) || len(t.h.Peerstore().Addrs(r.id)) == 0 {
		// A dial-only peer (P2POptions.NoListen: the gray CLI) is
		// reached only over the connection it opened; once it closed
		// it, the peer is gone, which is normal, not a fault to warn of.
		t.log.Debug("net: p2p: dropping messages for a peer that closed its connection and has no address to dial",
			"peer", r.id.String(), "dropped", dropped)
		return
	}
	if ok, n := t.dialLog.allow(); ok {
		t.log.Warn("net: p2p: cannot reach peer (down, or another cluster secret?)", "peer", r.id.String(),
			"err", err, "dropped", dropped, "retry_in", wait, "suppressed", n)
	}
}

// nextBackoff doubles b within [BackoffMin, BackoffMax].
func (t *P2P) nextBackoff(b time.Duration) time.Duration {
	return min(max(2*b, t.opts.BackoffMin), t.opts.BackoffMax)
}

// jitter returns a random duration in [d/2, d], so that peers that lost
// the same host do not redial in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until the transport closes; it reports whether
// the transport is still open.
func (t *P2P) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// addInbound records a new inbound stream and returns the streams beyond
// inboundPerPeerMax, oldest first, for the caller to reset.
func (r *remote) addInbound(s network.Stream) []network.Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inbound = append(r.inbound, s)
	if n := len(r.inbound) - inboundPerPeerMax; n > 0 {
		old := slices.Clone(r.inbound[:n])
		r.inbound = slices.Delete(r.inbound, 0, n)
		return old
	}
	return nil
}

func (r *remote) removeInbound(s network.Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.inbound, s); i >= 0 {
		r.inbound = slices.Delete(r.inbound, i, i+1)
	}
}

// close drops the queue and resets every stream; the goroutines using
// them exit.
func (r *remote) close() {
	r.mu.Lock()
	r.closed = true
	r.queue, r.queued = nil, 0
	out := r.out
	in := slices.Clone(r.inbound)
	fire := r.settle(r.enqueued)
	r.mu.Unlock()
	runAll(fire)
	if out != nil {
		_ = out.Reset()
	}
	for _, s := range in {
		_ = s.Reset()
	}
}
