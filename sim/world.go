package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/invariants"
)

// Epoch is virtual time zero. Times in traces are offsets from it.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// PRNG stream constants: each consumer of randomness gets its own stream
// derived from the seed, so that one consumer drawing more numbers (a new
// message, a new fault) does not shift every other decision of the run.
const (
	streamNetwork = 0x6e6574
	streamNemesis = 0x6e656d
	streamSwarm   = 0x737761
	streamProcess = 0x70726f
	streamDisk    = 0x6469736b
	streamShm     = 0x73686d
)

// Config describes one run. Given the same Config (and code version) a run
// is identical event for event.
type Config struct {
	Seed uint64
	// FaultSpec is the fault spec as the user gave it ("none", "swarm" or a
	// list); it is resolved per seed and printed in replay commands.
	FaultSpec string
	// FaultPhase is how long faults are injected; at its end every fault is
	// healed and the liveness phase begins. Default 10s.
	FaultPhase time.Duration
	// LivenessBound is how long after healing every pending operation has
	// to finish. Default 60s.
	LivenessBound time.Duration
	// EventsMax bounds the events of a run; reaching it fails the run (a
	// livelock, or a workload that never quiesces). Default 20 million.
	EventsMax int64
	// Trace receives the full text trace when non-nil.
	Trace io.Writer
	// Observer, when non-nil, receives every trace event as a structured
	// TraceEvent: sends, receipts, drops, timers, work results, crashes,
	// restarts, faults, actions, logs and the failure. It is called on the
	// world's goroutine in the middle of the run, so it must not block,
	// panic or touch the World; it cannot change the run (the hash is the
	// same with or without it). Nil costs nothing.
	Observer func(TraceEvent)
	// UntilEvent stops the run after that many events (for replay --until);
	// 0 runs to the end.
	UntilEvent int64
	// StepWallMax bounds the wall time of one step of Go work (user code
	// between two gray calls) before the run fails as a hang. Default
	// DefaultStepWallMax.
	StepWallMax time.Duration
	// ReplayArgs are extra CLI flags needed to reproduce the run (world
	// size, variant); they are appended to the replay command.
	ReplayArgs []string
	// Replay, when set, is the whole command that reproduces the run, for
	// runs that are not replayed with gray sim replay (package simtest's
	// go test command); it replaces the default.
	Replay string
}

// Defaults of Config.
const (
	DefaultFaultPhase    = 10 * time.Second
	DefaultLivenessBound = 60 * time.Second
)

func (c *Config) setDefaults() {
	if c.FaultPhase == 0 {
		c.FaultPhase = DefaultFaultPhase
	}
	if c.LivenessBound == 0 {
		c.LivenessBound = DefaultLivenessBound
	}
	if c.EventsMax == 0 {
		c.EventsMax = 20_000_000
	}
	if c.FaultSpec == "" {
		c.FaultSpec = "none"
	}
	if c.StepWallMax == 0 {
		c.StepWallMax = DefaultStepWallMax
	}
}

// ProcOptions says how the simulator may treat a process.
type ProcOptions struct {
	// Crashable processes are crashed and restarted by the crash fault.
	Crashable bool
	// Disk gives the process a crashable in-memory disk (pebble's MemFS).
	// Without it FS() is an empty in-memory FS that crashes erase.
	Disk bool
	// Host groups processes that share a machine (a raylet and its
	// workers). Links between them are reliable and fast, like local IPC:
	// partitions and clogs split hosts, never a host, and the crash fault
	// sometimes takes a whole host down at once (a node failure) rather
	// than one process. Empty means a host of its own.
	Host string
	// LosableDisk lets the disk_loss fault take the process's disk (a
	// replica of replicated storage, which must recover from its peers).
	LosableDisk bool
	// Parent is the process whose end ends this one too, as a worker
	// dies with its node's grayd (in-process workers with the process,
	// launched ones by the kernel's parent-death signal): when the
	// parent crashes or fail-stops, this process crashes at once, even
	// paused, and restarts later like any crashed process.
	Parent core.Addr
}

