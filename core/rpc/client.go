package rpc

import (
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
)

// CallID names a call of one Client.
type CallID uint64

// Client issues calls. It is owned by one process and driven by that
// process's event loop: the process forwards every message to Handle.
type Client struct {
	env   core.Env
	codec *core.Codec
	id    uint64
	next  uint64
	low   uint64 // no call below this id is in flight
	calls map[uint64]*call
	// MaxPending bounds the calls in flight; Call fails beyond it.
	maxPending int
}

type call struct {
	id      uint64
	to      core.Addr
	req     *Request
	opts    Options
	backoff time.Duration
	retry   core.Timer
	expire  core.Timer
	cb      func(core.Message, error)
}

// DefaultMaxPending bounds a client's calls in flight.
const DefaultMaxPending = 100_000

// NewClient returns a client whose identity is drawn from env's PRNG, so a
// restarted process is a new client to every server.
func NewClient(env core.Env) *Client {
	return &Client{env: env, codec: core.NewCodec(0), id: env.Rand().Uint64() | 1, calls: map[uint64]*call{}, maxPending: DefaultMaxPending}
}

// ErrTooManyCalls is returned (through the callback) when a client already
// has DefaultMaxPending calls in flight.
var ErrTooManyCalls = fmt.Errorf("rpc: too many calls in flight (limit %d)", DefaultMaxPending)

// Call sends req to the server at to and calls cb exactly once: with the
// reply, with a definite *Error, with ErrTimeout (outcome unknown) or with
// ErrCancelled. cb runs on the process's event loop, never inside Call.
// req is encoded at every send (the first now, then at each retry), so it
// must not change until the call ends.
func (c *Client) Call(to core.Addr, req core.Message, opts Options, cb func(core.Message, error)) CallID {
	opts = opts.withDefaults()
	c.next++
	id := c.next
	// Measure it now, so that a message the codec refuses (unknown, too
	// large) fails the call rather than its sends.
	if _, err := c.codec.Size(req); err != nil {
		c.env.AfterFunc(0, func() { cb(nil, &Error{Code: CodeInvalid, Msg: err.Error()}) })
		return CallID(id)
	}
	if len(c.calls) >= c.maxPending {
		c.env.AfterFunc(0, func() { cb(nil, ErrTooManyCalls) })
		return CallID(id)
	}
	cl := &call{id: id, to: to, opts: opts, backoff: opts.RetryFirst, cb: cb,
		req: &Request{Client: c.id, ID: id, msg: req}}
	c.calls[id] = cl
	if opts.Timeout > 0 {
		cl.expire = c.env.AfterFunc(opts.Timeout, func() { c.finish(id, nil, ErrTimeout) })
	}
	c.send(cl)
	return CallID(id)
}

func (c *Client) send(cl *call) {
	r := *cl.req // a sent message must not be modified later
	r.AckBelow = c.ackBelow()
	c.env.Send(cl.to, &r)
	jitter := time.Duration(c.env.Rand().Int64N(int64(cl.backoff)/2 + 1))
	cl.retry = c.env.AfterFunc(cl.backoff+jitter, func() {
		if c.calls[cl.id] == cl {
			cl.backoff = min(2*cl.backoff, cl.opts.RetryMax)
			c.send(cl)
		}
	})
}

// ackBelow is the lowest id still in flight (or next+1 when none is). Ids
// only grow, so the low-water mark only moves forward: amortised O(1).
func (c *Client) ackBelow() uint64 {
	if c.low == 0 {
		c.low = 1
	}
	for c.low <= c.next && c.calls[c.low] == nil {
		c.low++
	}
	return c.low
}

// Cancel ends a call; its callback gets ErrCancelled. The server may still
// execute it.
func (c *Client) Cancel(id CallID) { c.finish(uint64(id), nil, ErrCancelled) }

// CancelTo cancels every call addressed to to, e.g. when the caller learns
// that the server's node died, and reports how many it cancelled. Their
// callbacks get err (ErrCancelled if nil).
func (c *Client) CancelTo(to core.Addr, err error) int {
	if err == nil {
		err = ErrCancelled
	}
	var ids []uint64
	for id, cl := range c.calls { //gray:unordered ids are sorted below
		if cl.to == to {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.finish(id, nil, err)
	}
	return len(ids)
}

// Pending returns the number of calls in flight.
func (c *Client) Pending() int { return len(c.calls) }

func (c *Client) finish(id uint64, m core.Message, err error) {
	cl, ok := c.calls[id]
	if !ok {
		return
	}
	delete(c.calls, id)
	if cl.retry != nil {
		cl.retry.Stop()
	}
	if cl.expire != nil {
		cl.expire.Stop()
	}
	cl.cb(m, err)
}

// Handle consumes a Response addressed to this client and reports whether
// m was one. Responses for other clients (a process may run several, and
// replies to a previous incarnation still arrive) are left to the caller,
// which may drop them.
func (c *Client) Handle(from core.Addr, m core.Message) bool {
	r, ok := m.(*Response)
	if !ok || r.Client != c.id {
		return false
	}
	cl, ok := c.calls[r.ID]
	if !ok || cl.to != from {
		return true // a duplicate, a late reply, or a spoof from another address
	}
	if r.Code != CodeOK {
		c.finish(r.ID, nil, &Error{Code: r.Code, Msg: r.Err})
		return true
	}
	reply, err := carried(r.msg, r.bad, r.Body, c.codec)
	if err == nil && reply == nil {
		err = fmt.Errorf("the response carries no reply")
	}
	if err != nil {
		c.finish(r.ID, nil, &Error{Code: CodeInvalid, Msg: fmt.Sprintf("undecodable reply from %s: %v", from, err)})
		return true
	}
	c.finish(r.ID, reply, nil)
	return true
}
