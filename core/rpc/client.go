package rpc

import (
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
)

// CallID names a call of one Client.
type CallID uint64

// Client issues calls: it numbers them, resends them with backoff and
// jitter until they are answered, time out or are cancelled, and tells
// servers which calls it no longer waits for (the ack floor). It is the
// one retrying client of the project: components that speak Request and
// Response use it as is; the GCS client frames its calls in messages of
// its own (ClientConfig.Frame) and hands their replies to Deliver.
//
// A Client is owned by one process and driven by that process's event
// loop: the process forwards every message to Handle (or, for framed
// clients, replies to Deliver). It is not safe for concurrent use.
type Client struct {
	env   core.Env
	codec *core.Codec
	cfg   ClientConfig
	id    uint64
	next  uint64
	low   uint64 // no call below this id is in flight
	calls map[uint64]*call
}

// ClientConfig tunes a Client. Zero fields take the defaults.
type ClientConfig struct {
	// Frame builds the message sent for one attempt of call id, whose
	// client waits for no call below ackBelow (ackBelow <= id). Nil frames
	// calls in Request envelopes, answered by a Server with Responses.
	// A framed client's replies come back in messages of the framing's
	// protocol: its owner decodes them and passes them to Deliver. Frame
	// must return a new message each time (a sent message is never
	// modified).
	Frame func(id, ackBelow uint64, req core.Message) core.Message
	// PendingMax bounds the calls in flight; more fail with ErrOverloaded
	// without being sent. Default DefaultPendingMax.
	PendingMax int
	// Route, if set, picks the address of each attempt of a call (made
	// to to; attempt counts from 1): a client of a replicated service
	// sends to the member it believes serves. Answers count only from the
	// address of the last attempt.
	Route func(to core.Addr, attempt int) core.Addr
}

type call struct {
	id       uint64
	to       core.Addr
	req      core.Message
	opts     Options
	backoff  time.Duration
	attempts int
	retry    core.Timer
	expire   core.Timer
	cb       func(core.Message, error)
}

// DefaultPendingMax bounds a client's calls in flight.
const DefaultPendingMax = 100_000

// NewClient returns a client that frames its calls in Request envelopes.
// Its identity is drawn from env's PRNG, so a restarted process is a new
// client to every server.
func NewClient(env core.Env) *Client { return NewClientWith(env, ClientConfig{}) }

// NewClientWith returns a client tuned by cfg; see NewClient.
func NewClientWith(env core.Env, cfg ClientConfig) *Client {
	if cfg.PendingMax <= 0 {
		cfg.PendingMax = DefaultPendingMax
	}
	return &Client{env: env, codec: core.NewCodec(0), cfg: cfg, id: env.Rand().Uint64() | 1, calls: map[uint64]*call{}}
}

// ID returns the client's identity (never 0), which heads its Requests.
func (c *Client) ID() uint64 { return c.id }

// Call sends req to the server at to and calls cb exactly once: with the
// reply, with a definite *Error, with an error matching ErrTimeout
// (outcome unknown), ErrOverloaded (not sent) or the error given to
// Cancel, CancelTo or CancelAll. cb runs on the process's event loop,
// never inside Call. req is encoded at every send (the first now, then at
// each retry), so it must not change until the call ends.
func (c *Client) Call(to core.Addr, req core.Message, opts Options, cb func(core.Message, error)) CallID {
	opts = opts.withDefaults()
	if n := len(c.calls); n >= c.cfg.PendingMax {
		c.env.AfterFunc(0, func() { cb(nil, fmt.Errorf("%d calls in flight: %w", n, ErrOverloaded)) })
		return 0
	}
	c.next++
	id := c.next
	// Measure it now, so that a message the codec refuses (unknown, too
	// large) fails the call rather than its sends.
	if _, err := c.codec.Size(req); err != nil {
		c.env.AfterFunc(0, func() { cb(nil, &Error{Code: CodeInvalid, Msg: err.Error()}) })
		return CallID(id)
	}
	cl := &call{id: id, to: to, req: req, opts: opts, backoff: opts.RetryFirst, cb: cb}
	c.calls[id] = cl
	// The deadline is a timer of its own rather than a comparison with
	// Now() in the retry path, so that the call ends after Timeout however
	// coarse or drifting the driver's clock and timers are.
	if opts.Timeout > 0 {
		cl.expire = c.env.AfterFunc(opts.Timeout, func() {
			c.finish(id, nil, fmt.Errorf("%d attempts in %v: %w", cl.attempts, opts.Timeout, ErrTimeout))
		})
	}
	c.send(cl)
	return CallID(id)
}

