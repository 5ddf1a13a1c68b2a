package plasma

import (
	"strings"
	"testing"
)

// TestCheckInvariantsReportsCorruption: each corruption of the store's
// bookkeeping is reported by CheckInvariants, and a healthy store passes.
func TestCheckInvariantsReportsCorruption(t *testing.T) {
	// fill makes a store with an unsealed object (1), a read copy (2), a
	// primary copy (3), and two evictable copies (4, 5), in that order
	// of use.
	fill := func(t *testing.T) *Store {
		t.Helper()
		s := NewStore(Config{Capacity: 1 << 10})
		if err := s.Create(oid(1), 10, owner); err != nil {
			t.Fatal(err)
		}
		for i := 2; i <= 5; i++ {
			if err := s.Put(oid(i), []byte(strings.Repeat("x", 10*i)), owner); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Get(oid(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Pin(oid(3)); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("CheckInvariants() of a healthy store = %v, want nil", err)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		corrupt func(s *Store)
		want    string
	}{
		{"used drifts", func(s *Store) { s.used += 3 }, "sizes sum to"},
		{"capacity exceeded", func(s *Store) { s.capacity = s.used - 1 }, "outside [0, capacity"},
		{"negative reader pins", func(s *Store) { s.objects[oid(4)].readers = -1 }, "reader pins"},
		{"unsealed copy pinned", func(s *Store) { s.objects[oid(1)].primary = true }, "unsealed"},
		{"sealed count drifts", func(s *Store) { s.sealed-- }, "sealed count"},
		{"primary pin lost without listing", func(s *Store) { s.objects[oid(3)].primary = false }, "evictable=true but listed for eviction=false"},
		{"read copy listed", func(s *Store) { s.lru.pushBack(s.objects[oid(2)]) }, "evictable=false but listed for eviction=true"},
		{"deleting without readers", func(s *Store) { s.objects[oid(3)].deleting = true }, "awaits deletion"},
		{"LRU order broken", func(s *Store) {
			e := s.lru.head
			s.lru.remove(e)
			s.lru.pushBack(e) // without a new use stamp
		}, "LRU order"},
		{"LRU byte count drifts", func(s *Store) { s.lru.bytes++ }, "the LRU list counts"},
		{"object limit exceeded", func(s *Store) { s.objectsMax = 2 }, "limit 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fill(t)
			tc.corrupt(s)
			err := s.CheckInvariants()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckInvariants() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
