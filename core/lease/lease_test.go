package lease_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/lease"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/sim"
)

// raylet answers lease requests by the task's function name:
//
//	spill     spillback to raylet "r2" (which grants every request)
//	spilldead spillback to raylet "r3" on node 9 (which the owner knows is dead)
//	grant     granted on node 1
//	dead      granted on node 9 (which the owner knows is dead)
//	never     no answer
//	slow      no answer to the first attempt, then granted
//	infeas    infeasible
//	drop      Cancelled (the raylet dropped it)
//
// and records every ReturnLease.
type raylet struct {
	addr     core.Addr
	srv      *rpc.Server
	seen     map[string]int
	returned []proto.ReturnLease
}

func (r *raylet) Start(env core.Env) {
	r.srv = rpc.NewServer(env)
	r.srv.Register((&proto.RequestLease{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		req := m.(*proto.RequestLease)
		fn := req.Spec.Function
		r.seen[fn]++
		grant := &proto.LeaseReply{Granted: true, Worker: core.Addr("w-" + string(r.addr)), Node: core.NodeID{1}}
		switch {
		case r.addr == "r2" || fn == "grant":
			reply(grant, nil)
		case fn == "spill":
			reply(&proto.LeaseReply{Spillback: true, SpillRaylet: "r2"}, nil)
		case fn == "spilldead":
			reply(&proto.LeaseReply{Spillback: true, SpillRaylet: "r3", SpillNode: core.NodeID{9}}, nil)
		case fn == "dead":
			grant.Node = core.NodeID{9}
			reply(grant, nil)
		case fn == "slow" && r.seen[fn] > 1:
			reply(grant, nil)
		case fn == "infeas":
			reply(&proto.LeaseReply{Infeasible: true, Reason: "no GPU anywhere"}, nil)
		case fn == "drop":
			reply(&proto.LeaseReply{Cancelled: true}, nil)
		}
	})
	r.srv.Register((&proto.ReturnLease{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		r.returned = append(r.returned, *m.(*proto.ReturnLease))
		reply(&proto.Ack{}, nil)
	})
}

func (r *raylet) Receive(from core.Addr, m core.Message) { r.srv.Handle(from, m) }

type result struct {
	l     lease.Lease
	err   error
	calls int
}

// owner makes one request per case and records how each ended.
type owner struct {
	cli      *rpc.Client
	leases   *lease.Client
	results  map[string]*result
	spills   []core.Addr
	never    *lease.Request
	neverID  uint64
	finished int
}

const cases = 8 // requests whose done must run (all but the cancelled one)

func (o *owner) Start(env core.Env) {
	o.cli = rpc.NewClient(env)
	o.leases = lease.NewClient(env, o.cli)
	ask := func(fn string, opts lease.Options) *lease.Request {
		res := &result{}
		o.results[fn] = res
		return o.leases.Request(proto.TaskSpec{Function: fn, Owner: "owner"}, "r1", opts, func(l lease.Lease, err error) {
			res.l, res.err = l, err
			res.calls++
			o.finished++
		})
	}
	dead := func(n core.NodeID) bool { return n == core.NodeID{9} }
	ask("spill", lease.Options{OnSpillback: func(to core.Addr) { o.spills = append(o.spills, to) }})
	ask("grant", lease.Options{NodeDead: dead})
	ask("dead", lease.Options{NodeDead: dead})
	ask("spilldead", lease.Options{NodeDead: dead, OnSpillback: func(to core.Addr) { o.spills = append(o.spills, to) }})
	ask("slow", lease.Options{Timeout: time.Second, RetryTimedOut: true})
	ask("infeas", lease.Options{})
	ask("drop", lease.Options{})
	// never is asked twice: once to time out, once to be cancelled.
	ask("never", lease.Options{Timeout: time.Second})
	o.never = o.leases.Request(proto.TaskSpec{Function: "never", Owner: "owner"}, "r1", lease.Options{Timeout: -1}, func(lease.Lease, error) {
		o.results["cancelled"] = &result{calls: 1}
	})
	o.neverID = o.never.ID()
	env.AfterFunc(2*time.Second, o.never.Cancel)
}

func (o *owner) Receive(from core.Addr, m core.Message) { o.cli.Handle(from, m) }

type workload struct {
	r1, r2, r3 *raylet
	o          *owner
}

func (wl *workload) Setup(w *sim.World) error {
	w.AddProcess("r1", sim.ProcOptions{}, func() core.Process { return wl.r1 })
	w.AddProcess("r2", sim.ProcOptions{}, func() core.Process { return wl.r2 })
	w.AddProcess("r3", sim.ProcOptions{}, func() core.Process { return wl.r3 })
	w.AddProcess("owner", sim.ProcOptions{}, func() core.Process { return wl.o })
	return nil
}

// Done waits for every case and for the cancelled request's give-back.
func (wl *workload) Done() bool {
	for _, r := range wl.r1.returned {
		if r.LeaseID == wl.o.neverID {
			return wl.o.finished == cases
		}
	}
	return false
}
func (wl *workload) Pending() string {
	return fmt.Sprintf("%d of %d requests ended, %d leases returned", wl.o.finished, cases, len(wl.r1.returned))
}
func (wl *workload) Check(*sim.World) (string, string) { return "", "" }

// TestRequestOutcomes covers each way a lease request ends: spillback
// followed to a grant, a grant, a grant from a dead node (given back with
// Disconnect), a spillback to a dead node (not followed), a timed-out
// attempt made again, infeasible, dropped by the raylet, timed out, and
// cancelled (given back, done never called).
func TestRequestOutcomes(t *testing.T) {
	wl := &workload{
		r1: &raylet{addr: "r1", seen: map[string]int{}},
		r2: &raylet{addr: "r2", seen: map[string]int{}},
		r3: &raylet{addr: "r3", seen: map[string]int{}},
		o:  &owner{results: map[string]*result{}},
	}
	if r := sim.Run(sim.Config{Seed: 1}, wl, "lease"); !r.Passed {
		t.Fatal(r)
	}
	res := wl.o.results
	for fn, r := range res { //gray:unordered every entry is checked alone
		if r.calls != 1 && fn != "cancelled" {
			t.Errorf("%s: done called %d times, want 1", fn, r.calls)
		}
	}
	if r := res["cancelled"]; r != nil {
		t.Errorf("cancelled request: done called %d times, want never", r.calls)
	}
	if l := res["spill"].l; res["spill"].err != nil || l.Raylet != "r2" || l.Worker != "w-r2" || len(wl.o.spills) != 1 {
		t.Errorf("spill: %+v, %v after spillbacks %v; want a lease from r2 after one spillback to r2", l, res["spill"].err, wl.o.spills)
	}
	if l := res["grant"].l; res["grant"].err != nil || l.Raylet != "r1" || l.Node != (core.NodeID{1}) || l.ID == 0 {
		t.Errorf("grant: %+v, %v; want a lease from r1 on node 1", l, res["grant"].err)
	}
	if !errors.Is(res["dead"].err, lease.ErrDeadNode) {
		t.Errorf("dead: %v, want ErrDeadNode", res["dead"].err)
	}
	if err := res["spilldead"].err; !errors.Is(err, lease.ErrDeadNode) || wl.r3.seen["spilldead"] != 0 {
		t.Errorf("spilldead: %v after %d requests to r3; want ErrDeadNode and none sent to the dead node's raylet", err, wl.r3.seen["spilldead"])
	}
	if res["slow"].err != nil || wl.r1.seen["slow"] != 2 {
		t.Errorf("slow: %v after %d attempts, want a lease on the second", res["slow"].err, wl.r1.seen["slow"])
	}
	if err := res["infeas"].err; !errors.Is(err, lease.ErrInfeasible) || !strings.Contains(err.Error(), "no GPU anywhere") {
		t.Errorf("infeas: %v, want ErrInfeasible with the raylet's reason", err)
	}
	if !errors.Is(res["drop"].err, lease.ErrDropped) {
		t.Errorf("drop: %v, want ErrDropped", res["drop"].err)
	}
	if !errors.Is(res["never"].err, rpc.ErrTimeout) {
		t.Errorf("never: %v, want rpc.ErrTimeout", res["never"].err)
	}
	// Given back: the dead node's grant (with Disconnect), the timed-out
	// attempts of slow and never, and the cancelled request; nothing else.
	disconnects, cancelled := 0, false
	for _, r := range wl.r1.returned {
		if r.Disconnect {
			disconnects++
		}
		cancelled = cancelled || (r.LeaseID == wl.o.neverID && !r.Disconnect)
	}
	if len(wl.r1.returned) != 4 || disconnects != 1 || !cancelled || len(wl.r2.returned) != 0 || len(wl.r3.returned) != 0 {
		t.Errorf("returned to r1 %v, to r2 %v and to r3 %v; want 4 to r1 (one with Disconnect, and %d without) and none to r2 or r3", wl.r1.returned, wl.r2.returned, wl.r3.returned, wl.o.neverID)
	}
}
