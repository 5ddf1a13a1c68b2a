package core

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic, and
// every error must wrap one of the documented sentinels. Run longer with
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./core
//
// The seed corpus (testdata/fuzz/FuzzDecode plus the f.Add calls) runs in
// every plain `go test`.
func FuzzDecode(f *testing.F) {
	c := NewCodec(1 << 16)
	for _, m := range []Message{
		&testPing{Seq: 1, Node: NodeID{9}, Payload: []byte("x"), Res: MustResources(CPU, 1)},
		&testPing{},
		&testBounded{N: 5},
	} {
		b, err := c.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{envelopeMagic, envelopeVersion, 0xfd, 0xe8, 1, 0xff, 0xff, 0xff, 0xff})
	sentinels := []error{ErrNotMessage, ErrEnvelopeVersion, ErrUnknownType, ErrTypeVersion, ErrTruncated, ErrTooLarge, ErrMalformed}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.Decode(b)
		if err == nil {
			if m == nil {
				t.Fatal("Decode returned nil message and nil error")
			}
			// A message that decodes must re-encode.
			if _, err := c.Encode(m); err != nil {
				t.Fatalf("decoded %T does not re-encode: %v", m, err)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Decode error %v wraps no documented sentinel", err)
	})
}
