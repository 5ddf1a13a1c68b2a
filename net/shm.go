package net

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/grayrt/gray/core"
)

// Shared memory of a host's processes (core.SharedMemory). Two kinds of
// segment:
//
//   - Go memory ("g:" handles): a plain slice, shared by the processes
//     of one program (the embedded cluster, a grayd's raylet and its
//     in-process workers). Not Stable: a freed segment's memory goes to
//     a bounded pool and is reused by the next segment of the same size
//     (as plasma reuses its memory), which saves clearing it (a clear
//     cost as much as the put's one copy).
//   - memfd segments ("m:" handles, Linux): memory-mapped anonymous
//     files that other programs on the host (a driver, a launched
//     worker) open through /proc/PID/fd/FD of the creator and map. The
//     handle carries the boot id (another host's handle is refused with
//     core.ErrShmForeign) and the inode, checked after opening so that a
//     reused descriptor number never maps another segment. Not Stable:
//     the mapping is gone once the last hold in this program is closed.
//
// A program's holds on one segment share one mapping; it is unmapped at
// the last Close.

// Memory is a host's shared memory. The zero value is not usable; see
// NewMemory.
type Memory struct {
	memfd bool
	reg   *shmRegistry
}

var _ core.SharedMemory = (*Memory)(nil)

// NewMemory returns shared memory for a host's processes: memfd segments
// that other programs on the machine can open when memfd is true and
// the system has them (Linux), else Go memory shared within this
// program only.
func NewMemory(memfd bool) *Memory {
	return &Memory{memfd: memfd && memfdAvailable(), reg: programShm}
}

// Memfd reports whether m makes segments other programs can open.
func (m *Memory) Memfd() bool { return m.memfd }

// ShmCreate implements core.SharedMemory.
func (m *Memory) ShmCreate(size int64) (core.Segment, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("net: shared segment of %d bytes", size)
	}
	if m.memfd {
		s, err := memfdCreate(size)
		if err != nil {
			return nil, err
		}
		return m.reg.add(s), nil
	}
	m.reg.mu.Lock()
	m.reg.next++
	h := fmt.Sprintf("g:%s:%d", m.reg.id, m.reg.next)
	data := m.reg.reuse(int(size))
	m.reg.mu.Unlock()
	if data == nil {
		data = make([]byte, size)
	}
	return m.reg.add(&shmSeg{handle: h, data: data}), nil
}

// ShmOpen implements core.SharedMemory.
func (m *Memory) ShmOpen(handle string, size int64, write bool) (core.Segment, error) {
	if h := m.reg.hold(handle); h != nil {
		if int64(len(h.s.data)) != size {
			h.Close()
			return nil, fmt.Errorf("net: shared segment %s has %d bytes, want %d", handle, len(h.s.data), size)
		}
		return h, nil
	}
	switch {
	case strings.HasPrefix(handle, "g:"):
		if !strings.HasPrefix(handle, "g:"+m.reg.id+":") {
			return nil, fmt.Errorf("net: shared segment %s: %w (another program's Go memory)", handle, core.ErrShmForeign)
		}
		return nil, fmt.Errorf("net: shared segment %s: %w", handle, errShmGone)
	case strings.HasPrefix(handle, "m:"):
		if write {
			if h := m.reg.takeKept(handle, size); h != nil {
				return h, nil
			}
		}
		s, err := memfdOpen(handle, size, write)
		if err != nil {
			return nil, err
		}
		s.keep = write
		return m.reg.add(s), nil
	}
	return nil, fmt.Errorf("net: shared segment %.40q: not a handle", handle)
}

// Pool bounds: freed Go memory segments kept for reuse.
const (
	shmPoolBytesMax = 512 << 20
	shmPoolMax      = 64
)

// reuse takes a pooled buffer of size bytes, or returns nil. The caller
// holds r.mu.
func (r *shmRegistry) reuse(size int) []byte {
	for i := len(r.pool) - 1; i >= 0; i-- {
		if b := r.pool[i]; len(b) == size {
			r.pool = append(r.pool[:i], r.pool[i+1:]...)
			r.pooled -= size
			return b
		}
	}
	return nil
}

// recycle pools a freed Go memory segment's buffer, dropping the oldest
// beyond the bounds. The caller holds r.mu.
func (r *shmRegistry) recycle(b []byte) {
	if len(b) > shmPoolBytesMax {
		return
	}
	r.pool = append(r.pool, b)
	r.pooled += len(b)
	for r.pooled > shmPoolBytesMax || len(r.pool) > shmPoolMax {
		r.pooled -= len(r.pool[0])
		r.pool[0] = nil
		r.pool = r.pool[1:]
	}
}

// errShmGone reports a segment no process holds any more.
var errShmGone = errors.New("the segment was freed")

