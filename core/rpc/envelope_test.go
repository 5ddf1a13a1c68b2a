package rpc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core"
)

// blob is a test message with a byte field, as plasma objects travel.
type blob struct {
	N    int
	Data []byte
}

func (*blob) MsgType() core.MsgType { return 65110 }

// picky refuses to validate with N < 0.
type picky struct{ N int }

func (*picky) MsgType() core.MsgType { return 65111 }

func (p *picky) Validate() error {
	if p.N < 0 {
		return errors.New("negative")
	}
	return nil
}

func init() {
	core.RegisterMessage(65110, 1, "test.Blob", func() core.Message { return new(blob) })
	core.RegisterMessage(65111, 1, "test.Picky", func() core.Message { return new(picky) })
}

// TestCarriedMessageRoundTrips: a message carried by a Request or a
// Response, or given as Body, comes out decoded; the bin holds exactly the
// message's own envelope.
func TestCarriedMessageRoundTrips(t *testing.T) {
	c := core.NewCodec(0)
	m := &blob{N: 7, Data: bytes.Repeat([]byte{3}, 300_000)}
	env, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  core.Message
	}{
		{"request carrying", &Request{Client: 1, ID: 2, AckBelow: 2, msg: m}},
		{"request with body", &Request{Client: 1, ID: 2, AckBelow: 2, Body: env}},
		{"response carrying", &Response{Client: 1, ID: 2, msg: m}},
		{"response with body", &Response{Client: 1, ID: 2, Body: env}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := c.Encode(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, env) {
				t.Errorf("the encoding does not hold the message's envelope")
			}
			d, err := c.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.(interface{ Carried() (core.Message, error) }).Carried()
			g, ok := got.(*blob)
			if err != nil || !ok || g.N != 7 || !bytes.Equal(g.Data, m.Data) {
				t.Fatalf("Carried() = %T, %v; want the blob", got, err)
			}
			if &g.Data[0] == &m.Data[0] {
				t.Errorf("the decoded message shares memory with the sent one")
			}
		})
	}
	// A plain msgpack encoder (not a codec's) gets the same map.
	plain, err := msgpack.Marshal(&Request{Client: 1, ID: 2, AckBelow: 2, msg: m})
	if err != nil {
		t.Fatal(err)
	}
	var r Request
	if err := msgpack.Unmarshal(plain, &r); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Carried(); err != nil || got.(*blob).N != 7 {
		t.Fatalf("through plain msgpack: Carried() = %v, %v", got, err)
	}
}

// TestCarriedMessageThatDoesNotDecode: the envelope still decodes, so the
// server can answer the call; the carried message's error is kept.
func TestCarriedMessageThatDoesNotDecode(t *testing.T) {
	c := core.NewCodec(0)
	for _, tc := range []struct {
		name string
		r    *Request
		want error
	}{
		{"invalid", &Request{Client: 1, ID: 1, msg: &picky{N: -1}}, core.ErrMalformed},
		{"not a message", &Request{Client: 1, ID: 1, Body: []byte("hello, not a gray message")}, core.ErrNotMessage},
		{"truncated", &Request{Client: 1, ID: 1, Body: []byte("hello")}, core.ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := c.Encode(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Decode(b)
			if err != nil {
				t.Fatalf("Decode = %v, want the envelope decoded", err)
			}
			if _, err := d.(*Request).Carried(); !errors.Is(err, tc.want) {
				t.Fatalf("Carried() error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCarriersDoNotNest: a carried message carrying another is refused
// one level down, so adversarial input cannot nest decoding deeply.
func TestCarriersDoNotNest(t *testing.T) {
	c := core.NewCodec(0)
	b, err := c.Encode(&Request{Client: 1, ID: 1, msg: &Request{Client: 1, ID: 1, msg: &picky{}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := d.(*Request).Carried()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inner.(*Request).Carried(); !errors.Is(err, core.ErrMalformed) {
		t.Fatalf("a carrier's carrier's message: error %v, want ErrMalformed", err)
	}
}

// TestSizeCountsWithoutCopying: Size is exactly the encoded length, for
// carriers too.
func TestSizeCountsWithoutCopying(t *testing.T) {
	c := core.NewCodec(0)
	m := &blob{N: 1, Data: make([]byte, 70_000)}
	for _, msg := range []core.Message{m, &Request{Client: 9, ID: 3, AckBelow: 1, msg: m}, &Response{Client: 9, ID: 3, Code: CodeFailed, Err: "x"}} {
		b, err := c.Encode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.Size(msg); err != nil || n != len(b) {
			t.Errorf("Size(%T) = %d, %v; want %d", msg, n, err, len(b))
		}
	}
	small := core.NewCodec(1000)
	if _, err := small.Size(m); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Size beyond the limit = %v, want ErrTooLarge", err)
	}
}

// FuzzDecodeEnvelope: whatever bytes arrive, decoding a Request or a
// Response never panics, and what decodes re-encodes.
func FuzzDecodeEnvelope(f *testing.F) {
	c := core.NewCodec(1 << 20)
	for _, m := range []core.Message{
		&Request{Client: 1, ID: 2, AckBelow: 1, msg: &blob{N: 3, Data: []byte("abc")}},
		&Response{Client: 1, ID: 2, msg: &picky{N: 1}},
		&Response{Client: 1, ID: 2, Code: CodeNotFound, Err: "gone"},
		&Request{Client: 1, ID: 2, msg: &Request{Client: 1, ID: 1, msg: &picky{}}},
	} {
		b, err := c.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.Decode(b)
		if err != nil {
			return
		}
		if _, err := c.Encode(m); err != nil {
			t.Fatalf("decoded %T does not re-encode: %v", m, err)
		}
		if r, ok := m.(*Request); ok {
			_, _ = r.Carried()
		}
	})
}
