package plasma

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

// oid returns a test object id; oid(i) < oid(j) for i < j.
func oid(i int) core.ObjectID {
	return core.ObjectIDForPut(core.DriverTaskID(core.JobIDFromInt(1)), uint32(i))
}

const owner core.Addr = "driver-1"

// op is one call on a Store in a table-driven test.
type op struct {
	kind string // create, write, seal, abort, put, get, release, pin, unpin, delete
	id   int
	n    int64  // size for create, offset for write
	data string // for write, put, and the expected contents for get
	want error
}

func (o op) String() string {
	return fmt.Sprintf("%s(%d, %d, %q)", o.kind, o.id, o.n, o.data)
}

// apply runs o on s and returns its error; for a successful get it also
// checks the contents.
func apply(s *Store, o op) error {
	id := oid(o.id)
	switch o.kind {
	case "create":
		return s.Create(id, o.n, owner)
	case "write":
		return s.Write(id, o.n, []byte(o.data))
	case "seal":
		return s.Seal(id)
	case "abort":
		s.Abort(id)
		return nil
	case "put":
		return s.Put(id, []byte(o.data), owner)
	case "get":
		b, err := s.Get(id)
		if err == nil && string(b) != o.data {
			return fmt.Errorf("get returned %q, want %q", b, o.data)
		}
		return err
	case "release":
		return s.Release(id)
	case "pin":
		return s.Pin(id)
	case "unpin":
		return s.Unpin(id)
	case "delete":
		return s.Delete(id)
	}
	panic("unknown op " + o.kind)
}

