package net

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	gonet "net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/core/transport"
	ipnet "github.com/libp2p/go-libp2p/p2p/net/pnet"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	mss "github.com/multiformats/go-multistream"
	"go.uber.org/fx"
	"golang.org/x/crypto/salsa20"
)

// Causes of a failed Connect. Its error wraps exactly one of them when
// the cause is known, so that callers (the gray CLI, grayd --join) say
// what happened instead of guessing; DialHint turns them into advice.
var (
	// ErrRefused: nothing listens at the address (TCP connection refused).
	ErrRefused = errors.New("nothing listens there (connection refused)")
	// ErrHostUnreachable: the TCP connection got no answer at all (host
	// down, no route, or a firewall that drops packets).
	ErrHostUnreachable = errors.New("the host does not answer TCP connections")
	// ErrSecretMismatch: the peer answered the private-network handshake,
	// and its first bytes prove that it keys it with another cluster
	// secret.
	ErrSecretMismatch = errors.New("the peer uses another cluster secret")
	// ErrNoHandshake: the TCP connection was accepted but the peer sent
	// nothing before the deadline: a stopped (SIGSTOP) or overloaded
	// process, or a program that is not a gray host.
	ErrNoHandshake = errors.New("the peer accepted the TCP connection but did not start the handshake")
	// ErrHandshakeClosed: the peer closed the connection in the middle of
	// the handshake (it stopped or restarted meanwhile, or it is not a
	// gray host).
	ErrHandshakeClosed = errors.New("the peer closed the connection during the handshake")
	// ErrNotGray: the peer sent bytes that are not a libp2p
	// private-network handshake.
	ErrNotGray = errors.New("the peer does not speak gray's protocol")
	// ErrWrongPeer: the secret matched but another host (another peer id)
	// answers at that address.
	ErrWrongPeer = errors.New("another host answers there (its peer id differs from the address's /p2p/ part)")
	// ErrHandshakeTimeout: the secret matched but the rest of the
	// handshake (Noise, yamux) did not finish before the deadline.
	ErrHandshakeTimeout = errors.New("the peer did not finish the handshake in time")
)

// pskNonceLen is the length of the XSalsa20 nonce that a libp2p listener
// of a private network sends as soon as it accepts a TCP connection,
// before reading anything; the multistream-select header of the security
// negotiation follows, encrypted with the key and that nonce (libp2p's
// p2p/net/pnet, and go-multistream's Negotiate, which writes the header
// first). TestProbeSecret pins this behaviour of the libp2p version in
// go.mod.
const pskNonceLen = 24

// mssHeader is the multistream-select header, length-prefixed.
var mssHeader = []byte("\x13/multistream/1.0.0\n")

// probeSecret connects to the TCP address of a libp2p private-network
// listener, reads its greeting and reports whether the listener keys the
// network with psk. It sends nothing: the listener gives up on the
// connection at its handshake timeout, or when we close it. Errors wrap
// one of ErrRefused, ErrHostUnreachable, ErrSecretMismatch,
// ErrNoHandshake, ErrHandshakeClosed or ErrNotGray where the cause is
// known.
//
// Why a separate connection: with two different keys, each side
// decrypts the other's bytes to garbage, and libp2p's negotiation then
// either fails at once ("incoming message was too large", "connection
// reset") or, when the garbage reads as the length of a longer message,
// waits for the rest until the deadline (measured on loopback: 8 of 30
// dials waited the whole 4 s dial timeout). The listener's greeting
// tells the two keys apart within one round trip.
func probeSecret(ctx context.Context, addr ma.Multiaddr, psk *[32]byte) error {
	network, hostport, err := manet.DialArgs(addr)
	if err != nil {
		return err
	}
	var d gonet.Dialer
	c, err := d.DialContext(ctx, network, hostport)
	if err != nil {
		return classifyTCPError(err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, pskNonceLen+len(mssHeader))
	n, err := io.ReadFull(c, buf)
	switch {
	case err == nil:
	case n == 0 && (errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil):
		return fmt.Errorf("%w (nothing received from %s)", ErrNoHandshake, hostport)
	case errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil:
		return fmt.Errorf("%w (%d bytes received from %s, then nothing)", ErrNotGray, n, hostport)
	default:
		return fmt.Errorf("%w (after %d bytes: %v)", ErrHandshakeClosed, n, err)
	}
	if isText(buf) {
		// A random nonce is 24 bytes of text with probability
		// (95/256)^24, about 5e-11; a text protocol (HTTP, SMTP, ...)
		// sends text.
		return fmt.Errorf("%w (it sent text: %q)", ErrNotGray, buf)
	}
	nonce, got := buf[:pskNonceLen], buf[pskNonceLen:]
	salsa20.XORKeyStream(got, got, nonce, psk)
	if !bytes.Equal(got, mssHeader) {
		return ErrSecretMismatch
	}
	return nil
}

// isText reports whether b is printable ASCII and whitespace only.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && (c < '\t' || c > '\r') {
			return false
		}
	}
	return true
}

