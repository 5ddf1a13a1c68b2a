package gray

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/internal/process"
)

// methodKey qualifies a method name with the Go type of its actor, so
// that two actor types may have methods of the same name.
func methodKey[T any](name string) string {
	t := reflect.TypeFor[T]()
	return t.PkgPath() + "." + t.Name() + "." + name
}

func encode[T any](v T) ([]byte, error) {
	if b, ok := any(v).([]byte); ok {
		if uint64(len(b)) > bytesValueMax {
			return nil, fmt.Errorf("gray: encode []byte of %d bytes: a value holds at most %d bytes", len(b), uint64(bytesValueMax))
		}
		return encodeBytes(b), nil
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gray: encode %T: %w", v, err)
	}
	return b, nil
}

// decode decodes a value; a []byte value shares b's memory (see
// decodeBytes), so b must be the caller's own.
func decode[T any](b []byte) (T, error) {
	var v T
	if p, ok := any(&v).(*[]byte); ok {
		if d, ok := decodeBytes(b); ok {
			*p = d
			return v, nil
		}
	}
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
// its arguments for the body whose ctx is given: Refs inside them become
// its worker's.
func args1[A any](ctx context.Context, args [][]byte) (a A, err error) {
	if err = checkArgs(args, 1); err != nil {
		return a, err
	}
	return decodeIn[A](ctx, process.CallerFrom(ctx), args[0])
}

func args2[A, B any](ctx context.Context, args [][]byte) (a A, b B, err error) {
	if err = checkArgs(args, 2); err != nil {
		return a, b, err
	}
	if a, err = decodeIn[A](ctx, process.CallerFrom(ctx), args[0]); err != nil {
		return a, b, err
	}
	b, err = decodeIn[B](ctx, process.CallerFrom(ctx), args[1])
	return a, b, err
}

func args3[A, B, C any](ctx context.Context, args [][]byte) (a A, b B, c C, err error) {
	if err = checkArgs(args, 3); err != nil {
		return a, b, c, err
	}
	if a, b, err = args2[A, B](ctx, args[:2:2]); err != nil {
		return a, b, c, err
	}
	c, err = decodeIn[C](ctx, process.CallerFrom(ctx), args[2])
	return a, b, c, err
}

// encodeResult returns what encodes the result of the body whose ctx is
// given, or passes its error on; the Refs the result holds stay pinned
// until its owner frees it.
func encodeResult[R any](ctx context.Context) func(R, error) ([][]byte, error) {
	return func(r R, err error) ([][]byte, error) {
		if err != nil {
			return nil, err
		}
		b, err := encodeReturn(ctx, 0, r)
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}
}

// encodeResults is encodeResult for a body with n returns (Ray's
// num_returns): it must return exactly n values.
func encodeResults[R any](ctx context.Context, n int) func([]R, error) ([][]byte, error) {
	return func(rs []R, err error) ([][]byte, error) {
		if err != nil {
			return nil, err
		}
		if len(rs) != n {
			return nil, fmt.Errorf("gray: the function returned %d values, want %d (its registered number of returns)", len(rs), n)
		}
		out := make([][]byte, n)
		for i, r := range rs {
			if out[i], err = encodeReturn(ctx, i, r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

// encodeReturn encodes return i of the body whose ctx is given, pinning
// the Refs it holds.
func encodeReturn[R any](ctx context.Context, i int, r R) ([]byte, error) {
	e, err := encodeIn(process.CallerFrom(ctx), r)
	if err != nil {
		return nil, err
	}
	if err := pinResult(ctx, i, e); err != nil {
		return nil, err
	}
	return e.data, nil
}

// Byte slices are the bulk of what programs move (blocks, weights,
// serialised state), so they skip msgpack's reflection, buffer growth
// (a fresh buffer doubled up to twice the value's size, zeroed and copied
// at each step) and zeroing: encodeBytes writes exactly msgpack's bin
// encoding in one copy, and decodeBytes reads a bin encoding without a
// copy, the value sharing the encoding's memory: the encodings decode
// reads are its caller's own (a task's arguments and Get's values, which
// the core worker hands over unshared). Anything else goes to msgpack.

// msgpack's codes for nil and bin values.
const (
	mpNil   = 0xc0
	mpBin8  = 0xc4
	mpBin16 = 0xc5
	mpBin32 = 0xc6
)

// bytesValueMax bounds a []byte value: its encoding (msgpack bin 32)
// holds a 32-bit length.
const bytesValueMax = 1<<32 - 1

// encodedBytesLen is the length of encodeBytes(b), for a non-nil b.
func encodedBytesLen(b []byte) int {
	switch n := len(b); {
	case n < 1<<8:
		return 2 + n
	case n < 1<<16:
		return 3 + n
	default:
		return 5 + n
	}
}

// encodeBytesInto writes encodeBytes(b) into dst, of encodedBytesLen(b)
// bytes, for a non-nil b.
func encodeBytesInto(dst, b []byte) {
	switch n := len(b); {
	case n < 1<<8:
		dst[0], dst[1] = mpBin8, byte(n)
		copy(dst[2:], b)
	case n < 1<<16:
		dst[0] = mpBin16
		binary.BigEndian.PutUint16(dst[1:], uint16(n))
		copy(dst[3:], b)
	default:
		dst[0] = mpBin32
		binary.BigEndian.PutUint32(dst[1:], uint32(n))
		copy(dst[5:], b)
	}
}

func encodeBytes(b []byte) []byte {
	var hdr [5]byte
	switch n := len(b); {
	case b == nil:
		return []byte{mpNil}
	case n < 1<<8:
		hdr[0], hdr[1] = mpBin8, byte(n)
		return append(hdr[:2:2], b...)
	case n < 1<<16:
		hdr[0] = mpBin16
		binary.BigEndian.PutUint16(hdr[1:], uint16(n))
		return append(hdr[:3:3], b...)
	default:
		hdr[0] = mpBin32
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		return append(hdr[:5:5], b...)
	}
}

// decodeBytes decodes a bin encoding filling e exactly, into a slice of
// e; ok is false for anything else.
func decodeBytes(e []byte) (b []byte, ok bool) {
	if len(e) == 0 {
		return nil, false
	}
	var n, h int
	switch e[0] {
	case mpNil:
		return nil, len(e) == 1
	case mpBin8:
		if len(e) < 2 {
			return nil, false
		}
		n, h = int(e[1]), 2
	case mpBin16:
		if len(e) < 3 {
			return nil, false
		}
		n, h = int(binary.BigEndian.Uint16(e[1:])), 3
	case mpBin32:
		if len(e) < 5 {
			return nil, false
		}
		n, h = int(binary.BigEndian.Uint32(e[1:])), 5
	default:
		return nil, false
	}
	if len(e)-h != n {
		return nil, false
	}
	return e[h:len(e):len(e)], true
}
