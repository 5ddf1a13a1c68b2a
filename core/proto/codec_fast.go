package proto

import (
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/wire"
)

// Hand-written codecs of the messages every task, actor call and small
// object moves (issue 22: reflective msgpack was ~45% of a synchronous
// task's time and most of its allocations). core.Codec encodes and
// decodes a message through EncodeWire and DecodeWire when it has them,
// instead of msgpack's reflection.
//
// The bytes are exactly those of the reflective encoder with
// UseCompactInts, which every codec uses: a map of the fields in
// declaration order under their msgpack tags, omitempty fields left out
// when empty. Two rules of msgpack's omitempty matter here: a byte array
// (an id) is never empty, whatever its bytes, so omitempty ids are always
// written; and a struct is empty only when every field of it is omitted,
// which an id or a field without omitempty never is, so Strategy (an id)
// and Location (no omitempty) are always written too.
//
// Every struct here carries a comment sending the reader to this file: a
// field added to one must be added to its encodeWire and decodeWire.
// TestFastCodecMatchesReflection fills every field of every hand-coded
// message, recursively, and fails on any difference with the reflective
// codec, so a forgotten field fails the build's tests.

// one counts a present omitempty field.
func one(present bool) int {
	if present {
		return 1
	}
	return 0
}

// wireStruct is a hand-coded nested struct: a slice of them encodes as an
// array of maps.
type wireStruct[T any] interface {
	*T
	encodeWire(w *wire.Writer)
	decodeWire(r *wire.Reader)
}

// encodeSlice writes s as an array, or nil for a nil slice.
func encodeSlice[T any, P wireStruct[T]](w *wire.Writer, s []T) {
	if s == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(s))
	for i := range s {
		P(&s[i]).encodeWire(w)
	}
}

// decodeSlice reads an array: nil for nil, an empty non-nil slice for an
// empty array (as msgpack's slice decoder gives).
func decodeSlice[T any, P wireStruct[T]](r *wire.Reader) []T {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	s := make([]T, n)
	for i := 0; i < n && r.OK(); i++ {
		P(&s[i]).decodeWire(r)
	}
	return s
}

// decodePtr reads a pointer field: nil for nil, else the struct, decoded
// into *p when it is already set (as msgpack does).
func decodePtr[T any, P wireStruct[T]](r *wire.Reader, p *P) {
	if r.Nil() {
		*p = nil
		return
	}
	if *p == nil {
		*p = P(new(T))
	}
	(*p).decodeWire(r)
}

func encodeObjectIDs(w *wire.Writer, ids []core.ObjectID) {
	if ids == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(ids))
	for i := range ids {
		w.Bytes(ids[i][:])
	}
}

func decodeObjectIDs(r *wire.Reader) []core.ObjectID {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	ids := make([]core.ObjectID, n)
	for i := 0; i < n && r.OK(); i++ {
		r.ByteArray(ids[i][:])
	}
	return ids
}

// encodeResources writes core.Resources (its Resource is hand-coded here).
func encodeResources(w *wire.Writer, rs core.Resources) {
	if rs == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(rs))
	for _, x := range rs {
		w.MapLen(2)
		w.Key("n")
		w.String(x.Name)
		w.Key("a")
		w.Int(int64(x.Amount))
	}
}

func decodeResources(r *wire.Reader) core.Resources {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	rs := make(core.Resources, n)
	for i := 0; i < n && r.OK(); i++ {
		x := &rs[i]
		m := r.MapLen()
		if m < 0 {
			*x = core.Resource{}
		}
		for j := 0; j < m && r.OK(); j++ {
			switch string(r.Key()) {
			case "n":
				x.Name = r.String()
			case "a":
				x.Amount = core.Quantity(r.Int64())
			default:
				r.Skip()
			}
		}
	}
	return rs
}

