package raylet

import (
	"errors"
	"fmt"

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
	waiters []func(error)
	queued  bool
}

// handlePutObject stores an object and pins it as the primary copy on
// behalf of its owner, until the owner frees it or is gone (owners.go).
// A copy already here (a retried put, or a copy pulled earlier) is
// pinned as the primary copy: the owner records this node as holding one.
func (r *Raylet) handlePutObject(from core.Addr, m core.Message, reply func(core.Message, error)) {
	p := m.(*proto.PutObject)
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
	if r.replyObject(g.ID, reply) {
		return
	}
	r.pullObject(g.ID, g.Locations, func(err error) {
		if err != nil {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "%v", err))
			return
		}
		if !r.replyObject(g.ID, reply) {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "%v was evicted right after it was pulled; retry", g.ID))
		}
	})
}

// replyObject answers with a sealed local object's bytes and reports
// whether it had them. The reply carries the store's own memory: a sealed
// object's bytes never change (plasma), so the rpc server may keep the
// reply and send it again after the pin is released, and no copy is
// needed.
func (r *Raylet) replyObject(id core.ObjectID, reply func(core.Message, error)) bool {
	data, err := r.store.Get(id)
	if err != nil {
		return false
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
	reply(&proto.ChunkReply{Size: size, Data: data[p.Offset:end]}, nil)
}

// pullObject makes id local, trying locs in order, and calls done once.
// Concurrent pulls of one object share the transfer.
func (r *Raylet) pullObject(id core.ObjectID, locs []proto.Location, done func(error)) {
	if r.store.Contains(id) {
		done(nil)
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
		done(fmt.Errorf("no copy of %v on another node to pull from", id))
		return
	}
	p := &pull{id: id, locs: remote, size: -1, waiters: []func(error){done}}
	r.pulls[id] = p
	r.stats.Pulls++
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
		defer r.drainPullQueue()
		if r.pulls[p.id] != p {
			return
		}
		if err != nil {
			r.pullFromNext(p, err)
			return
		}
		c := m.(*proto.ChunkReply)
		if !p.created {
			if err := r.store.Create(p.id, c.Size, ""); err != nil && !errors.Is(err, plasma.ErrExists) {
				r.finishPull(p, fmt.Errorf("cannot store a copy of %v (%d bytes): %w", p.id, c.Size, err))
				return
			}
			p.created, p.size = true, c.Size
		}
		if c.Size != p.size || int64(len(c.Data)) != min(int64(proto.ChunkSize), p.size-offset) {
			r.pullFromNext(p, fmt.Errorf("inconsistent chunk from %s", loc.Raylet))
			return
		}
		if err := r.store.Write(p.id, offset, c.Data); err != nil {
			r.finishPull(p, err)
			return
		}
		p.offset += int64(len(c.Data))
		if p.offset >= p.size {
			if err := r.store.Seal(p.id); err != nil {
				r.finishPull(p, err)
				return
			}
			r.stats.PulledBytes += p.size
			r.finishPull(p, nil)
			return
		}
		r.nextChunk(p)
	})
}

// pullFromNext restarts p from the next location after a failure.
func (r *Raylet) pullFromNext(p *pull, cause error) {
	if p.created {
		r.store.Abort(p.id)
		p.created, p.offset, p.size = false, 0, -1
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
	delete(r.pulls, p.id)
	for _, w := range p.waiters {
		w(err)
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
	}, nil)
}
