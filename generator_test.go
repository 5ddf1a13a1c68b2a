package gray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genBlob is over the inline limit: such values go through plasma.
const genBlob = 200 << 10

var (
	// genCount yields 0..n-1 as byte slices; every third is large.
	genCount = Generator1("test.gen.count", func(ctx context.Context, n int, yield func([]byte) error) error {
		for i := range n {
			v := []byte{byte(i)}
			if i%3 == 2 {
				v = bytes.Repeat([]byte{byte(i)}, genBlob)
			}
			if err := yield(v); err != nil {
				return err
			}
		}
		return nil
	})
	// genFail yields n values, then fails.
	genFail = Generator1("test.gen.fail", func(ctx context.Context, n int, yield func(int) error) error {
		for i := range n {
			if err := yield(i); err != nil {
				return err
			}
		}
		return errors.New("boom after the values")
	})
	// genProbe yields 0, 1, 2, … until yield fails (or n values), and
	// records, per tag, how many yields returned and the error that
	// stopped it.
	genProbe = Generator2("test.gen.probe", func(ctx context.Context, tag string, n int, yield func(int) error) error {
		p := genProbeOf(tag)
		for i := 0; n < 0 || i < n; i++ {
			if err := yield(i); err != nil {
				p.stopped <- err
				return err
			}
			p.yielded.Add(1)
		}
		p.stopped <- nil
		return nil
	})
	// genRefs yields values that hold Refs to objects the body Puts.
	genRefs = Generator1("test.gen.refs", func(ctx context.Context, n int, yield func(genHolder) error) error {
		for i := range n {
			if err := yield(genHolder{I: i, Ref: Put(ctx, fmt.Sprint("value ", i))}); err != nil {
				return err
			}
		}
		return nil
	})
)

type genHolder struct {
	I   int
	Ref Ref[string]
}

type genProbeState struct {
	yielded atomic.Int64
	stopped chan error
}

var genProbes sync.Map // tag -> *genProbeState

// newGenProbe makes the probe of tag, a test's.
func newGenProbe(t *testing.T, tag string) *genProbeState {
	p := &genProbeState{stopped: make(chan error, 1)}
	genProbes.Store(tag, p)
	t.Cleanup(func() { genProbes.Delete(tag) })
	return p
}

func genProbeOf(tag string) *genProbeState {
	v, _ := genProbes.LoadOrStore(tag, &genProbeState{stopped: make(chan error, 1)})
	return v.(*genProbeState)
}

// waitIdle waits until the driver's table holds at most base objects and
// the stores none, failing when ctx ends.
func waitIdle(ctx context.Context, t *testing.T, rt *Runtime, base int) {
	t.Helper()
	for {
		runtime.GC()
		d, s := tableSize(ctx, t, rt.driver), storedObjects(t, rt)
		if d <= base && s == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("idle: the driver holds %d objects (want %d) and the stores %d (want 0)", d, base, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func initGen(t *testing.T, opts ...InitOption) (context.Context, *Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	rt, err := Init(ctx, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rt.Shutdown()
		cancel()
	})
	return ctx, rt
}

// TestGeneratorStreams: values, small and large, arrive in order through
// Next and All, the stream ends with io.EOF, and everything is freed
// once the Refs are dropped.
func TestGeneratorStreams(t *testing.T) {
	ctx, rt := initGen(t, WithNodes(2))
	base := tableSize(ctx, t, rt.driver)
	const n = 10
	func() {
		s := genCount.Remote(ctx, V(n))
		defer s.Close()
		i := 0
		for ref, err := range s.All(ctx) {
			if err != nil {
				t.Fatalf("value %d: %v", i, err)
			}
			v, err := ref.Get(ctx)
			if err != nil {
				t.Fatalf("Get of value %d: %v", i, err)
			}
			want := 1
			if i%3 == 2 {
				want = genBlob
			}
			if len(v) != want || v[0] != byte(i) {
				t.Fatalf("value %d: %d bytes starting %d, want %d bytes of %d", i, len(v), v[0], want, i)
			}
			ref.Release()
			i++
		}
		if i != n {
			t.Fatalf("%d values, want %d", i, n)
		}
		if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after the end = %v, want io.EOF", err)
		}
	}()
	waitIdle(ctx, t, rt, base)
}

// TestGeneratorErrorInPlace: a body that fails after three values gives
// them, then its error in place of the fourth, then the end.
func TestGeneratorErrorInPlace(t *testing.T) {
	ctx, rt := initGen(t)
	base := tableSize(ctx, t, rt.driver)
	func() {
		s := genFail.Options(WithMaxRetries(0)).Remote(ctx, V(3))
		defer s.Close()
		for i := range 3 {
			r, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("Next %d: %v", i, err)
			}
			if v, err := r.Get(ctx); err != nil || v != i {
				t.Fatalf("value %d = %d, %v", i, v, err)
			}
		}
		r, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after the values = %v, want the error's Ref", err)
		}
		if _, err := r.Get(ctx); !errors.Is(err, ErrTaskFailed) || !bytes.Contains([]byte(err.Error()), []byte("boom after the values")) {
			t.Fatalf("Get of the error in place = %v, want ErrTaskFailed with the body's message", err)
		}
		if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after the error = %v, want io.EOF", err)
		}
	}()
	waitIdle(ctx, t, rt, base)
}

