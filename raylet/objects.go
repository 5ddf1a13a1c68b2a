package raylet

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/plasma"
)

// pull is one object being copied to this node, chunk by chunk, from one
// location at a time; callers waiting for it are queued in done.
type pull struct {
	id      core.ObjectID
	locs    []proto.Location
	locIdx  int
	size    int64 // -1 until the first chunk tells it
	offset  int64
	created bool
	// buf holds the bytes of a transient copy: the store had no room for
	// one next to the data it holds, so the chunks land here and the
	// waiters get the bytes without a local copy.
	buf     []byte
	waiters []func([]byte, error)
	queued  bool
}

// handlePutObject stores an object and pins it as the primary copy on
// behalf of its owner, until the owner frees it or is gone (owners.go).
// A copy already here (a retried put, or a copy pulled earlier) is
// pinned as the primary copy: the owner records this node as holding one.
func (r *Raylet) handlePutObject(from core.Addr, m core.Message, reply func(core.Message, error)) {
	p := m.(*proto.PutObject)
	if p.Chunked() {
		r.putChunk(from, p, reply)
		return
	}
	if !r.store.Contains(p.ID) {
		// The bytes were decoded for this request and nobody else holds
		// them: the store takes them over rather than copy 1 MiB again.
		if err := r.store.Adopt(p.ID, p.Data, p.Owner); err != nil {
			reply(nil, rpc.Errorf(codeFor(err), "%v", err))
			return
		}
	}
	if err := r.store.Pin(p.ID); err != nil {
		reply(nil, rpc.Errorf(rpc.CodeFailed, "pin: %v", err))
		return
	}
	r.trackPrimary(p)
	reply(&proto.PutObjectReply{Node: r.node}, nil)
}

// heldRead is a transient copy kept for a reader that reads it in chunks
// (GetObject.Length): the store had no room for the object.
type heldRead struct {
	data []byte
	last time.Time // when a chunk of it was last served
}

// heldReadIdleMax is how long a held transient copy waits for its
// reader's next chunk.
const heldReadIdleMax = 2 * time.Second

