package net

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ProtocolID is the libp2p protocol of gray's message streams. Bump its
// version with any incompatible change of the wire format (frame.go).
const ProtocolID = "/gray/1.0.0"

// Defaults of P2POptions.
const (
	// DefaultListenAddr is loopback only: a host that should be reached
	// from other machines must be given its listen address explicitly.
	DefaultListenAddr = "/ip4/127.0.0.1/tcp/0"
	// DefaultPeerQueueBytes bounds the bytes queued for one peer and not
	// yet written to its stream. Sends beyond it are dropped and counted
	// (P2PStats.QueueFull), like packets on a congested link.
	DefaultPeerQueueBytes = 64 << 20
	// DefaultDialTimeout bounds one connection attempt (TCP, PSK, Noise,
	// yamux, stream negotiation).
	DefaultDialTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds an inbound connection's handshake
	// (private-network nonce, security negotiation, Noise, yamux): a
	// connection that has not completed it by then is closed. libp2p's
	// own bound is 15 s, during which a peer that never completes its
	// handshake holds a socket and a goroutine; a legitimate handshake
	// takes a few round trips (about 3 ms on loopback).
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds one batch of writes to a stream; a peer
	// that stops reading for that long loses its stream.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultBackoffMin and DefaultBackoffMax bound the wait before
	// reconnecting to a peer after a failed dial or a broken stream; it
	// doubles per consecutive failure, with jitter.
	DefaultBackoffMin = 50 * time.Millisecond
	DefaultBackoffMax = 5 * time.Second
)

const (
	// inboundPerPeerMax bounds the inbound streams one peer may hold; a
	// peer opens one at a time, so more means it reconnected and the
	// oldest is dead.
	inboundPerPeerMax = 2
	// readBufSize is the read buffer of an inbound stream; frames up to
	// this size are read into a reused buffer.
	readBufSize = 64 << 10
	// addrCacheMax bounds the cache of parsed destination addresses.
	addrCacheMax = 4096
)

// P2POptions configure a P2P transport. ClusterSecret is required; zero
// fields take the defaults.
type P2POptions struct {
	// ListenAddrs are TCP multiaddrs to listen on. Default
	// []string{DefaultListenAddr}.
	ListenAddrs []string
	// AdvertiseAddr is the multiaddr (without /p2p) under which other
	// hosts reach this one; it becomes the prefix of every local process
	// address. Default: the first listen address, unless it is 0.0.0.0
	// or ::, in which case the first non-loopback interface address. Set
	// it on multi-homed hosts and behind NAT.
	AdvertiseAddr string
	// ClusterSecret is shared by every host of the cluster; the
	// private-network key is derived from it, so hosts without it cannot
	// complete a handshake. At least SecretLenMin bytes, e.g. 32 random
	// bytes.
	ClusterSecret []byte
	// DataDir holds the identity key file (KeyFileName). Empty gives a
	// fresh identity (a new peer id) at each start, for tests.
	DataDir string
	// Logger receives the transport's records. Default slog.Default().
	Logger *slog.Logger
	// MessageSizeMax bounds one envelope, sent or received. Default
	// core.DefaultMessageSizeMax; it should match the hosts' setting.
	MessageSizeMax int
	// PeerQueueBytes bounds the bytes queued for one peer. Default
	// DefaultPeerQueueBytes, raised to fit at least one largest message.
	PeerQueueBytes int
	// NoListen makes a dial-only host (the gray CLI): it listens on
	// nothing and announces only /p2p/<peer id>, so peers answer it over
	// the connection it opened and never dial it back; once it is gone,
	// a late message for it is dropped (logged at debug) instead of being
	// redialled. ListenAddrs and AdvertiseAddr are ignored.
	NoListen bool
	// DialTimeout, HandshakeTimeout, WriteTimeout, BackoffMin and
	// BackoffMax: see the Default* constants.
	DialTimeout      time.Duration
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	BackoffMin       time.Duration
	BackoffMax       time.Duration
}

func (o *P2POptions) setDefaults() {
	if o.ListenAddrs == nil {
		o.ListenAddrs = []string{DefaultListenAddr}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MessageSizeMax <= 0 {
		o.MessageSizeMax = core.DefaultMessageSizeMax
	}
	if o.PeerQueueBytes <= 0 {
		o.PeerQueueBytes = DefaultPeerQueueBytes
	}
	o.PeerQueueBytes = max(o.PeerQueueBytes, o.MessageSizeMax+frameOverhead)
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffMin)
	}
}

