package net

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

var testSecret = []byte("gray-net-tests: not a real secret")

// newP2P starts a transport on loopback with the test secret unless opts
// say otherwise, and closes it when the test ends.
func newP2P(t testing.TB, opts P2POptions) *P2P {
	t.Helper()
	if opts.ClusterSecret == nil {
		opts.ClusterSecret = testSecret
	}
	if opts.Logger == nil {
		opts.Logger, _ = testLogger(t)
	}
	if opts.DialTimeout == 0 {
		// With different secrets, each side decrypts the other's bytes
		// to garbage; now and then the garbage reads as the start of a
		// longer handshake message and both wait until the dial times
		// out. Keep that wait short.
		opts.DialTimeout = 2 * time.Second
	}
	opts.BackoffMin = 5 * time.Millisecond
	opts.BackoffMax = 100 * time.Millisecond
	tr, err := NewP2P(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return tr
}

// newP2PHost returns a host on a new transport; both close with the test.
func newP2PHost(t testing.TB, opts P2POptions, hopts HostOptions) (*Host, *P2P) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger, _ = testLogger(t)
	}
	if hopts.Logger == nil {
		hopts.Logger = opts.Logger
	}
	tr := newP2P(t, opts)
	hopts.Transport = tr
	h := NewHost(hopts)
	t.Cleanup(func() { _ = h.Close() }) // runs before the transport's Close
	return h, tr
}

// pinger sends pings to dst until it has n answers, resending the current
// one every retry (messages may be lost while a connection is rebuilt).
type pinger struct {
	env     core.Env
	dst     core.Addr
	n       uint64
	payload []byte
	retry   time.Duration
	next    uint64
	timer   core.Timer
	done    chan error
	froms   map[core.Addr]bool
}

func (p *pinger) Start(env core.Env) {
	p.env = env
	p.froms = map[core.Addr]bool{}
	p.send()
}

func (p *pinger) send() {
	p.env.Send(p.dst, &ping{Seq: p.next, Payload: p.payload})
	if p.retry > 0 {
		p.timer = p.env.AfterFunc(p.retry, p.send)
	}
}

func (p *pinger) Receive(from core.Addr, m core.Message) {
	pg, ok := m.(*pong)
	if !ok || pg.Seq != p.next {
		return // a duplicate answer to a resent ping
	}
	if from != p.dst {
		p.done <- errors.New("answer from " + string(from) + ", want " + string(p.dst))
		return
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.next++
	if p.next == p.n {
		p.done <- nil
		return
	}
	p.send()
}

func newPinger(dst core.Addr, n uint64) *pinger {
	return &pinger{dst: dst, n: n, done: make(chan error, 1)}
}

// TestP2PPingPong plays ping-pong between hosts on two transports, and
// between two processes of one transport (no network).
func TestP2PPingPong(t *testing.T) {
	noLeaks(t)
	a, ta := newP2PHost(t, P2POptions{}, HostOptions{})
	b, tb := newP2PHost(t, P2POptions{}, HostOptions{})
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	if want := tb.HostAddr() + "#echo"; string(echo) != want {
		t.Errorf("echo's address = %q, want %q", echo, want)
	}
	if !strings.HasPrefix(string(echo), "/ip4/127.0.0.1/tcp/") {
		t.Errorf("echo's address %q is not on loopback", echo)
	}
	p := newPinger(echo, 200)
	if _, err := a.Add("pinger", p); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p.done, "remote ping-pong"); err != nil {
		t.Fatal(err)
	}
	if st := ta.Stats(); st.Sent != 200 || st.Received != 200 || st.ProtocolErrors != 0 {
		t.Errorf("A's stats = %+v, want 200 sent and received, no errors", st)
	}

	localEcho, err := a.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	lp := newPinger(localEcho, 10)
	if _, err := a.Add("local-pinger", lp); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, lp.done, "local ping-pong"); err != nil {
		t.Fatal(err)
	}
	if st := ta.Stats(); st.Local != 20 {
		t.Errorf("A's local deliveries = %d, want 20", st.Local)
	}
}