// proc is one simulated process: an address, a factory for fresh
// incarnations, and the state that survives crashes (its disk).
type proc struct {
	// spawned processes (Spawn) are not restarted: onExit hears of their
	// end instead, once, with why (the last crash's reason).
	spawned bool
	onExit  func(why string)
	exited  bool
	lastWhy string
	idx     int
	addr    core.Addr
	factory func() core.Process
	opts    ProcOptions
	p       core.Process
	env     *procEnv
	inc     uint32
	alive   bool
	// ends are when the last incarnations ended (crashed), newest last,
	// for Faults.SendHold.
	ends    []incEnd
	fs      *vfs.MemFS
	disk    *diskFaults
	drift   int64 // parts per million
	offset  time.Duration
	crashes int
	// pausedUntil is the end of the incarnation pausedInc's pause (the
	// pause fault): events due to it before then wait until then.
	pausedUntil int64
	pausedInc   uint32
	// disturbedUntil is the end of the last fault that touched the
	// process (see World.Disturbed).
	disturbedUntil int64
	// restore is the copy of the disk taken before a disk corruption at
	// rest: if the process refuses the damaged disk at its next start,
	// the operator restores it (guard).
	restore *vfs.MemFS
	// served is restore once a process with a losable disk (a replica of
	// replicated storage) started on the damaged disk without refusing
	// it: it may refuse it later, in this incarnation or after a crash,
	// once its peers could not do without it. Kept until it refuses, or
	// its disk is damaged again or lost.
	served *vfs.MemFS
	// shmList are the incarnation's holds on shared memory segments
	// (shm.go), shmHolds how many of them are open.
	shmList  []*shmHold
	shmHolds int
	// cos are the coroutines (Env.Go work) of the live incarnation that
	// have not ended, in the order they were started.
	cos []*coroutine
}

// World is one simulated cluster: processes, the network between them, a
// virtual clock and a single event queue. It runs on one goroutine; nothing
// in it reads the wall clock or global randomness.
type World struct {
	cfg Config
	wl  Workload
	// givenCfg is the Config as given, before defaults: a Budgeter's
	// budgets replace only the fields it left zero.
	givenCfg Config
	faults   Faults
	codec    *core.Codec
	// payloads are delivered large payloads kept for later sends
	// (payloads.go).
	payloads [][]byte

	now    int64 // virtual ns since Epoch
	seq    uint64
	queue  eventQueue
	procs  []*proc // in order of AddProcess
	byAddr map[core.Addr]*proc

	netRand *rand.Rand
	nemRand *rand.Rand
	net     network

	healed   bool
	failed   bool
	stopped  bool
	result   Result
	events   int64
	hash     uint64
	trace    io.Writer
	obs      func(TraceEvent)
	counters map[string]int64
	// msgs counts message copies sent; it names each copy for TraceEvent.MsgID.
	msgs uint64
	// attachments are the files the run offers for its report (Attach).
	attachments []Attachment

	// running is the coroutine that runs right now (nil while the world's
	// own goroutine runs); coroutines read it in Await and Post. coSeq
	// numbers coroutines; watchdog bounds one step (coroutine.go).
	running  atomic.Pointer[coroutine]
	coSeq    uint64
	watchdog *time.Timer
	// foreign holds the reason of the first gray call from a goroutine
	// the world does not run; it may be set from any goroutine.
	foreign atomic.Pointer[string]
	// shm is the hosts' shared memory segments (shm.go).
	shm simShm
	// evNote is the event being delivered, for invariant failures; it is
	// kept only in invariants builds (invariants.go).
	evNote evNote
}

// NewWorld creates an empty world for cfg. It fails only for a bad fault spec.
func NewWorld(cfg Config) (*World, error) {
	given := cfg
	cfg.setDefaults()
	f, err := ResolveFaults(cfg.FaultSpec, cfg.Seed)
	if err != nil {
		return nil, err
	}
	w := &World{
		cfg:      cfg,
		givenCfg: given,
		faults:   f,
		codec:    core.NewCodec(0),
		byAddr:   map[core.Addr]*proc{},
		netRand:  rand.New(rand.NewPCG(cfg.Seed, streamNetwork)),
		nemRand:  rand.New(rand.NewPCG(cfg.Seed, streamNemesis)),
		hash:     14695981039346656037 ^ cfg.Seed,
		trace:    cfg.Trace,
		obs:      cfg.Observer,
		counters: map[string]int64{},
	}
	w.net.init()
	return w, nil
}

// Faults returns the fault mix of this run.
func (w *World) Faults() Faults { return w.faults }

