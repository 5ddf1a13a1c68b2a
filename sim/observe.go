package sim

import (
	"time"

	"github.com/grayrt/gray/core"
)

// TraceEvent is one structured trace event, as Config.Observer receives it.
// The text trace (Config.Trace) and the Observer see the same run; the
// Observer gets fields instead of a formatted line, for tools such as the
// Chrome trace writer (ChromeTrace).
//
// Kinds, with the fields they set beyond Index, Time and Kind:
//
//   - "send": Proc sent Message to Peer; MsgID names this copy of the
//     message (a duplicated message is two sends with two ids; Detail is
//     "duplicate" for the second).
//   - "recv": Proc received Message (MsgID) from Peer; Detail is the
//     message's fields.
//   - "drop": a message (MsgID) was lost. Proc is the sender and Detail
//     "loss" or "unknown address" when it was lost on sending; Proc is the
//     receiver and Detail "partition" or "receiver down" when it was lost on
//     arrival.
//   - "timer": a timer of Proc fired; Detail is "#" and the timer's id.
//   - "work": the result (Message) of Proc's Env.Go arrived.
//   - "start": Proc booted or restarted; Detail names the incarnation.
//   - "crash": Proc crashed; Detail says why (nemesis, a fail-stop…).
//   - "fault": a fault began; Message is "partition", "one-way partition",
//     "clog" or "disk", Detail says where. Proc is set for disk faults.
//   - "heal": a fault ended; Message is "partition", "one-way partition",
//     "disk" or "all" (the end of the fault phase).
//   - "action": a kernel or harness action ran; Detail is its label.
//   - "log": Proc logged a record; Detail is the level, message and
//     attributes.
//   - "fail": the run failed; Message is the failure kind, Detail the
//     reason.
type TraceEvent struct {
	// Index is the number of events dispatched so far, the same count the
	// text trace prints and Config.UntilEvent (replay --until) stops at.
	// Events caused by one dispatched event (its sends, logs, a crash)
	// share its Index.
	Index int64
	// Time is virtual time since the start of the run.
	Time time.Duration
	// Proc is the process the event happened at; "" for kernel events.
	Proc core.Addr
	// Kind is one of the kinds listed above.
	Kind string
	// Peer is the other end of a message: the receiver of a send, the
	// sender of a receive.
	Peer core.Addr
	// MsgID identifies one copy of a message from its send to its receipt
	// or drop; 0 for events that are not about a message. Ids are assigned
	// in sending order, so they are the same in every run of a seed.
	MsgID uint64
	// Message is the message's registered type name ("echo.Request"), or
	// the fault's name for fault and heal events.
	Message string
	// Detail is free text: the message's fields, a label, a reason.
	Detail string
}

// observe reports one event to the Observer. Callers check w.obs != nil
// first, so that building the event's strings costs nothing when nobody
// observes.
func (w *World) observe(p *proc, kind string, peer core.Addr, id uint64, msg, detail string) {
	ev := TraceEvent{Index: w.events, Time: time.Duration(w.now), Kind: kind, Peer: peer, MsgID: id, Message: msg, Detail: detail}
	if p != nil {
		ev.Proc = p.addr
	}
	w.obs(ev)
}

// tracing reports whether anyone reads the trace, text or structured.
func (w *World) tracing() bool { return w.trace != nil || w.obs != nil }

// messageName is the registered type name of an encoded message, for
// events about messages that were never decoded.
func (w *World) messageName(b []byte) string {
	t, _, err := w.codec.Peek(b)
	if err != nil {
		return "?"
	}
	return core.MessageName(t)
}