// dropIdleReads drops the held transient copies no reader asked for in
// heldReadIdleMax.
func (r *Raylet) dropIdleReads() {
	if len(r.heldReads) == 0 {
		return
	}
	ids := make([]core.ObjectID, 0, len(r.heldReads))
	for id, h := range r.heldReads { //gray:unordered sorted below
		if r.env.Now().Sub(h.last) >= heldReadIdleMax {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b core.ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		r.heldReadBytes -= int64(len(r.heldReads[id].data))
		delete(r.heldReads, id)
	}
}

// chunkedPut is a put of an object in chunks (PutObject.Chunked) that
// has not written every byte yet: the store holds it unsealed.
type chunkedPut struct {
	from core.Addr // the worker putting it
	// last is when its latest chunk arrived: a put idle for
	// chunkedPutIdleMax is aborted (its worker stopped sending).
	last time.Time
}

// chunkedPutIdleMax bounds how long a chunked put may wait for its next
// chunk before the raylet aborts it and frees its space.
const chunkedPutIdleMax = 30 * time.Second

// putChunk writes one chunk of a chunked put, creating the object at the
// first chunk to arrive and sealing and pinning it at the chunk that
// completes it (reply Sealed). A chunk of an object already sealed here
// (a resend, or the put of a retried task's return) pins that copy.
func (r *Raylet) putChunk(from core.Addr, p *proto.PutObject, reply func(core.Message, error)) {
	cp := r.puts[p.ID]
	if cp == nil && r.store.Contains(p.ID) {
		if err := r.store.Pin(p.ID); err != nil {
			// Unsealed, and not a put of ours: a pull of the same object
			// (a retried task's return) is writing it.
			reply(nil, rpc.Errorf(rpc.CodeUnavailable, "chunked put of %v: another copy of it is being written here (%v); retry", p.ID, err))
			return
		}
		r.trackPrimary(p)
		reply(&proto.PutObjectReply{Node: r.node, Sealed: true}, nil)
		return
	}
	if cp == nil {
		if err := r.store.Create(p.ID, p.Size, p.Owner); err != nil {
			if errors.Is(err, plasma.ErrExists) {
				// A pull of the same object (a retried task's return) is
				// writing it: the worker sends its chunks again shortly,
				// and finds it sealed.
				reply(nil, rpc.Errorf(rpc.CodeUnavailable, "chunked put of %v: a copy of it is being pulled here; retry", p.ID))
				return
			}
			reply(nil, rpc.Errorf(codeFor(err), "%v", err))
			return
		}
		cp = &chunkedPut{from: from}
		r.puts[p.ID] = cp
	}
	cp.last = r.env.Now()
	if err := r.store.Write(p.ID, p.Offset, p.Data); err != nil {
		r.abortPut(p.ID)
		reply(nil, rpc.Errorf(codeFor(err), "%v", err))
		return
	}
	if err := r.store.Seal(p.ID); err != nil {
		if errors.Is(err, plasma.ErrIncomplete) {
			reply(&proto.PutObjectReply{Node: r.node}, nil) // more chunks to come
			return
		}
		r.abortPut(p.ID)
		reply(nil, rpc.Errorf(rpc.CodeFailed, "seal: %v", err))
		return
	}
	delete(r.puts, p.ID)
	r.stats.ChunkedPuts++
	if err := r.store.Pin(p.ID); err != nil {
		reply(nil, rpc.Errorf(rpc.CodeFailed, "pin: %v", err))
		return
	}
	r.trackPrimary(p)
	reply(&proto.PutObjectReply{Node: r.node, Sealed: true}, nil)
}

// abortPut drops the unsealed object of a chunked put.
func (r *Raylet) abortPut(id core.ObjectID) {
	if r.puts[id] == nil {
		return
	}
	delete(r.puts, id)
	r.store.Abort(id)
	r.stats.ChunkedPutsAborted++
}

// abortPuts aborts the chunked puts of worker from (it died), or, with
// from "", those idle for chunkedPutIdleMax.
func (r *Raylet) abortPuts(from core.Addr) {
	if len(r.puts) == 0 {
		return
	}
	ids := make([]core.ObjectID, 0, len(r.puts))
	for id, cp := range r.puts { //gray:unordered sorted below
		if (from != "" && cp.from == from) || (from == "" && r.env.Now().Sub(cp.last) >= chunkedPutIdleMax) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b core.ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		r.abortPut(id)
	}
}

func codeFor(err error) rpc.Code {
	switch {
	case errors.Is(err, plasma.ErrNotFound):
		return rpc.CodeNotFound
	case errors.Is(err, plasma.ErrObjectStoreFull), errors.Is(err, plasma.ErrTooManyObjects):
		return rpc.CodeUnavailable
	case errors.Is(err, plasma.ErrTooLarge):
		return rpc.CodeInvalid
	}
	return rpc.CodeFailed
}

// handleGetObject answers with an object's bytes, pulling a copy first
// when this node has none.
func (r *Raylet) handleGetObject(from core.Addr, m core.Message, reply func(core.Message, error)) {
	g := m.(*proto.GetObject)
	whole := reply
	if g.Length > 0 {
		// One chunk: answer with its range of the object's bytes.
		inner := reply
		reply = func(m core.Message, err error) {
			if err != nil {
				inner(nil, err)
				return
			}
			data := m.(*proto.GetObjectReply).Data
			size := int64(len(data))
			if g.Offset > size {
				inner(nil, rpc.Errorf(rpc.CodeInvalid, "chunk at offset %d of %v, which has %d bytes", g.Offset, g.ID, size))
				return
			}
			inner(&proto.GetObjectReply{Data: r.stable(g.ID, data[g.Offset:min(size, g.Offset+g.Length)]), Size: size}, nil)
		}
	}
	if g.Shared && r.sharedReply(g.ID, whole) {
		return
	}
	if r.replyObject(g.ID, g.Length == 0, reply) {
		return
	}
	if h := r.heldReads[g.ID]; h != nil && g.Length > 0 {
		// A chunk of an object read from a transient copy moments ago.
		h.last = r.env.Now()
		reply(&proto.GetObjectReply{Data: h.data}, nil)
		return
	}
	r.pullObject(g.ID, g.Locations, func(data []byte, err error) {
		if err != nil {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "%v", err))
			return
		}
		if data != nil {
			// A transient copy: the store had no room. The reply
			// carries the pull's buffer, which nobody modifies. A
			// reader in chunks asks for the rest next: keep the copy
			// for it a while (within the transient bound) rather than
			// pull the whole object again for every chunk.
			if g.Length > 0 && int64(len(data)) > g.Length && r.heldReads[g.ID] == nil &&
				r.transient+r.heldReadBytes+int64(len(data)) <= r.transientBytesMax() {
				r.heldReads[g.ID] = &heldRead{data: data, last: r.env.Now()}
				r.heldReadBytes += int64(len(data))
			}
			reply(&proto.GetObjectReply{Data: data}, nil)
			return
		}
		if g.Shared && r.sharedReply(g.ID, whole) {
			return
		}
		if !r.replyObject(g.ID, g.Length == 0, reply) {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "%v was evicted right after it was pulled; retry", g.ID))
		}
	})
}