// Seed returns the run's seed.
func (w *World) Seed() uint64 { return w.cfg.Seed }

// Config returns the run's configuration (with defaults filled in).
func (w *World) Config() Config { return w.cfg }

// Rand returns a PRNG stream for the workload itself (choosing operations
// in harness code outside processes), derived from the seed and name.
func (w *World) Rand(name string) *rand.Rand {
	return rand.New(rand.NewPCG(w.cfg.Seed, hashString(name)))
}

// AddProcess adds a process at addr. factory returns a fresh incarnation; it
// is called at boot and after every crash. Processes start in the order they
// were added, at virtual time zero.
func (w *World) AddProcess(addr core.Addr, opts ProcOptions, factory func() core.Process) {
	if _, dup := w.byAddr[addr]; dup {
		panic(fmt.Sprintf("sim: process %q added twice", addr))
	}
	p := &proc{idx: len(w.procs), addr: addr, factory: factory, opts: opts, fs: vfs.NewCrashableMem()}
	p.disk = &diskFaults{}
	if d := int64(w.faults.DriftPPM); d > 0 {
		r := w.Rand("drift:" + string(addr))
		p.drift = r.Int64N(2*d+1) - d
		p.offset = time.Duration(r.Int64N(int64(2*time.Second))) - time.Second
	}
	w.procs = append(w.procs, p)
	w.byAddr[addr] = p
}

// Spawn adds a process while the world runs, as a host starts a worker
// process a raylet asked for: it starts after delay and, unlike the
// processes of AddProcess, is never restarted. When it crashes or
// fail-stops, onExit runs (a kernel action) with the reason, as the host
// reports a child's exit. The address must be new.
func (w *World) Spawn(addr core.Addr, opts ProcOptions, delay time.Duration, factory func() core.Process, onExit func(why string)) {
	w.AddProcess(addr, opts, factory)
	p := w.byAddr[addr]
	p.spawned, p.onExit = true, onExit
	w.push(event{at: w.now + int64(delay), kind: evAction, label: "spawn " + string(addr), action: func() {
		if !p.alive && !p.exited {
			w.start(p)
		}
	}})
}

// Do runs f on the live process at addr as an event of its own (its
// panics are the process's), as a host runs a callback on a process's
// loop. It does nothing if the process is down.
func (w *World) Do(addr core.Addr, label string, f func()) {
	p := w.byAddr[addr]
	if p == nil {
		return
	}
	inc := p.inc
	w.push(event{at: w.now, kind: evAction, label: label, action: func() {
		if p.alive && p.inc == inc {
			if invariants.Enabled {
				w.evNote = evNote{label: label}
			}
			w.guard(p, f)
		}
	}})
}

// Addrs returns the addresses of all processes in the order they were added.
func (w *World) Addrs() []core.Addr {
	out := make([]core.Addr, len(w.procs))
	for i, p := range w.procs {
		out[i] = p.addr
	}
	return out
}

// Process returns the live incarnation at addr, or nil if it is down. Tests
// and workload checks use it to inspect state; they must not mutate it.
func (w *World) Process(addr core.Addr) core.Process {
	if p := w.byAddr[addr]; p != nil && p.alive {
		return p.p
	}
	return nil
}

// Now returns the virtual time elapsed since the start of the run.
func (w *World) Now() time.Duration { return time.Duration(w.now) }

// Healed reports whether the fault phase is over.
func (w *World) Healed() bool { return w.healed }

// Fail ends the run as failed with kind (e.g. "invariant") and reason. The
// first failure wins.
func (w *World) Fail(kind, reason string) {
	if w.failed {
		return
	}
	w.failed = true
	w.result.Kind = kind
	w.result.Reason = reason
	w.tracef(nil, "FAIL", "%s: %s", kind, reason)
	if w.obs != nil {
		w.observe(nil, "fail", "", 0, kind, reason)
	}
}

// Sometimes counts that a named interesting path ran ("task retried after
// node death"). A campaign reports which named paths never ran.
func (w *World) Sometimes(name string) { w.counters[name]++ }

// Schedule runs f as a kernel action after d (used by workloads for harness
// steps that are not messages, e.g. starting a client's next operation).
func (w *World) Schedule(d time.Duration, label string, f func()) {
	w.push(event{at: w.now + int64(d), kind: evAction, action: f, label: label})
}

