package net

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// procEnv is the core.Env of a process run by a Host. Its methods are
// called from the process's own callbacks, on its loop goroutine; Env.Go
// work runs elsewhere and must not use the Env.
type procEnv struct {
	p   *proc
	rng *rand.Rand
	fs  vfs.FS
	log *slog.Logger
}

var _ core.Env = (*procEnv)(nil)

// Self implements core.Env.
func (e *procEnv) Self() core.Addr { return e.p.addr }

// Now implements core.Env with the wall clock.
func (e *procEnv) Now() time.Time { return time.Now() }

// Rand implements core.Env: a ChaCha8 stream seeded from crypto/rand when
// the process was added.
func (e *procEnv) Rand() *rand.Rand { return e.rng }

// FS implements core.Env: the process's data dir, or its in-memory FS.
func (e *procEnv) FS() vfs.FS { return e.fs }

// errNoSharedMemory is ShmCreate's and ShmOpen's error on a host
// started with HostOptions.NoSharedMemory.
var errNoSharedMemory = errors.New("net: shared memory is off on this host")

// ShmCreate implements core.SharedMemory (HostOptions.SharedMemory).
func (e *procEnv) ShmCreate(size int64) (core.Segment, error) {
	if e.p.h.opts.NoSharedMemory {
		return nil, errNoSharedMemory
	}
	return e.p.h.opts.SharedMemory.ShmCreate(size)
}

// ShmOpen implements core.SharedMemory.
func (e *procEnv) ShmOpen(handle string, size int64, write bool) (core.Segment, error) {
	if e.p.h.opts.NoSharedMemory {
		return nil, fmt.Errorf("%w: %w", errNoSharedMemory, core.ErrShmForeign)
	}
	return e.p.h.opts.SharedMemory.ShmOpen(handle, size, write)
}

// Log implements core.Env.
func (e *procEnv) Log() *slog.Logger { return e.log }

// ForeignLog implements core.ForeignLogger: slog loggers may be called
// from any goroutine.
func (e *procEnv) ForeignLog() *slog.Logger { return e.log }

// Send implements core.Env: m is encoded now, on the sender's goroutine,
// so sender and receiver never share memory, and handed to the transport.
// Sends of a stopping process are dropped.
func (e *procEnv) Send(to core.Addr, m core.Message) {
	p := e.p
	if p.stopFlag.Load() {
		return
	}
	b, err := p.enc.Encode(m)
	if err != nil {
		p.h.stats.encodeErrors.Add(1)
		if ok, n := p.sendLog.allow(); ok {
			p.log.Error("net: dropping a message that does not encode", "to", string(to), "err", err, "suppressed", n)
		}
		return
	}
	p.h.tr.Send(p.addr, to, b)
}

// Go implements core.Env: work runs on a goroutine of its own and its
// result is posted to the mailbox (never dropped for a full mailbox) and
// delivered to Receive with from == Self(). A panic in work, or a nil
// result, stops the process like a panic in a callback.
func (e *procEnv) Go(work func() core.Message) {
	p := e.p
	if p.stopFlag.Load() {
		return
	}
	p.h.wg.Go(func() {
		m, err := runWork(p, work)
		p.post(item{kind: itemWork, m: m, err: err}, false)
	})
}

// Await implements core.Env: f is posted to the mailbox like a Host.Do
// call (never dropped for a full mailbox) and the caller waits on a
// channel for wake, ctx or the end of the process's loop.
func (e *procEnv) Await(ctx context.Context, f func(wake func())) error {
	p := e.p
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default: // woken already
		}
	}
	if p.post(item{kind: itemFunc, f: func() { f(wake) }}, false) != posted {
		return core.ErrStopped
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		// The loop may have woken us just before it ended.
		select {
		case <-ch:
			return nil
		default:
			return core.ErrStopped
		}
	}
}

// Holds implements core.SendBarrier through the transport, when it
// queues envelopes (WriteWaiter).
func (e *procEnv) Holds(to core.Addr) bool {
	ww, ok := e.p.h.tr.(WriteWaiter)
	return ok && ww.Queues(to)
}

// AfterSent implements core.SendBarrier through the transport, when it
// queues envelopes (WriteWaiter); f is posted to the loop.
func (e *procEnv) AfterSent(to core.Addr, f func()) bool {
	ww, ok := e.p.h.tr.(WriteWaiter)
	return ok && ww.AfterWritten(to, func() { e.Post(f) })
}

// Post implements core.Env.
func (e *procEnv) Post(f func()) bool {
	return e.p.post(item{kind: itemFunc, f: f}, false) == posted
}

// errNilResult is the exit error of a process whose Go work returned nil.
var errNilResult = errors.New("net: Env.Go work returned a nil message")

func runWork(p *proc, work func() core.Message) (m core.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = p.panicError(r, debug.Stack())
		}
	}()
	m = work()
	if m == nil {
		return nil, &PanicError{Addr: p.addr, Value: errNilResult}
	}
	return m, nil
}

// Timer states.
const (
	timerPending uint32 = iota
	timerStopped
	timerFired
)

// timer is a pending Env.AfterFunc. It fires by posting itself to the
// mailbox; the loop runs f only if nobody stopped it first, so a timer
// stopped after it was posted still never runs.
type timer struct {
	p     *proc
	f     func()
	state atomic.Uint32
	t     *time.Timer // nil for d <= 0; set and read on the loop goroutine
}

// AfterFunc implements core.Env. f runs on the loop after at least d
// (time.AfterFunc never fires early). Timers of a stopped process never
// run.
func (e *procEnv) AfterFunc(d time.Duration, f func()) core.Timer {
	p := e.p
	t := &timer{p: p, f: f}
	if !p.track(t) {
		t.state.Store(timerStopped)
		return t
	}
	if d <= 0 {
		p.post(item{kind: itemTimer, t: t}, false)
		return t
	}
	t.t = time.AfterFunc(d, func() { p.post(item{kind: itemTimer, t: t}, false) })
	return t
}

// Stop implements core.Timer.
func (t *timer) Stop() bool {
	if !t.state.CompareAndSwap(timerPending, timerStopped) {
		return false
	}
	if t.t != nil {
		t.t.Stop()
	}
	t.p.untrack(t)
	return true
}

// fire marks the timer fired and reports whether it was still pending.
func (t *timer) fire() bool { return t.state.CompareAndSwap(timerPending, timerFired) }

// cancel stops the timer when its process exits.
func (t *timer) cancel() {
	if t.state.CompareAndSwap(timerPending, timerStopped) && t.t != nil {
		t.t.Stop()
	}
}
