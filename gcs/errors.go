package gcs

import "errors"

// Errors returned to Client callbacks. Match them with errors.Is.
var (
	// ErrTimeout: no reply arrived before the call's deadline. The outcome
	// is unknown: the request may have been applied, now or later. Callers
	// must not assume it failed; re-read the state instead.
	ErrTimeout = errors.New("gcs: no reply before the deadline; the outcome is unknown, re-read the state before retrying")
	// ErrInvalid: the request was malformed (caught by the client or the
	// server); it was not applied and retrying it cannot help.
	ErrInvalid = errors.New("gcs: invalid argument")
	// ErrNotFound: the key, node, job, actor or subscriber does not exist.
	ErrNotFound = errors.New("gcs: not found")
	// ErrConflict: the entity already exists in a conflicting form.
	ErrConflict = errors.New("gcs: conflict")
	// ErrFailedPrecondition: the state forbids the request (dead node, dead
	// actor, invalid transition).
	ErrFailedPrecondition = errors.New("gcs: failed precondition")
	// ErrUnavailable: the server refused the request for now. The client
	// retries such replies itself; callers see it only as a cause.
	ErrUnavailable = errors.New("gcs: unavailable")
	// ErrClosed: the client was closed before the call finished.
	ErrClosed = errors.New("gcs: client closed")
	// ErrOverloaded: the client already has ClientOptions.MaxInFlight calls
	// in flight; the call was not sent. Wait for earlier calls to finish.
	ErrOverloaded = errors.New("gcs: too many calls in flight; wait for earlier calls to finish")
)

// Error is a definite failure reported by the server. It matches the
// sentinel of its Code with errors.Is (ErrInvalid for CodeInvalidArgument
// and so on).
type Error struct {
	Code Code
	Msg  string
}

// Error implements error.
func (e *Error) Error() string { return "gcs: " + e.Code.String() + ": " + e.Msg }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool { return target != nil && target == codeSentinel(e.Code) }

func codeSentinel(c Code) error {
	switch c {
	case CodeInvalidArgument:
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

// replyError returns nil for CodeOK and an *Error otherwise.
func replyError(code Code, msg string) error {
	if code == CodeOK {
		return nil
	}
	return &Error{Code: code, Msg: msg}
}
