package net

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// TestHostOrderAndSerial checks that one sender's messages arrive in the
// order sent and that a process's callbacks (messages, timers, Go results,
// Do calls) never overlap, even though timers and work run elsewhere.
func TestHostOrderAndSerial(t *testing.T) {
	noLeaks(t)
	const n = 2000
	h := NewHost(HostOptions{})
	defer h.Close()

	var busy atomic.Int32
	overlap := make(chan string, 1)
	enter := func(what string) func() {
		if busy.Add(1) != 1 {
			select {
			case overlap <- what:
			default:
			}
		}
		return func() { busy.Add(-1) }
	}
	done := make(chan error, 1)
	var next uint64
	recvP := &fproc{}
	recvP.receive = func(from core.Addr, m core.Message) {
		defer enter("receive")()
		pg, ok := m.(*ping)
		if !ok {
			return // a Go result (pong)
		}
		if pg.Seq != next {
			done <- errors.New("out of order")
			return
		}
		next++
		// Interleave every other kind of callback with the messages.
		recvP.env.AfterFunc(0, func() { defer enter("timer")() })
		recvP.env.Go(func() core.Message { return &pong{Seq: pg.Seq} })
		if next == n {
			done <- nil
		}
	}
	raddr, err := h.Add("receiver", recvP)
	if err != nil {
		t.Fatal(err)
	}
	sender := &fproc{start: func(env core.Env) {
		for i := range uint64(n) {
			env.Send(raddr, &ping{Seq: i})
		}
	}}
	if _, err := h.Add("sender", sender); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := h.Do(raddr, func() { defer enter("do")() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := recv(t, done, "all pings"); err != nil {
		t.Fatalf("receiver: %v (got %d in order)", err, next)
	}
	select {
	case what := <-overlap:
		t.Fatalf("a %s callback overlapped another callback", what)
	default:
	}
}

// TestHostTimers checks AfterFunc and Stop: stopped timers never run, even
// when stopped after firing was already posted; no timer fires early.
func TestHostTimers(t *testing.T) {
	noLeaks(t)
	h := NewHost(HostOptions{})
	defer h.Close()

	fired := make(chan string, 10)
	type check struct {
		name string
		ok   bool
	}
	checks := make(chan check, 10)
	p := &fproc{}
	p.start = func(env core.Env) {
		t0 := env.Now()
		var ta core.Timer
		ta = env.AfterFunc(20*time.Millisecond, func() {
			checks <- check{"a fires after at least 20ms", env.Now().Sub(t0) >= 20*time.Millisecond}
			checks <- check{"Stop of a fired timer reports false", !ta.Stop()}
			fired <- "a"
		})
		tb := env.AfterFunc(10*time.Millisecond, func() { fired <- "b" })
		checks <- check{"Stop of a pending timer reports true", tb.Stop()}
		checks <- check{"second Stop reports false", !tb.Stop()}
		// Posted to the mailbox at once, then stopped before it runs.
		tc := env.AfterFunc(0, func() { fired <- "c" })
		checks <- check{"Stop of a posted timer reports true", tc.Stop()}
		env.AfterFunc(0, func() { fired <- "d" })
	}
	addr, err := h.Add("timers", p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		got = append(got, recv(t, fired, "timers"))
	}
	if got[0] != "d" || got[1] != "a" {
		t.Errorf("timers fired %v, want [d a]", got)
	}
	// Flush the loop once more after b's deadline has passed.
	flushed := make(chan struct{})
	if err := h.Do(addr, func() { close(flushed) }); err != nil {
		t.Fatal(err)
	}
	recv(t, flushed, "flush")
	close(fired)
	for f := range fired {
		t.Errorf("stopped timer %s fired", f)
	}
	close(checks)
	for c := range checks {
		if !c.ok {
			t.Errorf("%s: false", c.name)
		}
	}
}

// TestHostGo checks that Go work runs off the loop and that its result
// arrives as a message from the process itself.
func TestHostGo(t *testing.T) {
	noLeaks(t)
	h := NewHost(HostOptions{})
	defer h.Close()

	release := make(chan struct{})
	results := make(chan core.Addr, 1)
	p := &fproc{}
	p.start = func(env core.Env) {
		env.Go(func() core.Message {
			<-release // blocks the work, not the loop
			return &pong{Seq: 7}
		})
	}
	p.receive = func(from core.Addr, m core.Message) {
		if pg, ok := m.(*pong); ok && pg.Seq == 7 {
			results <- from
		}
	}
	addr, err := h.Add("worker", p)
	if err != nil {
		t.Fatal(err)
	}
	// The loop is free while the work is blocked.
	loopFree := make(chan struct{})
	if err := h.Do(addr, func() { close(loopFree) }); err != nil {
		t.Fatal(err)
	}
	recv(t, loopFree, "a Do call while Go work is blocked")
	close(release)
	if from := recv(t, results, "the Go result"); from != addr {
		t.Errorf("Go result from %q, want %q (Self)", from, addr)
	}
}

type exit struct {
	addr core.Addr
	err  error
}

// TestHostFailStop checks that a fail-stop stops the process (Stop runs,
// its timers never run), reports it through OnExit, frees its name, and
// that the process can be added again and finds its synced data.
func TestHostFailStop(t *testing.T) {
	noLeaks(t)
	exits := make(chan exit, 1)
	logger, _ := testLogger(t)
	h := NewHost(HostOptions{Logger: logger, OnExit: func(a core.Addr, err error) { exits <- exit{a, err} }})
	defer h.Close()

	stopped := make(chan struct{})
	timerRan := make(chan struct{}, 1)
	p := &fproc{stop: func() { close(stopped) }}
	p.start = func(env core.Env) {
		f, err := env.FS().Create("state", vfs.WriteCategoryUnspecified)
		if err != nil {
			panic(err)
		}
		_, _ = f.Write([]byte("synced"))
		if err := f.Sync(); err != nil {
			panic(err)
		}
		_ = f.Close()
	}
	var tm core.Timer
	p.receive = func(core.Addr, core.Message) {
		// A timer set by the callback that fail-stops can never run.
		tm = p.env.AfterFunc(time.Millisecond, func() { timerRan <- struct{}{} })
		panic(core.FailStop{Reason: "disk on fire", Err: os.ErrClosed})
	}
	addr, err := h.Add("store", p)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Do(addr, func() { p.Receive("", &ping{}) }); err != nil {
		t.Fatal(err)
	}
	e := recv(t, exits, "OnExit")
	var fs core.FailStop
	if e.addr != addr || !errors.As(e.err, &fs) || fs.Reason != "disk on fire" || !errors.Is(e.err, os.ErrClosed) {
		t.Fatalf("OnExit(%q, %v), want %q and a FailStop wrapping os.ErrClosed", e.addr, e.err, addr)
	}
	recv(t, stopped, "Stopper.Stop")
	if err := h.Do(addr, func() {}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Do on an exited process = %v, want ErrNoProcess", err)
	}
	if st := h.Stats(); st.Exits != 1 || st.Processes != 0 {
		t.Errorf("Stats() = %+v, want Exits 1, Processes 0", st)
	}

	// Restart in place: same name, same in-memory disk.
	got := make(chan string, 1)
	p2 := &fproc{start: func(env core.Env) {
		f, err := env.FS().Open("state")
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b := make([]byte, 16)
		n, _ := f.Read(b)
		got <- string(b[:n])
	}}
	if _, err := h.Add("store", p2); err != nil {
		t.Fatalf("Add after exit: %v", err)
	}
	if s := recv(t, got, "restarted process"); s != "synced" {
		t.Errorf("restarted process read %q, want %q", s, "synced")
	}
	// The first incarnation's timer was cancelled when it exited: the
	// loop runs a timer only if it is still pending when it fires, so it
	// can never run, however late its time.Timer goes off.
	if st := tm.(*timer).state.Load(); st != timerStopped {
		t.Errorf("the fail-stopped process's timer is in state %d, want stopped (%d)", st, timerStopped)
	}
	select {
	case <-timerRan:
		t.Error("a timer of a fail-stopped process ran")
	default:
	}
}

// TestHostPanicIsolated checks that a panic anywhere in a process's
// callbacks stops only that process, reported as a *PanicError with a
// stack, while the other processes keep working.
func TestHostPanicIsolated(t *testing.T) {
	noLeaks(t)
	exits := make(chan exit, 10)
	logger, _ := testLogger(t)
	h := NewHost(HostOptions{Logger: logger, OnExit: func(a core.Addr, err error) { exits <- exit{a, err} }})
	defer h.Close()
	echo, err := h.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]func(env core.Env){
		"start": func(core.Env) { panic("in start") },
		"timer": func(env core.Env) { env.AfterFunc(0, func() { panic("in timer") }) },
		"go":    func(env core.Env) { env.Go(func() core.Message { panic("in go") }) },
		"nil":   func(env core.Env) { env.Go(func() core.Message { return nil }) },
		"recv":  func(env core.Env) { env.Send(env.Self(), &ping{}) },
	}
	for name, start := range cases {
		p := &fproc{start: start, receive: func(core.Addr, core.Message) { panic("in receive") }}
		addr, err := h.Add("bad-"+name, p)
		if err != nil {
			t.Fatal(err)
		}
		e := recv(t, exits, "OnExit of bad-"+name)
		if name == "nil" && !errors.Is(e.err, errNilResult) {
			t.Errorf("nil: OnExit(%q, %v), want errNilResult", e.addr, e.err)
		}
		var pe *PanicError
		if e.addr != addr || !errors.As(e.err, &pe) || (name != "nil" && len(pe.Stack) == 0) {
			t.Errorf("%s: OnExit(%q, %v), want %q and a *PanicError with a stack", name, e.addr, e.err, addr)
		}
	}

	// The echo process is unaffected.
	answers := make(chan uint64, 1)
	c := &fproc{
		start:   func(env core.Env) { env.Send(echo, &ping{Seq: 42}) },
		receive: func(_ core.Addr, m core.Message) { answers <- m.(*pong).Seq },
	}
	if _, err := h.Add("client", c); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, answers, "echo answer"); got != 42 {
		t.Errorf("echo answered %d, want 42", got)
	}
}

