package net

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
)

// DeliverFunc receives one enveloped message (core.Codec) addressed to a
// local process, sent by the process at from. It runs on the transport's
// goroutine, must not block and must not retain envelope after it returns.
// A non-nil error means envelope could not be decoded: the message was
// dropped, and a stream transport drops the connection it came from,
// because a peer that sends garbage cannot be trusted to frame the rest.
type DeliverFunc func(from core.Addr, envelope []byte) error

// Transport carries enveloped messages between processes. A Host sends
// through it and receives from it; the in-memory transport (Mem) and the
// libp2p transport (P2P) implement it. Several hosts may share one
// transport. Implementations are safe for concurrent use.
type Transport interface {
	// Listen makes the transport pass envelopes addressed to the local
	// process name to deliver, and returns that process's address. It
	// fails for an invalid name (see ValidName) or one already listening.
	Listen(name string, deliver DeliverFunc) (core.Addr, error)
	// Unlisten stops deliveries to name; envelopes addressed to it are
	// dropped from then on. deliver may still be running when it returns.
	Unlisten(name string)
	// Send queues envelope, from the local process at from, for the
	// process at to. It never blocks on the network. Delivery is
	// best-effort: the envelope may be lost (queue bounds, broken
	// connections, unknown addresses), and nothing tells the sender.
	// The transport owns envelope after the call.
	Send(from, to core.Addr, envelope []byte)
}

// WriteWaiter is implemented by transports that queue envelopes for
// remote peers inside the process (P2P).
type WriteWaiter interface {
	// Queues reports whether envelopes for the process at to are queued
	// (it is on another host), rather than delivered inside Send.
	Queues(to core.Addr) bool
	// AfterWritten arranges for f to run, on any goroutine, once every
	// envelope sent so far to the process at to has been written to its
	// connection or dropped, and reports true; it reports false, and
	// never calls f, when none is still queued. f must not block.
	AfterWritten(to core.Addr, f func()) bool
}

// Name limits. A process name is part of an address and of every frame on
// the wire, so it is short and made of characters that need no escaping.
const (
	// NameLenMax is the longest process name in bytes.
	NameLenMax = 64
)

// Errors of the package, matched with errors.Is.
var (
	// ErrBadName reports a process name outside ValidName's alphabet.
	ErrBadName = errors.New("net: invalid process name")
	// ErrNameTaken reports a second Listen (or Host.Add) of one name.
	ErrNameTaken = errors.New("net: process name already in use")
	// ErrClosed reports a call on a closed Host or transport.
	ErrClosed = errors.New("net: closed")
	// ErrNoProcess reports an address that names no running process of
	// this host.
	ErrNoProcess = errors.New("net: no such process")
	// ErrBadAddr reports an address that does not parse.
	ErrBadAddr = errors.New("net: invalid address")
)

// ValidName reports whether name can name a process: 1 to NameLenMax
// bytes of ASCII letters, digits, '-', '_' and '.', not starting with '.'
// (so it is also a safe directory name under a data dir).
func ValidName(name string) error {
	if nameOK(name) {
		return nil
	}
	if len(name) == 0 || len(name) > NameLenMax {
		return fmt.Errorf("%w %q: want 1 to %d bytes", ErrBadName, name, NameLenMax)
	}
	if name[0] == '.' {
		return fmt.Errorf("%w %q: must not start with '.'", ErrBadName, name)
	}
	return fmt.Errorf("%w %q: only letters, digits, '-', '_' and '.' are allowed", ErrBadName, name)
}

// nameOK is ValidName without the error, for names read off the wire.
func nameOK[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > NameLenMax || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