// classifyTCPError wraps a TCP dial error with its cause where known.
func classifyTCPError(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrHostUnreachable, err)
	}
	return err
}

// classifyConnectError wraps the error of libp2p's Connect, made after
// probeSecret found the secret right, with its cause where known.
func classifyConnectError(ctx context.Context, err error) error {
	msg := err.Error()
	switch {
	case containsAny(msg, "peer id mismatch"):
		return fmt.Errorf("%w: %w", ErrWrongPeer, err)
	case containsAny(msg, "connection refused"):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case containsAny(msg, "connection reset", "EOF", "broken pipe", "closed"):
		return fmt.Errorf("%w: %w", ErrHandshakeClosed, err)
	case ctx.Err() != nil, containsAny(msg, "deadline exceeded", "timeout"):
		return fmt.Errorf("%w: %w", ErrHandshakeTimeout, err)
	}
	return err
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// handshakeTimeout bounds the handshake of inbound connections. libp2p
// has no option for it: its upgrader takes WithAcceptTimeout (default
// 15 s) only as a constructor argument, so the upgrader libp2p provides
// is replaced by one built with the same inputs and that option.
func handshakeTimeout(d time.Duration) libp2p.Option {
	return libp2p.WithFxOption(fx.Decorate(fx.Annotate(
		func(_ transport.Upgrader, security []sec.SecureTransport, muxers []tptu.StreamMuxer,
			psk pnet.PSK, rcmgr network.ResourceManager, gater connmgr.ConnectionGater) (transport.Upgrader, error) {
			return tptu.New(security, muxers, psk, rcmgr, gater, tptu.WithAcceptTimeout(d))
		},
		fx.ParamTags(``, `name:"security"`),
	)))
}

// PeerAt returns the peer id of the host that listens at addr, a TCP
// multiaddr without /p2p, learned from a Noise handshake inside the
// private network (so only a host with the cluster secret answers). It
// trusts whichever such host answers there: the secret is what
// authenticates cluster members; an address with /p2p/<peer id> also
// pins the host. Errors wrap the causes of Connect's errors.
func (t *P2P) PeerAt(ctx context.Context, addr ma.Multiaddr) (peer.ID, error) {
	if err := probeSecret(ctx, addr, &t.psk); err != nil {
		return "", err
	}
	network, hostport, err := manet.DialArgs(addr)
	if err != nil {
		return "", err
	}
	var d gonet.Dialer
	c, err := d.DialContext(ctx, network, hostport)
	if err != nil {
		return "", classifyTCPError(err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	pc, err := ipnet.NewProtectedConn(pnet.PSK(t.psk[:]), c)
	if err != nil {
		return "", err
	}
	if err := mss.SelectProtoOrFail(noise.ID, pc); err != nil {
		return "", classifyConnectError(ctx, err)
	}
	key := t.h.Peerstore().PrivKey(t.id)
	nt, err := noise.New(noise.ID, key, nil)
	if err != nil {
		return "", err
	}
	st, err := nt.WithSessionOptions(noise.DisablePeerIDCheck())
	if err != nil {
		return "", err
	}
	sc, err := st.SecureOutbound(ctx, pc, "")
	if err != nil {
		return "", classifyConnectError(ctx, err)
	}
	defer sc.Close()
	return sc.RemotePeer(), nil
}
