package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/internal/wire"
)

// MsgType is the wire type code of a message. Ranges are reserved per
// package so codes never collide: core and sim 1–999, gcs 1000–1999,
// raylet 2000–2999, plasma 3000–3999, core/worker 4000–4999, net 5000–5999,
// internal/bench 6000–6099, tests and test workloads 60000–65535.
type MsgType uint16

// Message is anything sent between processes. Implementations are plain
// structs (pointer receivers) registered with RegisterMessage.
type Message interface {
	MsgType() MsgType
}

// wireMessage is a message whose codec is written by hand (package
// internal/wire; core/proto/codec_fast.go): the codec encodes and decodes
// it through these methods instead of msgpack's reflection, into the same
// bytes. DecodeWire reads one value from r, leaving the rest.
type wireMessage interface {
	EncodeWire(w *wire.Writer)
	DecodeWire(r *wire.Reader) error
}

// Validator is implemented by messages that can check their own fields after
// decoding (ranges, sorted sets, non-empty names). Decode calls it, so a
// component never sees a structurally invalid message.
type Validator interface {
	Validate() error
}

type msgInfo struct {
	name    string
	version uint8
	make    func() Message
}

// registry maps type codes to message constructors. It is written only from
// package init functions (RegisterMessage) and read afterwards, so it needs
// no lock.
var registry = map[MsgType]*msgInfo{}

// RegisterMessage declares message type t with its schema version, a
// readable name, and a constructor returning a fresh zero value. Bump version
// whenever the encoding of the message changes incompatibly. It panics on a
// duplicate code, which is a programmer error caught at init.
func RegisterMessage(t MsgType, version uint8, name string, make func() Message) {
	if old, ok := registry[t]; ok {
		panic(fmt.Sprintf("core: message type %d registered twice (%s and %s)", t, old.name, name))
	}
	if got := make().MsgType(); got != t {
		panic(fmt.Sprintf("core: message %s: constructor returns type %d, registered as %d", name, got, t))
	}
	registry[t] = &msgInfo{name: name, version: version, make: make}
}

// MessageName returns the registered name of t, or "type(N)" if unknown.
func MessageName(t MsgType) string {
	if info, ok := registry[t]; ok {
		return info.name
	}
	return fmt.Sprintf("type(%d)", t)
}

// NewMessage returns a fresh zero message of registered type t, or false
// for an unknown type (tests that cover every message use it).
func NewMessage(t MsgType) (Message, bool) {
	info, ok := registry[t]
	if !ok {
		return nil, false
	}
	return info.make(), true
}

