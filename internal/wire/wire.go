package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// msgpack codes, as package msgpcode names them.
const (
	codeNil      = 0xc0
	codeFalse    = 0xc2
	codeTrue     = 0xc3
	codeBin8     = 0xc4
	codeBin16    = 0xc5
	codeBin32    = 0xc6
	codeExt8     = 0xc7
	codeExt16    = 0xc8
	codeExt32    = 0xc9
	codeFloat    = 0xca
	codeDouble   = 0xcb
	codeUint8    = 0xcc
	codeUint16   = 0xcd
	codeUint32   = 0xce
	codeUint64   = 0xcf
	codeInt8     = 0xd0
	codeInt16    = 0xd1
	codeInt32    = 0xd2
	codeInt64    = 0xd3
	codeFixExt1  = 0xd4
	codeFixExt16 = 0xd8
	codeStr8     = 0xd9
	codeStr16    = 0xda
	codeStr32    = 0xdb
	codeArray16  = 0xdc
	codeArray32  = 0xdd
	codeMap16    = 0xde
	codeMap32    = 0xdf

	fixMap   = 0x80
	fixArray = 0x90
	fixStr   = 0xa0
	negFix   = 0xe0
)

// ErrMalformed is wrapped by every Reader error.
var ErrMalformed = errors.New("wire: malformed msgpack")

// Writer appends msgpack values to B. The zero Writer is ready to use.
type Writer struct {
	// B is the encoding so far. The Writer appends to it and owns it
	// until the caller takes it back.
	B []byte
	// Count, when set, makes String and Bytes count their payloads in
	// Counted instead of appending them: the message is measured
	// (Size) without copying its bulk.
	Count   bool
	Counted int
}

// Reset makes w append to b, writing (count false) or measuring.
func (w *Writer) Reset(b []byte, count bool) { w.B, w.Count, w.Counted = b, count, 0 }

// Size returns the length of what w wrote or measured.
func (w *Writer) Size() int { return len(w.B) + w.Counted }

// Nil writes nil.
func (w *Writer) Nil() { w.B = append(w.B, codeNil) }

// Bool writes v.
func (w *Writer) Bool(v bool) {
	if v {
		w.B = append(w.B, codeTrue)
	} else {
		w.B = append(w.B, codeFalse)
	}
}

