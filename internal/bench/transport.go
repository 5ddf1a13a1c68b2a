package bench

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/net"
)

// The messages of the gray transport limit, in the range core reserves
// for internal/bench.
const (
	msgBenchPing core.MsgType = 6000
	msgBenchPong core.MsgType = 6001
)

// benchPing asks the peer's echo process for a benchPong.
type benchPing struct {
	Payload []byte `msgpack:"p"`
}

// MsgType implements core.Message.
func (*benchPing) MsgType() core.MsgType { return msgBenchPing }

// benchPong answers a benchPing with its payload.
type benchPong struct {
	Payload []byte `msgpack:"p"`
}

// MsgType implements core.Message.
func (*benchPong) MsgType() core.MsgType { return msgBenchPong }

func init() {
	core.RegisterMessage(msgBenchPing, 1, "bench.Ping", func() core.Message { return new(benchPing) })
	core.RegisterMessage(msgBenchPong, 1, "bench.Pong", func() core.Message { return new(benchPong) })
}

const (
	limitGrayRoundTrip = "gray_p2p_round_trip"
	limitGrayPipelined = "gray_p2p_pipelined_messages"
	// grayPipelineWindow is how many pings the pipelined figure keeps in
	// flight, as net's BenchmarkP2PPipelined.
	grayPipelineWindow = 256
	// burstTimeout bounds one timed burst: the transport may drop a
	// message (a full queue), and a lost ping would wait forever.
	burstTimeout = 30 * time.Second
)

// echoProc answers every benchPing with a benchPong.
type echoProc struct{ env core.Env }

func (e *echoProc) Start(env core.Env) { e.env = env }

func (e *echoProc) Receive(from core.Addr, m core.Message) {
	if p, ok := m.(*benchPing); ok {
		e.env.Send(from, &benchPong{Payload: p.Payload})
	}
}

// pinger sends bursts of pings to dst, window at a time. Its fields are
// touched only on its loop (Start, Receive, and burst through Host.Do).
type pinger struct {
	env       core.Env
	dst       core.Addr
	payload   []byte
	n, window int
	sent, got int
	done      chan struct{}
}

func (p *pinger) Start(env core.Env) { p.env = env }

// burst starts n pings, window in flight; done is closed when all are
// answered.
func (p *pinger) burst(n, window int, done chan struct{}) {
	p.n, p.window, p.sent, p.got, p.done = n, window, 0, 0, done
	p.fill()
}

func (p *pinger) fill() {
	for p.sent < p.n && p.sent-p.got < p.window {
		p.env.Send(p.dst, &benchPing{Payload: p.payload})
		p.sent++
	}
}

func (p *pinger) Receive(_ core.Addr, m core.Message) {
	if _, ok := m.(*benchPong); !ok || p.done == nil {
		return
	}
	p.got++
	if p.got == p.n {
		close(p.done)
		p.done = nil
		return
	}
	p.fill()
}

// startEcho runs the peer's side of the gray transport limit: a P2P
// transport with the secret and a host with an echo process. It returns
// the echo's address and a function that closes both.
func startEcho(secret []byte) (core.Addr, func(), error) {
	quiet := slog.New(slog.DiscardHandler)
	tr, err := net.NewP2P(net.P2POptions{ClusterSecret: secret, Logger: quiet})
	if err != nil {
		return "", nil, err
	}
	h := net.NewHost(net.HostOptions{Transport: tr, Logger: quiet})
	stop := func() {
		_ = h.Close()
		_ = tr.Close()
	}
	addr, err := h.Add("echo", &echoProc{})
	if err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// grayConn is gray's own transport from this process to the peer's echo
// process: net.Host over net.P2P, every message encoded, framed, sent,
// decoded and handed through both hosts' mailboxes.
type grayConn struct {
	tr   *net.P2P
	h    *net.Host
	p    *pinger
	addr core.Addr // the pinger's
}

// dialGray starts a P2P transport with the secret and a host with a
// pinger of the peer's echo process.
func dialGray(secret []byte, echo core.Addr) (*grayConn, error) {
	quiet := slog.New(slog.DiscardHandler)
	tr, err := net.NewP2P(net.P2POptions{ClusterSecret: secret, Logger: quiet})
	if err != nil {
		return nil, err
	}
	g := &grayConn{tr: tr, h: net.NewHost(net.HostOptions{Transport: tr, Logger: quiet}),
		p: &pinger{dst: echo, payload: make([]byte, p2pMessageBytes)}}
	if g.addr, err = g.h.Add("pinger", g.p); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *grayConn) close() {
	_ = g.h.Close()
	_ = g.tr.Close()
}

// roundTrip measures pings one at a time.
func (g *grayConn) roundTrip(ctx context.Context, t Timing) ([]float64, error) {
	return timeit(ctx, t, p2pRoundTripsCall, g.burst(ctx, p2pRoundTripsCall, 1))
}

// pipelined measures pings with grayPipelineWindow in flight.
func (g *grayConn) pipelined(ctx context.Context, t Timing) ([]float64, error) {
	return timeit(ctx, t, p2pPipelinedCall, g.burst(ctx, p2pPipelinedCall, grayPipelineWindow))
}

// burst returns a call that sends n pings, window in flight, and waits
// for their pongs.
func (g *grayConn) burst(ctx context.Context, n, window int) func() error {
	return func() error {
		done := make(chan struct{})
		if err := g.h.Do(g.addr, func() { g.p.burst(n, window, done) }); err != nil {
			return err
		}
		timer := time.NewTimer(burstTimeout)
		defer timer.Stop()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return errors.New("bench: pings unanswered (a message was dropped?)")
		}
	}
}
