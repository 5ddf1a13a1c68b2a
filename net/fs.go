package net

import (
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// dirFS is a vfs.FS whose every path is resolved under root on an
// underlying FS, like a chroot: "x", "/x" and "../../x" all name root/x.
// It gives each process of a Host its own data directory while the
// process keeps using the relative paths it uses in simulation. pebble's
// vfs has no such wrapper (vfs.Root only unwraps wrappers).
type dirFS struct {
	fs   vfs.FS
	root string
}

var _ vfs.FS = (*dirFS)(nil)

// newDirFS returns fs rooted at root, creating root (0700: it holds a
// process's private state) if needed.
func newDirFS(fs vfs.FS, root string) (*dirFS, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := fs.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	return &dirFS{fs: fs, root: root}, nil
}

// path maps a name seen by the process to the underlying path. Cleaning
// the name as if it were absolute removes every "..", so no name escapes
// root.
func (d *dirFS) path(name string) string {
	return filepath.Join(d.root, filepath.Clean(string(filepath.Separator)+name))
}

// HostPath implements core.HostPather.
func (d *dirFS) HostPath(name string) string { return d.path(name) }

func (d *dirFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return d.fs.Create(d.path(name), c)
}

func (d *dirFS) Link(oldname, newname string) error {
	return d.fs.Link(d.path(oldname), d.path(newname))
}

func (d *dirFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return d.fs.Open(d.path(name), opts...)
}

func (d *dirFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return d.fs.OpenReadWrite(d.path(name), c, opts...)
}

func (d *dirFS) OpenDir(name string) (vfs.File, error) { return d.fs.OpenDir(d.path(name)) }

func (d *dirFS) Remove(name string) error { return d.fs.Remove(d.path(name)) }

func (d *dirFS) RemoveAll(name string) error { return d.fs.RemoveAll(d.path(name)) }

func (d *dirFS) Rename(oldname, newname string) error {
	return d.fs.Rename(d.path(oldname), d.path(newname))
}

func (d *dirFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return d.fs.ReuseForWrite(d.path(oldname), d.path(newname), c)
}

func (d *dirFS) MkdirAll(dir string, perm os.FileMode) error {
	return d.fs.MkdirAll(d.path(dir), perm)
}

func (d *dirFS) Lock(name string) (io.Closer, error) { return d.fs.Lock(d.path(name)) }

func (d *dirFS) List(dir string) ([]string, error) { return d.fs.List(d.path(dir)) }

func (d *dirFS) Stat(name string) (vfs.FileInfo, error) { return d.fs.Stat(d.path(name)) }

func (d *dirFS) PathBase(path string) string { return d.fs.PathBase(path) }

func (d *dirFS) PathJoin(elem ...string) string { return d.fs.PathJoin(elem...) }

func (d *dirFS) PathDir(path string) string { return d.fs.PathDir(path) }

func (d *dirFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	return d.fs.GetDiskUsage(d.path(path))
}

// Unwrap returns nil: paths mean something else on the underlying FS, so
// dirFS is a base FS as far as vfs.Root is concerned.
func (d *dirFS) Unwrap() vfs.FS { return nil }

// String names the FS in pebble's logs.
func (d *dirFS) String() string { return "dir:" + d.root }