// RegisteredTypes returns the registered type codes in ascending order.
func RegisteredTypes() []MsgType {
	ts := make([]MsgType, 0, len(registry))
	for t := range registry { //gray:unordered sorted right after the loop
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// Envelope layout: magic, envelope version, type code (big endian), message
// schema version, body length (big endian), msgpack body.
const (
	envelopeMagic   = 0x47 // 'G'
	envelopeVersion = 1
	// HeaderSize is the size of the envelope header in bytes.
	HeaderSize = 9
	// DefaultMessageSizeMax bounds one encoded message. Large objects travel
	// in chunks well below it.
	DefaultMessageSizeMax = 64 << 20
)

// Decoding errors. Decode wraps one of them with the details, so callers
// match with errors.Is and log the message.
var (
	ErrNotMessage      = errors.New("core: not a gray message (bad magic byte)")
	ErrEnvelopeVersion = errors.New("core: unsupported envelope version")
	ErrUnknownType     = errors.New("core: unknown message type")
	ErrTypeVersion     = errors.New("core: wrong message version")
	ErrTruncated       = errors.New("core: truncated message")
	ErrTooLarge        = errors.New("core: message over the size limit")
	ErrMalformed       = errors.New("core: malformed message body")
)

// Codec encodes and decodes messages in the versioned envelope. A Codec
// reuses its buffers and is not safe for concurrent use: give each
// goroutine or connection its own.
type Codec struct {
	sizeMax int
	buf     encBuf
	enc     *msgpack.Encoder
	rd      decReader
	dec     *msgpack.Decoder
	// wr reads the messages with hand-written codecs.
	wr wire.Reader
	// cnt and cntEnc measure messages without writing them (Size).
	cnt    counter
	cntEnc *msgpack.Encoder
	// child decodes the messages carried inside the one being decoded
	// (DecodeCarried); depth is how deep this codec is in that chain.
	child *Codec
	depth int
}

// encBuf is a Codec's encoding buffer: msgpack's encoder writes to it,
// and hand-written codecs append to its wire.Writer directly. Its own type
// lets EncodeCarried recognise a codec's encoder and write a carried
// message in place.
type encBuf struct{ w wire.Writer }

func (b *encBuf) Write(p []byte) (int, error) { b.w.B = append(b.w.B, p...); return len(p), nil }

func (b *encBuf) WriteByte(c byte) error { b.w.B = append(b.w.B, c); return nil }

// counter counts the bytes written to it; w measures hand-coded messages
// (counting their strings and bytes rather than copying them).
type counter struct {
	n int
	w wire.Writer
}

func (c *counter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

func (c *counter) WriteByte(byte) error { c.n++; return nil }

// measure adds the size of m, a hand-coded message, to c.n.
func (c *counter) measure(m wireMessage) {
	c.w.Reset(c.w.B[:0], true)
	m.EncodeWire(&c.w)
	c.n += c.w.Size()
}

// decReader reads a Codec's input. Its own type lets DecodeCarried
// recognise a codec's decoder and decode a carried message in place.
type decReader struct {
	b     []byte
	i     int
	codec *Codec
}

func (r *decReader) reset(b []byte) { r.b, r.i = b, 0 }

func (r *decReader) len() int { return len(r.b) - r.i }

func (r *decReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func (r *decReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	r.i++
	return r.b[r.i-1], nil
}

func (r *decReader) UnreadByte() error {
	if r.i == 0 {
		return errors.New("core: unread at the start of the input")
	}
	r.i--
	return nil
}

// NewCodec returns a codec that refuses messages larger than sizeMax bytes
// (header included); sizeMax <= 0 means DefaultMessageSizeMax.
func NewCodec(sizeMax int) *Codec {
	if sizeMax <= 0 {
		sizeMax = DefaultMessageSizeMax
	}
	c := &Codec{sizeMax: sizeMax}
	c.enc = msgpack.NewEncoder(&c.buf)
	c.enc.UseCompactInts(true)
	c.cntEnc = msgpack.NewEncoder(&c.cnt)
	c.cntEnc.UseCompactInts(true)
	c.rd.codec = c
	c.dec = msgpack.NewDecoder(&c.rd)
	return c
}

// SizeMax returns the codec's size limit in bytes.
func (c *Codec) SizeMax() int { return c.sizeMax }

// Append encodes m in its envelope and appends it to dst. It fails for an
// unregistered message type or a message over the size limit.
func (c *Codec) Append(dst []byte, m Message) ([]byte, error) {
	b, err := c.encode(m)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// EncodeTo is Encode for a caller that recycles buffers (the simulator's
// message payloads). The message is encoded into the codec's own buffer;
// if spare(size) returns a buffer, that encoding is handed over as it is
// and the spare becomes the codec's buffer (no copy, one encoding pass);
// otherwise a copy is returned, as Encode does.
func (c *Codec) EncodeTo(m Message, spare func(size int) []byte) ([]byte, error) {
	b, err := c.encode(m)
	if err != nil {
		return nil, err
	}
	if s := spare(len(b)); s != nil {
		c.buf.w.B = s[:0]
		return b, nil
	}
	return append([]byte(nil), b...), nil
}

// encode encodes m in its envelope into the codec's buffer and returns
// it, valid until the codec's next use.
func (c *Codec) encode(m Message) ([]byte, error) {
	t := m.MsgType()
	info, ok := registry[t]
	if !ok {
		return nil, fmt.Errorf("core: encode %T: %w %d", m, ErrUnknownType, t)
	}
	var hdr [HeaderSize]byte
	c.buf.w.Reset(append(c.buf.w.B[:0], hdr[:]...), false)
	if wm, ok := m.(wireMessage); ok {
		wm.EncodeWire(&c.buf.w)
	} else if err := c.enc.Encode(m); err != nil {
		return nil, fmt.Errorf("core: encode %s: %w", info.name, err)
	}
	b := c.buf.w.B
	if len(b) > c.sizeMax {
		return nil, fmt.Errorf("core: encode %s: %d bytes, limit %d: %w", info.name, len(b), c.sizeMax, ErrTooLarge)
	}
	putHeader(b, t, info.version)
	return b, nil
}

// putHeader fills in the envelope header at the start of env, whose body
// follows it.
func putHeader(env []byte, t MsgType, version uint8) {
	env[0] = envelopeMagic
	env[1] = envelopeVersion
	binary.BigEndian.PutUint16(env[2:], uint16(t))
	env[4] = version
	binary.BigEndian.PutUint32(env[5:], uint32(len(env)-HeaderSize))
}

// Size returns the size of m in its envelope (what Encode would return)
// without writing it out: byte fields are counted, not copied. It fails as
// Encode does.
func (c *Codec) Size(m Message) (int, error) {
	t := m.MsgType()
	info, ok := registry[t]
	if !ok {
		return 0, fmt.Errorf("core: encode %T: %w %d", m, ErrUnknownType, t)
	}
	c.cnt.n = HeaderSize
	if wm, ok := m.(wireMessage); ok {
		c.cnt.measure(wm)
	} else if err := c.cntEnc.Encode(m); err != nil {
		return 0, fmt.Errorf("core: encode %s: %w", info.name, err)
	}
	if c.cnt.n > c.sizeMax {
		return 0, fmt.Errorf("core: encode %s: %d bytes, limit %d: %w", info.name, c.cnt.n, c.sizeMax, ErrTooLarge)
	}
	return c.cnt.n, nil
}

// binHeader32 starts a msgpack bin value with a 4-byte length.
const binHeader32 = 0xc6

// EncodeCarried writes m in its envelope as a msgpack bin value, for a
// message that carries another one (package rpc's Request and Response:
// a call's request or reply). With a Codec's encoder the envelope is
// written in place, so a carried megabyte is copied once rather than
// encoded on its own and then copied into the carrier; the bin then has a
// 4-byte length whatever its size. Any other encoder gets the envelope
// encoded separately. A message carried in a Codec's encoding uses that
// codec's size limit for the whole.
func EncodeCarried(enc *msgpack.Encoder, m Message) error {
	t := m.MsgType()
	info, ok := registry[t]
	if !ok {
		return fmt.Errorf("core: encode %T: %w %d", m, ErrUnknownType, t)
	}
	switch w := enc.Writer().(type) {
	case *encBuf:
		start := len(w.w.B)
		var hdr [5 + HeaderSize]byte
		hdr[0] = binHeader32
		w.w.B = append(w.w.B, hdr[:]...)
		if wm, ok := m.(wireMessage); ok {
			wm.EncodeWire(&w.w)
		} else if err := enc.Encode(m); err != nil {
			return fmt.Errorf("core: encode %s: %w", info.name, err)
		}
		out := w.w.B[start:]
		if uint64(len(out)-5) > math.MaxUint32 {
			return fmt.Errorf("core: encode %s: %d bytes: %w", info.name, len(out)-5, ErrTooLarge)
		}
		binary.BigEndian.PutUint32(out[1:], uint32(len(out)-5))
		putHeader(out[5:], t, info.version)
		return nil
	case *counter:
		w.n += 5 + HeaderSize
		if wm, ok := m.(wireMessage); ok {
			w.measure(wm)
			return nil
		}
		return enc.Encode(m)
	}
	b, err := NewCodec(0).Encode(m)
	if err != nil {
		return err
	}
	return enc.EncodeBytes(b)
}

// DecodeCarried reads a bin value holding an enveloped message, as
// EncodeCarried writes it, and decodes that message: m is nil for a nil
// or empty value. With a Codec's decoder the message is decoded in place,
// without copying the bin out first. A carried message that does not
// decode (or validate) is reported in bad, with the bin consumed, so that
// the carrier decodes on and can answer for it; err reports a broken
// stream. Carried messages do not carry messages in turn (bad).
func DecodeCarried(dec *msgpack.Decoder) (m Message, bad, err error) {
	n, err := dec.DecodeBytesLen()
	if err != nil || n <= 0 {
		return nil, nil, err
	}
	rd, ok := dec.Buffered().(*decReader)
	if !ok {
		if n > DefaultMessageSizeMax {
			return nil, nil, fmt.Errorf("core: decode: carried message of %d bytes: %w", n, ErrTooLarge)
		}
		b := make([]byte, n)
		if err := dec.ReadFull(b); err != nil {
			return nil, nil, err
		}
		m, bad = NewCodec(0).Decode(b)
		return m, bad, nil
	}
	if n > rd.len() {
		return nil, nil, fmt.Errorf("core: decode: carried message of %d bytes, %d left: %w", n, rd.len(), ErrTruncated)
	}
	env := rd.b[rd.i : rd.i+n]
	rd.i += n
	c := rd.codec
	if c.depth > 0 {
		return nil, fmt.Errorf("core: decode: a carried message carries another: %w", ErrMalformed), nil
	}
	if c.child == nil {
		c.child = NewCodec(c.sizeMax)
		c.child.depth = c.depth + 1
	}
	m, bad = c.child.Decode(env)
	return m, bad, nil
}

// Encode returns m in its envelope as a new slice owned by the caller.
func (c *Codec) Encode(m Message) ([]byte, error) { return c.Append(nil, m) }

// Peek returns the type code and the total size (header plus body) announced
// by the header at the start of b, without decoding the body. Stream readers
// use it to enforce size limits before reading a body.
func (c *Codec) Peek(b []byte) (t MsgType, size int, err error) {
	if len(b) < HeaderSize {
		return 0, 0, fmt.Errorf("core: decode: %d header bytes, need %d: %w", len(b), HeaderSize, ErrTruncated)
	}
	if b[0] != envelopeMagic {
		return 0, 0, fmt.Errorf("core: decode: magic 0x%02x: %w", b[0], ErrNotMessage)
	}
	if b[1] != envelopeVersion {
		return 0, 0, fmt.Errorf("core: decode: envelope version %d, this build speaks %d: %w", b[1], envelopeVersion, ErrEnvelopeVersion)
	}
	t = MsgType(binary.BigEndian.Uint16(b[2:]))
	n := uint64(binary.BigEndian.Uint32(b[5:])) + HeaderSize
	if n > uint64(c.sizeMax) {
		return t, 0, fmt.Errorf("core: decode %s: %d bytes, limit %d: %w", MessageName(t), n, c.sizeMax, ErrTooLarge)
	}
	return t, int(n), nil
}

// Decode parses one enveloped message that fills b exactly. It never panics
// on bad input; every error wraps one of the Err* values above. The returned
// message does not alias b.
func (c *Codec) Decode(b []byte) (Message, error) {
	t, size, err := c.Peek(b)
	if err != nil {
		return nil, err
	}
	info, ok := registry[t]
	if !ok {
		return nil, fmt.Errorf("core: decode: %w %d", ErrUnknownType, t)
	}
	if b[4] != info.version {
		return nil, fmt.Errorf("core: decode %s: version %d, this build speaks %d: %w", info.name, b[4], info.version, ErrTypeVersion)
	}
	if len(b) < size {
		return nil, fmt.Errorf("core: decode %s: %d of %d bytes: %w", info.name, len(b), size, ErrTruncated)
	}
	if len(b) > size {
		return nil, fmt.Errorf("core: decode %s: %d trailing bytes: %w", info.name, len(b)-size, ErrMalformed)
	}
	m := info.make()
	left := 0
	if wm, ok := m.(wireMessage); ok {
		c.wr.Reset(b[HeaderSize:])
		err := wm.DecodeWire(&c.wr)
		left = c.wr.Len()
		c.wr.Reset(nil) // the codec must not keep the input alive
		if err != nil {
			return nil, fmt.Errorf("core: decode %s: %v: %w", info.name, err, ErrMalformed)
		}
	} else {
		c.rd.reset(b[HeaderSize:])
		c.dec.Reset(&c.rd)
		if err := c.dec.Decode(m); err != nil {
			return nil, fmt.Errorf("core: decode %s: %v: %w", info.name, err, ErrMalformed)
		}
		left = c.rd.len()
	}
	if left != 0 {
		return nil, fmt.Errorf("core: decode %s: %d bytes after the body: %w", info.name, left, ErrMalformed)
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("core: decode %s: invalid: %v: %w", info.name, err, ErrMalformed)
		}
	}
	return m, nil
}