// P2P is the production transport: one libp2p host (TCP, a private
// network keyed by the cluster secret, Noise, yamux) shared by every local
// process. Addresses are P2PAddr strings. Each peer gets one long-lived
// outgoing stream carrying length-prefixed frames, with a bounded queue,
// and is redialled with backoff when the stream breaks. Envelopes between
// two processes of this transport never touch the network. A P2P is safe
// for concurrent use.
type P2P struct {
	opts     P2POptions
	psk      [32]byte
	log      *slog.Logger
	h        host.Host
	id       peer.ID
	hostAddr string // <multiaddr>/p2p/<id>
	prefix   string // hostAddr + "#"
	ctx      context.Context
	cancel   context.CancelFunc

	mu        sync.RWMutex
	closed    bool
	procs     map[string]DeliverFunc
	remotes   map[peer.ID]*remote
	addrCache map[core.Addr]P2PAddr
	// wg counts the goroutines the transport starts or borrows: writers,
	// stream watchers and inbound stream handlers.
	wg sync.WaitGroup

	stats            p2pCounters
	dialLog, dropLog logEvery
}

type p2pCounters struct {
	sent, received, local, queueFull, unreachable, writeLost, tooLarge,
	badAddr, noProcess, dialErrors, streamBreaks, protocolErrors atomic.Uint64
}

var _ Transport = (*P2P)(nil)

// NewP2P starts a libp2p host listening on opts.ListenAddrs, with its
// identity from opts.DataDir.
func NewP2P(opts P2POptions) (*P2P, error) {
	opts.setDefaults()
	if len(opts.ClusterSecret) < SecretLenMin {
		return nil, fmt.Errorf("net: the cluster secret has %d bytes, want at least %d (e.g. `openssl rand -hex 32`)", len(opts.ClusterSecret), SecretLenMin)
	}
	key, err := loadIdentity(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("net: identity: %w", err)
	}
	psk := derivePSK(opts.ClusterSecret)
	listen := libp2p.ListenAddrStrings(opts.ListenAddrs...)
	if opts.NoListen {
		listen = libp2p.NoListenAddrs
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		listen,
		// Naming the transport, security and muxer replaces libp2p's
		// defaults (QUIC, WebRTC, TLS, ...): one well-understood stack.
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.PrivateNetwork(psk),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.Ping(false),
		// Inside a private network every peer holds the secret; the
		// transport bounds its own queues and streams. libp2p's default
		// resource and connection managers would cap or prune the
		// connections of a large cluster (e.g. every node to the GCS).
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		libp2p.WithDialTimeout(opts.DialTimeout),
		// The swarm caps dials to private and loopback addresses (a LAN
		// cluster) at 5s unless told otherwise.
		libp2p.SwarmOpts(swarm.WithDialTimeoutLocal(opts.DialTimeout)),
		handshakeTimeout(opts.HandshakeTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("net: libp2p host: %w", err)
	}
	t := &P2P{
		opts:      opts,
		psk:       [32]byte(psk),
		log:       opts.Logger,
		h:         h,
		id:        h.ID(),
		procs:     map[string]DeliverFunc{},
		remotes:   map[peer.ID]*remote{},
		addrCache: map[core.Addr]P2PAddr{},
		dialLog:   logEvery{interval: logInterval},
		dropLog:   logEvery{interval: logInterval},
	}
	t.hostAddr = "/p2p/" + t.id.String()
	if !opts.NoListen {
		adv, err := t.advertised(opts.AdvertiseAddr)
		if err != nil {
			_ = h.Close()
			return nil, err
		}
		t.hostAddr = adv.String() + t.hostAddr
	}
	t.prefix = t.hostAddr + "#"
	t.ctx, t.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(ProtocolID, t.handleStream)
	t.log.Info("net: p2p host started", "addr", t.hostAddr, "listen", fmt.Sprint(h.Network().ListenAddresses()))
	return t, nil
}

// advertised picks the multiaddr announced to peers.
func (t *P2P) advertised(adv string) (ma.Multiaddr, error) {
	if adv != "" {
		m, err := ma.NewMultiaddr(adv)
		if err != nil {
			return nil, fmt.Errorf("net: AdvertiseAddr %q: %w", adv, err)
		}
		tr, id := peer.SplitAddr(m)
		if id != "" && id != t.id {
			return nil, fmt.Errorf("net: AdvertiseAddr %q names peer %s, but this host is %s", adv, id, t.id)
		}
		return tr, nil
	}
	for _, a := range t.h.Network().ListenAddresses() {
		if !manet.IsIPUnspecified(a) {
			return a, nil
		}
	}
	addrs := t.h.Addrs()
	for _, a := range addrs {
		if !manet.IsIPLoopback(a) {
			return a, nil
		}
	}
	if len(addrs) > 0 {
		return addrs[0], nil
	}
	return nil, errors.New("net: no address to advertise; set P2POptions.AdvertiseAddr")
}

// PeerID returns the host's peer id, derived from its key.
func (t *P2P) PeerID() peer.ID { return t.id }

// HostAddr returns the host's address, <multiaddr>/p2p/<peer id>: the
// prefix of every local process address.
func (t *P2P) HostAddr() string { return t.hostAddr }

// Addr returns the address of the local process name (listening or not).
func (t *P2P) Addr(name string) core.Addr { return core.Addr(t.prefix + name) }

// Listen implements Transport.
func (t *P2P) Listen(name string, deliver DeliverFunc) (core.Addr, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", ErrClosed
	}
	if t.procs[name] != nil {
		return "", fmt.Errorf("%w: %q on %s", ErrNameTaken, name, t.hostAddr)
	}
	t.procs[name] = deliver
	return t.Addr(name), nil
}

