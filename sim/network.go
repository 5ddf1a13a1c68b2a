package sim

import (
	"slices"
	"time"

	"github.com/grayrt/gray/core"
)

// network models the links between processes: latency with jitter and a
// rare long tail, loss, duplication, reordering, partitions (cut directed
// links) and clogging (delivery held back until the clog ends). Links are
// FIFO unless a message is picked for reordering, like the production
// transport's streams.
type network struct {
	// cuts are the partitions that decide which links are cut (see cut);
	// empty when no partition is active.
	cuts []*netCut
	// cutSeq numbers the cuts' starts and heals, in order.
	cutSeq uint64
	// clogs hold back delivery on links until a virtual time: links
	// holds one-link clogs by link, procs whole-process clogs by process
	// (see clogUntil). Expired entries have no effect.
	clogs struct {
		links map[netLink]int64
		procs map[int][]procClog
	}
	// last is the latest delivery time scheduled on each link that ever
	// carried a message, for FIFO.
	last map[netLink]int64
	// leave is the latest time a message sent on each link leaves its
	// sender (Faults.SendHold).
	leave map[netLink]int64

	sent, dropped int64
}

// The link state is sparse, kept per partition, clog and link used
// rather than in matrices over every pair of processes: a 1,000-node
// scale run has some 12,000 processes (every actor's worker is one), and
// its matrices took gigabytes.

// netLink is the directed link from process index from to process index to.
type netLink struct{ from, to int32 }

// netCut is one partition: the links from side to the rest, and with
// !oneWay back, among the processes that existed when it started.
type netCut struct {
	side   []bool
	oneWay bool
	// start and heal order the cut's changes among all cuts'; heal is 0
	// while it is active.
	start, heal uint64
}

// touches reports whether c's links include i→j.
func (c *netCut) touches(i, j int) bool {
	if i >= len(c.side) || j >= len(c.side) {
		return false
	}
	return c.side[i] && !c.side[j] || (!c.oneWay && !c.side[i] && c.side[j])
}

// procClog is a clog of every link from and to one process, among the n
// processes that existed when it started.
type procClog struct {
	n     int
	until int64
}

func (n *network) init() {
	n.clogs.links = map[netLink]int64{}
	n.clogs.procs = map[int][]procClog{}
	n.last = map[netLink]int64{}
	n.leave = map[netLink]int64{}
}

// cut reports whether messages from i to j are lost: the last change to
// the link, a cut starting or healing, decides (a heal restores every
// link of its cut, even one another active cut also covers, as a
// link-by-link matrix of flags did).
func (n *network) cut(i, j int) bool {
	var at uint64
	cut := false
	for _, c := range n.cuts {
		if !c.touches(i, j) {
			continue
		}
		if c.start > at {
			at, cut = c.start, true
		}
		if c.heal > at {
			at, cut = c.heal, false
		}
	}
	return cut
}

// addCut starts c.
func (n *network) addCut(c *netCut) {
	n.cutSeq++
	c.start = n.cutSeq
	n.cuts = append(n.cuts, c)
}

// healCut ends c (if a healing of everything did not end it before).
func (n *network) healCut(c *netCut) {
	if c.heal != 0 || !slices.Contains(n.cuts, c) {
		return
	}
	n.cutSeq++
	c.heal = n.cutSeq
	for _, o := range n.cuts {
		if o.heal == 0 {
			return
		}
	}
	// Nothing is cut once every cut healed.
	n.cuts = n.cuts[:0]
}

// clogLink holds back i→j until until (or the later end of a clog it has).
func (n *network) clogLink(i, j int, until int64) {
	k := netLink{int32(i), int32(j)}
	n.clogs.links[k] = max(n.clogs.links[k], until)
}

// clogProc holds back every link from and to process a, among the first
// size processes, until until.
func (n *network) clogProc(a, size int, until int64) {
	n.clogs.procs[a] = append(n.clogs.procs[a], procClog{n: size, until: until})
}

