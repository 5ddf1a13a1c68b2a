package net

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"go.uber.org/goleak"
)

// Test message types, in the range core reserves for tests.
const (
	msgPing core.MsgType = 65001
	msgPong core.MsgType = 65002
)

// ping carries a sequence number and a payload.
type ping struct {
	Seq     uint64
	Payload []byte
}

func (*ping) MsgType() core.MsgType { return msgPing }

// pong answers a ping.
type pong struct {
	Seq     uint64
	Payload []byte
}

func (*pong) MsgType() core.MsgType { return msgPong }

func init() {
	core.RegisterMessage(msgPing, 1, "nettest.Ping", func() core.Message { return new(ping) })
	core.RegisterMessage(msgPong, 1, "nettest.Pong", func() core.Message { return new(pong) })
}

// fproc is a process made of functions; nil functions do nothing.
type fproc struct {
	env     core.Env
	start   func(env core.Env)
	receive func(from core.Addr, m core.Message)
	stop    func()
}

func (p *fproc) Start(env core.Env) {
	p.env = env
	if p.start != nil {
		p.start(env)
	}
}

func (p *fproc) Receive(from core.Addr, m core.Message) {
	if p.receive != nil {
		p.receive(from, m)
	}
}

func (p *fproc) Stop() {
	if p.stop != nil {
		p.stop()
	}
}

// echoProc answers every ping with a pong carrying the same fields.
func echoProc() *fproc {
	p := &fproc{}
	p.receive = func(from core.Addr, m core.Message) {
		if pg, ok := m.(*ping); ok {
			p.env.Send(from, &pong{Seq: pg.Seq, Payload: pg.Payload})
		}
	}
	return p
}

// hangGuard bounds how long a test waits for something that must happen.
// It is a guard against hangs, never a performance assertion.
const hangGuard = 20 * time.Second

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// eventually polls cond until it holds or the hang guard expires.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// noLeaks fails the test if goroutines started during it outlive it.
func noLeaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// logBuffer is a concurrency-safe log sink for checking records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) contains(s string) bool { return strings.Contains(l.String(), s) }

// testLogger logs to t (visible with -v or on failure) and to a buffer
// the test can search.
func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	h := slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(teeHandler{h, tlogHandler{t: t}}), lb
}

type teeHandler [2]slog.Handler

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h[0].Enabled(ctx, l) || h[1].Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	_ = h[0].Handle(ctx, r.Clone())
	return h[1].Handle(ctx, r)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h[0].WithAttrs(as), h[1].WithAttrs(as)}
}

func (h teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{h[0].WithGroup(n), h[1].WithGroup(n)}
}

// tlogHandler writes records to t.Log while the test runs.
type tlogHandler struct {
	t     testing.TB
	attrs []slog.Attr
}

func (h tlogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h tlogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	defer func() { _ = recover() }() // t.Log after the test ended panics
	h.t.Log(b.String())
	return nil
}

func (h tlogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return tlogHandler{t: h.t, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h tlogHandler) WithGroup(string) slog.Handler { return h }
