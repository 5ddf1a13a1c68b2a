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
