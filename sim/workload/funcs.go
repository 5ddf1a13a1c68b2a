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
	out := make([]byte, n)
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = byte(x)
	}
	return out
}

// checksum folds bytes into an integer.
func checksum(b []byte) int64 {
	var h uint64 = 14695981039346656037
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
