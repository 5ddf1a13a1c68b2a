package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/grayrt/gray/core"
)

// echoProtocol is the protocol of the peer's echo streams.
const echoProtocol = "/gray-bench/echo/1.0.0"

const (
	// p2pMessageBytes is the size of one message, as in net's
	// benchmarks.
	p2pMessageBytes = 64
	// p2pRoundTripsCall and p2pPipelinedCall are the messages of one
	// timed call.
	p2pRoundTripsCall = 100
	p2pPipelinedCall  = 1000
	// peerStartTimeout bounds the peer's start and the connection.
	peerStartTimeout = 20 * time.Second
)

// newLibp2pHost starts a libp2p host with the stack net.NewP2P uses: TCP,
// a private network keyed by the secret, Noise, yamux, no relay, metrics,
// ping or resource manager, listening on loopback.
func newLibp2pHost(secret []byte) (host.Host, error) {
	psk := sha256.Sum256(append([]byte("gray-bench psk\x00"), secret...))
	return libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.PrivateNetwork(pnet.PSK(psk[:])),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.Ping(false),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
	)
}

// RunPeer is the peer process of the libp2p limits (`gray bench peer`):
// it reads the hex secret as the first line of in, starts a libp2p host
// that echoes every stream of echoProtocol, reads every stream of
// sinkProtocol (handleSink), and a net.Host on net.P2P
// with an echo process, prints the libp2p host's full multiaddr and the
// echo process's address as two lines to out, and runs until in ends
// (its parent closed it or exited) or ctx is done.
func RunPeer(ctx context.Context, in io.Reader, out io.Writer) error {
	br := bufio.NewReader(in)
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("bench peer: reading the secret: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(line))
	if err != nil {
		return fmt.Errorf("bench peer: secret: %w", err)
	}
	h, err := newLibp2pHost(secret)
	if err != nil {
		return fmt.Errorf("bench peer: %w", err)
	}
	defer h.Close()
	h.SetStreamHandler(echoProtocol, func(s network.Stream) {
		if _, err := io.Copy(s, s); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
	h.SetStreamHandler(sinkProtocol, handleSink)
	addrs := h.Addrs()
	if len(addrs) == 0 {
		return errors.New("bench peer: the host has no address")
	}
	echo, stop, err := startEcho(secret)
	if err != nil {
		return fmt.Errorf("bench peer: %w", err)
	}
	defer stop()
	if _, err := fmt.Fprintf(out, "%s/p2p/%s\n%s\n", addrs[0], h.ID(), echo); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() { // exits when in ends: the parent closed it or died
		_, _ = io.Copy(io.Discard, br)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// peerConn is this process's side of the peer process (RunPeer): a
// libp2p host connected to the peer's, and gray's transport to the peer's
// echo process. It stays open between measurements, so that each limit
// can be measured right before the cases it bounds; its methods measure
// one limit each, one at a time, each on a stream of its own: a stream
// opened long before its first write is reset by the peer (libp2p
// negotiates a stream's protocol lazily, on its first write, within
// basichost.DefaultNegotiationTimeout, 10 s), and a measurement that
// failed may leave unread bytes on its stream.
type peerConn struct {
	h  host.Host
	id peer.ID // the peer's host
	// gray is gray's transport to the peer, nil when it could not start
	// (grayErr).
	gray    *grayConn
	grayErr error
	// data is what the bulk limit writes, made on its first use.
	data []byte
	stop func()
}

// dialPeer starts the peer process cmd, connects to it over loopback
// libp2p and starts gray's transport. close stops it all and waits for
// the peer to exit.
func dialPeer(ctx context.Context, cmd *exec.Cmd) (*peerConn, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the libp2p peer: %w", err)
	}
	h, err := newLibp2pHost(secret)
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, err
	}
	p := &peerConn{h: h, stop: func() {
		_ = h.Close()
		_ = stdin.Close()
		_ = cmd.Wait()
	}}
	id, echo, err := connectPeer(ctx, h, stdin, stdout, secret)
	if err != nil {
		p.stop()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w (peer: %s)", err, msg)
		}
		return nil, err
	}
	p.id = id
	p.gray, p.grayErr = dialGray(secret, echo)
	return p, nil
}

// open opens a stream of protocol proto to the peer; the caller closes
// it.
func (p *peerConn) open(ctx context.Context, proto protocol.ID) (network.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, peerStartTimeout)
	defer cancel()
	s, err := p.h.NewStream(ctx, p.id, proto)
	if err != nil {
		return nil, fmt.Errorf("bench: opening a %s stream to the peer: %w", proto, err)
	}
	return s, nil
}

// close closes gray's transport and the host and stops the peer.
func (p *peerConn) close() {
	if p.gray != nil {
		p.gray.close()
	}
	p.stop()
}

// roundTrip measures a raw stream's round trip: one message, then its
// echo.
func (p *peerConn) roundTrip(ctx context.Context, t Timing) ([]float64, error) {
	s, err := p.open(ctx, echoProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	msg := make([]byte, p2pMessageBytes)
	echo := make([]byte, p2pMessageBytes)
	return timeit(ctx, t, p2pRoundTripsCall, func() error {
		for range p2pRoundTripsCall {
			if _, err := s.Write(msg); err != nil {
				return err
			}
			if _, err := io.ReadFull(s, echo); err != nil {
				return err
			}
		}
		return nil
	})
}

// pipelined measures a raw stream's message rate: messages written back
// to back while their echoes are read.
func (p *peerConn) pipelined(ctx context.Context, t Timing) ([]float64, error) {
	s, err := p.open(ctx, echoProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	msg := make([]byte, p2pMessageBytes)
	all := make([]byte, p2pPipelinedCall*p2pMessageBytes)
	// Messages are batched into writes of up to 64 KiB, as net's P2P
	// transport batches its queue.
	bw := bufio.NewWriterSize(s, 64<<10)
	return timeit(ctx, t, p2pPipelinedCall, func() error {
		werr := make(chan error, 1)
		go func() { // exits after its writes: each ends or fails
			for range p2pPipelinedCall {
				if _, err := bw.Write(msg); err != nil {
					werr <- err
					return
				}
			}
			werr <- bw.Flush()
		}()
		_, rerr := io.ReadFull(s, all)
		return errors.Join(<-werr, rerr)
	})
}

// stream measures the bulk-transfer limit on a sink stream.
func (p *peerConn) stream(ctx context.Context, t Timing) ([]float64, error) {
	s, err := p.open(ctx, sinkProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if p.data == nil {
		p.data = make([]byte, streamBytes)
		for i := range p.data {
			p.data[i] = byte(i)
		}
	}
	return streamGigabytes(ctx, t, s, p.data)
}

// grayRoundTrip and grayPipelined measure gray's transport to the peer.
func (p *peerConn) grayRoundTrip(ctx context.Context, t Timing) ([]float64, error) {
	if p.gray == nil {
		return nil, p.grayErr
	}
	return p.gray.roundTrip(ctx, t)
}

func (p *peerConn) grayPipelined(ctx context.Context, t Timing) ([]float64, error) {
	if p.gray == nil {
		return nil, p.grayErr
	}
	return p.gray.pipelined(ctx, t)
}

// connectPeer sends the secret, reads the peer's two addresses (its
// libp2p host's, then its echo process's) and connects h to the peer's
// host. It returns the peer's ID and its echo process's address.
func connectPeer(ctx context.Context, h host.Host, stdin io.Writer, stdout io.Reader, secret []byte) (peer.ID, core.Addr, error) {
	if _, err := fmt.Fprintf(stdin, "%x\n", secret); err != nil {
		return "", "", fmt.Errorf("bench: sending the secret to the peer: %w", err)
	}
	type lines struct {
		addr, echo string
		err        error
	}
	lc := make(chan lines, 1)
	go func() { // exits when the peer printed two lines or its stdout closed
		br := bufio.NewReader(stdout)
		addr, err := br.ReadString('\n')
		if err != nil {
			lc <- lines{err: err}
			return
		}
		echo, err := br.ReadString('\n')
		lc <- lines{strings.TrimSpace(addr), strings.TrimSpace(echo), err}
	}()
	ctx, cancel := context.WithTimeout(ctx, peerStartTimeout)
	defer cancel()
	var addr string
	var echo core.Addr
	select {
	case l := <-lc:
		if l.err != nil {
			return "", "", fmt.Errorf("bench: reading the peer's addresses: %w", l.err)
		}
		addr, echo = l.addr, core.Addr(l.echo)
	case <-ctx.Done():
		return "", "", fmt.Errorf("bench: waiting for the peer's addresses: %w", ctx.Err())
	}
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", "", fmt.Errorf("bench: the peer's address %q: %w", addr, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return "", "", fmt.Errorf("bench: the peer's address %q: %w", addr, err)
	}
	if err := h.Connect(ctx, *info); err != nil {
		return "", "", fmt.Errorf("bench: connecting to the peer: %w", err)
	}
	return info.ID, echo, nil
}