// TestGeneratorBackpressure: with WithBackpressure(2) the body never
// runs more than two values ahead of the consumer (plus the one its
// yield is waiting with), and still delivers every value.
func TestGeneratorBackpressure(t *testing.T) {
	ctx, _ := initGen(t)
	const n, bound = 30, 2
	p := newGenProbe(t, t.Name())
	s := genProbe.Options(WithBackpressure(bound)).Remote(ctx, V(t.Name()), V(n))
	defer s.Close()
	for i := range n {
		// Before taking value i, the consumer took i values: yields
		// that returned are at most i+bound.
		if y := p.yielded.Load(); y > int64(i+bound) {
			t.Fatalf("the body's yields returned %d times while the consumer had taken %d (bound %d)", y, i, bound)
		}
		r, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if v, err := r.Get(ctx); err != nil || v != i {
			t.Fatalf("value %d = %d, %v", i, v, err)
		}
	}
	if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after the end = %v, want io.EOF", err)
	}
	if err := <-p.stopped; err != nil {
		t.Fatalf("the body stopped with %v", err)
	}
}

// TestGeneratorClose: closing the stream of an endless generator stops
// its body (yield fails with ErrStreamClosed) and frees what it yielded.
func TestGeneratorClose(t *testing.T) {
	ctx, rt := initGen(t)
	base := tableSize(ctx, t, rt.driver)
	p := newGenProbe(t, t.Name())
	s := genProbe.Options(WithBackpressure(4)).Remote(ctx, V(t.Name()), V(-1))
	for i := range 3 {
		if _, err := s.Next(ctx); err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
	}
	s.Close()
	select {
	case err := <-p.stopped:
		if !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("the body's yield failed with %v, want ErrStreamClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("the body of a closed stream did not stop")
	}
	if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after Close = %v, want io.EOF", err)
	}
	waitIdle(ctx, t, rt, base)
}

// TestGeneratorCancel: Cancel keeps the values taken and ends the stream
// with ErrCancelled in place.
func TestGeneratorCancel(t *testing.T) {
	ctx, _ := initGen(t)
	p := newGenProbe(t, t.Name())
	s := genProbe.Options(WithBackpressure(1)).Remote(ctx, V(t.Name()), V(-1))
	defer s.Close()
	first, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := first.Get(ctx); err != nil || v != 0 {
		t.Fatalf("value taken before Cancel = %d, %v", v, err)
	}
	sawCancelled := false
	for r, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx); errors.Is(err, ErrCancelled) {
			sawCancelled = true
		} else if err != nil {
			t.Fatalf("value after Cancel: %v", err)
		}
	}
	if !sawCancelled {
		t.Fatal("the stream of a cancelled generator ended without ErrCancelled in place")
	}
	<-p.stopped
}

// TestGeneratorValuesHoldRefs: values yielded with Refs inside keep the
// objects they name, which the consumer reads after the body returned,
// and all of it is freed once dropped.
func TestGeneratorValuesHoldRefs(t *testing.T) {
	ctx, rt := initGen(t, WithNodes(2))
	base := tableSize(ctx, t, rt.driver)
	func() {
		s := genRefs.Remote(ctx, V(5))
		defer s.Close()
		var got []Ref[genHolder]
		for r, err := range s.All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		runtime.GC()
		for i, r := range got {
			h, err := r.Get(ctx)
			if err != nil || h.I != i {
				t.Fatalf("value %d = %+v, %v", i, h, err)
			}
			if v, err := h.Ref.Get(ctx); err != nil || v != fmt.Sprint("value ", i) {
				t.Fatalf("the Ref inside value %d reads %q, %v", i, v, err)
			}
		}
	}()
	waitIdle(ctx, t, rt, base)
}

// genActor is an actor whose method streams its state.
type genActor struct{ next int }

var (
	newGenActor = Actor("test.gen.actor", func(context.Context) (*genActor, error) { return &genActor{}, nil })
	genTake     = MethodGenerator1("take", func(a *genActor, ctx context.Context, n int, yield func(int) error) error {
		for range n {
			a.next++
			if err := yield(a.next); err != nil {
				return err
			}
		}
		return nil
	})
)

// TestActorGenerator: a generator method streams from the actor's
// state, and the next call sees what the previous one left.
func TestActorGenerator(t *testing.T) {
	ctx, _ := initGen(t)
	a, err := newGenActor.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	for _, n := range []int{3, 4} {
		s := genTake.WithBackpressure(1).Remote(ctx, a, V(n))
		for r, err := range s.All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if v, err := r.Get(ctx); err != nil || v != want {
				t.Fatalf("value = %d, %v; want %d", v, err, want)
			}
			want++
		}
		s.Close()
	}
	if want != 8 {
		t.Fatalf("%d values, want 7", want-1)
	}
}
