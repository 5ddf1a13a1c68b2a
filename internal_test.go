package gray

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/vmihailenco/msgpack/v5"
)

// TestUnknownFunction submits a name no process registered, as a program
// whose processes disagree about their registrations would.
func TestUnknownFunction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	nobody := &Func1[int, int]{taskFunc{name: "test.nobody"}}
	_, err = nobody.Remote(ctx, V(1)).Get(ctx)
	if !errors.Is(err, ErrUnknownFunction) {
		t.Fatalf("unknown function: got %v, want ErrUnknownFunction", err)
	}
	ghost := &ActorClass0[int]{actorClass{"test.Ghost"}}
	a, err := ghost.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &ActorMethod0[int, int]{actorMethod{key: "test.ghost.get"}}
	if _, err := m.Remote(ctx, a).Get(ctx); err == nil {
		t.Fatalf("call on an actor whose class is unknown: got no error")
	}
}

// TestRefsReleasedByGC checks that unreachable Refs release their
// objects in the owner (runtime.AddCleanup), and that Release does so at
// once.
func TestRefsReleasedByGC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	objects := func() int { return tableSize(ctx, t, rt.driver) }
	kept := Put(ctx, 1)
	func() {
		for i := range 50 {
			if _, err := Put(ctx, i).Get(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}()
	for objects() > 1 {
		if ctx.Err() != nil {
			t.Fatalf("%d objects still held after GC, want 1", objects())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if v, err := kept.Get(ctx); err != nil || v != 1 {
		t.Fatalf("kept ref: %v, %v", v, err)
	}
	kept.Release()
	if _, err := kept.Get(ctx); !errors.Is(err, ErrReleased) {
		t.Fatalf("Get after Release: %v, want ErrReleased", err)
	}
	for objects() > 0 {
		if ctx.Err() != nil {
			t.Fatalf("%d objects still held after Release, want 0", objects())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestByteValuesEncodeAsMsgpack: the fast path for byte slices writes
// exactly what msgpack writes, and reads what msgpack writes, at every
// length class; anything it does not read goes to msgpack.
func TestByteValuesEncodeAsMsgpack(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 255, 256, 65535, 65536, 1 << 20} {
		var v []byte
		if n >= 0 {
			v = bytes.Repeat([]byte{0xab}, n)
		}
		want, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encode(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encode of %d bytes = %d bytes, %v; want msgpack's %d bytes", n, len(got), err, len(want))
		}
		back, err := decode[[]byte](want)
		if err != nil || !bytes.Equal(back, v) || (back == nil) != (v == nil) {
			t.Fatalf("decode of msgpack's %d bytes = %d bytes (nil %v), %v", n, len(back), back == nil, err)
		}
	}
	str, err := msgpack.Marshal("text")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := decode[[]byte](str); err != nil || string(b) != "text" {
		t.Fatalf("decode of a msgpack string into []byte = %q, %v; want msgpack's reading", b, err)
	}
}

// TestReplicaAddrs: a head's replica list must name it once (matched by
// peer id, written as it may be), hold 3 or 5 distinct GCS addresses, and
// comes back with the head's own address in its place.
func TestReplicaAddrs(t *testing.T) {
	const (
		me    = "/ip4/127.0.0.1/tcp/7001/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs"
		other = "/ip4/127.0.0.1/tcp/7002/p2p/12D3KooWFn8cGviqhwii17sCowwqPDJdQ5EBjRuKqsKCH4PQtYZQ#gcs"
		third = "/ip4/127.0.0.1/tcp/7003/p2p/12D3KooWJNFCVkU3qJzqgJri2UpW3aGwYeUPzFXP5c6RaPDybH81#gcs"
		// The same peer as me, written with another address.
		meElsewhere = "/ip4/10.0.0.5/tcp/7001/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5"
	)
	got, err := replicaAddrs([]string{other, meElsewhere, third}, me)
	if err != nil {
		t.Fatal(err)
	}
	if want := []core.Addr{other, me, third}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{
		{other, third},           // not listed
		{me, me, other},          // twice
		{me, other},              // two
		{me, "nowhere", third},   // malformed
		{me, other + "x", third}, // bad peer
		{me, strings.TrimSuffix(other, "#gcs") + "#raylet", third}, // not a GCS
	} {
		if _, err := replicaAddrs(bad, me); !errors.Is(err, ErrGCSReplicas) {
			t.Errorf("replicaAddrs(%v) = %v, want ErrGCSReplicas", bad, err)
		}
	}
}
