package net

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/grayrt/gray/core"
)

// Wire format of the libp2p transport. Each sending host opens one
// long-lived stream per peer (protocol ProtocolID) and only writes to it;
// the receiver only reads. A stream carries a hello, then frames:
//
//	hello = "GRAY" version:u8 uvarint(len(addr)) addr
//	frame = uvarint(len(body)) body
//	body  = uvarint(len(from)) from uvarint(len(to)) to envelope
//
// addr is the sender's host address (<multiaddr>/p2p/<peer id>), which
// must name the peer id Noise authenticated; from and to are process names
// (ValidName); envelope is one core.Codec envelope. A frame longer than
// the receiver's limit is refused from its length alone, before its body
// is read, and any violation drops the connection.
const (
	helloMagic   = "GRAY"
	helloVersion = 1
	// helloAddrMax bounds the host address in a hello.
	helloAddrMax = 1024
	// frameOverhead bounds a frame's bytes beyond its envelope.
	frameOverhead = 2 * (binary.MaxVarintLen64 + NameLenMax)
)

// Errors of the wire format. Each violation wraps errProtocol.
var (
	errProtocol      = errors.New("net: p2p protocol violation")
	errFrameTooLarge = fmt.Errorf("%w: frame over the size limit: %w", errProtocol, core.ErrTooLarge)
)

// appendHello appends the hello announcing hostAddr.
func appendHello(dst []byte, hostAddr string) []byte {
	dst = append(dst, helloMagic...)
	dst = append(dst, helloVersion)
	dst = binary.AppendUvarint(dst, uint64(len(hostAddr)))
	return append(dst, hostAddr...)
}

// readHello reads a hello and returns the host address it announces.
func readHello(r *bufio.Reader) (string, error) {
	var hdr [len(helloMagic) + 1]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	if string(hdr[:len(helloMagic)]) != helloMagic {
		return "", fmt.Errorf("%w: hello starts with %q, want %q", errProtocol, hdr[:len(helloMagic)], helloMagic)
	}
	if v := hdr[len(helloMagic)]; v != helloVersion {
		return "", fmt.Errorf("%w: hello version %d, this build speaks %d", errProtocol, v, helloVersion)
	}
	n, err := readUvarint(r)
	if err != nil {
		return "", wireError(err)
	}
	if n == 0 || n > helloAddrMax {
		return "", fmt.Errorf("%w: hello address of %d bytes, want 1 to %d", errProtocol, n, helloAddrMax)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", wireError(err)
	}
	return string(b), nil
}

// appendFrameHeader appends the part of a frame before its envelope.
func appendFrameHeader(dst []byte, from, to string, envelopeLen int) []byte {
	body := uvarintLen(len(from)) + len(from) + uvarintLen(len(to)) + len(to) + envelopeLen
	dst = binary.AppendUvarint(dst, uint64(body))
	dst = binary.AppendUvarint(dst, uint64(len(from)))
	dst = append(dst, from...)
	dst = binary.AppendUvarint(dst, uint64(len(to)))
	return append(dst, to...)
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// readFrame reads one frame whose envelope is at most envelopeMax bytes.
// The returned slices alias buf when the frame fits in it, and a fresh
// buffer otherwise; they are valid until the next call. io.EOF means the
// stream ended cleanly between frames.
func readFrame(r *bufio.Reader, envelopeMax int, buf []byte) (from, to, envelope []byte, err error) {
	n, err := readUvarint(r)
	if err != nil {
		if err == io.EOF {
			return nil, nil, nil, io.EOF
		}
		return nil, nil, nil, wireError(err)
	}
	if n > uint64(envelopeMax+frameOverhead) {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes announced, limit %d", errFrameTooLarge, n, envelopeMax+frameOverhead)
	}
	if int(n) <= cap(buf) {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, nil, wireError(err)
	}
	return parseFrameBody(buf, envelopeMax)
}

// parseFrameBody splits a frame body into its names and envelope.
func parseFrameBody(b []byte, envelopeMax int) (from, to, envelope []byte, err error) {
	if from, b, err = parseName(b, "sender"); err != nil {
		return nil, nil, nil, err
	}
	if to, b, err = parseName(b, "receiver"); err != nil {
		return nil, nil, nil, err
	}
	if len(b) > envelopeMax {
		return nil, nil, nil, fmt.Errorf("%w: envelope of %d bytes, limit %d", errFrameTooLarge, len(b), envelopeMax)
	}
	if len(b) < core.HeaderSize {
		return nil, nil, nil, fmt.Errorf("%w: envelope of %d bytes, shorter than its header", errProtocol, len(b))
	}
	return from, to, b, nil
}

func parseName(b []byte, what string) (name, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%w: truncated %s name", errProtocol, what)
	}
	name = b[k : k+int(n)]
	if !nameOK(name) {
		return nil, nil, fmt.Errorf("%w: %s name %q is not a valid process name", errProtocol, what, name)
	}
	return name, b[k+int(n):], nil
}

// readUvarint is binary.ReadUvarint with an overflow reported as a
// protocol violation rather than an unexported error: io.EOF only if no
// byte was read, io.ErrUnexpectedEOF if the stream ends inside the number,
// the stream's error otherwise.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: length overflows 64 bits", errProtocol)
}

// wireError marks a read error in the middle of a hello or frame: a
// stream that ends there was cut, which is not a clean close.
func wireError(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
