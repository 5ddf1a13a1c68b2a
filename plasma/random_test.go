package plasma

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

// The randomized test drives a Store and an independent model of the
// documented semantics with the same random operations, and after every
// operation compares the two and checks the store's invariants. The model
// predicts every error, every evicted copy (in order) and every LastUse.

const (
	randomCapacity   = 32 * kib
	randomMaxObjects = 16
	randomIDs        = 40
	randomOps        = 10_000
)

// mObj is the model of one object.
type mObj struct {
	data     []byte
	written  []bool // per byte, while unsealed
	sealed   bool
	readers  int
	primary  bool
	deleting bool
	lastUse  uint64
}

func (o *mObj) evictable() bool { return o.sealed && o.readers == 0 && !o.primary && !o.deleting }

// model is the executable specification the store is compared with.
type model struct {
	objs  map[int]*mObj
	clock uint64
}

func (m *model) stamp(o *mObj) { m.clock++; o.lastUse = m.clock }

// ids returns the model's ids in order, so that choices are deterministic.
func (m *model) ids() []int {
	ids := make([]int, 0, len(m.objs))
	for id := range m.objs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m *model) used() (used, evictable int64, evictableN int) {
	for _, o := range m.objs {
		used += int64(len(o.data))
		if o.evictable() {
			evictable += int64(len(o.data))
			evictableN++
		}
	}
	return used, evictable, evictableN
}

// change runs f on o and stamps o if f made it evictable.
func (m *model) change(o *mObj, f func()) {
	before := o.evictable()
	f()
	if !before && o.evictable() {
		m.stamp(o)
	}
}

// create predicts Create and returns the expected error and evictions.
func (m *model) create(id int, size int64) (error, []int) {
	if _, ok := m.objs[id]; ok {
		return ErrExists, nil
	}
	if size < 0 {
		return ErrOutOfRange, nil
	}
	if size > randomCapacity {
		return ErrTooLarge, nil
	}
	used, evictable, evictableN := m.used()
	if used+size-randomCapacity > evictable {
		return ErrObjectStoreFull, nil
	}
	if len(m.objs)+1-randomMaxObjects > evictableN {
		return ErrTooManyObjects, nil
	}
	var order []int
	for _, id := range m.ids() {
		if m.objs[id].evictable() {
			order = append(order, id)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return int(m.objs[a].lastUse) - int(m.objs[b].lastUse) })
	var evicted []int
	for used+size > randomCapacity || len(m.objs) >= randomMaxObjects {
		victim := order[0]
		order = order[1:]
		used -= int64(len(m.objs[victim].data))
		delete(m.objs, victim)
		evicted = append(evicted, victim)
	}
	o := &mObj{data: make([]byte, size), written: make([]bool, size)}
	m.stamp(o)
	m.objs[id] = o
	return nil, evicted
}

func (m *model) write(id int, off int64, data []byte) error {
	o, ok := m.objs[id]
	switch {
	case !ok:
		return ErrNotFound
	case o.sealed:
		return ErrSealed
	case off < 0 || off+int64(len(data)) > int64(len(o.data)):
		return ErrOutOfRange
	}
	copy(o.data[off:], data)
	for i := range data {
		o.written[off+int64(i)] = true
	}
	return nil
}

func (m *model) seal(id int) error {
	o, ok := m.objs[id]
	switch {
	case !ok:
		return ErrNotFound
	case o.sealed:
		return ErrSealed
	case slices.Contains(o.written, false):
		return ErrIncomplete
	}
	m.change(o, func() { o.sealed, o.written = true, nil })
	return nil
}

func (m *model) get(id int) ([]byte, error) {
	o, ok := m.objs[id]
	switch {
	case !ok || o.deleting:
		return nil, ErrNotFound
	case !o.sealed:
		return nil, ErrNotSealed
	}
	o.readers++
	m.stamp(o)
	return o.data, nil
}

func (m *model) release(id int) error {
	o, ok := m.objs[id]
	switch {
	case !ok:
		return ErrNotFound
	case o.readers == 0:
		return ErrNotPinned
	}
	m.change(o, func() { o.readers-- })
	if o.readers == 0 && o.deleting {
		delete(m.objs, id)
	}
	return nil
}

func (m *model) pin(id int, pin bool) error {
	o, ok := m.objs[id]
	switch {
	case !ok || o.deleting:
		return ErrNotFound
	case pin && !o.sealed:
		return ErrNotSealed
	case !pin && !o.primary:
		return ErrNotPinned
	}
	m.change(o, func() { o.primary = pin })
	return nil
}

func (m *model) del(id int) error {
	o, ok := m.objs[id]
	if !ok {
		return ErrNotFound
	}
	if o.readers > 0 {
		o.deleting, o.primary = true, false
		return nil
	}
	delete(m.objs, id)
	return nil
}

