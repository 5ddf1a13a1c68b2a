package gray

import (
	"bytes"
	"testing"
)

// TestEncodeBytesInto: the encoding Put writes straight into the store
// is encodeBytes's, at every length class of msgpack's bin formats.
func TestEncodeBytesInto(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 65535, 65536, 1 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		want := encodeBytes(b)
		if got := encodedBytesLen(b); got != len(want) {
			t.Errorf("encodedBytesLen(%d bytes) = %d, want %d", n, got, len(want))
			continue
		}
		got := make([]byte, len(want))
		encodeBytesInto(got, b)
		if !bytes.Equal(got, want) {
			t.Errorf("encodeBytesInto(%d bytes) differs from encodeBytes", n)
		}
	}
}
