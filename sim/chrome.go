package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/grayrt/gray/core"
)

// ChromeTrace writes a run's trace events (use its Observe method as
// Config.Observer) in the Chrome trace-event JSON format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing load:
//
//   - one track (thread) per process, named with a thread_name metadata
//     event, in order of first appearance, plus a "kernel" track for the
//     simulator's own actions;
//   - every send, receipt, drop, timer, work result, start and action as a
//     short complete event ("X") on its track, with the event index,
//     virtual time and details in its args;
//   - every message as a flow arrow ("s" at the send, "f" at the receipt
//     or drop, with the message id as the flow id);
//   - faults, heals, crashes and the failure as global instant events
//     ("i" with "s":"g"), logs as instant events on their track.
//
// Timestamps are virtual time. Slices last sliceNs of display time; events
// of one process at the same virtual instant (a receipt and the sends it
// causes) are laid out one after another, so a track can run slightly
// ahead of virtual time. The exact virtual time is in each event's args.
//
// The output is streamed: memory does not grow with the run, and events
// appear in the order the run produced them. Write errors are kept and
// returned by Close; after one, nothing more is written.
type ChromeTrace struct {
	w   io.Writer
	err error
	// Limit, when positive, bounds the events written; later events are
	// dropped and Close notes the truncation in the trace.
	Limit int64

	written, dropped int64
	last             int64 // virtual time of the latest event, ns
	tids             map[core.Addr]int
	cursor           map[int]int64 // per track: the display time (ns) where the next slice may start
	closed           bool
}

// sliceNs is the display length of one event's slice.
const sliceNs = 1000