// decodeResourcesLike is decodeResources for a set that is often equal to
// prev (a prepare's bundles are mostly alike): it gives prev itself when
// the set equals it, allocating nothing, and otherwise a set of its own
// that reuses prev's names where they are the same.
func decodeResourcesLike(r *wire.Reader, prev core.Resources) core.Resources {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	var rs core.Resources // nil while the set read so far is prev's
	if prev == nil || len(prev) != n {
		rs = make(core.Resources, n)
	}
	for i := 0; i < n && r.OK(); i++ {
		var x core.Resource
		m := r.MapLen()
		for j := 0; j < m && r.OK(); j++ {
			switch string(r.Key()) {
			case "n":
				if k := r.Key(); i < len(prev) && string(k) == prev[i].Name {
					x.Name = prev[i].Name
				} else {
					x.Name = string(k)
				}
			case "a":
				x.Amount = core.Quantity(r.Int64())
			default:
				r.Skip()
			}
		}
		if rs == nil {
			if x == prev[i] {
				continue
			}
			rs = make(core.Resources, n)
			copy(rs, prev[:i])
		}
		rs[i] = x
	}
	if rs == nil {
		return prev
	}
	return rs
}

// encodeSelector writes core.Selector (its LabelTerm is hand-coded here).
func encodeSelector(w *wire.Writer, s core.Selector) {
	if s == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(s))
	for _, t := range s {
		w.MapLen(2 + one(t.Not))
		w.Key("k")
		w.String(t.Key)
		if t.Not {
			w.Key("n")
			w.Bool(true)
		}
		w.Key("v")
		w.Strings(t.Values)
	}
}

func decodeSelector(r *wire.Reader) core.Selector {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	s := make(core.Selector, n)
	for i := 0; i < n && r.OK(); i++ {
		t := &s[i]
		m := r.MapLen()
		if m < 0 {
			*t = core.LabelTerm{}
		}
		for j := 0; j < m && r.OK(); j++ {
			switch string(r.Key()) {
			case "k":
				t.Key = r.String()
			case "n":
				t.Not = r.Bool()
			case "v":
				t.Values = r.Strings()
			default:
				r.Skip()
			}
		}
	}
	return s
}

func (l *Location) encodeWire(w *wire.Writer) {
	w.MapLen(2)
	w.Key("n")
	w.Bytes(l.Node[:])
	w.Key("r")
	w.String(string(l.Raylet))
}

func (l *Location) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*l = Location{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			r.ByteArray(l.Node[:])
		case "r":
			l.Raylet = core.Addr(r.String())
		default:
			r.Skip()
		}
	}
}

func (o *ObjectRef) encodeWire(w *wire.Writer) {
	w.MapLen(2 + one(o.OwnerID != 0))
	w.Key("i")
	w.Bytes(o.ID[:])
	w.Key("o")
	w.String(string(o.Owner))
	if o.OwnerID != 0 {
		w.Key("w")
		w.Uint(o.OwnerID)
	}
}

func (o *ObjectRef) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*o = ObjectRef{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			r.ByteArray(o.ID[:])
		case "o":
			o.Owner = core.Addr(r.String())
		case "w":
			o.OwnerID = r.Uint64()
		default:
			r.Skip()
		}
	}
}

func (a *Arg) encodeWire(w *wire.Writer) {
	w.MapLen(one(len(a.Value) > 0) + one(a.Ref != nil) + one(len(a.Nested) > 0))
	if len(a.Value) > 0 {
		w.Key("v")
		w.Bytes(a.Value)
	}
	if a.Ref != nil {
		w.Key("r")
		a.Ref.encodeWire(w)
	}
	if len(a.Nested) > 0 {
		w.Key("n")
		encodeSlice(w, a.Nested)
	}
}

func (a *Arg) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*a = Arg{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "v":
			a.Value = r.Bytes()
		case "r":
			decodePtr(r, &a.Ref)
		case "n":
			a.Nested = decodeSlice[ObjectRef](r)
		default:
			r.Skip()
		}
	}
}

// encodeWire writes the strategy, which is never omitted: its Node is an
// id, never empty to msgpack.
func (s *Strategy) encodeWire(w *wire.Writer) {
	w.MapLen(1 + one(s.Kind != 0) + one(s.Soft) + one(len(s.Labels) > 0) + one(s.Bundle != nil))
	if s.Kind != 0 {
		w.Key("k")
		w.Uint(uint64(s.Kind))
	}
	w.Key("n")
	w.Bytes(s.Node[:])
	if s.Soft {
		w.Key("s")
		w.Bool(true)
	}
	if len(s.Labels) > 0 {
		w.Key("l")
		encodeSelector(w, s.Labels)
	}
	if s.Bundle != nil {
		w.Key("b")
		w.MapLen(2 + one(s.Bundle.Capture))
		w.Key("g")
		w.Bytes(s.Bundle.Group[:])
		w.Key("i")
		w.Int(int64(s.Bundle.Index))
		if s.Bundle.Capture {
			w.Key("c")
			w.Bool(true)
		}
	}
}

