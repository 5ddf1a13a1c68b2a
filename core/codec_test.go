package core

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

type testPing struct {
	Seq     uint64
	Node    NodeID
	Payload []byte
	Res     Resources
}

func (*testPing) MsgType() MsgType { return 65000 }

type testBounded struct {
	N int
}

func (*testBounded) MsgType() MsgType { return 65001 }

func (m *testBounded) Validate() error {
	if m.N < 0 || m.N > 10 {
		return fmt.Errorf("n = %d out of [0, 10]", m.N)
	}
	return nil
}

func init() {
	RegisterMessage(65000, 1, "test.Ping", func() Message { return new(testPing) })
	RegisterMessage(65001, 3, "test.Bounded", func() Message { return new(testBounded) })
}

func TestCodecRoundTrip(t *testing.T) {
	c := NewCodec(0)
	in := &testPing{Seq: 42, Node: NodeID{1, 2, 3}, Payload: []byte("hello"), Res: MustResources(CPU, "1.5")}
	b, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(m)) error %v", err)
	}
	got := out.(*testPing)
	if got.Seq != in.Seq || got.Node != in.Node || !bytes.Equal(got.Payload, in.Payload) || !got.Res.Equal(in.Res) {
		t.Fatalf("round trip = %+v, want %+v", got, in)
	}
	b[HeaderSize+2] ^= 0xff // the decoded message must not alias the input
	if string(got.Payload) != "hello" {
		t.Fatalf("decoded payload aliases the input buffer")
	}
}

func TestCodecErrorsNameTheProblem(t *testing.T) {
	c := NewCodec(64)
	good, err := c.Encode(&testBounded{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	invalid, _ := c.Encode(&testBounded{N: 11})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", good[:4], ErrTruncated},
		{"short body", good[:len(good)-1], ErrTruncated},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ErrNotMessage},
		{"envelope version", mutate(func(b []byte) []byte { b[1] = 9; return b }), ErrEnvelopeVersion},
		{"unknown type", mutate(func(b []byte) []byte { b[2], b[3] = 0xfe, 0xfe; return b }), ErrUnknownType},
		{"type version", mutate(func(b []byte) []byte { b[4] = 1; return b }), ErrTypeVersion},
		{"announced size over limit", mutate(func(b []byte) []byte { b[5] = 0x7f; return b }), ErrTooLarge},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrMalformed},
		{"garbage body", mutate(func(b []byte) []byte { b[HeaderSize] = 0xc1; return b }), ErrMalformed},
		{"fails Validate", invalid, ErrMalformed},
	} {
		_, err := c.Decode(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := c.Encode(&testPing{Payload: make([]byte, 100)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Encode over limit error = %v, want ErrTooLarge", err)
	}
}

func TestRegisteredTypesAreSorted(t *testing.T) {
	ts := RegisteredTypes()
	for i := 1; i < len(ts); i++ {
		if ts[i-1] >= ts[i] {
			t.Fatalf("RegisteredTypes() not ascending: %v", ts)
		}
	}
	if MessageName(65000) != "test.Ping" || MessageName(1) != "type(1)" {
		t.Errorf("MessageName gave %q, %q", MessageName(65000), MessageName(1))
	}
}

func BenchmarkCodecRoundTrip(b *testing.B) {
	c := NewCodec(0)
	m := &testPing{Seq: 42, Node: NodeID{1}, Payload: make([]byte, 64), Res: MustResources(CPU, 1)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = c.Append(buf[:0], m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestByteSlicesDecode: byte fields decoded from a codec's input keep
// msgpack's meaning (nil stays nil, empty stays empty and not nil), hold
// their own copy of the bytes, and a length prefix beyond the input is an
// error, not an allocation.
func TestByteSlicesDecode(t *testing.T) {
	c := NewCodec(0)
	for _, in := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{9}, 200_000)} {
		b, err := c.Encode(&testPing{Payload: in})
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got := m.(*testPing).Payload
		if (got == nil) != (in == nil) || !bytes.Equal(got, in) {
			t.Fatalf("payload %d bytes (nil %v) decoded as %d bytes (nil %v)", len(in), in == nil, len(got), got == nil)
		}
		if len(in) > 0 {
			b[len(b)-1]++ // the input changes; the decoded copy must not
			if got[len(got)-1] != in[len(in)-1] {
				t.Fatalf("the decoded payload aliases the input")
			}
		}
	}
	b, err := c.Encode(&testPing{Payload: []byte("abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("abcdef"))
	b[i-1] = 0xff // claim 255 bytes where 6 are
	if _, err := c.Decode(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode of a payload longer than the input = %v, want ErrMalformed", err)
	}
}

// TestEncodeTo: EncodeTo returns what Encode returns; with a spare
// buffer it hands its own encoding over (later encodings never touch it)
// and encodes the next message into the spare.
func TestEncodeTo(t *testing.T) {
	c := NewCodec(0)
	m := &testPing{Seq: 3, Payload: bytes.Repeat([]byte{1}, 100_000)}
	m2 := &testPing{Seq: 4, Payload: bytes.Repeat([]byte{2}, 50_000)}
	want, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	want2, err := c.Encode(m2)
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []int{0, 10, len(want), len(want) + 100} {
		var given []byte
		if room > 0 {
			given = make([]byte, 0, room)
		}
		var asked int
		got, err := c.EncodeTo(m, func(n int) []byte { asked = n; return given })
		if err != nil || !bytes.Equal(got, want) || asked != len(want) {
			t.Fatalf("room %d: EncodeTo = %d bytes, %v (asked for %d); want Encode's %d bytes", room, len(got), err, asked, len(want))
		}
		got2, err := c.EncodeTo(m2, func(int) []byte { return nil })
		if err != nil || !bytes.Equal(got2, want2) {
			t.Fatalf("room %d: second EncodeTo = %d bytes, %v; want %d bytes", room, len(got2), err, len(want2))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("room %d: the next encoding overwrote the one handed over", room)
		}
		if room >= len(want2) && !bytes.Equal(given[:len(want2)], want2) {
			t.Errorf("room %d: the next message was not encoded into the spare buffer", room)
		}
	}
}