func (w *World) push(e event) {
	w.seq++
	e.seq = w.seq
	w.queue.push(e)
}

func (w *World) start(p *proc) {
	p.inc++
	p.alive = true
	if p.disturbedUntil == math.MaxInt64 {
		p.disturbedUntil = w.now
	}
	p.p = p.factory()
	p.env = &procEnv{w: w, p: p, inc: p.inc, rng: rand.New(rand.NewPCG(w.cfg.Seed^streamProcess, hashString(string(p.addr))+uint64(p.inc)))}
	w.tracef(p, "start", "incarnation %d", p.inc)
	if w.obs != nil {
		w.observe(p, "start", "", 0, "", fmt.Sprintf("incarnation %d", p.inc))
	}
	if invariants.Enabled {
		w.evNote = evNote{start: true, inc: p.inc}
	}
	w.guard(p, func() { p.p.Start(p.env) })
	if p.restore != nil && p.alive && p.env.inc == p.inc {
		// It serves from a disk damaged at rest; the workload's checks
		// decide whether it lost anything it acknowledged.
		w.Sometimes("disk corruption served")
		if p.opts.LosableDisk {
			p.served = p.restore
		}
		p.restore = nil
	}
}

// Crash crashes the process at addr now, as the crash fault does, and
// restarts it after a short random delay. Tests and workloads use it to
// script crashes at chosen points; it is a no-op for a process that is down.
func (w *World) Crash(addr core.Addr, why string) {
	p := w.byAddr[addr]
	if p == nil || !p.alive {
		return
	}
	w.crash(p, why)
	w.scheduleRestart(p)
}

// crash discards p's memory, its timers and the messages in flight to it,
// and resets its disk to what was synced (plus, optionally, a random share
// of unsynced data). The clone is taken before the old incarnation is
// stopped, so nothing the old one writes while closing survives.
func (w *World) crash(p *proc, why string) {
	if !p.alive {
		return
	}
	p.alive = false
	p.crashes++
	p.lastWhy = why
	if len(p.ends) == incEndsKept {
		p.ends = append(p.ends[:0], p.ends[1:]...)
	}
	p.ends = append(p.ends, incEnd{inc: p.inc, at: w.now})
	p.disturbedUntil = math.MaxInt64 // until it starts again
	w.tracef(p, "crash", "%s", why)
	if w.obs != nil {
		w.observe(p, "crash", "", 0, "", why)
	}
	keep := w.faults.UnsyncedKeepPct
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: keep}
	if keep > 0 {
		cfg.RNG = rand.New(rand.NewPCG(w.cfg.Seed^streamDisk, uint64(p.idx)<<32|uint64(p.crashes)))
	}
	clone := p.fs.CrashClone(cfg)
	p.disk.set(false)
	w.stopProc(p)
	w.releaseShm(p)
	w.unwind(p)
	p.fs = clone
	p.p = nil
	for _, q := range w.procs {
		if q.opts.Parent == p.addr && q.alive {
			w.crash(q, fmt.Sprintf("its parent %s died", p.addr))
			w.scheduleRestart(q)
		}
	}
}

func (w *World) stopProc(p *proc) {
	if s, ok := p.p.(core.Stopper); ok {
		func() {
			defer func() { _ = recover() }() // a broken incarnation must not break the crash
			s.Stop()
		}()
	}
}