// TestGCSOverP2P runs the real GCS (pebble on a real data dir) and a
// client process on two libp2p hosts, restarts the GCS process and reads
// back what was written.
func TestGCSOverP2P(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	server, _ := newP2PHost(t, P2POptions{DataDir: dir}, HostOptions{DataDir: dir})
	clients, _ := newP2PHost(t, P2POptions{}, HostOptions{})

	gaddr, err := server.Add("gcs", gcs.NewServer(gcs.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	cp := &gcsClient{gcs: gaddr}
	caddr, err := clients.Add("client", cp)
	if err != nil {
		t.Fatal(err)
	}
	if got := putGet(t, clients, caddr, cp, "k", "v1"); got != "v1" {
		t.Fatalf("KVGet = %q, want %q", got, "v1")
	}
	if _, err := os.Stat(filepath.Join(dir, "gcs", gcs.DBDir)); err != nil {
		t.Errorf("the GCS database is not in its data dir: %v", err)
	}

	// Restart the GCS in place; it recovers from disk.
	if err := server.Stop(gaddr); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Add("gcs", gcs.NewServer(gcs.Config{})); err != nil {
		t.Fatal(err)
	}
	res := make(chan string, 1)
	if err := clients.Do(caddr, func() {
		cp.c.KVGet("test", "k", func(r gcs.Reply, err error) {
			if err != nil {
				res <- err.Error()
				return
			}
			res <- string(r.Value)
		})
	}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, res, "KVGet after restart"); got != "v1" {
		t.Errorf("KVGet after a GCS restart = %q, want %q", got, "v1")
	}
}

// TestP2PWrongSecret checks that hosts with different cluster secrets
// cannot talk: Connect fails, and a send is dropped after a failed dial.
func TestP2PWrongSecret(t *testing.T) {
	noLeaks(t)
	logger, logs := testLogger(t)
	// A short dial timeout: see newP2P.
	a, ta := newP2PHost(t, P2POptions{Logger: logger, DialTimeout: 200 * time.Millisecond}, HostOptions{})
	b, tb := newP2PHost(t, P2POptions{ClusterSecret: []byte("another secret, 16+ bytes long")}, HostOptions{})
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err = ta.Connect(ctx, echo)
	if err == nil {
		t.Fatal("Connect to a host with another secret succeeded")
	}
	t.Logf("Connect: %v", err)

	p := newPinger(echo, 1)
	if _, err := a.Add("pinger", p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed dial", func() bool { return ta.Stats().DialErrors >= 1 })
	if st := ta.Stats(); st.Unreachable == 0 || st.Sent != 0 {
		t.Errorf("A's stats = %+v, want the ping dropped as unreachable", st)
	}
	if st := b.Stats(); st.Delivered != 0 {
		t.Errorf("B delivered %d messages from a host without the secret", st.Delivered)
	}
	if st := tb.Stats(); st.Received != 0 {
		t.Errorf("B's transport received %d frames", st.Received)
	}
	// The dial error is counted before it is logged.
	eventually(t, "a log record of the failed dial", func() bool { return logs.contains("cannot reach peer") })
	select {
	case err := <-p.done:
		t.Fatalf("the pinger finished (%v) without a connection", err)
	default:
	}
}

// TestP2PStableIdentity checks that the key file keeps the peer id across
// restarts and is private.
func TestP2PStableIdentity(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	t1 := newP2P(t, P2POptions{DataDir: dir})
	id := t1.PeerID()
	if err := t1.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	t2 := newP2P(t, P2POptions{DataDir: dir})
	if t2.PeerID() != id {
		t.Errorf("peer id after restart = %s, want %s", t2.PeerID(), id)
	}
	if err := t2.Close(); err != nil {
		t.Fatal(err)
	}
	if t3 := newP2P(t, P2POptions{}); t3.PeerID() == id {
		t.Error("a transport without a data dir reused the stored identity")
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewP2P(P2POptions{DataDir: dir, ClusterSecret: testSecret}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("NewP2P with a world-readable key = %v, want an error saying chmod 600", err)
	}
	if _, err := NewP2P(P2POptions{ClusterSecret: []byte("short")}); err == nil {
		t.Error("NewP2P accepted a 5-byte cluster secret")
	}
}

// rawPeer is a libp2p host with gray's stack and the test secret that
// speaks the wire protocol by hand, to misbehave.
func rawPeer(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.PrivateNetwork(derivePSK(testSecret)),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
		libp2p.ResourceManager(&network.NullResourceManager{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// openRaw connects raw to the transport tr and opens a gray stream.
func openRaw(t testing.TB, raw host.Host, tr *P2P) network.Stream {
	t.Helper()
	m, err := ma.NewMultiaddr(tr.HostAddr())
	if err != nil {
		t.Fatal(err)
	}
	info, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := raw.Connect(ctx, *info); err != nil {
		t.Fatal(err)
	}
	s, err := raw.NewStream(ctx, info.ID, ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func frameBytes(from, to string, env []byte) []byte {
	return append(appendFrameHeader(nil, from, to, len(env)), env...)
}

// TestP2PMisbehavingPeer checks that a peer that breaks the wire protocol
// loses its connection, with a logged reason, before anything reaches a
// process, and that the host keeps serving everyone else.
func TestP2PMisbehavingPeer(t *testing.T) {
	noLeaks(t)
	logger, logs := testLogger(t)
	b, tb := newP2PHost(t, P2POptions{Logger: logger, MessageSizeMax: 4096}, HostOptions{MessageSizeMax: 4096})
	a, _ := newP2PHost(t, P2POptions{}, HostOptions{})
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	helloOf := func(raw host.Host) []byte { return appendHello(nil, "/ip4/127.0.0.1/tcp/1/p2p/"+raw.ID().String()) }
	good, err := core.NewCodec(0).Encode(&ping{Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[0] = 'X' // not an envelope
	huge := binary.AppendUvarint(nil, 1<<30)

	// Each case is a new peer: records are rate-limited per peer.
	cases := []struct {
		name   string
		stream func(hello []byte) []byte
		reason string
	}{
		{"garbage", func([]byte) []byte { return []byte("GET / HTTP/1.1\r\nHost: gray\r\n\r\n") }, "hello starts with"},
		{"wrong hello version", func([]byte) []byte { return []byte("GRAY\x09") }, "hello version"},
		{"spoofed peer id", func([]byte) []byte { return appendHello(nil, tb.HostAddr()) }, "but the connection is from peer"},
		{"oversized frame", func(h []byte) []byte { return append(h, huge...) }, "frame over the size limit"},
		{"bad receiver name", func(h []byte) []byte { return append(h, frameBytes("raw", "../etc", good)...) }, "receiver name"},
		{"undecodable envelope", func(h []byte) []byte { return append(h, frameBytes("raw", "echo", bad)...) }, "undecodable message"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := rawPeer(t)
			s := openRaw(t, raw, tb)
			defer s.Reset()
			if _, err := s.Write(c.stream(helloOf(raw))); err != nil {
				t.Fatal(err)
			}
			// The host resets the stream: reads fail. (It never writes.)
			_ = s.SetReadDeadline(time.Now().Add(hangGuard))
			if n, err := s.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read after %s = %d, %v; want the stream reset", c.name, n, err)
			}
			eventually(t, "the protocol error count", func() bool { return tb.Stats().ProtocolErrors == uint64(i+1) })
			if !logs.contains(c.reason) {
				t.Errorf("no log record with %q", c.reason)
			}
		})
	}
	if st := b.Stats(); st.Delivered != 0 {
		t.Errorf("B delivered %d messages from the misbehaving peer", st.Delivered)
	}

	// A well-behaved raw peer gets its frame read after all that.
	raw := rawPeer(t)
	s := openRaw(t, raw, tb)
	if _, err := s.Write(append(helloOf(raw), frameBytes("raw", "nobody", good)...)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a frame for an unknown process", func() bool { return tb.Stats().NoProcess == 1 })
	_ = s.Close()

	// And the host still serves others.
	p := newPinger(echo, 10)
	if _, err := a.Add("pinger", p); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p.done, "ping-pong after the attacks"); err != nil {
		t.Fatal(err)
	}
}

// TestP2POversized checks both ends of the size limit: a sender drops an
// envelope over its own limit, and a receiver with a smaller limit than
// the sender refuses the frame from its length and drops the connection;
// the sender then reconnects and later messages get through.
func TestP2POversized(t *testing.T) {
	noLeaks(t)
	const small, large = 4096, 1 << 20
	a, ta := newP2PHost(t, P2POptions{MessageSizeMax: large}, HostOptions{MessageSizeMax: large})
	b, tb := newP2PHost(t, P2POptions{MessageSizeMax: small}, HostOptions{MessageSizeMax: small})
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}

	ta.Send(ta.Addr("x"), echo, make([]byte, large+1))
	if st := ta.Stats(); st.TooLarge != 1 {
		t.Errorf("sender's TooLarge = %d, want 1", st.TooLarge)
	}

	big := newPinger(echo, 1)
	big.payload = make([]byte, 2*small)
	if _, err := a.Add("big", big); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the receiver to refuse the frame", func() bool { return tb.Stats().ProtocolErrors == 1 })
	eventually(t, "the sender to see its stream break", func() bool { return ta.Stats().StreamBreaks >= 1 })

	p := newPinger(echo, 5)
	p.retry = 20 * time.Millisecond
	if _, err := a.Add("small", p); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p.done, "ping-pong after the reconnection"); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.DecodeErrors != 0 {
		t.Errorf("receiver decode errors = %d, want 0 (the frame was refused unread)", st.DecodeErrors)
	}
}

// TestP2PPeerRestart checks that a sender reconnects, after failed dials,
// to a peer that restarts with the same identity and address.
func TestP2PPeerRestart(t *testing.T) {
	noLeaks(t)
	a, ta := newP2PHost(t, P2POptions{}, HostOptions{})
	dir := t.TempDir()
	b, tb := newP2PHost(t, P2POptions{DataDir: dir}, HostOptions{})
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	p1 := newPinger(echo, 1)
	if _, err := a.Add("p1", p1); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p1.done, "first ping"); err != nil {
		t.Fatal(err)
	}
	listen, _ := ma.SplitLast(ma.StringCast(tb.HostAddr())) // without /p2p
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}

	p2 := newPinger(echo, 3)
	p2.retry = 10 * time.Millisecond
	if _, err := a.Add("p2", p2); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failed dials to the stopped peer", func() bool { return ta.Stats().DialErrors >= 2 })

	b2, tb2 := newP2PHost(t, P2POptions{DataDir: dir, ListenAddrs: []string{listen.String()}}, HostOptions{})
	if tb2.HostAddr() != tb.HostAddr() {
		t.Fatalf("restarted peer is %s, want %s", tb2.HostAddr(), tb.HostAddr())
	}
	if _, err := b2.Add("echo", echoProc()); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p2.done, "pings after the restart"); err != nil {
		t.Fatal(err)
	}
}

// TestParseP2PAddr checks the address format.
func TestParseP2PAddr(t *testing.T) {
	const id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	tests := []struct {
		in      string
		host    string
		process string
		ok      bool
	}{
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#gcs", "/ip4/10.0.0.5/tcp/6380/p2p/" + id, "gcs", true},
		{"/dns4/head.example/tcp/6380/p2p/" + id + "#raylet-1", "/dns4/head.example/tcp/6380/p2p/" + id, "raylet-1", true},
		{"/p2p/" + id + "#w.1", "/p2p/" + id, "w.1", true},
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id, "", "", false},          // no process
		{"/ip4/10.0.0.5/tcp/6380#gcs", "", "", false},                // no peer id
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#", "", "", false},    // empty process
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#a/b", "", "", false}, // bad process name
		{"/ip4/999.0.0.5/tcp/6380/p2p/" + id + "#gcs", "", "", false},
		{"gcs", "", "", false},
	}
	for _, tt := range tests {
		a, err := ParseP2PAddr(core.Addr(tt.in))
		if !tt.ok {
			if err == nil || !errors.Is(err, ErrBadAddr) {
				t.Errorf("ParseP2PAddr(%q) = %+v, %v; want ErrBadAddr", tt.in, a, err)
			}
			continue
		}
		if err != nil || a.Host != tt.host || a.Process != tt.process || a.Peer.String() != id || string(a.Addr()) != tt.in {
			t.Errorf("ParseP2PAddr(%q) = %+v, %v; want host %q, process %q", tt.in, a, err, tt.host, tt.process)
		}
	}
}
