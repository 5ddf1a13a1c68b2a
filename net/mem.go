package net

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/grayrt/gray/core"
)

// Mem is the in-memory transport of a cluster embedded in one program: a
// process's address is its plain name, and Send hands the envelope to the
// receiver's DeliverFunc on the sender's goroutine (which decodes it into
// the receiver's mailbox). No sockets, no copies beyond the encoding.
// Messages between two processes arrive in the order they were sent;
// they are lost only if the receiver is unknown or its mailbox is full.
// One Mem may serve several Hosts; process names are unique across them.
type Mem struct {
	log *slog.Logger

	mu    sync.RWMutex
	procs map[string]DeliverFunc

	sent, noProcess atomic.Uint64
	dropLog         logEvery
}

var _ Transport = (*Mem)(nil)

// NewMem returns an empty in-memory transport. It logs to slog.Default().
func NewMem() *Mem {
	return &Mem{log: slog.Default(), procs: map[string]DeliverFunc{}, dropLog: logEvery{interval: logInterval}}
}

// Listen implements Transport. The address of name is name itself.
func (t *Mem) Listen(name string, deliver DeliverFunc) (core.Addr, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.procs[name] != nil {
		return "", fmt.Errorf("%w: %q on this in-memory network", ErrNameTaken, name)
	}
	t.procs[name] = deliver
	return core.Addr(name), nil
}

// Unlisten implements Transport.
func (t *Mem) Unlisten(name string) {
	t.mu.Lock()
	delete(t.procs, name)
	t.mu.Unlock()
}

// Send implements Transport. An envelope for an unknown process is
// dropped and counted.
func (t *Mem) Send(from, to core.Addr, envelope []byte) {
	t.mu.RLock()
	deliver := t.procs[string(to)]
	t.mu.RUnlock()
	if deliver == nil {
		t.noProcess.Add(1)
		if ok, n := t.dropLog.allow(); ok {
			t.log.Debug("net: mem: dropping a message for an unknown process", "from", string(from), "to", string(to), "suppressed", n)
		}
		return
	}
	t.sent.Add(1)
	_ = deliver(from, envelope) // the host counted and logged a decode error; there is no connection to drop
}

// MemStats are an in-memory transport's counters.
type MemStats struct {
	// Sent counts envelopes handed to a receiver.
	Sent uint64
	// NoProcess counts envelopes dropped for an unknown receiver.
	NoProcess uint64
}

// Stats returns the transport's counters.
func (t *Mem) Stats() MemStats {
	return MemStats{Sent: t.sent.Load(), NoProcess: t.noProcess.Load()}
}