// Uint writes n in the fewest bytes (msgpack's EncodeUint).
func (w *Writer) Uint(n uint64) {
	switch {
	case n <= math.MaxInt8:
		w.B = append(w.B, byte(n))
	case n <= math.MaxUint8:
		w.B = append(w.B, codeUint8, byte(n))
	case n <= math.MaxUint16:
		w.B = append(w.B, codeUint16, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		w.B = append(w.B, codeUint32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		w.B = binary.BigEndian.AppendUint64(append(w.B, codeUint64), n)
	}
}

// Int writes n in the fewest bytes (msgpack's EncodeInt).
func (w *Writer) Int(n int64) {
	switch {
	case n >= 0:
		w.Uint(uint64(n))
	case n >= -32:
		w.B = append(w.B, byte(n))
	case n >= math.MinInt8:
		w.B = append(w.B, codeInt8, byte(n))
	case n >= math.MinInt16:
		w.B = append(w.B, codeInt16, byte(n>>8), byte(n))
	case n >= math.MinInt32:
		w.B = append(w.B, codeInt32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		w.B = binary.BigEndian.AppendUint64(append(w.B, codeInt64), uint64(n))
	}
}

// MapLen starts a map of n pairs.
func (w *Writer) MapLen(n int) { w.lenHeader(n, fixMap, codeMap16, codeMap32) }

// ArrayLen starts an array of n values.
func (w *Writer) ArrayLen(n int) { w.lenHeader(n, fixArray, codeArray16, codeArray32) }

func (w *Writer) lenHeader(n int, fix, c16, c32 byte) {
	switch {
	case n < 16:
		w.B = append(w.B, fix|byte(n))
	case n <= math.MaxUint16:
		w.B = append(w.B, c16, byte(n>>8), byte(n))
	default:
		w.B = append(w.B, c32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// Key writes a map key, a string: String with the short keys' case
// first.
func (w *Writer) Key(k string) {
	if len(k) < 32 {
		w.B = append(append(w.B, fixStr|byte(len(k))), k...)
		return
	}
	w.String(k)
}

// String writes s.
func (w *Writer) String(s string) {
	n := len(s)
	switch {
	case n < 32:
		w.B = append(w.B, fixStr|byte(n))
	case n <= math.MaxUint8:
		w.B = append(w.B, codeStr8, byte(n))
	case n <= math.MaxUint16:
		w.B = append(w.B, codeStr16, byte(n>>8), byte(n))
	default:
		w.B = append(w.B, codeStr32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if w.Count {
		w.Counted += n
		return
	}
	w.B = append(w.B, s...)
}

// Bytes writes b as bin, or nil for a nil slice (msgpack's EncodeBytes).
func (w *Writer) Bytes(b []byte) {
	if b == nil {
		w.B = append(w.B, codeNil)
		return
	}
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		w.B = append(w.B, codeBin8, byte(n))
	case n <= math.MaxUint16:
		w.B = append(w.B, codeBin16, byte(n>>8), byte(n))
	default:
		w.B = append(w.B, codeBin32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if w.Count {
		w.Counted += n
		return
	}
	w.B = append(w.B, b...)
}

// Strings writes ss as an array of strings, or nil for a nil slice.
func (w *Writer) Strings(ss []string) {
	if ss == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(ss))
	for _, s := range ss {
		w.String(s)
	}
}

// Reader reads msgpack values from a byte slice. Its first error sticks:
// later reads return zero values and Err reports it, so a decoder reads
// its fields and checks once (its loops stop early on OK() false).
type Reader struct {
	b   []byte
	i   int
	err error
}

// Reset makes r read b from the start.
func (r *Reader) Reset(b []byte) { r.b, r.i, r.err = b, 0, nil }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.i }

// Err returns the first error, which wraps ErrMalformed.
func (r *Reader) Err() error { return r.err }

// OK reports whether no read has failed yet.
func (r *Reader) OK() bool { return r.err == nil }

// Failf records an error of the caller's (a value out of its range); the
// first error sticks.
func (r *Reader) Failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w at byte %d: %s", ErrMalformed, r.i, fmt.Sprintf(format, args...))
	}
}

func (r *Reader) badCode(c byte, what string) {
	r.Failf("code 0x%02x where %s was expected", c, what)
}

// code reads one code byte; on a failed or exhausted reader it returns
// 0xc1, which no decoder accepts.
func (r *Reader) code() byte {
	if r.err != nil {
		return 0xc1
	}
	if r.i >= len(r.b) {
		r.Failf("input ends where a value was expected")
		return 0xc1
	}
	c := r.b[r.i]
	r.i++
	return c
}

// take returns the next n bytes, which alias the input.
func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.i {
		r.Failf("%d bytes announced, %d left", n, len(r.b)-r.i)
		return nil
	}
	p := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return p
}

func (r *Reader) be(n int) uint64 {
	p := r.take(n)
	if p == nil {
		return 0
	}
	var v uint64
	for _, b := range p {
		v = v<<8 | uint64(b)
	}
	return v
}

// Nil consumes a nil and reports true if one is next.
func (r *Reader) Nil() bool {
	if r.err == nil && r.i < len(r.b) && r.b[r.i] == codeNil {
		r.i++
		return true
	}
	return false
}

// Bool reads a bool; nil reads as false.
func (r *Reader) Bool() bool {
	switch c := r.code(); c {
	case codeTrue:
		return true
	case codeFalse, codeNil:
	default:
		r.badCode(c, "a bool")
	}
	return false
}

// Uint64 reads an integer of any width as its 64-bit pattern, as
// msgpack's DecodeUint64 does (nil reads as 0, a negative integer wraps).
// Narrower fields truncate it, as reflect's SetUint does.
func (r *Reader) Uint64() uint64 {
	c := r.code()
	switch {
	case c <= 0x7f || c >= negFix:
		return uint64(int64(int8(c)))
	case c == codeNil:
		return 0
	case c == codeUint8:
		return r.be(1)
	case c == codeUint16:
		return r.be(2)
	case c == codeUint32:
		return r.be(4)
	case c == codeUint64, c == codeInt64:
		return r.be(8)
	case c == codeInt8:
		return uint64(int64(int8(r.be(1))))
	case c == codeInt16:
		return uint64(int64(int16(r.be(2))))
	case c == codeInt32:
		return uint64(int64(int32(r.be(4))))
	}
	r.badCode(c, "an integer")
	return 0
}

// Int64 reads an integer of any width (msgpack's DecodeInt64).
func (r *Reader) Int64() int64 { return int64(r.Uint64()) }

// bytesLen reads the header of a str or bin value (msgpack accepts
// either for strings and byte slices): -1 for nil.
func (r *Reader) bytesLen() int {
	c := r.code()
	switch {
	case c >= fixStr && c <= fixStr|0x1f:
		return int(c & 0x1f)
	case c == codeNil:
		return -1
	case c == codeStr8, c == codeBin8:
		return int(r.be(1))
	case c == codeStr16, c == codeBin16:
		return int(r.be(2))
	case c == codeStr32, c == codeBin32:
		return int(r.be(4))
	}
	r.badCode(c, "a string or bytes")
	return 0
}

// Key reads a map key. The returned bytes alias the input: compare them
// (switch string(k)) and let go. A nil key reads as empty.
func (r *Reader) Key() []byte {
	n := r.bytesLen()
	if n <= 0 {
		return nil
	}
	return r.take(n)
}

// String reads a string; nil reads as "".
func (r *Reader) String() string {
	n := r.bytesLen()
	if n <= 0 {
		return ""
	}
	return string(r.take(n))
}

// Bytes reads a byte slice into a copy of its own: nil for nil, an empty
// non-nil slice for empty bytes, as the codec's reflective decoder gives.
func (r *Reader) Bytes() []byte {
	switch n := r.bytesLen(); {
	case n < 0 || r.err != nil:
		return nil
	case n == 0:
		return []byte{}
	default:
		p := r.take(n)
		if p == nil {
			return nil
		}
		return append([]byte(nil), p...)
	}
}

// ByteArray reads bytes into dst, a fixed-size id: nil leaves it as it
// is, shorter bytes fill its start, longer ones are an error (msgpack's
// byte-array decoder).
func (r *Reader) ByteArray(dst []byte) {
	n := r.bytesLen()
	if n <= 0 {
		return
	}
	if n > len(dst) {
		r.Failf("%d bytes for an array of %d", n, len(dst))
		return
	}
	copy(dst, r.take(n))
}

// Strings reads an array of strings: nil for nil, an empty non-nil slice
// for an empty array.
func (r *Reader) Strings() []string {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	ss := make([]string, n)
	for i := 0; i < n && r.err == nil; i++ {
		ss[i] = r.String()
	}
	return ss
}

// MapLen reads a map header: the number of pairs, -1 for nil. A count
// the bytes left cannot hold is an error (0).
func (r *Reader) MapLen() int {
	c := r.code()
	n := 0
	switch {
	case c >= fixMap && c <= fixMap|0x0f:
		n = int(c & 0x0f)
	case c == codeNil:
		return -1
	case c == codeMap16:
		n = int(r.be(2))
	case c == codeMap32:
		n = int(r.be(4))
	default:
		r.badCode(c, "a map")
		return 0
	}
	return r.bound(n, 2)
}

// ArrayLen reads an array header: the number of values, -1 for nil. A
// count the bytes left cannot hold is an error (0).
func (r *Reader) ArrayLen() int {
	c := r.code()
	n := 0
	switch {
	case c >= fixArray && c <= fixArray|0x0f:
		n = int(c & 0x0f)
	case c == codeNil:
		return -1
	case c == codeArray16:
		n = int(r.be(2))
	case c == codeArray32:
		n = int(r.be(4))
	default:
		r.badCode(c, "an array")
		return 0
	}
	return r.bound(n, 1)
}

// bound checks that n values of at least per bytes each fit in what is
// left, so that a decoder never allocates for values that are not there.
func (r *Reader) bound(n, per int) int {
	if r.err != nil {
		return 0
	}
	if n > (len(r.b)-r.i)/per {
		r.Failf("%d values announced, %d bytes left", n*per, len(r.b)-r.i)
		return 0
	}
	return n
}

// Skip skips one value of any kind, as msgpack's Decoder.Skip does, but
// iteratively: nesting depth costs no stack.
func (r *Reader) Skip() {
	for pending := 1; pending > 0 && r.err == nil; pending-- {
		c := r.code()
		switch {
		case c <= 0x7f || c >= negFix, c == codeNil, c == codeFalse, c == codeTrue:
		case c >= fixMap && c <= fixMap|0x0f:
			pending += r.bound(int(c&0x0f), 2) * 2
		case c >= fixArray && c <= fixArray|0x0f:
			pending += r.bound(int(c&0x0f), 1)
		case c >= fixStr && c <= fixStr|0x1f:
			r.take(int(c & 0x1f))
		case c == codeUint8, c == codeInt8:
			r.take(1)
		case c == codeUint16, c == codeInt16:
			r.take(2)
		case c == codeUint32, c == codeInt32, c == codeFloat:
			r.take(4)
		case c == codeUint64, c == codeInt64, c == codeDouble:
			r.take(8)
		case c == codeBin8, c == codeStr8:
			r.take(int(r.be(1)))
		case c == codeBin16, c == codeStr16:
			r.take(int(r.be(2)))
		case c == codeBin32, c == codeStr32:
			r.take(int(r.be(4)))
		case c == codeArray16:
			pending += r.bound(int(r.be(2)), 1)
		case c == codeArray32:
			pending += r.bound(int(r.be(4)), 1)
		case c == codeMap16:
			pending += r.bound(int(r.be(2)), 2) * 2
		case c == codeMap32:
			pending += r.bound(int(r.be(4)), 2) * 2
		case c >= codeFixExt1 && c <= codeFixExt16:
			r.take(1 + 1<<(c-codeFixExt1))
		case c == codeExt8:
			r.take(1 + int(r.be(1)))
		case c == codeExt16:
			r.take(1 + int(r.be(2)))
		case c == codeExt32:
			r.take(1 + int(r.be(4)))
		default:
			r.badCode(c, "a value")
		}
	}
}
