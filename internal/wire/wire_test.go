package wire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// msgpackOf encodes with msgpack's encoder as core.Codec configures it.
func msgpackOf(t testing.TB, f func(e *msgpack.Encoder) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(true)
	if err := f(e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// boundaryInts are the integers on both sides of every msgpack width.
var boundaryInts = []int64{0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, math.MaxInt32, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
	-1, -31, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}

var boundaryLens = []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536}

// TestWriterMatchesMsgpack: every value Writer writes is msgpack's
// reflective encoding of it, at every width boundary.
func TestWriterMatchesMsgpack(t *testing.T) {
	check := func(what string, write func(w *Writer), enc func(e *msgpack.Encoder) error) {
		t.Helper()
		var w Writer
		write(&w)
		if want := msgpackOf(t, enc); !bytes.Equal(w.B, want) {
			t.Fatalf("%s: Writer wrote %x, msgpack %x", what, w.B[:min(len(w.B), 16)], want[:min(len(want), 16)])
		}
		c := Writer{Count: true}
		write(&c)
		if c.Size() != len(w.B) {
			t.Fatalf("%s: measured %d bytes, wrote %d", what, c.Size(), len(w.B))
		}
	}
	for _, n := range boundaryInts {
		check("int", func(w *Writer) { w.Int(n) }, func(e *msgpack.Encoder) error { return e.Encode(n) })
		if n >= 0 {
			check("uint", func(w *Writer) { w.Uint(uint64(n)) }, func(e *msgpack.Encoder) error { return e.Encode(uint64(n)) })
		}
	}
	check("max uint", func(w *Writer) { w.Uint(math.MaxUint64) }, func(e *msgpack.Encoder) error { return e.Encode(uint64(math.MaxUint64)) })
	for _, v := range []bool{false, true} {
		check("bool", func(w *Writer) { w.Bool(v) }, func(e *msgpack.Encoder) error { return e.Encode(v) })
	}
	check("nil bytes", func(w *Writer) { w.Bytes(nil) }, func(e *msgpack.Encoder) error { return e.Encode([]byte(nil)) })
	check("nil strings", func(w *Writer) { w.Strings(nil) }, func(e *msgpack.Encoder) error { return e.Encode([]string(nil)) })
	for _, n := range append(boundaryLens, 1<<16+1) {
		s := strings.Repeat("x", n)
		check("string", func(w *Writer) { w.String(s) }, func(e *msgpack.Encoder) error { return e.Encode(s) })
		check("key", func(w *Writer) { w.Key(s) }, func(e *msgpack.Encoder) error { return e.Encode(s) })
		b := []byte(s)
		check("bytes", func(w *Writer) { w.Bytes(b) }, func(e *msgpack.Encoder) error { return e.Encode(b) })
		check("array", func(w *Writer) { w.ArrayLen(n) }, func(e *msgpack.Encoder) error { return e.EncodeArrayLen(n) })
		check("map", func(w *Writer) { w.MapLen(n) }, func(e *msgpack.Encoder) error { return e.EncodeMapLen(n) })
	}
	ss := []string{"", "a", strings.Repeat("y", 40)}
	check("strings", func(w *Writer) { w.Strings(ss) }, func(e *msgpack.Encoder) error { return e.Encode(ss) })
}

// TestReaderReadsMsgpack: Reader reads what msgpack writes, in every
// width (not only the compact ones) and in the forms msgpack's decoder
// accepts for a field (nil for zero, str for bytes and bin for strings).
func TestReaderReadsMsgpack(t *testing.T) {
	read := func(b []byte, f func(r *Reader)) {
		t.Helper()
		var r Reader
		r.Reset(b)
		f(&r)
		if r.Err() != nil || r.Len() != 0 {
			t.Fatalf("reading %x: %v, %d bytes left", b, r.Err(), r.Len())
		}
	}
	for _, n := range boundaryInts {
		for _, b := range [][]byte{
			msgpackOf(t, func(e *msgpack.Encoder) error { return e.EncodeInt(n) }),
			msgpackOf(t, func(e *msgpack.Encoder) error { return e.EncodeInt64(n) }),
		} {
			read(b, func(r *Reader) {
				if got := r.Int64(); got != n {
					t.Fatalf("Int64 of %x = %d, want %d", b, got, n)
				}
			})
		}
	}
	for _, b := range [][]byte{{0xcc, 9}, {0xcd, 0, 9}, {0xce, 0, 0, 0, 9}, {0xcf, 0, 0, 0, 0, 0, 0, 0, 9}, {0xd0, 9}, {0xd1, 0, 9}, {0xd2, 0, 0, 0, 9}, {0xd3, 0, 0, 0, 0, 0, 0, 0, 9}} {
		read(b, func(r *Reader) {
			if got := r.Uint64(); got != 9 {
				t.Fatalf("Uint64 of %x = %d, want 9", b, got)
			}
		})
	}
	read([]byte{0xc0, 0xc0, 0xc0, 0xc0}, func(r *Reader) {
		if r.Uint64() != 0 || r.Bool() || r.String() != "" || r.Bytes() != nil {
			t.Fatalf("nil does not read as zero")
		}
	})
	for _, n := range boundaryLens {
		s := strings.Repeat("z", n)
		for _, b := range [][]byte{
			msgpackOf(t, func(e *msgpack.Encoder) error { return e.EncodeString(s) }),
			msgpackOf(t, func(e *msgpack.Encoder) error { return e.EncodeBytes([]byte(s)) }),
		} {
			read(b, func(r *Reader) {
				if got := r.String(); got != s {
					t.Fatalf("String of %d bytes read %d", n, len(got))
				}
			})
			read(b, func(r *Reader) {
				if got := r.Bytes(); string(got) != s || got == nil {
					t.Fatalf("Bytes of %d bytes read %d (nil %v)", n, len(got), got == nil)
				}
			})
		}
		read(msgpackOf(t, func(e *msgpack.Encoder) error { return e.EncodeArrayLen(n) }), func(r *Reader) {
			if n > 0 {
				r.b = append(r.b, make([]byte, n)...) // room for the values
				defer func() { r.i = len(r.b) }()
			}
			if got := r.ArrayLen(); got != n {
				t.Fatalf("ArrayLen = %d, want %d", got, n)
			}
		})
	}
	var id [4]byte
	read([]byte{0xc4, 2, 7, 8}, func(r *Reader) { r.ByteArray(id[:]) })
	if id != [4]byte{7, 8, 0, 0} {
		t.Fatalf("ByteArray of two bytes = %v, want them at the start", id)
	}
}

// TestReaderRefuses: truncated input, wrong kinds and counts beyond the
// input are errors that wrap ErrMalformed, and the first one sticks.
func TestReaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		f    func(r *Reader)
	}{
		{"empty", nil, func(r *Reader) { r.Uint64() }},
		{"short uint", []byte{0xcd, 1}, func(r *Reader) { r.Uint64() }},
		{"float for int", []byte{0xca, 0, 0, 0, 0}, func(r *Reader) { r.Int64() }},
		{"int for bool", []byte{1}, func(r *Reader) { r.Bool() }},
		{"string past the end", []byte{0xd9, 200, 'a'}, func(r *Reader) { _ = r.String() }},
		{"bytes past the end", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}, func(r *Reader) { r.Bytes() }},
		{"array past the end", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, func(r *Reader) { r.ArrayLen() }},
		{"map past the end", []byte{0xdf, 0, 0, 0, 2, 1, 1, 1}, func(r *Reader) { r.MapLen() }},
		{"id too long", []byte{0xc4, 3, 1, 2, 3}, func(r *Reader) { var id [2]byte; r.ByteArray(id[:]) }},
		{"never-used code", []byte{0xc1}, func(r *Reader) { r.Skip() }},
		{"skip past the end", []byte{0x92, 1}, func(r *Reader) { r.Skip() }},
	} {
		var r Reader
		r.Reset(tc.in)
		tc.f(&r)
		if !errors.Is(r.Err(), ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", tc.name, r.Err())
		}
		first := r.Err()
		r.Failf("later")
		if r.Err() != first || r.OK() {
			t.Errorf("%s: the first error did not stick", tc.name)
		}
	}
}

