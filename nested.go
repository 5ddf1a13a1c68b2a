package gray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	goruntime "runtime"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// addrMax bounds a process address inside a decoded Ref or handle.
const addrMax = 1024

// Refs and actor handles inside values. A Ref or an *ActorHandle can sit
// anywhere in a value gray encodes (an argument, a return value, a Put
// value): struct fields, slices, maps, pointers, to any depth. Encoding
// goes through a session that collects the Refs met, so that the
// process sending the value keeps them while it travels (see
// core/worker's nested.go for the protocol); decoding goes through a
// session that binds the Refs found to the decoding process, which
// becomes their borrower before the value is handed to user code.
//
// Types that cannot hold either skip the sessions: mayHoldRefs is
// decided once per type.

// nestedValue is implemented by Ref[T] and *ActorHandle[T].
type nestedValue interface{ grayNested() }

func (Ref[T]) grayNested()          {}
func (*ActorHandle[T]) grayNested() {}

var (
	nestedType  = reflect.TypeFor[nestedValue]()
	nestedTypes sync.Map // reflect.Type → bool
)

// mayHoldRefs reports whether values of t can hold a Ref or an actor
// handle: t is one, or holds one in an exported field, an element, a map
// key or value, or an interface (which could hold anything).
func mayHoldRefs(t reflect.Type) bool {
	if v, ok := nestedTypes.Load(t); ok {
		return v.(bool)
	}
	v := holdsRefs(t, map[reflect.Type]bool{})
	nestedTypes.Store(t, v)
	return v
}

