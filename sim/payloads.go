package sim

// Message payloads. Every Send encodes its message into a payload that
// lives until delivery, when it is decoded (a decoded message never
// aliases it) and dropped. Large payloads (plasma chunks, objects put or
// read: a megabyte each) would each be fresh memory, and writing fresh
// memory (page faults, cache misses) cost more than the encoding itself:
// delivered large payloads are kept for later sends instead. Which buffer
// a message gets never changes what it carries, so runs are unchanged.

// Bounds of the payload pool: buffers under payloadPoolMin bytes are left
// to the allocator; at most payloadPoolMax buffers are kept.
const (
	payloadPoolMin = 64 << 10
	payloadPoolMax = 32
)

// payloadBuf returns a buffer for a payload of size bytes: a kept one
// with the room, or nil (a fresh one).
func (w *World) payloadBuf(size int) []byte {
	if size < payloadPoolMin {
		return nil
	}
	for i := len(w.payloads) - 1; i >= 0; i-- {
		if b := w.payloads[i]; cap(b) >= size {
			w.payloads = append(w.payloads[:i], w.payloads[i+1:]...)
			return b
		}
	}
	return nil
}

// recycle keeps e's payload, delivered and decoded, for later sends,
// unless other events still deliver it.
func (w *World) recycle(e *event) {
	if e.shared || cap(e.payload) < payloadPoolMin {
		return
	}
	b := e.payload[:0]
	e.payload = nil
	if len(w.payloads) < payloadPoolMax {
		w.payloads = append(w.payloads, b)
	}
}