// Unlisten implements Transport.
func (t *P2P) Unlisten(name string) {
	t.mu.Lock()
	delete(t.procs, name)
	t.mu.Unlock()
}

func (t *P2P) lookup(name string) DeliverFunc {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.procs[name]
}

// lookupBytes is lookup for a name read off the wire, without copying it.
func (t *P2P) lookupBytes(name []byte) DeliverFunc {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.procs[string(name)]
}

// Send implements Transport. from must be a local process address of
// this transport. An envelope for a local process is delivered at once;
// one for a remote process joins the peer's queue.
func (t *P2P) Send(from, to core.Addr, envelope []byte) {
	fromName, ok := strings.CutPrefix(string(from), t.prefix)
	if !ok || !nameOK(fromName) {
		t.drop(&t.stats.badAddr, "sender is not a process of this host", from, to, nil)
		return
	}
	dst, err := t.resolve(to)
	if err != nil {
		t.drop(&t.stats.badAddr, "bad destination address", from, to, err)
		return
	}
	if len(envelope) > t.opts.MessageSizeMax {
		t.drop(&t.stats.tooLarge, "message over the size limit", from, to, fmt.Errorf("%d bytes, limit %d", len(envelope), t.opts.MessageSizeMax))
		return
	}
	if dst.Peer == t.id {
		deliver := t.lookup(dst.Process)
		if deliver == nil {
			t.drop(&t.stats.noProcess, "no such local process", from, to, nil)
			return
		}
		t.stats.local.Add(1)
		_ = deliver(from, envelope) // the host logged a decode error
		return
	}
	r := t.remoteFor(dst.Peer, dst.Host)
	if r == nil {
		return // closed
	}
	r.enqueue(outFrame{from: fromName, to: dst.Process, env: envelope})
}

// Queues implements WriteWaiter: envelopes for other peers are queued.
func (t *P2P) Queues(to core.Addr) bool {
	dst, err := t.resolve(to)
	return err == nil && dst.Peer != t.id
}

// AfterWritten implements WriteWaiter. Envelopes for local processes
// are delivered inside Send, so only a remote peer's queue is waited
// on, and only while the peer is connected: envelopes waiting for a
// dial (to a peer that may be gone) are not waited for.
func (t *P2P) AfterWritten(to core.Addr, f func()) bool {
	dst, err := t.resolve(to)
	if err != nil || dst.Peer == t.id {
		return false
	}
	if t.h.Network().Connectedness(dst.Peer) != network.Connected {
		return false // nothing to wait for but a dial that may fail
	}
	t.mu.RLock()
	r := t.remotes[dst.Peer]
	t.mu.RUnlock()
	return r != nil && r.afterWritten(f)
}

// drop counts and (rate-limited) logs a message dropped on send.
func (t *P2P) drop(c *atomic.Uint64, why string, from, to core.Addr, err error) {
	c.Add(1)
	if ok, n := t.dropLog.allow(); ok {
		t.log.Warn("net: p2p: dropping a message: "+why, "from", string(from), "to", string(to), "err", err, "suppressed", n)
	}
}

// resolve parses to, through a bounded cache. A new address of a remote
// peer is added to the peerstore, so that it can be dialled.
func (t *P2P) resolve(to core.Addr) (P2PAddr, error) {
	t.mu.RLock()
	a, ok := t.addrCache[to]
	t.mu.RUnlock()
	if ok {
		return a, nil
	}
	a, err := ParseP2PAddr(to)
	if err != nil {
		return a, err
	}
	if a.Peer != t.id && a.maddr != nil {
		t.h.Peerstore().AddAddr(a.Peer, a.maddr, peerstore.PermanentAddrTTL)
	}
	t.mu.Lock()
	if len(t.addrCache) >= addrCacheMax {
		clear(t.addrCache)
	}
	t.addrCache[to] = a
	t.mu.Unlock()
	return a, nil
}

