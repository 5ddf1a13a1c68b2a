package lease

import (
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Lease is a worker lease granted by a raylet. The holder gives it back
// with Client.Return at Raylet.
type Lease struct {
	ID       uint64
	Raylet   core.Addr // the raylet that granted it
	Node     core.NodeID
	Worker   core.Addr
	WorkerID core.WorkerID
}

// Errors that end a Request without a lease, besides the rpc errors of its
// last attempt (rpc.ErrTimeout, an *rpc.Error such as CodeUnavailable: the
// raylet is exiting or its queue is full). Match them with errors.Is.
var (
	// ErrInfeasible: the raylet found that no node can ever fit the
	// demand; asking again cannot help.
	ErrInfeasible = errors.New("lease: infeasible")
	// ErrDropped: the raylet dropped the request without an answer of its
	// own (it took the owner for gone); ask again.
	ErrDropped = errors.New("lease: the raylet dropped the request; ask again")
	// ErrDeadNode: the lease was granted by, or the request spilled back
	// to, a node the caller knows is dead (the raylet had not heard yet);
	// a grant was given back. Ask a live raylet.
	ErrDeadNode = errors.New("lease: granted by, or spilled to, a node known to be dead; ask a live raylet")
	// ErrNoBundle: the raylet holds no committed bundle of the placement
	// group the request names (proto.Strategy.Bundle); ask the GCS where
	// the group is.
	ErrNoBundle = errors.New("lease: the raylet holds no such placement group bundle")
)

// infeasibleError is the raylet's reason, which already says what is
// infeasible and what to do; it matches ErrInfeasible.
type infeasibleError string

func (e infeasibleError) Error() string        { return string(e) }
func (e infeasibleError) Is(target error) bool { return target == ErrInfeasible }

// Options tune a Request. Zero fields are off.
type Options struct {
	// Timeout bounds the wait for one raylet's answer (a lease request
	// waits in its queue meanwhile). Zero takes rpc.DefaultTimeout.
	Timeout time.Duration
	// RetryTimedOut makes a request that a raylet did not answer within
	// Timeout be given back and made again at the same raylet, rather
	// than end with rpc.ErrTimeout.
	RetryTimedOut bool
	// NodeDead reports the nodes the caller knows are dead: a grant from
	// one is given back with Disconnect, and a spillback to one is not
	// followed; either ends the request with ErrDeadNode.
	NodeDead func(core.NodeID) bool
	// OnSpillback is told of every spillback the request follows.
	OnSpillback func(to core.Addr)
	// OnAttempt is told when the request sends another attempt (after a
	// spillback or a timeout), which has a lease id of its own (ID).
	OnAttempt func()
}

// Client requests worker leases for one owner (the process whose address
// the raylets see). Lease ids are drawn from a counter that starts at a
// random point per Client, so that a restarted owner never reuses an id a
// raylet remembers from its previous incarnation.
type Client struct {
	env core.Env
	rpc *rpc.Client
	seq uint64
}

// NewClient returns a lease client whose calls go through cli, which the
// owner drives (it forwards rpc Responses to cli.Handle).
func NewClient(env core.Env, cli *rpc.Client) *Client {
	return &Client{env: env, rpc: cli, seq: env.Rand().Uint64() >> 20}
}

// Return gives a lease (or a lease request, by its id) back to raylet;
// disconnect asks it not to reuse the worker. It is one-way: the raylet's
// answer does not matter (a raylet that does not know the id remembers it
// as cancelled).
func (c *Client) Return(raylet core.Addr, id uint64, disconnect bool) {
	c.rpc.Call(raylet, &proto.ReturnLease{LeaseID: id, Owner: c.env.Self(), Disconnect: disconnect}, rpc.Options{}, func(core.Message, error) {})
}

// Request is one lease request, followed through spillbacks until it ends.
type Request struct {
	c       *Client
	spec    proto.TaskSpec
	opts    Options
	done    func(Lease, error)
	raylet  core.Addr
	id      uint64
	spilled bool
	call    rpc.CallID
	ended   bool
}

// Request asks raylet for a worker lease to run spec, and calls done
// exactly once, unless the request is cancelled first: with the lease, or
// with the error that ended the request (ErrInfeasible, ErrDropped,
// ErrDeadNode, or the last attempt's rpc error). done runs on the event
// loop, never inside Request.
func (c *Client) Request(spec proto.TaskSpec, raylet core.Addr, opts Options, done func(Lease, error)) *Request {
	r := &Request{c: c, spec: spec, opts: opts, done: done}
	r.send(raylet, false)
	return r
}

// ID returns the lease id of the request's current attempt: the id a
// raylet asks about in a LeaseCheck while it queues the request.
func (r *Request) ID() uint64 { return r.id }

// Raylet returns the raylet that holds the request's current attempt.
func (r *Request) Raylet() core.Addr { return r.raylet }

// Cancel ends the request without calling done, and gives back its current
// attempt (dropping it from the raylet's queue, or freeing a lease granted
// meanwhile). Cancelling an ended request does nothing.
func (r *Request) Cancel() {
	if r.ended {
		return
	}
	r.ended = true
	r.c.rpc.Cancel(r.call)
	r.c.Return(r.raylet, r.id, false)
}

func (r *Request) send(raylet core.Addr, spilled bool) {
	c := r.c
	c.seq++
	id := c.seq
	first := r.id == 0
	r.id, r.raylet, r.spilled = id, raylet, spilled
	req := &proto.RequestLease{Spec: r.spec, LeaseID: id, Spilled: spilled}
	r.call = c.rpc.Call(raylet, req, rpc.Options{Timeout: r.opts.Timeout}, func(m core.Message, err error) {
		r.answered(raylet, id, m, err)
	})
	if !first && r.opts.OnAttempt != nil {
		r.opts.OnAttempt()
	}
}

// answered handles the answer to the attempt id sent to raylet.
func (r *Request) answered(raylet core.Addr, id uint64, m core.Message, err error) {
	if r.ended || r.id != id {
		// Stale: the request ended or moved on. A lease granted anyway
		// must go back, or its worker and resources leak.
		if rep, ok := m.(*proto.LeaseReply); ok && err == nil && rep.Granted {
			r.c.Return(raylet, id, false)
		}
		return
	}
	if err != nil {
		// Timed out, or the raylet cannot take it (exiting, queue full):
		// drop it there.
		r.c.Return(raylet, id, false)
		if r.opts.RetryTimedOut && errors.Is(err, rpc.ErrTimeout) {
			r.send(raylet, r.spilled)
			return
		}
		r.end(Lease{}, fmt.Errorf("lease: request %d to %s: %w", id, raylet, err))
		return
	}
	rep := m.(*proto.LeaseReply)
	switch {
	case rep.NoBundle:
		r.end(Lease{}, fmt.Errorf("lease: request %d to %s: %s: %w", id, raylet, rep.Reason, ErrNoBundle))
	case rep.Infeasible:
		r.end(Lease{}, infeasibleError(rep.Reason))
	case rep.Spillback && !rep.SpillNode.IsNil() && r.opts.NodeDead != nil && r.opts.NodeDead(rep.SpillNode):
		// The raylet spilled to a node it had not heard was dead yet. Not
		// followed: the caller already handled that death, so nothing
		// would ever move an attempt waiting there (RetryTimedOut would
		// make it there again, for ever).
		r.end(Lease{}, fmt.Errorf("lease: request %d spilled by %s to %s on %v: %w", id, raylet, rep.SpillRaylet, rep.SpillNode, ErrDeadNode))
	case rep.Spillback:
		if r.opts.OnSpillback != nil {
			r.opts.OnSpillback(rep.SpillRaylet)
		}
		r.send(rep.SpillRaylet, true)
	case rep.Granted && r.opts.NodeDead != nil && r.opts.NodeDead(rep.Node):
		r.c.Return(raylet, id, true)
		r.end(Lease{}, fmt.Errorf("lease %d from %s on %v: %w", id, raylet, rep.Node, ErrDeadNode))
	case rep.Granted:
		r.end(Lease{ID: id, Raylet: raylet, Node: rep.Node, Worker: rep.Worker, WorkerID: rep.WorkerID}, nil)
	default: // Cancelled: a request this owner gave back, or one the raylet dropped
		r.end(Lease{}, fmt.Errorf("lease: request %d to %s: %w", id, raylet, ErrDropped))
	}
}

func (r *Request) end(l Lease, err error) {
	r.ended = true
	r.done(l, err)
}
