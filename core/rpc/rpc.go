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

// Code classifies a definite failure reported by a server.
type Code uint8

// Error codes. CodeOK means the Body holds the reply.
const (
	CodeOK Code = iota
	// CodeInvalid: the request was malformed or named something that cannot
	// exist; retrying cannot help.
	CodeInvalid
	// CodeNotFound: the server does not know the entity.
	CodeNotFound
	// CodeUnavailable: the server cannot serve this now (draining, fenced).
	CodeUnavailable
	// CodeUnimplemented: the server has no handler for the request type.
	CodeUnimplemented
	// CodeFailed: the operation ran and failed; Err says why.
	CodeFailed
)

var codeNames = [...]string{"OK", "Invalid", "NotFound", "Unavailable", "Unimplemented", "Failed"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// ErrTimeout means a call's deadline passed without a reply. The outcome is
// unknown: the request may or may not have been executed.
var ErrTimeout = errors.New("rpc: deadline exceeded; the outcome is unknown")

// ErrCancelled means the caller cancelled the call.
var ErrCancelled = errors.New("rpc: call cancelled")

// Error is a definite failure reported by the server.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("rpc: %v: %s", e.Code, e.Msg) }

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
	// RetryFirst is the wait before the first resend; it doubles up to
	// RetryMax, with up to 50% random jitter added.
	RetryFirst, RetryMax time.Duration
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
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	return o
}