// chromeEvent is one element of traceEvents.
type chromeEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	ID   uint64         `json:"id,omitempty"`
	S    string         `json:"s,omitempty"`
	Bp   string         `json:"bp,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

// chromePid is the one process id of the trace: the simulated cluster.
const chromePid = 1

// NewChromeTrace starts a trace on w, titled title (shown as the process
// name, e.g. "echo seed 4"). The caller buffers w if it wants to.
func NewChromeTrace(w io.Writer, title string) *ChromeTrace {
	t := &ChromeTrace{w: w, tids: map[core.Addr]int{"": 0}, cursor: map[int]int64{}}
	t.write(`{"displayTimeUnit":"ns","traceEvents":[` + "\n")
	t.event(chromeEvent{Name: "process_name", Ph: "M", Pid: chromePid, Args: map[string]any{"name": title}}, true)
	t.event(chromeEvent{Name: "thread_name", Ph: "M", Pid: chromePid, Tid: 0, Args: map[string]any{"name": "kernel"}}, false)
	t.event(chromeEvent{Name: "thread_sort_index", Ph: "M", Pid: chromePid, Tid: 0, Args: map[string]any{"sort_index": 0}}, false)
	return t
}

func (t *ChromeTrace) write(s string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.w, s)
	}
}

func (t *ChromeTrace) event(e chromeEvent, first bool) {
	if t.err != nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.err = fmt.Errorf("sim: chrome trace: %w", err)
		return
	}
	if !first {
		t.write(",\n")
	}
	t.write(string(b))
}

// tid returns the track of addr, announcing a new one with its name.
func (t *ChromeTrace) tid(addr core.Addr) int {
	if id, ok := t.tids[addr]; ok {
		return id
	}
	id := len(t.tids)
	t.tids[addr] = id
	t.event(chromeEvent{Name: "thread_name", Ph: "M", Pid: chromePid, Tid: id, Args: map[string]any{"name": string(addr)}}, false)
	t.event(chromeEvent{Name: "thread_sort_index", Ph: "M", Pid: chromePid, Tid: id, Args: map[string]any{"sort_index": id}}, false)
	return id
}

func micros(ns int64) float64 { return float64(ns) / 1000 }

// Observe adds one event; pass it as Config.Observer.
func (t *ChromeTrace) Observe(ev TraceEvent) {
	if t.closed || t.err != nil {
		return
	}
	if t.Limit > 0 && t.written >= t.Limit {
		t.dropped++
		return
	}
	t.written++
	t.last = int64(ev.Time)
	args := map[string]any{"index": ev.Index, "time": ev.Time.String()}
	if ev.Peer != "" {
		args["peer"] = string(ev.Peer)
	}
	if ev.MsgID != 0 {
		args["msg_id"] = ev.MsgID
	}
	if ev.Message != "" {
		args["message"] = ev.Message
	}
	if ev.Detail != "" {
		args["detail"] = ev.Detail
	}
	at := int64(ev.Time)
	switch ev.Kind {
	case "fault", "heal", "crash", "fail":
		name := ev.Kind + " " + ev.Message
		if ev.Kind == "crash" {
			name = "crash " + string(ev.Proc)
		}
		if ev.Proc != "" {
			args["proc"] = string(ev.Proc)
		}
		t.event(chromeEvent{Name: name, Cat: ev.Kind, Ph: "i", S: "g", Ts: micros(at), Pid: chromePid, Tid: t.tid(ev.Proc), Args: args}, false)
		return
	case "log":
		t.event(chromeEvent{Name: "log", Cat: "log", Ph: "i", S: "t", Ts: micros(at), Pid: chromePid, Tid: t.tid(ev.Proc), Args: args}, false)
		return
	}
	tid := t.tid(ev.Proc)
	start := max(at, t.cursor[tid])
	t.cursor[tid] = start + sliceNs
	t.event(chromeEvent{Name: sliceName(ev), Cat: ev.Kind, Ph: "X", Ts: micros(start), Dur: micros(sliceNs), Pid: chromePid, Tid: tid, Args: args}, false)
	if ev.MsgID == 0 {
		return
	}
	// Flow events bind to the slice enclosing them, so they sit in its
	// middle rather than on its edge.
	mid := micros(start + sliceNs/2)
	switch ev.Kind {
	case "send":
		t.event(chromeEvent{Name: "message", Cat: "message", Ph: "s", ID: ev.MsgID, Ts: mid, Pid: chromePid, Tid: tid}, false)
	case "recv", "drop":
		t.event(chromeEvent{Name: "message", Cat: "message", Ph: "f", Bp: "e", ID: ev.MsgID, Ts: mid, Pid: chromePid, Tid: tid}, false)
	}
}

func sliceName(ev TraceEvent) string {
	switch ev.Kind {
	case "send":
		return fmt.Sprintf("send %s to %s", ev.Message, ev.Peer)
	case "recv":
		return fmt.Sprintf("recv %s from %s", ev.Message, ev.Peer)
	case "drop":
		return fmt.Sprintf("drop %s (%s)", ev.Message, ev.Detail)
	case "timer":
		return "timer " + ev.Detail
	case "work":
		return "work " + ev.Message
	case "start":
		return "start (" + ev.Detail + ")"
	case "action":
		return ev.Detail
	}
	return ev.Kind
}

// Mark adds a global instant event named name at virtual time at, e.g.
// where a replay stopped.
func (t *ChromeTrace) Mark(name string, at time.Duration) {
	if t.closed {
		return
	}
	t.event(chromeEvent{Name: name, Cat: "mark", Ph: "i", S: "g", Ts: micros(int64(at)), Pid: chromePid}, false)
}

// Close ends the JSON document and returns the first write error. It does
// not close the underlying writer.
func (t *ChromeTrace) Close() error {
	if t.closed {
		return t.err
	}
	if t.dropped > 0 {
		t.event(chromeEvent{Name: fmt.Sprintf("trace truncated: %d later events not written (limit %d)", t.dropped, t.Limit), Cat: "mark", Ph: "i", S: "g", Ts: micros(t.last), Pid: chromePid}, false)
	}
	t.closed = true
	t.write("\n]}\n")
	return t.err
}
