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
	// shared marks a payload that several events deliver (a duplicated
	// message, a late duplicate): it is never recycled (World.recycle).
	shared bool
	msg    core.Message
	timer  *timer
	co     *coroutine // start, resume
	action func()     // action, call
	label  string     // action label for the trace
	// late marks a late duplicate: it is delivered to whatever
	// incarnation of dst is alive when it arrives, as a copy that
	// lingered in the network reaches a restarted process.
	late bool
	// leave is when a delivered message left its sender (0: at Send),
	// srcInc the sender's incarnation then: a crash of that incarnation
	// before leave loses it (Faults.SendHold).
	leave  int64
	srcInc uint32
}

// eventQueue is a binary min-heap of events by (at, seq). The heap holds
// small pointer-free keys; the events themselves stay put in slots (reused
// through a free list), so sifting moves 24 bytes without write barriers
// instead of a whole event with its pointers. That is most of the cost of
// a push and a pop in a run with a large queue.
type eventQueue struct {
	heap  []eventKey
	slots []event
	free  []uint32
}

// eventKey orders one queued event; slot indexes eventQueue.slots.
type eventKey struct {
	at   int64
	seq  uint64
	slot uint32
}

func (k eventKey) less(o eventKey) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.seq < o.seq
}

// Len returns the number of queued events.
func (q *eventQueue) Len() int { return len(q.heap) }

func (q *eventQueue) push(e event) {
	var slot uint32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.slots[slot] = e
	} else {
		slot = uint32(len(q.slots))
		q.slots = append(q.slots, e)
	}
	q.heap = append(q.heap, eventKey{at: e.at, seq: e.seq, slot: slot})
	h := q.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := q.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.heap = h
	e := q.slots[top.slot]
	q.slots[top.slot] = event{} // release the references the slot held
	q.free = append(q.free, top.slot)
	return e
}
