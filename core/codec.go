package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
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
	// DefaultMaxMessageSize bounds one encoded message. Large objects travel
	// in chunks well below it.
	DefaultMaxMessageSize = 64 << 20
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
	maxSize int
	out     appendWriter
	enc     *msgpack.Encoder
	rd      bytes.Reader
	dec     *msgpack.Decoder
}

// NewCodec returns a codec that refuses messages larger than maxSize bytes
// (header included); maxSize <= 0 means DefaultMaxMessageSize.
func NewCodec(maxSize int) *Codec {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	c := &Codec{maxSize: maxSize}
	c.enc = msgpack.NewEncoder(&c.out)
	c.enc.UseCompactInts(true)
	c.dec = msgpack.NewDecoder(&c.rd)
	return c
}

// MaxSize returns the codec's size limit in bytes.
func (c *Codec) MaxSize() int { return c.maxSize }

// Append encodes m in its envelope and appends it to dst. It fails for an
// unregistered message type or a message over the size limit. The body is
// encoded straight into dst, so a large byte field is copied once.
func (c *Codec) Append(dst []byte, m Message) ([]byte, error) {
	t := m.MsgType()
	info, ok := registry[t]
	if !ok {
		return dst, fmt.Errorf("core: encode %T: %w %d", m, ErrUnknownType, t)
	}
	start := len(dst)
	var hdr [HeaderSize]byte
	// Room for a typical message, so that small ones take one allocation.
	c.out.b = append(slices.Grow(dst, appendReserve), hdr[:]...)
	err := c.enc.Encode(m)
	b := c.out.b
	c.out.b = nil // the codec keeps no reference to the caller's slice
	if err != nil {
		return dst, fmt.Errorf("core: encode %s: %w", info.name, err)
	}
	if n := len(b) - start; n > c.maxSize {
		return dst, fmt.Errorf("core: encode %s: %d bytes, limit %d: %w", info.name, n, c.maxSize, ErrTooLarge)
	}
	h := b[start:]
	h[0] = envelopeMagic
	h[1] = envelopeVersion
	binary.BigEndian.PutUint16(h[2:], uint16(t))
	h[4] = info.version
	binary.BigEndian.PutUint32(h[5:], uint32(len(h)-HeaderSize))
	return b, nil
}

// appendReserve is the spare capacity Append makes sure dst has before
// encoding: most control messages fit in it.
const appendReserve = 256

// appendWriter is the encoder's output: it appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
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
	if n > uint64(c.maxSize) {
		return t, 0, fmt.Errorf("core: decode %s: %d bytes, limit %d: %w", MessageName(t), n, c.maxSize, ErrTooLarge)
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
	c.rd.Reset(b[HeaderSize:])
	c.dec.Reset(&c.rd)
	if err := c.dec.Decode(m); err != nil {
		return nil, fmt.Errorf("core: decode %s: %v: %w", info.name, err, ErrMalformed)
	}
	if c.rd.Len() != 0 {
		return nil, fmt.Errorf("core: decode %s: %d bytes after the body: %w", info.name, c.rd.Len(), ErrMalformed)
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("core: decode %s: invalid: %v: %w", info.name, err, ErrMalformed)
		}
	}
	return m, nil
}
