package gray

import (
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

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

// checkArgs checks the argument count of a call.
func checkArgs(args [][]byte, n int) error {
	if len(args) != n {
		return fmt.Errorf("gray: got %d arguments, want %d (is the function registered identically in every process?)", len(args), n)
	}
	return nil
}

// args1, args2 and args3 check the argument count of a call and decode
// its arguments.
func args1[A any](args [][]byte) (a A, err error) {
	if err = checkArgs(args, 1); err != nil {
		return a, err
	}
	return decode[A](args[0])
}

func args2[A, B any](args [][]byte) (a A, b B, err error) {
	if err = checkArgs(args, 2); err != nil {
		return a, b, err
	}
	if a, err = decode[A](args[0]); err != nil {
		return a, b, err
	}
	b, err = decode[B](args[1])
	return a, b, err
}

func args3[A, B, C any](args [][]byte) (a A, b B, c C, err error) {
	if err = checkArgs(args, 3); err != nil {
		return a, b, c, err
	}
	if a, b, err = args2[A, B](args[:2:2]); err != nil {
		return a, b, c, err
	}
	c, err = decode[C](args[2])
	return a, b, c, err
}

// encodeResult encodes a body's result, or passes its error on.
func encodeResult[R any](r R, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return encode(r)
}