// guard runs f (a callback into p) and turns a panic into either a
// fail-stop crash (core.FailStop) or a failed run.
func (w *World) guard(p *proc, f func()) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		stack := shortStack()
		if re, ok := r.(rethrown); ok { // a coroutine's panic (coroutine.go)
			r, stack = re.val, string(re.stack)
		}
		if fs, ok := r.(core.FailStop); ok && errors.Is(fs, core.ErrUnrecoverable) && p.restore == nil && p.served != nil {
			p.restore, p.served = p.served, nil // refused later
		}
		if fs, ok := r.(core.FailStop); ok && errors.Is(fs, core.ErrUnrecoverable) && p.restore != nil {
			// It refused the disk damaged at rest: right. The operator
			// restores the backup taken before the damage and restarts it.
			w.Sometimes("disk corruption refused")
			w.tracef(p, "refuse", "%v; the operator restores the disk as it was before the damage", fs)
			p.alive = false
			w.stopProc(p)
			w.releaseShm(p)
			w.unwind(p)
			p.fs, p.restore, p.p = p.restore, nil, nil
			p.disturbedUntil = math.MaxInt64
			w.scheduleRestart(p)
			return
		}
		if fs, ok := r.(core.FailStop); ok && errors.Is(fs, core.ErrUnrecoverable) {
			// Nothing in a simulated run may need an operator: a process
			// that refuses to go on (say, storage that lost acknowledged
			// writes) is a failure of the run.
			w.Fail("unrecoverable", fmt.Sprintf("%s stopped for good: %v", p.addr, fs))
			w.crash(p, fs.Error())
			return
		}
		if fs, ok := r.(core.FailStop); ok {
			w.Sometimes("process fail-stop")
			w.crash(p, fs.Error())
			w.scheduleRestart(p)
			return
		}
		if fs, ok := r.(*core.FailStop); ok {
			w.Sometimes("process fail-stop")
			w.crash(p, fs.Error())
			w.scheduleRestart(p)
			return
		}
		w.Fail("panic", fmt.Sprintf("panic in %s: %v\n%s", p.addr, r, stack))
	}()
	f()
	w.checkShmEvent(p)
	p.compactShm()
	if invariants.Enabled {
		w.checkInvariants(p)
	}
}

func (w *World) scheduleRestart(p *proc) {
	if p.spawned {
		if p.exited {
			return
		}
		p.exited = true
		why := p.lastWhy
		w.push(event{at: w.now, kind: evAction, label: "exit " + string(p.addr), action: func() { p.onExit(why) }})
		return
	}
	d := time.Duration(100+w.nemRand.IntN(2000)) * time.Millisecond
	if w.healed {
		d = 10 * time.Millisecond
	}
	w.push(event{at: w.now + int64(d), kind: evAction, label: "restart " + string(p.addr), action: func() {
		if !p.alive {
			w.start(p)
		}
	}})
}

// Workload is a simulated system under test plus its checks.
type Workload interface {
	// Setup adds the processes to w and may schedule harness actions.
	Setup(w *World) error
	// Done reports whether every pending operation has finished; it is
	// asked after each event once the world is healed.
	Done() bool
	// Pending describes what is still unfinished, for a liveness failure.
	Pending() string
	// Check runs the end-of-run checks (invariants, linearizability) and
	// returns the failure kind and reason, or "" when all hold.
	Check(w *World) (kind, reason string)
}

// Budgeter is implemented by workloads whose runs need larger budgets
// than Config's defaults (a 1,000-node scale run has far more than 20
// million events, and its waves of work may take more than a minute of
// simulated time after healing). Budgets returns the events and the
// liveness bound the run needs; each replaces the default only where the
// Config left it zero, so a test's explicit bound still holds.
type Budgeter interface {
	Budgets() (eventsMax int64, livenessBound time.Duration)
}

// Run executes wl in a new world for cfg and returns the result.
func Run(cfg Config, wl Workload, name string) Result {
	w, err := NewWorld(cfg)
	if err != nil {
		return Result{Workload: name, Seed: cfg.Seed, Kind: "config", Reason: err.Error()}
	}
	return w.Run(wl, name)
}