// compare checks that s holds exactly what m says.
func (m *model) compare(s *Store) error {
	objs := s.Objects()
	ids := m.ids()
	if len(objs) != len(ids) {
		return fmt.Errorf("store holds %d objects, model %d", len(objs), len(ids))
	}
	for i, id := range ids {
		o, got := m.objs[id], objs[i]
		want := ObjectInfo{ID: oid(id), Size: int64(len(o.data)), Owner: owner, Sealed: o.sealed,
			ReaderPins: o.readers, Primary: o.primary, Deleting: o.deleting, LastUse: o.lastUse}
		if got != want {
			return fmt.Errorf("object %d = %v, model %v", id, got, want)
		}
		if o.sealed && !bytes.Equal(s.objects[oid(id)].data, o.data) {
			return fmt.Errorf("object %d holds other bytes than written", id)
		}
	}
	return nil
}

// runRandom runs n random operations from seed. After each operation it
// calls corrupt (if not nil; tests of the harness use it to plant bugs) and
// then checks. It returns the first discrepancy, naming seed and step.
func runRandom(seed uint64, n int, corrupt func(s *Store, step int), outcomes map[string]int) error {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var evicted []int
	s := NewStore(Config{Capacity: randomCapacity, ObjectsMax: randomMaxObjects, OnEvict: func(id core.ObjectID) {
		evicted = append(evicted, int(id.Index()))
	}})
	m := &model{objs: make(map[int]*mObj)}
	size := func() int64 {
		switch r.IntN(20) {
		case 0:
			return 0
		case 1:
			return randomCapacity + 1 + r.Int64N(10)
		case 2:
			return -1
		case 3:
			return 8*kib + r.Int64N(8*kib)
		}
		return 1 + r.Int64N(4*kib)
	}
	randBytes := func(n int64) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for step := range n {
		// Pick ids so that most operations do something: new ids for
		// Create and Put, unsealed objects for Write and Seal, existing
		// objects for the rest; any id now and then.
		ids := m.ids()
		pick := func(pred func(o *mObj) bool) int {
			var c []int
			for _, id := range ids {
				if o := m.objs[id]; pred == nil || pred(o) {
					c = append(c, id)
				}
			}
			if len(c) == 0 || r.IntN(8) == 0 {
				return r.IntN(randomIDs)
			}
			return c[r.IntN(len(c))]
		}
		fresh := func() int {
			for range 8 {
				if id := r.IntN(randomIDs); m.objs[id] == nil {
					return id
				}
			}
			return r.IntN(randomIDs)
		}
		unsealed := func(o *mObj) bool { return !o.sealed }
		var id int
		evicted = evicted[:0]
		var got, want error
		var wantEvicted []int
		var desc string
		switch k := r.IntN(100); {
		case k < 12:
			id = fresh()
			sz := size()
			desc = fmt.Sprintf("Create(%d, %d)", id, sz)
			want, wantEvicted = m.create(id, sz)
			got = s.Create(oid(id), sz, owner)
		case k < 30:
			id = pick(unsealed)
			var objSize int64
			var written []bool
			if o, ok := m.objs[id]; ok {
				objSize, written = int64(len(o.data)), o.written
			}
			off := r.Int64N(objSize + 1)
			ln := r.Int64N(objSize - off + 1)
			if gap := slices.Index(written, false); gap >= 0 && r.IntN(4) != 0 {
				// The next chunk of a pull, in order.
				off, ln = int64(gap), min(1+r.Int64N(2*kib), objSize-int64(gap))
			}
			if r.IntN(20) == 0 {
				off, ln = off-1+r.Int64N(3), ln+r.Int64N(3) // maybe out of range
			}
			data := randBytes(max(ln, 0))
			desc = fmt.Sprintf("Write(%d, %d, %d bytes)", id, off, len(data))
			want = m.write(id, off, data)
			got = s.Write(oid(id), off, data)
		case k < 40:
			id = pick(unsealed)
			desc = fmt.Sprintf("Seal(%d)", id)
			want, got = m.seal(id), s.Seal(oid(id))
		case k < 42:
			id = pick(unsealed)
			desc = fmt.Sprintf("Abort(%d)", id)
			if o, ok := m.objs[id]; ok && !o.sealed {
				delete(m.objs, id)
			}
			s.Abort(oid(id))
		case k < 57:
			id = fresh()
			data := randBytes(max(size(), 0))
			desc = fmt.Sprintf("Put(%d, %d bytes)", id, len(data))
			want, wantEvicted = m.create(id, int64(len(data)))
			if want == nil {
				_ = m.write(id, 0, data)
				_ = m.seal(id)
			}
			got = s.Put(oid(id), data, owner)
		case k < 72:
			id = pick(nil)
			desc = fmt.Sprintf("Get(%d)", id)
			var wantData, gotData []byte
			wantData, want = m.get(id)
			gotData, got = s.Get(oid(id))
			if got == nil && want == nil && !bytes.Equal(gotData, wantData) {
				return fmt.Errorf("seed %d step %d: %s returned other bytes than written", seed, step, desc)
			}
		case k < 86:
			id = pick(func(o *mObj) bool { return o.readers > 0 })
			desc = fmt.Sprintf("Release(%d)", id)
			want, got = m.release(id), s.Release(oid(id))
		case k < 91:
			id = pick(func(o *mObj) bool { return o.sealed && !o.primary })
			desc = fmt.Sprintf("Pin(%d)", id)
			want, got = m.pin(id, true), s.Pin(oid(id))
		case k < 95:
			id = pick(func(o *mObj) bool { return o.primary })
			desc = fmt.Sprintf("Unpin(%d)", id)
			want, got = m.pin(id, false), s.Unpin(oid(id))
		default:
			id = pick(nil)
			desc = fmt.Sprintf("Delete(%d)", id)
			if o := m.objs[id]; o != nil && o.readers > 0 && outcomes != nil {
				outcomes["deferred deletes"]++
			}
			want, got = m.del(id), s.Delete(oid(id))
		}
		if corrupt != nil {
			corrupt(s, step)
		}
		if outcomes != nil {
			key := "ok"
			if want != nil {
				key = want.Error()
			}
			outcomes[desc[:strings.IndexByte(desc, '(')]+": "+key]++
			outcomes["evicted"] += len(wantEvicted)
			outcomes["objects"] += len(m.objs)
		}
		if !errors.Is(got, want) || (want == nil) != (got == nil) {
			return fmt.Errorf("seed %d step %d: %s = %v, model says %v", seed, step, desc, got, want)
		}
		if !slices.Equal(evicted, wantEvicted) {
			return fmt.Errorf("seed %d step %d: %s evicted %v, model says %v", seed, step, desc, evicted, wantEvicted)
		}
		if err := checkInvariants(s); err != nil {
			return fmt.Errorf("seed %d step %d: after %s: %v\n%s", seed, step, desc, err, s.Describe())
		}
		if err := m.compare(s); err != nil {
			return fmt.Errorf("seed %d step %d: after %s: %v\n%s", seed, step, desc, err, s.Describe())
		}
	}
	return nil
}

