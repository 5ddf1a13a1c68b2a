package core

// SendBarrier is implemented by environments in which a message can
// still be inside the sending process after Send returns: on hosts, a
// message to another host waits in the connection's queue until a
// writer puts it on the wire, and a crash of the process loses it
// there. An actor's worker waits at this barrier before it starts its
// next call, so the reply of a call that finished reaches its caller
// even if the next call kills the process (see docs/api.md, "Actor
// crashes and replies").
type SendBarrier interface {
	// Holds reports whether a message sent to the process at to may
	// wait inside this process after Send returns (false when Send
	// delivers it, or hands it to the operating system, before it
	// returns: a process of the same program).
	Holds(to Addr) bool
	// AfterSent arranges for f to run on the event loop once every
	// message sent so far to the process at to has left this process
	// (written to the connection, or dropped), and reports true. It
	// reports false, and never calls f, when none is still inside.
	AfterSent(to Addr, f func()) bool
}

// AfterSent runs f on env's loop once the messages sent so far to to
// have left the process: later if env is a SendBarrier with some still
// inside, at once (before returning) otherwise.
func AfterSent(env Env, to Addr, f func()) {
	if b, ok := env.(SendBarrier); ok && b.AfterSent(to, f) {
		return
	}
	f()
}

// Holds reports whether env may keep a message to to inside the process
// after Send returns (SendBarrier.Holds; false for other environments).
func Holds(env Env, to Addr) bool {
	b, ok := env.(SendBarrier)
	return ok && b.Holds(to)
}