func (s *Strategy) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*s = Strategy{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "k":
			s.Kind = StrategyKind(r.Uint64())
		case "n":
			r.ByteArray(s.Node[:])
		case "s":
			s.Soft = r.Bool()
		case "l":
			s.Labels = decodeSelector(r)
		case "b":
			s.Bundle = decodeBundleRef(r)
		default:
			r.Skip()
		}
	}
}

func decodeBundleRef(r *wire.Reader) *BundleRef {
	n := r.MapLen()
	if n < 0 {
		return nil
	}
	b := &BundleRef{}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "g":
			r.ByteArray(b.Group[:])
		case "i":
			b.Index = int32(r.Int64())
		case "c":
			b.Capture = r.Bool()
		default:
			r.Skip()
		}
	}
	return b
}

func (g *ConcurrencyGroup) encodeWire(w *wire.Writer) {
	w.MapLen(2)
	w.Key("n")
	w.String(g.Name)
	w.Key("l")
	w.Uint(uint64(g.Limit))
}

func (g *ConcurrencyGroup) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*g = ConcurrencyGroup{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			g.Name = r.String()
		case "l":
			g.Limit = uint32(r.Uint64())
		default:
			r.Skip()
		}
	}
}

func (s *TaskSpec) encodeWire(w *wire.Writer) {
	// t j f n s o N A are always written (Strategy, OwnerNode and ActorID
	// are never empty to msgpack).
	w.MapLen(8 + one(s.Attempt != 0) + one(len(s.Args) > 0) + one(len(s.Resources) > 0) +
		one(len(s.PlacementResources) > 0) + one(s.MaxRetries != 0) + one(s.RetryExceptions) +
		one(s.OwnerID != 0) + one(s.ActorCreation) + one(s.ActorCall) + one(s.CallerSeq != 0) +
		one(s.Caller != "") + one(s.CallerID != 0) + one(s.SkipBelow != 0) + one(s.ActorIncarnation != 0) +
		one(s.MaxConcurrency != 0) + one(len(s.ConcurrencyGroups) > 0) + one(s.ConcurrencyGroup != "") +
		one(s.Streaming) + one(s.Backpressure != 0) + one(s.InfeasibleWait != 0) + one(s.Binary != "") +
		one(s.UnackedReplies))
	w.Key("t")
	w.Bytes(s.TaskID[:])
	w.Key("j")
	w.Bytes(s.Job[:])
	if s.Attempt != 0 {
		w.Key("a")
		w.Uint(uint64(s.Attempt))
	}
	w.Key("f")
	w.String(s.Function)
	if len(s.Args) > 0 {
		w.Key("g")
		encodeSlice(w, s.Args)
	}
	w.Key("n")
	w.Uint(uint64(s.NumReturns))
	if len(s.Resources) > 0 {
		w.Key("r")
		encodeResources(w, s.Resources)
	}
	if len(s.PlacementResources) > 0 {
		w.Key("pr")
		encodeResources(w, s.PlacementResources)
	}
	w.Key("s")
	s.Strategy.encodeWire(w)
	if s.MaxRetries != 0 {
		w.Key("m")
		w.Int(int64(s.MaxRetries))
	}
	if s.RetryExceptions {
		w.Key("x")
		w.Bool(true)
	}
	w.Key("o")
	w.String(string(s.Owner))
	if s.OwnerID != 0 {
		w.Key("W")
		w.Uint(s.OwnerID)
	}
	w.Key("N")
	w.Bytes(s.OwnerNode[:])
	w.Key("A")
	w.Bytes(s.ActorID[:])
	if s.ActorCreation {
		w.Key("C")
		w.Bool(true)
	}
	if s.ActorCall {
		w.Key("K")
		w.Bool(true)
	}
	if s.CallerSeq != 0 {
		w.Key("Q")
		w.Uint(s.CallerSeq)
	}
	if s.Caller != "" {
		w.Key("R")
		w.String(string(s.Caller))
	}
	if s.CallerID != 0 {
		w.Key("D")
		w.Uint(s.CallerID)
	}
	if s.SkipBelow != 0 {
		w.Key("B")
		w.Uint(s.SkipBelow)
	}
	if s.ActorIncarnation != 0 {
		w.Key("I")
		w.Int(s.ActorIncarnation)
	}
	if s.MaxConcurrency != 0 {
		w.Key("mc")
		w.Uint(uint64(s.MaxConcurrency))
	}
	if len(s.ConcurrencyGroups) > 0 {
		w.Key("cgs")
		encodeSlice(w, s.ConcurrencyGroups)
	}
	if s.ConcurrencyGroup != "" {
		w.Key("cg")
		w.String(s.ConcurrencyGroup)
	}
	if s.Streaming {
		w.Key("sg")
		w.Bool(true)
	}
	if s.Backpressure != 0 {
		w.Key("sb")
		w.Uint(uint64(s.Backpressure))
	}
	if s.InfeasibleWait != 0 {
		w.Key("iw")
		w.Int(s.InfeasibleWait)
	}
	if s.Binary != "" {
		w.Key("bin")
		w.String(s.Binary)
	}
	if s.UnackedReplies {
		w.Key("ur")
		w.Bool(true)
	}
}

