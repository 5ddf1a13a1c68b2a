package worker

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Objects through the host's shared memory (core.SharedMemory). A put
// of at least Config.SharedMin bytes asks the local raylet for an
// object in its store's shared memory (proto.CreateShared), writes the
// bytes through the segment and seals it (proto.SealShared): one copy,
// and no message carries the bytes. A get asks for the segment of a copy
// the store holds there (proto.GetObject.Shared) and copies the bytes
// out of it. Whenever a segment cannot be used (the raylet has no shared
// memory or is on another host, the segment is gone, the environment
// refuses) the bytes move in messages as before (chunks.go): shared
// memory changes how fast, never what.

// sharedFor reports whether a put of size bytes into raylet's store may
// go through shared memory.
func (w *Worker) sharedFor(raylet core.Addr, size int) bool {
	return w.shm != nil && !w.noShm[raylet] && size >= w.cfg.SharedMin
}

// openShared opens the segment a raylet named (write for a put), for
// size bytes; a handle from another host marks the raylet as one whose
// segments this process cannot open.
func (w *Worker) openShared(raylet core.Addr, handle string, size int64, write bool) (core.Segment, error) {
	if handle == "" || len(handle) > core.ShmHandleMax || size <= 0 || size > proto.ObjectSizeMax {
		return nil, fmt.Errorf("worker: segment %.40q of %d bytes from %s: malformed", handle, size, raylet)
	}
	seg, err := w.shm.ShmOpen(handle, size, write)
	if err != nil {
		if errors.Is(err, core.ErrShmForeign) {
			w.noShm[raylet] = true
		}
		return nil, err
	}
	if int64(len(seg.Bytes())) != size {
		seg.Close()
		return nil, fmt.Errorf("worker: segment %.40q has %d bytes, want %d", handle, len(seg.Bytes()), size)
	}
	return seg, nil
}

// putShared puts put's object into raylet's store through shared memory,
// falling back to messages (putObjectRound) when it cannot.
//
// The bytes are put.Data, or with fill what fill writes into the
// segment (then put.Data is made only if the put falls back).
func (w *Worker) putShared(raylet core.Addr, put *proto.PutObject, n int, fill func([]byte), round int, done func(core.NodeID, error)) {
	size := int64(n)
	create := proto.CreateShared{ID: put.ID, Owner: put.Owner, OwnerID: put.OwnerID, OwnerNode: put.OwnerNode, Job: put.Job, Size: size}
	inMessages := func() {
		if put.Data == nil {
			put.Data = make([]byte, n)
			fill(put.Data)
		}
		w.putObjectRound(raylet, put, round, done)
	}
	fallback := func() {
		w.stats.SharedFallbacks++
		inMessages()
	}
	w.cli.Call(raylet, &create, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
		var re *rpc.Error
		switch {
		case errors.As(err, &re) && re.Code == rpc.CodeUnimplemented:
			// The raylet's store has no shared memory (or this
			// raylet does not know the request).
			w.noShm[raylet] = true
			fallback()
			return
		case err != nil:
			// Full, or a copy being pulled there: the put in messages
			// handles these and says what went wrong.
			inMessages()
			return
		}
		r := m.(*proto.CreateSharedReply)
		if r.Sealed {
			w.stats.SharedPuts++
			done(r.Node, nil)
			return
		}
		seg, err := w.openShared(raylet, r.Shm, size, true)
		if err != nil {
			w.cli.Call(raylet, &proto.SealShared{CreateShared: create, Abort: true}, rpc.Options{}, func(core.Message, error) {})
			fallback()
			return
		}
		if put.Data != nil {
			copy(seg.Bytes(), put.Data)
		} else {
			fill(seg.Bytes())
		}
		seg.Close()
		w.cli.Call(raylet, &proto.SealShared{CreateShared: create}, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
			switch {
			case err == nil:
				w.stats.SharedPuts++
				done(m.(*proto.PutObjectReply).Node, nil)
			case errors.As(err, &re) && re.Code == rpc.CodeNotFound && round < putChunkedRounds:
				// The raylet restarted (or aborted the put) after it
				// created the object: the bytes went with it.
				w.stats.ChunkedPutRounds++
				w.putShared(raylet, put, n, fill, round+1, done)
			default:
				fallback()
			}
		})
	})
}

// readShared copies an object out of the segment a raylet named in
// answer to a GetObject.Shared, and reports whether it could.
func (w *Worker) readShared(r *proto.GetObjectReply) ([]byte, bool) {
	seg, err := w.openShared(w.cfg.Raylet, r.Shm, r.Size, false)
	if err != nil {
		w.stats.SharedFallbacks++
		return nil, false
	}
	buf := make([]byte, r.Size)
	copy(buf, seg.Bytes())
	seg.Close()
	w.stats.SharedGets++
	return buf, true
}
