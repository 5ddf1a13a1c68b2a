package net

import (
	"log/slog"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
)

// quiet is a logger for benchmarks.
var quiet = slog.New(slog.DiscardHandler)

// windowed keeps up to window pings in flight until n are answered.
type windowed struct {
	env       core.Env
	dst       core.Addr
	n, window int
	sent, got int
	payload   []byte
	done      chan struct{}
}

func (p *windowed) Start(env core.Env) {
	p.env = env
	for p.sent < min(p.window, p.n) {
		p.send()
	}
}

func (p *windowed) send() {
	p.env.Send(p.dst, &ping{Seq: uint64(p.sent), Payload: p.payload})
	p.sent++
}

func (p *windowed) Receive(_ core.Addr, m core.Message) {
	if _, ok := m.(*pong); !ok {
		return
	}
	p.got++
	switch {
	case p.got == p.n:
		close(p.done)
	case p.sent < p.n:
		p.send()
	}
}

// runWindowed measures b.N request/response pairs from a process of
// client to echo, window at a time, and reports the message rate.
func runWindowed(b *testing.B, client *Host, echo core.Addr, window, payload int) {
	b.Helper()
	warm := &windowed{dst: echo, n: 1, window: 1, done: make(chan struct{})}
	if _, err := client.Add("warmup", warm); err != nil {
		b.Fatal(err)
	}
	recv(b, warm.done, "warm-up")
	p := &windowed{dst: echo, n: b.N, window: window, payload: make([]byte, payload), done: make(chan struct{})}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if _, err := client.Add("bench", p); err != nil {
		b.Fatal(err)
	}
	recv(b, p.done, "the benchmark")
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func memPair(b *testing.B) (*Host, core.Addr) {
	mem := NewMem()
	server, client := NewHost(HostOptions{Transport: mem, Logger: quiet}), NewHost(HostOptions{Transport: mem, Logger: quiet})
	b.Cleanup(func() { client.Close(); server.Close() })
	echo, err := server.Add("echo", echoProc())
	if err != nil {
		b.Fatal(err)
	}
	return client, echo
}

func p2pPair(b *testing.B) (*Host, core.Addr) {
	server, _ := newP2PHost(b, P2POptions{Logger: quiet}, HostOptions{})
	client, _ := newP2PHost(b, P2POptions{Logger: quiet}, HostOptions{})
	echo, err := server.Add("echo", echoProc())
	if err != nil {
		b.Fatal(err)
	}
	return client, echo
}

// BenchmarkMemRoundTrip: one request/response at a time between two
// processes of two hosts over the in-memory transport (encode, decode,
// two mailbox hand-offs each way). ns/op is the round trip.
func BenchmarkMemRoundTrip(b *testing.B) {
	client, echo := memPair(b)
	runWindowed(b, client, echo, 1, 64)
}

// BenchmarkMemPipelined: 256 requests in flight over the in-memory
// transport.
func BenchmarkMemPipelined(b *testing.B) {
	client, echo := memPair(b)
	runWindowed(b, client, echo, 256, 64)
}

// BenchmarkP2PRoundTrip: one 64-byte request/response at a time between
// two libp2p hosts on loopback (TCP, PSK, Noise, yamux, one stream per
// direction). ns/op is the round trip.
func BenchmarkP2PRoundTrip(b *testing.B) {
	client, echo := p2pPair(b)
	runWindowed(b, client, echo, 1, 64)
}

// BenchmarkP2PPipelined: 256 requests of 64 bytes in flight between two
// libp2p hosts on loopback; req/s counts requests (each also has a
// response).
func BenchmarkP2PPipelined(b *testing.B) {
	client, echo := p2pPair(b)
	runWindowed(b, client, echo, 256, 64)
}
