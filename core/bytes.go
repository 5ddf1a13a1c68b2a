package core

import (
	"fmt"
	"io"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Byte slices (plasma objects, their chunks, task values) are the bulk of
// what gray's messages carry. msgpack decodes one by allocating a zeroed
// slice and reading into it; from a Codec's input, whose bytes are all at
// hand, the slice is copied out directly instead, with no zeroing pass,
// and a length prefix larger than the input left is refused before
// anything is allocated. Other decoders (msgpack.Unmarshal of users'
// values) decode byte slices as before.
func init() {
	msgpack.Register([]byte(nil), nil, decodeByteSlice)
}

func decodeByteSlice(d *msgpack.Decoder, v reflect.Value) error {
	rd, ok := d.Buffered().(*decReader)
	if !ok {
		b, err := d.DecodeBytes()
		if err != nil {
			return err
		}
		v.SetBytes(b)
		return nil
	}
	n, err := d.DecodeBytesLen()
	switch {
	case err != nil:
		return err
	case n < 0:
		v.SetBytes(nil)
		return nil
	case n == 0:
		v.SetBytes([]byte{})
		return nil
	case n > rd.len():
		return fmt.Errorf("msgpack: %d bytes announced, %d left: %w", n, rd.len(), io.ErrUnexpectedEOF)
	}
	v.SetBytes(append([]byte(nil), rd.b[rd.i:rd.i+n]...))
	rd.i += n
	return nil
}
