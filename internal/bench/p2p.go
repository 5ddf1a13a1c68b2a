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
// that echoes every stream of echoProtocol and a net.Host on net.P2P
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

// p2pLimits starts the peer process cmd, connects to it over loopback
// libp2p and measures a raw stream's round trip and pipelined message
// rate, then the same through gray's transport (grayLimits).
func p2pLimits(ctx context.Context, t Timing, cmd *exec.Cmd) []Limit {
	rt := Limit{Name: limitP2PRoundTrip, Unit: "round trips/s",
		What: fmt.Sprintf("%d-byte echo over one libp2p stream to another process (TCP, PSK, Noise, yamux on loopback), one at a time", p2pMessageBytes)}
	pl := Limit{Name: limitP2PPipelined, Unit: "messages/s",
		What: fmt.Sprintf("%d %d-byte messages written back to back (batched in 64 KiB writes) on that stream while their echoes are read", p2pPipelinedCall, p2pMessageBytes)}
	fail := func(err error) []Limit {
		rt.Err, pl.Err = err.Error(), err.Error()
		return []Limit{rt, pl, {Name: limitGrayRoundTrip, Err: err.Error()}, {Name: limitGrayPipelined, Err: err.Error()}}
	}
	s, pi, stop, err := dialPeer(ctx, cmd)
	if err != nil {
		return fail(err)
	}
	defer stop()

	msg := make([]byte, p2pMessageBytes)
	echo := make([]byte, p2pMessageBytes)
	st, err := timeit(ctx, t, p2pRoundTripsCall, func() error {
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
	rt.Mean, rt.Std = st.Mean, st.Std
	if err != nil {
		rt.Err = err.Error()
	}

	all := make([]byte, p2pPipelinedCall*p2pMessageBytes)
	// Messages are batched into writes of up to 64 KiB, as net's P2P
	// transport batches its queue.
	bw := bufio.NewWriterSize(s, 64<<10)
	st, err = timeit(ctx, t, p2pPipelinedCall, func() error {
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
	pl.Mean, pl.Std = st.Mean, st.Std
	if err != nil {
		pl.Err = err.Error()
	}
	return append([]Limit{rt, pl}, grayLimits(ctx, t, pi.secret, pi.echo)...)
}

// peerInfo is what the parent learns about its peer.
type peerInfo struct {
	secret []byte
	echo   core.Addr // the echo process of gray's transport
}

// dialPeer starts the peer, connects and opens an echo stream. stop
// closes everything and waits for the peer to exit.
func dialPeer(ctx context.Context, cmd *exec.Cmd) (network.Stream, peerInfo, func(), error) {
	pi := peerInfo{secret: make([]byte, 32)}
	_, _ = rand.Read(pi.secret) // never fails (crypto/rand)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, pi, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, pi, nil, err
	}
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, pi, nil, fmt.Errorf("bench: starting the libp2p peer: %w", err)
	}
	h, err := newLibp2pHost(pi.secret)
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, pi, nil, err
	}
	stop := func() {
		_ = h.Close()
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	s, err := connectPeer(ctx, h, stdin, stdout, &pi)
	if err != nil {
		stop()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w (peer: %s)", err, msg)
		}
		return nil, pi, nil, err
	}
	return s, pi, stop, nil
}

// connectPeer sends the secret, reads the peer's two addresses (its
// libp2p host's, then its echo process's, into pi) and opens a raw echo
// stream.
func connectPeer(ctx context.Context, h host.Host, stdin io.Writer, stdout io.Reader, pi *peerInfo) (network.Stream, error) {
	if _, err := fmt.Fprintf(stdin, "%x\n", pi.secret); err != nil {
		return nil, fmt.Errorf("bench: sending the secret to the peer: %w", err)
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
	select {
	case l := <-lc:
		if l.err != nil {
			return nil, fmt.Errorf("bench: reading the peer's addresses: %w", l.err)
		}
		addr, pi.echo = l.addr, core.Addr(l.echo)
	case <-ctx.Done():
		return nil, fmt.Errorf("bench: waiting for the peer's addresses: %w", ctx.Err())
	}
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("bench: the peer's address %q: %w", addr, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return nil, fmt.Errorf("bench: the peer's address %q: %w", addr, err)
	}
	if err := h.Connect(ctx, *info); err != nil {
		return nil, fmt.Errorf("bench: connecting to the peer: %w", err)
	}
	s, err := h.NewStream(ctx, info.ID, echoProtocol)
	if err != nil {
		return nil, fmt.Errorf("bench: opening a stream to the peer: %w", err)
	}
	return s, nil
}
