package raylet_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// TestSharedPutAndGet: a process on the raylet's host puts an object by
// writing it through the segment CreateShared names and sealing it; a
// reader of the host gets the segment's handle and reads the bytes; a
// reader asking for bytes gets a copy that stays intact after the object
// is freed (the simulator poisons a freed segment, as a real host unmaps
// it: bytes kept from it in a reply would be garbage, or a fault); a
// process of another host cannot open the segment.
func TestSharedPutAndGet(t *testing.T) {
	want := bytes.Repeat([]byte("shared"), 1000)
	create := proto.CreateShared{ID: obj(1), Owner: "owner", OwnerID: 1, Size: int64(len(want))}
	body, err := core.NewCodec(0).Encode(&proto.GetObject{ID: obj(1), Owner: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	getByHand := &rpc.Request{Client: 77, ID: 1, Body: body}
	runScenario(t, func(h *world) {
		h.addOwner("owner", "node-1", newOwner(1))
		h.addOwner("stranger", "node-9", newOwner(1))
		var kept []byte
		h.at(time.Second, func() {
			h.on("owner", func(o *owner) {
				o.cli.Call("raylet-1", &create, rpc.Options{}, func(m core.Message, err error) {
					if err != nil {
						h.t.Fatalf("CreateShared: %v", err)
					}
					seg, err := core.ShmOf(o.env).ShmOpen(m.(*proto.CreateSharedReply).Shm, create.Size, true)
					if err != nil {
						h.t.Fatalf("open the segment to write: %v", err)
					}
					copy(seg.Bytes(), want)
					seg.Close()
					o.cli.Call("raylet-1", &proto.SealShared{CreateShared: create}, rpc.Options{}, func(m core.Message, err error) {
						if err != nil || !m.(*proto.PutObjectReply).Sealed {
							h.t.Errorf("SealShared = %v, %v; want sealed", m, err)
						}
					})
				})
			})
		})
		h.at(2*time.Second, func() {
			r := h.raylet("raylet-1")
			if st := r.Store().Stats(); st.SharedObjects != 1 || !r.Store().Contains(obj(1)) || r.Stats().SharedPuts != 1 {
				t.Fatalf("after the shared put: %d shared objects, contains %v, %d shared puts; want 1, true, 1", st.SharedObjects, r.Store().Contains(obj(1)), r.Stats().SharedPuts)
			}
			h.on("owner", func(o *owner) {
				o.cli.Call("raylet-1", &proto.GetObject{ID: obj(1), Owner: "owner", Shared: true}, rpc.Options{}, func(m core.Message, err error) {
					g, _ := m.(*proto.GetObjectReply)
					if err != nil || g.Shm == "" || len(g.Data) != 0 {
						h.t.Fatalf("GetObject.Shared = %+v, %v; want a handle", g, err)
					}
					seg, err := core.ShmOf(o.env).ShmOpen(g.Shm, g.Size, false)
					if err != nil || !bytes.Equal(seg.Bytes(), want) {
						h.t.Fatalf("read through the segment: %v", err)
					}
					seg.Close()
					h.on("stranger", func(s *owner) {
						if _, err := core.ShmOf(s.env).ShmOpen(g.Shm, g.Size, false); !errors.Is(err, core.ErrShmForeign) {
							h.t.Errorf("another host's open = %v, want ErrShmForeign", err)
						}
					})
				})
				// A GetObject by hand, so that the test can send the very
				// same request again once the object is freed.
				o.intercept = func(_ core.Addr, m core.Message) bool {
					r, ok := m.(*rpc.Response)
					if !ok || r.Client != 77 {
						return false
					}
					reply, err := r.Carried()
					if g, ok := reply.(*proto.GetObjectReply); ok && err == nil {
						kept = g.Data
					} else {
						h.t.Errorf("GetObject by hand = %v, %v", reply, err)
					}
					return true
				}
				o.env.Send("raylet-1", getByHand)
			})
		})
		h.at(3*time.Second, func() {
			// The raylet's reply, which its rpc server keeps for a
			// resent request (sent again at 3.5 s), must not share the
			// segment's memory.
			h.call("owner", "raylet-1", &proto.FreeObjects{IDs: []core.ObjectID{obj(1)}})
		})
		h.at(3500*time.Millisecond, func() {
			kept = nil
			h.on("owner", func(o *owner) { o.env.Send("raylet-1", getByHand) })
		})
		h.at(4*time.Second, func() {
			r := h.raylet("raylet-1")
			if r.Store().Contains(obj(1)) || r.Store().Stats().SharedObjects != 0 {
				t.Errorf("after the free: contains %v, %d shared objects; want neither", r.Store().Contains(obj(1)), r.Store().Stats().SharedObjects)
			}
			if !bytes.Equal(kept, want) {
				t.Errorf("bytes of a GetObject reply changed once the object was freed: they shared the segment")
			}
			h.end()
		})
	})
}

// TestSharedPutAbortAndRestart: an aborted shared put frees its space,
// and a seal that reaches a raylet restarted since the create is refused
// with NotFound (the worker puts the object again).
func TestSharedPutAbortAndRestart(t *testing.T) {
	create := proto.CreateShared{ID: obj(1), Owner: "owner", OwnerID: 1, Size: 4096}
	runScenario(t, func(h *world) {
		h.addOwner("owner", "node-1", newOwner(1))
		h.at(time.Second, func() {
			h.call("owner", "raylet-1", &create)
		})
		h.at(2*time.Second, func() {
			if st := h.raylet("raylet-1").Store().Stats(); st.Used != 4096 || st.SharedObjects != 1 {
				t.Fatalf("after the create: %d bytes used, %d shared; want 4096, 1", st.Used, st.SharedObjects)
			}
			h.call("owner", "raylet-1", &proto.SealShared{CreateShared: create, Abort: true})
		})
		h.at(3*time.Second, func() {
			if st := h.raylet("raylet-1").Store().Stats(); st.Used != 0 || st.SharedObjects != 0 {
				t.Fatalf("after the abort: %d bytes used, %d shared; want none", st.Used, st.SharedObjects)
			}
			h.call("owner", "raylet-1", &create)
		})
		h.at(4*time.Second, func() {
			h.w.Crash("raylet-1", "test")
		})
		h.at(10*time.Second, func() {
			h.on("owner", func(o *owner) {
				o.cli.Call("raylet-1", &proto.SealShared{CreateShared: create}, rpc.Options{}, func(_ core.Message, err error) {
					var re *rpc.Error
					if !errors.As(err, &re) || re.Code != rpc.CodeNotFound {
						h.t.Errorf("seal after a restart = %v, want NotFound", err)
					}
					h.end()
				})
			})
		})
	})
}
