package proto

import (
	"errors"
	"reflect"
	"slices"

	"github.com/grayrt/gray/internal/registry"
)

// Registered errors keep their identity across processes (package gray's
// RegisterError and RegisterErrorType, as Ray's task errors are
// instances of their cause's class). A body's error that matches a
// registered sentinel (errors.Is) is recorded in its TaskError by the
// sentinel's name, and one that holds a registered error type
// (errors.As) by the type's name and the value, encoded; a TaskError
// then matches the sentinel and gives the value back in every process
// that registered them the same way — and so does any task's error that
// wraps it, tasks up.

// ErrorValue is a registered error type's value inside a TaskError.
//
// Its codec is hand-written in codec_fast.go (core.Codec does not use
// reflection for it): a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type ErrorValue struct {
	Name string `msgpack:"n"`
	Data []byte `msgpack:"d,omitempty"`
}

// ErrorValueMax bounds one recorded error value; larger ones are left
// out.
const ErrorValueMax = 64 << 10

// Identify returns the names of the registered sentinels err matches and
// the registered error types it holds, with their values, in name order:
// what a TaskError records of a body's error.
func Identify(err error) (sentinels []string, values []ErrorValue) {
	if err == nil {
		return nil, nil
	}
	ss, ts := registry.Errors()
	for _, s := range ss {
		if errors.Is(err, s.Err) {
			sentinels = append(sentinels, s.Name)
		}
	}
	for _, t := range ts {
		if data, ok := t.Type.Find(err); ok && len(data) <= ErrorValueMax {
			values = append(values, ErrorValue{Name: t.Name, Data: data})
		}
	}
	return sentinels, values
}

// Is reports whether e records target, a registered sentinel (errors.Is
// calls it).
func (e *TaskError) Is(target error) bool {
	if len(e.Sentinels) == 0 || target == nil || !reflect.TypeOf(target).Comparable() {
		return false
	}
	ss, _ := registry.Errors()
	for _, s := range ss {
		if reflect.TypeOf(s.Err) == reflect.TypeOf(target) && s.Err == target {
			return slices.Contains(e.Sentinels, s.Name)
		}
	}
	return false
}

// As sets target, a pointer to a registered error type, to the value of
// that type e records (errors.As calls it).
func (e *TaskError) As(target any) bool {
	if len(e.Values) == 0 || target == nil {
		return false
	}
	pt := reflect.TypeOf(target)
	if pt.Kind() != reflect.Pointer {
		return false
	}
	_, ts := registry.Errors()
	for _, t := range ts {
		if t.Type.Type != pt.Elem() {
			continue
		}
		for _, v := range e.Values {
			if v.Name == t.Name {
				return t.Type.Into(v.Data, target)
			}
		}
	}
	return false
}