// replyObject answers with a sealed local object's bytes and reports
// whether it had them. The reply carries the store's own memory: a sealed
// object's bytes never change (plasma), so the rpc server may keep the
// reply and send it again after the pin is released, and no copy is
// needed.
// With whole unset, reply takes a range of the bytes and makes it
// stable itself (see stable).
func (r *Raylet) replyObject(id core.ObjectID, whole bool, reply func(core.Message, error)) bool {
	data, err := r.store.Get(id)
	if err != nil {
		return false
	}
	if whole {
		data = r.stable(id, data)
	}
	reply(&proto.GetObjectReply{Data: data}, nil)
	_ = r.store.Release(id)
	return true
}

// handleFreeObjects unpins and deletes copies the owner released.
func (r *Raylet) handleFreeObjects(from core.Addr, m core.Message, reply func(core.Message, error)) {
	for _, id := range m.(*proto.FreeObjects).IDs {
		r.untrackPrimary(id)
		_ = r.store.Unpin(id)
		_ = r.store.Delete(id)
	}
	reply(&proto.Ack{}, nil)
}

// handlePullChunk serves one chunk of a sealed local object, straight
// from the store's memory (see replyObject).
func (r *Raylet) handlePullChunk(from core.Addr, m core.Message, reply func(core.Message, error)) {
	p := m.(*proto.PullChunk)
	data, err := r.store.Get(p.ID)
	if err != nil {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "%v: %v", p.ID, err))
		return
	}
	defer func() { _ = r.store.Release(p.ID) }()
	size := int64(len(data))
	if p.Offset > size {
		reply(nil, rpc.Errorf(rpc.CodeInvalid, "offset %d beyond size %d", p.Offset, size))
		return
	}
	end := min(size, p.Offset+p.Length)
	reply(&proto.ChunkReply{Size: size, Data: r.stable(p.ID, data[p.Offset:end])}, nil)
}

// pullObject makes id local, trying locs in order, and calls done once.
// Concurrent pulls of one object share the transfer. When the store has
// no room for a copy next to the data it holds (pinned primary copies,
// copies being read), the object is read all the same into a transient
// buffer, which done gets (data is nil when the copy is in the store): a
// full store must not fail reads of objects that exist, as Ray's plasma
// falls back to memory outside the store rather than fail a read.
func (r *Raylet) pullObject(id core.ObjectID, locs []proto.Location, done func(data []byte, err error)) {
	if r.store.Contains(id) {
		done(nil, nil)
		return
	}
	if p := r.pulls[id]; p != nil {
		p.waiters = append(p.waiters, done)
		return
	}
	var remote []proto.Location
	for _, l := range locs {
		if l.Node != r.node {
			remote = append(remote, l)
		}
	}
	if len(remote) == 0 {
		done(nil, fmt.Errorf("no copy of %v on another node to pull from", id))
		return
	}
	p := &pull{id: id, locs: remote, size: -1, waiters: []func([]byte, error){done}}
	r.pulls[id] = p
	r.stats.Pulls++
	if r.evicted[id] {
		r.stats.Repulls++
	}
	r.nextChunk(p)
}

