package rpc_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/sim"
)

// framedReq and framedReply are a protocol of their own, as the GCS's
// requests and replies are: the call's id and ack floor travel in the
// request, the reply echoes the id and carries a code.
type framedReq struct {
	ID, AckBelow uint64
	A            int
}

func (*framedReq) MsgType() core.MsgType { return 65104 }

type framedReply struct {
	ID   uint64
	Code rpc.Code
	Sum  int
}

func (*framedReply) MsgType() core.MsgType { return 65105 }

func init() {
	core.RegisterMessage(65104, 1, "test.FramedReq", func() core.Message { return new(framedReq) })
	core.RegisterMessage(65105, 1, "test.FramedReply", func() core.Message { return new(framedReply) })
}

// refuser answers Unavailable to the first two sends of every call, then
// the sum; unlike rpc.Server it keeps no replies, as the GCS keeps none for
// refusals.
type refuser struct {
	env   core.Env
	sends map[uint64]int
	acks  []uint64 // AckBelow of every request, in arrival order
}

func (r *refuser) Start(env core.Env) { r.env = env }

func (r *refuser) Receive(from core.Addr, m core.Message) {
	q := m.(*framedReq)
	r.acks = append(r.acks, q.AckBelow)
	r.sends[q.ID]++
	if r.sends[q.ID] <= 2 {
		r.env.Send(from, &framedReply{ID: q.ID, Code: rpc.CodeUnavailable})
		return
	}
	r.env.Send(from, &framedReply{ID: q.ID, Sum: q.A + 1})
}

type framedCaller struct {
	cli            *rpc.Client
	retried, plain error
	sum            int
	cancelled      []error
	stampID, stamp uint64
	done           int
}

func (c *framedCaller) Start(env core.Env) {
	c.cli = rpc.NewClientWith(env, rpc.ClientConfig{Frame: func(id, ack uint64, m core.Message) core.Message {
		return &framedReq{ID: id, AckBelow: ack, A: m.(*addReq).A}
	}})
	// Once both calls to the server ended, close: CancelAll ends the two
	// calls to nowhere.
	ended := func() {
		if c.done++; c.done == 2 {
			c.cli.CancelAll(fmt.Errorf("closed: %w", rpc.ErrCancelled))
		}
	}
	c.cli.Call("server", &addReq{A: 41}, rpc.Options{RetryUnavailable: true}, func(m core.Message, err error) {
		c.retried = err
		if err == nil {
			c.sum = m.(*framedReply).Sum
		}
		ended()
	})
	c.cli.Call("server", &addReq{A: 1}, rpc.Options{}, func(_ core.Message, err error) { c.plain = err; ended() })
	for i := range 2 {
		c.cli.Call("nowhere", &addReq{}, rpc.Options{Timeout: -1}, func(_ core.Message, err error) {
			c.cancelled = append(c.cancelled, fmt.Errorf("call %d: %w", i, err))
			c.done++
		})
	}
	// A one-way message: a fresh id, and the floor of the first call, which
	// is still in flight.
	c.stampID, c.stamp = c.cli.Stamp()
}

func (c *framedCaller) Receive(from core.Addr, m core.Message) {
	r := m.(*framedReply)
	var err error
	if r.Code != rpc.CodeOK {
		err = &rpc.Error{Code: r.Code, Msg: "refused"}
	}
	c.cli.Deliver(from, rpc.CallID(r.ID), r, err)
}

type framedWorkload struct {
	server *refuser
	caller *framedCaller
}

func (wl *framedWorkload) Setup(w *sim.World) error {
	w.AddProcess("server", sim.ProcOptions{}, func() core.Process { return wl.server })
	w.AddProcess("client", sim.ProcOptions{}, func() core.Process { return wl.caller })
	return nil
}
func (wl *framedWorkload) Done() bool                        { return wl.caller.done == 4 }
func (wl *framedWorkload) Pending() string                   { return fmt.Sprintf("%d of 4 calls ended", wl.caller.done) }
func (wl *framedWorkload) Check(*sim.World) (string, string) { return "", "" }

// TestFramedClient drives a client whose calls travel in another
// protocol's messages: Unavailable is resent with RetryUnavailable and
// final without it, a Stamp takes an id without holding the floor, and
// CancelAll ends the calls in their order with the given error.
func TestFramedClient(t *testing.T) {
	wl := &framedWorkload{server: &refuser{sends: map[uint64]int{}}, caller: &framedCaller{}}
	if r := sim.Run(sim.Config{Seed: 1}, wl, "rpc-framed"); !r.Passed {
		t.Fatal(r)
	}
	c := wl.caller
	if c.retried != nil || c.sum != 42 {
		t.Errorf("call with RetryUnavailable = %d, %v; want 42, nil", c.sum, c.retried)
	}
	if !errors.Is(c.plain, rpc.ErrUnavailable) || rpc.CodeOf(c.plain) != rpc.CodeUnavailable {
		t.Errorf("call without RetryUnavailable = %v, want an Unavailable *rpc.Error", c.plain)
	}
	if got := wl.server.sends[1]; got != 3 {
		t.Errorf("call with RetryUnavailable sent %d times, want 3 (two refusals, then the answer)", got)
	}
	if c.stampID != 5 || c.stamp != 1 {
		t.Errorf("Stamp() = %d, %d; want 5 (after four calls), 1 (the first call's floor)", c.stampID, c.stamp)
	}
	if len(c.cancelled) != 2 || c.cli.Pending() != 0 {
		t.Fatalf("CancelAll gave %v with %d calls pending, want two errors and none", c.cancelled, c.cli.Pending())
	}
	for i, err := range c.cancelled {
		if want := fmt.Sprintf("call %d: closed: ", i); !errors.Is(err, rpc.ErrCancelled) || err.Error()[:len(want)] != want {
			t.Errorf("CancelAll's callback %d got %v, want call %d closed (ErrCancelled)", i, err, i)
		}
	}
	for i, a := range wl.server.acks {
		if a != 1 {
			t.Errorf("request %d carried AckBelow %d, want 1 (the first call was in flight while any was sent)", i, a)
		}
	}
}
