package gray

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The registry maps names to the Go code of tasks, actor constructors and
// actor methods. It is filled at package init (the worker contract: every
// process of the program registers the same names) and read by worker
// processes when a task arrives.
var registry = struct {
	sync.RWMutex
	funcs   map[string]taskBody
	ctors   map[string]ctorBody
	methods map[string]methodBody
}{funcs: map[string]taskBody{}, ctors: map[string]ctorBody{}, methods: map[string]methodBody{}}

// taskBody decodes its arguments, runs the user function and encodes its
// result.
type taskBody func(ctx context.Context, args [][]byte) ([]byte, error)

// ctorBody runs an actor's constructor and returns the live object.
type ctorBody func(ctx context.Context, args [][]byte) (any, error)

// methodBody runs one method on the live object.
type methodBody func(ctx context.Context, obj any, args [][]byte) ([]byte, error)

func registerFunc(name string, f taskBody) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.funcs[name]; dup {
		panic(fmt.Sprintf("gray: task %q registered twice", name))
	}
	registry.funcs[name] = f
}

func registerCtor(name string, f ctorBody) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.ctors[name]; dup {
		panic(fmt.Sprintf("gray: actor class %q registered twice", name))
	}
	registry.ctors[name] = f
}

func registerMethod(name string, f methodBody) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.methods[name]; dup {
		panic(fmt.Sprintf("gray: actor method %q registered twice", name))
	}
	registry.methods[name] = f
}

func lookupFunc(name string) taskBody {
	registry.RLock()
	defer registry.RUnlock()
	return registry.funcs[name]
}

func lookupCtor(name string) ctorBody {
	registry.RLock()
	defer registry.RUnlock()
	return registry.ctors[name]
}

func lookupMethod(name string) methodBody {
	registry.RLock()
	defer registry.RUnlock()
	return registry.methods[name]
}

// methodKey qualifies a method name with the Go type of its actor, so
// that two actor types may have methods of the same name.
func methodKey[T any](name string) string {
	t := reflect.TypeFor[T]()
	return t.PkgPath() + "." + t.Name() + "." + name
}

func encode[T any](v T) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gray: encode %T: %w", v, err)
	}
	return b, nil
}

func decode[T any](b []byte) (T, error) {
	var v T
	if err := msgpack.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("gray: decode %T: %w", v, err)
	}
	return v, nil
}

// decodeArgs checks the argument count of a call.
func checkArgs(args [][]byte, n int) error {
	if len(args) != n {
		return fmt.Errorf("gray: got %d arguments, want %d (is the function registered identically in every process?)", len(args), n)
	}
	return nil
}