// TestHostClose checks that Close stops every process (Stop runs), stops
// their timers, waits for Go work, and leaves no goroutine behind.
func TestHostClose(t *testing.T) {
	noLeaks(t)
	h := NewHost(HostOptions{})
	var stops atomic.Int32
	workStarted := make(chan struct{}, 3)
	for _, name := range []string{"a", "b", "c"} {
		release := make(chan struct{})
		p := &fproc{stop: func() { stops.Add(1); close(release) }}
		p.start = func(env core.Env) {
			env.AfterFunc(time.Hour, func() { panic("timer of a closed host ran") })
			env.Go(func() core.Message {
				workStarted <- struct{}{}
				<-release // returns once the process is stopped
				return &pong{}
			})
		}
		if _, err := h.Add(name, p); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		recv(t, workStarted, "work")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if n := stops.Load(); n != 3 {
		t.Errorf("Stop ran %d times, want 3", n)
	}
	if _, err := h.Add("late", &fproc{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if err := h.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

// TestHostStop checks stopping one process: its name is freed, messages
// to it are dropped, the others carry on.
func TestHostStop(t *testing.T) {
	noLeaks(t)
	h := NewHost(HostOptions{})
	defer h.Close()
	stopped := make(chan struct{})
	addr, err := h.Add("victim", &fproc{stop: func() { close(stopped) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(addr); err != nil {
		t.Fatal(err)
	}
	recv(t, stopped, "Stop")
	if err := h.Stop(addr); !errors.Is(err, ErrNoProcess) {
		t.Errorf("second Stop = %v, want ErrNoProcess", err)
	}
	if _, err := h.Add("victim", &fproc{}); err != nil {
		t.Errorf("Add of a stopped name: %v", err)
	}
	if _, err := h.Add("victim", &fproc{}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("Add of a running name = %v, want ErrNameTaken", err)
	}
	if _, err := h.Add("bad/name", &fproc{}); !errors.Is(err, ErrBadName) {
		t.Errorf("Add of an invalid name = %v, want ErrBadName", err)
	}
}

// TestHostMailboxBound checks that a full mailbox drops messages (and
// counts them) but never drops Do calls or timers.
func TestHostMailboxBound(t *testing.T) {
	noLeaks(t)
	const limit, n = 10, 100
	logger, logs := testLogger(t)
	h := NewHost(HostOptions{MailboxMessages: limit, Logger: logger})
	defer h.Close()

	block := make(chan struct{})
	blocked := make(chan struct{})
	var got atomic.Int32
	var first atomic.Bool
	r := &fproc{receive: func(core.Addr, core.Message) {
		if first.CompareAndSwap(false, true) {
			close(blocked)
			<-block
		}
		got.Add(1)
	}}
	raddr, err := h.Add("slow", r)
	if err != nil {
		t.Fatal(err)
	}
	s := &fproc{}
	saddr, err := h.Add("fast", s)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Do(saddr, func() { s.env.Send(raddr, &ping{}) }); err != nil {
		t.Fatal(err)
	}
	recv(t, blocked, "the receiver to block")
	sent := make(chan struct{})
	if err := h.Do(saddr, func() {
		for range n - 1 {
			s.env.Send(raddr, &ping{})
		}
		close(sent)
	}); err != nil {
		t.Fatal(err)
	}
	recv(t, sent, "the sends")
	// The mailbox is full now, yet Do calls and timers get through.
	flushed := make(chan struct{})
	if err := h.Do(raddr, func() { r.env.AfterFunc(0, func() { close(flushed) }) }); err != nil {
		t.Fatal(err)
	}
	close(block)
	recv(t, flushed, "a timer posted to a full mailbox")
	st := h.Stats()
	if st.MailboxDrops == 0 || int(got.Load())+int(st.MailboxDrops) != n || got.Load() > limit+1 {
		t.Errorf("delivered %d, dropped %d of %d with a mailbox of %d", got.Load(), st.MailboxDrops, n, limit)
	}
	if !logs.contains("mailbox full") {
		t.Error("no log record about the full mailbox")
	}
}

// TestHostCodecErrors checks that a message that does not encode is
// dropped at the sender and one that does not decode at the receiver,
// both counted and logged, neither crashing anything.
func TestHostCodecErrors(t *testing.T) {
	noLeaks(t)
	logger, logs := testLogger(t)
	mem := NewMem()
	h := NewHost(HostOptions{Transport: mem, Logger: logger, MessageSizeMax: 1024})
	defer h.Close()
	echo, err := h.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	s := &fproc{}
	saddr, err := h.Add("sender", s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	if err := h.Do(saddr, func() {
		s.env.Send(echo, unregistered{})
		s.env.Send(echo, &ping{Payload: make([]byte, 2000)}) // over the limit
		close(done)
	}); err != nil {
		t.Fatal(err)
	}
	recv(t, done, "sends")
	mem.Send("mallory", echo, []byte("not a message"))
	st := h.Stats()
	if st.EncodeErrors != 2 || st.DecodeErrors != 1 || st.Delivered != 0 {
		t.Errorf("Stats() = %+v, want EncodeErrors 2, DecodeErrors 1, Delivered 0", st)
	}
	if !logs.contains("does not encode") || !logs.contains("does not decode") || !logs.contains("mallory") {
		t.Errorf("missing codec error records in the log:\n%s", logs)
	}
}

type unregistered struct{}

func (unregistered) MsgType() core.MsgType { return 65099 }

// TestHostDataDir checks that Env.FS is rooted at DataDir/<name> and that
// no path escapes it.
func TestHostDataDir(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	h := NewHost(HostOptions{DataDir: dir})
	defer h.Close()
	errs := make(chan error, 1)
	p := &fproc{start: func(env core.Env) {
		fs := env.FS()
		err := fs.MkdirAll("sub", 0o755)
		for _, name := range []string{"sub/file", "/abs", "../../escape"} {
			if err != nil {
				break
			}
			var f vfs.File
			if f, err = fs.Create(name, vfs.WriteCategoryUnspecified); err == nil {
				err = f.Close()
			}
		}
		if err == nil {
			var names []string
			names, err = fs.List("/")
			if err == nil && len(names) != 3 {
				err = errors.New("List(/) does not show the three entries")
			}
		}
		errs <- err
	}}
	if _, err := h.Add("disk", p); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs, "process"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"disk/sub/file", "disk/abs", "disk/escape"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
}
