package sim

import "github.com/grayrt/gray/core"

// eventKind says what an event does when it fires.
type eventKind uint8

const (
	evDeliver eventKind = iota + 1 // a message arrives at a process
	evTimer                        // an AfterFunc fires
	evWork                         // the result of Env.Go arrives
	evAction                       // a kernel action: fault start/stop, crash, restart, heal
	evStart                        // a coroutine (Env.Go work) starts
	evResume                       // a parked coroutine resumes
	evCall                         // a function posted with Env.Post runs
)

var kindNames = [...]string{evDeliver: "recv", evTimer: "timer", evWork: "work", evAction: "action", evStart: "run", evResume: "resume", evCall: "call"}

func (k eventKind) String() string { return kindNames[k] }

// event is one entry of the world's queue. Events are ordered by (at, seq):
// seq is the order of scheduling, which makes ties deterministic.
type event struct {
	at   int64 // virtual nanoseconds since the epoch
	seq  uint64
	kind eventKind
	inc  uint32 // incarnation of dst when scheduled; stale events are dropped
	dst  *proc
	src  core.Addr
	// id names a delivered message copy for TraceEvent.MsgID; it survives
	// re-queueing (a clogged link holds the event back).
	id uint64
	// deliver: encoded message; work: decoded result message.
	payload []byte
	msg     core.Message
	timer   *timer
	co      *coroutine // start, resume
	action  func()     // action, call
	label   string     // action label for the trace
}

// eventQueue is a binary min-heap of events by (at, seq). It stores values,
// not pointers, to keep the hot path free of per-event allocations.
type eventQueue []event

func (q eventQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = event{} // release references held by the vacated slot
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
