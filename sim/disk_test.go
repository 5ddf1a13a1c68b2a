package sim

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// failStopLogger is a pebble logger that turns Fatalf (pebble's reaction to
// a failed WAL write) into a fail-stop of the process, as components do.
type failStopLogger struct{}

func (failStopLogger) Infof(string, ...any)  {}
func (failStopLogger) Errorf(string, ...any) {}
func (failStopLogger) Fatalf(format string, args ...any) {
	panic(core.FailStop{Reason: "pebble", Err: fmt.Errorf(format, args...)})
}

// diskProc opens pebble on its disk at every start, records what it finds,
// and writes the keys it is told to.
type diskProc struct {
	db    *pebble.DB
	found map[string]bool
}

func (d *diskProc) Start(env core.Env) {
	db, err := pebble.Open("db", &pebble.Options{FS: env.FS(), Logger: failStopLogger{}})
	if err != nil {
		panic(core.FailStop{Reason: "open", Err: err})
	}
	d.db = db
	for _, k := range []string{"synced", "unsynced", "unsynced-after", "during-fault"} {
		_, closer, err := db.Get([]byte(k))
		if err == nil {
			closer.Close()
			d.found[k] = true
		} else if !errors.Is(err, pebble.ErrNotFound) {
			panic(err)
		}
	}
}

func (d *diskProc) Receive(core.Addr, core.Message) {}

func (d *diskProc) Stop() { _ = d.db.Close() }

func (d *diskProc) set(key string, sync bool) {
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := d.db.Set([]byte(key), []byte("v"), opt); err != nil {
		panic(core.FailStop{Reason: "write", Err: err})
	}
}

// TestCrashKeepsExactlyTheSyncedState writes one synced and one unsynced
// key, crashes the process, and checks what the next incarnation recovers.
func TestCrashKeepsExactlyTheSyncedState(t *testing.T) {
	var incarnations []map[string]bool
	var w *World
	wl := &scripted{setup: func(world *World) {
		w = world
		w.AddProcess("db", ProcOptions{Crashable: true, Disk: true}, func() core.Process {
			found := map[string]bool{}
			incarnations = append(incarnations, found)
			return &diskProc{found: found}
		})
		w.Schedule(time.Millisecond, "write", func() {
			p := w.Process("db").(*diskProc)
			p.set("unsynced", false)
			p.set("synced", true)
			p.set("unsynced-after", false)
		})
		w.Schedule(2*time.Millisecond, "crash", func() { w.crash(w.byAddr["db"], "test") })
	}}
	r := Run(Config{Seed: 1, FaultPhase: time.Second}, wl, "disk")
	if !r.Passed {
		t.Fatal(r)
	}
	if len(incarnations) != 2 {
		t.Fatalf("%d incarnations, want 2", len(incarnations))
	}
	// Pebble's WAL is shared, so the unsynced write made before the synced
	// one is durable too; the one after it is not (DEPENDENCY-NOTES.md).
	got := incarnations[1]
	if !got["synced"] || !got["unsynced"] || got["unsynced-after"] {
		t.Fatalf("after crash found %v, want the synced write and the write before it", got)
	}
}

// TestDiskErrorsFailStopAndRecover fails WAL writes: the write panics with
// core.FailStop through pebble's Fatalf; the simulator must treat that as a
// crash, restart the process from its synced disk, and pass the run.
func TestDiskErrorsFailStopAndRecover(t *testing.T) {
	var incarnations []map[string]bool
	wl := &scripted{setup: func(w *World) {
		w.AddProcess("db", ProcOptions{Crashable: true, Disk: true}, func() core.Process {
			found := map[string]bool{}
			incarnations = append(incarnations, found)
			return &diskProc{found: found}
		})
		w.Schedule(time.Millisecond, "write", func() { w.Process("db").(*diskProc).set("synced", true) })
		w.Schedule(2*time.Millisecond, "disk fault", func() { w.byAddr["db"].disk.set(true) })
		w.Schedule(3*time.Millisecond, "write during fault", func() {
			p := w.byAddr["db"]
			w.guard(p, func() { p.p.(*diskProc).set("during-fault", true) })
		})
	}}
	r := Run(Config{Seed: 1, FaultPhase: time.Second}, wl, "disk")
	if !r.Passed {
		t.Fatal(r)
	}
	if len(incarnations) < 2 {
		t.Fatalf("a failed WAL write did not crash the process (%d incarnations)", len(incarnations))
	}
	last := incarnations[len(incarnations)-1]
	if !last["synced"] || last["during-fault"] {
		t.Fatalf("after fail-stop found %v, want the earlier synced key and not the failed one", last)
	}
	var failStops int64
	for _, c := range r.Sometimes {
		if c.Name == "process fail-stop" {
			failStops = c.Count
		}
	}
	if failStops == 0 {
		t.Fatalf("no fail-stop counted: %v", r.Sometimes)
	}
}

// TestDiskFaultsReachRecycledWALs checks that the disk fault fails writes
// to a WAL file pebble recycled at a rotation, which errorfs alone leaves
// unwrapped.
func TestDiskFaultsReachRecycledWALs(t *testing.T) {
	faults := &diskFaults{}
	recycled := false
	db, err := pebble.Open("db", &pebble.Options{
		FS:            newFaultFS(vfs.NewCrashableMem(), faults),
		Logger:        failStopLogger{},
		EventListener: &pebble.EventListener{WALCreated: func(info pebble.WALCreateInfo) { recycled = recycled || info.RecycledFileNum != 0 }},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }() // reports the injected error; the test is over
	for i := 0; !recycled; i++ {
		if i == 50 {
			t.Fatal("pebble recycled no WAL file in 50 flushes")
		}
		if err := db.Set([]byte("k"), []byte("v"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	faults.set(true)
	defer faults.set(false)
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return db.Set([]byte("during-fault"), []byte("v"), pebble.Sync)
	}()
	if err == nil {
		t.Fatal("a synced write to a recycled WAL succeeded during a disk fault")
	}
	t.Logf("failed as it should: %v", err)
}
