package plasma

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

const kib = 1 << 10

// evictLog records OnEvict calls as test ids.
type evictLog []int

func (l *evictLog) onEvict(id core.ObjectID) { *l = append(*l, int(id.Index())) }

func newLoggedStore(capacity int64, objectsMax int) (*Store, *evictLog) {
	var log evictLog
	return NewStore(Config{Capacity: capacity, ObjectsMax: objectsMax, OnEvict: log.onEvict}), &log
}

func mustDo(t *testing.T, s *Store, ops ...op) {
	t.Helper()
	for _, o := range ops {
		if err := apply(s, o); !errors.Is(err, o.want) {
			t.Fatalf("%v = %v, want %v", o, err, o.want)
		}
	}
}

func putKiB(id int) op { return op{kind: "put", id: id, data: strings.Repeat("x", kib)} }

func TestEvictionOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup []op
		then  []op // each put needs one eviction
		want  []int
	}{
		{"oldest first", []op{putKiB(1), putKiB(2), putKiB(3), putKiB(4)},
			[]op{putKiB(5), putKiB(6)}, []int{1, 2}},
		{"get counts as use", []op{putKiB(1), putKiB(2), putKiB(3), putKiB(4),
			{kind: "get", id: 1, data: strings.Repeat("x", kib)}, {kind: "release", id: 1}},
			[]op{putKiB(5), putKiB(6)}, []int{2, 3}},
		{"read copies are skipped", []op{putKiB(1), putKiB(2), putKiB(3), putKiB(4),
			{kind: "get", id: 1, data: strings.Repeat("x", kib)}},
			[]op{putKiB(5), putKiB(6)}, []int{2, 3}},
		{"primary copies are skipped", []op{putKiB(1), putKiB(2), putKiB(3), putKiB(4),
			{kind: "pin", id: 1}, {kind: "pin", id: 3}},
			[]op{putKiB(5), putKiB(6)}, []int{2, 4}},
		{"unsealed objects are skipped", []op{{kind: "create", id: 1, n: kib}, putKiB(2), putKiB(3), putKiB(4)},
			[]op{putKiB(5)}, []int{2}},
		{"unpin counts as use", []op{putKiB(1), {kind: "pin", id: 1}, putKiB(2), putKiB(3), putKiB(4),
			{kind: "unpin", id: 1}},
			[]op{putKiB(5), putKiB(6)}, []int{2, 3}},
		{"last release counts as use", []op{putKiB(1), {kind: "get", id: 1, data: strings.Repeat("x", kib)},
			putKiB(2), putKiB(3), putKiB(4), {kind: "release", id: 1}},
			[]op{putKiB(5), putKiB(6)}, []int{2, 3}},
		{"several evictions for one big object", []op{putKiB(1), putKiB(2), putKiB(3), putKiB(4), {kind: "pin", id: 2}},
			[]op{{kind: "create", id: 5, n: 3 * kib}}, []int{1, 3, 4}},
		{"evicts no more than needed", []op{{kind: "put", id: 1, data: "ab"}, {kind: "put", id: 2, data: "c"},
			{kind: "put", id: 3, data: strings.Repeat("x", 4*kib-3)}},
			[]op{{kind: "create", id: 6, n: 2}}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, log := newLoggedStore(4*kib, 0)
			mustDo(t, s, tc.setup...)
			if len(*log) != 0 {
				t.Fatalf("setup evicted %v", *log)
			}
			mustDo(t, s, tc.then...)
			if !slices.Equal(*log, tc.want) {
				t.Errorf("evicted %v, want %v\n%s", *log, tc.want, s.Describe())
			}
			st := s.Stats()
			if st.Evictions != int64(len(tc.want)) {
				t.Errorf("Stats().Evictions = %d, want %d", st.Evictions, len(tc.want))
			}
			for _, id := range tc.want {
				if s.Contains(oid(id)) {
					t.Errorf("evicted %d still contained", id)
				}
			}
			if err := checkInvariants(s); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestObjectStoreFullNamesSizesAndEvictsNothing(t *testing.T) {
	s, log := newLoggedStore(4*kib, 0)
	mustDo(t, s,
		op{kind: "put", id: 1, data: strings.Repeat("p", 2*kib)}, op{kind: "pin", id: 1}, // primary
		putKiB(2), op{kind: "get", id: 2, data: strings.Repeat("x", kib)}, // read
		putKiB(3), // evictable
	)
	err := s.Create(oid(4), 2*kib, owner)
	if !errors.Is(err, ErrObjectStoreFull) {
		t.Fatalf("Create(2 KiB) with 3 KiB held of 4 KiB = %v, want ErrObjectStoreFull", err)
	}
	for _, want := range []string{"needed 2048 bytes", "capacity 4096 bytes", "3072 are pinned", "object store full", "release"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(*log) != 0 || !s.Contains(oid(3)) {
		t.Errorf("failed Create evicted %v; it must evict nothing", *log)
	}
	st := s.Stats()
	if st.CreateFailures != 1 || st.Pinned != 3*kib || st.Used != 4*kib {
		t.Errorf("Stats() = %v, want 1 create failure, 3 KiB pinned, 4 KiB used", st)
	}
	// Releasing the reader makes room.
	mustDo(t, s, op{kind: "release", id: 2})
	if err := s.Create(oid(4), 2*kib, owner); err != nil {
		t.Fatalf("Create after release = %v", err)
	}
	// The last release counted as a use, so 3 is now the older copy.
	if !slices.Equal(*log, []int{3, 2}) {
		t.Errorf("evicted %v, want [3 2]", *log)
	}
}

func TestTooLargeAndTooManyObjects(t *testing.T) {
	s, log := newLoggedStore(4*kib, 2)
	if err := s.Create(oid(1), 4*kib+1, owner); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "capacity 4096") {
		t.Fatalf("Create over capacity = %v, want ErrTooLarge naming the capacity", err)
	}
	mustDo(t, s, op{kind: "put", id: 1, data: "a"}, op{kind: "pin", id: 1}, op{kind: "put", id: 2, data: "b"})
	// The object limit evicts too: 2 is evictable.
	mustDo(t, s, op{kind: "put", id: 3, data: "c"})
	if !slices.Equal(*log, []int{2}) {
		t.Fatalf("evicted %v for an object slot, want [2]", *log)
	}
	mustDo(t, s, op{kind: "pin", id: 3}, op{kind: "put", id: 4, data: "d", want: ErrTooManyObjects})
	if st := s.Stats(); st.CreateFailures != 2 || st.Objects != 2 {
		t.Errorf("Stats() = %v, want 2 create failures and 2 objects", st)
	}
}

func TestOnEvictMustNotMutateTheStore(t *testing.T) {
	var s *Store
	s = NewStore(Config{Capacity: 2, OnEvict: func(id core.ObjectID) {
		if !s.Contains(id) && s.Stats().Evictions == 1 { // reads are fine
			_ = s.Delete(id) // mutation is a programmer error
		}
	}})
	mustDo(t, s, op{kind: "put", id: 1, data: "ab"})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "OnEvict") {
			t.Fatalf("Delete from OnEvict: recover() = %v, want a panic naming OnEvict", r)
		}
	}()
	_ = s.Put(oid(2), []byte("cd"), owner)
}
