package rpc

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core"
)

// Request and Response encode as msgpack maps, as plain structs would
// (keys c, i, a, b; c, i, k, e, b without the empty ones), but write the
// carried message's envelope straight into the bin of key b and decode it
// straight from there (core.EncodeCarried, core.DecodeCarried): a call
// carrying a megabyte copies it once each way instead of encoding it,
// copying the encoding into the envelope, and decoding twice.

// Carried returns the request message: the message a Request carries, or
// its Body decoded; an error if it did not decode.
func (r *Request) Carried() (core.Message, error) { return carried(r.msg, r.bad, r.Body, nil) }

// Carried returns the reply message, as Request.Carried does; nil for an
// error response.
func (r *Response) Carried() (core.Message, error) { return carried(r.msg, r.bad, r.Body, nil) }

func carried(msg core.Message, bad error, body []byte, c *core.Codec) (core.Message, error) {
	switch {
	case bad != nil:
		return nil, bad
	case msg != nil || len(body) == 0:
		return msg, nil
	}
	if c == nil {
		c = core.NewCodec(0)
	}
	return c.Decode(body)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r *Request) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(4); err != nil {
		return err
	}
	for _, f := range [...]struct {
		k string
		v uint64
	}{{"c", r.Client}, {"i", r.ID}, {"a", r.AckBelow}} {
		if err := encodeUint(enc, f.k, f.v); err != nil {
			return err
		}
	}
	return encodeBody(enc, r.msg, r.Body)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r *Response) EncodeMsgpack(enc *msgpack.Encoder) error {
	hasBody := r.msg != nil || len(r.Body) > 0
	n := 2
	for _, present := range [...]bool{r.Code != 0, r.Err != "", hasBody} {
		if present {
			n++
		}
	}
	if err := enc.EncodeMapLen(n); err != nil {
		return err
	}
	if err := encodeUint(enc, "c", r.Client); err != nil {
		return err
	}
	if err := encodeUint(enc, "i", r.ID); err != nil {
		return err
	}
	if r.Code != 0 {
		if err := encodeUint(enc, "k", uint64(r.Code)); err != nil {
			return err
		}
	}
	if r.Err != "" {
		if err := enc.EncodeString("e"); err != nil {
			return err
		}
		if err := enc.EncodeString(r.Err); err != nil {
			return err
		}
	}
	if !hasBody {
		return nil
	}
	return encodeBody(enc, r.msg, r.Body)
}

func encodeUint(enc *msgpack.Encoder, k string, v uint64) error {
	if err := enc.EncodeString(k); err != nil {
		return err
	}
	return enc.EncodeUint(v)
}

func encodeBody(enc *msgpack.Encoder, msg core.Message, body []byte) error {
	if err := enc.EncodeString("b"); err != nil {
		return err
	}
	if msg != nil {
		return core.EncodeCarried(enc, msg)
	}
	return enc.EncodeBytes(body)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Request) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeMap(dec, func(k string) (bool, error) {
		var err error
		switch k {
		case "c":
			r.Client, err = dec.DecodeUint64()
		case "i":
			r.ID, err = dec.DecodeUint64()
		case "a":
			r.AckBelow, err = dec.DecodeUint64()
		case "b":
			r.msg, r.bad, err = core.DecodeCarried(dec)
		default:
			return false, nil
		}
		return true, err
	})
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Response) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeMap(dec, func(k string) (bool, error) {
		var err error
		switch k {
		case "c":
			r.Client, err = dec.DecodeUint64()
		case "i":
			r.ID, err = dec.DecodeUint64()
		case "k":
			var c uint8
			c, err = dec.DecodeUint8()
			r.Code = Code(c)
		case "e":
			r.Err, err = dec.DecodeString()
		case "b":
			r.msg, r.bad, err = core.DecodeCarried(dec)
		default:
			return false, nil
		}
		return true, err
	})
}

// decodeMap decodes a map whose values field decodes by key (reporting
// whether it knew the key); unknown keys' values are skipped, as for a
// plain struct.
func decodeMap(dec *msgpack.Decoder, field func(k string) (bool, error)) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		known, err := field(k)
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
		if !known {
			if err := dec.Skip(); err != nil {
				return err
			}
		}
	}
	return nil
}

// String prints the request and the message it carries, for traces.
func (r *Request) String() string {
	return fmt.Sprintf("{Client:%d ID:%d AckBelow:%d %s}", r.Client, r.ID, r.AckBelow, describeCarried(r.msg, r.bad, r.Body))
}

// String prints the response and the reply it carries, for traces.
func (r *Response) String() string {
	return fmt.Sprintf("{Client:%d ID:%d Code:%v Err:%s %s}", r.Client, r.ID, r.Code, r.Err, describeCarried(r.msg, r.bad, r.Body))
}

func describeCarried(msg core.Message, bad error, body []byte) string {
	switch {
	case bad != nil:
		return "Undecodable:" + bad.Error()
	case msg != nil:
		return fmt.Sprintf("%s:%+v", core.MessageName(msg.MsgType()), msg)
	}
	return fmt.Sprintf("Body:%v", body)
}
