package workload

import (
	"encoding/binary"
	"fmt"

	"github.com/grayrt/gray/core/proto"
)

// The cluster workload's task bodies: deterministic functions of their
// arguments, so the driver can compute every expected result itself.

func i64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func asI64(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("want an 8-byte integer, got %d bytes", len(b))
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

// bigBytes returns n bytes derived from seed.
func bigBytes(seed, n int64) []byte {
	out := make([]byte, n+7) // whole words, trimmed below
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := 0; i+8 <= len(out); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(out[i:], x)
	}
	return out[:n]
}

// checksum folds bytes into an integer, a word at a time.
func checksum(b []byte) int64 {
	var h uint64 = 14695981039346656037
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 1099511628211
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h >> 1)
}

// runFunc executes the named function. User errors come back as
// KindTaskFailed; unknown names as KindUnknownFunction.
func runFunc(name string, args [][]byte) ([][]byte, *proto.TaskError) {
	ints := func(n int) ([]int64, *proto.TaskError) {
		if len(args) != n {
			return nil, proto.NewError(proto.KindTaskFailed, "", "%s takes %d arguments, got %d", name, n, len(args))
		}
		out := make([]int64, n)
		for i, a := range args {
			v, err := asI64(a)
			if err != nil {
				return nil, proto.NewError(proto.KindTaskFailed, "", "%s argument %d: %v", name, i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	switch name {
	case "add":
		v, err := ints(2)
		if err != nil {
			return nil, err
		}
		return [][]byte{i64(v[0] + v[1])}, nil
	case "mul":
		v, err := ints(2)
		if err != nil {
			return nil, err
		}
		return [][]byte{i64(v[0] * v[1])}, nil
	case "big":
		v, err := ints(2)
		if err != nil {
			return nil, err
		}
		if v[1] < 0 || v[1] > 64<<20 {
			return nil, proto.NewError(proto.KindTaskFailed, "", "big: size %d out of range", v[1])
		}
		return [][]byte{bigBytes(v[0], v[1])}, nil
	case "sum":
		if len(args) != 1 {
			return nil, proto.NewError(proto.KindTaskFailed, "", "sum takes 1 argument, got %d", len(args))
		}
		return [][]byte{i64(checksum(args[0]))}, nil
	case "fail":
		return nil, &proto.TaskError{Kind: proto.KindTaskFailed, Message: "intentional failure", Stack: "workload.runFunc(\"fail\")"}
	}
	return nil, proto.NewError(proto.KindUnknownFunction, "", "no function named %q is registered", name)
}

// The actor class "Counter": its state is one integer, set by the
// constructor Counter(start). Methods:
//
//	incr()     adds 1 and returns (incarnation, new count) as 16 bytes;
//	square(x)  returns x*x and leaves the state alone;
//	fail()     raises a user error.
//
// incr's results are checkable across restarts: within one incarnation a
// caller sees its counts strictly increase, and incarnations never go
// backwards (calls run in order, a restart starts again from start).
func newActorState(class string, args [][]byte) ([]byte, *proto.TaskError) {
	if class != "Counter" {
		return nil, proto.NewError(proto.KindUnknownFunction, "", "no actor class named %q is registered", class)
	}
	if len(args) != 1 {
		return nil, proto.NewError(proto.KindTaskFailed, "", "Counter takes 1 argument, got %d", len(args))
	}
	if _, err := asI64(args[0]); err != nil {
		return nil, proto.NewError(proto.KindTaskFailed, "", "Counter: %v", err)
	}
	return args[0], nil
}

func callActorMethod(method string, inc int64, state []byte, args [][]byte) ([]byte, [][]byte, *proto.TaskError) {
	count, err := asI64(state)
	if err != nil {
		return nil, nil, proto.NewError(proto.KindTaskFailed, "", "Counter state: %v", err)
	}
	switch method {
	case "incr":
		count++
		return i64(count), [][]byte{append(i64(inc), i64(count)...)}, nil
	case "square":
		if len(args) != 1 {
			return nil, nil, proto.NewError(proto.KindTaskFailed, "", "square takes 1 argument, got %d", len(args))
		}
		x, err := asI64(args[0])
		if err != nil {
			return nil, nil, proto.NewError(proto.KindTaskFailed, "", "square: %v", err)
		}
		return state, [][]byte{i64(x * x)}, nil
	case "fail":
		return nil, nil, &proto.TaskError{Kind: proto.KindTaskFailed, Message: "intentional actor failure"}
	}
	return nil, nil, proto.NewError(proto.KindUnknownFunction, "", "Counter has no method %q", method)
}
