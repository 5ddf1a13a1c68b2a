package plasma

import (
	"testing"

	"github.com/grayrt/gray/core"
)

// BenchmarkPutGet measures the life of a 1 KiB object: create, write, seal,
// get, release and delete (so the store stays small). Compare runs with
// benchstat.
func BenchmarkPutGet(b *testing.B) {
	s := NewStore(Config{Capacity: 1 << 20})
	task := core.DriverTaskID(core.JobIDFromInt(1))
	data := make([]byte, kib)
	b.ReportAllocs()
	b.SetBytes(kib)
	i := uint32(0)
	for b.Loop() {
		i++
		id := core.ObjectIDForPut(task, i)
		if err := s.Create(id, kib, owner); err != nil {
			b.Fatal(err)
		}
		if err := s.Write(id, 0, data); err != nil {
			b.Fatal(err)
		}
		if err := s.Seal(id); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Get(id); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(id); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkEvictionChurn puts 1 KiB objects into a full 1 MiB store in
// which every tenth object is primary-pinned, so that each Put evicts the
// least recently used unpinned copy.
func BenchmarkEvictionChurn(b *testing.B) {
	const capacity = 1 << 20
	evicted := 0
	s := NewStore(Config{Capacity: capacity, OnEvict: func(core.ObjectID) { evicted++ }})
	task := core.DriverTaskID(core.JobIDFromInt(1))
	data := make([]byte, kib)
	i := uint32(0)
	put := func() {
		i++
		id := core.ObjectIDForPut(task, i)
		if err := s.Put(id, data, owner); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			if err := s.Pin(id); err != nil {
				b.Fatal(err)
			}
			// Keep pinned data bounded: drop the pin of an older primary
			// copy, which then ages out like the rest.
			if i > 500 {
				if err := s.Unpin(core.ObjectIDForPut(task, i-500)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for range capacity / kib {
		put()
	}
	b.ReportAllocs()
	b.SetBytes(kib)
	evicted = 0
	for b.Loop() {
		put()
	}
	if evicted < b.N {
		b.Fatalf("%d evictions for %d puts into a full store", evicted, b.N)
	}
	b.ReportMetric(float64(evicted)/b.Elapsed().Seconds(), "evictions/s")
}

// BenchmarkPutGet32MiB is BenchmarkPutGet with a 32 MiB object, the size
// of `gray bench`'s single_client_put_gigabytes: it shows the store's
// share (one copy into the store) of a large put's cost.
func BenchmarkPutGet32MiB(b *testing.B) {
	const size = 32 << 20
	s := NewStore(Config{Capacity: 2 * size})
	task := core.DriverTaskID(core.JobIDFromInt(1))
	data := make([]byte, size)
	b.ReportAllocs()
	b.SetBytes(size)
	i := uint32(0)
	for b.Loop() {
		i++
		id := core.ObjectIDForPut(task, i)
		if err := s.Create(id, size, owner); err != nil {
			b.Fatal(err)
		}
		if err := s.Write(id, 0, data); err != nil {
			b.Fatal(err)
		}
		if err := s.Seal(id); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Get(id); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(id); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(id); err != nil {
			b.Fatal(err)
		}
	}
}