func (s *TaskSpec) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*s = TaskSpec{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "t":
			r.ByteArray(s.TaskID[:])
		case "j":
			r.ByteArray(s.Job[:])
		case "a":
			s.Attempt = uint32(r.Uint64())
		case "f":
			s.Function = r.String()
		case "g":
			s.Args = decodeSlice[Arg](r)
		case "n":
			s.NumReturns = uint32(r.Uint64())
		case "r":
			s.Resources = decodeResources(r)
		case "pr":
			s.PlacementResources = decodeResources(r)
		case "s":
			s.Strategy.decodeWire(r)
		case "m":
			s.MaxRetries = int32(r.Int64())
		case "x":
			s.RetryExceptions = r.Bool()
		case "o":
			s.Owner = core.Addr(r.String())
		case "W":
			s.OwnerID = r.Uint64()
		case "N":
			r.ByteArray(s.OwnerNode[:])
		case "A":
			r.ByteArray(s.ActorID[:])
		case "C":
			s.ActorCreation = r.Bool()
		case "K":
			s.ActorCall = r.Bool()
		case "Q":
			s.CallerSeq = r.Uint64()
		case "R":
			s.Caller = core.Addr(r.String())
		case "D":
			s.CallerID = r.Uint64()
		case "B":
			s.SkipBelow = r.Uint64()
		case "I":
			s.ActorIncarnation = r.Int64()
		case "mc":
			s.MaxConcurrency = uint32(r.Uint64())
		case "cgs":
			s.ConcurrencyGroups = decodeSlice[ConcurrencyGroup](r)
		case "cg":
			s.ConcurrencyGroup = r.String()
		case "sg":
			s.Streaming = r.Bool()
		case "sb":
			s.Backpressure = uint32(r.Uint64())
		case "iw":
			s.InfeasibleWait = r.Int64()
		case "bin":
			s.Binary = r.String()
		case "ur":
			s.UnackedReplies = r.Bool()
		default:
			r.Skip()
		}
	}
}

func (v *ErrorValue) encodeWire(w *wire.Writer) {
	w.MapLen(1 + one(len(v.Data) > 0))
	w.Key("n")
	w.String(v.Name)
	if len(v.Data) > 0 {
		w.Key("d")
		w.Bytes(v.Data)
	}
}

func (v *ErrorValue) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*v = ErrorValue{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			v.Name = r.String()
		case "d":
			v.Data = r.Bytes()
		default:
			r.Skip()
		}
	}
}