// TestRandomOperationsMatchModel runs randomOps random operations per seed.
// A failure names the seed and step; rerun it with
//
//	go test ./plasma -run TestRandomOperationsMatchModel
func TestRandomOperationsMatchModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		outcomes := make(map[string]int)
		if err := runRandom(seed, randomOps, nil, outcomes); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(outcomes))
		for k := range outcomes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("seed %d: %s: %d", seed, k, outcomes[k])
		}
		// Guard the generator: a change that stops exercising eviction or
		// the failure paths would make the test pass vacuously.
		for _, k := range []string{"evicted", "deferred deletes", "Seal: ok", "Release: ok", "Unpin: ok", "Abort: ok",
			"Create: " + ErrObjectStoreFull.Error(), "Put: " + ErrTooManyObjects.Error(),
			"Seal: " + ErrIncomplete.Error(), "Write: " + ErrOutOfRange.Error(), "Create: " + ErrTooLarge.Error()} {
			if outcomes[k] < 5 {
				t.Errorf("seed %d: only %d × %q in %d operations; the generator no longer covers it", seed, outcomes[k], k, randomOps)
			}
		}
	}
}

// TestRandomHarnessCatchesPlantedBugs shows that the randomized test can
// fail: each corruption of the store's bookkeeping must be reported.
func TestRandomHarnessCatchesPlantedBugs(t *testing.T) {
	at := func(step int, f func(s *Store) bool) func(*Store, int) {
		done := false
		return func(s *Store, i int) {
			if i >= step && !done {
				done = f(s)
			}
		}
	}
	firstEntry := func(s *Store, pred func(e *entry) bool) *entry {
		for _, o := range s.Objects() {
			if e := s.objects[o.ID]; pred(e) {
				return e
			}
		}
		return nil
	}
	for _, tc := range []struct {
		name    string
		corrupt func(*Store, int)
	}{
		{"used drifts", at(100, func(s *Store) bool { s.used++; return true })},
		{"primary pin lost", at(100, func(s *Store) bool {
			e := firstEntry(s, func(e *entry) bool { return e.primary && e.readers == 0 })
			if e != nil {
				e.primary = false // without moving it to the LRU list
			}
			return e != nil
		})},
		{"read copy made evictable", at(100, func(s *Store) bool {
			e := firstEntry(s, func(e *entry) bool { return e.readers > 0 && !e.inLRU })
			if e != nil {
				s.lru.pushBack(e)
			}
			return e != nil
		})},
		{"LRU order broken", at(100, func(s *Store) bool {
			if s.lru.n < 2 {
				return false
			}
			e := s.lru.head
			s.lru.remove(e)
			s.lru.pushBack(e) // without a new use stamp
			return true
		})},
		{"seal loses written bytes", at(100, func(s *Store) bool {
			e := firstEntry(s, func(e *entry) bool { return e.sealed && e.size() > 0 })
			if e != nil {
				e.data[0]++
			}
			return e != nil
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runRandom(1, 2000, tc.corrupt, nil)
			if err == nil {
				t.Fatal("the randomized test passed with a planted bug")
			}
			t.Logf("caught: %.200s", err)
		})
	}
}
