package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// procEnv is the core.Env of one incarnation of a simulated process. Once
// the incarnation has crashed, everything it does is inert: its sends are
// dropped and its timers never fire.
type procEnv struct {
	w   *World
	p   *proc
	inc uint32
	rng *rand.Rand
	log *slog.Logger
	fs  vfs.FS
}

var _ core.Env = (*procEnv)(nil)

func (e *procEnv) current() bool { return e.p.alive && e.p.inc == e.inc }

// Self implements core.Env.
func (e *procEnv) Self() core.Addr { return e.p.addr }

// Now returns the process's local clock: virtual time with the process's
// drift and offset applied.
func (e *procEnv) Now() time.Time {
	// local = floor(t · (1e6 + drift) / 1e6), split so it cannot overflow;
	// globalDuration is its inverse rounded up, so timers never fire early
	// by the local clock.
	t := e.w.now
	frac := (t % 1_000_000) * e.p.drift
	adj := frac / 1_000_000
	if frac%1_000_000 != 0 && frac < 0 {
		adj-- // floor, not truncation, for negative drift
	}
	local := t + t/1_000_000*e.p.drift + adj
	return Epoch.Add(time.Duration(local) + e.p.offset)
}

// globalDuration converts a local duration to virtual time using the drift.
func (e *procEnv) globalDuration(d time.Duration) int64 {
	if d < 0 {
		d = 0
	}
	if e.p.drift == 0 {
		return int64(d)
	}
	// global = ceil(d · 1e6 / (1e6 + drift)), in 128 bits so that long
	// durations do not overflow. Rounding up keeps AfterFunc's promise:
	// the local clock has advanced by at least d when the timer fires.
	den := uint64(1_000_000 + e.p.drift)
	hi, lo := bits.Mul64(uint64(d), 1_000_000)
	lo, carry := bits.Add64(lo, den-1, 0)
	hi += carry
	if hi >= den {
		return math.MaxInt64 // beyond any run's horizon
	}
	q, _ := bits.Div64(hi, lo, den)
	return int64(min(q, math.MaxInt64))
}

type timerState uint8

const (
	timerPending timerState = iota
	timerStopped
	timerFired
)

type timer struct {
	id    uint64
	state timerState
	f     func()
}

// Stop implements core.Timer.
func (t *timer) Stop() bool {
	if t.state != timerPending {
		return false
	}
	t.state = timerStopped
	return true
}

// AfterFunc implements core.Env.
func (e *procEnv) AfterFunc(d time.Duration, f func()) core.Timer {
	t := &timer{id: e.w.seq + 1, f: f}
	if !e.current() {
		t.state = timerStopped
		return t
	}
	e.w.push(event{at: e.w.now + e.globalDuration(d), kind: evTimer, dst: e.p, inc: e.inc, timer: t})
	return t
}

// Send implements core.Env: it encodes m (so the wire path is exercised and
// sender and receiver never share memory) and hands it to the network model.
func (e *procEnv) Send(to core.Addr, m core.Message) {
	if !e.current() {
		return
	}
	b, err := e.w.codec.EncodeTo(m, e.w.payloadBuf)
	if err != nil {
		e.w.Fail("codec", fmt.Sprintf("%s could not encode %T for %s: %v", e.p.addr, m, to, err))
		return
	}
	e.w.net.send(e.w, e.p, to, m, b)
}

// Rand implements core.Env.
func (e *procEnv) Rand() *rand.Rand { return e.rng }

// FS implements core.Env: the process's crashable disk, wrapped so that the
// disk fault can fail its WAL writes.
func (e *procEnv) FS() vfs.FS {
	if e.fs == nil {
		e.fs = newFaultFS(e.p.fs, e.p.disk)
	}
	return e.fs
}

// Go implements core.Env: work runs as a coroutine of the world
// (coroutine.go) and its result is delivered a simulated duration after
// it returns.
func (e *procEnv) Go(work func() core.Message) { e.GoNamed("", work) }

// GoNamed implements core.GoNamer: the name appears in the trace at each
// step of the work.
func (e *procEnv) GoNamed(name string, work func() core.Message) {
	if !e.current() {
		return
	}
	e.goWork(name, work)
}

// Log implements core.Env. Records go to the trace with virtual time.
func (e *procEnv) Log() *slog.Logger {
	if e.log == nil {
		e.log = slog.New(&traceHandler{w: e.w, p: e.p})
	}
	return e.log
}

// traceHandler writes log records into the world's text trace. It ignores
// the record's wall-clock time; the trace line carries virtual time.
type traceHandler struct {
	w     *World
	p     *proc
	attrs []slog.Attr
	group string
}

func (h *traceHandler) Enabled(context.Context, slog.Level) bool { return h.w.tracing() }

func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(r.Message)
	write := func(a slog.Attr) {
		b.WriteByte(' ')
		if h.group != "" {
			b.WriteString(h.group + ".")
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.String())
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	h.w.tracef(h.p, "log", "%s", b.String())
	if h.w.obs != nil {
		h.w.observe(h.p, "log", "", 0, "", b.String())
	}
	return nil
}

func (h *traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = name
	return &c
}