func (e *TaskError) encodeWire(w *wire.Writer) {
	w.MapLen(1 + one(e.Message != "") + one(e.Stack != "") + one(e.Task != "") + one(e.Cause != 0) +
		one(len(e.Sentinels) > 0) + one(len(e.Values) > 0))
	w.Key("k")
	w.Uint(uint64(e.Kind))
	if e.Message != "" {
		w.Key("m")
		w.String(e.Message)
	}
	if e.Stack != "" {
		w.Key("s")
		w.String(e.Stack)
	}
	if e.Task != "" {
		w.Key("t")
		w.String(e.Task)
	}
	if e.Cause != 0 {
		w.Key("c")
		w.Uint(uint64(e.Cause))
	}
	if len(e.Sentinels) > 0 {
		w.Key("r")
		w.Strings(e.Sentinels)
	}
	if len(e.Values) > 0 {
		w.Key("v")
		encodeSlice(w, e.Values)
	}
}

func (e *TaskError) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*e = TaskError{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "k":
			e.Kind = ErrorKind(r.Uint64())
		case "m":
			e.Message = r.String()
		case "s":
			e.Stack = r.String()
		case "t":
			e.Task = r.String()
		case "c":
			e.Cause = ErrorKind(r.Uint64())
		case "r":
			e.Sentinels = r.Strings()
		case "v":
			e.Values = decodeSlice[ErrorValue](r)
		default:
			r.Skip()
		}
	}
}

// encodeWire writes the return; Location has no omitempty field, so it
// is never empty to msgpack and always written.
func (o *ReturnObject) encodeWire(w *wire.Writer) {
	w.MapLen(2 + one(len(o.Inline) > 0) + one(o.InPlasma) + one(o.Size != 0))
	w.Key("i")
	w.Bytes(o.ID[:])
	if len(o.Inline) > 0 {
		w.Key("v")
		w.Bytes(o.Inline)
	}
	if o.InPlasma {
		w.Key("p")
		w.Bool(true)
	}
	w.Key("l")
	o.Location.encodeWire(w)
	if o.Size != 0 {
		w.Key("z")
		w.Int(o.Size)
	}
}

func (o *ReturnObject) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*o = ReturnObject{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			r.ByteArray(o.ID[:])
		case "v":
			o.Inline = r.Bytes()
		case "p":
			o.InPlasma = r.Bool()
		case "l":
			o.Location.decodeWire(r)
		case "z":
			o.Size = r.Int64()
		default:
			r.Skip()
		}
	}
}

// The messages. EncodeWire and DecodeWire are what core.Codec calls;
// each wraps the struct's own encodeWire and decodeWire.

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *RequestLease) EncodeWire(w *wire.Writer) { m.encodeWire(w) }

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *RequestLease) DecodeWire(r *wire.Reader) error { m.decodeWire(r); return r.Err() }

func (m *RequestLease) encodeWire(w *wire.Writer) {
	w.MapLen(2 + one(m.Spilled))
	w.Key("s")
	m.Spec.encodeWire(w)
	w.Key("l")
	w.Uint(m.LeaseID)
	if m.Spilled {
		w.Key("x")
		w.Bool(true)
	}
}

func (m *RequestLease) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*m = RequestLease{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "s":
			m.Spec.decodeWire(r)
		case "l":
			m.LeaseID = r.Uint64()
		case "x":
			m.Spilled = r.Bool()
		default:
			r.Skip()
		}
	}
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *LeaseReply) EncodeWire(w *wire.Writer) { m.encodeWire(w) }

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *LeaseReply) DecodeWire(r *wire.Reader) error { m.decodeWire(r); return r.Err() }

func (m *LeaseReply) encodeWire(w *wire.Writer) {
	// WorkerID, Node and SpillNode are ids: always written.
	w.MapLen(3 + one(m.Granted) + one(m.Worker != "") + one(m.Spillback) + one(m.SpillRaylet != "") +
		one(m.Infeasible) + one(m.Reason != "") + one(m.Cancelled) + one(m.NoBundle))
	if m.Granted {
		w.Key("g")
		w.Bool(true)
	}
	if m.Worker != "" {
		w.Key("w")
		w.String(string(m.Worker))
	}
	w.Key("i")
	w.Bytes(m.WorkerID[:])
	w.Key("n")
	w.Bytes(m.Node[:])
	if m.Spillback {
		w.Key("s")
		w.Bool(true)
	}
	if m.SpillRaylet != "" {
		w.Key("r")
		w.String(string(m.SpillRaylet))
	}
	w.Key("N")
	w.Bytes(m.SpillNode[:])
	if m.Infeasible {
		w.Key("f")
		w.Bool(true)
	}
	if m.Reason != "" {
		w.Key("m")
		w.String(m.Reason)
	}
	if m.Cancelled {
		w.Key("c")
		w.Bool(true)
	}
	if m.NoBundle {
		w.Key("b")
		w.Bool(true)
	}
}