// remoteFor returns the state of peer id, creating it. pin, when not
// empty, is a host address a local process used for the peer (see
// remote.canonical). It returns nil once the transport is closed.
func (t *P2P) remoteFor(id peer.ID, pin string) *remote {
	t.mu.RLock()
	r := t.remotes[id]
	t.mu.RUnlock()
	if r == nil {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil
		}
		if r = t.remotes[id]; r == nil {
			r = &remote{t: t, id: id, protoLog: logEvery{interval: logInterval}}
			t.remotes[id] = r
		}
		t.mu.Unlock()
	}
	if pin != "" {
		r.pin(pin)
	}
	return r
}

// Connect dials the peer of addr now and reports whether the connection
// (TCP, private-network key, Noise handshake) succeeded. Sends dial on
// their own; Connect is for checking a join address up front. Its error
// wraps the cause where it is known (ErrRefused, ErrSecretMismatch, ...;
// see dialcheck.go): before libp2p's dial, a probe connection reads the
// peer's private-network greeting, which tells a peer with another
// cluster secret at once instead of after a timeout.
// ConnectAny connects to the addresses at once (the replicas of a
// replicated GCS) and returns the first that answered, or, if none did,
// the error of the first address.
func (t *P2P) ConnectAny(ctx context.Context, addrs []core.Addr) (core.Addr, error) {
	if len(addrs) == 1 {
		return addrs[0], t.Connect(ctx, addrs[0])
	}
	type result struct {
		i   int
		err error
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, len(addrs)) // buffered: no goroutine blocks
	for i, a := range addrs {
		go func() { done <- result{i, t.Connect(cctx, a)} }()
	}
	errs := make([]error, len(addrs))
	for range addrs {
		r := <-done
		if r.err == nil {
			return addrs[r.i], nil
		}
		errs[r.i] = r.err
	}
	return "", errs[0]
}

func (t *P2P) Connect(ctx context.Context, addr core.Addr) error {
	dst, err := t.resolve(addr)
	if err != nil {
		return err
	}
	if dst.Peer == t.id {
		return nil
	}
	if t.remoteFor(dst.Peer, dst.Host) == nil {
		return ErrClosed
	}
	info := peer.AddrInfo{ID: dst.Peer}
	if dst.maddr != nil {
		info.Addrs = []ma.Multiaddr{dst.maddr}
	}
	if dst.maddr != nil && t.h.Network().Connectedness(dst.Peer) != network.Connected {
		if err := probeSecret(ctx, dst.maddr, &t.psk); err != nil {
			return fmt.Errorf("net: connect to %s: %w", dst.Host, err)
		}
	}
	if err := t.h.Connect(ownBackoff(ctx), info); err != nil {
		return fmt.Errorf("net: connect to %s: %w", dst.Host, classifyConnectError(ctx, err))
	}
	return nil
}

// goTracked runs f on a new goroutine counted by t.wg, unless the
// transport is closed.
func (t *P2P) goTracked(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Go(f)
	return true
}

// handleStream serves one inbound stream on libp2p's goroutine: a hello,
// then frames until the stream ends or misbehaves.
func (t *P2P) handleStream(s network.Stream) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = s.Reset()
		return
	}
	t.wg.Add(1)
	t.mu.Unlock()
	defer t.wg.Done()

	r := t.remoteFor(s.Conn().RemotePeer(), "")
	if r == nil {
		_ = s.Reset()
		return
	}
	for _, old := range r.addInbound(s) {
		_ = old.Reset()
	}
	defer r.removeInbound(s)
	err := t.readStream(r, s)
	switch {
	case errors.Is(err, errProtocol):
		t.violation(r, s, err)
	case err == nil || errors.Is(err, io.EOF):
		_ = s.Close()
	default:
		t.log.Debug("net: p2p: inbound stream ended", "peer", r.id.String(), "err", err)
		_ = s.Reset()
	}
}