// clogUntil returns until when delivery from i to j is held back (0 or a
// past time when it is not), dropping clogs that ended before now.
func (n *network) clogUntil(i, j int, now int64) int64 {
	until := n.clogs.links[netLink{int32(i), int32(j)}]
	if until != 0 && until <= now {
		delete(n.clogs.links, netLink{int32(i), int32(j)})
	}
	for _, a := range [2]int{i, j} {
		cs := n.clogs.procs[a]
		if len(cs) == 0 {
			continue
		}
		other := j
		if a == j {
			other = i
		}
		kept := cs[:0]
		for _, c := range cs {
			if c.until <= now {
				continue
			}
			kept = append(kept, c)
			if other < c.n {
				until = max(until, c.until)
			}
		}
		if len(kept) == 0 {
			delete(n.clogs.procs, a)
		} else {
			n.clogs.procs[a] = kept
		}
	}
	return until
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
	link := netLink{int32(from.idx), int32(dst.idx)}
	// The message leaves its sender now, or after a hold (in order per
	// link); until then a crash of the sender loses it.
	leave := w.now
	if f := &w.faults; f.SendHold > 0 && !w.healed {
		leave = max(w.now+w.netRand.Int64N(int64(f.SendHold)), n.leave[link])
		n.leave[link] = leave
	}
	if sameHost(from, dst) {
		// Local IPC: reliable, in order, fast.
		at := max(leave+int64(localLatency), n.last[link])
		n.last[link] = at
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: id, leave: leave, srcInc: from.inc})
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
		at := leave + int64(time.Second) + w.netRand.Int64N(int64(9*time.Second))
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: w.msgs, late: true, shared: true, leave: leave, srcInc: from.inc})
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
		at := leave + n.latency(w)
		reorder := !w.healed && f.Reorder > 0 && w.netRand.Float64() < f.Reorder
		if reorder {
			at += w.netRand.Int64N(int64(20 * time.Millisecond))
		} else if l := n.last[link]; at < l {
			at = l // FIFO: never overtake an earlier message on this link
		}
		if at > n.last[link] {
			n.last[link] = at
		}
		w.push(event{at: at, kind: evDeliver, dst: dst, inc: dst.inc, src: from.addr, payload: b, id: id, shared: shared, leave: leave, srcInc: from.inc})
	}
}

// leftBy returns when the messages from sent so far to to have left
// from (now, without Faults.SendHold).
func (n *network) leftBy(w *World, from *proc, to core.Addr) int64 {
	dst := w.byAddr[to]
	if dst == nil {
		return w.now
	}
	return max(w.now, n.leave[netLink{int32(from.idx), int32(dst.idx)}])
}

// deliverable decides at arrival time whether a message gets through: a
// cut link loses it, a clogged link holds it back until the clog ends.
func (n *network) deliverable(w *World, e *event) bool {
	src := w.byAddr[e.src]
	if e.leave > 0 && src.endedBefore(e.srcInc, e.leave) {
		n.dropped++
		w.tracef(e.dst, "drop", "from %s (its sender crashed before it left)", e.src)
		if w.obs != nil {
			w.observe(e.dst, "drop", e.src, e.id, w.messageName(e.payload), "sender crashed")
		}
		w.Sometimes("message lost in its crashed sender")
		return false
	}
	if src == e.dst || sameHost(src, e.dst) {
		return true
	}
	if n.cut(src.idx, e.dst.idx) {
		n.dropped++
		w.tracef(e.dst, "drop", "from %s (partition)", e.src)
		if w.obs != nil {
			w.observe(e.dst, "drop", e.src, e.id, w.messageName(e.payload), "partition")
		}
		return false
	}
	if until := n.clogUntil(src.idx, e.dst.idx, w.now); until > w.now {
		held := *e
		held.at = until + int64(w.faults.LatencyBase)
		w.push(held)
		return false
	}
	return true
}

func (n *network) healAll() {
	n.cuts = n.cuts[:0]
	clear(n.clogs.links)
	clear(n.clogs.procs)
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
