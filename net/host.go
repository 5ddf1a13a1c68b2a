package net

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// Mailbox bounds. A mailbox holds the messages that arrived for a process
// and that it has not started handling. Like a lossy network, a full
// mailbox drops further messages (counted in HostStats.MailboxDrops and
// logged at most once a second per process); components already retry
// what matters. Timer callbacks, results of Env.Go and Host.Do calls are
// never dropped: they are bounded by what the process itself schedules.
const (
	// DefaultMailboxMessages bounds the messages waiting in one mailbox.
	DefaultMailboxMessages = 8192
	// DefaultMailboxBytes bounds the encoded size of the messages
	// waiting in one mailbox, so that a few huge messages cannot exhaust
	// memory either. It is always raised to at least the largest message.
	DefaultMailboxBytes = 256 << 20
)

// HostOptions configure a Host. Zero fields take the defaults.
type HostOptions struct {
	// Transport carries messages between processes. Nil gives the host
	// an in-memory transport of its own (NewMem), which suits a cluster
	// embedded in one program.
	Transport Transport
	// DataDir, when set, is the parent of the processes' data dirs: the
	// process named n sees DataDir/n (created 0700) as the root of
	// Env.FS, on the real disk. Empty gives each process an in-memory FS
	// instead; the host keeps it for the name, so a process added again
	// under the same name (a restart in place) finds what it synced.
	DataDir string
	// Logger receives the host's records and is the parent of every
	// process's Env.Log (which adds the attribute proc=<address>).
	// Default slog.Default().
	Logger *slog.Logger
	// MailboxMessages and MailboxBytes bound each mailbox; defaults
	// DefaultMailboxMessages and DefaultMailboxBytes.
	MailboxMessages int
	MailboxBytes    int
	// MessageSizeMax bounds one encoded message, sent or received.
	// Default core.DefaultMessageSizeMax.
	MessageSizeMax int
	// OnExit, when set, is called once for each process that stopped on
	// its own: err is a core.FailStop for a fail-stop, a *PanicError for
	// any other panic in its callbacks (Start, Receive, timers, Env.Go
	// work, Stopper.Stop). It is not called for processes stopped by
	// Host.Stop or Host.Close, unless their Stopper.Stop panics. A daemon typically exits so that its
	// supervisor restarts it; an embedded cluster may Add the process
	// again. It runs on the exited process's goroutine after the process
	// is stopped and its name freed: it must not block and must not call
	// Host.Stop or Host.Close (they would wait for that goroutine).
	OnExit func(addr core.Addr, err error)
	// SharedMemory is what the processes' Env offers as
	// core.SharedMemory (a raylet keeps its large objects there, and the
	// workers and drivers of its host read and write them without a
	// socket). Nil gives Go memory shared within this program for the
	// in-memory transport, and memfd segments that the host's other
	// programs can open for any other transport (NewMemory).
	SharedMemory *Memory
	// NoSharedMemory turns shared memory off: objects move in messages.
	NoSharedMemory bool
}

func (o *HostOptions) setDefaults() {
	if o.Transport == nil {
		o.Transport = NewMem()
	}
	if o.SharedMemory == nil {
		_, mem := o.Transport.(*Mem)
		o.SharedMemory = NewMemory(!mem)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MessageSizeMax <= 0 {
		o.MessageSizeMax = core.DefaultMessageSizeMax
	}
	if o.MailboxMessages <= 0 {
		o.MailboxMessages = DefaultMailboxMessages
	}
	if o.MailboxBytes <= 0 {
		o.MailboxBytes = DefaultMailboxBytes
	}
	o.MailboxBytes = max(o.MailboxBytes, o.MessageSizeMax)
}

// Host runs core.Process values on real goroutines, the wall clock and a
// real disk: it is the production driver of core.Env. Each process has a
// mailbox and one goroutine that runs its callbacks one at a time, so
// components need no locks, exactly as in the simulator. A Host is safe
// for concurrent use.
type Host struct {
	opts     HostOptions
	tr       Transport
	log      *slog.Logger
	decoders sync.Pool // of *core.Codec; decoding runs on transport goroutines

	mu     sync.Mutex
	closed bool
	names  map[string]*proc // reserved and running processes
	procs  map[core.Addr]*proc
	memFS  map[string]*vfs.MemFS

	// wg counts every goroutine the host starts: process loops and Go
	// work. A process loop holds a count while it runs, so Env.Go may add
	// to it while Close waits.
	wg sync.WaitGroup

	stats hostCounters
}

type hostCounters struct {
	delivered, mailboxDrops, decodeErrors, encodeErrors, exits atomic.Uint64
}

// NewHost returns a host with no processes.
func NewHost(opts HostOptions) *Host {
	opts.setDefaults()
	h := &Host{
		opts:  opts,
		tr:    opts.Transport,
		log:   opts.Logger,
		names: map[string]*proc{},
		procs: map[core.Addr]*proc{},
		memFS: map[string]*vfs.MemFS{},
	}
	h.decoders.New = func() any { return core.NewCodec(opts.MessageSizeMax) }
	return h
}

// Transport returns the host's transport.
func (h *Host) Transport() Transport { return h.tr }

// Add starts p as the process name and returns its address. Start runs
// on the process's own goroutine, before any message is delivered to it;
// messages that arrive meanwhile wait in its mailbox. A name can be added
// again once its previous process has exited.
func (h *Host) Add(name string, p core.Process) (core.Addr, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return "", ErrClosed
	}
	if h.names[name] != nil {
		h.mu.Unlock()
		return "", fmt.Errorf("%w: %q on this host", ErrNameTaken, name)
	}
	fs, err := h.fsFor(name)
	if err != nil {
		h.mu.Unlock()
		return "", fmt.Errorf("net: data dir of %q: %w", name, err)
	}
	pr := newProc(h, name, p, fs)
	h.names[name] = pr // reserved while the transport binds it
	h.mu.Unlock()

	addr, err := h.tr.Listen(name, pr.deliver)
	if err != nil {
		h.mu.Lock()
		delete(h.names, name)
		h.mu.Unlock()
		return "", err
	}
	pr.init(addr)

	h.mu.Lock()
	if h.closed {
		delete(h.names, name)
		h.mu.Unlock()
		h.tr.Unlisten(name)
		return "", ErrClosed
	}
	h.procs[addr] = pr
	h.wg.Add(1) // under mu, so it happens before Close's Wait
	h.mu.Unlock()
	go pr.run()
	return addr, nil
}