// Run sets up wl, boots every process, injects faults until the end of the
// fault phase, heals, and runs until wl is done, a check fails or a budget
// runs out. Every process is stopped before it returns.
func (w *World) Run(wl Workload, name string) Result {
	w.result = Result{Workload: name, Seed: w.cfg.Seed, FaultSpec: w.cfg.FaultSpec, Faults: w.faults.String(), ReplayArgs: w.cfg.ReplayArgs, Replay: w.cfg.Replay}
	defer w.shutdown()
	w.wl = wl
	if err := wl.Setup(w); err != nil {
		w.Fail("setup", err.Error())
		return w.finish()
	}
	if b, ok := wl.(Budgeter); ok {
		events, live := b.Budgets()
		if w.givenCfg.EventsMax == 0 && events > 0 {
			w.cfg.EventsMax = events
		}
		if w.givenCfg.LivenessBound == 0 && live > 0 {
			w.cfg.LivenessBound = live
		}
	}
	for _, p := range w.procs {
		w.start(p)
	}
	w.scheduleNemesis()
	healAt := int64(w.cfg.FaultPhase)
	w.push(event{at: healAt, kind: evAction, label: "heal", action: w.heal})
	deadline := healAt + int64(w.cfg.LivenessBound)
	for !w.failed && !w.stopped {
		if w.healed && wl.Done() {
			break
		}
		if w.queue.Len() == 0 {
			w.Fail("liveness", "no events left but operations pending: "+wl.Pending())
			break
		}
		e := w.queue.pop()
		if e.at > deadline {
			w.Fail("liveness", fmt.Sprintf("not done %v after healing: %s", w.cfg.LivenessBound, wl.Pending()))
			break
		}
		if e.at > w.now {
			w.now = e.at
		}
		w.dispatch(&e)
		if p := e.dst; p != nil && p.alive && len(p.cos) > 0 {
			w.checkCancelled(p)
		}
		if f := w.foreign.Load(); f != nil {
			w.Fail("determinism", *f)
		}
		if w.events >= w.cfg.EventsMax {
			w.Fail("budget", fmt.Sprintf("event budget of %d exhausted (livelock?): %s", w.cfg.EventsMax, wl.Pending()))
		}
		if w.cfg.UntilEvent > 0 && w.events >= w.cfg.UntilEvent {
			w.stopped = true
		}
	}
	if !w.failed && !w.stopped {
		if kind, reason := wl.Check(w); kind != "" {
			w.Fail(kind, reason)
		}
	}
	return w.finish()
}

// Describer is implemented by processes that can print their state for
// `gray sim replay --until`: tables, queues, store contents.
type Describer interface {
	Describe() string
}

// ProcState is one process's state when a run stopped early.
type ProcState struct {
	Addr  core.Addr `json:"addr"`
	Alive bool      `json:"alive"`
	State string    `json:"state"`
}

func (w *World) finish() Result {
	r := w.result
	if w.stopped {
		for _, p := range w.procs {
			st := ProcState{Addr: p.addr, Alive: p.alive}
			if d, ok := p.p.(Describer); ok && p.alive {
				st.State = d.Describe()
			}
			r.States = append(r.States, st)
		}
	}
	r.Passed = !w.failed
	if w.failed {
		// Only failing runs keep their attachments: a campaign holds
		// every Result, and passing runs' files are never looked at.
		r.Attachments = w.attachments
	}
	r.Stopped = w.stopped
	r.Hash = w.hash
	r.Events = w.events
	r.SimTime = time.Duration(w.now)
	r.Messages, r.Dropped = w.net.sent, w.net.dropped
	names := make([]string, 0, len(w.counters))
	for k := range w.counters { //gray:unordered sorted right after the loop
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		r.Sometimes = append(r.Sometimes, Counter{Name: k, Count: w.counters[k]})
	}
	return r
}

// shutdown stops every live incarnation so that resources such as pebble
// databases and their goroutines do not outlive the run.
func (w *World) shutdown() {
	for _, p := range w.procs {
		if p.alive {
			p.alive = false
			w.stopProc(p)
			w.unwind(p)
		}
	}
	if w.watchdog != nil {
		w.watchdog.Stop()
	}
}

