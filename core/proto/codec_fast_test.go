package proto

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/wire"
)

// wireMsg is a message with a hand-written codec (codec_fast.go).
type wireMsg interface {
	core.Message
	EncodeWire(w *wire.Writer)
	DecodeWire(r *wire.Reader) error
}

// handCoded returns a constructor of every registered message of this
// package whose codec is hand-written, in type-code order.
func handCoded(t testing.TB) []func() wireMsg {
	var out []func() wireMsg
	for _, code := range core.RegisteredTypes() {
		m, _ := core.NewMessage(code)
		if _, ok := m.(wireMsg); !ok || reflect.TypeOf(m).Elem().PkgPath() != reflect.TypeOf(Ack{}).PkgPath() {
			continue
		}
		out = append(out, func() wireMsg { m, _ := core.NewMessage(code); return m.(wireMsg) })
	}
	if len(out) < 13 {
		t.Fatalf("%d hand-coded messages, want the 13 or more of codec_fast.go", len(out))
	}
	return out
}

// filler fills values with random contents, through reflection, so that
// it knows every field of every struct: a field added to a hand-coded
// struct is filled here, and the comparison with the reflective codec
// fails until its codec writes and reads it.
type filler struct {
	rng *rand.Rand
	// full sets every field to a non-empty value; otherwise each is
	// empty or not at random.
	full bool
}

func (f *filler) fill(t testing.TB, v reflect.Value, omitempty bool) {
	empty := !f.full && f.rng.IntN(3) == 0
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!empty)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !empty {
			n := f.magnitude()
			if f.rng.IntN(2) == 0 {
				n = -n
			}
			v.SetInt(n) // truncated to the field's width, as a decoder does
			if v.Int() == 0 {
				v.SetInt(-1)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !empty {
			v.SetUint(uint64(f.magnitude()))
			if v.Uint() == 0 {
				v.SetUint(1)
			}
		}
	case reflect.String:
		if !empty {
			v.SetString(string(f.bytes(1)))
		}
	case reflect.Array:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			t.Fatalf("filler: array of %v: teach the filler and the codec", v.Type().Elem())
		}
		if !empty {
			for i := range v.Len() {
				v.Index(i).SetUint(uint64(f.rng.UintN(256)))
			}
		}
	case reflect.Slice:
		switch {
		case empty && (omitempty || f.rng.IntN(2) == 0):
			v.SetZero() // nil: an empty omitempty slice decodes as nil
		case empty:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case v.Type().Elem().Kind() == reflect.Uint8:
			v.SetBytes(f.bytes(1))
		default:
			n := 1 + f.rng.IntN(3)
			if f.rng.IntN(20) == 0 {
				n = 16 + f.rng.IntN(3) // past a fixarray
			}
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				f.fill(t, s.Index(i), false)
			}
			v.Set(s)
		}
	case reflect.Pointer:
		if empty {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(t, p.Elem(), false)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			tag := sf.Tag.Get("msgpack")
			if !sf.IsExported() || tag == "-" {
				continue
			}
			f.fill(t, v.Field(i), strings.Contains(tag, ",omitempty"))
		}
	default:
		t.Fatalf("filler: %v of kind %v: teach the filler and the codec", v.Type(), v.Kind())
	}
}

// magnitude returns a number whose size crosses msgpack's integer widths.
func (f *filler) magnitude() int64 {
	bits := []int{1, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 62, 64}[f.rng.IntN(14)]
	if bits == 64 {
		return int64(f.rng.Uint64())
	}
	return 1 + f.rng.Int64N(int64(1)<<bits)
}

// bytes returns at least least random bytes, with lengths that cross
// msgpack's str and bin header sizes now and then.
func (f *filler) bytes(least int) []byte {
	n := least + f.rng.IntN(8)
	switch f.rng.IntN(30) {
	case 0:
		n = 31 + f.rng.IntN(3)
	case 1:
		n = 255 + f.rng.IntN(3)
	case 2:
		n = math.MaxUint16 + f.rng.IntN(3)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(f.rng.UintN(256))
	}
	return b
}

// reflective encodes m as every codec did before the hand-written codecs:
// msgpack's reflection with compact ints (the proto types have no msgpack
// methods of their own).
func reflective(t testing.TB, m any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(m); err != nil {
		t.Fatalf("reflective encode %T: %v", m, err)
	}
	return buf.Bytes()
}

func fastEncode(m wireMsg) []byte {
	var w wire.Writer
	m.EncodeWire(&w)
	return w.B
}

// checkAgrees checks m, a filled message, both ways between the
// hand-written and the reflective codec, and through a core.Codec.
func checkAgrees(t *testing.T, m wireMsg, fresh func() wireMsg) {
	t.Helper()
	name := reflect.TypeOf(m).Elem().Name()
	want := reflective(t, m)
	got := fastEncode(m)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: hand-written encoding differs from the reflective one (a field missing from codec_fast.go?)\n got %x\nwant %x\nvalue %+v", name, got, want, m)
	}
	w := wire.Writer{Count: true}
	m.EncodeWire(&w)
	if w.Size() != len(want) {
		t.Fatalf("%s: measured %d bytes, encoded %d", name, w.Size(), len(want))
	}

	fast := fresh()
	var r wire.Reader
	r.Reset(want)
	if err := fast.DecodeWire(&r); err != nil || r.Len() != 0 {
		t.Fatalf("%s: hand-written decode of the reflective encoding: %v, %d bytes left", name, err, r.Len())
	}
	if !reflect.DeepEqual(fast, m) {
		t.Fatalf("%s: hand-written decode = %+v, want %+v", name, fast, m)
	}
	slow := fresh()
	if err := msgpack.NewDecoder(bytes.NewReader(got)).Decode(slow); err != nil {
		t.Fatalf("%s: reflective decode of the hand-written encoding: %v", name, err)
	}
	if !reflect.DeepEqual(slow, m) {
		t.Fatalf("%s: reflective decode = %+v, want %+v", name, slow, m)
	}

	c := core.NewCodec(0)
	env, err := c.Encode(m)
	if err != nil {
		t.Fatalf("%s: codec encode: %v", name, err)
	}
	if !bytes.Equal(env[core.HeaderSize:], want) {
		t.Fatalf("%s: codec body differs from the reflective encoding", name)
	}
	if n, err := c.Size(m); err != nil || n != len(env) {
		t.Fatalf("%s: codec Size = %d, %v; want %d", name, n, err, len(env))
	}
}