func (m *LeaseReply) decodeWire(r *wire.Reader) {
	n := r.MapLen()
	if n < 0 {
		*m = LeaseReply{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "g":
			m.Granted = r.Bool()
		case "w":
			m.Worker = core.Addr(r.String())
		case "i":
			r.ByteArray(m.WorkerID[:])
		case "n":
			r.ByteArray(m.Node[:])
		case "s":
			m.Spillback = r.Bool()
		case "r":
			m.SpillRaylet = core.Addr(r.String())
		case "N":
			r.ByteArray(m.SpillNode[:])
		case "f":
			m.Infeasible = r.Bool()
		case "m":
			m.Reason = r.String()
		case "c":
			m.Cancelled = r.Bool()
		case "b":
			m.NoBundle = r.Bool()
		default:
			r.Skip()
		}
	}
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *ReturnLease) EncodeWire(w *wire.Writer) {
	w.MapLen(2 + one(m.Disconnect))
	w.Key("l")
	w.Uint(m.LeaseID)
	w.Key("o")
	w.String(string(m.Owner))
	if m.Disconnect {
		w.Key("d")
		w.Bool(true)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *ReturnLease) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = ReturnLease{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "l":
			m.LeaseID = r.Uint64()
		case "o":
			m.Owner = core.Addr(r.String())
		case "d":
			m.Disconnect = r.Bool()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *PushTask) EncodeWire(w *wire.Writer) {
	// Node and Worker are ids: always written.
	w.MapLen(3 + one(m.LeaseID != 0))
	w.Key("s")
	m.Spec.encodeWire(w)
	if m.LeaseID != 0 {
		w.Key("l")
		w.Uint(m.LeaseID)
	}
	w.Key("n")
	w.Bytes(m.Node[:])
	w.Key("w")
	w.Bytes(m.Worker[:])
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *PushTask) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = PushTask{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "s":
			m.Spec.decodeWire(r)
		case "l":
			m.LeaseID = r.Uint64()
		case "n":
			r.ByteArray(m.Node[:])
		case "w":
			r.ByteArray(m.Worker[:])
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *PushTaskReply) EncodeWire(w *wire.Writer) {
	w.MapLen(2 + one(len(m.Returns) > 0) + one(m.Error != nil) + one(len(m.Borrowed) > 0) + one(m.AckWanted))
	if len(m.Returns) > 0 {
		w.Key("r")
		encodeSlice(w, m.Returns)
	}
	if m.Error != nil {
		w.Key("e")
		m.Error.encodeWire(w)
	}
	if len(m.Borrowed) > 0 {
		w.Key("b")
		encodeObjectIDs(w, m.Borrowed)
	}
	w.Key("n")
	w.Bytes(m.Node[:])
	w.Key("w")
	w.Bytes(m.Worker[:])
	if m.AckWanted {
		w.Key("k")
		w.Bool(true)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *PushTaskReply) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = PushTaskReply{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "r":
			m.Returns = decodeSlice[ReturnObject](r)
		case "e":
			decodePtr(r, &m.Error)
		case "b":
			m.Borrowed = decodeObjectIDs(r)
		case "n":
			r.ByteArray(m.Node[:])
		case "w":
			r.ByteArray(m.Worker[:])
		case "k":
			m.AckWanted = r.Bool()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *ActorReplyAck) EncodeWire(w *wire.Writer) {
	w.MapLen(4)
	w.Key("a")
	w.Bytes(m.Actor[:])
	w.Key("c")
	w.String(string(m.Caller))
	w.Key("i")
	w.Uint(m.CallerID)
	w.Key("s")
	w.Uint(m.Seq)
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *ActorReplyAck) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = ActorReplyAck{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "a":
			r.ByteArray(m.Actor[:])
		case "c":
			m.Caller = core.Addr(r.String())
		case "i":
			m.CallerID = r.Uint64()
		case "s":
			m.Seq = r.Uint64()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *Ack) EncodeWire(w *wire.Writer) { w.MapLen(0) }

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *Ack) DecodeWire(r *wire.Reader) error {
	for i, n := 0, r.MapLen(); i < n && r.OK(); i++ {
		r.Key()
		r.Skip()
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *PutObject) EncodeWire(w *wire.Writer) {
	// OwnerNode and Job are ids: always written.
	w.MapLen(5 + one(m.OwnerID != 0) + one(m.Offset != 0) + one(m.Size != 0))
	w.Key("i")
	w.Bytes(m.ID[:])
	w.Key("o")
	w.String(string(m.Owner))
	if m.OwnerID != 0 {
		w.Key("w")
		w.Uint(m.OwnerID)
	}
	w.Key("n")
	w.Bytes(m.OwnerNode[:])
	w.Key("j")
	w.Bytes(m.Job[:])
	w.Key("d")
	w.Bytes(m.Data)
	if m.Offset != 0 {
		w.Key("f")
		w.Int(m.Offset)
	}
	if m.Size != 0 {
		w.Key("s")
		w.Int(m.Size)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *PutObject) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = PutObject{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			r.ByteArray(m.ID[:])
		case "o":
			m.Owner = core.Addr(r.String())
		case "w":
			m.OwnerID = r.Uint64()
		case "n":
			r.ByteArray(m.OwnerNode[:])
		case "j":
			r.ByteArray(m.Job[:])
		case "d":
			m.Data = r.Bytes()
		case "f":
			m.Offset = r.Int64()
		case "s":
			m.Size = r.Int64()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *PutObjectReply) EncodeWire(w *wire.Writer) {
	w.MapLen(1 + one(m.Sealed))
	w.Key("n")
	w.Bytes(m.Node[:])
	if m.Sealed {
		w.Key("s")
		w.Bool(true)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *PutObjectReply) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = PutObjectReply{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			r.ByteArray(m.Node[:])
		case "s":
			m.Sealed = r.Bool()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *GetObject) EncodeWire(w *wire.Writer) {
	w.MapLen(2 + one(len(m.Locations) > 0) + one(m.Offset != 0) + one(m.Length != 0) + one(m.Shared))
	w.Key("i")
	w.Bytes(m.ID[:])
	w.Key("o")
	w.String(string(m.Owner))
	if len(m.Locations) > 0 {
		w.Key("l")
		encodeSlice(w, m.Locations)
	}
	if m.Offset != 0 {
		w.Key("f")
		w.Int(m.Offset)
	}
	if m.Length != 0 {
		w.Key("n")
		w.Int(m.Length)
	}
	if m.Shared {
		w.Key("sh")
		w.Bool(m.Shared)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *GetObject) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = GetObject{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			r.ByteArray(m.ID[:])
		case "o":
			m.Owner = core.Addr(r.String())
		case "l":
			m.Locations = decodeSlice[Location](r)
		case "f":
			m.Offset = r.Int64()
		case "n":
			m.Length = r.Int64()
		case "sh":
			m.Shared = r.Bool()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *GetObjectReply) EncodeWire(w *wire.Writer) {
	w.MapLen(1 + one(m.Size != 0) + one(m.Shm != ""))
	w.Key("d")
	w.Bytes(m.Data)
	if m.Size != 0 {
		w.Key("s")
		w.Int(m.Size)
	}
	if m.Shm != "" {
		w.Key("m")
		w.String(m.Shm)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *GetObjectReply) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = GetObjectReply{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "d":
			m.Data = r.Bytes()
		case "s":
			m.Size = r.Int64()
		case "m":
			m.Shm = r.String()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *GetObjectStatus) EncodeWire(w *wire.Writer) {
	w.MapLen(1 + one(len(m.Failed) > 0) + one(m.OwnerID != 0))
	w.Key("i")
	w.Bytes(m.ID[:])
	if len(m.Failed) > 0 {
		w.Key("f")
		encodeSlice(w, m.Failed)
	}
	if m.OwnerID != 0 {
		w.Key("w")
		w.Uint(m.OwnerID)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *GetObjectStatus) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = GetObjectStatus{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			r.ByteArray(m.ID[:])
		case "f":
			m.Failed = decodeSlice[Location](r)
		case "w":
			m.OwnerID = r.Uint64()
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *ObjectStatusReply) EncodeWire(w *wire.Writer) {
	w.MapLen(one(len(m.Inline) > 0) + one(len(m.Locations) > 0) + one(m.Size != 0) + one(m.Error != nil))
	if len(m.Inline) > 0 {
		w.Key("v")
		w.Bytes(m.Inline)
	}
	if len(m.Locations) > 0 {
		w.Key("l")
		encodeSlice(w, m.Locations)
	}
	if m.Size != 0 {
		w.Key("z")
		w.Int(m.Size)
	}
	if m.Error != nil {
		w.Key("e")
		m.Error.encodeWire(w)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *ObjectStatusReply) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = ObjectStatusReply{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "v":
			m.Inline = r.Bytes()
		case "l":
			m.Locations = decodeSlice[Location](r)
		case "z":
			m.Size = r.Int64()
		case "e":
			decodePtr(r, &m.Error)
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path).
func (m *FreeObjects) EncodeWire(w *wire.Writer) {
	w.MapLen(1)
	w.Key("i")
	encodeObjectIDs(w, m.IDs)
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *FreeObjects) DecodeWire(r *wire.Reader) error {
	n := r.MapLen()
	if n < 0 {
		*m = FreeObjects{}
	}
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "i":
			m.IDs = decodeObjectIDs(r)
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path): a
// prepare carries every bundle of a group placed on the node, and
// reflection decodes them one growing slice element at a time.
func (m *PrepareBundles) EncodeWire(w *wire.Writer) {
	w.MapLen(2)
	w.Key("n")
	w.Bytes(m.Node[:])
	w.Key("b")
	if m.Bundles == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(m.Bundles))
	for i := range m.Bundles {
		b := &m.Bundles[i]
		w.MapLen(3)
		w.Key("g")
		w.Bytes(b.Group[:])
		w.Key("i")
		w.Int(int64(b.Index))
		w.Key("r")
		encodeResources(w, b.Resources)
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *PrepareBundles) DecodeWire(r *wire.Reader) error {
	*m = PrepareBundles{}
	n := r.MapLen()
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			r.ByteArray(m.Node[:])
		case "b":
			k := r.ArrayLen()
			if k < 0 {
				continue
			}
			m.Bundles = make([]BundleSpec, k)
			var prev core.Resources // the last bundle's set: equal ones share it
			for j := 0; j < k && r.OK(); j++ {
				b := &m.Bundles[j]
				f := r.MapLen()
				for x := 0; x < f && r.OK(); x++ {
					switch string(r.Key()) {
					case "g":
						r.ByteArray(b.Group[:])
					case "i":
						b.Index = int32(r.Int64())
					case "r":
						b.Resources = decodeResourcesLike(r, prev)
						prev = b.Resources
					default:
						r.Skip()
					}
				}
			}
		default:
			r.Skip()
		}
	}
	return r.Err()
}

// EncodeWire appends the message to w (core.Codec's hand-coded path): a
// commit names every bundle of a group on the node, and reflection
// decodes the indexes one growing slice element at a time.
func (m *CommitBundles) EncodeWire(w *wire.Writer) {
	w.MapLen(3)
	w.Key("n")
	w.Bytes(m.Node[:])
	w.Key("g")
	w.Bytes(m.Group[:])
	w.Key("x")
	if m.Indexes == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(m.Indexes))
	for _, i := range m.Indexes {
		w.Int(int64(i))
	}
}

// DecodeWire reads the message from r (core.Codec's hand-coded path).
func (m *CommitBundles) DecodeWire(r *wire.Reader) error {
	*m = CommitBundles{}
	n := r.MapLen()
	for i := 0; i < n && r.OK(); i++ {
		switch string(r.Key()) {
		case "n":
			r.ByteArray(m.Node[:])
		case "g":
			r.ByteArray(m.Group[:])
		case "x":
			k := r.ArrayLen()
			if k < 0 {
				continue
			}
			m.Indexes = make([]int32, k)
			for j := 0; j < k && r.OK(); j++ {
				m.Indexes[j] = int32(r.Int64())
			}
		default:
			r.Skip()
		}
	}
	return r.Err()
}