// fsFor returns the FS of the process name. h.mu is held.
func (h *Host) fsFor(name string) (vfs.FS, error) {
	if h.opts.DataDir != "" {
		return newDirFS(vfs.Default, filepath.Join(h.opts.DataDir, name))
	}
	fs := h.memFS[name]
	if fs == nil {
		fs = vfs.NewMem()
		h.memFS[name] = fs
	}
	return fs, nil
}

// Do runs f on the event loop of the process at addr, after what is
// already in its mailbox, and returns without waiting for it. It is how
// code outside the process (a public API call, a test) hands work to a
// component, which must only be touched from its own loop. A panic in f
// counts as a panic of the process. It fails with ErrNoProcess if the
// process is not running.
func (h *Host) Do(addr core.Addr, f func()) error {
	pr := h.proc(addr)
	if pr == nil || pr.post(item{kind: itemFunc, f: f}, false) != posted {
		return fmt.Errorf("%w: %s", ErrNoProcess, addr)
	}
	return nil
}

// Stop stops the process at addr: it finishes the callback it is running,
// gets no further deliveries or timers, and its Stopper.Stop (if any)
// runs on its goroutine. Stop returns once the process's goroutine has
// exited; results of its Env.Go work still running are dropped when they
// arrive. It must not be called from the process's own callbacks.
func (h *Host) Stop(addr core.Addr) error {
	pr := h.proc(addr)
	if pr == nil {
		return fmt.Errorf("%w: %s", ErrNoProcess, addr)
	}
	pr.requestStop()
	<-pr.done
	return nil
}

// Close stops every process as Stop does, then waits for every goroutine
// the host started, including Env.Go work still running (work must
// return). It does not close the transport, which the caller owns and may
// share; close it after the hosts that use it. Close must not be called
// from a process's callbacks or from OnExit. Later calls return ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.closed = true
	prs := make([]*proc, 0, len(h.procs))
	for _, pr := range h.procs {
		prs = append(prs, pr)
	}
	h.mu.Unlock()
	for _, pr := range prs {
		pr.requestStop()
	}
	h.wg.Wait()
	return nil
}

func (h *Host) proc(addr core.Addr) *proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.procs[addr]
}

// remove forgets pr once it has stopped, freeing its name.
func (h *Host) remove(pr *proc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.procs[pr.addr] == pr {
		delete(h.procs, pr.addr)
	}
	if h.names[pr.name] == pr {
		delete(h.names, pr.name)
	}
}

// Addrs returns the addresses of the running processes, in no particular
// order; the slice belongs to the caller.
func (h *Host) Addrs() []core.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]core.Addr, 0, len(h.procs))
	for a := range h.procs {
		out = append(out, a)
	}
	return out
}

// HostStats are a host's counters since NewHost.
type HostStats struct {
	// Processes is the number of running processes.
	Processes int
	// Delivered counts messages handed to Receive.
	Delivered uint64
	// MailboxDrops counts messages dropped because the receiver's mailbox
	// was full.
	MailboxDrops uint64
	// DecodeErrors counts received envelopes that did not decode.
	DecodeErrors uint64
	// EncodeErrors counts Env.Send calls whose message did not encode
	// (unregistered type, over MessageSizeMax); the message was dropped.
	EncodeErrors uint64
	// Exits counts processes that stopped on a panic or fail-stop.
	Exits uint64
}

// Stats returns the host's counters.
func (h *Host) Stats() HostStats {
	h.mu.Lock()
	n := len(h.procs)
	h.mu.Unlock()
	return HostStats{
		Processes:    n,
		Delivered:    h.stats.delivered.Load(),
		MailboxDrops: h.stats.mailboxDrops.Load(),
		DecodeErrors: h.stats.decodeErrors.Load(),
		EncodeErrors: h.stats.encodeErrors.Load(),
		Exits:        h.stats.exits.Load(),
	}
}