// TestFastCodecMatchesReflection is the guard of codec_fast.go: for every
// hand-coded message, values with every field set (recursively) and
// values with random fields set encode to the reflective codec's bytes,
// and each codec decodes the other's bytes to the same value.
func TestFastCodecMatchesReflection(t *testing.T) {
	for _, fresh := range handCoded(t) {
		t.Run(reflect.TypeOf(fresh()).Elem().Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(fresh().MsgType())))
			checkAgrees(t, fresh(), fresh) // the zero value
			for i := range 200 {
				m := fresh()
				(&filler{rng: rng, full: i%2 == 0}).fill(t, reflect.ValueOf(m).Elem(), false)
				checkAgrees(t, m, fresh)
			}
		})
	}
}

// TestFastCodecTypicalMessages checks the hot messages as they are sent.
func TestFastCodecTypicalMessages(t *testing.T) {
	for _, m := range hotMessages() {
		wm := m.(wireMsg)
		checkAgrees(t, wm, func() wireMsg { return reflect.New(reflect.TypeOf(m).Elem()).Interface().(wireMsg) })
	}
}

// FuzzFastCodecValues is TestFastCodecMatchesReflection from a fuzzed
// seed: random messages of every hand-coded type must encode as the
// reflective codec does and decode both ways to themselves. Run longer
// with
//
//	go test -run '^$' -fuzz FuzzFastCodecValues -fuzztime 60s ./core/proto
func FuzzFastCodecValues(f *testing.F) {
	for i := range 8 {
		f.Add(uint64(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, seed uint64, full bool) {
		for _, fresh := range handCoded(t) {
			m := fresh()
			(&filler{rng: rand.New(rand.NewPCG(seed, 7)), full: full}).fill(t, reflect.ValueOf(m).Elem(), false)
			checkAgrees(t, m, fresh)
		}
	})
}

// FuzzFastCodecDecode feeds arbitrary bytes to the hand-written decoder
// of one message type (kind picks it). It must never panic; what it
// accepts must encode back as the reflective codec encodes it, and both
// codecs must decode that encoding to the same value. Run longer with
//
//	go test -run '^$' -fuzz FuzzFastCodecDecode -fuzztime 60s ./core/proto
func FuzzFastCodecDecode(f *testing.F) {
	kinds := handCoded(f)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, fresh := range kinds {
		m := fresh()
		(&filler{rng: rng, full: true}).fill(f, reflect.ValueOf(m).Elem(), false)
		b := reflective(f, m)
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
	}
	f.Add(uint8(0), []byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(0), []byte{0x81, 0xa1, 'x', 0xdf, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		fresh := kinds[int(kind)%len(kinds)]
		m := fresh()
		var r wire.Reader
		r.Reset(b)
		if err := m.DecodeWire(&r); err != nil {
			return
		}
		enc := fastEncode(m)
		if want := reflective(t, m); !bytes.Equal(enc, want) {
			t.Fatalf("%T decoded from %x encodes as %x, reflectively %x", m, b, enc, want)
		}
		again := fresh()
		r.Reset(enc)
		if err := again.DecodeWire(&r); err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%T: re-decode = %+v, %v; want %+v", m, again, err, m)
		}
		slow := fresh()
		if err := msgpack.NewDecoder(bytes.NewReader(enc)).Decode(slow); err != nil || !reflect.DeepEqual(slow, m) {
			t.Fatalf("%T: reflective decode = %+v, %v; want %+v", m, slow, err, m)
		}
	})
}

// TestPrepareBundlesSharesEqualSets: a prepare's bundles decode as the
// reflective codec decodes them, and each one equal to the bundle before
// it shares that bundle's set.
func TestPrepareBundlesSharesEqualSets(t *testing.T) {
	g := core.PlacementGroupID{3}
	a := core.MustResources(core.CPU, "0.001", "GPU", 1)
	moreGPU := core.MustResources(core.CPU, "0.001", "GPU", 2)
	sets := []core.Resources{a, a, a, moreGPU, moreGPU, core.MustResources("x", 1), nil, nil, {}, {}, a, core.MustResources(core.CPU, "0.001")}
	m := &PrepareBundles{Node: core.NodeID{1}}
	for i, rs := range sets {
		m.Bundles = append(m.Bundles, BundleSpec{Group: g, Index: int32(i), Resources: rs})
	}
	checkAgrees(t, m, func() wireMsg { return new(PrepareBundles) })
	var got PrepareBundles
	var r wire.Reader
	r.Reset(fastEncode(m))
	if err := got.DecodeWire(&r); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(sets); i++ {
		same := len(sets[i]) > 0 && sets[i].Equal(sets[i-1])
		b, prev := got.Bundles[i].Resources, got.Bundles[i-1].Resources
		if shared := len(b) > 0 && len(prev) > 0 && &b[0] == &prev[0]; shared != same {
			t.Errorf("bundle %d %v shares the set of bundle %d %v: %v, want %v", i, b, i-1, prev, shared, same)
		}
	}
}
