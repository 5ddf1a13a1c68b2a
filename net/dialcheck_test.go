package net

import (
	"context"
	"errors"
	"io"
	gonet "net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	manet "github.com/multiformats/go-multiaddr/net"
)

// fakeListener accepts TCP connections on loopback and hands each to
// serve; it closes with the test.
func fakeListener(t *testing.T, serve func(c gonet.Conn)) string {
	t.Helper()
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // exits when the listener closes
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String()
}

// addrAt is a GCS address at the TCP address hostport with the peer id
// of tr.
func addrAt(tr *P2P, hostport string) core.Addr {
	host, port, _ := strings.Cut(hostport, ":")
	return core.Addr("/ip4/" + host + "/tcp/" + port + "/p2p/" + tr.PeerID().String() + "#gcs")
}

// TestConnectCauses checks that Connect's error names its cause, and
// that each cause that can be known at once is known before the dial
// timeout (the hang guard is far above the timeouts given).
func TestConnectCauses(t *testing.T) {
	head, thead := newP2PHost(t, P2POptions{}, HostOptions{})
	gcsAddr, err := head.Add("gcs", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	_, other := newP2PHost(t, P2POptions{}, HostOptions{}) // same secret, another peer id
	headTCP := func() string {
		_, a, err := manet.DialArgs(thead.h.Network().ListenAddresses()[0])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}()

	closed := func() string { // a port nothing listens on
		l, err := gonet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		_ = l.Close()
		return a
	}()
	// The mute listener holds each connection, silent, until the client
	// closes it.
	muteAddr := fakeListener(t, func(c gonet.Conn) {
		go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
	})
	hangUpAddr := fakeListener(t, func(c gonet.Conn) { _ = c.Close() })
	httpAddr := fakeListener(t, func(c gonet.Conn) {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		_ = c.Close()
	})

	wrongSecret := P2POptions{ClusterSecret: []byte("another secret, 16+ bytes long"), DialTimeout: hangGuard}
	cases := []struct {
		name    string
		opts    P2POptions
		addr    core.Addr
		timeout time.Duration
		want    error
		hint    string
	}{
		{"nothing listens", P2POptions{}, addrAt(thead, closed), hangGuard, ErrRefused, "nothing listens there"},
		{"wrong secret", wrongSecret, gcsAddr, hangGuard, ErrSecretMismatch, "cluster secret"},
		{"stopped head", P2POptions{}, addrAt(thead, muteAddr), 300 * time.Millisecond, ErrNoHandshake, "SIGSTOP"},
		{"head hangs up", P2POptions{}, addrAt(thead, hangUpAddr), hangGuard, ErrHandshakeClosed, "stop or restart"},
		{"not gray", P2POptions{}, addrAt(thead, httpAddr), hangGuard, ErrNotGray, "another program"},
		{"another grayd", P2POptions{}, addrAt(other, headTCP), hangGuard, ErrWrongPeer, "/p2p/ part"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Ten tries: with another secret, whether libp2p's own
			// negotiation fails or hangs depends on the random nonces.
			for range 10 {
				_, tr := newP2PHost(t, c.opts, HostOptions{})
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				err := tr.Connect(ctx, c.addr)
				cancel()
				if !errors.Is(err, c.want) {
					t.Fatalf("Connect = %v, want an error wrapping %q", err, c.want)
				}
				if hint := DialHint(err); !strings.Contains(hint, c.hint) {
					t.Fatalf("DialHint(%v) = %q, want it to contain %q", err, hint, c.hint)
				}
				if strings.Contains(err.Error(), "context deadline exceeded") && c.want != ErrNoHandshake {
					t.Fatalf("Connect = %v: a known cause waited for the deadline", err)
				}
			}
		})
	}
	// The right secret and peer id connect.
	_, tr := newP2PHost(t, P2POptions{}, HostOptions{})
	if err := tr.Connect(context.Background(), gcsAddr); err != nil {
		t.Fatalf("Connect with the right secret = %v", err)
	}
}

// TestDialHintOrder checks that the most specific cause wins: libp2p
// reports a peer id mismatch inside a "failed to negotiate security
// protocol" error.
func TestDialHintOrder(t *testing.T) {
	err := errors.New("failed to dial: failed to negotiate security protocol: peer id mismatch: expected A, but remote key matches B")
	if got := DialHint(err); !strings.Contains(got, "another grayd answers there") {
		t.Errorf("DialHint(%v) = %q, want the another-grayd hint", err, got)
	}
}

// TestHandshakeTimeout checks that an inbound connection that never
// completes its handshake is closed after HandshakeTimeout. The read
// deadline is a hang guard below libp2p's own 15 s bound, so the test
// fails if the option does not take effect.
func TestHandshakeTimeout(t *testing.T) {
	_, tr := newP2PHost(t, P2POptions{HandshakeTimeout: 200 * time.Millisecond}, HostOptions{})
	_, a, err := manet.DialArgs(tr.h.Network().ListenAddresses()[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := gonet.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c) // the greeting, then the close
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after 10 s with a 200 ms handshake timeout")
	}
}

// TestNoListenPeerIsNotDialledBack checks a dial-only host: it is
// answered over its own connection, and once it is gone a message for it
// is dropped without a "cannot reach peer" warning (there is nothing to
// dial).
func TestNoListenPeerIsNotDialledBack(t *testing.T) {
	logger, logs := testLogger(t)
	head, thead := newP2PHost(t, P2POptions{Logger: logger}, HostOptions{})
	echo, err := head.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	cli, tcli := newP2PHost(t, P2POptions{NoListen: true}, HostOptions{})
	if got := tcli.HostAddr(); got != "/p2p/"+tcli.PeerID().String() {
		t.Errorf("a NoListen host's address = %q, want only /p2p/<id>", got)
	}
	p := newPinger(echo, 3)
	pAddr, err := cli.Add("pinger", p)
	if err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p.done, "ping-pong from a NoListen host"); err != nil {
		t.Fatal(err)
	}
	_ = cli.Close()
	_ = tcli.Close()
	// Late messages for the gone peer (the first may still go into the
	// stream the head has not yet seen break).
	eventually(t, "a failed dial to the gone peer", func() bool {
		thead.Send(echo, pAddr, []byte("late"))
		return thead.Stats().DialErrors >= 1
	})
	if logs.contains("cannot reach peer") {
		t.Errorf("the head warned about a gone dial-only peer:\n%s", logs)
	}
	if !logs.contains("no address to dial") {
		t.Errorf("no debug record saying the gone peer has no address to dial:\n%s", logs)
	}
}
