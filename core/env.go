package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Addr is the network address of one process (a GCS, a raylet, a worker, a
// simulated client). In simulation it is a short name ("gcs", "raylet-2"); on
// real hosts it is the transport's peer address. Addresses name processes;
// NodeID, WorkerID and friends name Ray-level entities that may move between
// processes over time.
type Addr string

// Env is everything a sans-IO component may use to touch the world. A driver
// (the simulator in package sim, the process host in package net) implements
// it. All callbacks — Receive, timer functions, results of Go — run one at a
// time on the process's own event loop, so a component needs no locks.
type Env interface {
	// Self returns this process's address.
	Self() Addr
	// Now returns the current time: virtual (with per-node drift) in
	// simulation, the wall clock on hosts. Never compare Now across processes.
	Now() time.Time
	// AfterFunc runs f on this process's event loop after at least d. The
	// returned Timer stops it. Timers vanish when the process crashes.
	AfterFunc(d time.Duration, f func()) Timer
	// Send queues m for delivery to the process at to. Delivery is
	// best-effort: m may be lost, delayed, duplicated or reordered, and
	// nothing tells the sender. m must not be modified after Send.
	Send(to Addr, m Message)
	// Rand returns this process's PRNG. In simulation it is derived from the
	// run's seed; it is the only source of randomness a component may use.
	Rand() *rand.Rand
	// FS returns this process's disk. Data is durable only once synced; a
	// simulated crash keeps exactly the synced state (and maybe some of the
	// rest). A component that receives an error writing it must fail-stop
	// with FailStop rather than continue on a disk in an unknown state.
	FS() vfs.FS
	// Go runs work off the event loop (a user task body, a driver
	// program, file IO) and delivers its result to this process's Receive
	// with from == Self(). work may block in Await. On hosts it runs on a
	// goroutine of its own, in parallel with the loop. In simulation it
	// runs as a coroutine of the world: it starts at an event of its own,
	// nothing else runs until it returns or blocks in Await, and its
	// result arrives after a simulated duration.
	Go(work func() Message)
	// Await is how code off the loop (work started with Go; on hosts,
	// any goroutine of the program) calls into the process: it runs f on
	// the event loop and blocks until f, or a later callback on the loop,
	// calls wake (then it returns nil), ctx is done (ctx.Err()) or the
	// process stops (ErrStopped). wake may be called more than once; only
	// the first call counts. It must not be called from the loop itself.
	// In simulation only work started with Go may call it: the coroutine
	// parks, f runs on the world's goroutine, and the coroutine resumes
	// at the event wake schedules, so one seed decides the interleaving.
	Await(ctx context.Context, f func(wake func())) error
	// Post runs f on the event loop soon and returns at once; it reports
	// false if the process stopped. Same callers as Await.
	Post(f func()) bool
	// Log returns the process's structured logger. In simulation records
	// carry virtual time and go to the trace.
	Log() *slog.Logger
}

// ErrStopped is returned by Env.Await when the process stopped (it
// crashed, fail-stopped, exited or was shut down) before the caller was
// woken.
var ErrStopped = errors.New("core: the process stopped")

// Lockstep is implemented by environments that run Go work in lockstep
// with the event loop (the simulator). There only that work may call
// Await and Post: anything the Go runtime schedules on its own (a
// garbage-collector cleanup, a finalizer, a goroutine the work started)
// must not call into a process, or the run would depend on the runtime's
// timing instead of the seed.
type Lockstep interface {
	Lockstep() bool
}

// InLockstep reports whether env runs Go work in lockstep (see Lockstep).
func InLockstep(env Env) bool {
	l, ok := env.(Lockstep)
	return ok && l.Lockstep()
}

// GoNamer is implemented by environments that name Go work in their
// traces (the simulator), so that a report can say which task body or
// actor method ran.
type GoNamer interface {
	GoNamed(name string, work func() Message)
}

// GoNamed runs work with env.Go, naming it where env supports it.
func GoNamed(env Env, name string, work func() Message) {
	if n, ok := env.(GoNamer); ok {
		n.GoNamed(name, work)
		return
	}
	env.Go(work)
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the timer and reports whether it was still pending.
	Stop() bool
}

// Process is a sans-IO component. The driver calls Start once per
// incarnation (boot, or restart after a crash, with a fresh value from the
// process's factory) and then Receive for each delivered message, one at a
// time.
type Process interface {
	// Start boots the process; it recovers any durable state from env.FS().
	Start(env Env)
	// Receive handles one message. Messages come from untrusted peers: a
	// bad message is answered with an error or ignored, never trusted.
	Receive(from Addr, m Message)
}

// Stopper is implemented by processes that hold resources (open pebble
// databases) that must be released when the driver crashes or shuts the
// process down. Stop must not send messages or touch durable state beyond
// closing it; after a simulated crash the disk has already been cloned.
type Stopper interface {
	Stop()
}

// FailStop is the panic value a component uses to stop itself on an
// operating error it cannot recover from in place, typically a failed disk
// write (after which a storage engine's state is unknown, see "fsyncgate").
// Drivers treat it as a crash of that process followed by a restart, never
// as a bug: the simulator crashes and later restarts the process, a host
// exits so that its supervisor restarts it. Any other panic is a bug.
type FailStop struct {
	Reason string
	Err    error
}

// Error implements error.
func (f FailStop) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("fail-stop: %s: %v", f.Reason, f.Err)
	}
	return "fail-stop: " + f.Reason
}

// Unwrap returns the underlying error.
func (f FailStop) Unwrap() error { return f.Err }

// ErrUnrecoverable marks a fail-stop that a restart cannot fix, such as
// storage that cannot prove it holds what the process acknowledged: a
// supervisor must not restart the process in a loop, an operator must
// act. Errors match it with errors.Is. The simulator fails a run in which
// a process stops with it (nothing in a simulated run may need an
// operator), and grayd exits with its own status (docs/operations.md).
var ErrUnrecoverable = errors.New("unrecoverable")

// ForeignLogger is implemented by environments whose processes may log
// from goroutines the process does not run, such as a storage engine's
// background goroutines (see ForeignLog).
type ForeignLogger interface {
	ForeignLog() *slog.Logger
}

// ForeignLog returns a logger that code running on goroutines of its own
// (pebble's flushes and compactions) may call at any moment: the
// process's log on hosts. Where env does not offer one (the simulator,
// whose trace must not depend on when the Go runtime runs such a
// goroutine) its records are discarded.
func ForeignLog(env Env) *slog.Logger {
	if f, ok := env.(ForeignLogger); ok {
		return f.ForeignLog()
	}
	return discardLog
}

var discardLog = slog.New(slog.DiscardHandler)

// HostPather is implemented by file systems that can name a file as the
// host names it (the process hosts' per-process directories), for
// messages meant for an operator.
type HostPather interface {
	HostPath(name string) string
}

// FSPath names the file name of fs for an operator: its path on the host
// where fs knows it, else name itself.
func FSPath(fs vfs.FS, name string) string {
	if h, ok := fs.(HostPather); ok {
		return h.HostPath(name)
	}
	return name
}
