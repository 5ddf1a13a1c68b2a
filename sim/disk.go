package sim

import (
	"io/fs"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// diskFaults is the errorfs injector of one process's disk. While on, every
// write or sync of a WAL file fails. Only WAL writes are failed because they
// happen while the committing goroutine (the process's own) waits for them,
// where pebble reports them and the component can fail-stop; failing
// pebble's background flushes would surface on pebble's goroutines, outside
// the simulation's control. The flag is atomic because pebble's goroutines
// read it.
type diskFaults struct{ on atomic.Bool }

func (d *diskFaults) set(on bool) { d.on.Store(on) }

func (d *diskFaults) String() string { return "sim-disk-faults" }

// MaybeError implements errorfs.Injector.
func (d *diskFaults) MaybeError(op errorfs.Op) error {
	if !d.on.Load() || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	// As an operating system reports a failing disk: a *fs.PathError,
	// which the components tell apart from damaged contents.
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
		return &fs.PathError{Op: "write", Path: op.Path, Err: errorfs.ErrInjected}
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return &fs.PathError{Op: "sync", Path: op.Path, Err: errorfs.ErrInjected}
	case errorfs.OpCreate, errorfs.OpReuseForWrite:
		return &fs.PathError{Op: "open", Path: op.Path, Err: errorfs.ErrInjected}
	}
	return nil
}

// faultFS is a process's disk as its components see it: errorfs over the
// crashable MemFS, with one hole closed. errorfs.FS.ReuseForWrite returns
// the reused file unwrapped, and pebble reuses an old WAL file for the new
// one at every WAL rotation, so from the first rotation on no write or sync
// of the WAL ever failed and the disk fault could only fail the rotation
// itself (which pebble cannot survive; see gcs/wal.go).
type faultFS struct {
	*errorfs.FS
	inj errorfs.Injector
}

func newFaultFS(fs vfs.FS, inj errorfs.Injector) faultFS {
	return faultFS{FS: errorfs.Wrap(fs, inj), inj: inj}
}

// ReuseForWrite implements vfs.FS, injecting into the file it returns.
func (fs faultFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, name: newname, inj: fs.inj}, nil
}

// faultFile injects into the writes and syncs of a file that errorfs left
// unwrapped. Reads pass through: the disk fault fails only writes.
type faultFile struct {
	vfs.File
	name string
	inj  errorfs.Injector
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.inj.MaybeError(errorfs.Op{Kind: errorfs.OpFileWrite, Path: f.name}); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(errorfs.Op{Kind: errorfs.OpFileWriteAt, Path: f.name, Offset: off}); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.inj.MaybeError(errorfs.Op{Kind: errorfs.OpFileSync, Path: f.name}); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.inj.MaybeError(errorfs.Op{Kind: errorfs.OpFileSyncData, Path: f.name}); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) SyncTo(length int64) (bool, error) {
	if err := f.inj.MaybeError(errorfs.Op{Kind: errorfs.OpFileSyncTo, Path: f.name}); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}