// FuzzSkip: Reader.Skip consumes exactly what msgpack's Decoder.Skip
// does, and fails where it fails, without panicking.
//
//	go test -run '^$' -fuzz FuzzSkip -fuzztime 60s ./internal/wire
func FuzzSkip(f *testing.F) {
	f.Add(msgpackOf(f, func(e *msgpack.Encoder) error {
		return e.Encode(map[string]any{"a": []any{1, -300, "x", []byte{1}, 1.5, float32(2), nil, true, map[string]any{}}})
	}))
	f.Add([]byte{0xd4, 1, 2, 0xc7, 1, 5, 9, 0xc8, 0, 1, 5, 9, 0xc9, 0, 0, 0, 0, 7, 0xd8, 1})
	f.Add([]byte{0xdc, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reader
		r.Reset(b)
		r.Skip()
		d := msgpack.NewDecoder(bytes.NewReader(b))
		derr := d.Skip()
		if (r.Err() == nil) != (derr == nil) {
			t.Fatalf("Skip of %x: wire %v, msgpack %v", b, r.Err(), derr)
		}
		if derr == nil && r.Len() != d.Buffered().(*bytes.Reader).Len() {
			t.Fatalf("Skip of %x left %d bytes, msgpack %d", b, r.Len(), d.Buffered().(*bytes.Reader).Len())
		}
	})
}
