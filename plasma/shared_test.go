package plasma

import (
	"errors"
	"fmt"
	"testing"

	"github.com/grayrt/gray/core"
)

// fakeShm is shared memory whose segments record their Close, and
// refuse to be made while fail is set.
type fakeShm struct {
	fail   bool
	n      int
	closed map[string]bool
}

type fakeSeg struct {
	m *fakeShm
	b []byte
	h string
}

func (s *fakeSeg) Bytes() []byte  { return s.b }
func (s *fakeSeg) Handle() string { return s.h }
func (s *fakeSeg) Stable() bool   { return false }
func (s *fakeSeg) Close()         { s.m.closed[s.h] = true }

func (m *fakeShm) ShmCreate(size int64) (core.Segment, error) {
	if m.fail {
		return nil, errors.New("refused")
	}
	m.n++
	return &fakeSeg{m: m, b: make([]byte, size), h: fmt.Sprintf("f:%d", m.n)}, nil
}

func (m *fakeShm) ShmOpen(string, int64, bool) (core.Segment, error) {
	return nil, errors.New("not in this test")
}

// newSharedStore returns a store of 1000 bytes whose objects from 100
// bytes up live in fakeShm segments, and a check of its invariants.
func newSharedStore(t *testing.T) (*fakeShm, *Store, func()) {
	m := &fakeShm{closed: map[string]bool{}}
	s := NewStore(Config{Capacity: 1000, Memory: m, SharedMin: 100})
	return m, s, func() {
		t.Helper()
		if err := s.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedObjects: objects from SharedMin up live in segments, freed
// (Close) with the object whether deleted or evicted; a writer elsewhere
// fills a CreateShared object, which then seals; a segment that cannot
// be made sends Create to Go memory and CreateShared to ErrNotShared.
func TestSharedObjects(t *testing.T) {
	m, s, check := newSharedStore(t)
	if err := s.Put(oid(1), make([]byte, 50), owner); err != nil {
		t.Fatal(err)
	}
	if s.Shared(oid(1)) != "" || s.Mapped(oid(1)) {
		t.Errorf("a 50-byte object is in shared memory")
	}
	if err := s.Put(oid(2), make([]byte, 400), owner); err != nil {
		t.Fatal(err)
	}
	h := s.Shared(oid(2))
	if h == "" || !s.Mapped(oid(2)) || s.Stats().SharedObjects != 1 || s.Stats().SharedBytes != 400 {
		t.Fatalf("a 400-byte object: handle %q, mapped %v, stats %+v; want it in shared memory", h, s.Mapped(oid(2)), s.Stats())
	}
	check()
	// A small object a writer elsewhere fills.
	if err := s.CreateShared(oid(3), 10, owner); err != nil {
		t.Fatal(err)
	}
	w := s.SharedUnsealed(oid(3))
	if w == "" || s.Shared(oid(3)) != "" {
		t.Fatalf("unsealed shared object: writer handle %q, reader handle %q", w, s.Shared(oid(3)))
	}
	if err := s.Seal(oid(3)); !errors.Is(err, ErrIncomplete) {
		t.Errorf("seal before it is written = %v, want ErrIncomplete", err)
	}
	if err := s.WrittenElsewhere(oid(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Seal(oid(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.WrittenElsewhere(oid(1)); !errors.Is(err, ErrSealed) {
		t.Errorf("WrittenElsewhere of a sealed object = %v, want ErrSealed", err)
	}
	check()
	// Deleted, its handle never given to a reader: its segment is kept
	// for the next object of its size, which reuses it.
	if err := s.Delete(oid(3)); err != nil {
		t.Fatal(err)
	}
	if m.closed[w] || s.Stats().SpareBytes != 10 {
		t.Errorf("a deleted object never read elsewhere: segment closed %v, spare %d bytes; want it kept, 10 bytes", m.closed[w], s.Stats().SpareBytes)
	}
	check()
	if err := s.CreateShared(oid(7), 10, owner); err != nil {
		t.Fatal(err)
	}
	if got := s.SharedUnsealed(oid(7)); got != w || s.Stats().SharedReused != 1 || s.Stats().SpareBytes != 0 {
		t.Errorf("the next 10-byte object: handle %q, stats %+v; want the spare %q reused", got, s.Stats(), w)
	}
	if err := s.WrittenElsewhere(oid(7)); err != nil {
		t.Fatal(err)
	}
	if err := s.Seal(oid(7)); err != nil {
		t.Fatal(err)
	}
	// Once its handle went to a reader, a deleted object's segment is
	// closed: the reader may still map it.
	if s.Shared(oid(7)) != w {
		t.Fatalf("reader handle of the reused object: %q, want %q", s.Shared(oid(7)), w)
	}
	if err := s.Delete(oid(7)); err != nil {
		t.Fatal(err)
	}
	if !m.closed[w] || s.Stats().SpareBytes != 0 {
		t.Errorf("a deleted object a reader saw: segment closed %v, spare %d bytes; want closed, none", m.closed[w], s.Stats().SpareBytes)
	}
	// Evicted to make room: its segment is closed too.
	if err := s.Put(oid(4), make([]byte, 900), owner); err != nil {
		t.Fatal(err)
	}
	if s.Contains(oid(2)) || !m.closed[h] {
		t.Errorf("evicted: contains %v, segment closed %v; want gone and closed", s.Contains(oid(2)), m.closed[h])
	}
	check()
	s.Close()
	if !m.closed[s.Shared(oid(4))] {
		t.Errorf("Close left a segment open")
	}
	// No segment to be had.
	m.fail = true
	s = NewStore(Config{Capacity: 1000, Memory: m, SharedMin: 100})
	if err := s.Put(oid(5), make([]byte, 200), owner); err != nil || s.Shared(oid(5)) != "" || s.Stats().SharedFailures != 1 {
		t.Errorf("put without segments = %v, handle %q, stats %+v; want Go memory and one failure", err, s.Shared(oid(5)), s.Stats())
	}
	if err := s.CreateShared(oid(6), 10, owner); !errors.Is(err, ErrNotShared) || s.Stats().Used != 200 {
		t.Errorf("CreateShared without segments = %v (used %d), want ErrNotShared and nothing left", err, s.Stats().Used)
	}
	if err := s.CheckInvariants(); err != nil { // the second store's
		t.Fatal(err)
	}
}

// TestSpareSegmentsNeverCrowdOutObjects: spare segments give way to new
// objects, and a segment freed by an eviction serves the object it made
// room for when the sizes match; capacity is never exceeded.
func TestSpareSegmentsNeverCrowdOutObjects(t *testing.T) {
	m, s, check := newSharedStore(t)
	for i := range 2 {
		if err := s.Put(oid(i+1), make([]byte, 400), owner); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(oid(1)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.SpareBytes != 400 {
		t.Fatalf("after a delete: %d spare bytes, want 400", st.SpareBytes)
	}
	check()
	// 400 used + 400 spare + 500 > 1000: the spare goes, nothing is evicted.
	if err := s.Put(oid(3), make([]byte, 500), owner); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.SpareBytes != 0 || !s.Contains(oid(2)) || st.Evictions != 0 {
		t.Fatalf("after a put needing the spare's room: %+v, object 2 kept %v", st, s.Contains(oid(2)))
	}
	check()
	// 900 used: a 400-byte object evicts object 2 and reuses its segment.
	h2 := "f:2"
	if err := s.CreateShared(oid(4), 400, owner); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); s.Contains(oid(2)) || st.SharedReused != 1 || s.SharedUnsealed(oid(4)) != h2 || m.closed[h2] {
		t.Fatalf("after an evicting create: %+v, object 2 kept %v, handle %q; want object 2's segment %q reused", st, s.Contains(oid(2)), s.SharedUnsealed(oid(4)), h2)
	}
	check()
	// An eviction whose segment has another size: it is not kept past
	// the room the new object needs.
	if err := s.Put(oid(5), make([]byte, 300), owner); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); s.Contains(oid(3)) || st.Used != 700 || st.Used+st.SpareBytes > 1000 {
		t.Fatalf("after evicting object 3 for a smaller one: %+v", st)
	}
	check()
}
