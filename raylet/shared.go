package raylet

import (
	"errors"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/plasma"
)

// Objects in the host's shared memory (core.SharedMemory), as Ray's
// plasma shares its store with the workers of its node. A worker on
// this host puts a large object by asking for it (CreateShared), writing
// its bytes through the segment the reply names and sealing it
// (SealShared): the bytes never travel in a message. A worker reads one
// by asking for its segment (GetObject.Shared) and copying out of it.
// Opening a segment may fail (another host, a segment freed meanwhile):
// the worker then moves the bytes in messages, as without shared memory.

// handleCreateShared creates the unsealed object a worker of this host
// writes through shared memory, and names its segment. A put already
// sealed here (the worker sent it again) is pinned as the primary copy.
func (r *Raylet) handleCreateShared(from core.Addr, m core.Message, reply func(core.Message, error)) {
	c := m.(*proto.CreateShared)
	if r.store.Contains(c.ID) {
		if err := r.store.Pin(c.ID); err != nil {
			reply(nil, rpc.Errorf(rpc.CodeFailed, "pin: %v", err))
			return
		}
		r.trackPrimary(primaryOf(c))
		reply(&proto.CreateSharedReply{Node: r.node, Sealed: true}, nil)
		return
	}
	if cp := r.puts[c.ID]; cp != nil {
		// The same put asked again (its reply was lost): the segment
		// being written is still the one to write.
		if h := r.store.SharedUnsealed(c.ID); h != "" && cp.from == from {
			cp.last = r.env.Now()
			reply(&proto.CreateSharedReply{Node: r.node, Shm: h}, nil)
			return
		}
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "shared put of %v: another put of it is being written here; retry", c.ID))
		return
	}
	if err := r.store.CreateShared(c.ID, c.Size, c.Owner); err != nil {
		switch {
		case errors.Is(err, plasma.ErrExists):
			reply(nil, rpc.Errorf(rpc.CodeUnavailable, "shared put of %v: a copy of it is being pulled here; retry", c.ID))
		case errors.Is(err, plasma.ErrNotShared):
			reply(nil, rpc.Errorf(rpc.CodeUnimplemented, "%v", err))
		default:
			reply(nil, rpc.Errorf(codeFor(err), "%v", err))
		}
		return
	}
	r.puts[c.ID] = &chunkedPut{from: from, last: r.env.Now()}
	reply(&proto.CreateSharedReply{Node: r.node, Shm: r.store.SharedUnsealed(c.ID)}, nil)
}

// handleSealShared seals and pins an object its worker wrote through
// shared memory, or aborts the put.
func (r *Raylet) handleSealShared(from core.Addr, m core.Message, reply func(core.Message, error)) {
	s := m.(*proto.SealShared)
	cp := r.puts[s.ID]
	if s.Abort {
		if cp != nil && cp.from == from {
			r.abortPut(s.ID)
		}
		reply(&proto.Ack{}, nil)
		return
	}
	if cp == nil {
		if r.store.Contains(s.ID) {
			// A resent seal: the first one sealed it.
			if err := r.store.Pin(s.ID); err != nil {
				reply(nil, rpc.Errorf(rpc.CodeFailed, "pin: %v", err))
				return
			}
			r.trackPrimary(primaryOf(&s.CreateShared))
			reply(&proto.PutObjectReply{Node: r.node, Sealed: true}, nil)
			return
		}
		// This raylet restarted, or aborted the put, since it was
		// created: whatever was written went with that segment.
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "shared put of %v: no such put here (the raylet restarted or aborted it); put it again", s.ID))
		return
	}
	if err := r.store.WrittenElsewhere(s.ID); err != nil {
		r.abortPut(s.ID)
		reply(nil, rpc.Errorf(rpc.CodeFailed, "seal: %v", err))
		return
	}
	if err := r.store.Seal(s.ID); err != nil {
		r.abortPut(s.ID)
		reply(nil, rpc.Errorf(rpc.CodeFailed, "seal: %v", err))
		return
	}
	delete(r.puts, s.ID)
	r.stats.SharedPuts++
	if err := r.store.Pin(s.ID); err != nil {
		reply(nil, rpc.Errorf(rpc.CodeFailed, "pin: %v", err))
		return
	}
	r.trackPrimary(primaryOf(&s.CreateShared))
	reply(&proto.PutObjectReply{Node: r.node, Sealed: true}, nil)
}

// primaryOf is the put a shared put stands for, for trackPrimary.
func primaryOf(c *proto.CreateShared) *proto.PutObject {
	return &proto.PutObject{ID: c.ID, Owner: c.Owner, OwnerID: c.OwnerID, OwnerNode: c.OwnerNode, Job: c.Job, Size: c.Size}
}

// sharedReply answers a GetObject.Shared for a local sealed copy in
// shared memory with its segment's handle, and reports whether it did.
func (r *Raylet) sharedReply(id core.ObjectID, reply func(core.Message, error)) bool {
	h := r.store.Shared(id)
	if h == "" {
		return false
	}
	data, err := r.store.Get(id)
	if err != nil {
		return false
	}
	r.stats.SharedGets++
	reply(&proto.GetObjectReply{Shm: h, Size: int64(len(data))}, nil)
	_ = r.store.Release(id)
	return true
}

// stable returns bytes of a local copy that stay valid after its reader
// pin is released, for a message (which the rpc layer may keep and send
// again): the store's own memory, or a copy of it when that memory is a
// mapping gone once the copy is freed (plasma.Store.Mapped).
func (r *Raylet) stable(id core.ObjectID, b []byte) []byte {
	if r.store.Mapped(id) {
		return append([]byte(nil), b...)
	}
	return b
}