// dispatch runs one event. Each dispatched event is counted, hashed and
// (when tracing) printed; stale events of crashed incarnations are dropped
// without counting so that they cannot influence anything.
func (w *World) dispatch(e *event) {
	p := e.dst
	if e.late && p != nil && p.alive {
		e.inc = p.inc
	}
	if p != nil && (!p.alive || p.inc != e.inc) {
		if w.obs != nil && e.kind == evDeliver {
			// Not an event of the run (it is not counted), but the end
			// of the message's story.
			w.observe(p, "drop", e.src, e.id, w.messageName(e.payload), "receiver down")
		}
		return
	}
	if p != nil && p.pausedUntil > w.now && p.pausedInc == e.inc {
		// Paused: the event waits for the end of the pause, behind what
		// became due before it (re-queued in the order they pop).
		held := *e
		held.at = p.pausedUntil
		w.push(held)
		return
	}
	switch e.kind {
	case evDeliver:
		if !w.net.deliverable(w, e) {
			return
		}
		m, err := w.codec.Decode(e.payload)
		w.record(p, e.kind, e.src, digestBytes(e.payload))
		w.recycle(e)
		if err != nil {
			w.Fail("codec", fmt.Sprintf("%s could not decode a message from %s: %v", p.addr, e.src, err))
			return
		}
		if w.trace != nil {
			w.tracef(p, "recv", "from %s %s %+v", e.src, core.MessageName(m.MsgType()), m)
		}
		if w.obs != nil {
			w.observe(p, "recv", e.src, e.id, core.MessageName(m.MsgType()), fmt.Sprintf("%+v", m))
		}
		if invariants.Enabled {
			w.evNote = evNote{kind: evDeliver, src: e.src, msg: m}
		}
		w.guard(p, func() { p.p.Receive(e.src, m) })
	case evTimer:
		t := e.timer
		if t.state != timerPending {
			return
		}
		t.state = timerFired
		w.record(p, e.kind, "", uint64(t.id))
		w.tracef(p, "timer", "#%d", t.id)
		if w.obs != nil {
			w.observe(p, "timer", "", 0, "", fmt.Sprintf("#%d", t.id))
		}
		if invariants.Enabled {
			w.evNote = evNote{kind: evTimer, timer: uint64(t.id)}
		}
		w.guard(p, t.f)
	case evWork:
		w.record(p, e.kind, "", uint64(e.msg.MsgType()))
		if w.trace != nil {
			w.tracef(p, "work", "%s %+v", core.MessageName(e.msg.MsgType()), e.msg)
		}
		if w.obs != nil {
			w.observe(p, "work", "", 0, core.MessageName(e.msg.MsgType()), fmt.Sprintf("%+v", e.msg))
		}
		if invariants.Enabled {
			w.evNote = evNote{kind: evWork, msg: e.msg}
		}
		w.guard(p, func() { p.p.Receive(p.addr, e.msg) })
	case evStart, evResume:
		c := e.co
		if c.done || (e.kind == evResume && !c.woken) {
			return
		}
		w.record(p, e.kind, "", c.id)
		if w.tracing() {
			w.tracef(p, e.kind.String(), "%s", c.label())
			if w.obs != nil {
				w.observe(p, e.kind.String(), "", 0, "", c.label())
			}
		}
		if invariants.Enabled {
			w.evNote = evNote{kind: e.kind, co: c}
		}
		err := c.resumeErr
		c.resumeErr = nil
		w.step(c, err)
	case evCall:
		w.record(p, e.kind, "", 0)
		w.tracef(p, "call", "")
		if invariants.Enabled {
			w.evNote = evNote{kind: evCall}
		}
		w.guard(p, e.action)
	case evAction:
		w.record(nil, e.kind, "", hashString(e.label))
		w.tracef(nil, "action", "%s", e.label)
		if w.obs != nil {
			w.observe(nil, "action", "", 0, "", e.label)
		}
		e.action()
	}
}

func (w *World) heal() {
	w.healed = true
	if w.obs != nil {
		w.observe(nil, "heal", "", 0, "all", "end of the fault phase")
	}
	w.net.healAll()
	for _, p := range w.procs {
		p.disk.set(false)
		if !p.alive && !p.spawned {
			w.start(p)
		}
	}
}

func (w *World) tracef(p *proc, kind, format string, args ...any) {
	if w.trace == nil {
		return
	}
	who := "-"
	if p != nil {
		who = string(p.addr)
	}
	fmt.Fprintf(w.trace, "%8d %14s %-10s %-6s %s\n", w.events, time.Duration(w.now), who, kind, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// record folds one event into the running trace hash.
func (w *World) record(p *proc, k eventKind, src core.Addr, digest uint64) {
	w.events++
	idx := uint64(1 << 20)
	if p != nil {
		idx = uint64(p.idx)
	}
	h := w.hash
	h = mix64(h ^ uint64(w.now))
	h = mix64(h ^ idx<<8 ^ uint64(k))
	h = mix64(h ^ digest ^ hashString(string(src)))
	w.hash = h
}

// incEnd is when incarnation inc of a process ended.
type incEnd struct {
	inc uint32
	at  int64
}

// incEndsKept bounds proc.ends: a message of an older incarnation is
// taken to have left.
const incEndsKept = 4

// endedBefore reports whether incarnation inc of p ended (crashed)
// before t.
func (p *proc) endedBefore(inc uint32, t int64) bool {
	if inc == p.inc && p.alive {
		return false
	}
	for _, e := range p.ends {
		if e.inc == inc {
			return e.at < t
		}
	}
	return false // older than those kept: it left long before
}