func holdsRefs(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a cycle: the other fields decide
	}
	seen[t] = true
	if t.Implements(nestedType) || reflect.PointerTo(t).Implements(nestedType) {
		return true
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsRefs(t.Elem(), seen)
	case reflect.Map:
		return holdsRefs(t.Key(), seen) || holdsRefs(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsRefs(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// codecSession is the state of one encoding or decoding that may meet
// Refs, found by its encoder or decoder.
type codecSession struct {
	c *caller
	// Encoding: the references met, and their states, which the sender
	// keeps reachable until the value is handed over.
	refs []proto.ObjectRef
	keep []*refState
	// Decoding: the Refs made, bound to c once registered.
	decoded []*refState
}

// sessions maps a *msgpack.Encoder or *msgpack.Decoder to its session.
var sessions sync.Map

func sessionOf(key any) *codecSession {
	if s, ok := sessions.Load(key); ok {
		return s.(*codecSession)
	}
	return nil
}

var errNoSession = errors.New("gray: a Ref is encoded and decoded by gray only (as an argument, a return value or a Put value), not by msgpack directly")

// encoded is a value ready to send: its bytes, the references it holds
// (sorted by id, for determinism), and their states, to keep reachable
// until the value is handed over (runtime.KeepAlive).
type encoded struct {
	data   []byte
	nested []proto.ObjectRef
	keep   []*refState
}

// encodeIn encodes v for the process c; the Refs it holds must be c's.
func encodeIn[T any](c *caller, v T) (encoded, error) {
	if !mayHoldRefs(reflect.TypeFor[T]()) {
		b, err := encode(v)
		return encoded{data: b}, err
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true) // the same value encodes the same: seeds replay
	s := &codecSession{c: c}
	sessions.Store(enc, s)
	err := enc.Encode(v)
	sessions.Delete(enc)
	if err != nil {
		return encoded{}, fmt.Errorf("gray: encode %T: %w", v, err)
	}
	slices.SortStableFunc(s.refs, func(a, b proto.ObjectRef) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return encoded{data: buf.Bytes(), nested: s.refs, keep: s.keep}, nil
}

// decodeIn decodes a value for the process c: the Refs it holds become
// c's, and c their borrower, before it returns. The source of data (the
// Ref it was read from, the task's argument) must stay held until then.
func decodeIn[T any](ctx context.Context, c *caller, data []byte) (T, error) {
	if !mayHoldRefs(reflect.TypeFor[T]()) {
		return decode[T](data)
	}
	var v T
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	s := &codecSession{c: c}
	sessions.Store(dec, s)
	err := dec.Decode(&v)
	sessions.Delete(dec)
	if err != nil {
		return v, fmt.Errorf("gray: decode %T: %w", v, err)
	}
	if len(s.decoded) == 0 {
		return v, nil
	}
	if c == nil {
		return v, fmt.Errorf("gray: decode %T: it holds Refs, and no process is given to hold them", v)
	}
	refs := make([]proto.ObjectRef, len(s.decoded))
	for i, st := range s.decoded {
		refs[i] = st.ref
	}
	// Registration is bounded by the owners' timeout, not by ctx: a Ref
	// counted in the core worker must get its releaser.
	errs, err := do(context.WithoutCancel(ctx), c, func(cw *worker.Worker, reply func([]error, error)) {
		cw.AddRefs(refs, func(errs []error) { reply(errs, nil) })
	})
	if err != nil {
		return v, fmt.Errorf("gray: decode %T: %w", v, err)
	}
	for i, st := range s.decoded {
		if errs[i] != nil {
			st.err = errs[i]
			continue
		}
		bind(st)
	}
	return v, nil
}

// pinResult keeps the Refs a body's result holds until its owner frees
// the result (worker.PinReturn): the body's own Refs to them go away
// when it returns.
func pinResult(ctx context.Context, index int, e encoded) error {
	if len(e.nested) == 0 {
		return nil
	}
	c := process.CallerFrom(ctx)
	if c == nil || c.Parent == nil {
		return errors.New("gray: a result holding Refs outside a task body")
	}
	_, err := do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) {
		reply(struct{}{}, cw.PinReturn(c.Parent, index, e.nested))
	})
	goruntime.KeepAlive(e.keep)
	return err
}

// EncodeMsgpack implements msgpack.CustomEncoder: a Ref inside a value
// gray encodes. The zero Ref encodes as nil; a failed or released one is
// an error, as is one of another process (pass it as an argument instead
// of capturing it).
func (r Ref[T]) EncodeMsgpack(enc *msgpack.Encoder) error {
	s := sessionOf(enc)
	if s == nil {
		return errNoSession
	}
	st := r.s
	switch {
	case st == nil:
		return enc.EncodeNil()
	case st.err != nil:
		return fmt.Errorf("gray: a failed Ref inside a value: %w", st.err)
	case st.rel == nil || st.rel.done.Load():
		return fmt.Errorf("gray: Ref %v inside a value: %w", st.ref.ID, ErrReleased)
	case st.c != s.c:
		return fmt.Errorf("gray: Ref %v inside a value belongs to another process (a Ref is used by the process that made or received it: pass it to a task as an argument or inside one)", st.ref.ID)
	}
	s.refs = append(s.refs, st.ref)
	s.keep = append(s.keep, st)
	if err := enc.EncodeArrayLen(3); err != nil {
		return err
	}
	if err := enc.EncodeBytes(st.ref.ID[:]); err != nil {
		return err
	}
	if err := enc.EncodeString(string(st.ref.Owner)); err != nil {
		return err
	}
	return enc.EncodeUint(st.ref.OwnerID)
}

// DecodeMsgpack implements msgpack.CustomDecoder: a Ref inside a value
// gray decodes, bound to the decoding process.
func (r *Ref[T]) DecodeMsgpack(dec *msgpack.Decoder) error {
	s := sessionOf(dec)
	if s == nil {
		return errNoSession
	}
	if nilNext(dec) {
		*r = Ref[T]{}
		return dec.DecodeNil()
	}
	var ref proto.ObjectRef
	if err := decodeHead(dec, "Ref", 3, ref.ID[:], (*string)(&ref.Owner)); err != nil {
		return err
	}
	var err error
	if ref.OwnerID, err = dec.DecodeUint64(); err != nil {
		return fmt.Errorf("gray: decode Ref: %w", err)
	}
	if ref.Owner == "" {
		return errors.New("gray: a Ref without owner")
	}
	st := &refState{c: s.c, ref: ref}
	s.decoded = append(s.decoded, st)
	*r = Ref[T]{st}
	return nil
}

// EncodeMsgpack implements msgpack.CustomEncoder: an actor handle inside
// a value, as [id, creator, max task retries, handle object owner, its
// incarnation]. Whoever decodes it calls the actor through its own
// process; a handle that holds its actor (ActorHandle's scope) passes
// the hold on like a Ref: the sender keeps it while the value travels,
// and the receiver borrows it from the owner.
func (a *ActorHandle[T]) EncodeMsgpack(enc *msgpack.Encoder) error {
	var ref proto.ObjectRef
	if st := a.s; st != nil && st.err == nil && st.rel != nil && !st.rel.done.Load() {
		s := sessionOf(enc)
		if s == nil {
			return errNoSession
		}
		if st.c == s.c {
			ref = st.ref
			s.refs = append(s.refs, st.ref)
			s.keep = append(s.keep, st)
		}
	}
	if err := enc.EncodeArrayLen(5); err != nil {
		return err
	}
	if err := enc.EncodeBytes(a.h.ID[:]); err != nil {
		return err
	}
	if err := enc.EncodeString(string(a.h.Owner)); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(a.h.MaxTaskRetries)); err != nil {
		return err
	}
	if err := enc.EncodeString(string(ref.Owner)); err != nil {
		return err
	}
	return enc.EncodeUint(ref.OwnerID)
}

// DecodeMsgpack implements msgpack.CustomDecoder: a handle that held its
// actor holds it in the decoding process too, once registered there.
func (a *ActorHandle[T]) DecodeMsgpack(dec *msgpack.Decoder) error {
	var h worker.ActorHandle
	if err := decodeHead(dec, "actor handle", 5, h.ID[:], (*string)(&h.Owner)); err != nil {
		return err
	}
	var err error
	if h.MaxTaskRetries, err = dec.DecodeInt(); err != nil {
		return fmt.Errorf("gray: decode actor handle: %w", err)
	}
	var refOwner string
	if err := decodeAddr(dec, "actor handle", &refOwner); err != nil {
		return err
	}
	refOwnerID, err := dec.DecodeUint64()
	if err != nil {
		return fmt.Errorf("gray: decode actor handle: %w", err)
	}
	a.h, a.s = h, nil
	if refOwner != "" {
		if s := sessionOf(dec); s != nil {
			a.s = &refState{c: s.c, ref: proto.ObjectRef{ID: core.ActorHandleObjectID(h.ID), Owner: core.Addr(refOwner), OwnerID: refOwnerID}}
			s.decoded = append(s.decoded, a.s)
		}
	}
	return nil
}

func nilNext(dec *msgpack.Decoder) bool {
	c, err := dec.PeekCode()
	return err == nil && c == msgpcode.Nil
}

// decodeHead reads the head of an array of fields fields: [id bytes,
// address, …] into id (which it must fill exactly) and addr.
func decodeHead(dec *msgpack.Decoder, what string, fields int, id []byte, addr *string) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return fmt.Errorf("gray: decode %s: %w", what, err)
	}
	if n != fields {
		return fmt.Errorf("gray: decode %s: %d fields, want %d", what, n, fields)
	}
	b, err := dec.DecodeBytes()
	if err != nil {
		return fmt.Errorf("gray: decode %s: %w", what, err)
	}
	if len(b) != len(id) {
		return fmt.Errorf("gray: decode %s: id of %d bytes, want %d", what, len(b), len(id))
	}
	copy(id, b)
	return decodeAddr(dec, what, addr)
}

// decodeAddr reads a process address, at most addrMax bytes.
func decodeAddr(dec *msgpack.Decoder, what string, addr *string) error {
	s, err := dec.DecodeString()
	if err != nil {
		return fmt.Errorf("gray: decode %s: %w", what, err)
	}
	if len(s) > addrMax {
		return fmt.Errorf("gray: decode %s: address of %d bytes", what, len(s))
	}
	*addr = s
	return nil
}
