package net

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestFrameRoundTrip writes a hello and frames and reads them back.
func TestFrameRoundTrip(t *testing.T) {
	c := core.NewCodec(0)
	var stream []byte
	stream = appendHello(stream, "/ip4/127.0.0.1/tcp/1/p2p/x")
	var envs [][]byte
	for i, size := range []int{0, 1, 100, 70_000} { // the last one is over the reused buffer
		env, err := c.Encode(&ping{Seq: uint64(i), Payload: make([]byte, size)})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
		stream = append(appendFrameHeader(stream, "from-1", "to.2", len(env)), env...)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	if got, err := readHello(r); err != nil || got != "/ip4/127.0.0.1/tcp/1/p2p/x" {
		t.Fatalf("readHello = %q, %v", got, err)
	}
	buf := make([]byte, 1024)
	for i, want := range envs {
		from, to, env, err := readFrame(r, core.DefaultMessageSizeMax, buf)
		if err != nil || string(from) != "from-1" || string(to) != "to.2" || !bytes.Equal(env, want) {
			t.Fatalf("frame %d: readFrame = %q, %q, %d bytes, %v", i, from, to, len(env), err)
		}
	}
	if _, _, _, err := readFrame(r, core.DefaultMessageSizeMax, buf); err != io.EOF {
		t.Errorf("readFrame at the end = %v, want io.EOF", err)
	}
	// A stream cut inside a frame is not a clean end.
	cut := bufio.NewReader(bytes.NewReader(stream[:len(stream)-1]))
	_, _ = readHello(cut)
	var err error
	for err == nil {
		_, _, _, err = readFrame(cut, core.DefaultMessageSizeMax, buf)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("readFrame of a cut stream = %v, want io.ErrUnexpectedEOF", err)
	}
}

// FuzzReadStream feeds arbitrary bytes to the inbound stream parser: it
// must never panic, never return a frame over the limit, and every error
// other than a clean or cut end must be a protocol violation.
func FuzzReadStream(f *testing.F) {
	env, _ := core.NewCodec(0).Encode(&ping{Seq: 3, Payload: []byte("abc")})
	good := appendHello(nil, "/ip4/127.0.0.1/tcp/1/p2p/x")
	good = append(appendFrameHeader(good, "a", "b", len(env)), env...)
	f.Add(good)
	f.Add([]byte("GRAY\x01\x00"))
	f.Add(append(appendHello(nil, "x"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
	f.Add(append(appendHello(nil, "x"), 5, 1, 'a', 9, 'b'))
	const limit = 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		_, err := readHello(r)
		buf := make([]byte, 64)
		for err == nil {
			var from, to, env []byte
			from, to, env, err = readFrame(r, limit, buf)
			if err == nil && (len(env) > limit || len(env) < core.HeaderSize || !nameOK(from) || !nameOK(to)) {
				t.Fatalf("readFrame returned a bad frame: %q, %q, %d bytes", from, to, len(env))
			}
		}
		if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errProtocol) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
