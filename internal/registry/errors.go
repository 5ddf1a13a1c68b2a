package registry

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Registered errors (package gray's RegisterError and
// RegisterErrorType): sentinels and error types by name, which
// core/proto's TaskError records and matches (see proto.Identify).

// ErrorType is how a registered error type is found in an error and
// given back: Find looks for one (errors.As) and encodes it; Into decodes
// data into target, a pointer to the type, and reports whether it could.
type ErrorType struct {
	Type reflect.Type
	Find func(err error) ([]byte, bool)
	Into func(data []byte, target any) bool
}

// Sentinel is a registered sentinel error and its name.
type Sentinel struct {
	Name string
	Err  error
}

// NamedType is a registered error type and its name.
type NamedType struct {
	Name string
	Type ErrorType
}

// ErrorNameMax bounds a registered error's name.
const ErrorNameMax = 256

// The error tables, sorted by name; copied on write, so that a reader
// may keep the slice it got.
var errorTables struct {
	sentinels []Sentinel
	types     []NamedType
}

func checkErrorName(name string) {
	if name == "" || len(name) > ErrorNameMax {
		panic(fmt.Sprintf("gray: error name of %d bytes, want 1..%d", len(name), ErrorNameMax))
	}
	for _, s := range errorTables.sentinels {
		if s.Name == name {
			panic(fmt.Sprintf("gray: error %q registered twice", name))
		}
	}
	for _, t := range errorTables.types {
		if t.Name == name {
			panic(fmt.Sprintf("gray: error %q registered twice", name))
		}
	}
}

// RegisterSentinel registers err, a comparable error value, under name.
func RegisterSentinel(name string, err error) {
	if err == nil || !reflect.TypeOf(err).Comparable() {
		panic(fmt.Sprintf("gray: RegisterError(%q): want a comparable, non-nil error value (such as errors.New's)", name))
	}
	tables.Lock()
	defer tables.Unlock()
	checkErrorName(name)
	s := append(slices.Clip(errorTables.sentinels), Sentinel{name, err})
	slices.SortFunc(s, func(a, b Sentinel) int { return strings.Compare(a.Name, b.Name) })
	errorTables.sentinels = s
}

// RegisterErrorType registers an error type under name.
func RegisterErrorType(name string, t ErrorType) {
	tables.Lock()
	defer tables.Unlock()
	checkErrorName(name)
	for _, x := range errorTables.types {
		if x.Type.Type == t.Type {
			panic(fmt.Sprintf("gray: error type %v registered twice (as %q and %q)", t.Type, x.Name, name))
		}
	}
	ts := append(slices.Clip(errorTables.types), NamedType{name, t})
	slices.SortFunc(ts, func(a, b NamedType) int { return strings.Compare(a.Name, b.Name) })
	errorTables.types = ts
}

// Errors returns the registered sentinels and error types, each sorted
// by name. The slices are never written again.
func Errors() ([]Sentinel, []NamedType) {
	tables.RLock()
	defer tables.RUnlock()
	return errorTables.sentinels, errorTables.types
}