// send (re)sends a call with the same id and a fresh ack floor, and arms
// the retry timer: the nominal backoff doubles per send up to RetryMax,
// and the wait is drawn from [backoff/2, 3·backoff/2].
func (c *Client) send(cl *call) {
	cl.attempts++
	if c.cfg.Route != nil {
		cl.to = c.cfg.Route(cl.to, cl.attempts)
	}
	c.env.Send(cl.to, c.frame(cl.id, c.ackBelow(), cl.req))
	wait := cl.backoff/2 + time.Duration(c.env.Rand().Int64N(int64(cl.backoff)+1))
	cl.backoff = min(2*cl.backoff, cl.opts.RetryMax)
	cl.retry = c.env.AfterFunc(wait, func() {
		if c.calls[cl.id] == cl {
			c.send(cl)
		}
	})
}

// ResendNow resends every call in flight at once, oldest first, with its
// backoff back at RetryFirst: the owner learned that its calls now have
// a better destination (Route), such as a new leader.
func (c *Client) ResendNow() {
	ids := make([]uint64, 0, len(c.calls))
	for id := range c.calls { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		cl := c.calls[id]
		if cl.retry != nil {
			cl.retry.Stop()
		}
		cl.backoff = cl.opts.RetryFirst
		c.send(cl)
	}
}

// frame builds a fresh message for one attempt (a sent message must not
// be modified later).
func (c *Client) frame(id, ackBelow uint64, req core.Message) core.Message {
	if c.cfg.Frame != nil {
		return c.cfg.Frame(id, ackBelow, req)
	}
	return &Request{Client: c.id, ID: id, AckBelow: ackBelow, msg: req}
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

// Stamp takes the next id for a one-way message of the client's framing
// that is not a call (the GCS client's long polls: resent by their owner
// with a new id, never retried, never holding the ack floor back). It
// returns the id and the ack floor to send with it.
func (c *Client) Stamp() (id, ackBelow uint64) {
	c.next++
	return c.next, min(c.next, c.ackBelow())
}

// Cancel ends a call; its callback gets ErrCancelled. The server may still
// execute it.
func (c *Client) Cancel(id CallID) { c.finish(uint64(id), nil, ErrCancelled) }

// CancelTo cancels every call addressed to to, e.g. when the caller learns
// that the server's node died, and reports how many it cancelled. Their
// callbacks get err (ErrCancelled if nil), in the order of the calls.
func (c *Client) CancelTo(to core.Addr, err error) int {
	return c.cancelWhere(func(cl *call) bool { return cl.to == to }, err)
}

// CancelAll cancels every call, e.g. when the client's owner closes it,
// and reports how many it cancelled. Their callbacks get err (ErrCancelled
// if nil), in the order of the calls.
func (c *Client) CancelAll(err error) int {
	return c.cancelWhere(func(*call) bool { return true }, err)
}

func (c *Client) cancelWhere(match func(*call) bool, err error) int {
	if err == nil {
		err = ErrCancelled
	}
	var ids []uint64
	for id, cl := range c.calls { //gray:unordered ids are sorted below
		if match(cl) {
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
	if r.Code != CodeOK {
		c.Deliver(from, CallID(r.ID), nil, &Error{Code: r.Code, Msg: r.Err})
		return true
	}
	if cl, ok := c.calls[r.ID]; !ok || cl.to != from {
		return true // a duplicate, a late reply, or a spoof from another address
	}
	reply, err := carried(r.msg, r.bad, r.Body, c.codec)
	if err == nil && reply == nil {
		err = fmt.Errorf("the response carries no reply")
	}
	if err != nil {
		c.Deliver(from, CallID(r.ID), nil, &Error{Code: CodeInvalid, Msg: fmt.Sprintf("undecodable reply from %s: %v", from, err)})
		return true
	}
	c.Deliver(from, CallID(r.ID), reply, nil)
	return true
}

// Deliver ends call id with the answer that arrived from from: a reply, or
// a definite *Error. Answers from another address than the call's (a
// spoof, or a reply to an earlier call of a reused id) and answers to
// calls that ended (duplicates, late replies) are dropped, as is a
// CodeUnavailable error of a call with Options.RetryUnavailable (its retry
// timer resends it). Handle calls it for Responses; framed clients' owners
// call it for their protocol's replies.
func (c *Client) Deliver(from core.Addr, id CallID, reply core.Message, err error) {
	cl, ok := c.calls[uint64(id)]
	if !ok || cl.to != from {
		return
	}
	if err != nil && cl.opts.RetryUnavailable && CodeOf(err) == CodeUnavailable {
		return
	}
	c.finish(uint64(id), reply, err)
}