// readStream reads a hello and then delivers frames.
func (t *P2P) readStream(r *remote, s network.Stream) error {
	br := bufio.NewReaderSize(s, readBufSize)
	announced, err := readHello(br)
	if err != nil {
		return err
	}
	if err := t.checkHello(r.id, announced); err != nil {
		return err
	}
	base := r.announce(announced)
	buf := make([]byte, readBufSize)
	senders := map[string]core.Addr{} // sender name → address, for this stream
	for {
		from, to, env, err := readFrame(br, t.opts.MessageSizeMax, buf)
		if err != nil {
			return err
		}
		t.stats.received.Add(1)
		deliver := t.lookupBytes(to)
		if deliver == nil {
			t.stats.noProcess.Add(1)
			if ok, n := t.dropLog.allow(); ok {
				t.log.Debug("net: p2p: dropping a message for an unknown local process", "peer", r.id.String(), "to", string(to), "suppressed", n)
			}
			continue
		}
		addr, ok := senders[string(from)]
		if !ok {
			if len(senders) >= 256 {
				clear(senders)
			}
			addr = core.Addr(base + "#" + string(from))
			senders[string(from)] = addr
		}
		if err := deliver(addr, env); err != nil {
			return fmt.Errorf("%w: undecodable message from %s: %w", errProtocol, addr, err)
		}
	}
}

// checkHello verifies that the announced host address names the peer
// Noise authenticated, and records it for dialling back.
func (t *P2P) checkHello(id peer.ID, announced string) error {
	m, err := ma.NewMultiaddr(announced)
	if err != nil {
		return fmt.Errorf("%w: hello address %q: %v", errProtocol, announced, err)
	}
	tr, pid := peer.SplitAddr(m)
	if pid != id {
		return fmt.Errorf("%w: hello announces %q, but the connection is from peer %s", errProtocol, announced, id)
	}
	if len(tr) > 0 {
		t.h.Peerstore().AddAddr(id, tr, peerstore.AddressTTL)
	}
	return nil
}

// violation drops the connection of a stream that broke the protocol.
// Records are rate-limited per peer.
func (t *P2P) violation(r *remote, s network.Stream, err error) {
	t.stats.protocolErrors.Add(1)
	c := s.Conn()
	if ok, n := r.protoLog.allow(); ok {
		t.log.Warn("net: p2p: dropping the connection of a misbehaving peer", "peer", c.RemotePeer().String(),
			"remote", c.RemoteMultiaddr().String(), "err", err, "suppressed", n)
	}
	_ = s.Reset()
	_ = c.Close()
}

// Close stops the transport: every stream is reset, queued messages are
// dropped, every goroutine it started has exited and the libp2p host is
// closed when it returns. Close the hosts that use it first. Later calls
// return ErrClosed.
func (t *P2P) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	rs := make([]*remote, 0, len(t.remotes))
	for _, r := range t.remotes {
		rs = append(rs, r)
	}
	t.mu.Unlock()
	t.cancel()
	t.h.RemoveStreamHandler(ProtocolID)
	for _, r := range rs {
		r.close()
	}
	t.wg.Wait()
	return t.h.Close()
}

// P2PStats are a P2P transport's counters since NewP2P.
type P2PStats struct {
	// Peers is the number of peers the transport has state for.
	Peers int
	// Sent counts frames written to peers' streams; Received counts
	// frames read from them; Local counts envelopes delivered between
	// processes of this transport without the network.
	Sent, Received, Local uint64
	// Drops on send: QueueFull (the peer's queue was over
	// PeerQueueBytes), Unreachable (queued while a dial failed),
	// WriteLost (in a batch whose write failed), TooLarge (over
	// MessageSizeMax), BadAddr (an address that does not parse).
	QueueFull, Unreachable, WriteLost, TooLarge, BadAddr uint64
	// NoProcess counts envelopes for a process that is not listening.
	NoProcess uint64
	// DialErrors counts failed connection attempts (unreachable peer,
	// wrong cluster secret, wrong peer id); StreamBreaks counts outgoing
	// streams that broke; ProtocolErrors counts inbound connections
	// dropped for a protocol violation (bad hello, bad frame, oversized
	// frame, undecodable message).
	DialErrors, StreamBreaks, ProtocolErrors uint64
}

// Stats returns the transport's counters.
func (t *P2P) Stats() P2PStats {
	t.mu.RLock()
	n := len(t.remotes)
	t.mu.RUnlock()
	c := &t.stats
	return P2PStats{
		Peers: n, Sent: c.sent.Load(), Received: c.received.Load(), Local: c.local.Load(),
		QueueFull: c.queueFull.Load(), Unreachable: c.unreachable.Load(), WriteLost: c.writeLost.Load(),
		TooLarge: c.tooLarge.Load(), BadAddr: c.badAddr.Load(), NoProcess: c.noProcess.Load(),
		DialErrors: c.dialErrors.Load(), StreamBreaks: c.streamBreaks.Load(), ProtocolErrors: c.protocolErrors.Load(),
	}
}
