package gray

import (
	"errors"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/registry"
)

// TaskError is the error of a failed task, actor call or object, as the
// core worker reports it: its Kind (matching one of the Err sentinels with
// errors.Is), a Message (the user error's text, or "panic: …") and, for a
// panic, the Stack of the task body. Get returns it wrapped; use errors.As.
type TaskError = proto.TaskError

// Sentinels for errors.Is, one per way a task or object can fail.
var (
	// ErrTaskFailed: the task body returned an error or panicked.
	ErrTaskFailed = proto.ErrTaskFailed
	// ErrWorkerDied: the worker process died while running the task and
	// the task's retries are exhausted.
	ErrWorkerDied = proto.ErrWorkerDied
	// ErrNodeDied: the node running the task died.
	ErrNodeDied = proto.ErrNodeDied
	// ErrActorDied: the actor is dead (killed, or died without restarts
	// left) and will not run the call.
	ErrActorDied = proto.ErrActorDied
	// ErrObjectLost: every copy of the object is gone and it cannot be
	// rebuilt.
	ErrObjectLost = proto.ErrObjectLost
	// ErrOwnerDied: the process that owns the object died.
	ErrOwnerDied = proto.ErrOwnerDied
	// ErrInfeasible: no node of the cluster could ever fit the resources
	// the task or actor asks for.
	ErrInfeasible = proto.ErrInfeasible
	// ErrCancelled: the task was cancelled with Cancel.
	ErrCancelled = proto.ErrCancelled
	// ErrUnknownFunction: no task, actor class or method of that name is
	// registered in the worker's program.
	ErrUnknownFunction = proto.ErrUnknownFunction
	// ErrObjectStoreFull: the object could not be stored.
	ErrObjectStoreFull = proto.ErrObjectStoreFull
	// ErrGroupRemoved: the placement group the task or actor was
	// scheduled into (WithPlacementGroup) was removed.
	ErrGroupRemoved = proto.ErrGroupRemoved
	// ErrActorNameTaken: a named actor exists already; pass
	// WithGetIfExists to get a handle to it.
	ErrActorNameTaken = worker.ErrActorNameTaken
)

// API errors.
var (
	// ErrNotInitialized: a call needs a runtime; call Init first (or pass
	// the ctx a task body was given).
	ErrNotInitialized = errors.New("gray: not initialized; call gray.Init first")
	// ErrAlreadyInitialized: Init was called twice without Shutdown.
	ErrAlreadyInitialized = errors.New("gray: already initialized; call Shutdown before Init again")
	// ErrShutdown: the runtime was shut down while the call waited.
	ErrShutdown = errors.New("gray: runtime shut down")
	// ErrNotSupported: the feature is not supported yet (see docs/api.md).
	ErrNotSupported = errors.New("gray: not supported yet")
	// ErrActorNotFound: GetActor found no live actor of that name.
	ErrActorNotFound = errors.New("gray: no live actor of that name")
	// ErrReleased: the reference was released with Release.
	ErrReleased = errors.New("gray: reference released")
)

// RegisterError registers err, a sentinel error value (such as
// errors.New's), under name, at package init and identically in every
// process, as functions are registered: a task body or actor method
// whose error matches err (errors.Is) fails with a *TaskError that
// matches err too, in the caller and in every task up the chain that
// passes the error on (Ray's task errors are instances of the cause's
// class). It panics if name is taken or err is not comparable.
func RegisterError(name string, err error) { registry.RegisterSentinel(name, err) }

// RegisterErrorType registers the error type E under name (at package
// init, identically in every process): a body's error holding an E
// (errors.As) travels with that E's value, encoded with msgpack (so its
// exported fields), and errors.As(err, &e) gives it back in the caller
// and tasks up the chain. E is usually a pointer to a struct. It panics
// if name or E is taken.
func RegisterErrorType[E error](name string) {
	registry.RegisterErrorType(name, registry.ErrorType{
		Type: reflect.TypeFor[E](),
		Find: func(err error) ([]byte, bool) {
			var e E
			if !errors.As(err, &e) {
				return nil, false
			}
			b, merr := msgpack.Marshal(e)
			return b, merr == nil
		},
		Into: func(data []byte, target any) bool {
			p, ok := target.(*E)
			if !ok {
				return false
			}
			var e E
			if msgpack.Unmarshal(data, &e) != nil {
				return false
			}
			*p = e
			return true
		},
	})
}
