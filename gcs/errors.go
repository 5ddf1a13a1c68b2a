package gcs

import (
	"errors"

	"github.com/grayrt/gray/core/rpc"
)

// Errors returned to Client callbacks. Match them with errors.Is. The GCS
// client is a layer over rpc.Client, so its errors are rpc's: these are
// the same values under the names GCS callers know, and a definite failure
// reported by the server is an *rpc.Error matching one of them.
var (
	// ErrTimeout: no reply arrived before the call's deadline. The outcome
	// is unknown: the request may have been applied, now or later. Callers
	// must not assume it failed; re-read the state instead.
	ErrTimeout = rpc.ErrTimeout
	// ErrInvalid: the request was malformed (caught by the client or the
	// server); it was not applied and retrying it cannot help.
	ErrInvalid = rpc.ErrInvalid
	// ErrNotFound: the key, node, job, actor or subscriber does not exist.
	ErrNotFound = rpc.ErrNotFound
	// ErrConflict: the entity already exists in a conflicting form.
	ErrConflict = rpc.ErrConflict
	// ErrFailedPrecondition: the state forbids the request (dead node, dead
	// actor, invalid transition).
	ErrFailedPrecondition = rpc.ErrFailedPrecondition
	// ErrUnavailable: the server refused the request for now. The client
	// retries such replies itself (rpc.Options.RetryUnavailable); callers
	// see it only as a cause.
	ErrUnavailable = rpc.ErrUnavailable
	// ErrOverloaded: the client already has ClientOptions.InFlightMax calls
	// in flight; the call was not sent. Wait for earlier calls to finish.
	ErrOverloaded = rpc.ErrOverloaded
	// ErrClosed: the client was closed before the call finished.
	ErrClosed = errors.New("gcs: client closed")
)

// replyError returns nil for CodeOK and an *rpc.Error otherwise.
func replyError(code rpc.Code, msg string) error {
	if code == rpc.CodeOK {
		return nil
	}
	return &rpc.Error{Code: code, Msg: msg}
}
