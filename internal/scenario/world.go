package scenario

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/grayrt/gray/core"
)

// World is a small cluster driven by hand: every process runs on one
// manual clock and one captured network. Nothing happens on its own;
// messages wait in flight until a command delivers (or drops) them, and
// timers fire only when a command advances the clock. All of it runs on
// the caller's goroutine, so a scenario is a function of its commands.
type World struct {
	t    testing.TB
	seed uint64
	now  time.Time

	// timers holds pending timers; seq orders timers due at the same
	// instant by creation.
	timers []*timer
	seq    uint64
	// queue holds the messages in flight, in send order.
	queue []*envelope
	codec *core.Codec

	procs map[core.Addr]*proc
	// blocked holds directed links whose messages are lost at send.
	blocked map[link]bool
	// traceGCS prints the messages to and from the GCS too.
	traceGCS bool

	// out collects what the current command prints.
	out strings.Builder

	names *names
	cl    *cluster
}

type link struct{ from, to core.Addr }

type envelope struct {
	from, to core.Addr
	m        core.Message
}

type timer struct {
	at      time.Time
	seq     uint64
	p       *proc
	inc     int
	f       func()
	stopped bool
}

// Stop implements core.Timer.
func (t *timer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

// proc is one process of the world. A crash ends its incarnation: its
// timers never fire, messages to it are lost until it starts again.
type proc struct {
	addr  core.Addr
	new   func() core.Process
	p     core.Process
	inc   int
	alive bool
	fs    vfs.FS
}

// start is the world's time zero.
var start = time.Unix(1_700_000_000, 0).UTC()

// stepsMax bounds the events one command may run: a component that
// keeps re-arming zero-delay timers or answering itself forever is a bug
// the scenario reports instead of hanging.
const stepsMax = 200_000

// New returns an empty world whose processes draw their randomness from
// seed.
func New(t testing.TB, seed uint64) *World {
	w := &World{t: t, seed: seed, now: start, codec: core.NewCodec(0), procs: map[core.Addr]*proc{}, blocked: map[link]bool{}, names: newNames()}
	w.cl = newCluster(w)
	return w
}

// Close stops every live process (closing the GCS's database).
func (w *World) Close() {
	for _, a := range w.sortedAddrs() {
		if p := w.procs[a]; p.alive {
			w.stop(p)
		}
	}
}

func (w *World) sortedAddrs() []core.Addr {
	addrs := make([]core.Addr, 0, len(w.procs))
	for a := range w.procs {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs
}

// printf adds a line to the current command's output.
func (w *World) printf(format string, args ...any) {
	fmt.Fprintf(&w.out, format, args...)
	w.out.WriteByte('\n')
}

// add registers a process at addr and starts it.
func (w *World) add(addr core.Addr, factory func() core.Process) *proc {
	if _, dup := w.procs[addr]; dup {
		w.t.Fatalf("scenario: a process %s exists already; pick another name", addr)
	}
	p := &proc{addr: addr, new: factory, fs: vfs.NewMem()}
	w.procs[addr] = p
	w.startProc(p)
	return p
}

// startProc starts a new incarnation of p.
func (w *World) startProc(p *proc) {
	p.inc++
	p.alive = true
	p.p = p.new()
	w.run(p, func() { p.p.Start(w.env(p)) })
}

// crash ends p's incarnation: its pending timers die with it.
func (w *World) crash(p *proc, why string) {
	if !p.alive {
		return
	}
	w.stop(p)
	w.printf("%s crashed: %s", p.addr, w.names.replace(why))
}

func (w *World) stop(p *proc) {
	p.alive = false
	if s, ok := p.p.(core.Stopper); ok {
		s.Stop()
	}
}

// run runs f on p's event loop: a core.FailStop panic is the process
// exiting (it crashes), any other panic a bug that fails the test.
func (w *World) run(p *proc, f func()) {
	defer func() {
		if r := recover(); r != nil {
			var fs core.FailStop
			if e, ok := r.(error); ok && errors.As(e, &fs) {
				w.crash(p, fs.Error())
				return
			}
			panic(r)
		}
	}()
	f()
}

func (w *World) env(p *proc) *env {
	h := fnv.New64a()
	h.Write([]byte(p.addr))
	return &env{w: w, p: p, inc: p.inc, rng: rand.New(rand.NewPCG(w.seed, h.Sum64()+uint64(p.inc)))}
}

// env is one process incarnation's core.Env.
type env struct {
	w   *World
	p   *proc
	inc int
	rng *rand.Rand
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func (e *env) Self() core.Addr   { return e.p.addr }
func (e *env) Now() time.Time    { return e.w.now }
func (e *env) Rand() *rand.Rand  { return e.rng }
func (e *env) FS() vfs.FS        { return e.p.fs }
func (e *env) Log() *slog.Logger { return discard }

// AfterFunc implements core.Env: f runs when a command advances the
// clock to it (or, for a zero delay, when the world next settles).
func (e *env) AfterFunc(d time.Duration, f func()) core.Timer {
	e.w.seq++
	t := &timer{at: e.w.now.Add(d), seq: e.w.seq, p: e.p, inc: e.inc, f: f}
	e.w.timers = append(e.w.timers, t)
	return t
}

// Send implements core.Env: m is encoded and decoded as on every real
// network, so that sender and receiver never share it, and waits in
// flight. Messages the codec does not know (results of Go work) travel
// as they are.
func (e *env) Send(to core.Addr, m core.Message) {
	if e.inc != e.p.inc || !e.p.alive {
		return // a dead incarnation's leftover callback
	}
	if b, err := e.w.codec.Encode(m); err == nil {
		d, err := e.w.codec.Decode(b)
		if err != nil {
			panic(fmt.Sprintf("scenario: %s does not decode after encoding: %v", core.MessageName(m.MsgType()), err))
		}
		m = d
	}
	e.w.names.noteSent(m)
	if e.w.blocked[link{e.p.addr, to}] {
		if e.w.visible(e.p.addr, to) {
			e.w.printf("%s -> %s %s (lost: link blocked)", e.p.addr, to, e.w.describe(m))
		}
		return
	}
	e.w.queue = append(e.w.queue, &envelope{from: e.p.addr, to: to, m: m})
}

// Go implements core.Env: work runs at once and its result is a message
// to self, in flight like any other.
func (e *env) Go(work func() core.Message) { e.Send(e.p.addr, work()) }

// Await implements core.Env. Only a process's Go work calls it, and no
// component the world runs does.
func (e *env) Await(context.Context, func(func())) error {
	panic("scenario: Await is not supported: the world runs no blocking bodies")
}

// Post implements core.Env; see Await.
func (e *env) Post(func()) bool {
	panic("scenario: Post is not supported: the world runs no blocking bodies")
}

// visible reports whether a message between from and to is printed.
func (w *World) visible(from, to core.Addr) bool {
	return w.traceGCS || (from != gcsAddr && to != gcsAddr)
}

// deliver hands e to its destination.
func (w *World) deliver(e *envelope) {
	p := w.procs[e.to]
	if w.visible(e.from, e.to) {
		suffix := ""
		if p == nil || !p.alive {
			suffix = fmt.Sprintf(" (lost: %s is down)", e.to)
		}
		w.printf("%s -> %s %s%s", e.from, e.to, w.describe(e.m), suffix)
	}
	if p == nil || !p.alive {
		return
	}
	w.run(p, func() { p.p.Receive(e.from, e.m) })
}

// nextTimer returns the earliest live timer, dropping dead ones.
func (w *World) nextTimer() *timer {
	live := w.timers[:0]
	for _, t := range w.timers {
		if !t.stopped && t.p.alive && t.p.inc == t.inc {
			live = append(live, t)
		}
	}
	clear(w.timers[len(live):])
	w.timers = live
	if len(live) == 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b *timer) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
	return live[0]
}

func (w *World) fire(t *timer) {
	t.stopped = true
	if t.at.After(w.now) {
		w.now = t.at
	}
	w.run(t.p, t.f)
}

// settle delivers every message in flight and fires every timer due now,
// until neither is left.
func (w *World) settle() {
	for step := 0; ; step++ {
		if step > stepsMax {
			w.t.Fatalf("scenario: the world did not settle within %d steps (a message or timer loop)", stepsMax)
		}
		if len(w.queue) > 0 {
			e := w.queue[0]
			w.queue = w.queue[1:]
			w.deliver(e)
			continue
		}
		if t := w.nextTimer(); t != nil && !t.at.After(w.now) {
			w.fire(t)
			continue
		}
		return
	}
}

// fireDue fires the timers due now, without delivering messages.
func (w *World) fireDue() {
	for step := 0; ; step++ {
		if step > stepsMax {
			w.t.Fatalf("scenario: timers due now kept re-arming for %d steps", stepsMax)
		}
		t := w.nextTimer()
		if t == nil || t.at.After(w.now) {
			return
		}
		w.fire(t)
	}
}

// advance moves the clock forward by d: it settles the world, fires the
// timers due until then in time order, settling after each, and ends
// settled at now+d.
func (w *World) advance(d time.Duration) {
	end := w.now.Add(d)
	w.settle()
	for {
		t := w.nextTimer()
		if t == nil || t.at.After(end) {
			break
		}
		w.fire(t)
		w.settle()
	}
	w.now = end
	w.settle()
}

// take removes from flight the messages match accepts, at most n (all
// when n <= 0), in send order.
func (w *World) take(match func(*envelope) bool, n int) []*envelope {
	var got []*envelope
	kept := w.queue[:0]
	for _, e := range w.queue {
		if match(e) && (n <= 0 || len(got) < n) {
			got = append(got, e)
			continue
		}
		kept = append(kept, e)
	}
	clear(w.queue[len(kept):])
	w.queue = kept
	return got
}
