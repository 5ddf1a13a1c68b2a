package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/process"
)

// Streaming generators under faults.
//
// Every round each driver calls stream(x, mode), a generator spread over
// the nodes with unlimited retries and a backpressure bound of 2, which
// yields streamItems values: 8-byte values derived from x, and at index
// streamBigAt a large one that goes through plasma. Modes by round:
//
//   - full: the driver takes every value and checks it exactly; the
//     stream must then end. A retried body (its worker or node died)
//     yields again from the first value, and the stream goes on where it
//     was: no value twice, none missing.
//   - failing: the body returns an error after streamFailAfter values;
//     the driver must see those values, then the body's error in place,
//     then the end.
//     In every other full round the first body crashes its own worker
//     after the fourth value.
//   - closed: the driver takes two values and closes the stream while the
//     body may still run (it is cancelled); later values are freed.
//
// Documented outcomes: the large value may not fit next to the pinned
// data (the body then yields a marker in its place), and it is lost
// (ErrObjectLost: values are not rebuilt) when every node a body stored
// it on has died. The end-of-run checks (stores drained, core worker
// tables consistent in invariant builds) show that closed streams and
// retried bodies leave nothing behind.

const (
	streamItems      = 6
	streamBigAt      = 2
	streamFailAfter  = 3
	streamCrashAfter = 3
)

// streamMode selects what a round does with its stream.
type streamMode int64

const (
	streamFull streamMode = iota
	streamFailing
	streamClosed
)

// streamMarker is yielded in place of the large value when it did not
// fit in the store.
var streamMarker = []byte("no room")

func streamSmall(x int64, i int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(x*1000+int64(i)))
}

func streamBig(x int64) []byte { return bigBytes(x*19, bigObjectBytes) }

var streamTask = gray.Generator2("workload.stream", func(ctx context.Context, x int64, mode streamMode, yield func([]byte) error) error {
	cl, c := clusterOf(ctx), process.CallerFrom(ctx)
	if cl == nil || c == nil {
		return errors.New("stream runs in the cluster workload only")
	}
	for i := range streamItems {
		if mode == streamFailing && i == streamFailAfter {
			return errors.New("intentional failure in the middle of the stream")
		}
		if i != streamBigAt {
			if err := yield(streamSmall(x, i)); err != nil {
				return err
			}
			if i == streamCrashAfter && mode == streamFull && x%2 == 0 && !cl.streamCrashed[x] {
				// Its worker dies mid-stream, once: the retry yields
				// every value again, and the stream must go on where
				// it was.
				cl.streamCrashed[x] = true
				self := c.Env.Self()
				proc := cl.w.Process(self)
				cl.w.Schedule(0, "workload: crash a streaming worker "+string(self), func() {
					if cl.w.Process(self) == proc {
						cl.w.Sometimes("streaming worker crashed on purpose")
						cl.w.Crash(self, "workload: a worker dies in the middle of a stream on purpose")
					}
				})
				return pause(ctx, time.Minute)
			}
			continue
		}
		if pw, ok := cl.w.Process(c.Env.Self()).(*process.Worker); ok {
			cl.streamNodes[x] = append(cl.streamNodes[x], pw.Node())
		}
		err := yield(streamBig(x))
		if storeFullExplained(err) {
			cl.w.Sometimes("stream value did not fit")
			err = yield(streamMarker)
		}
		if err != nil {
			return err
		}
	}
	return nil
})

// streamRound runs this round's stream and checks what it gave.
func (d *driver) streamRound(ctx context.Context, x int64) error {
	mode := streamMode(d.round % 3)
	s := streamTask.Options(retried, gray.WithSpread(), gray.WithBackpressure(2)).Remote(ctx, gray.V(x), gray.V(mode))
	defer s.Close()
	for i := 0; ; i++ {
		if mode == streamClosed && i == 2 {
			s.Close()
			if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
				return fmt.Errorf("stream(%d): Next after Close = %v, want io.EOF", x, err)
			}
			d.cl.w.Sometimes("stream closed early")
			return nil
		}
		r, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			if mode == streamFailing || i != streamItems {
				return fmt.Errorf("stream(%d, mode %d) ended after %d values", x, mode, i)
			}
			d.cl.w.Sometimes("stream read to its end")
			return nil
		}
		if err != nil {
			return fmt.Errorf("stream(%d) value %d: %w", x, i, err)
		}
		v, err := r.Get(ctx)
		r.Release()
		if mode == streamFailing && i == streamFailAfter {
			if !errors.Is(err, gray.ErrTaskFailed) {
				return fmt.Errorf("stream(%d) value %d: got %v, want the body's error in place", x, i, err)
			}
			if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
				return fmt.Errorf("stream(%d): Next after the error = %v, want io.EOF", x, err)
			}
			d.cl.w.Sometimes("stream error in place")
			return nil
		}
		if i >= streamItems || (mode == streamFailing && i > streamFailAfter) {
			return fmt.Errorf("stream(%d, mode %d): value %d, past the last", x, mode, i)
		}
		if err := d.checkStreamValue(x, i, v, err); err != nil {
			return err
		}
	}
}

// checkStreamValue checks value i of stream(x).
func (d *driver) checkStreamValue(x int64, i int, v []byte, err error) error {
	if i != streamBigAt {
		if err != nil || string(v) != string(streamSmall(x, i)) {
			return fmt.Errorf("stream(%d) value %d = %x, %v; want %x", x, i, v, err, streamSmall(x, i))
		}
		return nil
	}
	switch {
	case errors.Is(err, gray.ErrObjectLost) && d.cl.allDead(d.cl.streamNodes[x]):
		d.cl.w.Sometimes("stream value lost with its node")
	case err != nil:
		return fmt.Errorf("stream(%d) value %d (stored on %v): %w", x, i, d.cl.streamNodes[x], err)
	case string(v) == string(streamMarker):
	case checksum(v) != checksum(streamBig(x)) || len(v) != bigObjectBytes:
		return fmt.Errorf("stream(%d) value %d: %d bytes, checksum %d; want %d, %d", x, i, len(v), checksum(v), bigObjectBytes, checksum(streamBig(x)))
	default:
		d.cl.w.Sometimes("stream value through plasma")
	}
	return nil
}

// allDead reports whether every node of nodes (at least one) is known
// dead.
func (c *cluster) allDead(nodes []core.NodeID) bool {
	for _, n := range nodes {
		if !c.nodeDead(n) {
			return false
		}
	}
	return len(nodes) > 0
}
