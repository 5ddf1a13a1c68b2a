package worker

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Objects larger than one message. A worker puts an object into its
// raylet's store, and reads one from it, in chunks of at most
// Config.ObjectChunkBytes, chunkWindow of them in flight at once, so that
// an object's size is bounded by the store's capacity only, never by
// the message limit (core.DefaultMessageSizeMax). Chunks carry slices of
// the value: nothing is copied on this side but the received chunks into
// the one buffer of the object.

// chunkWindow bounds the chunks of one object in flight.
const chunkWindow = 4

// putChunkedRounds bounds how often a chunked put sends its chunks again
// when every chunk was acknowledged but none sealed the object: the
// raylet restarted (or aborted the put) between chunks, so the chunks
// before went to a store that no longer holds them.
const putChunkedRounds = 5

// putObject stores put's object in raylet's store as the primary copy,
// in chunks when it is larger than the chunk size, and calls done with
// the node that holds it. The calls are retried until the raylet answers
// (a put is idempotent, chunk by chunk).
func (w *Worker) putObject(raylet core.Addr, put *proto.PutObject, done func(core.NodeID, error)) {
	w.putObjectFill(raylet, put, len(put.Data), nil, done)
}

// putObjectFill is putObject of an object of size bytes that are either
// put.Data or, with fill, what fill writes into a buffer (PutFill).
func (w *Worker) putObjectFill(raylet core.Addr, put *proto.PutObject, size int, fill func([]byte), done func(core.NodeID, error)) {
	if w.sharedFor(raylet, size) {
		w.putShared(raylet, put, size, fill, 1, done)
		return
	}
	if fill != nil {
		put.Data = make([]byte, size)
		fill(put.Data)
	}
	w.putObjectRound(raylet, put, 1, done)
}

func (w *Worker) putObjectRound(raylet core.Addr, put *proto.PutObject, round int, done func(core.NodeID, error)) {
	size, chunk := len(put.Data), w.cfg.ObjectChunkBytes
	if size <= chunk {
		w.cli.Call(raylet, put, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
			if err != nil {
				done(core.NodeID{}, err)
				return
			}
			done(m.(*proto.PutObjectReply).Node, nil)
		})
		return
	}
	n := (size + chunk - 1) / chunk
	next, inflight := 0, 0
	var failed error
	var node core.NodeID
	sealed, finished := false, false
	var pump func()
	pump = func() {
		for failed == nil && inflight < chunkWindow && next < n {
			off := next * chunk
			c := *put
			c.Data, c.Offset, c.Size = put.Data[off:min(size, off+chunk)], int64(off), int64(size)
			next++
			inflight++
			w.cli.Call(raylet, &c, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
				inflight--
				switch {
				case err != nil:
					if failed == nil {
						failed = err
					}
				case m.(*proto.PutObjectReply).Sealed:
					sealed, node = true, m.(*proto.PutObjectReply).Node
				}
				pump()
			})
		}
		if inflight > 0 || finished || (failed == nil && next < n) {
			return
		}
		finished = true
		var busy *rpc.Error
		switch {
		case failed != nil && errors.As(failed, &busy) && busy.Code == rpc.CodeUnavailable && strings.Contains(busy.Msg, "being pulled") && round < putChunkedRounds:
			// The raylet is pulling a copy of the same object (a retried
			// task's return): send again once that copy is sealed.
			w.stats.ChunkedPutRounds++
			w.env.AfterFunc(time.Duration(100<<round)*time.Millisecond, func() { w.putObjectRound(raylet, put, round+1, done) })
		case failed != nil:
			done(core.NodeID{}, failed)
		case !sealed && round < putChunkedRounds:
			w.stats.ChunkedPutRounds++
			w.putObjectRound(raylet, put, round+1, done)
		case !sealed:
			done(core.NodeID{}, fmt.Errorf("worker: put of %v in %d chunks: the raylet acknowledged every chunk %d times but never sealed the object", put.ID, n, round))
		default:
			w.stats.ChunkedPuts++
			done(node, nil)
		}
	}
	pump()
}

// errSizeChanged: the chunks of one object read gave different sizes.
var errSizeChanged = errors.New("worker: the object's size changed between its chunks")

// fetch reads a plasma object through the local raylet, which pulls a copy
// from one of locs when it has none: in one message when it fits in a
// chunk, else chunk by chunk into one buffer.
//
// Where the host's memory is shared (shared.go), the first request asks
// for the store's segment of the object instead, and the bytes are
// copied out of it; when that fails, the object is read again in
// messages.
func (w *Worker) fetch(ref proto.ObjectRef, locs []proto.Location, done func([]byte, error)) {
	w.fetchFrom(ref, locs, w.shm != nil && !w.noShm[w.cfg.Raylet], done)
}

func (w *Worker) fetchFrom(ref proto.ObjectRef, locs []proto.Location, shared bool, done func([]byte, error)) {
	chunk := int64(w.cfg.ObjectChunkBytes)
	lost := func(err error) { done(nil, proto.NewError(proto.KindObjectLost, "", "%v: %v", ref.ID, err)) }
	get := func(off int64, shared bool, cb func(*proto.GetObjectReply, error)) {
		w.cli.Call(w.cfg.Raylet, &proto.GetObject{ID: ref.ID, Owner: ref.Owner, Locations: locs, Offset: off, Length: chunk, Shared: shared}, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
			if err != nil {
				cb(nil, err)
				return
			}
			cb(m.(*proto.GetObjectReply), nil)
		})
	}
	get(0, shared, func(first *proto.GetObjectReply, err error) {
		switch {
		case err != nil:
			lost(err)
			return
		case first.Shm != "":
			if b, ok := w.readShared(first); ok {
				done(b, nil)
			} else {
				w.fetchFrom(ref, locs, false, done)
			}
			return
		case first.Size <= int64(len(first.Data)):
			done(first.Data, nil)
			return
		}
		size := first.Size
		buf := make([]byte, size)
		copy(buf, first.Data)
		next, inflight := chunk, 0
		var failed error
		finished := false
		var pump func()
		pump = func() {
			for failed == nil && inflight < chunkWindow && next < size {
				off := next
				next += chunk
				inflight++
				get(off, false, func(r *proto.GetObjectReply, err error) {
					inflight--
					switch {
					case failed != nil:
					case err != nil:
						failed = err
					case r.Size != size || int64(len(r.Data)) != min(chunk, size-off):
						failed = errSizeChanged
					default:
						copy(buf[off:], r.Data)
					}
					pump()
				})
			}
			if inflight > 0 || finished || (failed == nil && next < size) {
				return
			}
			finished = true
			if failed != nil {
				lost(failed)
				return
			}
			w.stats.ChunkedGets++
			done(buf, nil)
		}
		pump()
	})
}