// nextChunk requests the next chunk of p, or queues p while the bytes in
// flight are at their bound.
func (r *Raylet) nextChunk(p *pull) {
	length := int64(proto.ChunkSize)
	if p.size >= 0 {
		length = min(length, p.size-p.offset)
	}
	if r.inPull+length > r.cfg.PullBytesMax && r.inPull > 0 {
		if !p.queued {
			p.queued = true
			r.pullQ = append(r.pullQ, p)
		}
		return
	}
	r.inPull += length
	loc := p.locs[p.locIdx]
	offset := p.offset
	r.cli.Call(loc.Raylet, &proto.PullChunk{ID: p.id, Offset: offset, Length: max(length, 1)}, rpc.Options{}, func(m core.Message, err error) {
		r.inPull -= length
		if r.inPull < 0 {
			panic(fmt.Sprintf("raylet: %d bytes of pulls in flight after a chunk of %v came back", r.inPull, p.id))
		}
		defer r.drainPullQueue()
		if r.pulls[p.id] != p {
			return
		}
		if err != nil {
			r.pullFromNext(p, err)
			return
		}
		c := m.(*proto.ChunkReply)
		if !p.created && p.buf == nil {
			if err := r.startCopy(p, c.Size); err != nil {
				r.finishPull(p, fmt.Errorf("cannot store a copy of %v (%d bytes): %w", p.id, c.Size, err))
				return
			}
		}
		if c.Size != p.size || int64(len(c.Data)) != min(int64(proto.ChunkSize), p.size-offset) {
			r.pullFromNext(p, fmt.Errorf("inconsistent chunk from %s", loc.Raylet))
			return
		}
		if p.buf != nil {
			copy(p.buf[offset:], c.Data)
		} else if err := r.store.Write(p.id, offset, c.Data); err != nil {
			r.finishPull(p, err)
			return
		}
		p.offset += int64(len(c.Data))
		if p.offset >= p.size {
			if p.buf == nil {
				if err := r.store.Seal(p.id); err != nil {
					r.finishPull(p, err)
					return
				}
			}
			r.stats.PulledBytes += p.size
			r.finishPull(p, nil)
			return
		}
		r.nextChunk(p)
	})
}

// evictedMax bounds the evicted copies a raylet remembers for
// Stats.Repulls: forgetting one only undercounts.
const evictedMax = 4096

// onEvict records a copy the store evicted (plasma.Config.OnEvict: it
// must not call the store back).
func (r *Raylet) onEvict(id core.ObjectID) {
	if r.evicted[id] {
		return
	}
	if len(r.evictedOrder) >= evictedMax {
		delete(r.evicted, r.evictedOrder[0])
		r.evictedOrder = r.evictedOrder[1:]
	}
	r.evicted[id] = true
	r.evictedOrder = append(r.evictedOrder, id)
}

// startCopy makes room for p's copy of size bytes: in the store, or,
// when the store's held data leaves no room, in a transient buffer
// (bounded by transientBytesMax of them at a time).
func (r *Raylet) startCopy(p *pull, size int64) error {
	err := r.store.Create(p.id, size, "")
	switch {
	case errors.Is(err, plasma.ErrExists) && r.puts[p.id] != nil:
		// A worker is putting the same object here in chunks (a retried
		// task's return): its copy is not the pull's to write. Read into
		// a transient buffer instead.
		if r.transient+size > r.transientBytesMax() {
			return fmt.Errorf("%v is being put here; and transient copies of reads already hold %d bytes of at most %d", p.id, r.transient, r.transientBytesMax())
		}
	case err == nil, errors.Is(err, plasma.ErrExists):
		p.created, p.size = true, size
		return nil
	case !errors.Is(err, plasma.ErrObjectStoreFull) && !errors.Is(err, plasma.ErrTooManyObjects):
		return err
	case r.transient+size > r.transientBytesMax():
		return fmt.Errorf("%w; and transient copies of reads already hold %d bytes of at most %d", err, r.transient, r.transientBytesMax())
	}
	p.buf, p.size = make([]byte, size), size
	r.transient += size
	r.stats.TransientReads++
	return nil
}

