package proto

import (
	"errors"
	"fmt"
)

// ErrorKind classifies why a task or an object failed. Each kind has a
// sentinel below so that callers match with errors.Is.
type ErrorKind uint8

// Error kinds, matching Ray's exception types.
const (
	KindNone            ErrorKind = iota
	KindTaskFailed                // the user function returned an error or panicked (RayTaskError)
	KindWorkerDied                // the worker process died while running the task (WorkerCrashedError)
	KindNodeDied                  // the node running the task died (NodeDiedError)
	KindActorDied                 // the actor is dead and will not restart (ActorDiedError)
	KindObjectLost                // every copy is gone and it cannot be rebuilt (ObjectLostError)
	KindOwnerDied                 // the object's owner died (OwnerDiedError)
	KindInfeasible                // no node could ever fit the task's resources
	KindCancelled                 // the task was cancelled (TaskCancelledError)
	KindUnknownFunction           // no function of that name is registered on the worker
	KindObjectStoreFull           // the object could not be stored (ObjectStoreFullError)
	numKinds
)

// Sentinels, one per kind, for errors.Is.
var (
	ErrTaskFailed      = errors.New("task failed")
	ErrWorkerDied      = errors.New("worker died")
	ErrNodeDied        = errors.New("node died")
	ErrActorDied       = errors.New("actor died")
	ErrObjectLost      = errors.New("object lost")
	ErrOwnerDied       = errors.New("owner died")
	ErrInfeasible      = errors.New("infeasible resource request")
	ErrCancelled       = errors.New("task cancelled")
	ErrUnknownFunction = errors.New("unknown function")
	ErrObjectStoreFull = errors.New("object store full")
)

var kindSentinels = [...]error{
	KindTaskFailed:      ErrTaskFailed,
	KindWorkerDied:      ErrWorkerDied,
	KindNodeDied:        ErrNodeDied,
	KindActorDied:       ErrActorDied,
	KindObjectLost:      ErrObjectLost,
	KindOwnerDied:       ErrOwnerDied,
	KindInfeasible:      ErrInfeasible,
	KindCancelled:       ErrCancelled,
	KindUnknownFunction: ErrUnknownFunction,
	KindObjectStoreFull: ErrObjectStoreFull,
}

// String returns the kind's name.
func (k ErrorKind) String() string {
	if k > KindNone && k < numKinds {
		return kindSentinels[k].Error()
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// TaskError is a failure carried on the wire and stored as the value of a
// failed object: every Get of a return of a failed task gets it.
type TaskError struct {
	Kind    ErrorKind `msgpack:"k"`
	Message string    `msgpack:"m,omitempty"`
	// Stack is the user function's stack for KindTaskFailed from a panic.
	Stack string `msgpack:"s,omitempty"`
	// Task names the failed task (function and id) for the message.
	Task string `msgpack:"t,omitempty"`
}

// Error implements error.
func (e *TaskError) Error() string {
	s := e.Kind.String()
	if e.Task != "" {
		s += " (" + e.Task + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap makes errors.Is(err, ErrWorkerDied) and friends work.
func (e *TaskError) Unwrap() error {
	if e.Kind > KindNone && e.Kind < numKinds {
		return kindSentinels[e.Kind]
	}
	return nil
}

// NewError builds a TaskError.
func NewError(kind ErrorKind, task, format string, args ...any) *TaskError {
	return &TaskError{Kind: kind, Task: task, Message: fmt.Sprintf(format, args...)}
}

// Retriable reports whether a task failing this way may be retried
// automatically: system failures always, user errors only when the task
// asked for it.
func (e *TaskError) Retriable(retryExceptions bool) bool {
	switch e.Kind {
	case KindWorkerDied, KindNodeDied:
		return true
	case KindTaskFailed:
		return retryExceptions
	}
	return false
}
