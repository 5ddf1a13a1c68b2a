package sim

import (
	"fmt"
	"strings"

	"github.com/grayrt/gray/core"
)

// InvariantChecker is implemented by processes that can check their own
// state: the GCS, the raylet (with its plasma store), and the worker and
// driver processes (their core worker). In builds with the invariants tag
// (package internal/invariants) the world calls CheckInvariants after
// every event it delivers to such a process — a message, a timer, Go
// work's result, a step of Go work, a start, a host's callback — and a
// violation fails the run with kind "invariant", naming the process, its
// type and the event. Without the tag nothing is called.
type InvariantChecker interface {
	CheckInvariants() error
}

// evNote says what the event being delivered is, for invariant failures.
// It is recorded only in invariants builds, and formatted only on failure.
type evNote struct {
	kind  eventKind
	src   core.Addr
	msg   core.Message
	timer uint64
	co    *coroutine
	// label is a kernel action's label; start marks a start of incarnation
	// inc.
	label string
	start bool
	inc   uint32
}

func (n evNote) String() string {
	switch n.kind {
	case evDeliver:
		return fmt.Sprintf("receipt of %s from %s", messageNote(n.msg), n.src)
	case evTimer:
		return fmt.Sprintf("timer #%d", n.timer)
	case evWork:
		return fmt.Sprintf("result %s of Go work", messageNote(n.msg))
	case evStart, evResume:
		return fmt.Sprintf("%s of Go work %s", n.kind, strings.TrimSpace(n.co.label()))
	case evCall:
		return "a call posted by Go work"
	}
	if n.start {
		return fmt.Sprintf("start of incarnation %d", n.inc)
	}
	return "action " + n.label
}

// carrier is a message that carries another (an rpc request or
// response).
type carrier interface {
	Carried() (core.Message, error)
}

// messageNote names m, and the message it carries if it carries one.
func messageNote(m core.Message) string {
	name := core.MessageName(m.MsgType())
	if c, ok := m.(carrier); ok {
		if inner, err := c.Carried(); err == nil && inner != nil {
			name += " carrying " + core.MessageName(inner.MsgType())
		}
	}
	return name
}

// checkInvariants runs p's CheckInvariants after an event delivered to
// it, if p is still up, and fails the run at the first violation.
func (w *World) checkInvariants(p *proc) {
	if w.failed || !p.alive || p.p == nil {
		return
	}
	c, ok := p.p.(InvariantChecker)
	if !ok {
		return
	}
	if err := c.CheckInvariants(); err != nil {
		w.Fail("invariant", fmt.Sprintf("%s (%T) after event %d, %v: %v", p.addr, p.p, w.events, w.evNote, err))
	}
}