// transientBytesMax bounds the bytes of transient copies in flight: as
// much again as the store's capacity.
func (r *Raylet) transientBytesMax() int64 { return r.cfg.ObjectStoreBytes }

// dropCopy gives up p's partial copy, in the store or transient.
func (r *Raylet) dropCopy(p *pull) {
	if p.created {
		r.store.Abort(p.id)
	}
	if p.buf != nil {
		r.releaseTransient(p)
	}
	p.created, p.buf, p.offset, p.size = false, nil, 0, -1
}

// releaseTransient stops counting p's transient buffer; the caller
// drops it from p.
func (r *Raylet) releaseTransient(p *pull) {
	r.transient -= int64(len(p.buf))
	if r.transient < 0 {
		panic(fmt.Sprintf("raylet: transient copies count %d bytes after the pull of %v gave back its buffer", r.transient, p.id))
	}
}

// pullFromNext restarts p from the next location after a failure.
func (r *Raylet) pullFromNext(p *pull, cause error) {
	if p.created || p.buf != nil {
		r.dropCopy(p)
	}
	p.locIdx++
	if p.locIdx >= len(p.locs) {
		r.stats.PullFailures++
		r.finishPull(p, fmt.Errorf("pull of %v failed from every location (last: %v)", p.id, cause))
		return
	}
	r.nextChunk(p)
}

func (r *Raylet) finishPull(p *pull, err error) {
	if err != nil && p.created && !r.store.Contains(p.id) {
		r.store.Abort(p.id)
	}
	data := p.buf
	if p.buf != nil {
		// The waiters own the bytes now; they no longer count as
		// transient copies in flight.
		r.releaseTransient(p)
		p.buf = nil
	}
	if err != nil {
		data = nil
	}
	delete(r.pulls, p.id)
	for _, w := range p.waiters {
		w(data, err)
	}
}

func (r *Raylet) drainPullQueue() {
	q := r.pullQ
	r.pullQ = nil
	for _, p := range q {
		p.queued = false
		if r.pulls[p.id] == p {
			r.nextChunk(p)
		}
	}
}

// handleListObjects lists the objects of the node's plasma store (the
// state API's objects, gray list objects).
func (r *Raylet) handleListObjects(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	all := r.store.Objects()
	st := r.store.Stats()
	rep := &proto.ListObjectsReply{Node: r.node, Total: len(all), Used: st.Used, Capacity: st.Capacity}
	for _, o := range all[:min(len(all), m.(*proto.ListObjects).Limit)] {
		rep.Objects = append(rep.Objects, proto.ObjectEntry{ID: o.ID, Size: o.Size, Owner: o.Owner, Sealed: o.Sealed, Primary: o.Primary, Readers: o.ReaderPins})
	}
	reply(rep, nil)
}

// handleRayletStats answers with the raylet's counters and its store's.
func (r *Raylet) handleRayletStats(_ core.Addr, _ core.Message, reply func(core.Message, error)) {
	st, ps := r.stats, r.store.Stats()
	reply(&proto.RayletStatsReply{Node: r.node,
		LeasesGranted: st.LeasesGranted, Spillbacks: st.Spillbacks, Infeasible: st.Infeasible, WorkerDeaths: st.WorkerDeaths,
		Pulls: st.Pulls, PulledBytes: st.PulledBytes, PullFailures: st.PullFailures,
		WorkersLaunched: st.WorkersLaunched, LaunchFailures: st.LaunchFailures,
		StoreUsed: ps.Used, StoreCapacity: ps.Capacity, StoreObjects: int64(ps.Objects), StoreEvictions: int64(ps.Evictions), StoreEvictedBytes: ps.EvictedBytes,
		LeaseWaitNanos: int64(st.LeaseWait),
		SharedPuts:     st.SharedPuts, SharedGets: st.SharedGets, StoreSharedBytes: ps.SharedBytes,
	}, nil)
}
