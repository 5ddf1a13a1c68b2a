package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
)

// Shared memory of a simulated host (core.SharedMemory), with the
// semantics of memfd segments on a real one:
//
//   - a segment can be opened only by processes of its own host
//     (another host's handle fails with core.ErrShmForeign), and only
//     while some process holds it open: a crash releases every hold of
//     the incarnation, as the kernel closes a dead process's files;
//   - segments are not Stable: once the last hold is closed the memory
//     is poisoned (filled with shmPoison), so a component that kept
//     bytes of a freed segment reads garbage and the workload's value
//     checks fail, where a real host would fault or read reused memory;
//   - while faults are on, with Faults.ShmRefuse, creating and opening
//     fail now and then (a full /dev/shm, a failed mmap), so the paths
//     that move the bytes in messages instead are exercised.
//
// A segment a worker opens must be closed within the same event: the
// core worker copies in or out and lets go (shmOpenInEvent checks it).

// shmPoison fills a freed segment.
const shmPoison = 0xdb

// simSeg is one segment of a simulated host.
type simSeg struct {
	id    uint64
	host  string
	data  []byte
	holds int
}

// simShm is the world's segments.
type simShm struct {
	segs map[uint64]*simSeg
	next uint64
	rnd  *rand.Rand
	// openInEvent counts holds ShmOpen gave out during the event being
	// dispatched and not closed yet.
	openInEvent int
	created     int64
	opened      int64
}

// shmHold is one incarnation's hold on a segment.
type shmHold struct {
	w       *World
	s       *simSeg
	p       *proc
	inc     uint32
	opened  bool // by ShmOpen (not ShmCreate)
	closed  bool
	inEvent bool
}

func (h *shmHold) Bytes() []byte  { return h.s.data }
func (h *shmHold) Handle() string { return "s:" + strconv.FormatUint(h.s.id, 10) }
func (h *shmHold) Stable() bool   { return false }

// Close implements core.Segment.
func (h *shmHold) Close() {
	if h.closed {
		return
	}
	h.closed = true
	if h.inEvent {
		h.w.shm.openInEvent--
	}
	h.p.shmHolds--
	h.s.holds--
	if h.s.holds == 0 {
		delete(h.w.shm.segs, h.s.id)
		for i := range h.s.data {
			h.s.data[i] = shmPoison
		}
	}
}

// shmRefused draws whether the environment refuses a segment now.
func (w *World) shmRefused() bool {
	if w.faults.ShmRefuse <= 0 || w.healed {
		return false
	}
	if w.shm.rnd == nil {
		w.shm.rnd = rand.New(rand.NewPCG(w.cfg.Seed, streamShm))
	}
	return w.shm.rnd.Float64() < w.faults.ShmRefuse
}

var errShmRefused = errors.New("sim: shared memory refused (injected)")

// ShmCreate implements core.SharedMemory.
func (e *procEnv) ShmCreate(size int64) (core.Segment, error) {
	w := e.w
	if !e.current() {
		return nil, core.ErrStopped
	}
	if size <= 0 || size > 1<<32 {
		return nil, fmt.Errorf("sim: shared segment of %d bytes", size)
	}
	if w.shmRefused() {
		w.Sometimes("shared memory refused")
		return nil, errShmRefused
	}
	if w.shm.segs == nil {
		w.shm.segs = map[uint64]*simSeg{}
	}
	w.shm.next++
	s := &simSeg{id: w.shm.next, host: hostKey(e.p), data: make([]byte, size), holds: 1}
	for i := range s.data {
		s.data[i] = shmPoison // unspecified contents, as memory reused on hosts
	}
	w.shm.segs[s.id] = s
	w.shm.created++
	e.p.shmHolds++
	h := &shmHold{w: w, s: s, p: e.p, inc: e.inc}
	e.p.shmList = append(e.p.shmList, h)
	return h, nil
}

// ShmOpen implements core.SharedMemory.
func (e *procEnv) ShmOpen(handle string, size int64, write bool) (core.Segment, error) {
	w := e.w
	if !e.current() {
		return nil, core.ErrStopped
	}
	n, ok := strings.CutPrefix(handle, "s:")
	id, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("sim: shared segment %.40q: not a handle", handle)
	}
	s := w.shm.segs[id]
	switch {
	case s == nil:
		return nil, fmt.Errorf("sim: shared segment %s: freed", handle)
	case s.host != hostKey(e.p):
		return nil, fmt.Errorf("sim: shared segment %s of %s: %w", handle, s.host, core.ErrShmForeign)
	case int64(len(s.data)) != size:
		return nil, fmt.Errorf("sim: shared segment %s has %d bytes, want %d", handle, len(s.data), size)
	case w.shmRefused():
		w.Sometimes("shared memory refused")
		return nil, errShmRefused
	}
	s.holds++
	w.shm.opened++
	w.shm.openInEvent++
	e.p.shmHolds++
	h := &shmHold{w: w, s: s, p: e.p, inc: e.inc, opened: true, inEvent: true}
	e.p.shmList = append(e.p.shmList, h)
	return h, nil
}

// releaseShm closes every hold of p's dead incarnation, as the kernel
// closes a dead process's files.
func (w *World) releaseShm(p *proc) {
	for _, h := range p.shmList {
		h.Close()
	}
	p.shmList = nil
}

// compactShm drops closed holds from p's list now and then, so that a
// long-lived process does not keep every hold it ever had.
func (p *proc) compactShm() {
	if len(p.shmList) < 64 || len(p.shmList) < 2*p.shmHolds {
		return
	}
	live := p.shmList[:0]
	for _, h := range p.shmList {
		if !h.closed {
			live = append(live, h)
		}
	}
	clear(p.shmList[len(live):])
	p.shmList = live
}

// checkShmEvent fails the run when an event ended with a segment that
// ShmOpen gave out still open.
func (w *World) checkShmEvent(p *proc) {
	if w.shm.openInEvent == 0 {
		return
	}
	w.shm.openInEvent = 0
	for _, h := range p.shmList {
		h.inEvent = false
	}
	w.Fail("shm", fmt.Sprintf("%s left a shared memory segment it opened open after its event", p.addr))
}
