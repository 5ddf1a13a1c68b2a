package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// sinkProtocol is the protocol of the peer's sink streams, on which the
// bulk-transfer limit (libp2p_stream_gigabytes) is measured.
const sinkProtocol = "/gray-bench/sink/1.0.0"

const (
	// streamBytes is one timed transfer of the bulk limit: 64 MiB, the
	// largest message gray's transport carries (core.DefaultMessageSizeMax),
	// so that a put of the gigabyte cases fits in one.
	streamBytes = 64 << 20
	// streamBytesMax bounds one transfer the sink accepts.
	streamBytesMax = 1 << 30
	// sinkBufferBytes is the sink's read size: large, so that the reads
	// cost little next to the transport.
	sinkBufferBytes = 1 << 20
)

// handleSink serves a sink stream (serveSink) and closes it, or resets it
// on an error.
func handleSink(s network.Stream) {
	if err := serveSink(s); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// serveSink reads transfers from rw until it ends. A transfer is an
// 8-byte big-endian length n, then n bytes; the sink reads all n before
// it answers with the count it read (8 bytes, big-endian), so that the
// sender's clock stops when the receiver has everything.
func serveSink(rw io.ReadWriter) error {
	buf := make([]byte, sinkBufferBytes)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(rw, hdr[:]); errors.Is(err, io.EOF) {
			return nil // the sender closed between transfers
		} else if err != nil {
			return fmt.Errorf("bench: sink: reading a length: %w", err)
		}
		n := binary.BigEndian.Uint64(hdr[:])
		if n > streamBytesMax {
			return fmt.Errorf("bench: sink: a transfer of %d bytes, at most %d", n, streamBytesMax)
		}
		var read uint64
		for read < n {
			m, err := io.ReadFull(rw, buf[:min(n-read, uint64(len(buf)))])
			read += uint64(m)
			if err != nil {
				return fmt.Errorf("bench: sink: %d of %d bytes read: %w", read, n, err)
			}
		}
		binary.BigEndian.PutUint64(hdr[:], read)
		if _, err := rw.Write(hdr[:]); err != nil {
			return fmt.Errorf("bench: sink: answering: %w", err)
		}
	}
}

// sendBulk makes one transfer of data to a sink (serveSink) and waits
// for its answer, which must count every byte.
func sendBulk(rw io.ReadWriter, data []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(len(data)))
	if _, err := rw.Write(hdr[:]); err != nil {
		return err
	}
	if len(data) > 0 { // an empty write may wait for a read that never comes (net.Pipe)
		if _, err := rw.Write(data); err != nil {
			return err
		}
	}
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return fmt.Errorf("bench: waiting for the sink's count: %w", err)
	}
	if got := binary.BigEndian.Uint64(hdr[:]); got != uint64(len(data)) {
		return fmt.Errorf("bench: the sink read %d bytes, want %d", got, len(data))
	}
	return nil
}

// deadliner is a stream whose reads and writes can be bounded in time,
// as libp2p's are.
type deadliner interface {
	io.ReadWriter
	SetDeadline(time.Time) error
}

// streamGigabytes measures transfers of data on s, a stream to a sink,
// in gigabytes (10⁹ bytes) per second. Each transfer is bounded by
// burstTimeout against a hang (not a performance judgement).
func streamGigabytes(ctx context.Context, t Timing, s deadliner, data []byte) ([]float64, error) {
	defer func() { _ = s.SetDeadline(time.Time{}) }()
	return timeit(ctx, t, float64(len(data))/1e9, func() error {
		if err := s.SetDeadline(time.Now().Add(burstTimeout)); err != nil {
			return err
		}
		return sendBulk(s, data)
	})
}
