// Package rpc gives sans-IO components request/response calls over
// core.Env's lossy Send: request ids, deadlines, retries with backoff and
// jitter, and at-most-once execution on the server through a bounded table
// of recent replies.
//
// A call's request and reply are ordinary registered messages, carried
// encoded inside Request and Response envelopes, so one client and one
// server serve every method of a component. Retries resend the same
// (client, id): a server that is still working on it ignores the copy, one
// that finished resends the cached reply, so a handler runs at most once per
// call for as long as the server process lives. Servers keep no table across
// crashes; components whose handlers have durable effects (the GCS) persist
// their own dedup records.
//
// The Client is the project's one retrying client: the GCS client
// (package gcs) is a typed layer over it that frames calls in the GCS's
// own request messages (ClientConfig.Frame), whose server keeps durable
// dedup records keyed by the same (client, id, ack floor). Code and Error
// are likewise shared: the GCS's replies carry the same codes.
package rpc

import (
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
)

// Wire type codes (core range 1–999).
const (
	msgRequest  core.MsgType = 10
	msgResponse core.MsgType = 11
)

// Request carries one call's request message. On the wire the message is
// a bin field holding its envelope (key "b"), written and read in place
// (core.EncodeCarried): Client.Call carries the message itself, and a
// decoded Request holds the message decoded (see Carried). Body is the
// encoded message of a Request built by hand.
type Request struct {
	Client   uint64 // random per client incarnation
	ID       uint64 // increases per call
	AckBelow uint64 // the client waits for no id below this
	Body     []byte

	msg core.Message // the carried message, to encode or decoded
	bad error        // why the carried message did not decode
}

// MsgType implements core.Message.
func (*Request) MsgType() core.MsgType { return msgRequest }

// Validate implements core.Validator.
func (r *Request) Validate() error {
	if r.ID == 0 || r.AckBelow > r.ID {
		return fmt.Errorf("id %d ack_below %d", r.ID, r.AckBelow)
	}
	return nil
}

// Response carries the reply to Request (Client, ID): a message, carried
// as Request carries its message, or an error code and message.
type Response struct {
	Client uint64
	ID     uint64
	Code   Code
	Err    string
	Body   []byte

	msg core.Message
	bad error
}

// MsgType implements core.Message.
func (*Response) MsgType() core.MsgType { return msgResponse }

func init() {
	core.RegisterMessage(msgRequest, 1, "rpc.Request", func() core.Message { return new(Request) })
	core.RegisterMessage(msgResponse, 1, "rpc.Response", func() core.Message { return new(Response) })
}

// Code classifies a definite failure reported by a server. It is the one
// code enum of the project: rpc.Response and the GCS's Reply (and the
// replies the GCS persists in its dedup records) carry it, so the values
// are fixed: add codes at the end, never renumber.
type Code uint8

// Error codes. CodeOK means the reply holds the result.
const (
	CodeOK Code = iota
	// CodeInvalid: the request was malformed or named something that cannot
	// exist; retrying cannot help.
	CodeInvalid
	// CodeNotFound: the server does not know the entity.
	CodeNotFound
	// CodeConflict: the entity already exists in a conflicting form.
	CodeConflict
	// CodeFailedPrecondition: the request is valid but the state forbids it
	// (a dead node, a dead actor, an invalid state transition).
	CodeFailedPrecondition
	// CodeUnavailable: the server cannot serve this now (draining, fenced,
	// a full queue or dedup window). Options.RetryUnavailable makes the
	// client resend such calls instead of failing them.
	CodeUnavailable
	// CodeUnimplemented: the server has no handler for the request type.
	CodeUnimplemented
	// CodeFailed: the operation ran and failed; Err says why.
	CodeFailed
	numCodes
)

var codeNames = [...]string{"OK", "Invalid", "NotFound", "Conflict", "FailedPrecondition", "Unavailable", "Unimplemented", "Failed"}

func (c Code) String() string {
	if c.Valid() {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Valid reports whether c is one of the codes above (decoders of replies
// refuse the others).
func (c Code) Valid() bool { return c < numCodes }

// Errors of calls. Match them with errors.Is.
var (
	// ErrTimeout means a call's deadline passed without a reply. The
	// outcome is unknown: the request may have been executed, now or
	// later. Callers must not assume it failed; re-read the state instead.
	ErrTimeout = errors.New("rpc: no reply before the deadline; the outcome is unknown, re-read the state before retrying")
	// ErrCancelled means the caller cancelled the call.
	ErrCancelled = errors.New("rpc: call cancelled")
	// ErrOverloaded means the client already had its limit of calls in
	// flight (ClientConfig.PendingMax); the call was not sent.
	ErrOverloaded = errors.New("rpc: too many calls in flight; wait for earlier calls to finish")

	// ErrInvalid matches an *Error of CodeInvalid: the request was
	// malformed (caught by the client or the server); it was not executed
	// and retrying it cannot help.
	ErrInvalid = errors.New("rpc: invalid argument")
	// ErrNotFound matches an *Error of CodeNotFound.
	ErrNotFound = errors.New("rpc: not found")
	// ErrConflict matches an *Error of CodeConflict.
	ErrConflict = errors.New("rpc: conflict")
	// ErrFailedPrecondition matches an *Error of CodeFailedPrecondition.
	ErrFailedPrecondition = errors.New("rpc: failed precondition")
	// ErrUnavailable matches an *Error of CodeUnavailable.
	ErrUnavailable = errors.New("rpc: unavailable")
)

// Error is a definite failure reported by the server (or found by the
// client before sending: CodeInvalid). It matches the sentinel of its
// Code with errors.Is (ErrNotFound for CodeNotFound and so on).
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("rpc: %v: %s", e.Code, e.Msg) }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool { return target != nil && target == codeSentinel(e.Code) }

func codeSentinel(c Code) error {
	switch c {
	case CodeInvalid:
		return ErrInvalid
	case CodeNotFound:
		return ErrNotFound
	case CodeConflict:
		return ErrConflict
	case CodeFailedPrecondition:
		return ErrFailedPrecondition
	case CodeUnavailable:
		return ErrUnavailable
	}
	return nil
}

// Errorf builds an *Error for a handler to return.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err if it is an *Error, else CodeFailed.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeFailed
}

// Options tune one call. Zero fields take the defaults.
type Options struct {
	// Timeout bounds the whole call, retries included. Negative means no
	// deadline: the call retries until it is answered or cancelled.
	Timeout time.Duration
	// RetryFirst is the nominal wait before the first resend; it doubles
	// per resend up to RetryMax. Each wait is drawn uniformly from
	// [nominal/2, 3·nominal/2] so that clients that lost the same server
	// do not resend in lockstep.
	RetryFirst, RetryMax time.Duration
	// RetryUnavailable makes a CodeUnavailable reply not final: the call
	// is resent at its next retry, until another answer or its deadline.
	// For servers whose Unavailable means "not now" (the GCS refusing a
	// request beyond a client's dedup window, which the oldest call's
	// completion opens). A Server caches its replies, refusals included,
	// so calls to a Server gain nothing from it.
	RetryUnavailable bool
}

// Defaults of Options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRetryFirst = 50 * time.Millisecond
	DefaultRetryMax   = 2 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryFirst <= 0 {
		o.RetryFirst = DefaultRetryFirst
	}
	if o.RetryMax < o.RetryFirst {
		o.RetryMax = max(DefaultRetryMax, o.RetryFirst)
	}
	return o
}
