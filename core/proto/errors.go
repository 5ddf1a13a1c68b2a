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
	KindGroupRemoved              // the placement group the work was scheduled into was removed
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
	ErrGroupRemoved    = errors.New("placement group removed")
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
	KindGroupRemoved:    ErrGroupRemoved,
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
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type TaskError struct {
	Kind    ErrorKind `msgpack:"k"`
	Message string    `msgpack:"m,omitempty"`
	// Stack is the user function's stack for KindTaskFailed from a panic.
	Stack string `msgpack:"s,omitempty"`
	// Task names the failed task (function and id) for the message.
	Task string `msgpack:"t,omitempty"`
	// Cause is, for KindTaskFailed, the kind of the gray error the body
	// returned when it returned one (a body passing on the ActorDied of a
	// call it made): the error then matches both ErrTaskFailed and the
	// cause's sentinel, two tasks up as well. KindNone otherwise.
	Cause ErrorKind `msgpack:"c,omitempty"`
	// Sentinels and Values are the registered errors the body's error
	// matched and held (see Identify): the error matches them in every
	// process, as the cause's class does in Ray.
	Sentinels []string     `msgpack:"r,omitempty"`
	Values    []ErrorValue `msgpack:"v,omitempty"`
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

// Unwrap makes errors.Is(err, ErrWorkerDied) and friends work, for the
// kind and for the cause.
func (e *TaskError) Unwrap() []error {
	var out []error
	for _, k := range [...]ErrorKind{e.Kind, e.Cause} {
		if k > KindNone && k < numKinds {
			out = append(out, kindSentinels[k])
		}
	}
	return out
}

// CauseOf returns the kind of the gray failure err matches, other than
// KindTaskFailed: the cause to record when a body returns err. KindNone
// for a user's own error.
func CauseOf(err error) ErrorKind {
	for k := KindWorkerDied; k < numKinds; k++ {
		if errors.Is(err, kindSentinels[k]) {
			return k
		}
	}
	return KindNone
}

// Through is the error of task, whose argument arg (from 1) failed with
// e: the same kind, cause and registered identity (so it matches what e
// matches, as Ray propagates an error through dependencies), naming the
// task and the argument.
func (e *TaskError) Through(task string, arg int) *TaskError {
	return &TaskError{Kind: e.Kind, Cause: e.Cause, Sentinels: e.Sentinels, Values: e.Values, Stack: e.Stack,
		Task: task, Message: fmt.Sprintf("argument %d: %v", arg, e)}
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
