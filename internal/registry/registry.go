// Package registry maps names to the Go code of tasks, actor
// constructors and actor methods. The public API (package gray) fills it
// at package init, identically in every process of a program (the worker
// contract of docs/api.md); worker processes (internal/process) look code
// up by the name a task spec carries, on hosts and in the simulator alike.
package registry

import (
	"context"
	"fmt"
	"sync"
)

// TaskFunc decodes a task's arguments, runs the user function and
// encodes its results, one per return (most functions have one).
type TaskFunc func(ctx context.Context, args [][]byte) ([][]byte, error)

// CtorFunc runs an actor's constructor and returns the live object.
type CtorFunc func(ctx context.Context, args [][]byte) (any, error)

// MethodFunc runs one method on an actor's live object and encodes its
// results, one per return.
type MethodFunc func(ctx context.Context, obj any, args [][]byte) ([][]byte, error)

// The tables are written at package init and read by worker processes;
// the lock makes a late registration (a test registering in its body)
// safe too.
var tables = struct {
	sync.RWMutex
	tasks   map[string]TaskFunc
	ctors   map[string]CtorFunc
	methods map[string]MethodFunc
}{tasks: map[string]TaskFunc{}, ctors: map[string]CtorFunc{}, methods: map[string]MethodFunc{}}

// RegisterTask adds f as the task name. It panics if name is taken: two
// functions under one name would make a worker run the wrong code.
func RegisterTask(name string, f TaskFunc) { register(tables.tasks, "task", name, f) }

// RegisterCtor adds f as the constructor of actor class name; it panics
// if name is taken.
func RegisterCtor(name string, f CtorFunc) { register(tables.ctors, "actor class", name, f) }

// RegisterMethod adds f as the actor method name (qualified with its Go
// type by the caller); it panics if name is taken.
func RegisterMethod(name string, f MethodFunc) { register(tables.methods, "actor method", name, f) }

func register[F any](table map[string]F, kind, name string, f F) {
	tables.Lock()
	defer tables.Unlock()
	if _, dup := table[name]; dup {
		panic(fmt.Sprintf("gray: %s %q registered twice", kind, name))
	}
	table[name] = f
}

// Task returns the task name, or nil.
func Task(name string) TaskFunc {
	tables.RLock()
	defer tables.RUnlock()
	return tables.tasks[name]
}

// Ctor returns the constructor of actor class name, or nil.
func Ctor(name string) CtorFunc {
	tables.RLock()
	defer tables.RUnlock()
	return tables.ctors[name]
}

// Method returns the actor method name, or nil.
func Method(name string) MethodFunc {
	tables.RLock()
	defer tables.RUnlock()
	return tables.methods[name]
}
