package sim

import (
	"time"

	"github.com/grayrt/gray/core"
)

// network models the links between processes: latency with jitter and a
// rare long tail, loss, duplication, reordering, partitions (cut directed
// links) and clogging (delivery held back until the clog ends). Links are
// FIFO unless a message is picked for reordering, like the production
// transport's streams.
type network struct {
	// cut[i][j] is true while messages from process i to j are lost.
	cut [][]bool
	// clogUntil[i][j] holds delivery from i to j until that virtual time.
	clogUntil [][]int64
	// last[i][j] is the latest delivery time scheduled on link i→j, for FIFO.
	last [][]int64

	sent, dropped int64
}

func (n *network) init() {}

// ensure grows the link matrices to cover every process (processes are
// added before the run starts, but workloads may add more later).
func (n *network) ensure(size int) {
	grow := func(m [][]bool) [][]bool {
		for len(m) < size {
			m = append(m, nil)
		}
		for i := range m {
			for len(m[i]) < size {
				m[i] = append(m[i], false)
			}
		}
		return m
	}
	growInt := func(m [][]int64) [][]int64 {
		for len(m) < size {
			m = append(m, nil)
		}
		for i := range m {
			for len(m[i]) < size {
				m[i] = append(m[i], 0)
			}
		}
		return m
	}
	if len(n.cut) < size {
		n.cut = grow(n.cut)
		n.clogUntil = growInt(n.clogUntil)
		n.last = growInt(n.last)
	}
}

func (n *network) latency(w *World) int64 {
	f := &w.faults
	d := int64(f.LatencyBase)
	if f.LatencyJitter > 0 {
		d += w.netRand.Int64N(int64(f.LatencyJitter))
	}
	if f.TailProb > 0 && w.netRand.Float64() < f.TailProb && f.TailLatency > 0 {
		d += w.netRand.Int64N(int64(f.TailLatency))
	}
	return d
}

// send schedules the delivery of one encoded message m (and maybe a
// duplicate). m is only named in trace events.
func (n *network) send(w *World, from *proc, to core.Addr, m core.Message, b []byte) {
	n.sent++
	w.msgs++
	id := w.msgs
	if w.obs != nil {
		w.observe(from, "send", to, id, core.MessageName(m.MsgType()), "")
	}
	dst := w.byAddr[to]
	if dst == nil {
		n.dropped++
		w.tracef(from, "drop", "to unknown address %q", to)
		if w.obs != nil {
			w.observe(from, "drop", to, id, core.MessageName(m.MsgType()), "unknown address")
		}
		return
	}
	if dst == from {
		w.push(event{at: w.now, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: id})
		return
	}
	n.ensure(len(w.procs))
	if sameHost(from, dst) {
		// Local IPC: reliable, in order, fast.
		at := max(w.now+int64(localLatency), n.last[from.idx][dst.idx])
		n.last[from.idx][dst.idx] = at
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: id})
		return
	}
	f := &w.faults
	if !w.healed && f.Drop > 0 && w.netRand.Float64() < f.Drop {
		n.dropped++
		w.tracef(from, "drop", "to %s (loss)", to)
		if w.obs != nil {
			w.observe(from, "drop", to, id, core.MessageName(m.MsgType()), "loss")
		}
		return
	}
	// shared: several events deliver b, so none may recycle it.
	shared := false
	if !w.healed && f.LateDup > 0 && w.netRand.Float64() < f.LateDup {
		shared = true
		// A copy that lingers (a retransmission stuck in a queue, a
		// proxy replaying) and arrives seconds later, perhaps at a
		// restarted receiver, after everything sent since.
		w.msgs++
		at := w.now + int64(time.Second) + w.netRand.Int64N(int64(9*time.Second))
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: w.msgs, late: true, shared: true})
		w.Sometimes("message delivered late")
		if w.obs != nil {
			w.observe(from, "send", to, w.msgs, core.MessageName(m.MsgType()), "late duplicate")
		}
	}
	copies := 1
	if !w.healed && f.Duplicate > 0 && w.netRand.Float64() < f.Duplicate {
		copies = 2
		shared = true
		w.Sometimes("message duplicated")
	}
	for c := range copies {
		if c > 0 {
			w.msgs++
			id = w.msgs
			if w.obs != nil {
				w.observe(from, "send", to, id, core.MessageName(m.MsgType()), "duplicate")
			}
		}
		at := w.now + n.latency(w)
		reorder := !w.healed && f.Reorder > 0 && w.netRand.Float64() < f.Reorder
		if reorder {
			at += w.netRand.Int64N(int64(20 * time.Millisecond))
		} else if l := n.last[from.idx][dst.idx]; at < l {
			at = l // FIFO: never overtake an earlier message on this link
		}
		if at > n.last[from.idx][dst.idx] {
			n.last[from.idx][dst.idx] = at
		}
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: id, shared: shared})
	}
}

// deliverable decides at arrival time whether a message gets through: a
// cut link loses it, a clogged link holds it back until the clog ends.
func (n *network) deliverable(w *World, e *event) bool {
	src := w.byAddr[e.src]
	if src == e.dst || sameHost(src, e.dst) || len(n.cut) <= max(src.idx, e.dst.idx) {
		return true
	}
	if n.cut[src.idx][e.dst.idx] {
		n.dropped++
		w.tracef(e.dst, "drop", "from %s (partition)", e.src)
		if w.obs != nil {
			w.observe(e.dst, "drop", e.src, e.id, w.messageName(e.payload), "partition")
		}
		return false
	}
	if until := n.clogUntil[src.idx][e.dst.idx]; until > w.now {
		held := *e
		held.at = until + int64(w.faults.LatencyBase)
		w.push(held)
		return false
	}
	return true
}

func (n *network) healAll(w *World) {
	n.ensure(len(w.procs))
	for i := range n.cut {
		for j := range n.cut[i] {
			n.cut[i][j] = false
			n.clogUntil[i][j] = 0
		}
	}
}

// localLatency is the delivery time between processes of one host.
const localLatency = 50 * time.Microsecond

// sameHost reports whether a and b are distinct processes of one host.
func sameHost(a, b *proc) bool { return a.opts.Host != "" && a.opts.Host == b.opts.Host }

// hostKey names the host of p; a process without one is its own host.
func hostKey(p *proc) string {
	if p.opts.Host != "" {
		return "host:" + p.opts.Host
	}
	return "proc:" + string(p.addr)
}
