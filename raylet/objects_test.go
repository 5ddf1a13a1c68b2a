package raylet_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// TestReadWithoutRoomForACopy: a node whose store is full of pinned data
// still serves a read of an object held on another node — from a
// transient copy that never enters the store — rather than calling the
// object missing (its readers took that for a lost object, and a
// borrower's owner dropped the good primary copy and ran its task again).
func TestReadWithoutRoomForACopy(t *testing.T) {
	want := bytes.Repeat([]byte("gray"), 250)
	runScenarioOn(t, &world{store2: 1500}, func(h *world) {
		h.addOwner("owner", "", newOwner(1))
		h.at(time.Second, func() {
			// A primary copy of 1000 bytes fills raylet-2's 1500, the
			// object to read lives on raylet-1.
			h.call("owner", "raylet-2", &proto.PutObject{ID: obj(1), Owner: "owner", OwnerID: 1, Data: make([]byte, 1000)})
			h.call("owner", "raylet-1", &proto.PutObject{ID: obj(2), Owner: "owner", OwnerID: 1, Data: want})
		})
		h.at(2*time.Second, func() {
			loc := proto.Location{Node: h.node("raylet-1"), Raylet: "raylet-1"}
			h.on("owner", func(o *owner) {
				o.cli.Call("raylet-2", &proto.GetObject{ID: obj(2), Owner: "owner", Locations: []proto.Location{loc}}, rpc.Options{}, func(m core.Message, err error) {
					switch {
					case err != nil:
						h.t.Errorf("GetObject on a full node = %v, want the object", err)
					case !bytes.Equal(m.(*proto.GetObjectReply).Data, want):
						h.t.Errorf("GetObject on a full node = %d bytes, want the %d put", len(m.(*proto.GetObjectReply).Data), len(want))
					}
				})
			})
		})
		h.at(3*time.Second, func() {
			r := h.raylet("raylet-2")
			if got := r.Stats().TransientReads; got != 1 {
				t.Errorf("raylet-2 TransientReads = %d, want 1", got)
			}
			if r.Store().Contains(obj(2)) {
				t.Errorf("raylet-2 stored a copy of %v past its capacity", obj(2))
			}
			if got := r.Store().Stats().Used; got != 1000 {
				t.Errorf("raylet-2 store uses %d bytes, want the 1000 of its primary copy", got)
			}
			h.end()
		})
	})
}

// TestChunkedPut: an object put in chunks (out of order, one sent twice)
// is sealed and pinned by the chunk that completes it and read back in
// ranges; a chunked put whose chunks stop coming is aborted, and its
// space freed.
func TestChunkedPut(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789"), 300) // 3000 bytes, chunks of 1000
	chunk := func(id core.ObjectID, i int) *proto.PutObject {
		return &proto.PutObject{ID: id, Owner: "owner", OwnerID: 1, Offset: int64(i * 1000), Size: 3000, Data: want[i*1000 : (i+1)*1000]}
	}
	runScenarioOn(t, &world{}, func(h *world) {
		h.addOwner("owner", "", newOwner(1))
		sealed := 0
		h.at(time.Second, func() {
			h.on("owner", func(o *owner) {
				for _, i := range []int{2, 0, 2, 1} {
					o.cli.Call("raylet-1", chunk(obj(1), i), rpc.Options{}, func(m core.Message, err error) {
						if err != nil {
							h.t.Errorf("chunk %d: %v", i, err)
							return
						}
						if m.(*proto.PutObjectReply).Sealed {
							sealed++
						}
					})
				}
				// Only the first chunk of obj(2): never completed.
				o.cli.Call("raylet-1", chunk(obj(2), 0), rpc.Options{}, func(core.Message, error) {})
			})
		})
		h.at(2*time.Second, func() {
			if sealed != 1 {
				t.Errorf("%d chunk replies said sealed, want 1", sealed)
			}
			h.on("owner", func(o *owner) {
				o.cli.Call("raylet-1", &proto.GetObject{ID: obj(1), Owner: "owner", Offset: 1500, Length: 1000}, rpc.Options{}, func(m core.Message, err error) {
					r, _ := m.(*proto.GetObjectReply)
					if err != nil || r.Size != 3000 || !bytes.Equal(r.Data, want[1500:2500]) {
						h.t.Errorf("range read = %v: want bytes 1500..2500 of 3000", err)
					}
				})
			})
		})
		h.at(3*time.Second, func() {
			r := h.raylet("raylet-1")
			if !r.Store().Contains(obj(1)) || !r.Store().Unsealed(obj(2)) || r.Stats().ChunkedPuts != 1 {
				t.Errorf("after the puts: store has obj(1) %v, obj(2) unsealed %v; %d chunked puts, want both and 1", r.Store().Contains(obj(1)), r.Store().Unsealed(obj(2)), r.Stats().ChunkedPuts)
			}
			if err := r.CheckInvariants(); err != nil {
				t.Error(err)
			}
		})
		h.at(40*time.Second, func() {
			r := h.raylet("raylet-1")
			if r.Store().Unsealed(obj(2)) || r.Stats().ChunkedPutsAborted != 1 || !r.Store().Contains(obj(1)) {
				t.Errorf("a put idle for 30 s: still stored %v, %d aborted; want it gone (1), obj(1) kept", r.Store().Unsealed(obj(2)), r.Stats().ChunkedPutsAborted)
			}
			h.end()
		})
	})
}

// TestChunkedReadWithoutRoomForACopy: a reader in chunks of an object
// the node has no room for gets every chunk from one transient copy,
// pulled once, not once per chunk.
func TestChunkedReadWithoutRoomForACopy(t *testing.T) {
	want := bytes.Repeat([]byte("gray"), 250) // 1000 bytes, read in chunks of 300
	runScenarioOn(t, &world{store2: 1500}, func(h *world) {
		h.addOwner("owner", "", newOwner(1))
		h.at(time.Second, func() {
			h.call("owner", "raylet-2", &proto.PutObject{ID: obj(1), Owner: "owner", OwnerID: 1, Data: make([]byte, 1000)})
			h.call("owner", "raylet-1", &proto.PutObject{ID: obj(2), Owner: "owner", OwnerID: 1, Data: want})
		})
		got := make([]byte, len(want))
		h.at(2*time.Second, func() {
			loc := proto.Location{Node: h.node("raylet-1"), Raylet: "raylet-1"}
			h.on("owner", func(o *owner) {
				// One chunk after the other, as a reader whose window is
				// one would.
				var read func(off int64)
				read = func(off int64) {
					if off >= 1000 {
						return
					}
					o.cli.Call("raylet-2", &proto.GetObject{ID: obj(2), Owner: "owner", Locations: []proto.Location{loc}, Offset: off, Length: 300}, rpc.Options{}, func(m core.Message, err error) {
						if err != nil {
							h.t.Errorf("chunk at %d: %v", off, err)
							return
						}
						copy(got[off:], m.(*proto.GetObjectReply).Data)
						read(off + 300)
					})
				}
				read(0)
			})
		})
		h.at(3*time.Second, func() {
			r := h.raylet("raylet-2")
			if !bytes.Equal(got, want) {
				t.Errorf("the chunks read differ from the object")
			}
			if p := r.Stats().Pulls; p != 1 {
				t.Errorf("raylet-2 pulled the object %d times for 4 chunks, want once", p)
			}
			if r.Store().Contains(obj(2)) {
				t.Errorf("raylet-2 stored a copy past its capacity")
			}
			h.end()
		})
	})
}