func TestStoreSemantics(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []op
		// contains lists the ids Contains must report at the end.
		contains []int
	}{
		{"put then get and release", []op{
			{kind: "put", id: 1, data: "hello"},
			{kind: "get", id: 1, data: "hello"},
			{kind: "release", id: 1},
		}, []int{1}},
		{"create write seal", []op{
			{kind: "create", id: 1, n: 5},
			{kind: "write", id: 1, data: "hello"},
			{kind: "seal", id: 1},
			{kind: "get", id: 1, data: "hello"},
		}, []int{1}},
		{"chunks out of order and duplicated", []op{
			{kind: "create", id: 1, n: 6},
			{kind: "write", id: 1, n: 4, data: "ef"},
			{kind: "write", id: 1, n: 0, data: "ab"},
			{kind: "write", id: 1, n: 4, data: "ef"},
			{kind: "seal", id: 1, want: ErrIncomplete},
			{kind: "write", id: 1, n: 2, data: "cd"},
			{kind: "seal", id: 1},
			{kind: "get", id: 1, data: "abcdef"},
		}, []int{1}},
		{"duplicate writes do not count twice", []op{
			{kind: "create", id: 1, n: 4},
			{kind: "write", id: 1, n: 0, data: "ab"},
			{kind: "write", id: 1, n: 0, data: "ab"},
			{kind: "seal", id: 1, want: ErrIncomplete},
		}, nil},
		{"zero-size object", []op{
			{kind: "create", id: 1, n: 0},
			{kind: "write", id: 1, n: 0, data: ""},
			{kind: "seal", id: 1},
			{kind: "get", id: 1, data: ""},
		}, []int{1}},
		{"create twice", []op{
			{kind: "create", id: 1, n: 1},
			{kind: "create", id: 1, n: 1, want: ErrExists},
			{kind: "put", id: 1, data: "x", want: ErrExists},
		}, nil},
		{"negative size", []op{
			{kind: "create", id: 1, n: -1, want: ErrOutOfRange},
		}, nil},
		{"too large", []op{
			{kind: "create", id: 1, n: 1 << 20, want: ErrTooLarge},
		}, nil},
		{"writes out of range", []op{
			{kind: "write", id: 1, data: "x", want: ErrNotFound},
			{kind: "create", id: 1, n: 4},
			{kind: "write", id: 1, n: -1, data: "x", want: ErrOutOfRange},
			{kind: "write", id: 1, n: 3, data: "xy", want: ErrOutOfRange},
			{kind: "write", id: 1, n: 5, data: "", want: ErrOutOfRange},
			{kind: "write", id: 1, n: 0, data: "abcde", want: ErrOutOfRange},
			{kind: "write", id: 1, n: 4, data: ""},
			{kind: "seal", id: 1, want: ErrIncomplete},
		}, nil},
		{"sealed is immutable", []op{
			{kind: "put", id: 1, data: "ab"},
			{kind: "write", id: 1, data: "xy", want: ErrSealed},
			{kind: "seal", id: 1, want: ErrSealed},
			{kind: "get", id: 1, data: "ab"},
		}, []int{1}},
		{"readers see sealed objects only", []op{
			{kind: "get", id: 1, want: ErrNotFound},
			{kind: "create", id: 1, n: 1},
			{kind: "get", id: 1, want: ErrNotSealed},
			{kind: "pin", id: 1, want: ErrNotSealed},
			{kind: "seal", id: 2, want: ErrNotFound},
		}, nil},
		{"unbalanced release", []op{
			{kind: "release", id: 1, want: ErrNotFound},
			{kind: "put", id: 1, data: "x"},
			{kind: "release", id: 1, want: ErrNotPinned},
			{kind: "get", id: 1, data: "x"},
			{kind: "get", id: 1, data: "x"},
			{kind: "release", id: 1},
			{kind: "release", id: 1},
			{kind: "release", id: 1, want: ErrNotPinned},
		}, []int{1}},
		{"pin is idempotent, unpin is not", []op{
			{kind: "pin", id: 1, want: ErrNotFound},
			{kind: "put", id: 1, data: "x"},
			{kind: "pin", id: 1},
			{kind: "pin", id: 1},
			{kind: "unpin", id: 1},
			{kind: "unpin", id: 1, want: ErrNotPinned},
			{kind: "unpin", id: 2, want: ErrNotFound},
		}, []int{1}},
		{"abort drops unsealed only", []op{
			{kind: "create", id: 1, n: 1},
			{kind: "abort", id: 1},
			{kind: "write", id: 1, data: "x", want: ErrNotFound},
			{kind: "put", id: 2, data: "y"},
			{kind: "abort", id: 2},
			{kind: "abort", id: 3},
			{kind: "get", id: 2, data: "y"},
		}, []int{2}},
		{"delete", []op{
			{kind: "delete", id: 1, want: ErrNotFound},
			{kind: "put", id: 1, data: "x"},
			{kind: "pin", id: 1},
			{kind: "delete", id: 1},
			{kind: "get", id: 1, want: ErrNotFound},
			{kind: "create", id: 2, n: 3},
			{kind: "delete", id: 2},
			{kind: "write", id: 2, data: "x", want: ErrNotFound},
			{kind: "put", id: 1, data: "again"},
		}, []int{1}},
		{"deferred delete", []op{
			{kind: "put", id: 1, data: "x"},
			{kind: "get", id: 1, data: "x"},
			{kind: "delete", id: 1},
			{kind: "delete", id: 1},
			{kind: "get", id: 1, want: ErrNotFound},
			{kind: "pin", id: 1, want: ErrNotFound},
			{kind: "unpin", id: 1, want: ErrNotFound},
			{kind: "create", id: 1, n: 1, want: ErrExists},
			{kind: "release", id: 1},
			{kind: "release", id: 1, want: ErrNotFound},
			{kind: "put", id: 1, data: "y"},
		}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(Config{Capacity: 1 << 10})
			for i, o := range tc.ops {
				err := apply(s, o)
				if !errors.Is(err, o.want) {
					t.Fatalf("step %d: %v = %v, want %v", i, o, err, o.want)
				}
				if err := checkInvariants(s); err != nil {
					t.Fatalf("after step %d (%v): %v\n%s", i, o, err, s.Describe())
				}
			}
			var got []int
			for i := range 4 {
				if s.Contains(oid(i)) {
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.contains) {
				t.Errorf("Contains holds %v, want %v", got, tc.contains)
			}
		})
	}
}