// shmRegistry is a program's open segments by handle.
type shmRegistry struct {
	id   string // random: names this program in "g:" handles
	mu   sync.Mutex
	next uint64
	segs map[string]*shmSeg
	// pool holds freed Go memory buffers for reuse, oldest first, and
	// pooled their bytes.
	pool   [][]byte
	pooled int
	// kept holds the write mappings of other programs' segments after
	// their last Close, oldest first, and keptBytes their size (see
	// takeKept).
	kept      []*shmSeg
	keptBytes int
}

// programShm is the registry of this program: every host in it shares
// it, as their processes share the program's memory.
var programShm = newShmRegistry()

func newShmRegistry() *shmRegistry {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &shmRegistry{id: hex.EncodeToString(b[:]), segs: map[string]*shmSeg{}}
}

// shmSeg is one mapped segment of this program.
type shmSeg struct {
	handle string
	data   []byte
	stable bool
	unmap  func() // releases a memfd segment's mapping
	holds  int    // guarded by the registry's mu
	// keep: a write mapping of another program's segment, kept mapped
	// after its last Close (shmRegistry.kept).
	keep bool
}

// add registers s, new in this program, with one hold.
func (r *shmRegistry) add(s *shmSeg) *shmHold {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.segs[s.handle]; old != nil {
		// Opened twice at once by two processes of this program: keep
		// one mapping.
		if s.unmap != nil {
			s.unmap()
		}
		old.holds++
		return &shmHold{r: r, s: old}
	}
	s.holds = 1
	r.segs[s.handle] = s
	return &shmHold{r: r, s: s}
}

// hold takes another hold on a segment this program has open, or
// returns nil.
func (r *shmRegistry) hold(handle string) *shmHold {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.segs[handle]
	if s == nil {
		return nil
	}
	s.holds++
	return &shmHold{r: r, s: s}
}

// open counts the segments this program holds, for tests.
func (r *shmRegistry) open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.segs)
}

// shmHold is one process's hold on a segment (core.Segment).
type shmHold struct {
	r      *shmRegistry
	s      *shmSeg
	closed bool
}

func (h *shmHold) Bytes() []byte  { return h.s.data }
func (h *shmHold) Handle() string { return h.s.handle }
func (h *shmHold) Stable() bool   { return h.s.stable }

// Close releases the hold; the last one unmaps the segment.
func (h *shmHold) Close() {
	if h.closed {
		return
	}
	h.closed = true
	r := h.r
	r.mu.Lock()
	h.s.holds--
	last := h.s.holds == 0
	var unmap []*shmSeg
	if last {
		delete(r.segs, h.s.handle)
		switch {
		case h.s.unmap == nil:
			r.recycle(h.s.data)
		case h.s.keep && len(h.s.data) <= keptBytesMax:
			unmap = r.keepMapping(h.s)
		default:
			unmap = []*shmSeg{h.s}
		}
	}
	r.mu.Unlock()
	for _, s := range unmap {
		s.unmap()
	}
}

// Bounds of the kept write mappings.
const (
	keptMax      = 4
	keptBytesMax = 512 << 20
)

// keepMapping keeps s mapped after its last Close and returns the
// mappings dropped beyond the bounds, oldest first, to be unmapped once
// r.mu is released. The caller holds r.mu.
//
// A store reuses the segment of a freed object for the next object of
// its size when only its writer ever mapped it (plasma's spare
// segments), so a writer that puts objects of one size again and again
// is given the same segment: with its mapping kept, the put writes
// into pages already mapped instead of taking a page fault on every
// page of a new mapping (on the 2-core test VM, 0.55 GB/s against
// 17 GB/s). A kept mapping holds its memory even after the store has
// dropped the segment, until it is evicted: at most keptBytesMax.
func (r *shmRegistry) keepMapping(s *shmSeg) []*shmSeg {
	r.kept = append(r.kept, s)
	r.keptBytes += len(s.data)
	var drop []*shmSeg
	for len(r.kept) > keptMax || r.keptBytes > keptBytesMax {
		drop = append(drop, r.kept[0])
		r.keptBytes -= len(r.kept[0].data)
		r.kept[0] = nil
		r.kept = r.kept[1:]
	}
	return drop
}

// takeKept takes back the kept write mapping of handle, of size bytes,
// with one hold, or returns nil. The handle names the segment's inode,
// which the kept mapping keeps alive, so it names the same memory.
func (r *shmRegistry) takeKept(handle string, size int64) *shmHold {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.kept {
		if s.handle != handle || int64(len(s.data)) != size || r.segs[handle] != nil {
			continue
		}
		r.kept = slices.Delete(r.kept, i, i+1)
		r.keptBytes -= len(s.data)
		s.holds = 1
		r.segs[handle] = s
		return &shmHold{r: r, s: s}
	}
	return nil
}
