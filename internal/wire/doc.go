// Package wire writes and reads msgpack values by hand, for the messages
// whose codecs are written out field by field instead of going through
// msgpack's reflection (core/proto/codec_fast.go; core.Codec takes that
// path for every message that implements it).
//
// The bytes are exactly those msgpack/v5's reflective encoder produces
// with UseCompactInts, which core.Codec uses: a hand-coded message and a
// reflectively coded one are the same message on the wire, so peers of
// either kind interoperate and stored encodings stay readable. Reader
// accepts what msgpack's reflective decoder accepts for the same field
// kinds (any integer width, str or bin for strings and bytes, nil for
// zero), skips unknown keys as it does, and never panics or allocates
// more than the input could hold: a length beyond the bytes left is an
// error.
//
// Writer and Reader are plain values without locks: each belongs to one
// codec, which belongs to one goroutine.
package wire