func TestGetReturnsStoreMemoryThatCannotGrowIntoNeighbours(t *testing.T) {
	s := NewStore(Config{Capacity: 1 << 10})
	src := []byte("abc")
	if err := s.Put(oid(1), src, owner); err != nil {
		t.Fatal(err)
	}
	src[0] = 'X' // Put copied its input
	b, err := s.Get(oid(1))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "abc" || cap(b) != len(b) {
		t.Fatalf("Get = %q (cap %d), want %q with cap 3", b, cap(b), "abc")
	}
}

func TestDeferredDeleteKeepsSpaceUntilLastRelease(t *testing.T) {
	s := NewStore(Config{Capacity: 100})
	if err := s.Put(oid(1), make([]byte, 60), owner); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Get(oid(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(oid(1)); err != nil {
		t.Fatalf("Delete of a read object = %v, want deferred deletion", err)
	}
	if s.Contains(oid(1)) {
		t.Fatal("Contains reports a deleted object")
	}
	objs := s.Objects()
	if len(objs) != 1 || !objs[0].Deleting || objs[0].ReaderPins != 2 {
		t.Fatalf("Objects() = %v, want one deleting object with 2 readers", objs)
	}
	// Still occupying space and not evictable: a new object cannot fit.
	if err := s.Create(oid(2), 60, owner); !errors.Is(err, ErrObjectStoreFull) {
		t.Fatalf("Create with a deleted but read object in the way = %v, want ErrObjectStoreFull", err)
	}
	if err := s.Release(oid(1)); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Used; got != 60 {
		t.Fatalf("after first of two releases Used = %d, want 60", got)
	}
	if err := s.Release(oid(1)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Used != 0 || st.Objects != 0 || st.Evictions != 0 {
		t.Fatalf("after last release Stats() = %v, want empty store without evictions", st)
	}
	if err := s.Create(oid(2), 60, owner); err != nil {
		t.Fatalf("Create after the last release = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Capacity: 1}, true},
		{Config{Capacity: 1, ObjectsMax: 5}, true},
		{Config{}, false},
		{Config{Capacity: -1}, false},
		{Config{Capacity: CapacityMax}, true},
		{Config{Capacity: CapacityMax + 1}, false},
		{Config{Capacity: 1, ObjectsMax: -1}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewStore(Config{}) did not panic")
		}
	}()
	NewStore(Config{})
}

func TestDescribeListsObjectsAndEvictionOrder(t *testing.T) {
	s := NewStore(Config{Capacity: 100})
	for i := 3; i >= 1; i-- {
		if err := s.Put(oid(i), []byte{byte(i)}, owner); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Pin(oid(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(oid(4), 2, owner); err != nil {
		t.Fatal(err)
	}
	d := s.Describe()
	lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("Describe() has %d lines, want 6:\n%s", len(lines), d)
	}
	for i, want := range []string{"used=5B pinned=3B objects=4 sealed=3", oid(1).String(), oid(2).String() + " 1B owner=driver-1 sealed primary", oid(3).String(), oid(4).String() + " 2B owner=driver-1 unsealed", "evict order: " + oid(3).String() + " " + oid(1).String()} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("Describe() line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}
	if d != s.Describe() {
		t.Error("Describe() is not deterministic")
	}
}

func TestMaxObjectsDefault(t *testing.T) {
	s := NewStore(Config{Capacity: 1})
	if s.objectsMax != DefaultObjectsMax {
		t.Fatalf("objectsMax = %d, want %d", s.objectsMax, DefaultObjectsMax)
	}
}

func TestTooManyReaderPins(t *testing.T) {
	s := NewStore(Config{Capacity: 1})
	if err := s.Put(oid(1), []byte{1}, owner); err != nil {
		t.Fatal(err)
	}
	s.objects[oid(1)].readers = ReaderPinsMax - 1
	s.lru.remove(s.objects[oid(1)])
	if _, err := s.Get(oid(1)); err != nil {
		t.Fatalf("Get number %d = %v, want success", ReaderPinsMax, err)
	}
	if _, err := s.Get(oid(1)); !errors.Is(err, ErrTooManyPins) {
		t.Fatalf("Get beyond ReaderPinsMax = %v, want ErrTooManyPins", err)
	}
}

func TestWriteRangesBound(t *testing.T) {
	s := NewStore(Config{Capacity: 4 * WriteRangesMax})
	id := oid(1)
	if err := s.Create(id, 4*WriteRangesMax, owner); err != nil {
		t.Fatal(err)
	}
	for i := range int64(WriteRangesMax) {
		if err := s.Write(id, 2*i, []byte{1}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Write(id, 2*WriteRangesMax+1, []byte{1}); !errors.Is(err, ErrFragmented) {
		t.Fatalf("write making range %d = %v, want ErrFragmented", WriteRangesMax+1, err)
	}
	// A write that merges ranges is still fine, and so is filling the rest.
	if err := s.Write(id, 0, make([]byte, 4*WriteRangesMax)); err != nil {
		t.Fatalf("write of everything = %v", err)
	}
	if err := s.Seal(id); err != nil {
		t.Fatal(err)
	}
}

// checkInvariants returns an error describing the first broken invariant of
// s, or nil: the store's own CheckInvariants, and what its reports say
// (Objects sorted, Stats.Pinned the held bytes, memory the object's size).
func checkInvariants(s *Store) error {
	if err := s.CheckInvariants(); err != nil {
		return err
	}
	st := s.Stats()
	objs := s.Objects()
	var held int64
	for i, o := range objs {
		if i > 0 && bytes.Compare(objs[i-1].ID[:], o.ID[:]) >= 0 {
			return fmt.Errorf("Objects() not sorted at %d: %v then %v", i, objs[i-1].ID, o.ID)
		}
		if !o.Sealed || o.ReaderPins > 0 || o.Primary || o.Deleting {
			held += o.Size
		}
		if int64(len(s.objects[o.ID].data)) != o.Size {
			return fmt.Errorf("%v has %d bytes of memory, size %d", o.ID, len(s.objects[o.ID].data), o.Size)
		}
	}
	if held != st.Pinned {
		return fmt.Errorf("pinned %d, sum of held sizes %d", st.Pinned, held)
	}
	return nil
}

// TestAdopt: Adopt stores a sealed object in the caller's slice itself,
// with Put's checks: it fails on a duplicate or a full store, leaving
// nothing behind, and the adopted bytes count like any object's.
func TestAdopt(t *testing.T) {
	s := NewStore(Config{Capacity: 10})
	data := []byte("abcdef")
	if err := s.Adopt(oid(1), data, owner); err != nil {
		t.Fatalf("Adopt = %v", err)
	}
	got, err := s.Get(oid(1))
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("Get after Adopt = %q, %v; want abcdef", got, err)
	}
	if &got[0] != &data[0] {
		t.Errorf("Adopt copied the bytes, want the caller's slice taken over")
	}
	if err := s.Release(oid(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Adopt(oid(1), []byte("x"), owner); !errors.Is(err, ErrExists) {
		t.Errorf("Adopt of a present id = %v, want ErrExists", err)
	}
	if err := s.Pin(oid(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Adopt(oid(2), []byte("12345"), owner); !errors.Is(err, ErrObjectStoreFull) {
		t.Errorf("Adopt beyond capacity = %v, want ErrObjectStoreFull", err)
	}
	if s.Contains(oid(2)) || s.Stats().Used != 6 {
		t.Errorf("a failed Adopt left %v present=%v, used %d; want absent, 6", oid(2), s.Contains(oid(2)), s.Stats().Used)
	}
	if err := s.Adopt(oid(3), nil, owner); err != nil || !s.Contains(oid(3)) {
		t.Errorf("Adopt of an empty object = %v, present %v; want nil, true", err, s.Contains(oid(3)))
	}
}
