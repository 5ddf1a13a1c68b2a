package net

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// PanicError is the exit error of a process that panicked with anything
// but a core.FailStop: a bug, reported to HostOptions.OnExit.
type PanicError struct {
	// Addr is the process that panicked.
	Addr core.Addr
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack trace.
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("net: panic in %s: %v", e.Addr, e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

type itemKind uint8

const (
	itemMsg   itemKind = iota // a message from the transport
	itemTimer                 // a timer that fired
	itemWork                  // the result of Env.Go work
	itemFunc                  // a Host.Do call
)

// item is one entry of a mailbox.
type item struct {
	kind itemKind
	from core.Addr
	m    core.Message
	size int // encoded size of m, for itemMsg
	t    *timer
	f    func()
	err  error // a failed Env.Go work
}

type postResult uint8

const (
	posted postResult = iota
	droppedFull
	droppedStopped
)

// proc is one running process: its component, its Env and its mailbox.
type proc struct {
	h    *Host
	name string
	addr core.Addr
	p    core.Process
	env  *procEnv
	log  *slog.Logger
	enc  *core.Codec // used only on the loop goroutine, by Env.Send

	mu       sync.Mutex
	queue    []item
	netMsgs  int // messages in queue
	netBytes int // their encoded size
	stopReq  bool
	stopped  bool
	timers   map[*timer]struct{} // pending timers, stopped on exit
	wake     chan struct{}       // capacity 1: "queue or stopReq changed"
	stopFlag atomic.Bool         // stopReq or stopped, readable without mu
	done     chan struct{}       // closed when the loop goroutine ends

	spare     []item // the loop's recycled batch
	dropLog   logEvery
	sendLog   logEvery
	decodeLog logEvery
}

func newProc(h *Host, name string, p core.Process, fs vfs.FS) *proc {
	pr := &proc{
		h:         h,
		name:      name,
		p:         p,
		enc:       core.NewCodec(h.opts.MessageSizeMax),
		timers:    map[*timer]struct{}{},
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		dropLog:   logEvery{interval: logInterval},
		sendLog:   logEvery{interval: logInterval},
		decodeLog: logEvery{interval: logInterval},
	}
	var seed [32]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails (Go 1.24+)
	pr.env = &procEnv{p: pr, rng: mrand.New(mrand.NewChaCha8(seed)), fs: fs}
	return pr
}

// init sets the address the transport gave the process.
func (pr *proc) init(addr core.Addr) {
	pr.addr = addr
	pr.log = pr.h.log.With("proc", string(addr))
	pr.env.log = pr.log
}

// deliver is the process's DeliverFunc: it decodes on the transport's
// goroutine and posts the message to the mailbox.
func (pr *proc) deliver(from core.Addr, b []byte) error {
	c := pr.h.decoders.Get().(*core.Codec)
	m, err := c.Decode(b)
	pr.h.decoders.Put(c)
	if err != nil {
		pr.h.stats.decodeErrors.Add(1)
		if ok, n := pr.decodeLog.allow(); ok {
			pr.h.log.Warn("net: dropping a message that does not decode", "to", pr.name, "from", string(from), "err", err, "suppressed", n)
		}
		return err
	}
	if pr.post(item{kind: itemMsg, from: from, m: m, size: len(b)}, true) == droppedFull {
		pr.h.stats.mailboxDrops.Add(1)
		if ok, n := pr.dropLog.allow(); ok {
			pr.h.log.Warn("net: mailbox full, dropping messages", "proc", pr.name,
				"type", core.MessageName(m.MsgType()), "from", string(from), "suppressed", n,
				"limit_msgs", pr.h.opts.MailboxMessages, "limit_bytes", pr.h.opts.MailboxBytes)
		}
	}
	return nil
}

// post appends it to the mailbox. Bounded posts (network messages) are
// dropped when the mailbox is full; nothing is posted to a stopping
// process.
func (pr *proc) post(it item, bounded bool) postResult {
	pr.mu.Lock()
	if pr.stopReq || pr.stopped {
		pr.mu.Unlock()
		return droppedStopped
	}
	if bounded {
		if pr.netMsgs >= pr.h.opts.MailboxMessages || pr.netBytes+it.size > pr.h.opts.MailboxBytes {
			pr.mu.Unlock()
			return droppedFull
		}
		pr.netMsgs++
		pr.netBytes += it.size
	}
	pr.queue = append(pr.queue, it)
	first := len(pr.queue) == 1
	pr.mu.Unlock()
	if first {
		pr.signal()
	}
	return posted
}

func (pr *proc) signal() {
	select {
	case pr.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (pr *proc) requestStop() {
	pr.mu.Lock()
	pr.stopReq = true
	pr.stopFlag.Store(true)
	pr.mu.Unlock()
	pr.signal()
}

// run is the process's goroutine: Start, then mailbox batches until a stop
// request or a failure, then the exit.
func (pr *proc) run() {
	defer pr.h.wg.Done()
	defer close(pr.done)
	err := pr.start()
	for err == nil {
		batch, ok := pr.next()
		if !ok {
			break
		}
		for i := range batch {
			if pr.stopFlag.Load() {
				break
			}
			if err = pr.dispatch(&batch[i]); err != nil {
				break
			}
		}
		clear(batch) // drop references to delivered messages
		pr.spare = batch[:0]
	}
	pr.exit(err)
}

// next waits for the mailbox to be non-empty and takes all of it.
func (pr *proc) next() ([]item, bool) {
	pr.mu.Lock()
	for len(pr.queue) == 0 && !pr.stopReq {
		pr.mu.Unlock()
		<-pr.wake
		pr.mu.Lock()
	}
	if pr.stopReq {
		pr.mu.Unlock()
		return nil, false
	}
	batch := pr.queue
	pr.queue = pr.spare
	pr.spare = nil
	pr.netMsgs, pr.netBytes = 0, 0
	pr.mu.Unlock()
	return batch, true
}

func (pr *proc) start() (err error) {
	defer pr.recoverInto(&err)
	pr.p.Start(pr.env)
	return nil
}

// dispatch runs one mailbox item on the loop goroutine and returns the
// process's exit error if it panicked.
func (pr *proc) dispatch(it *item) (err error) {
	defer pr.recoverInto(&err)
	switch it.kind {
	case itemMsg:
		pr.h.stats.delivered.Add(1)
		pr.p.Receive(it.from, it.m)
	case itemTimer:
		if !it.t.fire() {
			return nil // stopped after it was posted
		}
		pr.untrack(it.t)
		it.t.f()
	case itemWork:
		if it.err != nil {
			return it.err
		}
		pr.p.Receive(pr.addr, it.m)
	case itemFunc:
		it.f()
	}
	return nil
}

// recoverInto turns a panic of a callback into the process's exit error.
func (pr *proc) recoverInto(err *error) {
	r := recover()
	if r == nil {
		return
	}
	*err = pr.panicError(r, debug.Stack())
}

func (pr *proc) panicError(r any, stack []byte) error {
	switch v := r.(type) {
	case core.FailStop:
		return v
	case *core.FailStop:
		if v != nil {
			return *v
		}
	}
	return &PanicError{Addr: pr.addr, Value: r, Stack: stack}
}

// exit stops the process for good: no more deliveries or timers, the
// transport forgets it, Stopper.Stop runs, the name is freed and an
// abnormal exit is reported.
func (pr *proc) exit(err error) {
	pr.mu.Lock()
	pr.stopped = true
	pr.stopFlag.Store(true)
	pr.queue = nil
	timers := pr.timers
	pr.timers = nil
	pr.mu.Unlock()
	pr.h.tr.Unlisten(pr.name)
	for t := range timers {
		t.cancel()
	}
	if s, ok := pr.p.(core.Stopper); ok {
		if serr := pr.stopComponent(s); serr != nil {
			if err == nil {
				err = serr
			} else {
				pr.log.Error("net: Stop panicked while stopping a failed process", "err", serr, "stack", stackOf(serr))
			}
		}
	}
	pr.h.remove(pr)
	if err == nil {
		return
	}
	pr.h.stats.exits.Add(1)
	var fs core.FailStop
	if errors.As(err, &fs) {
		pr.log.Warn("net: process fail-stopped", "err", err)
	} else {
		pr.log.Error("net: process panicked and was stopped", "err", err, "stack", stackOf(err))
	}
	if pr.h.opts.OnExit != nil {
		pr.h.opts.OnExit(pr.addr, err)
	}
}

func (pr *proc) stopComponent(s core.Stopper) (err error) {
	defer pr.recoverInto(&err)
	s.Stop()
	return nil
}

func stackOf(err error) string {
	var pe *PanicError
	if errors.As(err, &pe) {
		return string(pe.Stack)
	}
	return ""
}

func (pr *proc) track(t *timer) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.stopReq || pr.stopped {
		return false
	}
	pr.timers[t] = struct{}{}
	return true
}

func (pr *proc) untrack(t *timer) {
	pr.mu.Lock()
	delete(pr.timers, t) // a nil map after exit: delete is a no-op
	pr.mu.Unlock()
}
